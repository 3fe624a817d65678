// SPDX-License-Identifier: GPL-3.0-or-later
// See HttpMetrics.h.
#include "HttpMetrics.h"

namespace bulwark {

namespace {
QByteArray methodLabel(const QByteArray &method)
{
    // Bounded label values: the framer only lets these through anyway.
    static const QList<QByteArray> known{"GET",    "HEAD",  "POST",    "PUT",
                                         "DELETE", "PATCH", "OPTIONS", "TRACE"};
    return known.contains(method) ? method : QByteArray("OTHER");
}
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
          "Requests rejected before routing (framing, limits, timeouts), by reason.", {"reason"}))
{
}

void HttpMetrics::recordRequest(const QByteArray &method, const QString &route, int status,
                                double seconds)
{
    const QByteArray m = methodLabel(method);
    const QByteArray r = route.toUtf8();
    m_requests.labels({m, r, QByteArray::number(status)}).inc();
    m_duration.labels({m, r}).observe(seconds);
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
