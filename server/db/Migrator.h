// SPDX-License-Identifier: GPL-3.0-or-later
// Versioned schema migrations for Bulwark's internal tables (users, API keys, audit log,
// jobs, ...). Each migration has a version, a description and the statements for a
// dialect; migrate() applies the pending ones in order, each in its own transaction
// together with its row in schema_migrations, so a migration is either fully applied and
// recorded or not at all, and is never run twice. The transaction holds a database-wide
// lock (SQLite's write lock, a PostgreSQL advisory lock) and re-reads the version under
// it, so several instances starting at once apply each migration exactly once. A
// database whose version is newer than the newest migration known is refused: an older
// Bulwark must not run on a newer schema.
#pragma once

#include "Dialect.h"
#include "Error.h"

#include <QList>
#include <QSqlDatabase>
#include <QStringList>
#include <functional>

namespace bulwark {

struct Migration
{
    int version = 0;
    QString description;
    std::function<QStringList(const Dialect &)> statements;
};

class Migrator
{
public:
    // Versions must be positive and unique; they are applied in ascending order.
    Migrator(const Dialect &dialect, QList<Migration> migrations);

    struct Outcome
    {
        int from = 0;
        int to = 0;
        QList<int> applied;
    };
    Result<Outcome> migrate(QSqlDatabase &db) const;
    // 0 when nothing was ever applied.
    Result<int> currentVersion(QSqlDatabase &db) const;
    int latestVersion() const { return m_migrations.isEmpty() ? 0 : m_migrations.last().version; }

private:
    bool ensureTable(QSqlDatabase &db, QString *error) const;

    const Dialect &m_dialect;
    QList<Migration> m_migrations;
};

} // namespace bulwark
