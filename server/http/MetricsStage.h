// SPDX-License-Identifier: GPL-3.0-or-later
// Pipeline stage: request counters and latency histograms by method and route pattern
// (never raw paths, so label values stay bounded), and the in-flight gauge.
// The stage interface and the pipeline order: Pipeline.h.
#pragma once

#include "HttpMetrics.h"
#include "Pipeline.h"

namespace bulwark {

class MetricsStage final : public Stage
{
public:
    explicit MetricsStage(HttpMetrics &metrics) : m_metrics(metrics) {}
    HttpResponse handle(RequestContext &ctx, const Next &next) override;

private:
    HttpMetrics &m_metrics;
};

} // namespace bulwark
