// SPDX-License-Identifier: GPL-3.0-or-later
// The rate limiter's admin API and health component:
//   GET  /admin/api/ratelimit              settings, rules with their statistics (allowed,
//                                          limited, near-limit, shadow-limited, store
//                                          errors), the most refused keys, the store
//   GET  /admin/api/ratelimit/rules        {"rules": [...]}
//   PUT  /admin/api/ratelimit/rules        {"rules": [...]}: validated as a whole and
//                                          applied at once, to the next request (422 with
//                                          the first bad field otherwise)
//   POST /admin/api/ratelimit/stats/reset  statistics and the refused-keys table to zero
// Rules set here live until the next restart or SIGHUP reload, which puts the configured
// rules back (the configuration file is the lasting place for them). Health "ratelimit": Degraded while a rule's Redis store is
// unavailable (ratelimit.on_redis_failure decides meanwhile), never Down.
#pragma once

#include "HealthRegistry.h"
#include "RateLimiter.h"
#include "Router.h"

#include <QJsonObject>

namespace bulwark {

class RateLimitController
{
public:
    explicit RateLimitController(RateLimiter &limiter) : m_limiter(limiter) {}
    void registerRoutes(Router &router);
    ComponentHealth check() const;
    QJsonObject status() const;

private:
    HttpResponse putRules(RequestContext &ctx);

    RateLimiter &m_limiter;
};

} // namespace bulwark
