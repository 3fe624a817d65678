// SPDX-License-Identifier: GPL-3.0-or-later
// See RedisRateStore.h. Keeping integer nanoseconds exact in Lua (5.1: every number is a
// double, exact for integers below 2^53):
//   - time is passed split: whole seconds and nanoseconds within the second. Each state
//     stores its times relative to a base second `b` kept with it, and the hash scripts move
//     the base to the current second at every decision, so stored times stay within a few
//     windows of 0 whatever the key's age. (The sliding log rebases its sorted set only when
//     the offset passes 2^50 ns: rewriting L scores each time would cost O(L).)
//   - what needs the absolute time or 64-bit care is computed in C++ and passed in: the
//     emission interval T, the capacity B, W in ns, and the phase of now within its aligned
//     window (now - floor(now / W) * W) for the fixed windows;
//   - the sliding counter's products (count * W, up to 2^82) are compared exactly with
//     24-bit limbs (mulcmp) and ceil(a * b / c) is a double estimate corrected with exact
//     comparisons (muldivceil); integer division is a float division corrected the same way
//     (idiv), since a rounded quotient may land on the next integer.
// W and B * T are refused above 2^50 ns so that every intermediate value stays below 2^53.
// So the scripts decide exactly like RateLimitAlgorithm.cpp, with no field rounded
// differently; the formulas below follow that file line by line.
#include "RedisRateStore.h"

#include <QCryptographicHash>
#include <algorithm>

namespace bulwark {

namespace {

constexpr qint64 kNsPerMs = 1'000'000;
constexpr qint64 kNsPerSec = 1'000'000'000;
constexpr qint64 kMaxLuaSpan = qint64(1) << 50;
constexpr qint64 kMaxCost = qint64(1) << 40; // above any capacity (<= 2^31 - 1)

// Shared helpers: exact integer division, exact products, millisecond rounding.
const char kPrelude[] = R"lua(
local key = KEYS[1]
local nowSec = tonumber(ARGV[1])
local sub = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local grace = tonumber(ARGV[4])
local function idiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end
local LB = 16777216
local function mul(a, b)
  local x = {a % LB, math.floor(a / LB) % LB, math.floor(a / LB / LB)}
  local y = {b % LB, math.floor(b / LB) % LB, math.floor(b / LB / LB)}
  local r = {0, 0, 0, 0, 0, 0}
  for i = 1, 3 do for j = 1, 3 do r[i + j - 1] = r[i + j - 1] + x[i] * y[j] end end
  local carry = 0
  for k = 1, 6 do
    local v = r[k] + carry
    local low = v % LB
    carry = (v - low) / LB
    r[k] = low
  end
  return r
end
local function mulcmp(a, b, c, d)
  local x, y = mul(a, b), mul(c, d)
  for k = 6, 1, -1 do
    if x[k] ~= y[k] then if x[k] < y[k] then return -1 else return 1 end end
  end
  return 0
end
local function muldivceil(a, b, c)
  local q = math.floor(a * b / c)
  while mulcmp(q, c, a, b) < 0 do q = q + 1 end
  while q > 0 and mulcmp(q - 1, c, a, b) >= 0 do q = q - 1 end
  return q
end
local function ceilMs(ns)
  if ns <= 0 then return 0 end
  return idiv(ns - 1, 1000000) + 1
end
local function retryMs(ns)
  if ns <= 0 then return 1 end
  return idiv(ns - 1, 1000000) + 1
end
local function keep(idleNs, ...)
  if idleNs <= 0 then
    redis.call('DEL', key)
  else
    redis.call('HSET', key, 'b', nowSec, ...)
    redis.call('PEXPIRE', key, ceilMs(idleNs) + grace)
  end
end
)lua";

// ARGV[5] = B, ARGV[6] = T.
const char kTokenBucket[] = R"lua(
local cap, T = tonumber(ARGV[5]), tonumber(ARGV[6])
local t = sub
local s = redis.call('HMGET', key, 'b', 't0', 'n')
local tokens, t0 = cap, t
if s[1] then
  tokens = tonumber(s[3])
  t0 = tonumber(s[2]) + (tonumber(s[1]) - nowSec) * 1000000000
  if tokens < cap and t - t0 >= T then
    local earned = idiv(t - t0, T)
    if earned >= cap - tokens then tokens = cap else
      tokens = tokens + earned
      t0 = t0 + earned * T
    end
  end
  if tokens >= cap then tokens = cap; t0 = t end
end
local allowed = cost <= tokens
if allowed then tokens = tokens - cost end
local fullIn = 0
if tokens < cap then fullIn = t0 + (cap - tokens) * T - t end
local retry = 0
if not allowed then
  if cost > cap then retry = retryMs(fullIn) else retry = retryMs(t0 + (cost - tokens) * T - t) end
end
keep(fullIn, 't0', t0, 'n', tokens)
return {allowed and 1 or 0, cap, tokens, ceilMs(fullIn), retry}
)lua";

