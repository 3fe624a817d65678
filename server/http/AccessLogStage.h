// SPDX-License-Identifier: GPL-3.0-or-later
// Pipeline stage: one JSON line per request to the access log (or a random sample of
// them; responses with status >= 500 are always logged). record() is also how requests
// rejected before the pipeline (framing errors, limits, timeouts) reach the same log.
// The stage interface and the pipeline order: Pipeline.h.
#pragma once

#include "Config.h"
#include "Logger.h"
#include "Pipeline.h"

namespace bulwark {

struct AccessRecord
{
    QByteArray method; // empty when the request line was not parsed
    QString path;      // decoded path, or the raw target (cut at 256 bytes) when rejected
    QString route;     // route pattern; empty when rejected before routing
    int status = 0;
    qint64 bytes = 0;
    double durationMs = 0;
    QString remote;
    int version = 11;
    QByteArray requestId;
    QByteArray userAgent;
    QByteArray rejected; // reason when rejected before routing, e.g. "payload_too_large"
};

class AccessLogStage final : public Stage
{
public:
    AccessLogStage(LineSink &sink, AccessLogMode mode, double sampleRate)
        : m_sink(sink), m_mode(mode), m_sampleRate(sampleRate)
    {
    }
    HttpResponse handle(RequestContext &ctx, const Next &next) override;
    // Writes the record if the mode (and, when sampled, the sample) says so. Thread-safe.
    void record(const AccessRecord &r);

private:
    LineSink &m_sink;
    AccessLogMode m_mode;
    double m_sampleRate;
};

} // namespace bulwark
