// SPDX-License-Identifier: GPL-3.0-or-later
// The collections of the schema file over HTTP, under /api/v1/:
//   GET    /{collection}        list (pagination, cursor, sort, filter, fields, expand)
//   POST   /{collection}        create -> 201 + Location (+ the row unless
//                                Prefer: return=minimal)
//   GET    /{collection}/{id}   one row, with ETag; If-None-Match -> 304
//   PATCH  /{collection}/{id}   change the fields given; If-Match -> 412 on mismatch
//   PUT    /{collection}/{id}   replace the row
//   DELETE /{collection}/{id}   delete it -> 204
//   POST   /batch               up to api.batch_max operations in one transaction
// The controller only translates HTTP to CollectionStore calls and back; every check of
// names and values against the schema happens in the store.
#pragma once

#include "CollectionStore.h"
#include "EventBus.h"
#include "RateLimitOperation.h"
#include "QueryInsight.h"
#include "Router.h"

#include <optional>

namespace bulwark {

class CollectionsController
{
public:
    CollectionsController(const CollectionStore &store, ConnectionPool &pool, QueryInsight &insight,
                          int defaultLimit);
    void registerRoutes(Router &router) const;
    // Committed writes are announced as record.created / record.updated / record.deleted
    // ({"collection", "id", "user_id"}; never the row itself). Set before serving.
    void setEvents(EventBus *events) { m_events = events; }
    // For the rate limiter: the requests the operations of a POST /api/v1/batch stand for
    // (create -> POST /api/v1/{collection}, update -> PATCH .../{id}, replace -> PUT,
    // delete -> DELETE); nothing for any other request. An operation it cannot read is
    // left out (the batch handler refuses the whole batch with 400 anyway).
    static std::optional<QList<RateLimitOperation>> batchOperations(const HttpRequest &request);

private:
    HttpResponse list(RequestContext &ctx) const;
    HttpResponse get(RequestContext &ctx) const;
    HttpResponse write(RequestContext &ctx, CollectionStore::WriteMode mode) const;
    HttpResponse remove(RequestContext &ctx) const;
    HttpResponse batch(RequestContext &ctx) const;
    Result<const CollectionDef *> collection(const RequestContext &ctx) const;
    void announce(const QString &event, const QString &collection, qint64 id,
                  const RequestContext &ctx) const;

    const CollectionStore &m_store;
    ConnectionPool &m_pool;
    QueryInsight &m_insight;
    int m_defaultLimit;
    EventBus *m_events = nullptr;
};

} // namespace bulwark
