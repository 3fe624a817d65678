// SPDX-License-Identifier: GPL-3.0-or-later
// See RateLimitAlgorithm.h.
//
// All times are integer nanoseconds on the steady clock (now, window W, emission interval
// T); no floating point is involved in any decision. Conventions shared by every
// algorithm: a denied request consumes nothing (it only applies what time alone changes:
// a refill, a window roll, expired log entries); `remaining` is the number of cost-1
// requests that would pass at the same instant after this decision (also when it was
// denied), never negative; `resetAfter` is the time until a key is back to its full
// budget (0 when it already is); `retryAfter` is 0 when allowed, otherwise the earliest
// time at which a request of the same cost would pass, rounded up to whole milliseconds
// and at least 1 ms. A request costing more than the capacity (L, or B for the token
// bucket and GCRA) can never pass: it is denied with retryAfter = resetAfter (at least
// 1 ms). `limit` reports that capacity (what `remaining` counts down from). Costs below 1
// count as 1. create() normalises the spec: L and B in [1, 2^31 - 1]
// (B 0: L), W in [1 ms, 2^40 ms], and B lowered if B * T would exceed 2^62 ns.
//
// TokenBucket: capacity B, one token every T = ceil(W / L) ns. State: whole tokens and
// t0, the instant the partial token started (the last refill). At `now` the bucket earns
// floor((now - t0) / T) tokens (t0 advances by that many T, keeping the remainder), capped
// at B; a full bucket sets t0 = now, so the first token taken refills T later. Because
// requests cost whole tokens this is the continuous refill exactly, without fractions:
// tokens reach k at exactly t0 + k * T. A request passes iff cost <= tokens. Reset:
// t0 + (B - tokens) * T - now; retry: t0 + (cost - tokens) * T - now. T is rounded up
// so the rate never exceeds L per W; when L divides W in nanoseconds it is exact.
//
// SlidingLog: a request at `now` counts the logged requests at times t with
// now - W < t <= now (a request exactly W old has expired), one entry per unit of cost,
// and passes iff count + cost <= L. The log is a ring buffer in `log` (count = entries,
// previous = index of the oldest), grown lazily up to L entries and never beyond, so
// expiry is O(1) per entry and nothing moves in steady state. Entries are kept sorted by
// logging max(now, newest entry). Retry: the (count + cost - L)-th oldest entry's time
// + W - now; reset: newest + W - now.
//
// SlidingCounter (Cloudflare's approximation): fixed windows aligned as in FixedWindow;
// with p the previous window's count, c the current one's and e = now - window start
// (0 <= e < W), the estimate is p * (W - e) / W + c, compared exactly (128-bit
// products, no rounding): a request passes iff p * (W - e) + (c + cost) * W <= L * W.
// So p = 10, e = W / 4, L = 10: 7.5 + 1 and 7.5 + 2 pass, 7.5 + 3 does not. Remaining:
// L - c - ceil(p * (W - e) / W). Retry, with A = L - c - cost: if A >= 0, the instant
// start + ceil(W * (p - A) / p) when the previous window's weight has shrunk enough;
// otherwise the next window, where c becomes the previous count: start + W +
// ceil(W * (c - (L - cost)) / c). Reset: start + 2W - now if c > 0, start + W - now if
// only p > 0.
//
// FixedWindow: windows [k * W, (k + 1) * W) aligned to multiples of W on the steady
// clock's epoch; a request at exactly k * W belongs to the new window. Passes iff
// count + cost <= L. Retry and reset: the window's end - now (reset 0 when count is 0).
// A request whose time lies before the stored window (a caller's clock read a little
// earlier) counts in the stored window.
//
// Gcra (the redis-cell / Brandur formulation, with integer nanoseconds): emission
// interval T = ceil(W / L) as above, tolerance tau = (B - 1) * T, theoretical arrival
// time TAT (t0; a fresh key has TAT = now). tat = max(TAT, now); new = tat + cost * T;
// allowed iff new - now <= tau + T (= B * T), and then TAT = new. Remaining:
// floor((B * T - (TAT - now)) / T); reset: TAT - now; retry: new - (tau + T) - now.
// It decides exactly like TokenBucket (same T and capacity): the bucket holds
// B - ceil((TAT - now) / T) tokens. The tests check that on random traffic.
#include "RateLimitAlgorithm.h"

#include <algorithm>
#include <limits>
#include <ratio>
#include <type_traits>

#if !defined(__SIZEOF_INT128__) && defined(_MSC_VER) && defined(_M_X64)
#include <intrin.h>
#endif

