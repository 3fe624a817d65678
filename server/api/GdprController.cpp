// SPDX-License-Identifier: GPL-3.0-or-later
// See GdprController.h.
#include "GdprController.h"

#include <QDir>
#include <QFile>

#include "ApiSupport.h"
#include "JsonWriter.h"

#include <QDateTime>

namespace bulwark {

using namespace api;

void GdprController::registerRoutes(Router &router) const
{
    router.add("DELETE", QStringLiteral("/api/v1/me"), [this](RequestContext &ctx) {
        return erase(ctx, ctx.principal->userId, QStringLiteral("self"));
    });
    router.add("GET", QStringLiteral("/api/v1/me/export"),
               [this](RequestContext &ctx) { return exportData(ctx); });
    router.add("DELETE", QStringLiteral("/api/v1/users/{id}"), [this](RequestContext &ctx) {
        if (!ctx.principal->admin)
            return fail(ctx,
                        Error{ErrorCode::Forbidden,
                              QStringLiteral("deleting another account needs the admin role")});
        const auto id = idParam(ctx);
        if (!id)
            return fail(ctx,
                        Error{ErrorCode::NotFound, QStringLiteral("ids are positive integers")});
        return erase(ctx, *id, QStringLiteral("admin"));
    });
}

Result<QByteArray> GdprController::buildExport(qint64 userId) const
{
    auto user = m_users.findUser(QString::number(userId));
    if (!user.ok())
        return user.error();
    SqlSession sql(m_pool, &m_insight);
    // One read transaction: the export is a consistent snapshot.
    if (auto begun = sql.beginRead(); !begun.ok())
        return begun.error();
    QByteArray body;
    JsonWriter out(body);
    out.beginObject();
    out.key(QLatin1StringView("exported_at"));
    out.string(QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs));
    out.key(QLatin1StringView("account"));
    const UserRecord &u = user.value();
    out.value(QJsonObject{{QStringLiteral("id"), double(u.id)},
                          {QStringLiteral("email"), u.email},
                          {QStringLiteral("display_name"), u.displayName},
                          {QStringLiteral("role"), u.role},
                          {QStringLiteral("disabled"), u.disabled},
                          {QStringLiteral("created_at"), u.createdAt.toString(Qt::ISODateWithMs)}});
    out.key(QLatin1StringView("api_keys"));
    out.beginArray();
    auto keys = sql.exec(QStringLiteral("SELECT id, name, created_at, last_used_at, expires_at, "
                                        "revoked_at FROM api_keys WHERE user_id = ? ORDER BY id"),
                         {QVariant(qlonglong(userId))});
    if (!keys.ok())
        return keys.error();
    while (keys.value()->next()) {
        QSqlQuery *q = keys.value();
        auto text = [q](int i) -> QJsonValue {
            const QVariant v = q->value(i);
            if (v.isNull())
                return QJsonValue::Null;
            if (v.metaType() == QMetaType::fromType<QDateTime>())
                return v.toDateTime().toUTC().toString(Qt::ISODateWithMs);
            return v.toString();
        };
        out.value(QJsonObject{{QStringLiteral("id"), double(q->value(0).toLongLong())},
                              {QStringLiteral("name"), text(1)},
                              {QStringLiteral("created_at"), text(2)},
                              {QStringLiteral("last_used_at"), text(3)},
                              {QStringLiteral("expires_at"), text(4)},
                              {QStringLiteral("revoked_at"), text(5)}});
    }
    keys.value()->finish();
    out.endArray();
    out.key(QLatin1StringView("collections"));
    out.beginObject();
    if (auto exported = m_store.exportOwned(sql, userId, out); !exported.ok())
        return exported.error();
    out.endObject();
    out.endObject();
    sql.rollback(); // read-only: nothing to keep
    return body;
}

Result<bool> GdprController::accountExists(qint64 userId) const
{
    SqlSession sql(m_pool, &m_insight);
    bool found = false;
    auto rows = sql.select(QStringLiteral("SELECT 1 FROM users WHERE id = ?"), {userId},
                           [&found](const SqlCell *, int) {
                               found = true;
                               return false;
                           });
    if (!rows.ok())
        return rows.error();
    return found;
}

