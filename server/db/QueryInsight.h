// SPDX-License-Identifier: GPL-3.0-or-later
// Per-statement statistics and the slow-query log, fed by SqlSession (the one place every
// statement of the data API runs through). Statements are keyed by their normalised text:
// Bulwark's SQL is generated with placeholders, so values never split a statement into
// many; only the length of IN lists varies, and "?, ?, ?" collapses to "?, ...".
//
// One mutex guards the tables: a record is a hash lookup and a few additions, far below
// the cost of the statement it describes. Slow statements (above slow_query_ms) keep their
// plan, captured at most once a minute per statement so a slow query under load does not
// double its own cost.
#pragma once

#include "Metrics.h"

#include <QDateTime>
#include <QHash>
#include <QList>
#include <QString>
#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>

namespace bulwark {

struct StatementStats
{
    QString sql;
    quint64 calls = 0;
    quint64 errors = 0;
    quint64 rows = 0;
    double totalMs = 0;
    double maxMs = 0;
};

struct SlowQuery
{
    QString sql;
    double ms = 0;
    QDateTime at;
    QString plan;
};

class QueryInsight
{
public:
    explicit QueryInsight(double slowQueryMs, MetricsRegistry *metrics = nullptr,
                          int slowLogSize = 100);
    Q_DISABLE_COPY_MOVE(QueryInsight)

    static QString normalise(const QString &sql);

    // Records one execution. Returns true when it was slow and its plan should be captured
    // (then call addSlow()).
    bool record(const QString &sql, double ms, qint64 rows, bool error);
    void addSlow(SlowQuery query);

    QList<StatementStats> top(int count) const; // by total time, highest first
    QList<SlowQuery> slowQueries() const;       // newest first
    quint64 statementCount() const { return m_count.load(std::memory_order_relaxed); }
    double slowQueryMs() const { return m_slowMs; }
    void reset();

private:
    const double m_slowMs;
    const int m_slowLogSize;
    std::atomic<quint64> m_count{0};
    mutable std::mutex m_mutex;
    QHash<QString, StatementStats> m_stats; // by raw SQL (cheap to hash)
    QHash<QString, std::chrono::steady_clock::time_point> m_lastPlan;
    std::deque<SlowQuery> m_slow;
    Counter *m_statements = nullptr;
    Counter *m_errors = nullptr;
    Counter *m_slowCounter = nullptr;
    Histogram *m_seconds = nullptr;
};

} // namespace bulwark
