// SPDX-License-Identifier: GPL-3.0-or-later
// See LoadTestRunner.h.
#include "LoadTestRunner.h"

#include "LoadEngine.h"
#include "RedisClient.h"
#include "RemoteWorkers.h"

#include <QDateTime>
#include <QJsonArray>
#include <QThread>
#include <QUuid>
#include <mutex>

namespace bulwark {

namespace {

constexpr std::chrono::milliseconds kTick{100};
constexpr qint64 kDistributedStartDelayMs = 2'000;
// A worker's heartbeat key expires 5 s after its last beat; still missing this much later,
// the worker is lost (a Redis hiccup or a slow beat does not lose it).
constexpr qint64 kWorkerLostMs = 2'000;
// How long after its own end the coordinator waits for the workers' totals.
constexpr qint64 kWorkersGraceMs = 30'000;

QString modelName(const Scenario &s)
{
    return s.load.model == LoadSpec::Model::Open ? QStringLiteral("open")
                                                 : QStringLiteral("closed");
}

} // namespace

RunReport LoadTestRunner::newReport(const Scenario &scenario, const QUrl &target, const QString &id)
{
    RunReport report;
    report.id = id;
    report.scenarioName = scenario.name;
    report.scenario = scenario.source;
    if (report.scenario.contains(QStringLiteral("token")))
        report.scenario.insert(QStringLiteral("token"), QStringLiteral("(hidden)"));
    report.target = target.toString();
    report.model = modelName(scenario);
    report.startedAt = QDateTime::currentDateTimeUtc();
    report.status = QStringLiteral("running");
    return report;
}

void LoadTestRunner::complete(RunReport &report, const EngineTotals &totals,
                              const Scenario &scenario)
{
    report.endpoints = totals.endpoints;
    report.overall = totals.overall();
    report.dropped = totals.dropped;
    report.interrupted = totals.interrupted;
    report.durationSeconds = totals.durationSeconds;
    int peak = 0;
    for (const SecondSample &s : report.series)
        peak = std::max(peak, s.activeUsers);
    report.peakUsers = report.series.isEmpty() ? totals.peakUsers : peak;
    report.thresholds.clear();
    const ThresholdInputs inputs{&report.overall.latency, report.overall.requests,
                                 report.overall.failed(), report.durationSeconds};
    for (const Threshold &t : scenario.thresholds) {
        const Threshold::Outcome o = t.evaluate(inputs);
        report.thresholds.append(ThresholdResult{t.text, o.passed, o.actual});
    }
}

RunReport LoadTestRunner::run(const RunOptions &options, const Callbacks &callbacks)
{
    const Scenario &scenario = *options.scenario;
    RunReport report = newReport(scenario, options.target,
                                 options.runId.isEmpty()
                                     ? QUuid::createUuid().toString(QUuid::WithoutBraces)
                                     : options.runId);
    auto stopRequested = [&] { return callbacks.stopRequested && callbacks.stopRequested(); };
    auto fail = [&](const QString &message) {
        report.status = QStringLiteral("error");
        report.error = message;
        return report;
    };
    if (auto ok = LoadEngine::check(scenario, options.target); !ok.ok())
        return fail(ok.error().message);

    // Remote workers first: the local engine starts when they are all there.
    std::unique_ptr<RemoteWorkers> remote;
    QList<RemoteWorkerInfo> workers;
    if (options.workers > 0) {
        if (!options.redis)
            return fail(QStringLiteral("workers: a distributed run needs Redis (the command's --redis, "
                                       "the server's redis.url)"));
        remote = std::make_unique<RemoteWorkers>(*options.redis, report.id);
        auto claimed = remote->claim(options.workers, options.workersTimeout, callbacks.note,
                                     callbacks.stopRequested);
        if (!claimed.ok())
            return fail(claimed.error().message);
        workers = claimed.value();
    }

    const int localThreads =
        options.threads > 0 ? options.threads : std::max(1, QThread::idealThreadCount());
    int shardCount = localThreads;
    for (const RemoteWorkerInfo &w : workers)
        shardCount += w.threads;

    EngineOptions engineOptions;
    engineOptions.scenario = options.scenario;
    engineOptions.target = options.target;
    engineOptions.token = options.token;
    engineOptions.threads = localThreads;
    engineOptions.shardBase = 0;
    engineOptions.shardCount = shardCount;
    engineOptions.io = options.io;
    engineOptions.insecureTls = options.insecureTls;
    if (remote) {
        const qint64 startWall = QDateTime::currentMSecsSinceEpoch() + kDistributedStartDelayMs;
        engineOptions.startAt =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(kDistributedStartDelayMs);
        QJsonObject common{{QStringLiteral("scenario"), RemoteWorkers::scenarioPayload(scenario)},
                           {QStringLiteral("target"), options.target.toString()},
                           {QStringLiteral("token"), QString::fromUtf8(options.token)},
                           {QStringLiteral("insecure_tls"), options.insecureTls},
                           {QStringLiteral("start_at_ms"), double(startWall)}};
        if (auto c = remote->control(false); !c.ok())
            return fail(QStringLiteral("workers: Redis: ") + c.error().message);
        if (auto a = remote->assign(workers, common, localThreads, shardCount); !a.ok())
            return fail(a.error().message);
        if (callbacks.note)
            callbacks.note(QStringLiteral("%1 workers, %2 load threads in all; starting in 2 s")
                               .arg(workers.size() + 1)
                               .arg(shardCount));
    }
    report.workers = 1 + int(workers.size());
    report.threads = shardCount;

    LoadEngine engine(engineOptions);
    if (auto started = engine.start(); !started.ok())
        return fail(started.error().message);

    // Source 0 is this process, source i the remote worker numbered i.
    SeriesMerger merger(1 + int(workers.size()));
    EngineTotals totals;
    QList<bool> workerDone(workers.size(), false);
    qint64 localFinishedAt = 0;
    qint64 lastControl = 0;
    qint64 lastProgress = 0;
    QList<qint64> missingSince(workers.size(), 0); // when each worker's heartbeat vanished
    bool stopping = false;
    // Running totals for the live report (the endpoints come with the totals at the end).
    EndpointStats live;
    live.name = QStringLiteral("all");

    auto addSeconds = [&](const QList<SecondPartial> &merged) {
        for (const SecondPartial &p : merged) {
            report.series.append(p.sample());
            live.requests += p.requests;
            for (int k = 0; k < kFailureKinds; ++k)
                live.failures[size_t(k)] += p.failuresByKind[size_t(k)];
            live.latency.merge(p.latency);
        }
    };
    auto allDone = [&] {
        return localFinishedAt != 0 &&
               std::all_of(workerDone.begin(), workerDone.end(), [](bool d) { return d; });
    };

    while (!allDone()) {
        const bool localEnded = engine.wait(kTick);
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        if (!stopping && stopRequested()) {
            stopping = true;
            engine.stop();
            if (remote)
                remote->control(true);
        }
        for (const SecondPartial &p : engine.takeSeconds())
            addSeconds(merger.add(0, p));
        if (localEnded && localFinishedAt == 0) {
            localFinishedAt = now;
            totals = engine.totals();
            addSeconds(merger.finish(0));
        }
        if (remote) {
            if (now - lastControl >= 1000) {
                remote->control(stopping);
                lastControl = now;
                for (qsizetype i = 0; i < workers.size(); ++i) {
                    if (workerDone[i])
                        continue;
                    if (remote->alive(workers[i].id)) {
                        missingSince[i] = 0;
                        continue;
                    }
                    if (missingSince[i] == 0)
                        missingSince[i] = now;
                    if (now - missingSince[i] < kWorkerLostMs)
                        continue;
                    workerDone[i] = true;
                    addSeconds(merger.finish(int(i) + 1));
                    report.error += QStringLiteral("worker %1 (%2) stopped answering: the series "
                                                   "holds the seconds it sent, the totals miss "
                                                   "its requests; ")
                                        .arg(i + 1)
                                        .arg(workers[i].id);
                }
            }
            auto messages = remote->take();
            if (messages.ok()) {
                for (const RemoteMessage &m : messages.value()) {
                    if (m.worker < 1 || m.worker > workers.size() || workerDone[m.worker - 1])
                        continue;
                    if (m.type == RemoteMessage::Type::Second) {
                        addSeconds(merger.add(m.worker, m.second));
                    } else {
                        workerDone[m.worker - 1] = true;
                        if (m.type == RemoteMessage::Type::Done)
                            totals.merge(m.totals);
                        else
                            report.error += m.error + QStringLiteral("; ");
                        addSeconds(merger.finish(m.worker));
                    }
                }
            }
            if (localFinishedAt != 0 && now - localFinishedAt > kWorkersGraceMs) {
                for (qsizetype i = 0; i < workers.size(); ++i)
                    if (!workerDone[i]) {
                        workerDone[i] = true;
                        report.error += QStringLiteral("worker %1 (%2) sent no totals within "
                                                       "30 s of the end; ")
                                            .arg(i + 1)
                                            .arg(workers[i].id);
                        addSeconds(merger.finish(int(i) + 1));
                    }
            }
        }
        if (callbacks.progress && now - lastProgress >= 1000 && !allDone()) {
            lastProgress = now;
            RunReport snapshot = report;
            snapshot.overall = live;
            snapshot.durationSeconds = double(report.series.size());
            callbacks.progress(snapshot);
        }
    }
    if (remote)
        remote->control(true); // the run is over: any straggler stops

    complete(report, totals, scenario);
    if (report.error.endsWith(QStringLiteral("; ")))
        report.error.chop(2);
    if (!report.error.isEmpty())
        report.status = QStringLiteral("error");
    else if (stopping)
        report.status = QStringLiteral("stopped");
    else
        report.status =
            report.thresholdsPassed() ? QStringLiteral("passed") : QStringLiteral("failed");
    return report;
}

} // namespace bulwark
