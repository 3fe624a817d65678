// SPDX-License-Identifier: GPL-3.0-or-later
// See SecurityHeadersStage.h.
#include "SecurityHeadersStage.h"

namespace bulwark {

HttpResponse SecurityHeadersStage::handle(RequestContext &ctx, const Next &next)
{
    HttpResponse response = next(ctx);
    apply(response, m_tls);
    return response;
}

void SecurityHeadersStage::apply(HttpResponse &response, bool tls)
{
    response.setHeader(QByteArrayLiteral("X-Content-Type-Options"), QByteArrayLiteral("nosniff"));
    response.setHeader(QByteArrayLiteral("X-Frame-Options"), QByteArrayLiteral("DENY"));
    response.setHeader(QByteArrayLiteral("Referrer-Policy"), QByteArrayLiteral("no-referrer"));
    if (response.header("Content-Security-Policy").isEmpty())
        response.setHeader(QByteArrayLiteral("Content-Security-Policy"),
                           QByteArrayLiteral("default-src 'none'; frame-ancestors 'none'"));
    if (tls)
        response.setHeader(QByteArrayLiteral("Strict-Transport-Security"),
                           QByteArrayLiteral("max-age=31536000; includeSubDomains"));
}

} // namespace bulwark
