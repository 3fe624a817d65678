// SPDX-License-Identifier: GPL-3.0-or-later
// See RateLimitController.h.
#include "RateLimitController.h"

#include "ApiSupport.h"
#include "CircuitBreaker.h"
#include "RateLimitRules.h"
#include "RedisClient.h"

#include <QJsonArray>

namespace bulwark {

using namespace api;

void RateLimitController::registerRoutes(Router &router)
{
    router.add("GET", QStringLiteral("/admin/api/ratelimit"),
               [this](RequestContext &) { return HttpResponse::json(status()).noStore(); });
    router.add("GET", QStringLiteral("/admin/api/ratelimit/rules"), [this](RequestContext &) {
        return HttpResponse::json(
                   QJsonObject{{QStringLiteral("rules"), rateLimitRulesToJson(m_limiter.rules())}})
            .noStore();
    });
    router.add("PUT", QStringLiteral("/admin/api/ratelimit/rules"),
               [this](RequestContext &ctx) { return putRules(ctx); });
    router.add("POST", QStringLiteral("/admin/api/ratelimit/stats/reset"),
               [this](RequestContext &) {
                   m_limiter.resetStats();
                   return HttpResponse::json(QJsonObject{{QStringLiteral("reset"), true}})
                       .noStore();
               });
}

HttpResponse RateLimitController::putRules(RequestContext &ctx)
{
    auto body = jsonBody(ctx.request);
    if (!body.ok())
        return errorResponse(body.error(), ctx.requestId);
    const QJsonValue rules = body.value().value(QStringLiteral("rules"));
    if (!rules.isArray() || body.value().size() != 1)
        return errorResponse(ErrorCode::BadRequest,
                             QStringLiteral("body: expected {\"rules\": [...]}"), ctx.requestId);
    auto parsed = parseRateLimitRules(rules.toArray());
    if (!parsed.ok())
        return errorResponse(ErrorCode::Unprocessable,
                             QStringLiteral("rules%1").arg(parsed.error().message), ctx.requestId);
    if (auto applied = m_limiter.setRules(parsed.value()); !applied.ok())
        return errorResponse(ErrorCode::Unprocessable, applied.error().message, ctx.requestId);
    qInfo("rate-limit rules replaced through the admin API: %lld rule(s)",
          qlonglong(parsed.value().size()));
    return HttpResponse::json(
               QJsonObject{{QStringLiteral("rules"), rateLimitRulesToJson(m_limiter.rules())}})
        .noStore();
}

QJsonObject RateLimitController::status() const
{
    const RateLimiter::Options &o = m_limiter.options();
    const QList<RateLimiter::RuleStats> stats = m_limiter.stats();
    const QJsonArray configs = rateLimitRulesToJson(m_limiter.rules());
    QJsonArray rules;
    for (qsizetype i = 0; i < configs.size(); ++i) {
        QJsonObject rule = configs.at(i).toObject();
        // stats() and rules() are read one after the other; a concurrent PUT can change the
        // set in between, so match by name.
        for (const RateLimiter::RuleStats &s : stats) {
            if (s.name != rule.value(QStringLiteral("name")).toString())
                continue;
            rule.insert(QStringLiteral("stats"),
                        QJsonObject{{QStringLiteral("allowed"), double(s.allowed)},
                                    {QStringLiteral("limited"), double(s.limited)},
                                    {QStringLiteral("near_limit"), double(s.nearLimit)},
                                    {QStringLiteral("shadow_limited"), double(s.shadowLimited)},
                                    {QStringLiteral("store_errors"), double(s.storeErrors)}});
        }
        rules.append(rule);
    }
    QJsonArray top;
    for (const LimitedKeys::Entry &e : m_limiter.topLimited(20))
        top.append(QJsonObject{{QStringLiteral("key"), QString::fromUtf8(e.key)},
                               {QStringLiteral("limited"), double(e.count)},
                               {QStringLiteral("overcount_at_most"), double(e.error)}});
    QJsonObject status{
        {QStringLiteral("enabled"), true},
        {QStringLiteral("store"), o.defaultStore},
        {QStringLiteral("on_redis_failure"), o.onRedisFailure},
        {QStringLiteral("headers"),
         QJsonObject{{QStringLiteral("legacy"), o.legacyHeaders},
                     {QStringLiteral("standard"), o.standardHeaders}}},
        {QStringLiteral("exempt_admins"), o.exemptAdmins},
        {QStringLiteral("memory_keys"), double(m_limiter.memoryKeys())},
        {QStringLiteral("memory_untracked"), double(m_limiter.memoryUntracked())},
        {QStringLiteral("rules"), rules},
        {QStringLiteral("top_limited"), top}};
    if (RedisClient *redis = m_limiter.redis())
        status.insert(QStringLiteral("redis"),
                      QJsonObject{{QStringLiteral("in_use"), m_limiter.usesRedis()},
                                  {QStringLiteral("breaker"),
                                   breakerStateName(redis->breakerState())}});
    return status;
}

ComponentHealth RateLimitController::check() const
{
    RedisClient *redis = m_limiter.redis();
    if (!redis || !m_limiter.usesRedis() || redis->breakerState() == CircuitBreaker::State::Closed)
        return ComponentHealth{QStringLiteral("ratelimit"), ComponentHealth::State::Up, {}, false};
    return ComponentHealth{
        QStringLiteral("ratelimit"), ComponentHealth::State::Degraded,
        QStringLiteral("Redis is unavailable; rules in it %1")
            .arg(m_limiter.options().onRedisFailure == QStringLiteral("open")
                     ? QStringLiteral("let every request through (on_redis_failure: open)")
                 : m_limiter.options().onRedisFailure == QStringLiteral("closed")
                     ? QStringLiteral("refuse every request (on_redis_failure: closed)")
                     : QStringLiteral("count in this instance only (on_redis_failure: local)")),
        false};
}

} // namespace bulwark
