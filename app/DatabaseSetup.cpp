// SPDX-License-Identifier: GPL-3.0-or-later
// See DatabaseSetup.h.
#include "DatabaseSetup.h"

#include "InternalSchema.h"
#include "Migrator.h"
#include "SchemaSync.h"

#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>

namespace bulwark {

Result<QString> resolveDataDir(const ServerConfig &config)
{
    QString dir = config.dataDir;
    if (dir.isEmpty())
        dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    dir = QFileInfo(dir).absoluteFilePath();
    if (!QDir().mkpath(dir))
        return Error{ErrorCode::Internal,
                     QStringLiteral("server.data_dir: cannot create %1").arg(dir)};
    return dir;
}

Result<CollectionSchema, QStringList> loadSchema(const DbConfig &config)
{
    return CollectionSchema::load(
        config.schema.isEmpty() ? QStringLiteral(":/bulwark/demo-schema.json") : config.schema);
}

Result<DatabaseSetup> openDatabase(const DbConfig &c, const QString &dataDir, const Clock &clock,
                                   MetricsRegistry *metrics, bool allowDestructiveSchema)
{
    auto schema = loadSchema(c);
    if (!schema.ok())
        return Error{ErrorCode::BadRequest, schema.error().join(u'\n')};
    DatabaseSetup setup;
    setup.schema = std::make_shared<const CollectionSchema>(std::move(schema.value()));
    std::shared_ptr<Dialect> dialect;
    if (c.driver == DbDriver::Sqlite) {
        const QString path = c.sqlitePath.isEmpty()
                                 ? QDir(dataDir).filePath(QStringLiteral("bulwark.db"))
                                 : c.sqlitePath;
        dialect = std::make_shared<SqliteDialect>(path, c.sqliteBusyTimeout);
        setup.description = QStringLiteral("sqlite %1").arg(path);
    } else {
        PostgresDialect::Params params;
        params.host = c.postgresHost;
        params.port = c.postgresPort;
        params.database = c.postgresName;
        params.user = c.postgresUser;
        params.password = c.postgresPassword;
        params.connectTimeoutSeconds =
            int(qMax<qint64>(1, c.postgresConnectTimeout.count() / 1000));
        dialect = std::make_shared<PostgresDialect>(params);
        setup.description = QStringLiteral("postgres %1:%2/%3")
                                .arg(c.postgresHost)
                                .arg(c.postgresPort)
                                .arg(c.postgresName);
    }
    PoolOptions options;
    options.maxSize = c.poolMaxSize;
    options.minIdle = c.poolMinIdle;
    options.acquireTimeout = c.poolAcquireTimeout;
    options.idleTimeout = c.poolIdleTimeout;
    options.maxLifetime = c.poolMaxLifetime;
    options.pingAfterIdle = c.poolPingAfterIdle;
    options.leakThreshold = c.poolLeakThreshold;
    setup.dialect = dialect;
    setup.pool = std::make_unique<ConnectionPool>(dialect, options, clock, metrics);

    {
        auto lease = setup.pool->acquire();
        if (!lease.ok())
            return Error{
                ErrorCode::Unavailable,
                QStringLiteral("database (%1): %2").arg(setup.description, lease.error().message)};
        QSqlDatabase db = lease.value().database();
        const auto outcome = Migrator(*dialect, internalMigrations()).migrate(db);
        if (!outcome.ok())
            return Error{outcome.error().code,
                         QStringLiteral("database (%1): %2")
                             .arg(setup.description, outcome.error().message)};
        setup.schemaVersion = outcome.value().to;
        if (!outcome.value().applied.isEmpty())
            qInfo("database %s: schema migrated from version %d to %d",
                  qPrintable(setup.description), outcome.value().from, outcome.value().to);
        const auto synced = SchemaSync(*dialect, *setup.schema).apply(db, allowDestructiveSchema);
        if (!synced.ok())
            return Error{
                synced.error().code,
                QStringLiteral("database (%1): %2").arg(setup.description, synced.error().message)};
        setup.schemaChanges = synced.value().applied;
        for (const QString &change : std::as_const(setup.schemaChanges))
            qInfo("database %s: %s", qPrintable(setup.description), qPrintable(change));
    }
    // The calling thread (main) serves no requests: do not keep its connection open.
    setup.pool->closeThreadConnections();
    return setup;
}

} // namespace bulwark
