// SPDX-License-Identifier: GPL-3.0-or-later
// See Router.h.
#include "Router.h"

#include "ErrorMapping.h"

namespace bulwark {

void Router::add(const QByteArray &method, const QString &pattern, Handler handler)
{
    if (!pattern.contains('{')) {
        Route &route = m_static[pattern];
        route.pattern = pattern;
        route.handlers[method] = std::move(handler);
        return;
    }
    for (Route &route : m_patterns) {
        if (route.pattern == pattern) {
            route.handlers[method] = std::move(handler);
            return;
        }
    }
    Route route;
    route.pattern = pattern;
    route.segments = pattern.split('/');
    route.handlers[method] = std::move(handler);
    m_patterns.append(std::move(route));
}

const Router::Route *Router::find(const QString &path, QHash<QString, QString> *params) const
{
    auto it = m_static.constFind(path);
    if (it != m_static.constEnd())
        return &it.value();
    if (m_patterns.isEmpty())
        return nullptr;
    const QStringList segments = path.split('/');
    for (const Route &route : m_patterns) {
        if (route.segments.size() != segments.size())
            continue;
        QHash<QString, QString> found;
        bool ok = true;
        for (qsizetype i = 0; i < segments.size() && ok; ++i) {
            const QString &want = route.segments[i];
            if (want.startsWith('{') && want.endsWith('}')) {
                if (segments[i].isEmpty())
                    ok = false;
                else
                    found.insert(want.mid(1, want.size() - 2), segments[i]);
            } else {
                ok = want == segments[i];
            }
        }
        if (ok) {
            *params = std::move(found);
            return &route;
        }
    }
    return nullptr;
}

QByteArray Router::allowHeader(const Route &route)
{
    QList<QByteArray> methods;
    for (const auto &[method, handler] : route.handlers) {
        methods.append(method);
        if (method == "GET" && !route.handlers.count("HEAD"))
            methods.append("HEAD");
    }
    if (!route.handlers.count("OPTIONS"))
        methods.append("OPTIONS");
    return methods.join(", ");
}

Router::Match Router::match(const QByteArray &method, const QString &path) const
{
    Match m;
    const Route *route = find(path, &m.params);
    if (!route)
        return m;
    m.pattern = route->pattern;
    auto it = route->handlers.find(method);
    if (it == route->handlers.end() && method == "HEAD")
        it = route->handlers.find("GET");
    if (it != route->handlers.end()) {
        m.kind = Match::Kind::Found;
        m.handler = &it->second;
        return m;
    }
    m.kind = Match::Kind::MethodNotAllowed;
    m.allow = allowHeader(*route);
    return m;
}

HttpResponse Router::dispatch(RequestContext &ctx) const
{
    Match m = match(ctx.request.method, ctx.request.path);
    switch (m.kind) {
    case Match::Kind::Found:
        ctx.routePattern = m.pattern;
        ctx.pathParams = std::move(m.params);
        return (*m.handler)(ctx);
    case Match::Kind::MethodNotAllowed: {
        ctx.routePattern = m.pattern;
        if (ctx.request.method == "OPTIONS") {
            HttpResponse response{204, {}, {}, {}};
            response.setHeader(QByteArrayLiteral("Allow"), m.allow);
            return response;
        }
        HttpResponse response =
            errorResponse(ErrorCode::MethodNotAllowed,
                          QStringLiteral("%1 is not allowed on %2")
                              .arg(QString::fromLatin1(ctx.request.method), m.pattern),
                          ctx.requestId);
        response.setHeader(QByteArrayLiteral("Allow"), m.allow);
        return response;
    }
    case Match::Kind::NotFound: break;
    }
    ctx.routePattern = QStringLiteral("unmatched");
    return errorResponse(ErrorCode::NotFound,
                         QStringLiteral("no route for %1").arg(ctx.request.path), ctx.requestId);
}

} // namespace bulwark
