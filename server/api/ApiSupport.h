// SPDX-License-Identifier: GPL-3.0-or-later
// Small helpers the data API controllers share: reading JSON bodies and integer
// parameters with specific errors, conditional GET (ETag / If-None-Match -> 304), and
// turning a Result into a response. Kept inline and tiny; anything bigger is a class.
#pragma once

#include "CollectionStore.h"
#include "ErrorMapping.h"
#include "HttpRequest.h"
#include "HttpResponse.h"

#include <QJsonDocument>
#include <QJsonParseError>

namespace bulwark::api {

inline Result<QJsonObject> jsonBody(const HttpRequest &request)
{
    QJsonParseError error{};
    const QJsonDocument doc = QJsonDocument::fromJson(request.body, &error);
    if (error.error != QJsonParseError::NoError)
        return Error{ErrorCode::BadRequest,
                     QStringLiteral("body: invalid JSON at byte %1: %2")
                         .arg(error.offset)
                         .arg(error.errorString()),
                     QJsonObject{{QStringLiteral("position"), error.offset}}};
    if (!doc.isObject())
        return Error{ErrorCode::BadRequest, QStringLiteral("body: expected a JSON object")};
    return doc.object();
}

// An optional integer query parameter within [min, max].
inline Result<int> intParam(const HttpRequest &request, QByteArrayView name, int fallback, int min,
                            int max)
{
    const QString text = request.queryValue(name);
    if (text.isNull() || text.isEmpty())
        return fallback;
    bool ok = false;
    const qint64 v = text.toLongLong(&ok);
    if (!ok || v < min || v > max)
        return Error{
            ErrorCode::BadRequest,
            QStringLiteral("%1 must be an integer from %2 to %3")
                .arg(QString::fromLatin1(name.toByteArray()))
                .arg(min)
                .arg(max),
            QJsonObject{{QStringLiteral("parameter"), QString::fromLatin1(name.toByteArray())}}};
    return int(v);
}

inline std::optional<qint64> idParam(const RequestContext &ctx,
                                     const QString &name = QStringLiteral("id"))
{
    bool ok = false;
    const qint64 id = ctx.pathParams.value(name).toLongLong(&ok);
    if (!ok || id <= 0)
        return std::nullopt;
    return id;
}

inline HttpResponse fail(const RequestContext &ctx, const Error &error)
{
    return errorResponse(error, ctx.requestId);
}

// A private, per-user representation: clients and shared caches must revalidate it.
inline HttpResponse conditionalJson(const RequestContext &ctx, QByteArray body)
{
    const QByteArray tag = CollectionStore::etag(body);
    const QByteArray ifNoneMatch = ctx.request.header("if-none-match");
    HttpResponse response;
    if (!ifNoneMatch.isEmpty() && CollectionStore::etagMatches(ifNoneMatch, tag, true)) {
        response.status = 304;
    } else {
        response = HttpResponse::bytes(std::move(body), QByteArrayLiteral("application/json"));
    }
    response.setHeader(QByteArrayLiteral("ETag"), tag);
    response.setHeader(QByteArrayLiteral("Cache-Control"), QByteArrayLiteral("private, no-cache"));
    response.setHeader(QByteArrayLiteral("Vary"), QByteArrayLiteral("Authorization"));
    return response;
}

inline bool preferMinimal(const HttpRequest &request)
{
    return request.header("prefer").contains("return=minimal");
}

} // namespace bulwark::api
