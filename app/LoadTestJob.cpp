// SPDX-License-Identifier: GPL-3.0-or-later
// See LoadTestJob.h.
#include "LoadTestJob.h"

#include "LoadTestRuns.h"
#include "LoadTestsController.h"

#include <QDateTime>
#include <QUuid>

namespace bulwark {

void registerLoadTestJob(JobRegistry &registry, const LoadTestJobServices &s)
{
    JobTypeOptions o = JobRegistry::defaults(s.jobs);
    o.submit = JobTypeOptions::Submit::Admin;
    const bool hasQueue = std::any_of(s.jobs.queues.begin(), s.jobs.queues.end(),
                                      [](const JobQueueConfig &q) { return q.name == QStringLiteral("loadtest"); });
    o.queue = hasQueue ? QStringLiteral("loadtest") : QStringLiteral("default");
    o.priority = JobPriority::Normal;
    o.retry.maxAttempts = 1;
    o.timeout = std::chrono::hours(24 * 7 + 1); // the longest shape, and time to report
    o.description = QStringLiteral("Runs a load test: {\"scenario\": {...} or \"demo\", "
                                   "\"target\": URL, ...} (see POST /admin/api/loadtests).");
    RedisClient *redis = s.redis;
    o.validate = [redis](const QJsonObject &payload) {
        auto request = parseLoadTestRequest(payload);
        if (!request.ok())
            return request.error().message;
        if (request.value().workers > 0 && !redis)
            return QStringLiteral("workers: a distributed run needs Redis; this server has no "
                                  "redis.url");
        return QString();
    };
    LoadTestRunStore *runs = s.runs;
    registry.registerHandler(
        QLatin1String(LoadTestsController::kJobType),
        [runs, redis](JobContext &ctx) {
            auto request = parseLoadTestRequest(ctx.payload());
            if (!request.ok())
                return JobResult::fatal(request.error().message);
            const LoadTestRequest &r = request.value();
            RunOptions options;
            options.scenario = r.scenario;
            options.target = r.target;
            options.token = r.token;
            options.threads = r.threads;
            options.workers = r.workers;
            options.redis = redis;
            options.runId = r.runId.isEmpty() ? QUuid::createUuid().toString(QUuid::WithoutBraces)
                                              : r.runId;
            const RunReport starting = LoadTestRunner::newReport(*r.scenario, r.target, options.runId);
            LoadTestRunRow startRow = runRow(starting);
            startRow.jobId = ctx.id();
            // Only a queued (or new) run starts: one asked to stop before it began ends here,
            // and a repeat of this job after a restart does not run an ended run again.
            QString found;
            auto begun = runs->begin(startRow, &found);
            if (!begun.ok())
                return JobResult::retry(begun.error().message);
            if (!begun.value()) {
                // "stopping": stopped before it began. "running": an earlier attempt of this
                // job died with its instance mid-run; what it measured is kept, the run is
                // not started again. Anything else has ended and stays as it is.
                QString error;
                if (found == QStringLiteral("running"))
                    error = QStringLiteral("the instance running it stopped before it finished");
                if (found == QStringLiteral("stopping") || found == QStringLiteral("running")) {
                    auto row = runs->get(options.runId);
                    found = error.isEmpty() ? QStringLiteral("stopped") : QStringLiteral("error");
                    if (row.ok()) {
                        LoadTestRunRow ended = row.value();
                        setRunStatus(ended, found, error);
                        runs->save(ended);
                    }
                }
                return JobResult::success(QJsonObject{{QStringLiteral("run"), options.runId},
                                                      {QStringLiteral("status"), found}});
            }

            bool stopAsked = false;
            const double total = double(r.scenario->load.shape.totalDurationMs()) / 1000.0;
            LoadTestRunner::Callbacks callbacks;
            callbacks.stopRequested = [&] { return stopAsked || ctx.isCancelled(); };
            callbacks.progress = [&](const RunReport &live) {
                auto still = runs->saveProgress(runRow(live));
                if (still.ok() && !still.value())
                    stopAsked = true; // someone set "stopping"
                ctx.setProgress(total > 0 ? double(live.series.size()) / total : 0.0,
                                QStringLiteral("%1 requests").arg(live.overall.requests));
            };
            RunReport report = LoadTestRunner::run(options, callbacks);
            report.startedAt = starting.startedAt;
            LoadTestRunRow finalRow = runRow(report);
            finalRow.jobId = ctx.id();
            if (auto saved = runs->save(finalRow); !saved.ok())
                qWarning("loadtest %s: the final report was not stored: %s",
                         qPrintable(report.id), qPrintable(saved.error().message));
            const QJsonObject result{{QStringLiteral("run"), report.id},
                                     {QStringLiteral("status"), report.status},
                                     {QStringLiteral("requests"), double(report.overall.requests)},
                                     {QStringLiteral("failures"), double(report.overall.failed())}};
            if (report.status == QStringLiteral("error") && report.overall.requests == 0)
                return JobResult::fatal(report.error);
            // A run whose thresholds failed still ran: the job succeeded, the run says how.
            return JobResult::success(result);
        },
        o);
}

} // namespace bulwark
