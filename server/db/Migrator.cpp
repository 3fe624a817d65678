// SPDX-License-Identifier: GPL-3.0-or-later
// See Migrator.h.
#include "Migrator.h"

#include <QDateTime>
#include <QSqlError>
#include <QSqlQuery>
#include <algorithm>

namespace bulwark {

namespace {
Error failure(const QString &message)
{
    return Error{ErrorCode::Internal, message};
}
} // namespace

Migrator::Migrator(const Dialect &dialect, QList<Migration> migrations)
    : m_dialect(dialect), m_migrations(std::move(migrations))
{
    std::sort(m_migrations.begin(), m_migrations.end(),
              [](const Migration &a, const Migration &b) { return a.version < b.version; });
    for (qsizetype i = 0; i < m_migrations.size(); ++i) {
        Q_ASSERT(m_migrations[i].version > 0);
        Q_ASSERT(i == 0 || m_migrations[i].version != m_migrations[i - 1].version);
    }
}

bool Migrator::ensureTable(QSqlDatabase &db, QString *error) const
{
    // Under the migration lock: PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe
    // against itself when two instances run it at the same moment.
    QSqlQuery q(db);
    for (const QString &sql : m_dialect.beginMigrationTransaction()) {
        if (!q.exec(sql)) {
            *error = q.lastError().text();
            q.exec(QStringLiteral("ROLLBACK"));
            return false;
        }
    }
    const QString sql = QStringLiteral("CREATE TABLE IF NOT EXISTS schema_migrations ("
                                       "version INTEGER PRIMARY KEY, "
                                       "description TEXT NOT NULL, "
                                       "applied_at %1 NOT NULL)")
                            .arg(m_dialect.timestampType());
    if (!q.exec(sql) || !q.exec(QStringLiteral("COMMIT"))) {
        *error = q.lastError().text();
        q.exec(QStringLiteral("ROLLBACK"));
        return false;
    }
    return true;
}

Result<int> Migrator::currentVersion(QSqlDatabase &db) const
{
    QString error;
    if (!ensureTable(db, &error))
        return failure(QStringLiteral("cannot create schema_migrations: %1").arg(error));
    QSqlQuery q(db);
    if (!q.exec(QStringLiteral("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")) ||
        !q.next())
        return failure(
            QStringLiteral("cannot read the schema version: %1").arg(q.lastError().text()));
    return q.value(0).toInt();
}

Result<Migrator::Outcome> Migrator::migrate(QSqlDatabase &db) const
{
    const auto start = currentVersion(db);
    if (!start)
        return start.error();
    Outcome outcome;
    outcome.from = outcome.to = start.value();
    if (outcome.from > latestVersion())
        return failure(
            QStringLiteral("the database schema is at version %1, newer than the newest this "
                           "Bulwark knows (%2); run a newer Bulwark")
                .arg(outcome.from)
                .arg(latestVersion()));
    for (const Migration &m : m_migrations) {
        if (m.version <= outcome.to)
            continue;
        QSqlQuery q(db);
        auto rollback = [&q] { q.exec(QStringLiteral("ROLLBACK")); };
        for (const QString &sql : m_dialect.beginMigrationTransaction()) {
            if (!q.exec(sql)) {
                const QString text = q.lastError().text();
                rollback();
                return failure(
                    QStringLiteral("migration %1: cannot start: %2").arg(m.version).arg(text));
            }
        }
        // Under the lock: another instance may have applied it meanwhile.
        if (!q.exec(QStringLiteral("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")) ||
            !q.next()) {
            const QString text = q.lastError().text();
            rollback();
            return failure(QStringLiteral("migration %1: cannot read the version: %2")
                               .arg(m.version)
                               .arg(text));
        }
        const int now = q.value(0).toInt();
        if (now >= m.version) {
            q.exec(QStringLiteral("COMMIT"));
            outcome.to = now;
            continue;
        }
        for (const QString &sql : m.statements(m_dialect)) {
            if (!q.exec(sql)) {
                const QString text = q.lastError().text();
                rollback();
                return failure(
                    QStringLiteral("migration %1 (%2) failed and was rolled back: %3\n  in: %4")
                        .arg(m.version)
                        .arg(m.description, text, sql));
            }
        }
        q.prepare(QStringLiteral(
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)"));
        q.addBindValue(m.version);
        q.addBindValue(m.description);
        q.addBindValue(QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs));
        if (!q.exec() || !q.exec(QStringLiteral("COMMIT"))) {
            const QString text = q.lastError().text();
            rollback();
            return failure(
                QStringLiteral("migration %1: cannot record it: %2").arg(m.version).arg(text));
        }
        outcome.applied.append(m.version);
        outcome.to = m.version;
    }
    return outcome;
}

} // namespace bulwark
