// SPDX-License-Identifier: GPL-3.0-or-later
// The GDPR rights of access and erasure:
//   GET    /api/v1/me/export    everything the caller owns, as one JSON document
//   DELETE /api/v1/me           delete the caller's account and everything it owns
//   DELETE /api/v1/users/{id}   the same, by an admin, for any account
// Erasure runs in one write transaction: owned rows children first (following the
// schema's references), then the account's jobs, keys, the account, then an audit record that says what
// happened and how many rows went, without the person's data or id.
// The export is one read transaction (a consistent snapshot), built in memory. GET
// answers it inline; for large accounts POST /api/v1/me/export runs the same export as a
// gdpr.export job that writes it to a file downloaded once (JobsController).
#pragma once

#include "CollectionStore.h"
#include "EventBus.h"
#include "QueryInsight.h"
#include "Router.h"
#include "UserStore.h"

namespace bulwark {

class GdprController
{
public:
    GdprController(const CollectionStore &store, UserStore &users, ConnectionPool &pool,
                   QueryInsight &insight)
        : m_store(store), m_users(users), m_pool(pool), m_insight(insight)
    {
    }
    void registerRoutes(Router &router) const;
    // Erasures are announced as user.deleted ({"user_id", "by", "rows_deleted"}).
    void setEvents(EventBus *events) { m_events = events; }
    // Where gdpr.export jobs write their files: an erasure deletes the account's jobs and
    // the export files they name.
    void setExportDir(QString dir) { m_exportDir = std::move(dir); }
    // The export document of `userId`, from one read transaction.
    Result<QByteArray> buildExport(qint64 userId) const;
    Result<bool> accountExists(qint64 userId) const;

private:
    HttpResponse exportData(RequestContext &ctx) const;
    HttpResponse erase(RequestContext &ctx, qint64 userId, const QString &actor) const;

    const CollectionStore &m_store;
    UserStore &m_users;
    ConnectionPool &m_pool;
    QueryInsight &m_insight;
    EventBus *m_events = nullptr;
    QString m_exportDir;
};

} // namespace bulwark
