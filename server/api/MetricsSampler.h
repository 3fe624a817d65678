// SPDX-License-Identifier: GPL-3.0-or-later
// Once a second, turns the HTTP totals and the fine latency histogram into the headline
// series the console charts (rates from counter deltas, percentiles from bucket deltas)
// and appends them to the TimeSeries ring. Runs on the thread it is created in (the main
// thread); reading atomics there costs the workers nothing.
#pragma once

#include "HttpMetrics.h"
#include "TimeSeries.h"

#include <QObject>
#include <QTimer>
#include <functional>

namespace bulwark {

class MetricsSampler final : public QObject
{
    Q_OBJECT

public:
    MetricsSampler(HttpMetrics &http, TimeSeries &series, QObject *parent = nullptr);
    static QStringList seriesNames();
    // Cumulative (answered from the cache, cacheable lookups) for the cache_hit_rate series;
    // without it the series stays 0.
    void setCacheCounters(std::function<std::pair<double, double>()> counters)
    {
        m_cacheCounters = std::move(counters);
    }
    // Cumulative (rate-limit decisions, refusals) for the ratelimit_* series.
    void setRateLimitCounters(std::function<std::pair<double, double>()> counters)
    {
        m_rateLimitCounters = std::move(counters);
    }
    // The job queue: waiting jobs across instances (ready, scheduled, retrying), handlers
    // running here, and cumulative succeeded and failed attempts here, for the jobs_* series.
    struct JobCounters
    {
        double waiting = 0;
        double running = 0;
        double succeeded = 0;
        double failed = 0;
    };
    void setJobCounters(std::function<JobCounters()> counters) { m_jobCounters = std::move(counters); }
    void start();
    void sampleNow(); // one sample; public for tests

private:
    HttpMetrics &m_http;
    TimeSeries &m_series;
    QTimer m_timer;
    Histogram::Snapshot m_lastLatency;
    double m_lastRequests = 0;
    double m_lastServerErrors = 0;
    double m_lastClientErrors = 0;
    double m_lastCpu = -1;
    qint64 m_lastMs = 0;
    std::function<std::pair<double, double>()> m_cacheCounters;
    std::pair<double, double> m_lastCache{0, 0};
    double m_lastHitRate = 0;
    std::function<std::pair<double, double>()> m_rateLimitCounters;
    std::pair<double, double> m_lastRateLimit{0, 0};
    std::function<JobCounters()> m_jobCounters;
    JobCounters m_lastJobs;
};

} // namespace bulwark
