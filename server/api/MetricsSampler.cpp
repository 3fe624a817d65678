// SPDX-License-Identifier: GPL-3.0-or-later
// See MetricsSampler.h.
#include "MetricsSampler.h"

#include <QDateTime>

namespace bulwark {

MetricsSampler::MetricsSampler(HttpMetrics &http, TimeSeries &series, QObject *parent)
    : QObject(parent), m_http(http), m_series(series)
{
    m_timer.setInterval(1000);
    m_timer.setTimerType(Qt::PreciseTimer);
    connect(&m_timer, &QTimer::timeout, this, &MetricsSampler::sampleNow);
}

QStringList MetricsSampler::seriesNames()
{
    return {QStringLiteral("requests_per_second"),
            QStringLiteral("server_errors_per_second"),
            QStringLiteral("client_errors_per_second"),
            QStringLiteral("latency_p50_ms"),
            QStringLiteral("latency_p95_ms"),
            QStringLiteral("latency_p99_ms"),
            QStringLiteral("in_flight"),
            QStringLiteral("open_connections"),
            QStringLiteral("rss_bytes"),
            QStringLiteral("cpu_percent"),
            QStringLiteral("cache_hit_rate"),
            QStringLiteral("ratelimit_decisions_per_second"),
            QStringLiteral("ratelimit_limited_per_second"),
            QStringLiteral("jobs_waiting"),
            QStringLiteral("jobs_running"),
            QStringLiteral("jobs_succeeded_per_second"),
            QStringLiteral("jobs_failed_per_second")};
}

void MetricsSampler::start()
{
    m_lastLatency = m_http.latencyAll.snapshot();
    m_lastRequests = m_http.requestsAll.value();
    m_lastServerErrors = m_http.serverErrorsAll.value();
    m_lastClientErrors = m_http.clientErrorsAll.value();
    m_lastMs = QDateTime::currentMSecsSinceEpoch();
    m_lastCpu = ProcessStats::read().cpuSeconds;
    if (m_cacheCounters)
        m_lastCache = m_cacheCounters();
    if (m_rateLimitCounters)
        m_lastRateLimit = m_rateLimitCounters();
    if (m_jobCounters)
        m_lastJobs = m_jobCounters();
    m_timer.start();
}

void MetricsSampler::sampleNow()
{
    const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
    const double elapsed = m_lastMs > 0 ? qMax(0.001, double(nowMs - m_lastMs) / 1000.0) : 1.0;
    const Histogram::Snapshot latency = m_http.latencyAll.snapshot();
    const Histogram::Snapshot window = latency.minus(m_lastLatency);
    const double requests = m_http.requestsAll.value();
    const double serverErrors = m_http.serverErrorsAll.value();
    const double clientErrors = m_http.clientErrorsAll.value();
    const ProcessStats process = ProcessStats::read();
    // Hit rate over the last second; a second without lookups repeats the last value.
    if (m_cacheCounters) {
        const std::pair<double, double> cache = m_cacheCounters();
        const double lookups = cache.second - m_lastCache.second;
        if (lookups > 0)
            m_lastHitRate = (cache.first - m_lastCache.first) / lookups;
        m_lastCache = cache;
    }
    // Rules replaced live take their counters with them: a drop is not a negative rate.
    std::pair<double, double> rateLimit = m_lastRateLimit;
    if (m_rateLimitCounters)
        rateLimit = m_rateLimitCounters();
    const double decisionsPerSecond = qMax(0.0, rateLimit.first - m_lastRateLimit.first) / elapsed;
    const double limitedPerSecond = qMax(0.0, rateLimit.second - m_lastRateLimit.second) / elapsed;
    m_lastRateLimit = rateLimit;
    const JobCounters jobs = m_jobCounters ? m_jobCounters() : m_lastJobs;
    const double jobsSucceeded = qMax(0.0, jobs.succeeded - m_lastJobs.succeeded) / elapsed;
    const double jobsFailed = qMax(0.0, jobs.failed - m_lastJobs.failed) / elapsed;
    m_lastJobs = jobs;
    const double cpuPercent = (m_lastCpu >= 0 && process.cpuSeconds >= 0)
                                  ? 100.0 * (process.cpuSeconds - m_lastCpu) / elapsed
                                  : 0.0;
    m_series.append(nowMs / 1000, {
                                      (requests - m_lastRequests) / elapsed,
                                      (serverErrors - m_lastServerErrors) / elapsed,
                                      (clientErrors - m_lastClientErrors) / elapsed,
                                      window.quantile(0.50) * 1000.0,
                                      window.quantile(0.95) * 1000.0,
                                      window.quantile(0.99) * 1000.0,
                                      m_http.inFlight.value(),
                                      m_http.openConnections.value(),
                                      double(qMax<qint64>(0, process.residentBytes)),
                                      cpuPercent,
                                      m_lastHitRate,
                                      decisionsPerSecond,
                                      limitedPerSecond,
                                      jobs.waiting,
                                      jobs.running,
                                      jobsSucceeded,
                                      jobsFailed,
                                  });
    m_lastLatency = latency;
    m_lastRequests = requests;
    m_lastServerErrors = serverErrors;
    m_lastClientErrors = clientErrors;
    m_lastCpu = process.cpuSeconds;
    m_lastMs = nowMs;
}

} // namespace bulwark
