// SPDX-License-Identifier: GPL-3.0-or-later
// See HttpMetrics.h.
#include "HttpMetrics.h"

#include <QHash>
#include <atomic>

namespace bulwark {

namespace {
QByteArray methodLabel(const QByteArray &method)
{
    // Bounded label values: the framer only lets these through anyway.
    static const QList<QByteArray> known{"GET",    "HEAD",  "POST",    "PUT",
                                         "DELETE", "PATCH", "OPTIONS", "TRACE"};
    return known.contains(method) ? method : QByteArray("OTHER");
}

std::atomic<quint64> g_nextId{1};

// Each worker thread remembers the counter and histogram of every (route, method, status)
// it has recorded, so a request costs one hash lookup instead of building and joining
// label lists (several allocations) and taking the family's lock. Keyed by the metrics
// object's id, not its address, so that a later instance at the same address (tests run
// several servers in one process) never finds a dead one's handles.
struct RouteKey
{
    quint64 owner;
    QString route;
    QByteArray method;
    int status;
    bool operator==(const RouteKey &) const = default;
};
size_t qHash(const RouteKey &k, size_t seed = 0)
{
    return qHashMulti(seed, k.owner, k.route, k.method, k.status);
}
struct RouteHandles
{
    Counter *requests;
    Histogram *duration;
};
constexpr qsizetype kMaxCachedRoutes = 4096; // bounds a thread's cache; cleared when full
} // namespace

HttpMetrics::HttpMetrics(MetricsRegistry &registry)
    : inFlight(registry.gauge("http_requests_in_flight", "Requests being handled now.").labels({})),
      openConnections(
          registry.gauge("bulwark_http_open_connections", "Open client connections.").labels({})),
      acceptedConnections(
          registry
              .counter("bulwark_http_connections_accepted_total", "Client connections accepted.")
              .labels({})),
      latencyAll(registry
                     .histogram("bulwark_http_latency_seconds",
                                "Latency of every request, fine buckets for percentiles.", {},
                                Histogram::exponentialBuckets(0.00005, 1.25, 64))
                     .labels({})),
      requestsAll(
          registry.counter("bulwark_http_requests_all_total", "Requests answered, all routes.")
              .labels({})),
      serverErrorsAll(
          registry.counter("bulwark_http_server_errors_total", "Responses with status >= 500.")
              .labels({})),
      clientErrorsAll(
          registry.counter("bulwark_http_client_errors_total", "Responses with status 400-499.")
              .labels({})),
      m_requests(registry.counter("http_requests_total",
                                  "Requests answered by method, route pattern and status.",
                                  {"method", "route", "status"})),
      m_duration(
          registry.histogram("http_request_duration_seconds",
                             "Time from the end of the request to the response being queued.",
                             {"method", "route"}, Histogram::defaultLatencyBuckets())),
      m_rejectedConnections(registry.counter("bulwark_http_connections_rejected_total",
                                             "Connections refused or closed early, by reason.",
                                             {"reason"})),
      m_rejectedRequests(registry.counter(
          "bulwark_http_requests_rejected_total",
          "Requests rejected before routing (framing, limits, timeouts), by reason.", {"reason"})),
      m_id(g_nextId.fetch_add(1, std::memory_order_relaxed))
{
}

void HttpMetrics::recordRequest(const QByteArray &method, const QString &route, int status,
                                double seconds)
{
    thread_local QHash<RouteKey, RouteHandles> cache;
    RouteKey key{m_id, route, method, status};
    auto it = cache.constFind(key);
    if (it == cache.constEnd()) {
        if (cache.size() >= kMaxCachedRoutes)
            cache.clear();
        const QByteArray m = methodLabel(method);
        const QByteArray r = route.toUtf8();
        it = cache.insert(std::move(key),
                          RouteHandles{&m_requests.labels({m, r, QByteArray::number(status)}),
                                       &m_duration.labels({m, r})});
    }
    it->requests->inc();
    it->duration->observe(seconds);
    requestsAll.inc();
    latencyAll.observe(seconds);
    if (status >= 500)
        serverErrorsAll.inc();
    else if (status >= 400)
        clientErrorsAll.inc();
}

void HttpMetrics::connectionRejected(const QByteArray &reason)
{
    m_rejectedConnections.labels({reason}).inc();
}

void HttpMetrics::requestRejected(const QByteArray &reason)
{
    m_rejectedRequests.labels({reason}).inc();
}

} // namespace bulwark
