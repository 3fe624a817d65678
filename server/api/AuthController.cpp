// SPDX-License-Identifier: GPL-3.0-or-later
// See AuthController.h.
#include "AuthController.h"

#include "ApiSupport.h"

#include <QDateTime>

namespace bulwark {

using namespace api;

void AuthController::registerRoutes(Router &router) const
{
    router.add("POST", QStringLiteral("/api/v1/auth/login"),
               [this](RequestContext &ctx) { return login(ctx); });
    router.add("GET", QStringLiteral("/api/v1/me"),
               [this](RequestContext &ctx) { return me(ctx); });
    router.add("POST", QStringLiteral("/api/v1/auth/logout"),
               [this](RequestContext &ctx) { return revoke(ctx, ctx.principal->keyId); });
    router.add("DELETE", QStringLiteral("/api/v1/auth/keys/{id}"), [this](RequestContext &ctx) {
        const auto id = idParam(ctx);
        if (!id)
            return fail(ctx,
                        Error{ErrorCode::NotFound, QStringLiteral("ids are positive integers")});
        return revoke(ctx, *id);
    });
}

HttpResponse AuthController::revoke(RequestContext &ctx, qint64 keyId) const
{
    // Only the caller's own keys: revokeKey matches the key id and the user id together.
    auto revoked = m_users.revokeKey(keyId, ctx.principal->userId);
    if (!revoked.ok())
        return fail(ctx, revoked.error());
    HttpResponse response;
    response.status = 204;
    return response.noStore();
}

HttpResponse AuthController::login(RequestContext &ctx) const
{
    auto body = jsonBody(ctx.request);
    if (!body.ok())
        return fail(ctx, body.error());
    const QJsonObject credentials = body.value();
    if (!credentials.value(QStringLiteral("email")).isString() ||
        !credentials.value(QStringLiteral("password")).isString())
        return fail(ctx,
                    Error{ErrorCode::BadRequest,
                          QStringLiteral("body: expected {\"email\": ..., \"password\": ...}")});
    auto principal = m_users.login(credentials.value(QStringLiteral("email")).toString(),
                                   credentials.value(QStringLiteral("password")).toString());
    if (!principal.ok())
        return fail(ctx, principal.error());
    const QDateTime expires =
        QDateTime::currentDateTimeUtc().addMSecs(qint64(m_sessionTtl.count()));
    auto key = m_users.createApiKey(principal.value().userId, QStringLiteral("login"), expires);
    if (!key.ok())
        return fail(ctx, key.error());
    return HttpResponse::json(
               QJsonObject{{QStringLiteral("token"), QString::fromLatin1(key.value().token)},
                           {QStringLiteral("key_id"), double(key.value().id)},
                           {QStringLiteral("expires_at"), expires.toString(Qt::ISODateWithMs)}})
        .noStore();
}

HttpResponse AuthController::me(RequestContext &ctx) const
{
    auto user = m_users.findUser(QString::number(ctx.principal->userId));
    if (!user.ok())
        return fail(ctx, user.error());
    const UserRecord &u = user.value();
    return HttpResponse::json(
               QJsonObject{{QStringLiteral("id"), double(u.id)},
                           {QStringLiteral("email"), u.email},
                           {QStringLiteral("display_name"), u.displayName},
                           {QStringLiteral("role"), u.role},
                           {QStringLiteral("created_at"), u.createdAt.toString(Qt::ISODateWithMs)}})
        .noStore();
}

} // namespace bulwark
