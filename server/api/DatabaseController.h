// SPDX-License-Identifier: GPL-3.0-or-later
// GET /admin/api/db: the database driver, schema version and connection pool figures, for
// the console and for operators; and the "database" health component.
#pragma once

#include "ConnectionPool.h"
#include "HealthRegistry.h"
#include "Router.h"

namespace bulwark {

class DatabaseController
{
public:
    DatabaseController(ConnectionPool &pool, int schemaVersion, int maxSize)
        : m_pool(pool), m_schemaVersion(schemaVersion), m_maxSize(maxSize)
    {
    }
    void registerRoutes(Router &router) const;
    // Up when a pooled connection answers SELECT 1; Down with the reason otherwise.
    ComponentHealth check() const;
    QJsonObject status() const;

private:
    ConnectionPool &m_pool;
    int m_schemaVersion;
    int m_maxSize;
};

} // namespace bulwark
