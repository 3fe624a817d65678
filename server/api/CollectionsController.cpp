// SPDX-License-Identifier: GPL-3.0-or-later
// See CollectionsController.h.
#include "CollectionsController.h"

#include "ApiSupport.h"

#include <QJsonArray>

namespace bulwark {

using namespace api;

CollectionsController::CollectionsController(const CollectionStore &store, ConnectionPool &pool,
                                             QueryInsight &insight, int defaultLimit)
    : m_store(store), m_pool(pool), m_insight(insight), m_defaultLimit(defaultLimit)
{
}

void CollectionsController::registerRoutes(Router &router) const
{
    router.add("POST", QStringLiteral("/api/v1/batch"),
               [this](RequestContext &ctx) { return batch(ctx); });
    const QString many = QStringLiteral("/api/v1/{collection}");
    const QString one = QStringLiteral("/api/v1/{collection}/{id}");
    router.add("GET", many, [this](RequestContext &ctx) { return list(ctx); });
    router.add("POST", many, [this](RequestContext &ctx) {
        return write(ctx, CollectionStore::WriteMode::Create);
    });
    router.add("GET", one, [this](RequestContext &ctx) { return get(ctx); });
    router.add("PATCH", one, [this](RequestContext &ctx) {
        return write(ctx, CollectionStore::WriteMode::Patch);
    });
    router.add("PUT", one, [this](RequestContext &ctx) {
        return write(ctx, CollectionStore::WriteMode::Replace);
    });
    router.add("DELETE", one, [this](RequestContext &ctx) { return remove(ctx); });
}

Result<const CollectionDef *> CollectionsController::collection(const RequestContext &ctx) const
{
    const QString name = ctx.pathParams.value(QStringLiteral("collection"));
    if (const CollectionDef *c = m_store.schema().collection(name))
        return c;
    QStringList names;
    for (const CollectionDef &c : m_store.schema().collections())
        names.append(c.name);
    return Error{ErrorCode::NotFound,
                 QStringLiteral("there is no collection \"%1\" (collections: %2)")
                     .arg(name.left(64), names.join(QStringLiteral(", ")))};
}

HttpResponse CollectionsController::list(RequestContext &ctx) const
{
    auto c = collection(ctx);
    if (!c.ok())
        return fail(ctx, c.error());
    const HttpRequest &r = ctx.request;
    ListParams params;
    auto limit = intParam(r, "limit", m_defaultLimit, 1, m_store.limits().maxLimit);
    if (!limit.ok())
        return fail(ctx, limit.error());
    auto page = intParam(r, "page", 1, 1, 1'000'000'000);
    if (!page.ok())
        return fail(ctx, page.error());
    params.limit = limit.value();
    params.page = page.value();
    params.filter = r.queryValue("filter");
    params.sort = r.queryValue("sort");
    params.fields = r.queryValue("fields");
    params.expand = r.queryValue("expand");
    const QString cursor = r.queryValue("cursor");
    if (!cursor.isNull())
        params.cursor = cursor;
    if (!cursor.isNull() && !r.queryValue("page").isNull())
        return fail(ctx, Error{ErrorCode::BadRequest,
                               QStringLiteral("give either page or cursor, not both")});
    const QString skip = r.queryValue("skip_total");
    params.skipTotal = skip == QLatin1String("true") || skip == QLatin1String("1");
    SqlSession sql(m_pool, &m_insight);
    auto body = m_store.list(sql, *c.value(), params, *ctx.principal);
    if (!body.ok())
        return fail(ctx, body.error());
    return conditionalJson(ctx, std::move(body.value()));
}

HttpResponse CollectionsController::get(RequestContext &ctx) const
{
    auto c = collection(ctx);
    if (!c.ok())
        return fail(ctx, c.error());
    const auto id = idParam(ctx);
    if (!id)
        return fail(ctx, Error{ErrorCode::NotFound, QStringLiteral("ids are positive integers")});
    SqlSession sql(m_pool, &m_insight);
    auto body = m_store.get(sql, *c.value(), *id, ctx.request.queryValue("fields"),
                            ctx.request.queryValue("expand"), *ctx.principal);
    if (!body.ok())
        return fail(ctx, body.error());
    return conditionalJson(ctx, std::move(body.value()));
}

HttpResponse CollectionsController::write(RequestContext &ctx,
                                          CollectionStore::WriteMode mode) const
{
    auto c = collection(ctx);
    if (!c.ok())
        return fail(ctx, c.error());
    qint64 id = 0;
    if (mode != CollectionStore::WriteMode::Create) {
        const auto parsed = idParam(ctx);
        if (!parsed)
            return fail(ctx,
                        Error{ErrorCode::NotFound, QStringLiteral("ids are positive integers")});
        id = *parsed;
    }
    auto body = jsonBody(ctx.request);
    if (!body.ok())
        return fail(ctx, body.error());
    const bool minimal = preferMinimal(ctx.request);
    SqlSession sql(m_pool, &m_insight);
    auto written = m_store.write(sql, *c.value(), mode, id, body.value(), *ctx.principal,
                                 ctx.request.header("if-match"), true);
    if (!written.ok())
        return fail(ctx, written.error());
    announce(mode == CollectionStore::WriteMode::Create ? QStringLiteral("record.created")
                                                        : QStringLiteral("record.updated"),
             c.value()->name, written.value().id, ctx);
    HttpResponse response;
    const QByteArray tag = CollectionStore::etag(written.value().body);
    if (minimal) {
        response.status = 204;
    } else {
        response = HttpResponse::bytes(written.value().body, QByteArrayLiteral("application/json"),
                                       mode == CollectionStore::WriteMode::Create ? 201 : 200);
    }
    if (mode == CollectionStore::WriteMode::Create) {
        if (minimal)
            response.status = 201;
        response.setHeader(
            QByteArrayLiteral("Location"),
            QStringLiteral("/api/v1/%1/%2").arg(c.value()->name).arg(written.value().id).toUtf8());
    }
    response.setHeader(QByteArrayLiteral("ETag"), tag);
    if (minimal)
        response.setHeader(QByteArrayLiteral("Preference-Applied"),
                           QByteArrayLiteral("return=minimal"));
    response.noStore();
    return response;
}

HttpResponse CollectionsController::remove(RequestContext &ctx) const
{
    auto c = collection(ctx);
    if (!c.ok())
        return fail(ctx, c.error());
    const auto id = idParam(ctx);
    if (!id)
        return fail(ctx, Error{ErrorCode::NotFound, QStringLiteral("ids are positive integers")});
    SqlSession sql(m_pool, &m_insight);
    auto removed =
        m_store.remove(sql, *c.value(), *id, *ctx.principal, ctx.request.header("if-match"));
    if (!removed.ok())
        return fail(ctx, removed.error());
    announce(QStringLiteral("record.deleted"), c.value()->name, *id, ctx);
    HttpResponse response;
    response.status = 204;
    return response.noStore();
}

std::optional<QList<RateLimitOperation>>
CollectionsController::batchOperations(const HttpRequest &request)
{
    if (request.method != "POST" || request.path != QStringLiteral("/api/v1/batch"))
        return std::nullopt;
    const QJsonDocument doc = QJsonDocument::fromJson(request.body);
    const QJsonArray operations = doc.object().value(QStringLiteral("operations")).toArray();
    QList<RateLimitOperation> out;
    out.reserve(operations.size());
    for (const QJsonValue &value : operations) {
        const QJsonObject op = value.toObject();
        const QString kind = op.value(QStringLiteral("op")).toString();
        const QString collection = op.value(QStringLiteral("collection")).toString();
        if (collection.isEmpty() || collection.contains(u'/'))
            continue;
        const QString base = QStringLiteral("/api/v1/") + collection;
        const QString item =
            base + u'/' + QString::number(qint64(op.value(QStringLiteral("id")).toDouble()));
        if (kind == QStringLiteral("create"))
            out.append({QByteArrayLiteral("POST"), base});
        else if (kind == QStringLiteral("update"))
            out.append({QByteArrayLiteral("PATCH"), item});
        else if (kind == QStringLiteral("replace"))
            out.append({QByteArrayLiteral("PUT"), item});
        else if (kind == QStringLiteral("delete"))
            out.append({QByteArrayLiteral("DELETE"), item});
    }
    return out;
}

HttpResponse CollectionsController::batch(RequestContext &ctx) const
{
    auto body = jsonBody(ctx.request);
    if (!body.ok())
        return fail(ctx, body.error());
    const QJsonValue operations = body.value().value(QStringLiteral("operations"));
    if (!operations.isArray())
        return fail(ctx, Error{ErrorCode::BadRequest,
                               QStringLiteral("body: expected {\"operations\": [...]}")});
    SqlSession sql(m_pool, &m_insight);
    auto result = m_store.batch(sql, operations.toArray(), *ctx.principal);
    if (!result.ok())
        return fail(ctx, result.error());
    // The result is parsed again only when someone listens: batches are a hot path.
    if (m_events && (m_events->hasSubscribers(QStringLiteral("record.created")) ||
                     m_events->hasSubscribers(QStringLiteral("record.updated")) ||
                     m_events->hasSubscribers(QStringLiteral("record.deleted")))) {
        // Operation i produced results[i]: {"status": 201 | 200 | 204, "id": ...}.
        const QJsonArray ops = operations.toArray();
        const QJsonArray results =
            QJsonDocument::fromJson(result.value()).object().value(QStringLiteral("results")).toArray();
        for (qsizetype i = 0; i < ops.size() && i < results.size(); ++i) {
            const QJsonObject r = results.at(i).toObject();
            const int status = r.value(QStringLiteral("status")).toInt();
            announce(status == 201   ? QStringLiteral("record.created")
                     : status == 204 ? QStringLiteral("record.deleted")
                                     : QStringLiteral("record.updated"),
                     ops.at(i).toObject().value(QStringLiteral("collection")).toString(),
                     qint64(r.value(QStringLiteral("id")).toDouble()), ctx);
        }
    }
    return HttpResponse::bytes(std::move(result.value()), QByteArrayLiteral("application/json"))
        .noStore();
}

void CollectionsController::announce(const QString &event, const QString &collection, qint64 id,
                                     const RequestContext &ctx) const
{
    if (!m_events || !m_events->hasSubscribers(event))
        return;
    m_events->emitEvent(event, QJsonObject{{QStringLiteral("collection"), collection},
                                           {QStringLiteral("id"), double(id)},
                                           {QStringLiteral("user_id"),
                                            ctx.principal ? QJsonValue(double(ctx.principal->userId))
                                                          : QJsonValue()}});
}

} // namespace bulwark
