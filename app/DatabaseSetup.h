// SPDX-License-Identifier: GPL-3.0-or-later
// Opens Bulwark's database from the Config the same way for every mode (server, `user`,
// `seed`): resolves the data directory, builds the dialect and the pool, applies the
// internal migrations and brings the collection tables in line with the schema file. One
// path, so a command can never see a database the server would not.
#pragma once

#include "Clock.h"
#include "CollectionSchema.h"
#include "Config.h"
#include "ConnectionPool.h"
#include "Metrics.h"

#include <memory>

namespace bulwark {

// The data directory from the config (or the platform's app data location), made absolute
// and created. Errors name the key.
Result<QString> resolveDataDir(const ServerConfig &config);

struct DatabaseSetup
{
    std::shared_ptr<const Dialect> dialect;
    std::unique_ptr<ConnectionPool> pool;
    QString description; // "sqlite /path/bulwark.db", "postgres host:port/name"
    int schemaVersion = 0;
    std::shared_ptr<const CollectionSchema> schema;
    QStringList schemaChanges; // what SchemaSync applied on this start
};

// The schema file named by db.schema, or the built-in demo schema.
Result<CollectionSchema, QStringList> loadSchema(const DbConfig &config);

// Builds the pool, applies the internal migrations and syncs the collection tables with
// the schema, on the calling thread (whose connection is closed again before returning).
Result<DatabaseSetup> openDatabase(const DbConfig &config, const QString &dataDir,
                                   const Clock &clock, MetricsRegistry *metrics,
                                   bool allowDestructiveSchema = false);

} // namespace bulwark
