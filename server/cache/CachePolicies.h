// SPDX-License-Identifier: GPL-3.0-or-later
// Which requests the response cache stores, for how long, and under which key
// (cache.routes). A policy's route is a path pattern whose {name} segments match any one
// segment; the first policy that matches a path wins, so specific routes go first.
//
// The key: the path; then, if the policy varies on the query, the query string with its
// parameters sorted (so ?a=1&b=2 and ?b=2&a=1 share an entry); then the user id for any
// authenticated request, whatever the policy says (one user's response must never reach
// another); then each listed header's value. A key longer than kMaxKeyLength keeps its
// path (so prefix invalidation by path still finds it) and replaces the rest with its
// SHA-256.
#pragma once

#include "Config.h"
#include "HttpRequest.h"
#include "RoutePattern.h"

#include <QByteArray>
#include <QHash>
#include <QList>
#include <optional>

namespace bulwark {

class CachePolicies
{
public:
    static constexpr qsizetype kMaxKeyLength = 200;

    explicit CachePolicies(QList<CacheRouteConfig> routes);

    // The first policy whose route matches the path, or null.
    const CacheRouteConfig *match(const QString &path) const;
    static QByteArray key(const CacheRouteConfig &policy, const HttpRequest &request,
                          const std::optional<qint64> &userId);
    static QByteArray normalisedQuery(QByteArrayView rawQuery);

private:
    struct Compiled
    {
        CacheRouteConfig policy;
        RoutePattern pattern;
    };
    QList<Compiled> m_routes;
};

} // namespace bulwark
