// SPDX-License-Identifier: GPL-3.0-or-later
// See CacheController.h.
#include "CacheController.h"

#include "ApiSupport.h"

#include <QJsonArray>

namespace bulwark {

using namespace api;

namespace {

QJsonObject tierObject(const TieredCache::TierStats &t)
{
    const quint64 lookups = t.hits + t.misses + t.stale;
    return QJsonObject{
        {QStringLiteral("hits"), double(t.hits)},
        {QStringLiteral("misses"), double(t.misses)},
        {QStringLiteral("stale"), double(t.stale)},
        {QStringLiteral("hit_rate"), lookups ? double(t.hits + t.stale) / double(lookups) : 0.0}};
}

} // namespace

double CacheController::hitRate(const TieredCache::Stats &s)
{
    const TieredCache::TierStats &first = s.memoryEnabled ? s.memoryTier : s.redisTier;
    const quint64 lookups = first.hits + first.misses + first.stale;
    const quint64 answered = (s.memoryEnabled ? s.memoryTier.hits + s.memoryTier.stale : 0) +
                             (s.redisEnabled ? s.redisTier.hits + s.redisTier.stale : 0);
    return lookups ? double(answered) / double(lookups) : 0.0;
}

void CacheController::registerRoutes(Router &router)
{
    router.add("GET", QStringLiteral("/admin/api/cache"),
               [this](RequestContext &) { return HttpResponse::json(status()).noStore(); });
    router.add("GET", QStringLiteral("/admin/api/cache/keys"),
               [this](RequestContext &ctx) { return keys(ctx); });
    router.add("POST", QStringLiteral("/admin/api/cache/invalidate"),
               [this](RequestContext &ctx) { return invalidate(ctx); });
    router.add("POST", QStringLiteral("/admin/api/cache/flush"), [this](RequestContext &) {
        m_cache.flush();
        if (m_events)
            m_events->emitEvent(QStringLiteral("cache.invalidated"),
                                QJsonObject{{QStringLiteral("reason"), QStringLiteral("admin")},
                                            {QStringLiteral("flush"), true}});
        return HttpResponse::json(QJsonObject{{QStringLiteral("flushed"), true}}).noStore();
    });
}

QJsonObject CacheController::status() const
{
    const TieredCache::Stats s = m_cache.stats();
    QJsonObject memory = tierObject(s.memoryTier);
    memory.insert(QStringLiteral("enabled"), s.memoryEnabled);
    memory.insert(QStringLiteral("evictions"), double(s.memory.evictions));
    memory.insert(QStringLiteral("expirations"), double(s.memory.expirations));
    memory.insert(QStringLiteral("rejected"), double(s.memory.rejected));
    memory.insert(QStringLiteral("entries"), double(s.memory.entries));
    memory.insert(QStringLiteral("bytes"), double(s.memory.bytes));
    memory.insert(QStringLiteral("max_bytes"), double(s.memory.maxBytes));
    QJsonObject redis = tierObject(s.redisTier);
    redis.insert(QStringLiteral("enabled"), s.redisEnabled);
    redis.insert(QStringLiteral("state"), m_cache.redisState());
    redis.insert(QStringLiteral("errors"), double(s.redisErrors));
    redis.insert(QStringLiteral("messages_received"), double(s.messagesReceived));
    redis.insert(QStringLiteral("resyncs"), double(s.resyncs));
    if (m_redis) {
        const RedisClient::Stats r = m_redis->stats();
        redis.insert(QStringLiteral("server"), m_redis->options().describe());
        redis.insert(QStringLiteral("breaker"), breakerStateName(m_redis->breakerState()));
        redis.insert(QStringLiteral("connections"), r.connections);
        redis.insert(QStringLiteral("commands"), double(r.commands));
        redis.insert(QStringLiteral("failures"), double(r.failures));
        redis.insert(QStringLiteral("breaker_opens"), double(r.breakerOpens));
    }
    QJsonObject tags;
    for (int i = 0; i < m_cache.tags().size(); ++i)
        tags.insert(m_cache.tags().name(i), double(m_cache.tags().version(i)));
    QJsonArray policies;
    for (const CacheRouteConfig &r : m_routes) {
        QJsonArray vary{QStringLiteral("path"), QStringLiteral("user")};
        if (r.varyQuery)
            vary.append(QStringLiteral("query"));
        for (const QString &h : r.varyHeaders)
            vary.append(QStringLiteral("header:") + h);
        policies.append(QJsonObject{{QStringLiteral("route"), r.route},
                                    {QStringLiteral("ttl_ms"), double(r.ttl.count())},
                                    {QStringLiteral("vary"), vary}});
    }
    return QJsonObject{
        {QStringLiteral("hit_rate"), hitRate(s)},
        {QStringLiteral("memory"), memory},
        {QStringLiteral("redis"), redis},
        {QStringLiteral("stores"), double(s.stores)},
        {QStringLiteral("shared_misses"), double(m_stage.sharedMisses())},
        {QStringLiteral("refreshes"), double(m_stage.refreshes())},
        {QStringLiteral("invalidations"),
         QJsonObject{{QStringLiteral("tag"), double(s.tagInvalidations)},
                     {QStringLiteral("key"), double(s.keyInvalidations)},
                     {QStringLiteral("prefix"), double(s.prefixInvalidations)},
                     {QStringLiteral("flush"), double(s.flushes)},
                     {QStringLiteral("dropped_entries"), double(s.invalidatedEntries)}}},
        {QStringLiteral("tags"), tags},
        {QStringLiteral("policies"), policies},
    };
}

HttpResponse CacheController::keys(RequestContext &ctx)
{
    const HttpRequest &r = ctx.request;
    const QString tier =
        r.queryValue("tier").isNull() ? QStringLiteral("memory") : r.queryValue("tier");
    auto limit = intParam(r, "limit", 50, 1, 1000);
    if (!limit.ok())
        return fail(ctx, limit.error());
    const QByteArray prefix = r.queryValue("prefix").toUtf8();
    const QByteArray after = r.queryValue("after").toUtf8();
    QJsonArray keys;
    QJsonValue next = QJsonValue::Null;
    auto add = [&keys](const TieredCache::KeyInfo &k) {
        keys.append(QJsonObject{{QStringLiteral("key"), QString::fromUtf8(k.key)},
                                {QStringLiteral("bytes"), double(k.bytes)},
                                {QStringLiteral("ttl_ms"), double(k.ttlMs)}});
    };
    if (tier == QLatin1String("memory")) {
        if (!m_cache.memoryEnabled())
            return fail(ctx,
                        Error{ErrorCode::NotFound,
                              QStringLiteral("the memory tier is off (cache.memory.enabled)")});
        const auto page = m_cache.memoryKeys(prefix, after, limit.value());
        for (const auto &k : page)
            add(k);
        if (page.size() == limit.value())
            next = QString::fromUtf8(page.last().key);
    } else if (tier == QLatin1String("redis")) {
        auto page =
            m_cache.redisKeys(prefix, after.isEmpty() ? QByteArray("0") : after, limit.value());
        if (!page.ok())
            return fail(ctx, page.error());
        for (const auto &k : page.value().keys)
            add(k);
        if (page.value().cursor != "0")
            next = QString::fromUtf8(page.value().cursor);
    } else {
        return fail(
            ctx,
            Error{ErrorCode::BadRequest,
                  QStringLiteral("tier must be memory or redis, not \"%1\"").arg(tier.left(32))});
    }
    // For Redis, `next` is SCAN's cursor: pass it back as `after`. A SCAN page may hold
    // fewer keys than the limit (even none) while more follow.
    return HttpResponse::json(QJsonObject{{QStringLiteral("tier"), tier},
                                          {QStringLiteral("keys"), keys},
                                          {QStringLiteral("next"), next}})
        .noStore();
}

HttpResponse CacheController::invalidate(RequestContext &ctx)
{
    auto body = jsonBody(ctx.request);
    if (!body.ok())
        return fail(ctx, body.error());
    const QJsonObject o = body.value();
    const int given = int(o.contains(QStringLiteral("key"))) +
                      int(o.contains(QStringLiteral("tag"))) +
                      int(o.contains(QStringLiteral("prefix")));
    if (given != 1 || o.size() != 1)
        return fail(ctx, Error{ErrorCode::BadRequest,
                               QStringLiteral("body: expected exactly one of {\"key\": ...}, "
                                              "{\"tag\": ...} or {\"prefix\": ...}")});
    if (o.contains(QStringLiteral("tag"))) {
        const QString tag = o.value(QStringLiteral("tag")).toString();
        const int index = m_cache.tags().indexOf(tag);
        if (index < 0)
            return fail(ctx, Error{ErrorCode::NotFound,
                                   QStringLiteral("unknown tag \"%1\" (tags: %2)")
                                       .arg(tag.left(64),
                                            m_cache.tags().names().join(QStringLiteral(", ")))});
        m_cache.invalidateTags({index});
        if (m_events)
            m_events->emitEvent(QStringLiteral("cache.invalidated"),
                                QJsonObject{{QStringLiteral("reason"), QStringLiteral("admin")},
                                            {QStringLiteral("tags"), QJsonArray{tag}}});
        return HttpResponse::json(
                   QJsonObject{{QStringLiteral("tag"), tag},
                               {QStringLiteral("version"), double(m_cache.tags().version(index))}})
            .noStore();
    }
    const bool byKey = o.contains(QStringLiteral("key"));
    const QString value =
        o.value(byKey ? QStringLiteral("key") : QStringLiteral("prefix")).toString();
    if (value.isEmpty())
        return fail(ctx, Error{ErrorCode::BadRequest,
                               QStringLiteral("body: the %1 must be a non-empty string "
                                              "(POST /admin/api/cache/flush empties everything)")
                                   .arg(byKey ? QStringLiteral("key") : QStringLiteral("prefix"))});
    const qint64 removed =
        byKey ? m_cache.invalidateKey(value.toUtf8()) : m_cache.invalidatePrefix(value.toUtf8());
    if (m_events)
        m_events->emitEvent(QStringLiteral("cache.invalidated"),
                            QJsonObject{{QStringLiteral("reason"), QStringLiteral("admin")},
                                        {byKey ? QStringLiteral("key") : QStringLiteral("prefix"),
                                         value},
                                        {QStringLiteral("removed"), double(removed)}});
    return HttpResponse::json(QJsonObject{{QStringLiteral("removed"), double(removed)}}).noStore();
}

ComponentHealth CacheController::check() const
{
    if (!m_cache.redisDegraded()) // memory only, or Redis in use
        return ComponentHealth{QStringLiteral("cache"), ComponentHealth::State::Up, {}, false};
    return ComponentHealth{
        QStringLiteral("cache"), ComponentHealth::State::Degraded,
        QStringLiteral("Redis (%1) is %2: serving from the memory tier only")
            .arg(m_redis ? m_redis->options().describe() : QString(), m_cache.redisState()),
        false};
}

} // namespace bulwark
