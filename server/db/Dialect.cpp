// SPDX-License-Identifier: GPL-3.0-or-later
// See Dialect.h.
#include "Dialect.h"

#include <QSqlError>
#include <QSqlQuery>

namespace bulwark {

namespace {
bool runAll(QSqlDatabase &db, const QStringList &statements, QString *error)
{
    QSqlQuery query(db);
    for (const QString &sql : statements) {
        if (!query.exec(sql)) {
            *error = QStringLiteral("%1: %2").arg(sql, query.lastError().text());
            return false;
        }
    }
    return true;
}
} // namespace

SqliteDialect::SqliteDialect(QString path, std::chrono::milliseconds busyTimeout)
    : m_path(std::move(path)), m_busyTimeout(busyTimeout)
{
}

void SqliteDialect::configure(QSqlDatabase &db) const
{
    db.setDatabaseName(m_path);
    db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=%1").arg(m_busyTimeout.count()));
}

bool SqliteDialect::prepareSession(QSqlDatabase &db, QString *error) const
{
    // WAL: readers never wait for the writer; NORMAL is durable at every checkpoint and
    // safe against corruption in WAL mode; foreign keys are off by default in SQLite.
    // mmap: reads come straight from the OS page cache, shared by every connection,
    // instead of being copied into each connection's own page cache (the list benchmark
    // reads ~100 pages a request). 256 MiB of address space per connection, not memory.
    return runAll(
        db,
        {QStringLiteral("PRAGMA journal_mode=WAL"), QStringLiteral("PRAGMA synchronous=NORMAL"),
         QStringLiteral("PRAGMA foreign_keys=ON"), QStringLiteral("PRAGMA mmap_size=268435456")},
        error);
}

PostgresDialect::PostgresDialect(Params params) : m_params(std::move(params)) {}

void PostgresDialect::configure(QSqlDatabase &db) const
{
    db.setHostName(m_params.host);
    db.setPort(m_params.port);
    db.setDatabaseName(m_params.database);
    db.setUserName(m_params.user);
    db.setPassword(m_params.password);
    db.setConnectOptions(QStringLiteral("connect_timeout=%1").arg(m_params.connectTimeoutSeconds));
}

bool PostgresDialect::prepareSession(QSqlDatabase &db, QString *error) const
{
    return runAll(db, {QStringLiteral("SET TIME ZONE 'UTC'")}, error);
}

} // namespace bulwark
