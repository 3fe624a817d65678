// SPDX-License-Identifier: GPL-3.0-or-later
// Accounts over HTTP:
//   POST /api/v1/auth/register  email + password (+ display_name) -> a new account with the
//                             role "user"; only when api.open_registration is on (403
//                             otherwise). Needs no key.
//   POST /api/v1/auth/login   email + password -> a new API key valid for api.session_ttl
//                             (with register, the only /api/ routes that need no key)
//   GET  /api/v1/me           the caller's account
//   POST /api/v1/auth/logout  revoke the API key this request came with
//   DELETE /api/v1/auth/keys/{id}  revoke one of the caller's API keys
// Login costs one PBKDF2 verification (600 000 iterations) on the worker thread, whether
// or not the email exists, so that timing does not tell which accounts exist.
// Registration validates with UserStore::checkNewUser, the same rules as `bulwark user add`,
// and costs one PBKDF2 hash, spent before the store looks for the email, so a taken email
// answers no faster than a new one. Its 409 does tell that an account exists: that is what
// open registration means; the rate limiter is what keeps it from being used as an oracle.
#pragma once

#include "Router.h"
#include "UserStore.h"

namespace bulwark {

class AuthController
{
public:
    AuthController(UserStore &users, std::chrono::milliseconds sessionTtl, bool openRegistration)
        : m_users(users), m_sessionTtl(sessionTtl), m_openRegistration(openRegistration)
    {
    }
    void registerRoutes(Router &router) const;

private:
    HttpResponse registerUser(RequestContext &ctx) const;
    HttpResponse login(RequestContext &ctx) const;
    HttpResponse me(RequestContext &ctx) const;
    HttpResponse revoke(RequestContext &ctx, qint64 keyId) const;

    UserStore &m_users;
    std::chrono::milliseconds m_sessionTtl;
    // api.open_registration: the route always exists (and is public), but answers 403 unless
    // this is set, so a client can tell "closed" from "not this server".
    bool m_openRegistration = false;
};

} // namespace bulwark