HttpResponse GdprController::exportData(RequestContext &ctx) const
{
    auto body = buildExport(ctx.principal->userId);
    if (!body.ok())
        return fail(ctx, body.error());
    HttpResponse response =
        HttpResponse::bytes(std::move(body.value()), QByteArrayLiteral("application/json"));
    response.setHeader(QByteArrayLiteral("Content-Disposition"),
                       QByteArrayLiteral("attachment; filename=\"bulwark-export.json\""));
    return response.noStore();
}

HttpResponse GdprController::erase(RequestContext &ctx, qint64 userId, const QString &actor) const
{
    SqlSession sql(m_pool, &m_insight);
    if (auto begun = sql.beginWrite(); !begun.ok())
        return fail(ctx, begun.error());
    auto exists =
        sql.exec(QStringLiteral("SELECT 1 FROM users WHERE id = ?"), {QVariant(qlonglong(userId))});
    if (!exists.ok())
        return fail(ctx, exists.error());
    const bool found = exists.value()->next();
    exists.value()->finish();
    if (!found)
        return fail(ctx, Error{ErrorCode::NotFound, QStringLiteral("there is no such account")});
    auto counts = m_store.deleteOwned(sql, userId);
    if (!counts.ok())
        return fail(ctx, counts.error());
    // The account's jobs go too: their payloads and results are its data, and a finished
    // export names a file that holds all of it (deleted once the transaction commits).
    QStringList exportFiles;
    auto exports = sql.exec(QStringLiteral("SELECT result FROM jobs WHERE owner_id = ? AND type = "
                                           "'gdpr.export' AND result IS NOT NULL"),
                            {QVariant(qlonglong(userId))});
    if (!exports.ok())
        return fail(ctx, exports.error());
    while (exports.value()->next()) {
        const QString file = QJsonDocument::fromJson(exports.value()->value(0).toString().toUtf8())
                                 .object()
                                 .value(QStringLiteral("file"))
                                 .toString();
        if (!file.isEmpty() && !file.contains(u'/') && !file.startsWith(u'.'))
            exportFiles.append(file);
    }
    exports.value()->finish();
    auto jobs = sql.exec(QStringLiteral("DELETE FROM jobs WHERE owner_id = ?"),
                         {QVariant(qlonglong(userId))});
    if (!jobs.ok())
        return fail(ctx, jobs.error());
    const int jobsDeleted = jobs.value()->numRowsAffected();
    for (const QString &statement : {QStringLiteral("DELETE FROM api_keys WHERE user_id = ?"),
                                     QStringLiteral("DELETE FROM users WHERE id = ?")}) {
        auto done = sql.exec(statement, {QVariant(qlonglong(userId))});
        if (!done.ok())
            return fail(ctx, done.error());
    }
    // The audit record keeps what happened and how much, not who: no id, no email.
    const QString detail = QString::fromUtf8(
        QJsonDocument(QJsonObject{{QStringLiteral("rows_deleted"), counts.value()},
                                  {QStringLiteral("jobs_deleted"), jobsDeleted}})
            .toJson(QJsonDocument::Compact));
    auto audited = sql.exec(
        QStringLiteral("INSERT INTO audit_log (at, actor, action, detail) VALUES (?, ?, ?, ?)"),
        {QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs), actor,
         QStringLiteral("account.erased"), detail});
    if (!audited.ok())
        return fail(ctx, audited.error());
    if (auto committed = sql.commit(); !committed.ok())
        return fail(ctx, committed.error());
    m_users.invalidateCache();
    if (!m_exportDir.isEmpty())
        for (const QString &file : std::as_const(exportFiles))
            QFile::remove(QDir(m_exportDir).filePath(file));
    if (m_events)
        m_events->emitEvent(QStringLiteral("user.deleted"),
                            QJsonObject{{QStringLiteral("user_id"), double(userId)},
                                        {QStringLiteral("by"), actor},
                                        {QStringLiteral("rows_deleted"), counts.value()}});
    return HttpResponse::json(QJsonObject{{QStringLiteral("message"),
                                           QStringLiteral("The account and the data it owned have "
                                                          "been deleted.")},
                                          {QStringLiteral("rows_deleted"), counts.value()},
                                          {QStringLiteral("jobs_deleted"), jobsDeleted}})
        .noStore();
}

} // namespace bulwark
