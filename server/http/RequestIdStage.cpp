// SPDX-License-Identifier: GPL-3.0-or-later
// See RequestIdStage.h.
#include "RequestIdStage.h"

#include "ThreadRandom.h"

namespace bulwark {

bool RequestIdStage::isWellFormed(const QByteArray &id)
{
    if (id.isEmpty() || id.size() > 128)
        return false;
    for (char c : id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':';
        if (!ok)
            return false;
    }
    return true;
}

QByteArray RequestIdStage::generate()
{
    static constexpr char kHex[] = "0123456789abcdef";
    QByteArray id(32, Qt::Uninitialized);
    char *out = id.data();
    for (quint64 word : {threadRandom()(), threadRandom()()})
        for (int shift = 60; shift >= 0; shift -= 4)
            *out++ = kHex[(word >> shift) & 0xf];
    return id;
}

HttpResponse RequestIdStage::handle(RequestContext &ctx, const Next &next)
{
    const QByteArray given = ctx.request.header("x-request-id");
    ctx.requestId = isWellFormed(given) ? given : generate();
    HttpResponse response = next(ctx);
    response.setHeader(QByteArrayLiteral("X-Request-Id"), ctx.requestId);
    return response;
}

} // namespace bulwark
