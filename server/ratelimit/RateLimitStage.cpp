// SPDX-License-Identifier: GPL-3.0-or-later
// See RateLimitStage.h.
#include "RateLimitStage.h"

#include "ErrorMapping.h"

namespace bulwark {

RateLimitStage::RateLimitStage(RateLimiter &limiter, BatchOperations batchOperations)
    : m_limiter(limiter), m_batchOperations(std::move(batchOperations))
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
            errorResponse(Error{ErrorCode::RateLimited, verdict.message, details}, ctx.requestId);
        // None for a request that can never pass (a batch above a rule's capacity).
        if (verdict.retryAfterSeconds > 0)
            refused.setHeader(QByteArrayLiteral("Retry-After"),
                              QByteArray::number(verdict.retryAfterSeconds));
        for (auto &[name, value] : verdict.headers)
            refused.headers.append({std::move(name), std::move(value)});
        return refused;
    }
    HttpResponse response = next(ctx);
    response.headers.reserve(response.headers.size() + verdict.headers.size());
    for (auto &[name, value] : verdict.headers)
        response.headers.append({std::move(name), std::move(value)});
    return response;
}

} // namespace bulwark
