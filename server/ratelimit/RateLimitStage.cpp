// SPDX-License-Identifier: GPL-3.0-or-later
// See RateLimitStage.h.
#include "RateLimitStage.h"

#include "ErrorMapping.h"

namespace bulwark {

RateLimitStage::RateLimitStage(RateLimiter &limiter, BatchOperations batchOperations,
                               EventBus *events)
    : m_limiter(limiter), m_batchOperations(std::move(batchOperations)), m_events(events)
{
}

HttpResponse RateLimitStage::handle(RequestContext &ctx, const Next &next)
{
    std::optional<QList<RateLimitOperation>> operations;
    if (m_batchOperations && !ctx.request.body.isEmpty())
        operations = m_batchOperations(ctx.request);
    const RateLimitQuery query{ctx.request, ctx.principal ? &*ctx.principal : nullptr,
                               operations ? &*operations : nullptr};
    RateLimitVerdict verdict = m_limiter.check(query);
    if (!verdict.allowed) {
        // The router did not run: the rule's route labels the request in the metrics.
        ctx.routePattern = verdict.route;
        QJsonObject details{{QStringLiteral("rule"), verdict.rule}};
        if (verdict.retryAfterSeconds > 0)
            details.insert(QStringLiteral("retry_after"), double(verdict.retryAfterSeconds));
        HttpResponse refused =
            errorResponse(Error{verdict.code, verdict.message, details}, ctx.requestId);
        // None for a request that can never pass (a batch above a rule's capacity).
        if (verdict.retryAfterSeconds > 0)
            refused.setHeader(QByteArrayLiteral("Retry-After"),
                              QByteArray::number(verdict.retryAfterSeconds));
        refused.headerLines = std::move(verdict.headerLines);
        if (m_events && m_events->hasSubscribers(QStringLiteral("ratelimit.exceeded")))
            m_events->emitEvent(QStringLiteral("ratelimit.exceeded"),
                                QJsonObject{{QStringLiteral("rule"), verdict.rule},
                                            {QStringLiteral("method"),
                                             QString::fromLatin1(ctx.request.method)},
                                            {QStringLiteral("path"), ctx.request.path},
                                            {QStringLiteral("user_id"),
                                             ctx.principal ? QJsonValue(double(ctx.principal->userId))
                                                           : QJsonValue()}});
        return refused;
    }
    HttpResponse response = next(ctx);
    // Added to whatever lines a later stage may have set (none does today).
    if (response.headerLines.isEmpty())
        response.headerLines = std::move(verdict.headerLines);
    else
        response.headerLines.append(verdict.headerLines);
    return response;
}

} // namespace bulwark
