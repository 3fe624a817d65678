// SPDX-License-Identifier: GPL-3.0-or-later
// The rate limiter: the rules of ratelimit.rules compiled, the stores their counters live
// in, and the decision for one request, with no HTTP in it beyond reading the request
// (RateLimitStage turns a verdict into headers or a 429).
//
// A request is checked against every rule whose methods and route match it; each counts
// the request under its key (the rule's name and the request's scope values, e.g.
// "api|u42" or "login|i203.0.113.7") and all must pass. Rules are decided in their order
// and the first refusal stops the walk, so a refused request may still have counted
// against the rules before the one that refused it. A shadow rule decides and counts like
// any other but never refuses and adds no headers: it shows what it would do. A batch
// request (RateLimitQuery::operations) counts once per operation against each rule that
// matches the operation (as the request it stands for, e.g. POST /api/v1/activities), and
// once as itself against a rule that matches the batch but none of its operations.
//
// Scopes: global (one counter), endpoint (the router's pattern with the method), ip (the
// client address: X-Forwarded-For only through ratelimit.trusted_proxies, IPv6 by /64),
// user and api_key (a request without them, e.g. a login, is counted by its address).
// Exempt: users with the admin role (ratelimit.exempt_admins) and ratelimit.allowlist.
//
// Stores: memory (MemoryRateStore, this process) or Redis (RedisRateStore, shared by every
// instance, one EVALSHA per decision, with wall-clock time so instances agree). When Redis
// cannot decide, ratelimit.on_redis_failure says what happens: open lets the request
// through, closed refuses it, local decides it with the memory store (each instance then
// enforces the full limit on its own). RedisClient's circuit breaker makes a dead Redis
// cost nothing per request and brings it back by itself.
//
// Rules change live (setRules, from the admin API or a SIGHUP reload): the compiled set is
// swapped atomically and each worker thread picks it up at its next request (one atomic
// load per request; no lock, no reference count on the hot path). A rule that keeps its
// name, algorithm, limit, window, burst and store keeps its counters (its clients' budgets);
// if any of those change, its clients start afresh. Statistics are kept per name.
#pragma once

#include "ClientAddress.h"
#include "Clock.h"
#include "Config.h"
#include "Error.h"
#include "HttpRequest.h"
#include "LimitedKeys.h"
#include "MemoryRateStore.h"
#include "RateLimitAlgorithm.h"
#include "RateLimitOperation.h"
#include "RedisRateStore.h"

#include <QVarLengthArray>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace bulwark {

class MetricsRegistry;
class RedisClient;


struct RateLimitQuery
{
    const HttpRequest &request;
    const Principal *principal = nullptr;
    const QList<RateLimitOperation> *operations = nullptr; // a batch request's operations
};

struct RateLimitVerdict
{
    bool allowed = true;
    // Refused: RateLimited (429) over a limit; PayloadTooLarge (413) for a batch costing
    // more than a rule's capacity (it can never pass); Unavailable (503) when a rule's
    // Redis store is down and ratelimit.on_redis_failure is closed.
    ErrorCode code = ErrorCode::RateLimited;
    // Refused: the error message, the rule's route (the metrics label of the 429, since the
    // router did not run) and whole seconds until a retry can pass (0 when it never can: a
    // batch above the rule's capacity).
    QString message;
    QString route;
    QString rule;
    qint64 retryAfterSeconds = 0;
    // The rate-limit headers for the response, refused or not, as header lines
    // ("Name: value\r\n", for HttpResponse::headerLines: one allocation for all of them).
    QByteArray headerLines;
    // The same as (name, value) pairs, for tests and tools.
    QList<std::pair<QByteArray, QByteArray>> headers() const;
};

class RateLimiter
{
public:
    struct Options
    {
        QString defaultStore = QStringLiteral("memory");
        QString onRedisFailure = QStringLiteral("open");
        bool legacyHeaders = true;
        bool standardHeaders = true;
        CidrSet trustedProxies;
        CidrSet allowlist;
        bool exemptAdmins = true;
        qint64 maxKeys = 1'000'000;
        QByteArray redisKeyPrefix = QByteArrayLiteral("bulwark:");
        // The router's pattern for a request, for the endpoint scope (default: the path).
        std::function<QString(QByteArrayView method, QStringView path)> endpoint;
        // Wall-clock time for the Redis store (default: the system clock).
        std::function<std::chrono::nanoseconds()> wallClock;
    };
    // From a validated RateLimitConfig (CIDR lists already checked by the loader).
    static Options optionsFrom(const RateLimitConfig &config, const QByteArray &redisKeyPrefix);

    RateLimiter(Options options, const Clock &clock, RedisClient *redis);
    ~RateLimiter();
    Q_DISABLE_COPY_MOVE(RateLimiter)

    // Replaces the rules (already validated by parseRateLimitRules). Fails, changing nothing,
    // if a rule needs Redis and there is none.
    Result<bool> setRules(const QList<RateLimitRuleConfig> &rules);
    QList<RateLimitRuleConfig> rules() const;

    RateLimitVerdict check(const RateLimitQuery &query);

    struct RuleStats
    {
        QString name;
        quint64 allowed = 0;
        quint64 limited = 0;
        quint64 nearLimit = 0;     // allowed with 80 % or more of the limit used
        quint64 shadowLimited = 0; // a shadow rule would have refused
        quint64 storeErrors = 0;   // Redis could not decide (then on_redis_failure applied)
    };
    QList<RuleStats> stats() const;
    QList<LimitedKeys::Entry> topLimited(int n) const { return m_limitedKeys.top(n); }
    quint64 totalLimited() const;
    quint64 totalDecisions() const;
    void resetStats();
    qint64 memoryKeys() const { return m_memory.size(); }
    // Memory decisions not kept because ratelimit.max_keys was reached (those clients pass
    // as on a first request until idle keys free room).
    quint64 memoryUntracked() const { return m_memory.untracked(); }
    bool usesRedis() const;
    RedisClient *redis() const { return m_redis; }
    const Options &options() const { return m_options; }

    // Drops idle memory counters; the owner calls it every few seconds.
    qint64 sweep() { return m_memory.sweep(); }
    // bulwark_ratelimit_decisions_total{rule,result} and the memory store's size.
    void addMetrics(MetricsRegistry &registry);

private:
    struct Counters;
    struct Rule;
    struct RuleSet;
    const RuleSet &current() const;
    // The client's address key, worked out once per request and only if a rule needs it.
    struct AddressKey
    {
        char bytes[kMaxAddressKeyLength];
        qsizetype size = -1; // not worked out yet
    };
    void appendKey(QVarLengthArray<char, 128> &key, const Rule &rule, const RateLimitOperation *op,
                   const RateLimitQuery &query, AddressKey &address) const;
    QHostAddress clientOf(const HttpRequest &request) const;

    Options m_options;
    RedisClient *m_redis;
    MemoryRateStore m_memory;
    std::unique_ptr<RedisRateStore> m_redisStore;
    LimitedKeys m_limitedKeys;

    mutable std::mutex m_rulesMutex; // guards m_rules; readers copy it once per generation
    std::shared_ptr<const RuleSet> m_rules;
    std::atomic<quint64> m_generation{0};
};

} // namespace bulwark
