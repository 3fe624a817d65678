// SPDX-License-Identifier: GPL-3.0-or-later
// See BearerAuthStage.h.
#include "BearerAuthStage.h"

#include "Credentials.h"

#include "ErrorMapping.h"

namespace bulwark {

HttpResponse BearerAuthStage::handle(RequestContext &ctx, const Next &next)
{
    if (!ctx.request.path.startsWith(m_prefix))
        return next(ctx);
    const QByteArray auth = ctx.request.header("authorization");
    const bool bearer =
        auth.size() > 7 && auth.first(7).compare("bearer ", Qt::CaseInsensitive) == 0;
    if (bearer &&
        Credentials::constantTimeEquals(QByteArrayView(auth).sliced(7).trimmed(), m_token))
        return next(ctx);
    ctx.routePattern = m_prefix + QStringLiteral("*");
    HttpResponse response = errorResponse(
        ErrorCode::Unauthorized,
        bearer ? QStringLiteral("invalid admin token")
               : QStringLiteral("this endpoint needs Authorization: Bearer <admin token>"),
        ctx.requestId);
    response.setHeader(QByteArrayLiteral("WWW-Authenticate"),
                       QByteArrayLiteral("Bearer realm=\"bulwark-admin\""));
    return response;
}

} // namespace bulwark
