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
    "scenario, updated_at");

QString text(const SqlCell &c)
{
    return c.kind == SqlCell::Kind::Null ? QString() : QString::fromUtf8(c.text);
}

qint64 integer(const SqlCell &c)
{
    switch (c.kind) {
    case SqlCell::Kind::Integer: return c.integer;
    case SqlCell::Kind::Real: return qint64(c.real);
    case SqlCell::Kind::Text: return QByteArray(c.text.data(), c.text.size()).toLongLong();
    case SqlCell::Kind::Null: return 0;
    }
    return 0;
}

double real(const SqlCell &c)
{
    if (c.kind == SqlCell::Kind::Real)
        return c.real;
    if (c.kind == SqlCell::Kind::Text)
        return QByteArray(c.text.data(), c.text.size()).toDouble();
    return double(integer(c));
}

QJsonObject jsonObject(const SqlCell &c)
{
    if (c.kind != SqlCell::Kind::Text || c.text.isEmpty())
        return {};
    return QJsonDocument::fromJson(QByteArray(c.text.data(), c.text.size())).object();
}

QString jsonText(const QJsonObject &o)
{
    return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact));
}

// For NOT NULL text columns: a null QString would be bound as SQL NULL.
QString notNull(const QString &s)
{
    return s.isNull() ? QString(QLatin1String("")) : s;
}

// A row of "SELECT <kListColumns>[, report]".
LoadTestRunRow rowFrom(const SqlCell *c, int count)
{
    LoadTestRunRow r;
    r.id = text(c[0]);
    r.name = text(c[1]);
    r.target = text(c[2]);
    r.model = text(c[3]);
    r.status = text(c[4]);
    r.startedAtMs = integer(c[5]);
    r.durationMs = integer(c[6]);
    r.requests = integer(c[7]);
    r.failures = integer(c[8]);
    r.rps = real(c[9]);
    r.p95Ns = integer(c[10]);
    r.scenario = jsonObject(c[11]);
    r.updatedAtMs = integer(c[12]);
    if (count > 13)
        r.report = jsonObject(c[13]);
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
            ids.append(text(c[0]));
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

template <typename T, typename Body> Result<T> inWriteTransaction(SqlSession &sql, Body body)
{
    if (auto begun = sql.beginWrite(); !begun.ok())
        return begun.error();
    Result<T> outcome = body();
    if (!outcome.ok()) {
        sql.rollback();
        return outcome;
    }
    if (auto committed = sql.commit(); !committed.ok())
        return committed.error();
    return outcome;
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
                "duration_ms, requests, failures, rps, p95_ns, scenario, report, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name, target = excluded.target, "
                "model = excluded.model, status = excluded.status, "
                "started_at = excluded.started_at, duration_ms = excluded.duration_ms, "
                "requests = excluded.requests, failures = excluded.failures, "
                "rps = excluded.rps, p95_ns = excluded.p95_ns, scenario = excluded.scenario, "
                "report = excluded.report, updated_at = excluded.updated_at"),
            {row.id, notNull(row.name), notNull(row.target), notNull(row.model),
             notNull(row.status), row.startedAtMs, row.durationMs, row.requests, row.failures,
             row.rps, row.p95Ns, jsonText(row.scenario), jsonText(row.report), updatedAt});
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

Result<bool> LoadTestRunStore::saveProgress(const LoadTestRunRow &row)
{
    SqlSession sql(m_pool, m_insight);
    return inWriteTransaction<bool>(sql, [&]() -> Result<bool> {
        auto saved = sql.exec(
            QStringLiteral("UPDATE loadtest_runs SET duration_ms = ?, requests = ?, failures = ?, "
                           "rps = ?, p95_ns = ?, report = ?, updated_at = ? "
                           "WHERE id = ? AND status = 'running'"),
            {row.durationMs, row.requests, row.failures, row.rps, row.p95Ns,
             jsonText(row.report), QDateTime::currentMSecsSinceEpoch(), row.id});
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
                                   status = text(c[0]);
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
                               n = integer(c[0]);
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
