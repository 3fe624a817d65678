// SPDX-License-Identifier: GPL-3.0-or-later
// Pipeline stage: one JSON line per request to the access log (or a random sample of
// them; responses with status >= 500 are always logged).
// The stage interface and the pipeline order: Pipeline.h.
#pragma once

#include "Config.h"
#include "Logger.h"
#include "Pipeline.h"

namespace bulwark {

class AccessLogStage final : public Stage
{
public:
    AccessLogStage(LineSink &sink, AccessLogMode mode, double sampleRate)
        : m_sink(sink), m_mode(mode), m_sampleRate(sampleRate)
    {
    }
    HttpResponse handle(RequestContext &ctx, const Next &next) override;

private:
    LineSink &m_sink;
    AccessLogMode m_mode;
    double m_sampleRate;
};

} // namespace bulwark
