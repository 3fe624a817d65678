// SPDX-License-Identifier: GPL-3.0-or-later
// See ApiAuthStage.h.
#include "ApiAuthStage.h"

#include "ErrorMapping.h"
#include "SocketShutdown.h"

namespace bulwark {

HttpResponse ApiAuthStage::handle(RequestContext &ctx, const Next &next)
{
    if (!ctx.request.path.startsWith(m_prefix))
        return next(ctx);
    // Data requests cost database time. One whose client has already gone (a client that
    // timed out while the worker was busy) is not run: under overload this is what keeps a
    // backlog of abandoned slow requests from starving the live ones. Logged as 499, the
    // status nginx uses for it; nobody receives the response. (The check is one
    // non-blocking recv(MSG_PEEK). It cannot be skipped for requests that look fresh: a
    // request is stamped when the worker reads it, not when it arrived.)
    if (peerHasClosed(ctx.request.socketDescriptor)) {
        ctx.routePattern = m_prefix + QStringLiteral("*");
        HttpResponse gone =
            errorResponse(ErrorCode::BadRequest, QStringLiteral("the client closed the connection"),
                          ctx.requestId);
        gone.status = 499;
        return gone;
    }
    if (m_public.contains(ctx.request.path))
        return next(ctx);
    const QByteArray auth = ctx.request.header("authorization");
    const bool bearer =
        auth.size() > 7 && auth.first(7).compare("bearer ", Qt::CaseInsensitive) == 0;
    Error error{ErrorCode::Unauthorized,
                QStringLiteral("this endpoint needs Authorization: Bearer <API key>")};
    if (bearer) {
        auto principal = m_users.authenticateKey(QByteArrayView(auth).sliced(7).trimmed());
        if (principal.ok()) {
            ctx.principal = principal.value();
            return next(ctx);
        }
        error = principal.error();
    }
    ctx.routePattern = m_prefix + QStringLiteral("*");
    HttpResponse response = errorResponse(error, ctx.requestId);
    if (error.code == ErrorCode::Unauthorized)
        response.setHeader(QByteArrayLiteral("WWW-Authenticate"),
                           QByteArrayLiteral("Bearer realm=\"bulwark\""));
    return response;
}

} // namespace bulwark
