// SPDX-License-Identifier: GPL-3.0-or-later
// Accounts over HTTP, and the GDPR rights of access and erasure:
//   POST   /api/v1/auth/login   email + password -> a new API key valid for
//                               api.session_ttl (the only route without a key)
//   GET    /api/v1/me           the caller's account
//   GET    /api/v1/me/export    everything the caller owns, as one JSON document
//   DELETE /api/v1/me           delete the caller's account and everything it owns
//   DELETE /api/v1/users/{id}   the same, by an admin, for any account
// Erasure runs in one write transaction: owned rows children first (following the
// schema's references), then keys, then the account, then an audit record that says what
// happened and how many rows went, without the person's data or id.
// The export is built in memory and answered inline: it is bounded by what one user
// owns. Moving large exports to a background job waits for the job queue (step 4).
#pragma once

#include "CollectionStore.h"
#include "QueryInsight.h"
#include "Router.h"
#include "UserStore.h"

namespace bulwark {

class AccountController
{
public:
    AccountController(const CollectionStore &store, UserStore &users, ConnectionPool &pool,
                      QueryInsight &insight, std::chrono::milliseconds sessionTtl);
    void registerRoutes(Router &router) const;

private:
    HttpResponse login(RequestContext &ctx) const;
    HttpResponse me(RequestContext &ctx) const;
    HttpResponse exportData(RequestContext &ctx) const;
    HttpResponse erase(RequestContext &ctx, qint64 userId, const QString &actor) const;

    const CollectionStore &m_store;
    UserStore &m_users;
    ConnectionPool &m_pool;
    QueryInsight &m_insight;
    std::chrono::milliseconds m_sessionTtl;
};

} // namespace bulwark
