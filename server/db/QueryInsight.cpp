// SPDX-License-Identifier: GPL-3.0-or-later
// See QueryInsight.h.
#include "QueryInsight.h"

#include <algorithm>

namespace bulwark {

QueryInsight::QueryInsight(double slowQueryMs, MetricsRegistry *metrics, int slowLogSize)
    : m_slowMs(slowQueryMs), m_slowLogSize(slowLogSize)
{
    if (metrics) {
        m_statements =
            &metrics->counter("bulwark_db_statements_total", "SQL statements run.").labels({});
        m_errors =
            &metrics->counter("bulwark_db_statement_errors_total", "SQL statements that failed.")
                 .labels({});
        m_slowCounter = &metrics
                             ->counter("bulwark_db_slow_statements_total",
                                       "SQL statements slower than db.slow_query_ms.")
                             .labels({});
        m_seconds =
            &metrics
                 ->histogram("bulwark_db_statement_seconds", "Time spent running SQL statements.",
                             {}, Histogram::defaultLatencyBuckets())
                 .labels({});
    }
}

QString QueryInsight::normalise(const QString &sql)
{
    QString out;
    out.reserve(sql.size());
    bool space = false;
    for (QChar c : sql) {
        if (c.isSpace()) {
            space = true;
            continue;
        }
        if (space && !out.isEmpty())
            out.append(u' ');
        space = false;
        out.append(c);
    }
    // "?, ?, ?" -> "?, ..." (IN lists and multi-row VALUES vary in length).
    static const QString many = QStringLiteral("?, ?");
    qsizetype at = 0;
    while ((at = out.indexOf(many, at)) >= 0) {
        qsizetype end = at + 1;
        while (out.mid(end, 3) == QLatin1String(", ?"))
            end += 3;
        out.replace(at, end - at, QStringLiteral("?, ..."));
        at += 6;
    }
    static const QString rows = QStringLiteral("), (");
    if (const qsizetype values = out.indexOf(QLatin1String("VALUES (")); values >= 0) {
        const qsizetype second = out.indexOf(rows, values);
        if (second >= 0) {
            const qsizetype close = out.lastIndexOf(u')');
            out.replace(second + 1, close - second, QStringLiteral(", ..."));
        }
    }
    return out;
}

bool QueryInsight::record(const QString &sql, double ms, qint64 rows, bool error)
{
    m_count.fetch_add(1, std::memory_order_relaxed);
    if (m_statements)
        m_statements->inc();
    if (error && m_errors)
        m_errors->inc();
    if (m_seconds)
        m_seconds->observe(ms / 1000.0);
    const bool slow = ms >= m_slowMs;
    std::lock_guard lock(m_mutex);
    auto it = m_stats.find(sql);
    if (it == m_stats.end()) {
        if (m_stats.size() >= 5000)
            m_stats.clear(); // bounded: generated filters could otherwise grow it forever
        it = m_stats.insert(sql, StatementStats{});
    }
    ++it->calls;
    it->errors += error ? 1 : 0;
    it->rows += quint64(qMax<qint64>(0, rows));
    it->totalMs += ms;
    it->maxMs = std::max(it->maxMs, ms);
    if (!slow)
        return false;
    if (m_slowCounter)
        m_slowCounter->inc();
    const auto now = std::chrono::steady_clock::now();
    auto &last = m_lastPlan[sql];
    if (last.time_since_epoch().count() != 0 && now - last < std::chrono::minutes(1))
        return false;
    last = now;
    return true;
}

void QueryInsight::addSlow(SlowQuery query)
{
    query.sql = normalise(query.sql);
    std::lock_guard lock(m_mutex);
    m_slow.push_front(std::move(query));
    while (int(m_slow.size()) > m_slowLogSize)
        m_slow.pop_back();
}

QList<StatementStats> QueryInsight::top(int count) const
{
    QHash<QString, StatementStats> merged;
    {
        std::lock_guard lock(m_mutex);
        for (auto it = m_stats.begin(); it != m_stats.end(); ++it) {
            StatementStats &m = merged[normalise(it.key())];
            m.calls += it->calls;
            m.errors += it->errors;
            m.rows += it->rows;
            m.totalMs += it->totalMs;
            m.maxMs = std::max(m.maxMs, it->maxMs);
        }
    }
    QList<StatementStats> out;
    for (auto it = merged.begin(); it != merged.end(); ++it) {
        it->sql = it.key();
        out.append(*it);
    }
    std::sort(out.begin(), out.end(), [](const StatementStats &a, const StatementStats &b) {
        return a.totalMs > b.totalMs;
    });
    if (out.size() > count)
        out.resize(count);
    return out;
}

QList<SlowQuery> QueryInsight::slowQueries() const
{
    std::lock_guard lock(m_mutex);
    return QList<SlowQuery>(m_slow.begin(), m_slow.end());
}

void QueryInsight::reset()
{
    std::lock_guard lock(m_mutex);
    m_count.store(0, std::memory_order_relaxed);
    m_stats.clear();
    m_slow.clear();
    m_lastPlan.clear();
}

} // namespace bulwark
