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
    const quint64 words[2] = {threadRandom()(), threadRandom()()};
    return QByteArray(reinterpret_cast<const char *>(words), sizeof words).toHex();
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
