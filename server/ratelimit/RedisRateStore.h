// SPDX-License-Identifier: GPL-3.0-or-later
// Rate-limit state kept in Redis, so that several Bulwark instances share one limit. Each
// decision is one EVALSHA of a server-side Lua script (one per RateAlgorithm) that reads
// the key's state, applies exactly the formulas of RateLimitAlgorithm.cpp and writes the
// state back, atomically (Redis runs one script at a time) and in one round trip. The
// decisions equal MemoryRateStore's field for field (the integration test checks that on
// pseudo-random traffic); see RedisRateStore.cpp for how exact integer nanoseconds are kept
// in Lua, whose numbers are doubles.
//
// Time is the caller's: decide() takes `nowNs`, so all instances must have synchronised
// clocks (production passes wall-clock nanoseconds since the Unix epoch; the tests drive
// time by hand). Redis's own TIME is not used, which keeps the scripts deterministic.
//
// State: one hash `<prefix>rl:<key>` (token bucket, sliding counter, fixed window, GCRA);
// the sliding log keeps a sorted set `<prefix>rl:<key>` (one member per unit of cost) and a
// small hash `<prefix>rl:<key>:m` (time base and member sequence). Every key gets a PEXPIRE
// of the time until its state is idle (a fresh state would decide the same) plus a grace
// (default 1 s, for clock skew between instances; a key that lives longer is harmless), and
// a state that is idle right after a decision is deleted. Scripts are not loaded up front:
// their SHA1 is computed here, and a NOSCRIPT reply (first use, restart, SCRIPT FLUSH)
// loads the script with SCRIPT LOAD and retries once.
//
// Limits of the Redis store: W and B * T must stay below 2^50 ns (~13 days); a spec beyond
// that is refused with an Error (Unprocessable). Transport failures return RedisClient's
// Error (Unavailable) unchanged: the caller decides whether to fail open or closed.
#pragma once

#include "Error.h"
#include "RateLimitAlgorithm.h"
#include "RedisClient.h"

#include <QByteArray>
#include <QByteArrayView>
#include <array>
#include <chrono>

namespace bulwark {

class RedisRateStore
{
public:
    RedisRateStore(RedisClient &redis, QByteArray keyPrefix);
    Q_DISABLE_COPY_MOVE(RedisRateStore)

    // Decides a request of `cost` (< 1 counts as 1) for `key` at `nowNs` (the caller's
    // clock, shared by every instance) with `algorithm`'s spec. Thread-safe (RedisClient
    // keeps one connection per thread).
    Result<RateDecision> decide(const RateLimitAlgorithm &algorithm, QByteArrayView key,
                                qint64 cost, std::chrono::nanoseconds nowNs);

    // Added to every key's expiry (default 1 s). 0 makes keys vanish exactly when idle.
    // Set it before the store is shared between threads.
    void setExpiryGrace(std::chrono::milliseconds grace) { m_grace = grace; }
    std::chrono::milliseconds expiryGrace() const { return m_grace; }

    // The Redis key holding `key`'s state (for tests and tools).
    QByteArray redisKey(QByteArrayView key) const;

private:
    struct Script
    {
        QByteArray source;
        QByteArray sha;
    };
    Result<RedisReply> evalScript(const Script &script, const QList<QByteArray> &keysAndArgs,
                                  int numKeys);

    RedisClient &m_redis;
    QByteArray m_prefix;
    std::chrono::milliseconds m_grace{1000};
    std::array<Script, 5> m_scripts;
};

} // namespace bulwark