// ARGV[5] = L, ARGV[6] = W (ns). KEYS[2]: the meta hash (b: base second, q: sequence).
const char kSlidingLog[] = R"lua(
local L, W = tonumber(ARGV[5]), tonumber(ARGV[6])
local mkey = KEYS[2]
local m = redis.call('HMGET', mkey, 'b', 'q')
local b, seq = nowSec, 0
if m[1] then b = tonumber(m[1]); seq = tonumber(m[2]) end
local t = (nowSec - b) * 1000000000 + sub
if t > 1125899906842624 or t < -1125899906842624 then
  local shift = (nowSec - b) * 1000000000
  local all = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
  redis.call('DEL', key)
  for i = 1, #all, 2 do redis.call('ZADD', key, tonumber(all[i + 1]) - shift, all[i]) end
  b = nowSec
  t = sub
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', t - W)
local count = redis.call('ZCARD', key)
local newest = nil
if count > 0 then newest = tonumber(redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2]) end
local allowed = cost <= L - count
if allowed then
  local at = t
  if newest and newest > at then at = newest end
  local i = 0
  while i < cost do
    local args = {}
    local n = math.min(cost - i, 500)
    for j = 1, n do
      args[#args + 1] = at
      args[#args + 1] = seq + i + j
    end
    redis.call('ZADD', key, unpack(args))
    i = i + n
  end
  seq = seq + cost
  count = count + cost
  newest = at
end
local emptyIn = 0
if count > 0 then emptyIn = newest + W - t end
local retry = 0
if not allowed then
  if cost > L then retry = retryMs(emptyIn) else
    local k = count + cost - L - 1
    retry = retryMs(tonumber(redis.call('ZRANGE', key, k, k, 'WITHSCORES')[2]) + W - t)
  end
end
if count == 0 then
  redis.call('DEL', key, mkey)
else
  redis.call('HSET', mkey, 'b', b, 'q', seq)
  local ttl = ceilMs(emptyIn) + grace
  redis.call('PEXPIRE', key, ttl)
  redis.call('PEXPIRE', mkey, ttl)
end
return {allowed and 1 or 0, L, L - count, ceilMs(emptyIn), retry}
)lua";

// ARGV[5] = L, ARGV[6] = W (ns), ARGV[7] = phase of now in its aligned window.
const char kSlidingCounter[] = R"lua(
local L, W, phase = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local t = sub
local s = redis.call('HMGET', key, 'b', 't0', 'c', 'p')
local start, c, p
if not s[1] then
  start, c, p = t - phase, 0, 0
else
  start = tonumber(s[2]) + (tonumber(s[1]) - nowSec) * 1000000000
  c, p = tonumber(s[3]), tonumber(s[4])
  if t - start >= W then
    local nxt = t - phase
    if nxt == start + W then p = c else p = 0 end
    c = 0
    start = nxt
  end
end
local e = t - start
if e < 0 then e = 0 elseif e > W - 1 then e = W - 1 end
local weight = W - e
local room = L - c - cost
local allowed = room >= 0 and mulcmp(p, weight, room, W) <= 0
if allowed then c = c + cost end
local remaining
if p == 0 then remaining = L - c else
  remaining = math.max(0, L - c - muldivceil(p, weight, W))
end
local resetNs = 0
if c > 0 then resetNs = start + 2 * W - t elseif p > 0 then resetNs = start + W - t end
local retry = 0
if not allowed then
  local r
  if cost > L then r = resetNs
  elseif room >= 0 then r = start + muldivceil(W, p - room, p) - t
  else r = start + W + muldivceil(W, c - (L - cost), c) - t end
  retry = retryMs(r)
end
keep(resetNs, 't0', start, 'c', c, 'p', p)
return {allowed and 1 or 0, L, remaining, ceilMs(resetNs), retry}
)lua";

// ARGV[5] = L, ARGV[6] = W (ns), ARGV[7] = phase of now in its aligned window.
const char kFixedWindow[] = R"lua(
local L, W, phase = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local t = sub
local s = redis.call('HMGET', key, 'b', 't0', 'c')
local start, count
if s[1] then
  start = tonumber(s[2]) + (tonumber(s[1]) - nowSec) * 1000000000
  count = tonumber(s[3])
end
if not s[1] or t - start >= W then start, count = t - phase, 0 end
local allowed = cost <= L - count
if allowed then count = count + cost end
local resetNs = 0
if count > 0 then resetNs = start + W - t end
local retry = 0
if not allowed then retry = retryMs(resetNs) end
keep(resetNs, 't0', start, 'c', count)
return {allowed and 1 or 0, L, L - count, ceilMs(resetNs), retry}
)lua";

// ARGV[5] = B, ARGV[6] = T.
const char kGcra[] = R"lua(
local cap, T = tonumber(ARGV[5]), tonumber(ARGV[6])
local span = cap * T
local t = sub
local s = redis.call('HMGET', key, 'b', 'tat')
local tat = t
if s[1] then tat = math.max(tonumber(s[2]) + (tonumber(s[1]) - nowSec) * 1000000000, t) end
local allowed = cost <= cap and tat + cost * T - t <= span
if allowed then tat = tat + cost * T end
local busy = tat - t
local retry = 0
if not allowed then
  if cost > cap then retry = retryMs(busy) else retry = retryMs(tat + cost * T - span - t) end
