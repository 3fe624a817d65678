// SPDX-License-Identifier: GPL-3.0-or-later
// The cache's admin API and health component:
//   GET  /admin/api/cache             stats per tier, hit rates, memory, Redis state, tags
//   GET  /admin/api/cache/keys        keys by prefix, paged (tier=memory|redis)
//   POST /admin/api/cache/invalidate  {"key": K} | {"tag": T} | {"prefix": P}
//   POST /admin/api/cache/flush       every entry, every instance
// Health "cache": Degraded (never Down: requests are still served from memory and the
// database) while Redis is configured but not in use.
#pragma once

#include "HealthRegistry.h"
#include "ResponseCacheStage.h"
#include "Router.h"
#include "TieredCache.h"

#include "EventBus.h"

#include <QJsonObject>

namespace bulwark {

class CacheController
{
public:
    CacheController(TieredCache &cache, const ResponseCacheStage &stage, RedisClient *redis,
                    const QList<CacheRouteConfig> &routes)
        : m_cache(cache), m_stage(stage), m_redis(redis), m_routes(routes)
    {
    }
    void registerRoutes(Router &router);
    // Admin invalidations are announced as cache.invalidated ({"reason": "admin", and the
    // "tags", "key", "prefix" or "flush" done}); writes announce theirs where they commit.
    void setEvents(EventBus *events) { m_events = events; }
    ComponentHealth check() const;
    QJsonObject status() const;
    // Share of first-tier lookups answered from either tier (fresh or stale), since start.
    static double hitRate(const TieredCache::Stats &s);

private:
    HttpResponse keys(RequestContext &ctx);
    HttpResponse invalidate(RequestContext &ctx);

    TieredCache &m_cache;
    const ResponseCacheStage &m_stage;
    RedisClient *m_redis;
    QList<CacheRouteConfig> m_routes;
    EventBus *m_events = nullptr;
};

} // namespace bulwark
