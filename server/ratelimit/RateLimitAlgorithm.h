// SPDX-License-Identifier: GPL-3.0-or-later
// The rate limiter's algorithms behind one interface, made by a factory from a LimitSpec.
// Each decides, for one key, whether a request costing `cost` units may pass at `now`,
// updating that key's state, and reports what the response headers need (limit,
// remaining, when the limit resets, when to retry). The state is a small plain value
// owned by the store (memory: a sharded map; Redis: the same logic as a server-side
// script), so one algorithm object serves every key and thread; decide() is a pure
// function of (spec, state, now, cost) and is exact at window boundaries (tests drive it
// with explicit times).
//
// Algorithms (limit L requests per window W, burst B where it applies):
//   TokenBucket     capacity B (L if B is 0), refilled continuously at L per W;
//   SlidingLog      at most L requests in any interval of length W (exact; keeps up to L
//                   timestamps per key);
//   SlidingCounter  the weighted two-window approximation (Cloudflare's): the previous
//                   fixed window's count weighted by its overlap with the sliding window,
//                   plus the current one's;
//   FixedWindow     at most L per aligned window [k*W, (k+1)*W);
//   Gcra            the generic cell rate algorithm: emission interval T = W / L, delay
//                   tolerance (B - 1) * T (B is L if 0, as for the token bucket);
//                   equivalent to a token bucket, one timestamp of state.
#pragma once

#include <QString>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

namespace bulwark {

using RateClock = std::chrono::steady_clock;
using RateTime = std::chrono::steady_clock::time_point;

enum class RateAlgorithm
{
    TokenBucket,
    SlidingLog,
    SlidingCounter,
    FixedWindow,
    Gcra
};
QString rateAlgorithmName(RateAlgorithm a); // "token_bucket", "sliding_log", ...
std::optional<RateAlgorithm> rateAlgorithmFromName(const QString &name);

struct LimitSpec
{
    RateAlgorithm algorithm = RateAlgorithm::SlidingCounter;
    qint64 limit = 60;                        // requests per window, >= 1
    std::chrono::milliseconds window{60'000}; // >= 1 ms
    qint64 burst = 0;                         // token bucket / GCRA; 0: same as limit

    static LimitSpec make(RateAlgorithm algorithm, qint64 limit, std::chrono::milliseconds window,
                          qint64 burst = 0)
    {
        LimitSpec s;
        s.algorithm = algorithm;
        s.limit = limit;
        s.window = window;
        s.burst = burst;
        return s;
    }
};

struct RateDecision
{
    bool allowed = true;
    qint64 limit = 0;     // the policy's limit, for X-RateLimit-Limit
    qint64 remaining = 0; // requests that would still pass now (after this one), >= 0
    std::chrono::milliseconds resetAfter{0}; // until the limit is fully available again
    std::chrono::milliseconds retryAfter{0}; // denied: until a request of this cost could pass
};

// Per-key state; each algorithm uses its own fields:
//   token bucket     t0: last refill (start of the partial token), tokens: whole tokens;
//   sliding log      log: ring buffer (grown lazily, at most L) of the requests' times,
//                    count: entries in it, previous: index of the oldest;
//   sliding counter  t0: window start, count: current window's count, previous: the
//                    previous window's count;
//   fixed window     t0: window start, count: its count;
//   GCRA             t0: the theoretical arrival time (TAT).
struct RateState
{
    RateTime t0{};
    double tokens = 0;
    qint64 count = 0;
    qint64 previous = 0;
    std::vector<RateTime> log;
    bool initialized = false;
};

class RateLimitAlgorithm
{
public:
    virtual ~RateLimitAlgorithm() = default;
    static std::unique_ptr<RateLimitAlgorithm> create(const LimitSpec &spec);

    const LimitSpec &spec() const { return m_spec; }

    // The arithmetic every store shares (RedisRateStore passes it to its scripts), for a
    // spec as create() normalised it: the emission interval T = ceil(W / L) in ns, the
    // capacity (B, or L when B is 0, lowered so that B * T fits), and the start of the
    // aligned window that contains t (ns on the steady clock's epoch; floor, also below 0).
    static qint64 emissionIntervalNs(const LimitSpec &spec);
    static qint64 capacityOf(const LimitSpec &spec);
    static qint64 windowStartNs(qint64 tNs, qint64 windowNs);
    // Decides a request of `cost` (>= 1) at `now` and updates `state`. A denied request
    // changes nothing but what time alone changes.
    virtual RateDecision decide(RateState &state, RateTime now, qint64 cost = 1) const = 0;
    // True when `state` carries nothing that affects a decision at `now` any more (the key
    // can be forgotten: a fresh state would decide the same).
    virtual bool idle(const RateState &state, RateTime now) const = 0;

protected:
    explicit RateLimitAlgorithm(const LimitSpec &spec) : m_spec(spec) {}
    LimitSpec m_spec;
};

} // namespace bulwark
