// SPDX-License-Identifier: GPL-3.0-or-later
// Accounts over HTTP:
//   POST /api/v1/auth/login   email + password -> a new API key valid for api.session_ttl
//                             (the only /api/ route that needs no key)
//   GET  /api/v1/me           the caller's account
//   POST /api/v1/auth/logout  revoke the API key this request came with
//   DELETE /api/v1/auth/keys/{id}  revoke one of the caller's API keys
// Login costs one PBKDF2 verification (600 000 iterations) on the worker thread, whether
// or not the email exists, so that timing does not tell which accounts exist.
#pragma once

#include "Router.h"
#include "UserStore.h"

namespace bulwark {

class AuthController
{
public:
    AuthController(UserStore &users, std::chrono::milliseconds sessionTtl)
        : m_users(users), m_sessionTtl(sessionTtl)
    {
    }
    void registerRoutes(Router &router) const;

private:
    HttpResponse login(RequestContext &ctx) const;
    HttpResponse me(RequestContext &ctx) const;
    HttpResponse revoke(RequestContext &ctx, qint64 keyId) const;

    UserStore &m_users;
    std::chrono::milliseconds m_sessionTtl;
};

} // namespace bulwark
