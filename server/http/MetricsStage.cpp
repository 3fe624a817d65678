// SPDX-License-Identifier: GPL-3.0-or-later
// See MetricsStage.h.
#include "MetricsStage.h"

namespace bulwark {

HttpResponse MetricsStage::handle(RequestContext &ctx, const Next &next)
{
    m_metrics.inFlight.inc();
    HttpResponse response = next(ctx);
    m_metrics.inFlight.dec();
    m_metrics.recordRequest(ctx.request.method, ctx.routePattern, response.status,
                            ctx.request.secondsSinceReceived());
    return response;
}

} // namespace bulwark
