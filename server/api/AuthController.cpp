// SPDX-License-Identifier: GPL-3.0-or-later
// See AuthController.h.
#include "AuthController.h"

#include "ApiSupport.h"

#include <QDateTime>

namespace bulwark {

using namespace api;

void AuthController::registerRoutes(Router &router) const
{
    router.add("POST", QStringLiteral("/api/v1/auth/register"),
               [this](RequestContext &ctx) { return registerUser(ctx); });
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

HttpResponse AuthController::registerUser(RequestContext &ctx) const
{
    // Before the body is even parsed: a closed server says only that it is closed.
    if (!m_openRegistration)
        return fail(ctx, Error{ErrorCode::Forbidden,
                               QStringLiteral("registration is closed (api.open_registration is "
                                              "false)")});
    auto body = jsonBody(ctx.request);
    if (!body.ok())
        return fail(ctx, body.error());
    const QJsonObject fields = body.value();
    const QJsonValue email = fields.value(QStringLiteral("email"));
    const QJsonValue password = fields.value(QStringLiteral("password"));
    const QJsonValue displayName = fields.value(QStringLiteral("display_name"));
    if (!email.isString() || !password.isString())
        return fail(ctx, Error{ErrorCode::BadRequest,
                               QStringLiteral("body: expected {\"email\": ..., \"password\": "
                                              "..., \"display_name\": ... (optional)}")});
    if (!displayName.isUndefined() && !displayName.isNull() && !displayName.isString())
        return fail(
            ctx, Error{ErrorCode::BadRequest, QStringLiteral("display_name: expected a string")});

    // The role is fixed: nothing in the body can ask for admin. The rules are checked here
    // (addUser would check them again) so that a bad value costs no PBKDF2 hash and answers
    // 400 "<member>: ..." like the other body errors, not the store's 422.
    const QString role = QStringLiteral("user");
    if (const auto invalid = UserStore::checkNewUser(email.toString(), password.toString(), role))
        return fail(ctx, Error{ErrorCode::BadRequest,
                               QStringLiteral("%1: %2").arg(
                                   invalid->details.value(QStringLiteral("field")).toString(),
                                   invalid->message)});
    auto id = m_users.addUser(email.toString(), displayName.toString(), password.toString(), role);
    if (!id.ok()) {
        // Conflict is the only refusal left (the email is taken). Worded here, not passed
        // through, so that the answer stays this one sentence whatever the store's message
        // says; other failures (503, 500) are already free of database detail.
        if (id.error().code == ErrorCode::Conflict)
            return fail(ctx, Error{ErrorCode::Conflict,
                                   QStringLiteral("email: an account with this email address "
                                                  "already exists")});
        return fail(ctx, id.error());
    }
    HttpResponse response = HttpResponse::json(
        QJsonObject{{QStringLiteral("id"), double(id.value())},
                    {QStringLiteral("email"), *UserStore::normalizeEmail(email.toString())}},
        201);
    response.setHeader(QByteArrayLiteral("Location"), QByteArrayLiteral("/api/v1/me"));
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