namespace bulwark {

namespace {

static_assert(std::is_same_v<RateClock::period, std::nano>,
              "the rate limiter computes in the steady clock's nanoseconds");

constexpr qint64 kNsPerMs = 1'000'000;
constexpr qint64 kMaxCount = std::numeric_limits<qint32>::max();
constexpr qint64 kMaxWindowMs = qint64(1) << 40; // ~34.8 years: W in ns stays below 2^60
constexpr qint64 kMaxSpan = qint64(1) << 62;     // B * T, in ns

inline qint64 nsOf(RateTime t)
{
    return t.time_since_epoch().count();
}

inline RateTime timeAt(qint64 ns)
{
    return RateTime(RateClock::duration(ns));
}

// Rounded up to whole milliseconds; 0 for anything <= 0.
inline std::chrono::milliseconds ceilMs(qint64 ns)
{
    return std::chrono::milliseconds(ns <= 0 ? 0 : (ns - 1) / kNsPerMs + 1);
}

// As ceilMs, but at least 1 ms: a denied request never says "retry now".
inline std::chrono::milliseconds retryMs(qint64 ns)
{
    return std::chrono::milliseconds(ns <= 0 ? 1 : (ns - 1) / kNsPerMs + 1);
}

inline qint64 floorToMultiple(qint64 t, qint64 w)
{
    qint64 q = t / w;
    if (t % w < 0)
        --q;
    return q * w;
}

// a * b <= c * d and ceil(a * b / c), for non-negative operands, without overflow (the
// quotient must fit in 63 bits).
#if defined(__SIZEOF_INT128__)
inline bool productLessEqual(quint64 a, quint64 b, quint64 c, quint64 d)
{
    return static_cast<unsigned __int128>(a) * b <= static_cast<unsigned __int128>(c) * d;
}

inline qint64 mulDivCeil(quint64 a, quint64 b, quint64 c)
{
    const unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
    return qint64(quint64((p + (c - 1)) / c));
}
#else
struct Wide
{
    quint64 hi;
    quint64 lo;
};

inline Wide mulWide(quint64 a, quint64 b)
{
#if defined(_MSC_VER) && defined(_M_X64)
    Wide w;
    w.lo = _umul128(a, b, &w.hi);
    return w;
#else
    const quint64 aLo = a & 0xffffffffu, aHi = a >> 32, bLo = b & 0xffffffffu, bHi = b >> 32;
    const quint64 ll = aLo * bLo, lh = aLo * bHi, hl = aHi * bLo, hh = aHi * bHi;
    const quint64 mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    return {hh + (lh >> 32) + (hl >> 32) + (mid >> 32), (mid << 32) | (ll & 0xffffffffu)};
#endif
}

inline bool productLessEqual(quint64 a, quint64 b, quint64 c, quint64 d)
{
    const Wide x = mulWide(a, b), y = mulWide(c, d);
    return x.hi < y.hi || (x.hi == y.hi && x.lo <= y.lo);
}

inline qint64 mulDivCeil(quint64 a, quint64 b, quint64 c)
{
    Wide p = mulWide(a, b);
    const quint64 lo = p.lo + (c - 1);
    p.hi += lo < p.lo;
    p.lo = lo;
    // Long division, bit by bit: c < 2^61 here (W or a count), so r << 1 cannot overflow.
    quint64 q = 0, r = 0;
    for (int i = 127; i >= 0; --i) {
        r = (r << 1) | ((i >= 64 ? p.hi >> (i - 64) : p.lo >> i) & 1u);
        q <<= 1;
        if (r >= c) {
            r -= c;
            q |= 1;
        }
    }
    return qint64(q);
}
#endif

LimitSpec normalized(LimitSpec spec)
{
    spec.limit = std::clamp<qint64>(spec.limit, 1, kMaxCount);
    spec.window =
        std::chrono::milliseconds(std::clamp<qint64>(spec.window.count(), 1, kMaxWindowMs));
    spec.burst = std::clamp<qint64>(spec.burst, 0, kMaxCount);
    return spec;
}

qint64 windowNs(const LimitSpec &spec)
{
    return spec.window.count() * kNsPerMs;
}

// T = ceil(W / L), at least 1 ns.
qint64 emissionInterval(const LimitSpec &spec)
{
    return std::max<qint64>(1, (windowNs(spec) + spec.limit - 1) / spec.limit);
}

// B (L when 0), lowered so that B * T <= kMaxSpan.
qint64 capacity(const LimitSpec &spec)
{
    const qint64 b = spec.burst > 0 ? spec.burst : spec.limit;
    return std::min(b, kMaxSpan / emissionInterval(spec));
}

// --- TokenBucket -------------------------------------------------------------------------

class TokenBucket final : public RateLimitAlgorithm
{
public:
    explicit TokenBucket(const LimitSpec &spec)
        : RateLimitAlgorithm(spec), m_capacity(capacity(spec)), m_interval(emissionInterval(spec))
    {
    }

