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
    // Every response passes here: one scan of the headers for the names already set (a
    // handler's own Content-Security-Policy wins), then appends, instead of a case-insensitive
    // search per header.
    enum
    {
        Nosniff,
        Frame,
        Referrer,
        Csp,
        Hsts,
        Count
    };
    static const QByteArray names[Count] = {
        QByteArrayLiteral("X-Content-Type-Options"), QByteArrayLiteral("X-Frame-Options"),
        QByteArrayLiteral("Referrer-Policy"), QByteArrayLiteral("Content-Security-Policy"),
        QByteArrayLiteral("Strict-Transport-Security")};
    static const QByteArray values[Count] = {
        QByteArrayLiteral("nosniff"), QByteArrayLiteral("DENY"), QByteArrayLiteral("no-referrer"),
        QByteArrayLiteral("default-src 'none'; frame-ancestors 'none'"),
        QByteArrayLiteral("max-age=31536000; includeSubDomains")};
    bool present[Count] = {};
    for (const auto &[name, value] : response.headers)
        for (int i = 0; i < Count; ++i)
            if (name.size() == names[i].size() && name.compare(names[i], Qt::CaseInsensitive) == 0)
                present[i] = true;
    for (int i = 0; i < Count; ++i) {
        if (i == Hsts && !tls)
            continue;
        if (!present[i])
            response.headers.append({names[i], values[i]});
        else if (i != Csp)
            response.setHeader(names[i], values[i]);
    }
}

} // namespace bulwark
