// SPDX-License-Identifier: GPL-3.0-or-later
// See LoadTestRunStore.h. A prefix is matched with substr(id, 1, n) = ?, which means the
// same on both databases (LIKE is case-insensitive on SQLite and needs escaping); it reads
// every id, which is fine for a table of runs that people start by hand.
#include "LoadTestRunStore.h"

#include "SqlSession.h"

#include <QDateTime>
#include <QJsonDocument>

namespace bulwark {

namespace {

const QString kListColumns = QStringLiteral(
    "id, name, target, model, status, started_at, duration_ms, requests, failures, rps, p95_ns, "
    "scenario, updated_at, job_id");

// For NOT NULL text columns: a null QString would be bound as SQL NULL.
QString notNull(const QString &s)
{
    return s.isNull() ? QString(QLatin1String("")) : s;
}

// A row of "SELECT <kListColumns>[, report]".
LoadTestRunRow rowFrom(const SqlCell *c, int count)
{
    LoadTestRunRow r;
    r.id = c[0].toText();
    r.name = c[1].toText();
    r.target = c[2].toText();
    r.model = c[3].toText();
    r.status = c[4].toText();
    r.startedAtMs = c[5].toInteger();
    r.durationMs = c[6].toInteger();
    r.requests = c[7].toInteger();
    r.failures = c[8].toInteger();
    r.rps = c[9].toReal();
    r.p95Ns = c[10].toInteger();
    r.scenario = c[11].toJsonObject();
    r.updatedAtMs = c[12].toInteger();
    r.jobId = c[13].toInteger();
    if (count > 14)
        r.report = c[14].toJsonObject();
    return r;
}

// The full id of the run `idOrPrefix` names (see the header for the rules).
Result<QString> resolveId(SqlSession &sql, const QString &idOrPrefix)
{
    bool exact = false;
    auto found = sql.select(QStringLiteral("SELECT id FROM loadtest_runs WHERE id = ?"),
                            {idOrPrefix}, [&exact](const SqlCell *, int) {
                                exact = true;
                                return false;
                            });
    if (!found.ok())
        return found.error();
    if (exact)
        return idOrPrefix;
    if (idOrPrefix.size() < LoadTestRunStore::kMinPrefix)
        return Error{ErrorCode::NotFound,
                     QStringLiteral("no load-test run \"%1\" (a prefix of an id needs at least "
                                    "%2 characters)")
                         .arg(idOrPrefix)
                         .arg(LoadTestRunStore::kMinPrefix)};
    QStringList ids;
    // The length is a number of our own, not request data.
    auto matches = sql.select(
        QStringLiteral("SELECT id FROM loadtest_runs WHERE substr(id, 1, %1) = ? ORDER BY id "
                       "LIMIT 2")
            .arg(idOrPrefix.size()),
        {idOrPrefix}, [&ids](const SqlCell *c, int) {
            ids.append(c[0].toText());
            return true;
        });
    if (!matches.ok())
        return matches.error();
    if (ids.isEmpty())
        return Error{ErrorCode::NotFound,
                     QStringLiteral("no load-test run \"%1\"").arg(idOrPrefix)};
    if (ids.size() > 1)
        return Error{ErrorCode::BadRequest,
                     QStringLiteral("\"%1\" is the start of several load-test runs (%2, ...); "
                                    "give more of the id")
                         .arg(idOrPrefix, ids.join(QStringLiteral(", ")))};
    return ids.first();
}

} // namespace

Result<bool> LoadTestRunStore::save(const LoadTestRunRow &row)
{
    if (row.id.isEmpty())
        return Error{ErrorCode::Unprocessable, QStringLiteral("a load-test run needs an id")};
    const qint64 updatedAt =
        row.updatedAtMs ? row.updatedAtMs : QDateTime::currentMSecsSinceEpoch();
    SqlSession sql(m_pool, m_insight);
    return inWriteTransaction<bool>(sql, [&]() -> Result<bool> {
        auto saved = sql.exec(
            QStringLiteral(
                "INSERT INTO loadtest_runs (id, name, target, model, status, started_at, "
                "duration_ms, requests, failures, rps, p95_ns, scenario, report, updated_at, "
                "job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name, target = excluded.target, "
                "model = excluded.model, status = excluded.status, "
                "started_at = excluded.started_at, duration_ms = excluded.duration_ms, "
                "requests = excluded.requests, failures = excluded.failures, "
                "rps = excluded.rps, p95_ns = excluded.p95_ns, scenario = excluded.scenario, "
                "report = excluded.report, updated_at = excluded.updated_at, "
                "job_id = CASE WHEN excluded.job_id <> 0 THEN excluded.job_id "
                "ELSE loadtest_runs.job_id END"),
            {row.id, notNull(row.name), notNull(row.target), notNull(row.model),
             notNull(row.status), row.startedAtMs, row.durationMs, row.requests, row.failures,
             row.rps, row.p95Ns, jsonColumnText(row.scenario), jsonColumnText(row.report), updatedAt,
             row.jobId});
        if (!saved.ok())
            return saved.error();
        return true;
    });
}

Result<LoadTestRunRow> LoadTestRunStore::get(const QString &idOrPrefix)
{
    SqlSession sql(m_pool, m_insight);
    const auto id = resolveId(sql, idOrPrefix);
    if (!id.ok())
        return id.error();
    std::optional<LoadTestRunRow> found;
    auto rows = sql.select(
        QStringLiteral("SELECT %1, report FROM loadtest_runs WHERE id = ?").arg(kListColumns),
        {id.value()}, [&found](const SqlCell *c, int count) {
            found = rowFrom(c, count);
            return false;
        });
    if (!rows.ok())
        return rows.error();
    if (!found) // removed between the two statements
        return Error{ErrorCode::NotFound,
                     QStringLiteral("no load-test run \"%1\"").arg(idOrPrefix)};
    return *found;
}

Result<QList<LoadTestRunRow>> LoadTestRunStore::list(int limit, int offset)
{
    SqlSession sql(m_pool, m_insight);
    QList<LoadTestRunRow> out;
    auto rows =
        sql.select(QStringLiteral("SELECT %1 FROM loadtest_runs ORDER BY started_at DESC, id DESC "
                                  "LIMIT ? OFFSET ?")
                       .arg(kListColumns),
                   {std::max(limit, 0), std::max(offset, 0)}, [&out](const SqlCell *c, int count) {
                       out.append(rowFrom(c, count));
                       return true;
                   });
    if (!rows.ok())
        return rows.error();
    return out;
}

Result<bool> LoadTestRunStore::begin(const LoadTestRunRow &row, QString *statusFound)
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    SqlSession sql(m_pool, m_insight);
    return inWriteTransaction<bool>(sql, [&]() -> Result<bool> {
        // queued -> running in one statement: a stop that set "stopping" first wins.
        auto updated = sql.exec(
            QStringLiteral("UPDATE loadtest_runs SET name = ?, target = ?, model = ?, "
                           "status = 'running', started_at = ?, scenario = ?, report = ?, "
                           "updated_at = ?, job_id = CASE WHEN ? <> 0 THEN ? ELSE job_id END "
                           "WHERE id = ? AND status = 'queued'"),
            {notNull(row.name), notNull(row.target), notNull(row.model), row.startedAtMs,
             jsonColumnText(row.scenario), jsonColumnText(row.report), now, row.jobId, row.jobId,
             row.id});
        if (!updated.ok())
            return updated.error();
        if (updated.value()->numRowsAffected() == 1)
            return true;
        // No queued row: a run started without one (a job submitted directly) gets one now;
        // an existing row is stopping or has ended.
        auto inserted = sql.exec(
            QStringLiteral("INSERT INTO loadtest_runs (id, name, target, model, status, "
                           "started_at, scenario, report, updated_at, job_id) VALUES (?, ?, ?, "
                           "?, 'running', ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"),
            {row.id, notNull(row.name), notNull(row.target), notNull(row.model), row.startedAtMs,
             jsonColumnText(row.scenario), jsonColumnText(row.report), now, row.jobId});
        if (!inserted.ok())
            return inserted.error();
        if (inserted.value()->numRowsAffected() == 1)
            return true;
        auto read = sql.select(QStringLiteral("SELECT status FROM loadtest_runs WHERE id = ?"),
                               {row.id}, [statusFound](const SqlCell *c, int) {
                                   if (statusFound)
                                       *statusFound = c[0].toText();
                                   return false;
                               });
        if (!read.ok())
            return read.error();
        return false;
    });
}