    RateDecision decide(RateState &state, RateTime now, qint64 cost) const override
    {
        cost = std::max<qint64>(cost, 1);
        const qint64 t = nsOf(now);
        qint64 tokens = m_capacity;
        qint64 t0 = t;
        if (state.initialized) {
            tokens = qint64(state.tokens);
            t0 = nsOf(state.t0);
            refill(tokens, t0, t);
        }
        const bool allowed = cost <= tokens;
        if (allowed)
            tokens -= cost;
        state.tokens = double(tokens);
        state.t0 = timeAt(t0);
        state.initialized = true;

        RateDecision d;
        d.allowed = allowed;
        d.limit = m_capacity;
        d.remaining = tokens;
        const qint64 fullIn =
            tokens >= m_capacity ? 0 : t0 + (m_capacity - tokens) * m_interval - t;
        d.resetAfter = ceilMs(fullIn);
        if (!allowed)
            d.retryAfter =
                retryMs(cost > m_capacity ? fullIn : t0 + (cost - tokens) * m_interval - t);
        return d;
    }

    bool idle(const RateState &state, RateTime now) const override
    {
        if (!state.initialized)
            return true;
        qint64 tokens = qint64(state.tokens);
        qint64 t0 = nsOf(state.t0);
        refill(tokens, t0, nsOf(now));
        return tokens >= m_capacity;
    }

private:
    // Adds the whole tokens earned from t0 to t; a full bucket restarts its refill at t.
    void refill(qint64 &tokens, qint64 &t0, qint64 t) const
    {
        if (tokens < m_capacity && t - t0 >= m_interval) {
            const qint64 earned = (t - t0) / m_interval;
            if (earned >= m_capacity - tokens) {
                tokens = m_capacity;
            } else {
                tokens += earned;
                t0 += earned * m_interval;
            }
        }
        if (tokens >= m_capacity) {
            tokens = m_capacity;
            t0 = t;
        }
    }

    qint64 m_capacity;
    qint64 m_interval;
};

// --- SlidingLog --------------------------------------------------------------------------

class SlidingLog final : public RateLimitAlgorithm
{
public:
    explicit SlidingLog(const LimitSpec &spec)
        : RateLimitAlgorithm(spec), m_limit(spec.limit), m_window(windowNs(spec))
    {
    }

    RateDecision decide(RateState &state, RateTime now, qint64 cost) const override
    {
        cost = std::max<qint64>(cost, 1);
        const qint64 t = nsOf(now);
        if (!state.initialized) {
            state.count = 0;
            state.previous = 0;
            state.initialized = true;
        }
        expire(state, t);
        const bool allowed = cost <= m_limit - state.count;
        if (allowed)
            append(state, std::max(now, newest(state)), cost);

        RateDecision d;
        d.allowed = allowed;
        d.limit = m_limit;
        d.remaining = m_limit - state.count;
        const qint64 emptyIn = state.count > 0 ? nsOf(newest(state)) + m_window - t : 0;
        d.resetAfter = ceilMs(emptyIn);
        if (!allowed)
            d.retryAfter =
                retryMs(cost > m_limit
                            ? emptyIn
                            : nsOf(entry(state, state.count + cost - m_limit - 1)) + m_window - t);
        return d;
    }

    bool idle(const RateState &state, RateTime now) const override
    {
        return !state.initialized || state.count == 0 ||
               nsOf(newest(state)) <= nsOf(now) - m_window;
    }

private:
    // The i-th oldest entry (0-based), i < count.
    static RateTime entry(const RateState &state, qint64 i)
    {
        const qint64 size = qint64(state.log.size());
        qint64 at = state.previous + i;
        if (at >= size)
            at -= size;
        return state.log[size_t(at)];
    }

    static RateTime newest(const RateState &state)
    {
        return state.count > 0 ? entry(state, state.count - 1) : RateTime{};
    }

    // Drops the entries at or before t - W.
    void expire(RateState &state, qint64 t) const
    {
        const qint64 cutoff = t - m_window;
        const qint64 size = qint64(state.log.size());
        while (state.count > 0 && nsOf(state.log[size_t(state.previous)]) <= cutoff) {
            if (++state.previous == size)
                state.previous = 0;
            --state.count;
        }
        if (state.count == 0)
            state.previous = 0;
    }

