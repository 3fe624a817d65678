// SPDX-License-Identifier: GPL-3.0-or-later
// See Metrics.h.
#include "Metrics.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <algorithm>
#include <cmath>

#ifdef Q_OS_UNIX
#include <sys/resource.h>
#include <unistd.h>
#endif

namespace bulwark {

Histogram::Histogram(std::vector<double> upperBounds)
    : m_bounds(std::move(upperBounds)), m_counts(new std::atomic<quint64>[m_bounds.size() + 1])
{
    std::sort(m_bounds.begin(), m_bounds.end());
    for (size_t i = 0; i <= m_bounds.size(); ++i)
        m_counts[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value)
{
    // Buckets are few (tens), so a binary search beats anything cleverer.
    const size_t i =
        size_t(std::lower_bound(m_bounds.begin(), m_bounds.end(), value) - m_bounds.begin());
    m_counts[i].fetch_add(1, std::memory_order_relaxed);
    m_sum.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const
{
    Snapshot s;
    s.upperBounds = m_bounds;
    s.counts.resize(m_bounds.size() + 1);
    for (size_t i = 0; i <= m_bounds.size(); ++i) {
        s.counts[i] = m_counts[i].load(std::memory_order_relaxed);
        s.count += s.counts[i];
    }
    s.sum = m_sum.load(std::memory_order_relaxed);
    return s;
}

Histogram::Snapshot Histogram::Snapshot::minus(const Snapshot &earlier) const
{
    Snapshot d = *this;
    if (earlier.counts.size() != counts.size())
        return d;
    d.count = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
        d.counts[i] = counts[i] >= earlier.counts[i] ? counts[i] - earlier.counts[i] : 0;
        d.count += d.counts[i];
    }
    d.sum = sum - earlier.sum;
    return d;
}

double Histogram::Snapshot::quantile(double q) const
{
    if (count == 0)
        return 0;
    const double rank = q * double(count);
    quint64 cumulative = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
        const quint64 next = cumulative + counts[i];
        if (double(next) >= rank && counts[i] > 0) {
            if (i == upperBounds.size()) // +Inf bucket: the best we know is its lower edge
                return upperBounds.empty() ? 0 : upperBounds.back();
            const double lower = i == 0 ? 0 : upperBounds[i - 1];
            const double upper = upperBounds[i];
            const double within = (rank - double(cumulative)) / double(counts[i]);
            return lower + (upper - lower) * std::clamp(within, 0.0, 1.0);
        }
        cumulative = next;
    }
    return upperBounds.empty() ? 0 : upperBounds.back();
}

std::vector<double> Histogram::exponentialBuckets(double start, double factor, int count)
{
    std::vector<double> b;
    b.reserve(size_t(count));
    double v = start;
    for (int i = 0; i < count; ++i, v *= factor)
        b.push_back(v);
    return b;
}

std::vector<double> Histogram::defaultLatencyBuckets()
{
    return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

Family<Counter> &MetricsRegistry::counter(const QByteArray &name, const QByteArray &help,
                                          const QList<QByteArray> &labels)
{
    std::unique_lock lock(m_lock);
    m_counters.push_back(std::make_unique<Family<Counter>>(
        name, help, labels, [] { return std::make_unique<Counter>(); }));
    return *m_counters.back();
}

Family<Gauge> &MetricsRegistry::gauge(const QByteArray &name, const QByteArray &help,
                                      const QList<QByteArray> &labels)
{
    std::unique_lock lock(m_lock);
    m_gauges.push_back(std::make_unique<Family<Gauge>>(name, help, labels,
                                                       [] { return std::make_unique<Gauge>(); }));
    return *m_gauges.back();
}

Family<Histogram> &MetricsRegistry::histogram(const QByteArray &name, const QByteArray &help,
                                              const QList<QByteArray> &labels,
                                              std::vector<double> buckets)
{
    std::unique_lock lock(m_lock);
    m_histograms.push_back(std::make_unique<Family<Histogram>>(
        name, help, labels, [buckets] { return std::make_unique<Histogram>(buckets); }));
    return *m_histograms.back();
}

void MetricsRegistry::addCollector(std::function<void(QByteArray &)> collector)
{
    std::unique_lock lock(m_lock);
    m_collectors.push_back(std::move(collector));
}

namespace {
// The exposition format escapes backslash and line feed everywhere, and the double quote
// in label values only.
QByteArray escapeExposition(const QByteArray &text, bool quotes)
{
    QByteArray out;
    out.reserve(text.size());
    for (char c : text) {
        if (c == '\\')
            out.append("\\\\");
        else if (c == '\n')
            out.append("\\n");
        else if (quotes && c == '"')
            out.append("\\\"");
        else
            out.append(c);
    }
    return out;
}
} // namespace

QByteArray MetricsRegistry::escapeLabelValue(const QByteArray &value)
{
    return escapeExposition(value, true);
}

QByteArray MetricsRegistry::escapeHelp(const QByteArray &help)
{
    return escapeExposition(help, false);
}

QByteArray MetricsRegistry::formatNumber(double value)
{
    if (std::isnan(value))
        return "NaN";
    if (std::isinf(value))
        return value > 0 ? "+Inf" : "-Inf";
    if (value == std::floor(value) && std::fabs(value) < 1e15)
        return QByteArray::number(qint64(value));
    return QByteArray::number(value, 'g', 12);
}

namespace {

QByteArray labelSet(const QList<QByteArray> &names, const QList<QByteArray> &values,
                    const QByteArray &extraName = {}, const QByteArray &extraValue = {})
{
    if (names.isEmpty() && extraName.isEmpty())
        return {};
    QByteArray out = "{";
    bool first = true;
    for (qsizetype i = 0; i < names.size() && i < values.size(); ++i) {
        if (!first)
            out.append(',');
        first = false;
        out.append(names[i])
            .append("=\"")
            .append(MetricsRegistry::escapeLabelValue(values[i]))
            .append('"');
    }
    if (!extraName.isEmpty()) {
        if (!first)
            out.append(',');
        out.append(extraName).append("=\"").append(extraValue).append('"');
    }
    out.append('}');
    return out;
}

template <typename F> void header(QByteArray &out, const F &family, const char *type)
{
    out.append("# HELP ")
        .append(family.name())
        .append(' ')
        .append(MetricsRegistry::escapeHelp(family.help()))
        .append('\n');
    out.append("# TYPE ").append(family.name()).append(' ').append(type).append('\n');
}

} // namespace

QByteArray MetricsRegistry::exposition() const
{
    QByteArray out;
    out.reserve(16 * 1024);
    std::shared_lock lock(m_lock);
    for (const auto &family : m_counters) {
        header(out, *family, "counter");
        family->forEach([&](const QList<QByteArray> &values, const Counter &c) {
            out.append(family->name())
                .append(labelSet(family->labelNames(), values))
                .append(' ')
                .append(formatNumber(c.value()))
                .append('\n');
        });
    }
    for (const auto &family : m_gauges) {
        header(out, *family, "gauge");
        family->forEach([&](const QList<QByteArray> &values, const Gauge &g) {
            out.append(family->name())
                .append(labelSet(family->labelNames(), values))
                .append(' ')
                .append(formatNumber(g.value()))
                .append('\n');
        });
    }
    for (const auto &family : m_histograms) {
        header(out, *family, "histogram");
        family->forEach([&](const QList<QByteArray> &values, const Histogram &h) {
            const Histogram::Snapshot s = h.snapshot();
            quint64 cumulative = 0;
            for (size_t i = 0; i < s.counts.size(); ++i) {
                cumulative += s.counts[i];
                const QByteArray le =
                    i < s.upperBounds.size() ? formatNumber(s.upperBounds[i]) : QByteArray("+Inf");
                out.append(family->name())
                    .append("_bucket")
                    .append(labelSet(family->labelNames(), values, "le", le))
                    .append(' ')
                    .append(QByteArray::number(cumulative))
                    .append('\n');
            }
            const QByteArray labels = labelSet(family->labelNames(), values);
            out.append(family->name())
                .append("_sum")
                .append(labels)
                .append(' ')
                .append(formatNumber(s.sum))
                .append('\n');
            out.append(family->name())
                .append("_count")
                .append(labels)
                .append(' ')
                .append(QByteArray::number(s.count))
                .append('\n');
        });
    }
    for (const auto &collector : m_collectors)
        collector(out);
    return out;
}

ProcessStats ProcessStats::read()
{
    ProcessStats s;
#ifdef Q_OS_LINUX
    QFile statm(QStringLiteral("/proc/self/statm"));
    if (statm.open(QIODevice::ReadOnly)) {
        const QList<QByteArray> parts = statm.readAll().split(' ');
        if (parts.size() > 1)
            s.residentBytes = parts[1].toLongLong() * sysconf(_SC_PAGESIZE);
    }
    s.openFds = int(QDir(QStringLiteral("/proc/self/fd"))
                        .entryList(QDir::Files | QDir::System | QDir::NoDotAndDotDot)
                        .size());
#endif
#ifdef Q_OS_UNIX
    rusage usage{};
    if (getrusage(RUSAGE_SELF, &usage) == 0)
        s.cpuSeconds = double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                       double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
#endif
    return s;
}

void addProcessCollector(MetricsRegistry &registry)
{
    const qint64 startMs = QDateTime::currentMSecsSinceEpoch();
    registry.addCollector([startMs](QByteArray &out) {
        const ProcessStats s = ProcessStats::read();
        auto one = [&out](const char *name, const char *type, const char *help, double v) {
            out.append("# HELP ")
                .append(name)
                .append(' ')
                .append(MetricsRegistry::escapeHelp(help))
                .append('\n');
            out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
            out.append(name).append(' ').append(MetricsRegistry::formatNumber(v)).append('\n');
        };
        if (s.residentBytes >= 0)
            one("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                double(s.residentBytes));
        if (s.cpuSeconds >= 0)
            one("process_cpu_seconds_total", "counter",
                "Total user and system CPU time spent in seconds.", s.cpuSeconds);
        if (s.openFds >= 0)
            one("process_open_fds", "gauge", "Number of open file descriptors.", s.openFds);
        one("process_start_time_seconds", "gauge",
            "Start time of the process since unix epoch in seconds.", double(startMs) / 1000.0);
        one("bulwark_uptime_seconds", "gauge", "Seconds since the process started.",
            double(QDateTime::currentMSecsSinceEpoch() - startMs) / 1000.0);
    });
}

} // namespace bulwark