Result<bool> LoadTestRunStore::setJobId(const QString &id, qint64 jobId)
{
    SqlSession sql(m_pool, m_insight);
    return inWriteTransaction<bool>(sql, [&]() -> Result<bool> {
        auto updated = sql.exec(QStringLiteral("UPDATE loadtest_runs SET job_id = ? WHERE id = ?"),
                                {jobId, id});
        if (!updated.ok())
            return updated.error();
        return updated.value()->numRowsAffected() == 1;
    });
}

Result<bool> LoadTestRunStore::saveProgress(const LoadTestRunRow &row)
{
    SqlSession sql(m_pool, m_insight);
    return inWriteTransaction<bool>(sql, [&]() -> Result<bool> {
        auto saved = sql.exec(
            QStringLiteral("UPDATE loadtest_runs SET duration_ms = ?, requests = ?, failures = ?, "
                           "rps = ?, p95_ns = ?, report = ?, updated_at = ? "
                           "WHERE id = ? AND status = 'running'"),
            {row.durationMs, row.requests, row.failures, row.rps, row.p95Ns,
             jsonColumnText(row.report), QDateTime::currentMSecsSinceEpoch(), row.id});
        if (!saved.ok())
            return saved.error();
        return saved.value()->numRowsAffected() == 1;
    });
}

