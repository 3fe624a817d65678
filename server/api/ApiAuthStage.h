// SPDX-License-Identifier: GPL-3.0-or-later
// Authenticates the data API: every request under /api/v1/ (except the login and the
// registration: /api/v1/auth/login and /api/v1/auth/register, whatever the method)
// carries "Authorization: Bearer <API key>"; the key's user becomes the request's
// principal. Lookups go through UserStore's short-lived cache, so a busy API does not
// query the database for every request; a revoked key or disabled user stops working
// within that cache's TTL (5 s), at once in the process that made the change.
#pragma once

#include "Pipeline.h"
#include "UserStore.h"

namespace bulwark {

class ApiAuthStage final : public Stage
{
public:
    ApiAuthStage(QString prefix, QStringList publicPaths, UserStore &users)
        : m_prefix(std::move(prefix)), m_public(std::move(publicPaths)), m_users(users)
    {
    }
    HttpResponse handle(RequestContext &ctx, const Next &next) override;

private:
    QString m_prefix;
    QStringList m_public;
    UserStore &m_users;
};

} // namespace bulwark
