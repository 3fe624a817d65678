// SPDX-License-Identifier: GPL-3.0-or-later
// See CircuitBreaker.h.
//
// Implementation notes. The state lives in separate atomics (state, consecutive failures,
// deadline, backoff), so a transition is not one atomic step. Two rules keep readers from
// seeing half of one:
//  - Every transition to Open goes through a private fourth state, kOpening, won by one
//    CAS. Only the winner writes the backoff and the deadline, then publishes Open; while a
//    transition is in flight allow() refuses, so nobody can read an old (already passed)
//    deadline and probe at once. One CAS also means the backoff doubles once per failed
//    probe, however many threads report failures at the same moment.
//  - Open -> HalfOpen is a CAS too: of all the callers that find the backoff over, exactly
//    one wins it and becomes the probe; the others keep failing fast until it reports.
// Failures reported while Open come from calls that started before the breaker opened; they
// say nothing new and are ignored. Failures while HalfOpen count as a failed probe, because
// Redis just failed somebody. A success in any state closes the breaker: Redis answered.
// The hot path (Closed) is one load in allow() and one load in recordSuccess(); the failure
// counter is written only when it is not already zero, so healthy traffic from many threads
// does not bounce its cache line between cores.
#include "CircuitBreaker.h"

#include <algorithm>

namespace bulwark {

namespace {
constexpr int kOpening = 3;
}

CircuitBreaker::CircuitBreaker(Options options, const Clock &clock)
    : m_options(options), m_clock(clock)
{
    // Nonsense settings would make the breaker never open or never probe; clamp them.
    m_options.threshold = std::max(1, m_options.threshold);
    m_options.backoffMin = std::max(std::chrono::milliseconds(1), m_options.backoffMin);
    m_options.backoffMax = std::max(m_options.backoffMin, m_options.backoffMax);
    m_backoffMs.store(m_options.backoffMin.count());
}

qint64 CircuitBreaker::nowNs() const
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(m_clock.now().time_since_epoch())
        .count();
}

bool CircuitBreaker::allow()
{
    int state = m_state.load(std::memory_order_acquire);
    if (state == int(State::Closed))
        return true;
    if (state != int(State::Open)) // HalfOpen: the probe is out; kOpening: just failed
        return false;
    if (nowNs() < m_openUntilNs.load(std::memory_order_acquire))
        return false;
    // The backoff is over: the one caller whose CAS succeeds is the probe.
    return m_state.compare_exchange_strong(state, int(State::HalfOpen), std::memory_order_acq_rel);
}

void CircuitBreaker::recordSuccess()
{
    if (m_failures.load(std::memory_order_relaxed) != 0)
        m_failures.store(0, std::memory_order_relaxed);
    int state = m_state.load(std::memory_order_acquire);
    while (state == int(State::Open) || state == int(State::HalfOpen)) {
        // Reset the backoff before publishing Closed, so the next opening starts short.
        m_backoffMs.store(m_options.backoffMin.count(), std::memory_order_relaxed);
        if (m_state.compare_exchange_weak(state, int(State::Closed), std::memory_order_acq_rel))
            return;
    }
    // Closed: nothing to do. kOpening: a failure is opening the breaker right now; this
    // success raced with it and loses; the next probe will close the breaker.
}

void CircuitBreaker::recordFailure()
{
    int state = m_state.load(std::memory_order_acquire);
    if (state == int(State::Closed)) {
        if (m_failures.fetch_add(1, std::memory_order_relaxed) + 1 < m_options.threshold)
            return;
        // First opening after a close: the backoff is backoffMin (reset by the success that
        // closed the breaker, or the initial value).
        if (m_state.compare_exchange_strong(state, kOpening, std::memory_order_acq_rel))
            open(m_backoffMs.load(std::memory_order_relaxed));
        return;
    }
    if (state == int(State::HalfOpen)) {
        if (m_state.compare_exchange_strong(state, kOpening, std::memory_order_acq_rel)) {
            const qint64 doubled = std::min<qint64>(m_backoffMs.load(std::memory_order_relaxed) * 2,
                                                    m_options.backoffMax.count());
            open(doubled);
        }
        return;
    }
    // Open or kOpening: a late report of a call made before the breaker opened.
}

// Called only by the thread that moved the state to kOpening.
void CircuitBreaker::open(qint64 backoffMs)
{
    m_backoffMs.store(backoffMs, std::memory_order_relaxed);
    m_failures.store(0, std::memory_order_relaxed);
    m_openUntilNs.store(nowNs() + backoffMs * 1000000, std::memory_order_relaxed);
    m_opens.fetch_add(1, std::memory_order_relaxed);
    m_state.store(int(State::Open), std::memory_order_release);
}

CircuitBreaker::State CircuitBreaker::state() const
{
    const int state = m_state.load(std::memory_order_acquire);
    return state == kOpening ? State::Open : State(state);
}

std::chrono::milliseconds CircuitBreaker::currentBackoff() const
{
    return std::chrono::milliseconds(m_backoffMs.load(std::memory_order_relaxed));
}

QString breakerStateName(CircuitBreaker::State state)
{
    switch (state) {
    case CircuitBreaker::State::Closed: return QStringLiteral("closed");
    case CircuitBreaker::State::Open: return QStringLiteral("open");
    case CircuitBreaker::State::HalfOpen: return QStringLiteral("half_open");
    }
    return QStringLiteral("unknown");
}

} // namespace bulwark
