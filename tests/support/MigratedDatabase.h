// SPDX-License-Identifier: GPL-3.0-or-later
// What the store tests start from: Bulwark's own tables, migrated, through the pool the
// store will use. On PostgreSQL (the harness's server, shared by the tests of one
// executable) the public schema is dropped and made again first, so every test starts
// empty; SQLite tests get a new file each instead. Header-only, like the rest of
// tests/support.
#pragma once

#include "ConnectionPool.h"
#include "Dialect.h"
#include "InternalSchema.h"
#include "Migrator.h"

#include <QSqlError>
#include <QSqlQuery>
#include <QString>

namespace bulwark::test {

// Empty on success, else what went wrong.
inline QString migrateInternalTables(ConnectionPool &pool, const Dialect &dialect)
{
    auto lease = pool.acquire();
    if (!lease.ok())
        return lease.error().message;
    QSqlDatabase db = lease.value().database();
    if (dialect.name() == QStringLiteral("postgres")) {
        QSqlQuery q(db);
        // (client_min_messages: no NOTICE per dropped table.)
        for (const char *statement : {"SET client_min_messages = warning",
                                      "DROP SCHEMA public CASCADE", "CREATE SCHEMA public"})
            if (!q.exec(QLatin1String(statement)))
                return QStringLiteral("%1: %2").arg(QLatin1String(statement), q.lastError().text());
    }
    const auto migrated = Migrator(dialect, internalMigrations()).migrate(db);
    return migrated.ok() ? QString() : migrated.error().message;
}

} // namespace bulwark::test