end
keep(busy, 'tat', tat)
return {allowed and 1 or 0, cap, math.max(0, idiv(span - busy, T)), ceilMs(busy), retry}
)lua";

} // namespace

RedisRateStore::RedisRateStore(RedisClient &redis, QByteArray keyPrefix)
    : m_redis(redis), m_prefix(std::move(keyPrefix))
{
    const char *bodies[5] = {kTokenBucket, kSlidingLog, kSlidingCounter, kFixedWindow, kGcra};
    static_assert(int(RateAlgorithm::TokenBucket) == 0 && int(RateAlgorithm::SlidingLog) == 1 &&
                  int(RateAlgorithm::SlidingCounter) == 2 && int(RateAlgorithm::FixedWindow) == 3 &&
                  int(RateAlgorithm::Gcra) == 4);
    for (size_t i = 0; i < m_scripts.size(); ++i) {
        m_scripts[i].source = QByteArray(kPrelude) + bodies[i];
        m_scripts[i].sha =
            QCryptographicHash::hash(m_scripts[i].source, QCryptographicHash::Sha1).toHex();
    }
}

QByteArray RedisRateStore::redisKey(QByteArrayView key) const
{
    return m_prefix + "rl:" + key.toByteArray();
}

Result<RedisReply> RedisRateStore::evalScript(const Script &script,
                                              const QList<QByteArray> &keysAndArgs, int numKeys)
{
    QList<QByteArray> args{"EVALSHA", script.sha, QByteArray::number(numKeys)};
    args += keysAndArgs;
    Result<RedisReply> reply = m_redis.command(args);
    if (reply.ok() && reply.value().isError() && reply.value().string.startsWith("NOSCRIPT")) {
        Result<RedisReply> loaded = m_redis.command({"SCRIPT", "LOAD", script.source});
        if (!loaded.ok())
            return loaded;
        if (loaded.value().isError())
            return Error{ErrorCode::Internal, QStringLiteral("SCRIPT LOAD failed: %1")
                                                  .arg(QString::fromUtf8(loaded.value().string))};
        reply = m_redis.command(args);
    }
    return reply;
}

Result<RateDecision> RedisRateStore::decide(const RateLimitAlgorithm &algorithm, QByteArrayView key,
                                            qint64 cost, std::chrono::nanoseconds nowNs)
{
    const LimitSpec &spec = algorithm.spec();
    const qint64 windowNs = spec.window.count() * kNsPerMs;
    const qint64 interval = RateLimitAlgorithm::emissionIntervalNs(spec);
    const qint64 cap = RateLimitAlgorithm::capacityOf(spec);
    if (windowNs >= kMaxLuaSpan || cap * interval >= kMaxLuaSpan)
        return Error{
            ErrorCode::Unprocessable,
            QStringLiteral("rate limit window too long for the Redis store (max ~13 days)")};
    cost = std::clamp<qint64>(cost, 1, kMaxCost);
    const qint64 now = nowNs.count();
    const qint64 sec = RateLimitAlgorithm::windowStartNs(now, kNsPerSec) / kNsPerSec;
    const qint64 sub = now - sec * kNsPerSec;

    const QByteArray rkey = redisKey(key);
    QList<QByteArray> args{rkey};
    int numKeys = 1;
    if (spec.algorithm == RateAlgorithm::SlidingLog) {
        args << rkey + ":m";
        numKeys = 2;
    }
    args << QByteArray::number(sec) << QByteArray::number(sub) << QByteArray::number(cost)
         << QByteArray::number(qint64(m_grace.count()));
    switch (spec.algorithm) {
    case RateAlgorithm::TokenBucket:
    case RateAlgorithm::Gcra:
        args << QByteArray::number(cap) << QByteArray::number(interval);
        break;
    case RateAlgorithm::SlidingLog:
        args << QByteArray::number(spec.limit) << QByteArray::number(windowNs);
        break;
    case RateAlgorithm::SlidingCounter:
    case RateAlgorithm::FixedWindow:
        args << QByteArray::number(spec.limit) << QByteArray::number(windowNs)
             << QByteArray::number(now - RateLimitAlgorithm::windowStartNs(now, windowNs));
        break;
    }

    Result<RedisReply> reply = evalScript(m_scripts[size_t(spec.algorithm)], args, numKeys);
    if (!reply.ok())
        return reply.error();
    const RedisReply &r = reply.value();
    if (r.isError())
        return Error{
            ErrorCode::Internal,
            QStringLiteral("rate limit script failed: %1").arg(QString::fromUtf8(r.string))};
    if (r.type != RedisReply::Type::Array || r.elements.size() != 5)
        return Error{ErrorCode::Internal, QStringLiteral("rate limit script: unexpected reply")};
    RateDecision d;
    d.allowed = r.elements[0].integer != 0;
    d.limit = r.elements[1].integer;
    d.remaining = r.elements[2].integer;
    d.resetAfter = std::chrono::milliseconds(r.elements[3].integer);
    d.retryAfter = std::chrono::milliseconds(r.elements[4].integer);
    return d;
}

} // namespace bulwark