    // Logs `cost` entries at `at` (count + cost <= L).
    void append(RateState &state, RateTime at, qint64 cost) const
    {
        qint64 size = qint64(state.log.size());
        const qint64 needed = state.count + cost;
        if (needed > size) {
            // Grow: make the live entries contiguous from 0, then extend geometrically, up
            // to L. Happens O(log L) times per key.
            std::rotate(state.log.begin(), state.log.begin() + state.previous, state.log.end());
            state.previous = 0;
            size = std::min(m_limit, std::max({needed, 2 * size, qint64(8)}));
            state.log.resize(size_t(size));
        }
        qint64 at0 = state.previous + state.count;
        if (at0 >= size)
            at0 -= size;
        for (qint64 i = 0; i < cost; ++i) {
            state.log[size_t(at0)] = at;
            if (++at0 == size)
                at0 = 0;
        }
        state.count += cost;
    }

    qint64 m_limit;
    qint64 m_window;
};

// --- SlidingCounter ----------------------------------------------------------------------

class SlidingCounter final : public RateLimitAlgorithm
{
public:
    explicit SlidingCounter(const LimitSpec &spec)
        : RateLimitAlgorithm(spec), m_limit(spec.limit), m_window(windowNs(spec))
    {
    }

    RateDecision decide(RateState &state, RateTime now, qint64 cost) const override
    {
        cost = std::max<qint64>(cost, 1);
        const qint64 t = nsOf(now);
        roll(state, t);
        const qint64 start = nsOf(state.t0);
        const qint64 p = state.previous;
        // Weight of the previous window: (W - e) / W, e clamped to [0, W).
        const qint64 weight = m_window - std::clamp<qint64>(t - start, 0, m_window - 1);
        const qint64 room = m_limit - state.count - cost; // A
        const bool allowed = room >= 0 && productLessEqual(quint64(p), quint64(weight),
                                                           quint64(room), quint64(m_window));
        if (allowed)
            state.count += cost;
        const qint64 c = state.count;

        RateDecision d;
        d.allowed = allowed;
        d.limit = m_limit;
        d.remaining =
            p == 0
                ? m_limit - c
                : std::max<qint64>(
                      0, m_limit - c - mulDivCeil(quint64(p), quint64(weight), quint64(m_window)));
        const qint64 resetNs = c > 0 ? start + 2 * m_window - t : p > 0 ? start + m_window - t : 0;
        d.resetAfter = ceilMs(resetNs);
        if (!allowed) {
            qint64 retryNs;
            if (cost > m_limit)
                retryNs = resetNs;
            else if (room >= 0) // p > 0: wait until its weight has shrunk enough
                retryNs = start + mulDivCeil(quint64(m_window), quint64(p - room), quint64(p)) - t;
            else // the next window, where c is the previous count (c > L - cost >= 0)
                retryNs = start + m_window +
                          mulDivCeil(quint64(m_window), quint64(c - (m_limit - cost)), quint64(c)) -
                          t;
            d.retryAfter = retryMs(retryNs);
        }
        return d;
    }

    bool idle(const RateState &state, RateTime now) const override
    {
        if (!state.initialized)
            return true;
        const qint64 elapsed = nsOf(now) - nsOf(state.t0);
        if (elapsed >= 2 * m_window)
            return true;
        if (elapsed >= m_window)
            return state.count == 0;
        return state.count == 0 && state.previous == 0;
    }

private:
    // Moves the state to the window holding t (a t before the stored window counts in it).
    void roll(RateState &state, qint64 t) const
    {
        if (!state.initialized) {
            state.t0 = timeAt(floorToMultiple(t, m_window));
            state.count = 0;
            state.previous = 0;
            state.initialized = true;
            return;
        }
        const qint64 start = nsOf(state.t0);
        if (t - start < m_window)
            return;
        const qint64 next = floorToMultiple(t, m_window);
        state.previous = next == start + m_window ? state.count : 0;
        state.count = 0;
        state.t0 = timeAt(next);
    }

    qint64 m_limit;
    qint64 m_window;
};

// --- FixedWindow -------------------------------------------------------------------------

class FixedWindow final : public RateLimitAlgorithm
{
public:
    explicit FixedWindow(const LimitSpec &spec)
        : RateLimitAlgorithm(spec), m_limit(spec.limit), m_window(windowNs(spec))
    {
    }

