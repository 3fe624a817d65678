// SPDX-License-Identifier: GPL-3.0-or-later
// See JobHandlers.h.
#include "JobHandlers.h"

#include "SqlSession.h"
#include "ThreadRandom.h"
#include "WebhookDelivery.h"

#include <QDateTime>
#include <QDir>
#include <QDirIterator>
#include <QElapsedTimer>
#include <QSaveFile>
#include <QThread>
#include <QUuid>

namespace bulwark {

namespace {

// Sleeps up to `ms`, waking early when the job is cancelled.
bool sleepUnlessCancelled(JobContext &ctx, qint64 ms)
{
    QElapsedTimer timer;
    timer.start();
    while (timer.elapsed() < ms) {
        if (ctx.isCancelled())
            return false;
        QThread::msleep(quint64(std::min<qint64>(20, ms - timer.elapsed())));
    }
    return !ctx.isCancelled();
}

QString checkInteger(const QJsonObject &payload, const QString &name, qint64 min, qint64 max)
{
    const QJsonValue v = payload.value(name);
    if (v.isUndefined())
        return {};
    if (!v.isDouble() || v.toDouble() != double(qint64(v.toDouble())) || v.toDouble() < double(min) ||
        v.toDouble() > double(max))
        return QStringLiteral("%1 must be an integer from %2 to %3").arg(name).arg(min).arg(max);
    return {};
}

QString onlyKnownFields(const QJsonObject &payload, const QStringList &known)
{
    for (auto it = payload.begin(); it != payload.end(); ++it)
        if (!known.contains(it.key()))
            return QStringLiteral("unknown field \"%1\"%2")
                .arg(it.key(),
                     known.isEmpty() ? QStringLiteral(" (this type takes none)")
                                     : QStringLiteral(" (known: %1)").arg(known.join(QStringLiteral(", "))));
    return {};
}

JobTypeOptions options(const BuiltinJobServices &s, JobTypeOptions::Submit submit,
                       const QString &queue, JobPriority priority, const QString &description)
{
    JobTypeOptions o = JobRegistry::defaults(s.jobs);
    o.submit = submit;
    o.queue = queue;
    o.priority = priority;
    o.description = description;
    return o;
}

void registerNoop(JobRegistry &registry, const BuiltinJobServices &s)
{
    JobTypeOptions o = options(s, JobTypeOptions::Submit::Admin, QStringLiteral("default"),
                               JobPriority::Normal,
                               QStringLiteral("Does nothing: {\"sleep_ms\": 0..600000, "
                                              "\"fail_attempts\": n, \"fatal\": false}; for "
                                              "checking and benchmarking the queue."));
    o.validate = [](const QJsonObject &p) {
        QString problem = onlyKnownFields(p, {QStringLiteral("sleep_ms"),
                                              QStringLiteral("fail_attempts"),
                                              QStringLiteral("fatal"), QStringLiteral("tag")});
        if (problem.isEmpty())
            problem = checkInteger(p, QStringLiteral("sleep_ms"), 0, 600'000);
        if (problem.isEmpty())
            problem = checkInteger(p, QStringLiteral("fail_attempts"), 0, 100);
        return problem;
    };
    registry.registerHandler(
        QStringLiteral("noop"),
        [](JobContext &ctx) {
            const QJsonObject &p = ctx.payload();
            const qint64 sleep = qint64(p.value(QStringLiteral("sleep_ms")).toDouble());
            if (sleep > 0 && !sleepUnlessCancelled(ctx, sleep))
                return JobResult::retry(QStringLiteral("cancelled"));
            if (ctx.attempt() <= p.value(QStringLiteral("fail_attempts")).toInt()) {
                const QString error = QStringLiteral("failing attempt %1 as asked").arg(ctx.attempt());
                return p.value(QStringLiteral("fatal")).toBool() ? JobResult::fatal(error)
                                                                  : JobResult::retry(error);
            }
            return JobResult::success(QJsonObject{{QStringLiteral("attempt"), ctx.attempt()}});
        },
        o);
}

void registerGdprExport(JobRegistry &registry, const BuiltinJobServices &s)
{
    JobTypeOptions o = options(s, JobTypeOptions::Submit::User, QStringLiteral("default"),
                               JobPriority::Normal,
                               QStringLiteral("Writes the submitter's GDPR export to a file "
                                              "they can download once (POST "
                                              "/api/v1/me/export)."));
    o.validate = [](const QJsonObject &p) { return onlyKnownFields(p, {}); };
    const QString dir = s.exportDir;
    const GdprController *gdpr = s.gdpr;
    const qint64 ttl = s.jobs.exportTtl.count();
    registry.registerHandler(
        QStringLiteral("gdpr.export"),
        [dir, gdpr, ttl](JobContext &ctx) {
            if (!ctx.job().ownerId)
                return JobResult::fatal(QStringLiteral("an export job needs the user who asked "
                                                       "for it"));
            ctx.setProgress(0.1, QStringLiteral("reading"));
            auto document = gdpr->buildExport(*ctx.job().ownerId);
            if (!document.ok())
                return document.error().code == ErrorCode::NotFound
                           ? JobResult::fatal(document.error().message)
                           : JobResult::retry(document.error().message);
            if (ctx.isCancelled())
                return JobResult::retry(QStringLiteral("cancelled"));
            ctx.setProgress(0.8, QStringLiteral("writing"));
            if (!QDir().mkpath(dir))
                return JobResult::retry(QStringLiteral("cannot create %1").arg(dir));
            // A fresh name per attempt: an attempt repeated after a crash writes its own
            // file, and the one it left (if any) expires like any other.
            const QString name = QStringLiteral("export-%1-%2.json")
                                     .arg(ctx.id())
                                     .arg(quint64(threadRandom()()), 16, 16, QLatin1Char('0'));
            QSaveFile file(QDir(dir).filePath(name));
            if (!file.open(QIODevice::WriteOnly) ||
                file.write(document.value()) != document.value().size() || !file.commit())
                return JobResult::retry(QStringLiteral("cannot write the export: %1")
                                            .arg(file.errorString()));
            QFile::setPermissions(QDir(dir).filePath(name), QFile::ReadOwner | QFile::WriteOwner);
            // An erasure that ran meanwhile deleted this job's row and found no file to
            // delete: the file must not outlive the account.
            auto owner = gdpr->accountExists(*ctx.job().ownerId);
            if (!owner.ok() || !owner.value()) {
                QFile::remove(QDir(dir).filePath(name));
                return owner.ok() ? JobResult::fatal(QStringLiteral("the account was erased"))
                                  : JobResult::retry(owner.error().message);
            }
            const qint64 expires = QDateTime::currentMSecsSinceEpoch() + ttl;
            return JobResult::success(QJsonObject{
                {QStringLiteral("file"), name},
                {QStringLiteral("bytes"), double(document.value().size())},
                {QStringLiteral("download"), QStringLiteral("/api/v1/jobs/%1/download").arg(ctx.id())},
                {QStringLiteral("expires_at"),
                 QDateTime::fromMSecsSinceEpoch(expires, Qt::UTC).toString(Qt::ISODateWithMs)}});
        },
        o);
}

void registerCacheWarm(JobRegistry &registry, const BuiltinJobServices &s)
{
    if (!s.warmCache)
        return;
    JobTypeOptions o = options(s, JobTypeOptions::Submit::Admin, QStringLiteral("maintenance"),
                               JobPriority::Low,
                               QStringLiteral("Computes the cache.warm responses into the "
                                              "response cache."));
    o.validate = [](const QJsonObject &p) { return onlyKnownFields(p, {}); };
    const auto warm = s.warmCache;
    registry.registerHandler(
        QStringLiteral("cache.warm"),
        [warm](JobContext &) {
            return JobResult::success(QJsonObject{{QStringLiteral("stored"), warm()}});
        },
        o);
}

void registerMaintenance(JobRegistry &registry, const BuiltinJobServices &s)
{
    JobTypeOptions o = options(s, JobTypeOptions::Submit::Admin, QStringLiteral("maintenance"),
                               JobPriority::Low,
                               QStringLiteral("Refreshes planner statistics and checkpoints "
                                              "the WAL; {\"vacuum\": true} also compacts the "
                                              "database."));
    o.validate = [](const QJsonObject &p) {
        QString problem = onlyKnownFields(p, {QStringLiteral("vacuum")});
        if (problem.isEmpty() && p.contains(QStringLiteral("vacuum")) &&
            !p.value(QStringLiteral("vacuum")).isBool())
            problem = QStringLiteral("vacuum must be true or false");
        return problem;
    };
    ConnectionPool *pool = s.pool;
    QueryInsight *insight = s.insight;
    registry.registerHandler(
        QStringLiteral("db.maintenance"),
        [pool, insight](JobContext &ctx) {
            SqlSession sql(*pool, insight);
            QStringList statements;
            if (sql.isSqlite())
                statements = {QStringLiteral("PRAGMA optimize"),
                              QStringLiteral("PRAGMA wal_checkpoint(TRUNCATE)")};
            else
                statements = {QStringLiteral("ANALYZE")};
            if (ctx.payload().value(QStringLiteral("vacuum")).toBool())
                statements.append(QStringLiteral("VACUUM"));
            QJsonObject timings;
            for (qsizetype i = 0; i < statements.size(); ++i) {
                if (ctx.isCancelled())
                    return JobResult::retry(QStringLiteral("cancelled"));
                QElapsedTimer timer;
                timer.start();
                if (auto ran = sql.execUnprepared(statements.at(i)); !ran.ok())
                    return JobResult::retry(QStringLiteral("%1: %2").arg(statements.at(i),
                                                                         ran.error().message));
                timings.insert(statements.at(i), double(timer.elapsed()));
                ctx.setProgress(double(i + 1) / double(statements.size()), statements.at(i));
            }
            return JobResult::success(QJsonObject{{QStringLiteral("ms"), timings}});
        },
        o);
}

void registerPrune(JobRegistry &registry, const BuiltinJobServices &s)
{
    JobTypeOptions o = options(s, JobTypeOptions::Submit::Admin, QStringLiteral("maintenance"),
                               JobPriority::Low,
                               QStringLiteral("Deletes finished jobs, dead jobs and webhook "
                                              "deliveries past their retention, and expired "
                                              "export files."));
    o.validate = [](const QJsonObject &p) { return onlyKnownFields(p, {}); };
    JobStore *store = s.store;
    const JobsConfig jobs = s.jobs;
    const QString dir = s.exportDir;
    registry.registerHandler(
        QStringLiteral("jobs.prune"),
        [store, jobs, dir](JobContext &) {
            const qint64 now = QDateTime::currentMSecsSinceEpoch();
            auto pruned = store->prune(now, jobs.retention.count(), jobs.deadRetention.count(),
                                       jobs.deadMax);
            if (!pruned.ok())
                return JobResult::retry(pruned.error().message);
            int files = 0;
            QDirIterator it(dir, QDir::Files | QDir::Hidden);
            while (it.hasNext()) {
                const QString path = it.next();
                if (it.fileInfo().lastModified().toMSecsSinceEpoch() < now - jobs.exportTtl.count() &&
                    QFile::remove(path))
                    ++files;
            }
            return JobResult::success(
                QJsonObject{{QStringLiteral("finished_jobs"), double(pruned.value().finished)},
                            {QStringLiteral("dead_jobs"), double(pruned.value().dead)},
                            {QStringLiteral("deliveries"), double(pruned.value().deliveries)},
                            {QStringLiteral("export_files"), files}});
        },
        o);
}

void registerWebhookDelivery(JobRegistry &registry, const BuiltinJobServices &s)
{
    JobTypeOptions o = options(s, JobTypeOptions::Submit::System, QStringLiteral("webhooks"),
                               JobPriority::Normal,
                               QStringLiteral("Delivers one event to one webhook (signed POST)."));
    // A receiver down for a while should not lose events to the dead-letter queue within
    // minutes: 30 s doubling up to an hour, so the default 8 attempts span about an hour
    // (at least half of it with equal jitter). jobs.types can change it.
    o.retry.baseDelay = std::chrono::seconds(30);
    o.retry.maxDelay = std::chrono::hours(1);
    o.retry.multiplier = 2;
    o.retry.maxAttempts = s.webhooks.maxAttempts;
    // The handler gives up on a request after webhooks.timeout; the job's own timeout only
    // catches a handler that hangs beyond that.
    o.timeout = s.webhooks.timeout + std::chrono::seconds(5);
    const QList<WebhookConfig> hooks = s.webhooks.endpoints;
    const auto timeout = s.webhooks.timeout;
    JobStore *store = s.store;
    registry.registerHandler(
        QStringLiteral("webhook.deliver"),
        [hooks, timeout, store](JobContext &ctx) {
            const QJsonObject &p = ctx.payload();
            const QString name = p.value(QStringLiteral("webhook")).toString();
            const auto hook = std::find_if(hooks.begin(), hooks.end(),
                                           [&name](const WebhookConfig &w) { return w.name == name; });
            if (hook == hooks.end())
                return JobResult::fatal(
                    QStringLiteral("webhook \"%1\" is no longer configured").arg(name));
            const QString event = p.value(QStringLiteral("event")).toString();
            const QString deliveryId = p.value(QStringLiteral("delivery_id")).toString();
            const QByteArray body =
                webhookBody(deliveryId, event, qint64(p.value(QStringLiteral("emitted_at")).toDouble()),
                            p.value(QStringLiteral("data")).toObject());
            const qint64 startedMs = QDateTime::currentMSecsSinceEpoch();
            const WebhookAttempt attempt =
                deliverWebhook(QUrl(hook->url), hook->secret.toUtf8(), event, deliveryId, body,
                               startedMs / 1000, timeout, [&ctx] { return ctx.isCancelled(); });
            JobStore::Delivery log;
            log.webhook = name;
            log.event = event;
            log.deliveryId = deliveryId;
            log.jobId = ctx.id();
            log.attempt = ctx.attempt();
            log.atMs = startedMs;
            log.status = attempt.status;
            log.durationMs = attempt.durationMs;
            log.error = attempt.error;
            log.response = QString::fromUtf8(attempt.responseSnippet);
            if (auto recorded = store->recordDelivery(log); !recorded.ok())
                qWarning("webhook %s: cannot record delivery %s: %s", qPrintable(name),
                         qPrintable(deliveryId), qPrintable(recorded.error().message));
            if (attempt.success())
                return JobResult::success(QJsonObject{{QStringLiteral("status"), attempt.status},
                                                      {QStringLiteral("duration_ms"),
                                                       double(attempt.durationMs)}});
            return JobResult::retry(attempt.status > 0
                                        ? QStringLiteral("HTTP %1").arg(attempt.status)
                                        : attempt.error);
        },
        o);
}

} // namespace

void registerBuiltinJobs(JobRegistry &registry, const BuiltinJobServices &services)
{
    registerNoop(registry, services);
    registerGdprExport(registry, services);
    registerCacheWarm(registry, services);
    registerMaintenance(registry, services);
    registerPrune(registry, services);
    registerWebhookDelivery(registry, services);
}

QList<quint64> subscribeWebhooks(EventBus &events, JobQueue &jobs,
                                 const QList<WebhookConfig> &webhooks)
{
    QList<quint64> ids;
    for (const WebhookConfig &hook : webhooks) {
        // One subscription per event name, and only "*" when it is listed: an event is
        // delivered to a webhook once.
        QStringList names = hook.events;
        names.removeDuplicates();
        if (names.contains(QStringLiteral("*")))
            names = {QStringLiteral("*")};
        for (const QString &event : std::as_const(names)) {
            const QString name = hook.name;
            ids.append(events.subscribe(event, [&jobs, name](const Event &e) {
                if (e.name.startsWith(QLatin1String("job.")) &&
                    e.payload.value(QStringLiteral("type")).toString() ==
                        QLatin1String("webhook.deliver"))
                    return;
                JobSpec spec;
                spec.type = QStringLiteral("webhook.deliver");
                spec.payload = QJsonObject{
                    {QStringLiteral("webhook"), name},
                    {QStringLiteral("event"), e.name},
                    {QStringLiteral("delivery_id"), QUuid::createUuid().toString(QUuid::WithoutBraces)},
                    {QStringLiteral("emitted_at"), double(e.emittedAtMs)},
                    {QStringLiteral("data"), e.payload}};
                if (auto queued = jobs.enqueue(spec); !queued.ok())
                    qWarning("webhook %s: cannot queue %s: %s", qPrintable(name),
                             qPrintable(e.name), qPrintable(queued.error().message));
            }));
        }
    }
    return ids;
}

} // namespace bulwark
