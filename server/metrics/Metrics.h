// SPDX-License-Identifier: GPL-3.0-or-later
// Metric primitives and the registry that renders them in the Prometheus text format.
//
// Counters, gauges and histogram buckets are lock-free atomics, so recording from many
// HTTP worker threads costs a few atomic adds. Label sets live in a family: looking a child
// up takes a shared (read) lock and a hash lookup; creating a child takes the write lock
// once. The locks are std::shared_mutex (not QReadWriteLock) so ThreadSanitizer can see
// them with Debian's uninstrumented Qt. Children are never removed, which is why label values must
// be bounded (route patterns, not raw paths). Collectors add metrics computed at scrape time
// (process RSS, CPU, open fds) without a background thread.
#pragma once

#include <QByteArray>
#include <QList>
#include <QString>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

namespace bulwark {

class Counter
{
public:
    void inc(double n = 1) { m_value.fetch_add(n, std::memory_order_relaxed); }
    double value() const { return m_value.load(std::memory_order_relaxed); }

private:
    std::atomic<double> m_value{0};
};

class Gauge
{
public:
    void set(double v) { m_value.store(v, std::memory_order_relaxed); }
    void inc(double n = 1) { m_value.fetch_add(n, std::memory_order_relaxed); }
    void dec(double n = 1) { m_value.fetch_sub(n, std::memory_order_relaxed); }
    double value() const { return m_value.load(std::memory_order_relaxed); }

private:
    std::atomic<double> m_value{0};
};

class Histogram
{
public:
    explicit Histogram(std::vector<double> upperBounds);
    void observe(double value);

    struct Snapshot
    {
        std::vector<double> upperBounds; // without +Inf
        std::vector<quint64> counts;     // per bucket, not cumulative; last is +Inf
        double sum = 0;
        quint64 count = 0;
        // Estimated quantile (0..1) by linear interpolation inside the bucket.
        double quantile(double q) const;
        Snapshot minus(const Snapshot &earlier) const;
    };
    Snapshot snapshot() const;
    const std::vector<double> &upperBounds() const { return m_bounds; }

    static std::vector<double> exponentialBuckets(double start, double factor, int count);
    static std::vector<double> defaultLatencyBuckets(); // 0.5 ms .. 10 s

private:
    std::vector<double> m_bounds;
    std::unique_ptr<std::atomic<quint64>[]> m_counts;
    std::atomic<double> m_sum{0};
};

// A metric with labels. T is Counter, Gauge or Histogram.
template <typename T> class Family
{
public:
    Family(QByteArray name, QByteArray help, QList<QByteArray> labelNames,
           std::function<std::unique_ptr<T>()> make)
        : m_name(std::move(name)), m_help(std::move(help)), m_labelNames(std::move(labelNames)),
          m_make(std::move(make))
    {
    }

    // Label values in the order of the label names.
    T &labels(const QList<QByteArray> &values)
    {
        const QByteArray key = values.join('\xff');
        {
            std::shared_lock lock(m_lock);
            auto it = m_children.find(key);
            if (it != m_children.end())
                return *it->second.metric;
        }
        std::unique_lock lock(m_lock);
        auto &slot = m_children[key];
        if (!slot.metric) {
            slot.values = values;
            slot.metric = m_make();
        }
        return *slot.metric;
    }

    template <typename F> void forEach(F &&f) const
    {
        std::shared_lock lock(m_lock);
        for (const auto &[key, child] : m_children)
            f(child.values, *child.metric);
    }

    const QByteArray &name() const { return m_name; }
    const QByteArray &help() const { return m_help; }
    const QList<QByteArray> &labelNames() const { return m_labelNames; }

private:
    struct Child
    {
        QList<QByteArray> values;
        std::unique_ptr<T> metric;
    };
    struct KeyHash
    {
        size_t operator()(const QByteArray &k) const { return qHash(k); }
    };
    QByteArray m_name;
    QByteArray m_help;
    QList<QByteArray> m_labelNames;
    std::function<std::unique_ptr<T>()> m_make;
    mutable std::shared_mutex m_lock;
    std::unordered_map<QByteArray, Child, KeyHash> m_children;
};

class MetricsRegistry
{
public:
    MetricsRegistry() = default;
    Q_DISABLE_COPY_MOVE(MetricsRegistry)

    Family<Counter> &counter(const QByteArray &name, const QByteArray &help,
                             const QList<QByteArray> &labels = {});
    Family<Gauge> &gauge(const QByteArray &name, const QByteArray &help,
                         const QList<QByteArray> &labels = {});
    Family<Histogram> &histogram(const QByteArray &name, const QByteArray &help,
                                 const QList<QByteArray> &labels, std::vector<double> buckets);

    // A collector appends complete exposition text (HELP/TYPE lines included) at scrape time.
    void addCollector(std::function<void(QByteArray &out)> collector);

    // The Prometheus text exposition format, version 0.0.4.
    QByteArray exposition() const;
    static QByteArray escapeLabelValue(const QByteArray &value);
    static QByteArray escapeHelp(const QByteArray &help); // backslash and line feed only
    static QByteArray formatNumber(double value);

private:
    mutable std::shared_mutex m_lock;
    std::vector<std::unique_ptr<Family<Counter>>> m_counters;
    std::vector<std::unique_ptr<Family<Gauge>>> m_gauges;
    std::vector<std::unique_ptr<Family<Histogram>>> m_histograms;
    std::vector<std::function<void(QByteArray &)>> m_collectors;
};

// Adds process_resident_memory_bytes, process_cpu_seconds_total, process_open_fds,
// process_start_time_seconds and bulwark_uptime_seconds (Linux reads /proc).
void addProcessCollector(MetricsRegistry &registry);

struct ProcessStats
{
    qint64 residentBytes = -1;
    double cpuSeconds = -1;
    int openFds = -1;
    static ProcessStats read();
};

} // namespace bulwark