Result<QString> LoadTestRunStore::requestStop(const QString &idOrPrefix)
{
    SqlSession sql(m_pool, m_insight);
    return inWriteTransaction<QString>(sql, [&]() -> Result<QString> {
        const auto id = resolveId(sql, idOrPrefix);
        if (!id.ok())
            return id.error();
        auto updated = sql.exec(QStringLiteral("UPDATE loadtest_runs SET status = 'stopping', "
                                               "updated_at = ? WHERE id = ? AND status IN "
                                               "('queued', 'running')"),
                                {QDateTime::currentMSecsSinceEpoch(), id.value()});
        if (!updated.ok())
            return updated.error();
        if (updated.value()->numRowsAffected() == 1)
            return id.value();
        QString status;
        auto read = sql.select(QStringLiteral("SELECT status FROM loadtest_runs WHERE id = ?"),
                               {id.value()}, [&status](const SqlCell *c, int) {
                                   status = c[0].toText();
                                   return false;
                               });
        if (!read.ok())
            return read.error();
        if (status == QStringLiteral("stopping"))
            return id.value(); // asked before: the same answer
        return Error{ErrorCode::Conflict,
                     QStringLiteral("load-test run %1 has already ended (%2)").arg(id.value(), status)};
    });
}

Result<qint64> LoadTestRunStore::count()
{
    SqlSession sql(m_pool, m_insight);
    qint64 n = 0;
    auto rows = sql.select(QStringLiteral("SELECT COUNT(*) FROM loadtest_runs"), {},
                           [&n](const SqlCell *c, int) {
                               n = c[0].toInteger();
                               return false;
                           });
    if (!rows.ok())
        return rows.error();
    return n;
}

Result<QString> LoadTestRunStore::remove(const QString &idOrPrefix)
{
    SqlSession sql(m_pool, m_insight);
    return inWriteTransaction<QString>(sql, [&]() -> Result<QString> {
        const auto id = resolveId(sql, idOrPrefix);
        if (!id.ok())
            return id.error();
        auto removed =
            sql.exec(QStringLiteral("DELETE FROM loadtest_runs WHERE id = ?"), {id.value()});
        if (!removed.ok())
            return removed.error();
        return id.value();
    });
}

} // namespace bulwark
