// SPDX-License-Identifier: GPL-3.0-or-later
// See LoadTestsController.h.
#include "LoadTestsController.h"

#include "ApiSupport.h"
#include "LoadTestRuns.h"

#include <QDateTime>
#include <QJsonArray>
#include <QUuid>

namespace bulwark {

using api::fail;
using api::intParam;
using api::jsonBody;

namespace {

QJsonObject summary(const LoadTestRunRow &r)
{
    return QJsonObject{{QStringLiteral("id"), r.id},
                       {QStringLiteral("name"), r.name},
                       {QStringLiteral("target"), r.target},
                       {QStringLiteral("model"), r.model},
                       {QStringLiteral("status"), r.status},
                       {QStringLiteral("started_at"),
                        QDateTime::fromMSecsSinceEpoch(r.startedAtMs, Qt::UTC).toString(Qt::ISODateWithMs)},
                       {QStringLiteral("duration_ms"), double(r.durationMs)},
                       {QStringLiteral("requests"), double(r.requests)},
                       {QStringLiteral("failures"), double(r.failures)},
                       {QStringLiteral("requests_per_second"), r.rps},
                       {QStringLiteral("p95_ms"), double(r.p95Ns) / 1e6}};
}

} // namespace

void LoadTestsController::registerRoutes(Router &router)
{
    router.add("POST", QStringLiteral("/admin/api/loadtests"),
               [this](RequestContext &ctx) { return start(ctx); });
    router.add("GET", QStringLiteral("/admin/api/loadtests"),
               [this](RequestContext &ctx) { return list(ctx); });
    router.add("GET", QStringLiteral("/admin/api/loadtests/{id}"),
               [this](RequestContext &ctx) { return getOne(ctx); });
    router.add("GET", QStringLiteral("/admin/api/loadtests/{id}/series"),
               [this](RequestContext &ctx) { return series(ctx); });
    router.add("POST", QStringLiteral("/admin/api/loadtests/{id}/stop"),
               [this](RequestContext &ctx) { return stop(ctx); });
    router.add("DELETE", QStringLiteral("/admin/api/loadtests/{id}"),
               [this](RequestContext &ctx) { return remove(ctx); });
}

HttpResponse LoadTestsController::start(RequestContext &ctx)
{
    auto body = jsonBody(ctx.request);
    if (!body.ok())
        return fail(ctx, body.error());
    if (body.value().contains(QStringLiteral("run")))
        return fail(ctx, Error{ErrorCode::BadRequest,
                               QStringLiteral("run: chosen by the server")});
    // Checked here, so that a bad request is a 4xx now rather than a failed job later.
    auto request = parseLoadTestRequest(body.value());
    if (!request.ok())
        return fail(ctx, request.error());
    const Scenario &scenario = *request.value().scenario;

    RunReport queued;
    queued.id = QUuid::createUuid().toString(QUuid::WithoutBraces);
    queued.scenarioName = scenario.name;
    queued.scenario = scenario.source;
    queued.target = request.value().target.toString();
    queued.model = scenario.load.model == LoadSpec::Model::Open ? QStringLiteral("open")
                                                                 : QStringLiteral("closed");
    queued.startedAt = QDateTime::currentDateTimeUtc();
    queued.status = QStringLiteral("queued");
    if (auto saved = m_runs.save(runRow(queued)); !saved.ok())
        return fail(ctx, saved.error());

    QJsonObject payload = body.value();
    payload.insert(QStringLiteral("run"), queued.id);
    JobSpec spec;
    spec.type = QLatin1String(kJobType);
    spec.payload = payload;
    auto enqueued = m_jobs.enqueue(spec);
    if (!enqueued.ok()) {
        m_runs.remove(queued.id);
        return fail(ctx, enqueued.error());
    }
    HttpResponse response = HttpResponse::json(
        QJsonObject{{QStringLiteral("id"), queued.id},
                    {QStringLiteral("job_id"), double(enqueued.value().id)},
                    {QStringLiteral("status"), queued.status}},
        202);
    response.setHeader(QByteArrayLiteral("Location"),
                       QStringLiteral("/admin/api/loadtests/%1").arg(queued.id).toUtf8());
    return response.noStore();
}

HttpResponse LoadTestsController::list(RequestContext &ctx)
{
    auto limit = intParam(ctx.request, "limit", 50, 1, 1000);
    if (!limit.ok())
        return fail(ctx, limit.error());
    auto offset = intParam(ctx.request, "offset", 0, 0, 1'000'000);
    if (!offset.ok())
        return fail(ctx, offset.error());
    auto rows = m_runs.list(limit.value(), offset.value());
    if (!rows.ok())
        return fail(ctx, rows.error());
    auto total = m_runs.count();
    if (!total.ok())
        return fail(ctx, total.error());
    QJsonArray data;
    for (const LoadTestRunRow &r : rows.value())
        data.append(summary(r));
    return HttpResponse::json(QJsonObject{{QStringLiteral("data"), data},
                                          {QStringLiteral("total"), double(total.value())}})
        .noStore();
}

HttpResponse LoadTestsController::getOne(RequestContext &ctx)
{
    auto row = m_runs.get(ctx.pathParams.value(QStringLiteral("id")));
    if (!row.ok())
        return fail(ctx, row.error());
    // The report as last written, with the row's status: "queued" and "stopping" exist only
    // there.
    QJsonObject out = row.value().report.isEmpty() ? summary(row.value()) : row.value().report;
    out.insert(QStringLiteral("id"), row.value().id);
    out.insert(QStringLiteral("status"), row.value().status);
    return HttpResponse::json(out).noStore();
}

HttpResponse LoadTestsController::series(RequestContext &ctx)
{
    auto since = intParam(ctx.request, "since", 0, 0, 100'000'000);
    if (!since.ok())
        return fail(ctx, since.error());
    auto row = m_runs.get(ctx.pathParams.value(QStringLiteral("id")));
    if (!row.ok())
        return fail(ctx, row.error());
    QJsonArray points;
    qint64 next = since.value();
    for (const QJsonValue &v : row.value().report.value(QStringLiteral("series")).toArray()) {
        const qint64 t = qint64(v.toObject().value(QStringLiteral("t")).toDouble());
        if (t >= since.value()) {
            points.append(v);
            next = t + 1;
        }
    }
    return HttpResponse::json(QJsonObject{{QStringLiteral("id"), row.value().id},
                                          {QStringLiteral("status"), row.value().status},
                                          {QStringLiteral("series"), points},
                                          {QStringLiteral("next"), double(next)}})
        .noStore();
}

HttpResponse LoadTestsController::stop(RequestContext &ctx)
{
    auto id = m_runs.requestStop(ctx.pathParams.value(QStringLiteral("id")));
    if (!id.ok())
        return fail(ctx, id.error());
    return HttpResponse::json(QJsonObject{{QStringLiteral("id"), id.value()},
                                          {QStringLiteral("status"), QStringLiteral("stopping")}},
                              202)
        .noStore();
}

HttpResponse LoadTestsController::remove(RequestContext &ctx)
{
    auto row = m_runs.get(ctx.pathParams.value(QStringLiteral("id")));
    if (!row.ok())
        return fail(ctx, row.error());
    const QString status = row.value().status;
    if (status == QStringLiteral("queued") || status == QStringLiteral("running") ||
        status == QStringLiteral("stopping"))
        return fail(ctx, Error{ErrorCode::Conflict,
                               QStringLiteral("load-test run %1 is %2; stop it first")
                                   .arg(row.value().id, status)});
    auto removed = m_runs.remove(row.value().id);
    if (!removed.ok())
        return fail(ctx, removed.error());
    HttpResponse response;
    response.status = 204;
    return response.noStore();
}

} // namespace bulwark
