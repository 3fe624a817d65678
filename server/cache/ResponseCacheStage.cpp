// SPDX-License-Identifier: GPL-3.0-or-later
// See ResponseCacheStage.h.
#include "ResponseCacheStage.h"

#include "EntityTags.h"
#include "ThreadRandom.h"

namespace bulwark {

ResponseCacheStage::ResponseCacheStage(TieredCache &cache, CachePolicies policies,
                                       TagResolver resolver, ResponseCacheOptions options,
                                       BackgroundThread *refresher)
    : m_cache(cache), m_policies(std::move(policies)), m_resolver(std::move(resolver)),
      m_options(options), m_refresher(refresher)
{
}

std::optional<ResponseCacheStage::Plan> ResponseCacheStage::plan(const RequestContext &ctx) const
{
    const HttpRequest &r = ctx.request;
    if (r.method != "GET" && r.method != "HEAD")
        return std::nullopt;
    const CacheRouteConfig *policy = m_policies.match(r.path);
    if (!policy)
        return std::nullopt;
    Plan p;
    p.policy = policy;
    p.personal = ctx.principal.has_value();
    p.key = CachePolicies::key(
        *p.policy, r, p.personal ? std::optional<qint64>(ctx.principal->userId) : std::nullopt);
    return p;
}

HttpResponse ResponseCacheStage::handle(RequestContext &ctx, const Next &next)
{
    auto p = plan(ctx);
    if (!p)
        return next(ctx);
    // The memory tier first: an entry there was cacheable when it was stored, so a hit needs
    // neither the tag resolver nor Redis.
    auto hit = m_cache.getMemory(p->key);
    if (!hit) {
        if (!resolveTags(ctx.request, &*p))
            return next(ctx); // not cacheable (an unknown collection, /api/v1/me)
        hit = m_cache.getRedis(p->key);
    }
    if (hit) {
        ctx.routePattern = hit->entry->route; // for the metrics and the access log
        if (hit->stale && (!p->tags.isEmpty() || resolveTags(ctx.request, &*p)))
            refreshLater(ctx, next, *p);
        return fromEntry(ctx, *hit);
    }
    auto outcome = m_flights.run(
        p->key, [&] { return compute(ctx, next, *p); }, m_options.lockTimeout);
    HttpResponse response = std::move(outcome.value);
    if (outcome.shared && ctx.routePattern.isEmpty())
        ctx.routePattern = p->policy->route; // the router did not run for this request
    if (response.status == 200)
        response.setHeader(QByteArrayLiteral("X-Cache"), QByteArrayLiteral("MISS"));
    return response;
}

bool ResponseCacheStage::resolveTags(const HttpRequest &request, Plan *plan) const
{
    auto tags = m_resolver(request);
    if (!tags)
        return false;
    plan->tags = std::move(*tags);
    plan->tags.append(TagVersions::kAll); // never empty once resolved
    return true;
}

int ResponseCacheStage::warm(RequestContext &ctx, const Next &next)
{
    auto p = plan(ctx);
    if (!p || !resolveTags(ctx.request, &*p))
        return 0;
    return compute(ctx, next, *p).first.status;
}

std::pair<HttpResponse, bool> ResponseCacheStage::compute(RequestContext &ctx, const Next &next,
                                                          const Plan &plan)
{
    // Versions first: a write committing while the handler runs leaves this entry behind.
    const TagSnapshot versions = m_cache.tags().snapshot(plan.tags);
    const qint64 storedAt = m_cache.nowMs();
    HttpResponse response = next(ctx);
    const bool cacheable = response.status == 200 &&
                           !response.header("cache-control").contains("no-store") &&
                           response.body.size() <= m_options.maxEntrySize;
    if (!cacheable)
        return {std::move(response), false};
    // Set before the copy below, so hits carry it as stored.
    if (response.header("cache-control").isEmpty())
        response.setHeader(QByteArrayLiteral("Cache-Control"),
                           plan.personal ? QByteArrayLiteral("private, no-cache")
                                         : QByteArrayLiteral("public, no-cache"));
    auto entry = std::make_shared<CachedResponse>();
    entry->status = response.status;
    entry->contentType = response.contentType;
    entry->headers = response.headers;
    entry->body = response.body;
    entry->storedAtMs = storedAt;
    const qint64 ttl = plan.policy->ttl.count();
    const double jitter =
        m_options.ttlJitter * std::uniform_real_distribution<double>(0.0, 1.0)(threadRandom());
    entry->freshMs = qMax<qint64>(1, qint64(double(ttl) * (1.0 - jitter)));
    entry->staleMs = m_options.staleWhileRevalidate.count();
    entry->tags = versions;
    entry->route = ctx.routePattern; // set by the router
    m_cache.put(plan.key, entry);
    response.setHeader(QByteArrayLiteral("Age"), QByteArrayLiteral("0"));
    return {std::move(response), true};
}

HttpResponse ResponseCacheStage::fromEntry(const RequestContext &ctx,
                                           const TieredCache::Hit &hit) const
{
    const CachedResponse &e = *hit.entry;
    HttpResponse response;
    // Room for what this stage and the outer ones add (Age, X-Cache, request id, security
    // headers) without growing the list again.
    response.headers.reserve(e.headers.size() + 10);
    response.headers.append(e.headers);
    const QByteArray etag = e.header("etag");
    const QByteArray ifNoneMatch = ctx.request.header("if-none-match");
    if (!etag.isEmpty() && !ifNoneMatch.isEmpty() &&
        entityTagListMatches(ifNoneMatch, etag, true)) {
        response.status = 304;
    } else {
        response.status = e.status;
        response.contentType = e.contentType;
        response.body = e.body;
    }
    response.setHeader(QByteArrayLiteral("Age"), QByteArray::number(hit.ageMs / 1000));
    response.setHeader(QByteArrayLiteral("X-Cache"),
                       hit.stale ? QByteArrayLiteral("STALE") : QByteArrayLiteral("HIT"));
    return response;
}

void ResponseCacheStage::refreshLater(const RequestContext &ctx, const Next &next, const Plan &plan)
{
    if (!m_refresher)
        return;
    {
        std::lock_guard lock(m_refreshMutex);
        if (m_refreshing.contains(plan.key))
            return; // one refresh per key at a time
        m_refreshing.insert(plan.key);
    }
    RequestContext copy = ctx;
    copy.request.socketDescriptor = -1; // no client is waiting for this one
    // Same headers (the key may vary on some) but no conditionals: the refresh needs the
    // full body.
    QList<std::pair<QByteArray, QByteArray>> headers;
    for (qsizetype i = 0; i < ctx.request.headerCount(); ++i) {
        const QByteArrayView name = ctx.request.headerName(i);
        if (name.compare("if-none-match", Qt::CaseInsensitive) != 0 &&
            name.compare("if-modified-since", Qt::CaseInsensitive) != 0)
            headers.append({name.toByteArray(), ctx.request.headerValue(i).toByteArray()});
    }
    copy.request.setHeaders(headers);
    const bool queued = m_refresher->post([this, copy, next, plan]() mutable {
        compute(copy, next, plan);
        m_refreshes.fetch_add(1, std::memory_order_relaxed);
        std::lock_guard lock(m_refreshMutex);
        m_refreshing.remove(plan.key);
    });
    if (!queued) {
        std::lock_guard lock(m_refreshMutex);
        m_refreshing.remove(plan.key);
    }
}

} // namespace bulwark
