// SPDX-License-Identifier: GPL-3.0-or-later
// See ReportsController.h.
#include "ReportsController.h"

#include "ApiSupport.h"
#include "JsonWriter.h"

#include <QDateTime>
#include <QJsonArray>
#include <QSqlRecord>
#include <QUrlQuery>

namespace bulwark {

using namespace api;

ReportsController::ReportsController(const CollectionSchema &schema, ConnectionPool &pool,
                                     QueryInsight &insight)
    : m_schema(schema), m_pool(pool), m_insight(insight)
{
}

void ReportsController::registerRoutes(Router &router) const
{
    router.add("GET", QStringLiteral("/api/v1/reports"),
               [this](RequestContext &ctx) { return index(ctx); });
    router.add("GET", QStringLiteral("/api/v1/reports/{name}"),
               [this](RequestContext &ctx) { return run(ctx); });
}

HttpResponse ReportsController::index(RequestContext &ctx) const
{
    QJsonArray reports;
    for (const ReportDef &r : m_schema.reports()) {
        QJsonObject params;
        for (const ReportParam &p : r.params) {
            QJsonObject param{{QStringLiteral("type"), fieldTypeName(p.type)},
                              {QStringLiteral("required"), p.required}};
            if (!p.defaultValue.isUndefined())
                param.insert(QStringLiteral("default"), p.defaultValue);
            params.insert(p.name, param);
        }
        reports.append(
            QJsonObject{{QStringLiteral("name"), r.name},
                        {QStringLiteral("description"), r.description},
                        {QStringLiteral("params"), params},
                        {QStringLiteral("depends_on"), QJsonArray::fromStringList(r.dependsOn)}});
    }
    return conditionalJson(ctx, QJsonDocument(QJsonObject{{QStringLiteral("data"), reports}})
                                    .toJson(QJsonDocument::Compact));
}

namespace {
std::optional<QVariant> paramValue(FieldType type, const QString &text)
{
    bool ok = false;
    switch (type) {
    case FieldType::Integer: {
        const qlonglong v = text.toLongLong(&ok);
        return ok ? std::optional<QVariant>(v) : std::nullopt;
    }
    case FieldType::Real: {
        const double v = text.toDouble(&ok);
        return ok ? std::optional<QVariant>(v) : std::nullopt;
    }
    case FieldType::Boolean:
        if (text == QLatin1String("true"))
            return QVariant(true);
        if (text == QLatin1String("false"))
            return QVariant(false);
        return std::nullopt;
    case FieldType::DateTime:
        if (auto normalised = normaliseDateTime(text))
            return QVariant(*normalised);
        return std::nullopt;
    case FieldType::Text: return QVariant(text);
    case FieldType::Json: return std::nullopt;
    }
    return std::nullopt;
}

void writeVariant(JsonWriter &out, const QVariant &v)
{
    if (v.isNull()) {
        out.null();
        return;
    }
    switch (v.metaType().id()) {
    case QMetaType::Int:
    case QMetaType::LongLong:
    case QMetaType::UInt:
    case QMetaType::ULongLong: out.integer(v.toLongLong()); return;
    case QMetaType::Double:
    case QMetaType::Float: out.real(v.toDouble()); return;
    case QMetaType::Bool: out.boolean(v.toBool()); return;
    case QMetaType::QDateTime:
        out.string(v.toDateTime().toUTC().toString(Qt::ISODateWithMs));
        return;
    case QMetaType::QDate: out.string(v.toDate().toString(Qt::ISODate)); return;
    default: out.string(v.toString()); return;
    }
}
} // namespace

HttpResponse ReportsController::run(RequestContext &ctx) const
{
    const QString name = ctx.pathParams.value(QStringLiteral("name"));
    const ReportDef *report = m_schema.report(name);
    if (!report) {
        QStringList names;
        for (const ReportDef &r : m_schema.reports())
            names.append(r.name);
        return fail(ctx, Error{ErrorCode::NotFound,
                               QStringLiteral("there is no report \"%1\" (reports: %2)")
                                   .arg(name.left(64), names.join(QStringLiteral(", ")))});
    }
    QVariantHash binds;
    QJsonObject used;
    const QUrlQuery &query = ctx.request.query();
    for (const auto &[key, value] : query.queryItems(QUrl::FullyDecoded)) {
        bool known = false;
        for (const ReportParam &p : report->params)
            known = known || p.name == key;
        if (!known)
            return fail(ctx, Error{ErrorCode::BadRequest,
                                   QStringLiteral("report %1 has no parameter \"%2\"")
                                       .arg(report->name, key.left(64)),
                                   QJsonObject{{QStringLiteral("parameter"), key.left(64)}}});
    }
    for (const ReportParam &p : report->params) {
        const QString text = ctx.request.queryValue(p.name.toUtf8());
        if (text.isNull()) {
            if (p.required)
                return fail(ctx, Error{ErrorCode::BadRequest,
                                       QStringLiteral("report %1 needs the parameter %2 (%3)")
                                           .arg(report->name, p.name, fieldTypeName(p.type)),
                                       QJsonObject{{QStringLiteral("parameter"), p.name}}});
            auto v = paramValue(p.type, p.defaultValue.isString()
                                            ? p.defaultValue.toString()
                                            : p.defaultValue.toVariant().toString());
            binds.insert(p.name, v ? *v : QVariant());
            used.insert(p.name, p.defaultValue);
            continue;
        }
        auto v = paramValue(p.type, text);
        if (!v)
            return fail(
                ctx,
                Error{ErrorCode::BadRequest,
                      QStringLiteral("parameter %1 must be %2").arg(p.name, fieldTypeName(p.type)),
                      QJsonObject{{QStringLiteral("parameter"), p.name}}});
        binds.insert(p.name, *v);
        used.insert(p.name, QJsonValue::fromVariant(*v));
    }
    if (report->ownerScoped)
        binds.insert(QStringLiteral("owner"), QVariant(qlonglong(ctx.principal->userId)));

    SqlSession sql(m_pool, &m_insight);
    if (auto begun = sql.beginReadOnly(); !begun.ok())
        return fail(ctx, begun.error());
    auto result = sql.execNamed(m_schema.reportSql(report->name, sql.dialect().name()), binds);
    if (!result.ok())
        return fail(ctx, result.error());
    QSqlQuery *q = result.value();
    QByteArray body;
    JsonWriter out(body);
    out.beginObject();
    out.key(QLatin1StringView("report"));
    out.string(report->name);
    out.key(QLatin1StringView("params"));
    out.value(used);
    out.key(QLatin1StringView("data"));
    out.beginArray();
    const QSqlRecord record = q->record();
    while (q->next()) {
        out.beginObject();
        for (int i = 0; i < record.count(); ++i) {
            out.key(record.fieldName(i));
            writeVariant(out, q->value(i));
        }
        out.endObject();
    }
    q->finish();
    sql.rollback(); // read-only: nothing to keep
    out.endArray();
    out.endObject();
    return conditionalJson(ctx, std::move(body));
}

} // namespace bulwark
