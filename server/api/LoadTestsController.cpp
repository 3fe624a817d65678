// SPDX-License-Identifier: GPL-3.0-or-later
// See LoadTestsController.h.
#include "LoadTestsController.h"

#include "ApiSupport.h"
#include "LoadTestRuns.h"
#include "LoadTestRunner.h"

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
    if (request.value().workers > 0 && !m_distributed)
        return fail(ctx, Error{ErrorCode::Unprocessable,
                               QStringLiteral("workers: a distributed run needs Redis; this "
                                              "server has no redis.url")});

    RunReport queued = LoadTestRunner::newReport(scenario, request.value().target,
                                                 QUuid::createUuid().toString(QUuid::WithoutBraces));
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
    m_runs.setJobId(queued.id, enqueued.value().id);
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
        data.append(summary(reconcile(r)));
    return HttpResponse::json(QJsonObject{{QStringLiteral("data"), data},
                                          {QStringLiteral("total"), double(total.value())}})
        .noStore();
}

HttpResponse LoadTestsController::getOne(RequestContext &ctx)
{
    auto row = current(ctx.pathParams.value(QStringLiteral("id")));
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
    auto row = current(ctx.pathParams.value(QStringLiteral("id")));
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
    auto row = current(ctx.pathParams.value(QStringLiteral("id")));
    if (!row.ok())
        return fail(ctx, row.error());
    auto id = m_runs.requestStop(row.value().id);
    if (!id.ok())
        return fail(ctx, id.error());
    // A queued run's job need not wait for its turn to find out: cancelled, it never runs,
    // and current() then records the run as stopped.
    if (row.value().status == QStringLiteral("queued") && row.value().jobId > 0)
        m_jobs.cancel(row.value().jobId);
    return HttpResponse::json(QJsonObject{{QStringLiteral("id"), id.value()},
                                          {QStringLiteral("status"), QStringLiteral("stopping")}},
                              202)
        .noStore();
}

Result<LoadTestRunRow> LoadTestsController::current(const QString &idOrPrefix)
{
    auto row = m_runs.get(idOrPrefix);
    if (!row.ok())
        return row.error();
    return reconcile(row.value());
}

LoadTestRunRow LoadTestsController::reconcile(LoadTestRunRow row)
{
    const bool open = row.status == QStringLiteral("queued") ||
                      row.status == QStringLiteral("running") ||
                      row.status == QStringLiteral("stopping");
    if (!open || row.jobId <= 0)
        return row;
    auto job = m_jobs.store().get(row.jobId);
    if (!job.ok())
        return row; // the database is having trouble: report what we have
    QString status;
    QString error;
    if (!job.value()) {
        status = QStringLiteral("error");
        error = QStringLiteral("its job %1 no longer exists").arg(row.jobId);
    } else {
        switch (job.value()->state) {
        case JobState::Cancelled:
            status = QStringLiteral("stopped");
            break;
        case JobState::Dead:
            status = QStringLiteral("error");
            error = QStringLiteral("its job %1 died: %2").arg(row.jobId).arg(job.value()->error);
            break;
        case JobState::Succeeded: // it saves the run before it succeeds; this save failed
            status = QStringLiteral("error");
            error = QStringLiteral("its job %1 ended without storing the final report").arg(row.jobId);
            break;
        default:
            return row; // still queued, running or retrying: nothing to mend
        }
    }
    // The row may have moved on since it was read (the job's own final save): only a row
    // still open is changed, and then re-read.
    auto fresh = m_runs.get(row.id);
    if (!fresh.ok())
        return row;
    LoadTestRunRow mended = fresh.value();
    if (mended.status != QStringLiteral("queued") && mended.status != QStringLiteral("running") &&
        mended.status != QStringLiteral("stopping"))
        return mended;
    setRunStatus(mended, status, error);
    m_runs.save(mended);
    return mended;
}

HttpResponse LoadTestsController::remove(RequestContext &ctx)
{
    auto row = current(ctx.pathParams.value(QStringLiteral("id")));
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
