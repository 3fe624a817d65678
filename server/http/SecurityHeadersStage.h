// SPDX-License-Identifier: GPL-3.0-or-later
// Pipeline stage: X-Content-Type-Options, X-Frame-Options, Referrer-Policy, a restrictive
// Content-Security-Policy for the JSON API, and Strict-Transport-Security under TLS.
// apply() is also used for responses that never enter the pipeline.
// The stage interface and the pipeline order: Pipeline.h.
#pragma once

#include "Pipeline.h"

namespace bulwark {

class SecurityHeadersStage final : public Stage
{
public:
    explicit SecurityHeadersStage(bool tls) : m_tls(tls) {}
    HttpResponse handle(RequestContext &ctx, const Next &next) override;
    // Also used for responses that never enter the pipeline (framing errors, 503 at the cap).
    static void apply(HttpResponse &response, bool tls);

private:
    bool m_tls;
};

} // namespace bulwark
