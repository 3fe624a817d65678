// SPDX-License-Identifier: GPL-3.0-or-later
// The HTTP layer's metrics, registered once in the MetricsRegistry and shared by the
// listener, the guarded connections and the metrics stage. Besides the labelled
// Prometheus families it keeps unlabelled totals and one latency histogram with fine
// buckets, which the one-second sampler turns into rates and percentiles for the console
// without walking every label set.
#pragma once

#include "Metrics.h"

namespace bulwark {

class HttpMetrics
{
public:
    explicit HttpMetrics(MetricsRegistry &registry);
    Q_DISABLE_COPY_MOVE(HttpMetrics)

    void recordRequest(const QByteArray &method, const QString &route, int status, double seconds);
    void connectionRejected(const QByteArray &reason);
    void requestRejected(const QByteArray &reason); // by the framer, timeouts

    Gauge &inFlight;
    Gauge &openConnections;
    Counter &acceptedConnections;
    Histogram &latencyAll; // every request, fine buckets
    Counter &requestsAll;
    Counter &serverErrorsAll; // status >= 500
    Counter &clientErrorsAll; // 400..499

private:
    Family<Counter> &m_requests;
    Family<Histogram> &m_duration;
    Family<Counter> &m_rejectedConnections;
    Family<Counter> &m_rejectedRequests;
    const quint64 m_id; // tells instances apart in the per-thread handle caches
};

} // namespace bulwark
