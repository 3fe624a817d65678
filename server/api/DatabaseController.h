// SPDX-License-Identifier: GPL-3.0-or-later
// GET /admin/api/db: the database driver, schema version, connection pool figures, the
// statements that took the most time, the slow-query log with plans, and index usage, for
// the console and for operators; POST /admin/api/db/maintenance runs ANALYZE or VACUUM;
// and the "database" health component.
// Index usage comes from pg_stat_user_indexes on PostgreSQL. SQLite keeps no usage
// counters, so there the list shows each index with its size estimate from sqlite_stat1
// (filled by ANALYZE) and scans as null.
#pragma once

#include "ConnectionPool.h"
#include "HealthRegistry.h"
#include "QueryInsight.h"
#include "Router.h"

namespace bulwark {

class DatabaseController
{
public:
    DatabaseController(ConnectionPool &pool, QueryInsight &insight, int schemaVersion, int maxSize)
        : m_pool(pool), m_insight(insight), m_schemaVersion(schemaVersion), m_maxSize(maxSize)
    {
    }
    void registerRoutes(Router &router) const;
    // Up when a pooled connection answers SELECT 1; Down with the reason otherwise.
    ComponentHealth check() const;
    QJsonObject status() const;

private:
    QJsonArray indexUsage() const;
    QJsonObject statements() const;
    QJsonObject acquireWait() const;
    QJsonArray slowQueries() const;
    HttpResponse maintenance(RequestContext &ctx) const;

    ConnectionPool &m_pool;
    QueryInsight &m_insight;
    int m_schemaVersion;
    int m_maxSize;
};

} // namespace bulwark
