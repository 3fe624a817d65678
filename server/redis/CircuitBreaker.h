// SPDX-License-Identifier: GPL-3.0-or-later
// A circuit breaker shared by all threads that talk to one Redis server. While Redis
// answers, the breaker is closed and every call goes through. After `threshold`
// consecutive failures it opens: calls fail at once (no connect attempt, no timeout
// waited) for a backoff period that starts at backoffMin and doubles on each failed probe
// up to backoffMax. When the period is over, exactly one caller is let through as a probe
// (half-open); its success closes the breaker, its failure opens it again for longer.
// This is what keeps a dead Redis from adding a timeout to every request, and what lets
// service recover by itself within backoffMax of Redis returning.
//
// Lock-free: the state is a few atomics, so allow() costs a load on the hot path.
#pragma once

#include "Clock.h"

#include <QString>
#include <QtGlobal>
#include <atomic>
#include <chrono>

namespace bulwark {

class CircuitBreaker
{
public:
    enum class State
    {
        Closed,
        Open,
        HalfOpen
    };
    struct Options
    {
        int threshold = 5;
        std::chrono::milliseconds backoffMin{100};
        std::chrono::milliseconds backoffMax{2000};
    };

    CircuitBreaker(Options options, const Clock &clock);

    // May the caller try Redis now? In the open state this is false until the backoff
    // period is over, then true for exactly one caller (who must report the outcome).
    bool allow();
    void recordSuccess();
    void recordFailure();

    State state() const;
    quint64 opens() const { return m_opens.load(std::memory_order_relaxed); }
    std::chrono::milliseconds currentBackoff() const;

private:
    qint64 nowNs() const;
    void open(qint64 backoffMs);

    Options m_options;
    const Clock &m_clock;
    // One of State, or kOpening while the thread that won a transition to Open publishes
    // the new deadline (reported as Open, refuses every caller).
    std::atomic<int> m_state{int(State::Closed)};
    std::atomic<int> m_failures{0};
    std::atomic<qint64> m_openUntilNs{0};
    std::atomic<qint64> m_backoffMs;
    std::atomic<quint64> m_opens{0};
};

QString breakerStateName(CircuitBreaker::State state); // "closed", "open", "half_open"

} // namespace bulwark
