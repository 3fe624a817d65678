// SPDX-License-Identifier: GPL-3.0-or-later
// See JobsController.h.
#include "JobsController.h"

#include "ApiSupport.h"
#include "ConfigLoader.h"
#include "ThreadRandom.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>

namespace bulwark {

using namespace api;

namespace {

constexpr int kMaxListLimit = 500;
constexpr int kMaxBatch = 1000; // jobs per batch submission

// A time as ISO-8601 or as Unix milliseconds.
std::optional<qint64> parseTime(const QString &text)
{
    bool ok = false;
    const qint64 ms = text.toLongLong(&ok);
    if (ok)
        return ms;
    QDateTime t = QDateTime::fromString(text, Qt::ISODateWithMs);
    if (!t.isValid())
        return std::nullopt;
    // Without an offset it is UTC, as everywhere in the API (not the server's zone).
    if (t.timeSpec() == Qt::LocalTime)
        t.setTimeSpec(Qt::UTC);
    return t.toMSecsSinceEpoch();
}

QString valueText(const QJsonValue &v)
{
    if (v.isDouble())
        return QString::number(qint64(v.toDouble()));
    if (v.isArray()) {
        QStringList parts;
        for (const QJsonValue &item : v.toArray())
            parts.append(item.toString());
        return parts.join(u',');
    }
    return v.toString();
}

QJsonObject histogramJson(const Histogram::Snapshot &h)
{
    QJsonArray buckets;
    for (size_t i = 0; i < h.counts.size(); ++i)
        buckets.append(QJsonObject{
            {QStringLiteral("le"), i < h.upperBounds.size() ? QJsonValue(h.upperBounds[i])
                                                             : QJsonValue(QStringLiteral("+Inf"))},
            {QStringLiteral("count"), double(h.counts[i])}});
    return QJsonObject{{QStringLiteral("count"), double(h.count)},
                       {QStringLiteral("sum_seconds"), h.sum},
                       {QStringLiteral("p50_seconds"), h.count ? h.quantile(0.5) : 0.0},
                       {QStringLiteral("p99_seconds"), h.count ? h.quantile(0.99) : 0.0},
                       {QStringLiteral("buckets"), buckets}};
}

QString submitName(JobTypeOptions::Submit s)
{
    switch (s) {
    case JobTypeOptions::Submit::User: return QStringLiteral("user");
    case JobTypeOptions::Submit::Admin: return QStringLiteral("admin");
    case JobTypeOptions::Submit::System: break;
    }
    return QStringLiteral("system");
}

} // namespace

Result<JobFilter> JobsController::parseFilter(const std::function<QString(const QString &)> &value)
{
    JobFilter f;
    if (const QString states = value(QStringLiteral("state")); !states.isEmpty()) {
        for (const QString &name : states.split(u',', Qt::SkipEmptyParts)) {
            const auto state = jobStateFromName(name.trimmed());
            if (!state)
                return Error{ErrorCode::BadRequest,
                             QStringLiteral("state: \"%1\" is not one of queued, running, "
                                            "retrying, succeeded, dead, cancelled")
                                 .arg(name)};
            f.states.append(*state);
        }
    }
    f.type = value(QStringLiteral("type"));
    f.queue = value(QStringLiteral("queue"));
    if (const QString p = value(QStringLiteral("priority")); !p.isEmpty()) {
        f.priority = jobPriorityFromName(p);
        if (!f.priority)
            return Error{ErrorCode::BadRequest,
                         QStringLiteral("priority: \"%1\" is not one of critical, high, normal, "
                                        "low")
                             .arg(p)};
    }
    for (const auto &[name, target] :
         {std::pair{QStringLiteral("from"), &f.createdFromMs},
          std::pair{QStringLiteral("to"), &f.createdToMs}}) {
        const QString t = value(name);
        if (t.isEmpty())
            continue;
        *target = parseTime(t);
        if (!*target)
            return Error{ErrorCode::BadRequest,
                         QStringLiteral("%1: expected ISO-8601 (2026-11-29T10:00:00Z) or Unix "
                                        "milliseconds, got \"%2\"")
                             .arg(name, t)};
    }
    f.text = value(QStringLiteral("q"));
    if (const QString owner = value(QStringLiteral("owner")); !owner.isEmpty()) {
        bool ok = false;
        f.ownerId = owner.toLongLong(&ok);
        if (!ok)
            return Error{ErrorCode::BadRequest, QStringLiteral("owner: expected a user id")};
    }
    return f;
}

void JobsController::registerRoutes(Router &router)
{
    // Fixed paths before /{id}: the first pattern registered wins.
    router.add("POST", QStringLiteral("/api/v1/me/export"), [this](RequestContext &ctx) {
        return submit(ctx, false, QJsonObject{{QStringLiteral("type"), QStringLiteral("gdpr.export")}});
    });
    router.add("POST", QStringLiteral("/api/v1/jobs"), [this](RequestContext &ctx) {
        auto body = jsonBody(ctx.request);
        return body.ok() ? submit(ctx, false, body.value()) : fail(ctx, body.error());
    });
    router.add("GET", QStringLiteral("/api/v1/jobs"),
               [this](RequestContext &ctx) { return list(ctx, false); });
    router.add("GET", QStringLiteral("/api/v1/jobs/{id}"),
               [this](RequestContext &ctx) { return getOne(ctx, false); });
    router.add("POST", QStringLiteral("/api/v1/jobs/{id}/cancel"),
               [this](RequestContext &ctx) { return cancel(ctx, false); });
    router.add("GET", QStringLiteral("/api/v1/jobs/{id}/download"),
               [this](RequestContext &ctx) { return download(ctx); });

    router.add("GET", QStringLiteral("/admin/api/jobs"),
               [this](RequestContext &ctx) { return list(ctx, true); });
    router.add("POST", QStringLiteral("/admin/api/jobs"), [this](RequestContext &ctx) {
        auto body = jsonBody(ctx.request);
        return body.ok() ? submit(ctx, true, body.value()) : fail(ctx, body.error());
    });
    router.add("POST", QStringLiteral("/admin/api/jobs/bulk"), [this](RequestContext &ctx) {
        auto body = jsonBody(ctx.request);
        if (!body.ok())
            return fail(ctx, body.error());
        const QString action = body.value().value(QStringLiteral("action")).toString();
        if (action != QLatin1String("cancel") && action != QLatin1String("retry") &&
            action != QLatin1String("delete"))
            return fail(ctx, Error{ErrorCode::BadRequest,
                                   QStringLiteral("action: expected cancel, retry or delete")});
        return bulk(ctx, action, false);
    });
    router.add("GET", QStringLiteral("/admin/api/jobs/dead"), [this](RequestContext &ctx) {
        JobFilter dead;
        dead.states = {JobState::Dead};
        return list(ctx, true, dead);
    });
    router.add("POST", QStringLiteral("/admin/api/jobs/dead/requeue"),
               [this](RequestContext &ctx) { return bulk(ctx, QStringLiteral("retry"), true); });
    router.add("POST", QStringLiteral("/admin/api/jobs/dead/purge"),
               [this](RequestContext &ctx) { return bulk(ctx, QStringLiteral("delete"), true); });
    router.add("GET", QStringLiteral("/admin/api/jobs/queues"),
               [this](RequestContext &ctx) { return queues(ctx); });
    router.add("POST", QStringLiteral("/admin/api/jobs/queues/{name}/pause"),
               [this](RequestContext &ctx) { return pause(ctx, true); });
    router.add("POST", QStringLiteral("/admin/api/jobs/queues/{name}/resume"),
               [this](RequestContext &ctx) { return pause(ctx, false); });
    router.add("GET", QStringLiteral("/admin/api/jobs/stats"),
               [this](RequestContext &ctx) { return stats(ctx); });
    router.add("GET", QStringLiteral("/admin/api/jobs/types"),
               [this](RequestContext &ctx) { return types(ctx); });
    router.add("GET", QStringLiteral("/admin/api/jobs/{id}"),
               [this](RequestContext &ctx) { return getOne(ctx, true); });
    router.add("POST", QStringLiteral("/admin/api/jobs/{id}/cancel"),
               [this](RequestContext &ctx) { return cancel(ctx, true); });
    router.add("POST", QStringLiteral("/admin/api/jobs/{id}/retry"),
               [this](RequestContext &ctx) { return retry(ctx); });
    router.add("DELETE", QStringLiteral("/admin/api/jobs/{id}"),
               [this](RequestContext &ctx) { return remove(ctx); });
    router.add("GET", QStringLiteral("/admin/api/webhooks"), [this](RequestContext &) {
        QJsonArray hooks;
        for (const WebhookConfig &w : m_webhooks)
            hooks.append(QJsonObject{{QStringLiteral("name"), w.name},
                                     // Credentials in the URL stay in the configuration.
                                     {QStringLiteral("url"),
                                      QUrl(w.url).toString(QUrl::RemoveUserInfo)},
                                     {QStringLiteral("events"), QJsonArray::fromStringList(w.events)}});
        return HttpResponse::json(QJsonObject{{QStringLiteral("webhooks"), hooks}}).noStore();
    });
    router.add("GET", QStringLiteral("/admin/api/webhooks/{name}/deliveries"),
               [this](RequestContext &ctx) { return deliveries(ctx); });
}

Result<JobSpec> JobsController::parseSpec(const RequestContext &ctx, bool admin,
                                          const QJsonObject &body) const
{
    static const QStringList known{
        QStringLiteral("type"),        QStringLiteral("payload"),       QStringLiteral("priority"),
        QStringLiteral("run_at"),      QStringLiteral("unique_key"),    QStringLiteral("unique_window"),
        QStringLiteral("max_attempts"), QStringLiteral("queue")};
    for (auto it = body.begin(); it != body.end(); ++it)
        if (!known.contains(it.key()))
            return Error{ErrorCode::BadRequest,
                                   QStringLiteral("body: unknown field \"%1\" (known: %2)")
                                       .arg(it.key(), known.join(QStringLiteral(", ")))};
    JobSpec spec;
    spec.type = body.value(QStringLiteral("type")).toString();
    if (spec.type.isEmpty())
        return Error{ErrorCode::BadRequest, QStringLiteral("type: required")};
    const JobRegistry::Entry *entry = m_jobs.registry().find(spec.type);
    const bool userIsAdmin = ctx.principal && ctx.principal->admin;
    const JobTypeOptions::Submit who = entry ? entry->options.submit : JobTypeOptions::Submit::System;
    const bool allowed = admin || (who == JobTypeOptions::Submit::User) ||
                         (who == JobTypeOptions::Submit::Admin && userIsAdmin);
    if (!entry || !allowed)
        return Error{entry ? ErrorCode::Forbidden : ErrorCode::Unprocessable,
                               entry ? QStringLiteral("type: \"%1\" cannot be submitted with "
                                                      "this role")
                                           .arg(spec.type)
                                     : QStringLiteral("type: no job type \"%1\"").arg(spec.type)};
    const QJsonValue payload = body.value(QStringLiteral("payload"));
    if (!payload.isUndefined() && !payload.isObject())
        return Error{ErrorCode::BadRequest, QStringLiteral("payload: expected an object")};
    spec.payload = payload.toObject();
    if (entry->options.validate)
        if (const QString problem = entry->options.validate(spec.payload); !problem.isEmpty())
            return Error{ErrorCode::Unprocessable, QStringLiteral("payload: %1").arg(problem)};
    if (const QJsonValue p = body.value(QStringLiteral("priority")); !p.isUndefined()) {
        spec.priority = jobPriorityFromName(p.toString());
        if (!spec.priority)
            return Error{ErrorCode::BadRequest,
                                   QStringLiteral("priority: expected critical, high, normal or low")};
        if (!admin && !userIsAdmin && *spec.priority < JobPriority::Normal)
            return Error{ErrorCode::Forbidden,
                                   QStringLiteral("priority: critical and high need the admin role")};
    }
    if (const QJsonValue r = body.value(QStringLiteral("run_at")); !r.isUndefined()) {
        const auto at = parseTime(valueText(r));
        if (!at)
            return Error{ErrorCode::BadRequest,
                                   QStringLiteral("run_at: expected ISO-8601 or Unix milliseconds")};
        spec.runAtMs = *at;
    }
    if (const QJsonValue k = body.value(QStringLiteral("unique_key")); !k.isUndefined()) {
        spec.uniqueKey = k.toString();
        if (spec.uniqueKey.isEmpty() || spec.uniqueKey.size() > 200)
            return Error{ErrorCode::BadRequest,
                                   QStringLiteral("unique_key: 1 to 200 characters")};
        // Users' keys never collide with other users' or the system's.
        if (!admin)
            spec.uniqueKey = QStringLiteral("user:%1:%2").arg(ctx.principal->userId).arg(spec.uniqueKey);
        // A duration as in the configuration: "10m", "250ms", or a number of seconds.
        const QJsonValue w = body.value(QStringLiteral("unique_window"));
        const auto window = w.isUndefined() ? std::optional<qint64>(3'600'000)
                            : w.isDouble()  ? std::optional<qint64>(qint64(w.toDouble() * 1000))
                                            : ConfigLoader::parseDurationMs(w.toString());
        if (!window || *window <= 0)
            return Error{ErrorCode::BadRequest,
                                   QStringLiteral("unique_window: expected a duration such as "
                                                  "\"10m\"")};
        spec.uniqueWindowMs = *window;
    }
    if (const QJsonValue m = body.value(QStringLiteral("max_attempts")); !m.isUndefined()) {
        const int n = m.toInt(-1);
        if (n < 1 || n > 100)
            return Error{ErrorCode::BadRequest,
                                   QStringLiteral("max_attempts: an integer from 1 to 100")};
        spec.maxAttempts = n;
    }
    if (const QJsonValue q = body.value(QStringLiteral("queue")); !q.isUndefined()) {
        if (!admin)
            return Error{ErrorCode::Forbidden,
                                   QStringLiteral("queue: only the admin API chooses queues")};
        spec.queue = q.toString();
    }
    if (ctx.principal)
        spec.ownerId = ctx.principal->userId;
    return spec;
}

HttpResponse JobsController::submit(RequestContext &ctx, bool admin, const QJsonObject &body)
{
    if (admin && body.contains(QStringLiteral("jobs"))) {
        // Many jobs in one transaction: {"jobs": [{...}, ...]}, each as a single submission.
        const QJsonValue items = body.value(QStringLiteral("jobs"));
        if (!items.isArray() || body.size() != 1 || items.toArray().isEmpty() ||
            items.toArray().size() > kMaxBatch)
            return fail(ctx, Error{ErrorCode::BadRequest,
                                   QStringLiteral("body: expected {\"jobs\": [...]} with 1 to %1 "
                                                  "jobs")
                                       .arg(kMaxBatch)});
        QList<JobSpec> specs;
        const QJsonArray array = items.toArray();
        for (qsizetype i = 0; i < array.size(); ++i) {
            auto spec = parseSpec(ctx, admin, array.at(i).toObject());
            if (!spec.ok()) {
                Error e = spec.error();
                e.message = QStringLiteral("jobs[%1].%2").arg(i).arg(e.message);
                return fail(ctx, e);
            }
            specs.append(spec.value());
        }
        auto enqueued = m_jobs.enqueue(specs);
        if (!enqueued.ok())
            return fail(ctx, enqueued.error());
        QJsonArray ids;
        for (const Enqueued &e : enqueued.value())
            ids.append(double(e.id));
        return HttpResponse::json(QJsonObject{{QStringLiteral("ids"), ids}}, 202).noStore();
    }
    auto parsed = parseSpec(ctx, admin, body);
    if (!parsed.ok())
        return fail(ctx, parsed.error());
    const JobSpec &spec = parsed.value();
    auto enqueued = m_jobs.enqueue(spec);
    if (!enqueued.ok())
        return fail(ctx, enqueued.error());
    auto record = m_jobs.store().get(enqueued.value().id);
    if (!record.ok() || !record.value())
        return fail(ctx, record.ok() ? Error{ErrorCode::Internal, QStringLiteral("job vanished")}
                                     : record.error());
    QJsonObject out = record.value()->toJson();
    if (enqueued.value().duplicate)
        out.insert(QStringLiteral("duplicate"), true);
    HttpResponse response = HttpResponse::json(out, enqueued.value().duplicate ? 200 : 202);
    response.setHeader(QByteArrayLiteral("Location"),
                       QStringLiteral("%1/jobs/%2")
                           .arg(admin ? QStringLiteral("/admin/api") : QStringLiteral("/api/v1"))
                           .arg(enqueued.value().id)
                           .toUtf8());
    return response.noStore();
}

HttpResponse JobsController::list(RequestContext &ctx, bool admin, std::optional<JobFilter> forced)
{
    auto filter = parseFilter([&ctx](const QString &name) {
        return ctx.request.queryValue(name.toLatin1());
    });
    if (!filter.ok())
        return fail(ctx, filter.error());
    JobFilter f = filter.value();
    if (forced)
        f.states = forced->states;
    if (!admin)
        f.ownerId = ctx.principal->userId;
    auto limit = intParam(ctx.request, "limit", 50, 1, kMaxListLimit);
    if (!limit.ok())
        return fail(ctx, limit.error());
    const QString beforeText = ctx.request.queryValue("before");
    const qint64 before = beforeText.toLongLong();
    auto jobs = m_jobs.store().list(f, before, limit.value());
    if (!jobs.ok())
        return fail(ctx, jobs.error());
    QJsonArray items;
    for (const JobRecord &j : jobs.value())
        items.append(j.toJson(false));
    QJsonObject out{{QStringLiteral("jobs"), items}};
    if (jobs.value().size() == limit.value())
        out.insert(QStringLiteral("next_before"), double(jobs.value().last().id));
    return HttpResponse::json(out).noStore();
}

Result<JobRecord> JobsController::visibleJob(RequestContext &ctx, bool admin)
{
    const auto id = idParam(ctx);
    if (!id)
        return Error{ErrorCode::NotFound, QStringLiteral("ids are positive integers")};
    auto job = m_jobs.store().get(*id);
    if (!job.ok())
        return job.error();
    // Someone else's job is "not found", not "forbidden": ids do not leak.
    if (!job.value() || (!admin && job.value()->ownerId != ctx.principal->userId))
        return Error{ErrorCode::NotFound, QStringLiteral("no job %1").arg(*id)};
    return *job.value();
}

HttpResponse JobsController::getOne(RequestContext &ctx, bool admin)
{
    auto job = visibleJob(ctx, admin);
    if (!job.ok())
        return fail(ctx, job.error());
    QJsonObject out = job.value().toJson();
    if (!admin) {
        // Which host holds the job is the operators' business.
        out.remove(QStringLiteral("lease_owner"));
        out.remove(QStringLiteral("lease_until"));
    }
    return HttpResponse::json(out).noStore();
}

HttpResponse JobsController::cancel(RequestContext &ctx, bool admin)
{
    auto job = visibleJob(ctx, admin);
    if (!job.ok())
        return fail(ctx, job.error());
    auto cancelled = m_jobs.cancel(job.value().id);
    if (!cancelled.ok())
        return fail(ctx, cancelled.error());
    const bool requested = cancelled.value().requested;
    return HttpResponse::json(
               QJsonObject{{QStringLiteral("id"), double(job.value().id)},
                           {QStringLiteral("state"), jobStateName(cancelled.value().state)},
                           {QStringLiteral("cancel_requested"), requested}},
               requested ? 202 : 200)
        .noStore();
}

HttpResponse JobsController::retry(RequestContext &ctx)
{
    auto job = visibleJob(ctx, true);
    if (!job.ok())
        return fail(ctx, job.error());
    auto retried = m_jobs.store().retry(job.value().id, m_jobs.now());
    if (!retried.ok())
        return fail(ctx, retried.error());
    m_jobs.wake();
    return HttpResponse::json(retried.value().toJson()).noStore();
}

HttpResponse JobsController::remove(RequestContext &ctx)
{
    auto job = visibleJob(ctx, true);
    if (!job.ok())
        return fail(ctx, job.error());
    auto removed = m_jobs.store().remove(job.value().id);
    if (!removed.ok())
        return fail(ctx, removed.error());
    HttpResponse response;
    response.status = 204;
    return response.noStore();
}

HttpResponse JobsController::bulk(RequestContext &ctx, const QString &action, bool deadOnly)
{
    QJsonObject body;
    if (!ctx.request.body.isEmpty()) {
        auto parsed = jsonBody(ctx.request);
        if (!parsed.ok())
            return fail(ctx, parsed.error());
        body = parsed.value();
    }
    const QJsonValue filterValue = body.value(QStringLiteral("filter"));
    if (!filterValue.isUndefined() && !filterValue.isObject())
        return fail(ctx, Error{ErrorCode::BadRequest, QStringLiteral("filter: expected an object")});
    const QJsonObject filterObject = filterValue.toObject();
    // A value that reads as nothing (null, true, "", [], {}) would widen the action to
    // every job: refused, so that only "all": true does that.
    for (auto it = filterObject.begin(); it != filterObject.end(); ++it) {
        const QJsonValue v = it.value();
        const bool usable = (v.isString() && !v.toString().isEmpty()) || v.isDouble() ||
                            (v.isArray() && !v.toArray().isEmpty() &&
                             std::all_of(v.toArray().begin(), v.toArray().end(),
                                         [](const QJsonValue &item) {
                                             return item.isString() && !item.toString().isEmpty();
                                         }));
        if (!usable)
            return fail(ctx, Error{ErrorCode::BadRequest,
                                   QStringLiteral("filter.%1: expected a non-empty string or a "
                                                  "number")
                                       .arg(it.key())});
    }
    // A misspelt field must not widen the filter to every job.
    static const QStringList filterFields{
        QStringLiteral("state"), QStringLiteral("type"), QStringLiteral("queue"),
        QStringLiteral("priority"), QStringLiteral("from"), QStringLiteral("to"),
        QStringLiteral("q"), QStringLiteral("owner")};
    for (auto it = filterObject.begin(); it != filterObject.end(); ++it)
        if (!filterFields.contains(it.key()))
            return fail(ctx, Error{ErrorCode::BadRequest,
                                   QStringLiteral("filter: unknown field \"%1\" (known: %2)")
                                       .arg(it.key(), filterFields.join(QStringLiteral(", ")))});
    auto filter = parseFilter([&filterObject](const QString &name) {
        return valueText(filterObject.value(name));
    });
    if (!filter.ok())
        return fail(ctx, Error{filter.error().code, QStringLiteral("filter.") + filter.error().message});
    JobFilter f = filter.value();
    if (deadOnly)
        f.states = {JobState::Dead};
    const bool all = body.value(QStringLiteral("all")).toBool();
    if (f.isEmpty() && !deadOnly && !all)
        return fail(ctx, Error{ErrorCode::BadRequest,
                               QStringLiteral("filter: empty; say \"all\": true to act on every "
                                              "job")});
    Result<qint64> changed = qint64(0);
    if (action == QLatin1String("cancel"))
        changed = m_jobs.store().cancelMatching(f, m_jobs.now());
    else if (action == QLatin1String("retry"))
        changed = m_jobs.store().retryMatching(f, m_jobs.now());
    else
        changed = m_jobs.store().removeMatching(f);
    if (!changed.ok())
        return fail(ctx, changed.error());
    m_jobs.wake();
    return HttpResponse::json(QJsonObject{{QStringLiteral("action"), action},
                                          {QStringLiteral("jobs"), double(changed.value())}})
        .noStore();
}

HttpResponse JobsController::download(RequestContext &ctx)
{
    auto job = visibleJob(ctx, false);
    if (!job.ok())
        return fail(ctx, job.error());
    const JobRecord &j = job.value();
    if (j.type != QLatin1String("gdpr.export"))
        return fail(ctx, Error{ErrorCode::NotFound, QStringLiteral("job %1 has no download").arg(j.id)});
    if (j.state != JobState::Succeeded)
        return fail(ctx, Error{ErrorCode::Conflict,
                               QStringLiteral("job %1 is %2; the export is not ready")
                                   .arg(j.id)
                                   .arg(jobStateName(j.state))});
    const QString file = j.result.value(QStringLiteral("file")).toString();
    // The name comes from our own handler; still, never leave the export directory.
    if (file.isEmpty() || file.contains(u'/') || file.contains(u'\\') || file.startsWith(u'.'))
        return fail(ctx, Error{ErrorCode::NotFound, QStringLiteral("job %1 has no download").arg(j.id)});
    const QDir dir(m_exportDir);
    if (ctx.request.method == "HEAD") {
        // HEAD tells whether the download is still there; only GET takes it.
        // The writer sends the length of the body and drops the body itself.
        QFile peek(dir.filePath(file));
        if (!peek.open(QIODevice::ReadOnly))
            return fail(ctx, Error{ErrorCode::Gone,
                                   QStringLiteral("the export of job %1 was already downloaded or "
                                                  "has expired; submit a new one")
                                       .arg(j.id)});
        HttpResponse head = HttpResponse::bytes(peek.readAll(), QByteArrayLiteral("application/json"));
        head.setHeader(QByteArrayLiteral("Content-Disposition"),
                       QByteArrayLiteral("attachment; filename=\"bulwark-export.json\""));
        return head.noStore();
    }
    // Renaming first makes the download happen once even when two requests race: only one
    // rename succeeds.
    const QString taken = dir.filePath(QStringLiteral(".sending-%1-%2")
                                           .arg(file)
                                           .arg(quint64(threadRandom()()), 0, 16));
    if (!QFile::rename(dir.filePath(file), taken))
        return fail(ctx, Error{ErrorCode::Gone,
                               QStringLiteral("the export of job %1 was already downloaded or has "
                                              "expired; submit a new one")
                                   .arg(j.id)});
    QFile f(taken);
    if (!f.open(QIODevice::ReadOnly)) {
        QFile::remove(taken);
        return fail(ctx, Error{ErrorCode::Internal, QStringLiteral("cannot read the export file")});
    }
    QByteArray bytes = f.readAll();
    f.close();
    QFile::remove(taken);
    HttpResponse response = HttpResponse::bytes(std::move(bytes), QByteArrayLiteral("application/json"));
    response.setHeader(QByteArrayLiteral("Content-Disposition"),
                       QByteArrayLiteral("attachment; filename=\"bulwark-export.json\""));
    return response.noStore();
}

HttpResponse JobsController::queues(RequestContext &ctx)
{
    const JobQueue::LocalStats local = m_jobs.localStats();
    const JobQueue::DepthSnapshot depth = m_jobs.depth();
    auto paused = m_jobs.store().pausedQueues();
    if (!paused.ok())
        return fail(ctx, paused.error());
    QJsonArray out;
    for (const JobQueueConfig &q : m_jobs.options().queues) {
        qint64 ready = 0, scheduled = 0, retrying = 0, running = 0;
        for (const JobStore::Depth &d : depth.depth) {
            if (d.queue != q.name)
                continue;
            ready += d.ready;
            scheduled += d.scheduled;
            retrying += d.retrying;
            running += d.running;
        }
        out.append(QJsonObject{{QStringLiteral("name"), q.name},
                               {QStringLiteral("concurrency"), q.concurrency},
                               {QStringLiteral("paused"), paused.value().contains(q.name)},
                               {QStringLiteral("held_here"), local.held.value(q.name)},
                               {QStringLiteral("ready"), double(ready)},
                               {QStringLiteral("scheduled"), double(scheduled)},
                               {QStringLiteral("retrying"), double(retrying)},
                               {QStringLiteral("running"), double(running)}});
    }
    return HttpResponse::json(QJsonObject{{QStringLiteral("queues"), out}}).noStore();
}

HttpResponse JobsController::pause(RequestContext &ctx, bool paused)
{
    const QString name = ctx.pathParams.value(QStringLiteral("name"));
    auto set = m_jobs.setPaused(name, paused);
    if (!set.ok())
        return fail(ctx, set.error());
    qInfo("job queue %s %s through the admin API", qPrintable(name), paused ? "paused" : "resumed");
    return HttpResponse::json(QJsonObject{{QStringLiteral("queue"), name},
                                          {QStringLiteral("paused"), paused}})
        .noStore();
}

HttpResponse JobsController::stats(RequestContext &ctx)
{
    auto stats = m_jobs.store().stats(m_jobs.now());
    if (!stats.ok())
        return fail(ctx, stats.error());
    const JobStore::Stats &s = stats.value();
    QJsonArray depth;
    qint64 running = 0;
    for (const JobStore::Depth &d : s.depth) {
        running += d.running;
        depth.append(QJsonObject{{QStringLiteral("queue"), d.queue},
                                 {QStringLiteral("priority"), jobPriorityName(d.priority)},
                                 {QStringLiteral("ready"), double(d.ready)},
                                 {QStringLiteral("scheduled"), double(d.scheduled)},
                                 {QStringLiteral("retrying"), double(d.retrying)},
                                 {QStringLiteral("running"), double(d.running)}});
    }
    auto counts = [](const QHash<QString, qint64> &h) {
        return QJsonObject{{QStringLiteral("succeeded"), double(h.value(QStringLiteral("succeeded")))},
                           {QStringLiteral("dead"), double(h.value(QStringLiteral("dead")))},
                           {QStringLiteral("cancelled"), double(h.value(QStringLiteral("cancelled")))}};
    };
    // Jobs that failed within the hour (now retrying or dead) among those that succeeded or
    // failed: a dead job is in failedLastHour already, so it is not counted twice.
    const qint64 succeededHour = s.lastHour.value(QStringLiteral("succeeded"));
    const double failureRate =
        succeededHour + s.failedLastHour > 0
            ? double(s.failedLastHour) / double(succeededHour + s.failedLastHour)
            : 0.0;
    const JobQueue::LocalStats local = m_jobs.localStats();
    QJsonObject instance{{QStringLiteral("id"), m_jobs.instanceId()},
                         {QStringLiteral("workers"), local.workers},
                         {QStringLiteral("busy"), local.busy},
                         {QStringLiteral("waiting"), local.waiting},
                         {QStringLiteral("claimed"), double(local.claimed)},
                         {QStringLiteral("succeeded"), double(local.succeeded)},
                         {QStringLiteral("failed_attempts"), double(local.failed)},
                         {QStringLiteral("dead"), double(local.dead)},
                         {QStringLiteral("cancelled"), double(local.cancelled)},
                         {QStringLiteral("released"), double(local.released)},
                         {QStringLiteral("store_errors"), double(local.storeErrors)},
                         {QStringLiteral("shutting_down"), local.shuttingDown},
                         {QStringLiteral("wait_seconds"), histogramJson(local.wait)},
                         {QStringLiteral("run_seconds"), histogramJson(local.run)}};
    return HttpResponse::json(
               QJsonObject{{QStringLiteral("depth"), depth},
                           {QStringLiteral("running"), double(running)},
                           {QStringLiteral("dead"), double(s.dead)},
                           {QStringLiteral("finished_last_minute"), counts(s.lastMinute)},
                           {QStringLiteral("finished_last_hour"), counts(s.lastHour)},
                           {QStringLiteral("throughput_per_second"),
                            double(s.lastMinute.value(QStringLiteral("succeeded")) +
                                   s.lastMinute.value(QStringLiteral("dead"))) /
                                60.0},
                           {QStringLiteral("failed_jobs_last_hour"), double(s.failedLastHour)},
                           {QStringLiteral("failure_rate_last_hour"), failureRate},
                           {QStringLiteral("instance"), instance}})
        .noStore();
}

HttpResponse JobsController::types(RequestContext &)
{
    QJsonArray out;
    for (const QString &type : m_jobs.registry().types()) {
        const JobTypeOptions &o = m_jobs.registry().find(type)->options;
        out.append(QJsonObject{{QStringLiteral("type"), type},
                               {QStringLiteral("description"), o.description},
                               {QStringLiteral("submit"), submitName(o.submit)},
                               {QStringLiteral("queue"), o.queue},
                               {QStringLiteral("priority"), jobPriorityName(o.priority)},
                               {QStringLiteral("max_attempts"), o.retry.maxAttempts},
                               {QStringLiteral("backoff_base_ms"), double(o.retry.baseDelay.count())},
                               {QStringLiteral("backoff_max_ms"), double(o.retry.maxDelay.count())},
                               {QStringLiteral("backoff_multiplier"), o.retry.multiplier},
                               {QStringLiteral("backoff_jitter"), o.retry.jitter},
                               {QStringLiteral("timeout_ms"), double(o.timeout.count())}});
    }
    return HttpResponse::json(QJsonObject{{QStringLiteral("types"), out}}).noStore();
}

HttpResponse JobsController::deliveries(RequestContext &ctx)
{
    const QString name = ctx.pathParams.value(QStringLiteral("name"));
    const bool known = std::any_of(m_webhooks.begin(), m_webhooks.end(),
                                   [&name](const WebhookConfig &w) { return w.name == name; });
    if (!known)
        return fail(ctx, Error{ErrorCode::NotFound, QStringLiteral("no webhook \"%1\"").arg(name)});
    auto limit = intParam(ctx.request, "limit", 50, 1, kMaxListLimit);
    if (!limit.ok())
        return fail(ctx, limit.error());
    auto rows = m_jobs.store().deliveries(name, ctx.request.queryValue("before").toLongLong(),
                                          limit.value());
    if (!rows.ok())
        return fail(ctx, rows.error());
    QJsonArray out;
    for (const JobStore::Delivery &d : rows.value())
        out.append(d.toJson());
    QJsonObject body{{QStringLiteral("deliveries"), out}};
    if (rows.value().size() == limit.value())
        body.insert(QStringLiteral("next_before"), double(rows.value().last().id));
    return HttpResponse::json(body).noStore();
}

} // namespace bulwark
