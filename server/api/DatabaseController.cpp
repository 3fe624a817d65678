// SPDX-License-Identifier: GPL-3.0-or-later
// See DatabaseController.h.
#include "DatabaseController.h"

#include <QSqlError>
#include <QSqlQuery>

namespace bulwark {

void DatabaseController::registerRoutes(Router &router) const
{
    router.add("GET", QStringLiteral("/admin/api/db"),
               [this](RequestContext &) { return HttpResponse::json(status()).noStore(); });
}

QJsonObject DatabaseController::status() const
{
    const PoolStats s = m_pool.stats();
    return QJsonObject{
        {QStringLiteral("driver"), m_pool.dialect().name()},
        {QStringLiteral("schema_version"), m_schemaVersion},
        {QStringLiteral("pool"), QJsonObject{{QStringLiteral("max_size"), m_maxSize},
                                             {QStringLiteral("total"), s.total},
                                             {QStringLiteral("idle"), s.idle},
                                             {QStringLiteral("active"), s.active},
                                             {QStringLiteral("pending"), s.pending},
                                             {QStringLiteral("created"), double(s.created)},
                                             {QStringLiteral("closed"), double(s.closed)},
                                             {QStringLiteral("acquired"), double(s.acquired)},
                                             {QStringLiteral("timeouts"), double(s.timeouts)},
                                             {QStringLiteral("failures"), double(s.failures)},
                                             {QStringLiteral("reconnects"), double(s.reconnects)},
                                             {QStringLiteral("pings"), double(s.pings)},
                                             {QStringLiteral("leaks"), double(s.leaks)}}},
    };
}

ComponentHealth DatabaseController::check() const
{
    ComponentHealth health{QStringLiteral("database"), ComponentHealth::State::Up, QString(), true};
    auto lease = m_pool.acquire();
    if (!lease.ok()) {
        health.state = ComponentHealth::State::Down;
        health.detail = lease.error().message;
        return health;
    }
    bool alive = false;
    {
        QSqlQuery query(lease.value().database());
        alive = query.exec(m_pool.dialect().pingStatement());
        if (!alive)
            health.detail = query.lastError().text();
    }
    if (!alive) {
        health.state = ComponentHealth::State::Down;
        lease.value().discard(); // broken: the next check opens a fresh connection
    }
    return health;
}

} // namespace bulwark
