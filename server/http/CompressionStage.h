// SPDX-License-Identifier: GPL-3.0-or-later
// Pipeline stage: gzip for bodies >= the minimum size of compressible types when
// Accept-Encoding allows gzip (q-values honoured); adds Vary: Accept-Encoding to every
// response that could have been compressed; skipped when the result would not be smaller.
// The stage interface and the pipeline order: Pipeline.h.
#pragma once

#include "Pipeline.h"

namespace bulwark {

class CompressionStage final : public Stage
{
public:
    CompressionStage(int minSize, int level) : m_minSize(minSize), m_level(level) {}
    HttpResponse handle(RequestContext &ctx, const Next &next) override;
    static bool acceptsGzip(const QByteArray &acceptEncoding);
    static bool isCompressible(const QByteArray &contentType);
    static QByteArray gzip(const QByteArray &data, int level);

private:
    int m_minSize;
    int m_level;
};

} // namespace bulwark
