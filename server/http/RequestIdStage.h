// SPDX-License-Identifier: GPL-3.0-or-later
// Pipeline stage: accepts a client's X-Request-Id when it is 1..128 characters of
// [A-Za-z0-9._:-], otherwise generates 128 random bits in hex, and echoes it in the
// response so a request can be followed through logs and error bodies.
// The stage interface and the pipeline order: Pipeline.h.
#pragma once

#include "Pipeline.h"

namespace bulwark {

class RequestIdStage final : public Stage
{
public:
    HttpResponse handle(RequestContext &ctx, const Next &next) override;
    static bool isWellFormed(const QByteArray &id);
    static QByteArray generate();
};

} // namespace bulwark
