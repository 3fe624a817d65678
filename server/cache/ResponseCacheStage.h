// SPDX-License-Identifier: GPL-3.0-or-later
// The response cache as a pipeline stage, between authentication (it needs the user) and
// the router. For a GET or HEAD whose path has a policy (CachePolicies) and whose tags the
// resolver knows:
//   fresh entry  -> answered from the cache, X-Cache: HIT (304 when If-None-Match matches
//                   its ETag), Age: seconds since it was stored;
//   stale entry  -> (within cache.stale_while_revalidate of expiring) answered at once
//                   with X-Cache: STALE, and one background refresh per key is queued;
//   no entry     -> the handler runs once per key however many requests miss together
//                   (SingleFlight; the others wait for it and share its response), and a
//                   200 without Cache-Control no-store, smaller than cache.max_entry_size,
//                   is stored with X-Cache: MISS.
// Everything else passes through untouched. Entries are stored with the tag versions read
// *before* the handler ran (TagVersions), and with a TTL shortened by a random fraction up
// to cache.ttl_jitter so that entries stored together do not expire together.
//
// The tag resolver (from app/, which knows the schema) says which collections a response
// depends on, or that it is not cacheable at all (an unknown collection, /api/v1/me).
#pragma once

#include "BackgroundThread.h"
#include "CachePolicies.h"
#include "Pipeline.h"
#include "SingleFlight.h"
#include "TieredCache.h"

#include <QSet>
#include <functional>
#include <mutex>

namespace bulwark {

struct ResponseCacheOptions
{
    std::chrono::milliseconds staleWhileRevalidate{30'000};
    double ttlJitter = 0.1;
    qint64 maxEntrySize = 1024 * 1024;
    std::chrono::milliseconds lockTimeout{10'000};
};

class ResponseCacheStage final : public Stage
{
public:
    // Tags of the response for this match, or nullopt: do not cache.
    using TagResolver = std::function<std::optional<QList<int>>(const HttpRequest &)>;

    ResponseCacheStage(TieredCache &cache, CachePolicies policies, TagResolver resolver,
                       ResponseCacheOptions options, BackgroundThread *refresher);

    HttpResponse handle(RequestContext &ctx, const Next &next) override;

    // Computes the response for ctx (as a miss would) and stores it if cacheable; for
    // warming. `next` continues the pipeline after this stage. Returns the status.
    int warm(RequestContext &ctx, const Next &next);

    quint64 sharedMisses() const { return m_flights.sharedCount(); }
    quint64 refreshes() const { return m_refreshes.load(std::memory_order_relaxed); }

private:
    struct Plan
    {
        QByteArray key;
        QList<int> tags;
        const CacheRouteConfig *policy = nullptr;
        bool personal = false;
    };
    // Key and policy; the tags (resolveTags) only when they are needed: not on a memory hit.
    std::optional<Plan> plan(const RequestContext &ctx) const;
    bool resolveTags(const HttpRequest &request, Plan *plan) const; // false: not cacheable
    // Runs the handler and stores a cacheable result; returns it and whether it was stored.
    std::pair<HttpResponse, bool> compute(RequestContext &ctx, const Next &next, const Plan &plan);
    HttpResponse fromEntry(const RequestContext &ctx, const TieredCache::Hit &hit) const;
    void refreshLater(const RequestContext &ctx, const Next &next, const Plan &plan);

    TieredCache &m_cache;
    CachePolicies m_policies;
    TagResolver m_resolver;
    ResponseCacheOptions m_options;
    BackgroundThread *m_refresher;
    SingleFlight<HttpResponse> m_flights;
    std::mutex m_refreshMutex;
    QSet<QByteArray> m_refreshing;
    std::atomic<quint64> m_refreshes{0};
};

} // namespace bulwark
