// SPDX-License-Identifier: GPL-3.0-or-later
// Maps (method, path) to a handler. Static paths are one hash lookup; patterns with
// {name} segments are matched segment by segment (Qt 6.4's router tries a list of regular
// expressions in turn). A path that exists with other methods answers 405 with Allow, and
// OPTIONS answers 204 with Allow; HEAD is served by the GET handler (the writer drops the
// body). Routes are registered before the server starts and never change afterwards, so
// lookups take no lock.
#pragma once

#include "HttpRequest.h"
#include "HttpResponse.h"

#include <QHash>
#include <QStringList>
#include <functional>
#include <map>

namespace bulwark {

using Handler = std::function<HttpResponse(RequestContext &)>;

class Router
{
public:
    void add(const QByteArray &method, const QString &pattern, Handler handler);

    struct Match
    {
        enum class Kind
        {
            Found,
            NotFound,
            MethodNotAllowed
        };
        Kind kind = Kind::NotFound;
        const Handler *handler = nullptr;
        QString pattern;
        QHash<QString, QString> params;
        QByteArray allow; // for MethodNotAllowed and OPTIONS, e.g. "GET, HEAD, OPTIONS"
    };
    Match match(const QByteArray &method, const QString &path) const;

    // Runs the matched handler or answers 404/405/OPTIONS; sets ctx.routePattern.
    HttpResponse dispatch(RequestContext &ctx) const;

private:
    struct Route
    {
        QString pattern;
        QStringList segments;                   // for patterns with parameters
        std::map<QByteArray, Handler> handlers; // method -> handler
    };
    const Route *find(const QString &path, QHash<QString, QString> *params) const;
    static QByteArray allowHeader(const Route &route);

    QHash<QString, Route> m_static;
    QList<Route> m_patterns;
};

} // namespace bulwark
