// SPDX-License-Identifier: GPL-3.0-or-later
// Named reports of the schema file: GET /api/v1/reports lists them with their parameters,
// GET /api/v1/reports/{name}?param=... runs one. The SQL is the schema author's, read-only
// and fixed; the request supplies only parameter values, each converted to its declared
// type and bound, and :owner is always the caller's user id.
#pragma once

#include "CollectionStore.h"
#include "QueryInsight.h"
#include "Router.h"

namespace bulwark {

class ReportsController
{
public:
    ReportsController(const CollectionSchema &schema, ConnectionPool &pool, QueryInsight &insight);
    void registerRoutes(Router &router) const;

private:
    HttpResponse run(RequestContext &ctx) const;
    HttpResponse index(RequestContext &ctx) const;

    const CollectionSchema &m_schema;
    ConnectionPool &m_pool;
    QueryInsight &m_insight;
};

} // namespace bulwark
