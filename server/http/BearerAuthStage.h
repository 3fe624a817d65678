// SPDX-License-Identifier: GPL-3.0-or-later
// Pipeline stage: everything under a path prefix needs "Authorization: Bearer <token>";
// the token is compared in constant time; 401 with the JSON error otherwise.
// The stage interface and the pipeline order: Pipeline.h.
#pragma once

#include "Pipeline.h"

namespace bulwark {

class BearerAuthStage final : public Stage
{
public:
    BearerAuthStage(QString prefix, QByteArray token)
        : m_prefix(std::move(prefix)), m_token(std::move(token))
    {
    }
    HttpResponse handle(RequestContext &ctx, const Next &next) override;

private:
    QString m_prefix;
    QByteArray m_token;
};

} // namespace bulwark
