// SPDX-License-Identifier: GPL-3.0-or-later
// The rate-limit rules as configuration and the admin API write them: parsing with a
// message per bad field ("[2].limit: must be an integer from 1 to 1000000000"), the JSON
// form GET /admin/api/ratelimit/rules returns, and the defaults. Kept in core, with no
// dependency on the limiter, so that the configuration loader validates ratelimit.rules
// exactly as PUT /admin/api/ratelimit/rules does (one parser for both).
//
// A rule in JSON:
//   {"name": "login", "route": "/api/v1/auth/login", "methods": ["POST"], "scope": ["ip"],
//    "algorithm": "sliding_log", "limit": 5, "window": "1h", "burst": 0, "shadow": false,
//    "store": "redis"}
// Only name, limit and window are required; route defaults to "/**" (every path), methods
// to every method, scope to ["ip"], algorithm to "sliding_counter", store to
// ratelimit.store.
#pragma once

#include "Config.h"
#include "Error.h"

#include <QJsonArray>
#include <QStringList>

namespace bulwark {

// The algorithm names ratelimit/RateLimitAlgorithm knows, in its enum's order.
const QStringList &rateLimitAlgorithmNames();
// The scopes, in the order a rule's key lists them.
const QStringList &rateLimitScopeNames();

// Every rule valid, names unique; the error names the first bad item and field.
Result<QList<RateLimitRuleConfig>> parseRateLimitRules(const QJsonArray &items);
QJsonArray rateLimitRulesToJson(const QList<RateLimitRuleConfig> &rules);
// A window as rules write it: "1h", "1m", "30s" or "250ms" (the largest whole unit).
QString rateLimitWindowText(Milliseconds window);

} // namespace bulwark