    RateDecision decide(RateState &state, RateTime now, qint64 cost) const override
    {
        cost = std::max<qint64>(cost, 1);
        const qint64 t = nsOf(now);
        if (!state.initialized || t - nsOf(state.t0) >= m_window) {
            state.t0 = timeAt(floorToMultiple(t, m_window));
            state.count = 0;
            state.initialized = true;
        }
        const bool allowed = cost <= m_limit - state.count;
        if (allowed)
            state.count += cost;

        RateDecision d;
        d.allowed = allowed;
        d.limit = m_limit;
        d.remaining = m_limit - state.count;
        // Denied with count 0 means cost > L: retryAfter = resetAfter, at least 1 ms.
        const qint64 resetNs = state.count > 0 ? nsOf(state.t0) + m_window - t : 0;
        d.resetAfter = ceilMs(resetNs);
        if (!allowed)
            d.retryAfter = retryMs(resetNs);
        return d;
    }

    bool idle(const RateState &state, RateTime now) const override
    {
        return !state.initialized || state.count == 0 || nsOf(now) - nsOf(state.t0) >= m_window;
    }

private:
    qint64 m_limit;
    qint64 m_window;
};

// --- Gcra --------------------------------------------------------------------------------

class Gcra final : public RateLimitAlgorithm
{
public:
    explicit Gcra(const LimitSpec &spec)
        : RateLimitAlgorithm(spec), m_capacity(capacity(spec)), m_interval(emissionInterval(spec)),
          m_span(m_capacity * m_interval)
    {
    }

    RateDecision decide(RateState &state, RateTime now, qint64 cost) const override
    {
        cost = std::max<qint64>(cost, 1);
        const qint64 t = nsOf(now);
        qint64 tat = state.initialized ? std::max(nsOf(state.t0), t) : t;
        // cost * T only once cost <= B is known: it cannot overflow then.
        const bool allowed = cost <= m_capacity && tat + cost * m_interval - t <= m_span;
        if (allowed) {
            tat += cost * m_interval;
            state.t0 = timeAt(tat);
            state.initialized = true;
        }

        RateDecision d;
        d.allowed = allowed;
        d.limit = m_capacity;
        const qint64 busy = tat - t; // 0 <= busy <= B * T
        d.remaining = std::max<qint64>(0, (m_span - busy) / m_interval);
        d.resetAfter = ceilMs(busy);
        if (!allowed)
            d.retryAfter = retryMs(cost > m_capacity ? busy : tat + cost * m_interval - m_span - t);
        return d;
    }

    bool idle(const RateState &state, RateTime now) const override
    {
        return !state.initialized || state.t0 <= now;
    }

private:
    qint64 m_capacity;
    qint64 m_interval;
    qint64 m_span; // B * T = tau + T
};

} // namespace

std::unique_ptr<RateLimitAlgorithm> RateLimitAlgorithm::create(const LimitSpec &spec)
{
    const LimitSpec s = normalized(spec);
    switch (s.algorithm) {
    case RateAlgorithm::TokenBucket: return std::make_unique<TokenBucket>(s);
    case RateAlgorithm::SlidingLog: return std::make_unique<SlidingLog>(s);
    case RateAlgorithm::SlidingCounter: return std::make_unique<SlidingCounter>(s);
    case RateAlgorithm::FixedWindow: return std::make_unique<FixedWindow>(s);
    case RateAlgorithm::Gcra: return std::make_unique<Gcra>(s);
    }
    return std::make_unique<SlidingCounter>(s);
}

QString rateAlgorithmName(RateAlgorithm a)
{
    switch (a) {
    case RateAlgorithm::TokenBucket: return QStringLiteral("token_bucket");
    case RateAlgorithm::SlidingLog: return QStringLiteral("sliding_log");
    case RateAlgorithm::SlidingCounter: return QStringLiteral("sliding_counter");
    case RateAlgorithm::FixedWindow: return QStringLiteral("fixed_window");
    case RateAlgorithm::Gcra: return QStringLiteral("gcra");
    }
    return {};
}

std::optional<RateAlgorithm> rateAlgorithmFromName(const QString &name)
{
    for (RateAlgorithm a :
         {RateAlgorithm::TokenBucket, RateAlgorithm::SlidingLog, RateAlgorithm::SlidingCounter,
          RateAlgorithm::FixedWindow, RateAlgorithm::Gcra}) {
        if (name == rateAlgorithmName(a))
            return a;
    }
    return std::nullopt;
}

qint64 RateLimitAlgorithm::emissionIntervalNs(const LimitSpec &spec)
{
    return emissionInterval(spec);
}

qint64 RateLimitAlgorithm::capacityOf(const LimitSpec &spec)
{
    return capacity(spec);
}

qint64 RateLimitAlgorithm::windowStartNs(qint64 tNs, qint64 windowNs)
{
    return floorToMultiple(tNs, windowNs);
}

} // namespace bulwark
