// SPDX-License-Identifier: GPL-3.0-or-later
// The pipeline stage of the rate limiter, after authentication (so user and api_key scopes
// know who is asking) and before the response cache (a cached response is cheap to serve,
// but a client over its limit must not be served at all). It asks the RateLimiter and
// either answers 429 Too Many Requests with the JSON error, Retry-After and the rate-limit
// headers, or passes on and adds the headers to whatever comes back.
//
// A batch request is checked operation by operation: `batchOperations` (from the data
// API, which knows the batch format) lists the requests the operations stand for, or
// nothing for any other request.
#pragma once

#include "Pipeline.h"
#include "EventBus.h"
#include "RateLimiter.h"

#include <functional>
#include <optional>

namespace bulwark {

class RateLimitStage final : public Stage
{
public:
    using BatchOperations =
        std::function<std::optional<QList<RateLimitOperation>>(const HttpRequest &)>;
    // Each refusal is announced as ratelimit.exceeded on `events` (when given and someone
    // listens): {"rule", "path", "method", "user_id"}.
    RateLimitStage(RateLimiter &limiter, BatchOperations batchOperations,
                   EventBus *events = nullptr);
    HttpResponse handle(RequestContext &ctx, const Next &next) override;

private:
    RateLimiter &m_limiter;
    BatchOperations m_batchOperations;
    EventBus *m_events;
};

} // namespace bulwark
