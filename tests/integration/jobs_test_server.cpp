// SPDX-License-Identifier: GPL-3.0-or-later
// `bulwark --server` as an embedding program builds it: the same composition root
// (ServerApp) plus one job type of its own, registered through ServerApp::jobRegistry()
// before start. The durability tests (tst_jobs_durability) run it as a process so they can
// kill -9 it, stop it with SIGTERM and run two of it against one PostgreSQL.
//
//   jobs_test_server --config FILE
//
// test.record {"sleep_ms": n}: sleeps n ms (waking when cancelled), then, in one
// transaction, appends (job, attempt, instance, start, end) to test_runs and inserts the
// job id into test_results if it is not there yet. test_results is the idempotent effect
// (one row per job however often it ran); test_runs tells how often and where it ran.
#include "ConfigLoader.h"
#include "Logger.h"
#include "ServerApp.h"
#include "SignalWatcher.h"
#include "SqlSession.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QProcessEnvironment>
#include <QThread>
#include <cstdio>
#include <mutex>

using namespace bulwark;

namespace {

// Once per process, before the first run (jobs left queued by a killed process may start
// as soon as the server does). On PostgreSQL the test creates them first.
Result<bool> ensureTables(ConnectionPool &pool)
{
    static std::once_flag once;
    static Result<bool> outcome = true;
    std::call_once(once, [&pool] {
        SqlSession sql(pool, nullptr);
        for (const QString &statement :
             {QStringLiteral("CREATE TABLE IF NOT EXISTS test_runs (job_id BIGINT NOT NULL, "
                             "attempt INTEGER NOT NULL, instance TEXT NOT NULL, started_ms BIGINT "
                             "NOT NULL, finished_ms BIGINT NOT NULL)"),
              QStringLiteral("CREATE TABLE IF NOT EXISTS test_results (job_id BIGINT PRIMARY "
                             "KEY, instance TEXT NOT NULL)")})
            if (auto made = sql.execUnprepared(statement); !made.ok()) {
                outcome = made.error();
                return;
            }
    });
    return outcome;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = QCoreApplication::arguments();
    if (args.size() != 3 || args.at(1) != QLatin1String("--config")) {
        std::fprintf(stderr, "usage: jobs_test_server --config FILE\n");
        return 2;
    }
    ConfigLoader::Sources sources;
    sources.file = args.at(2);
    sources.environment = QProcessEnvironment::systemEnvironment();
    const auto loaded = ConfigLoader::load(sources);
    if (!loaded) {
        for (const QString &line : loaded.error())
            std::fprintf(stderr, "jobs_test_server: %s\n", qPrintable(line));
        return 2;
    }
    Logger::install(loaded.value().log.level);
    ServerApp server(loaded.value());

    JobTypeOptions options = JobRegistry::defaults(loaded.value().jobs);
    options.submit = JobTypeOptions::Submit::Admin;
    options.description = QStringLiteral("test: records each run and its idempotent result");
    server.jobRegistry().registerHandler(
        QStringLiteral("test.record"),
        [&server](JobContext &ctx) {
            const qint64 started = QDateTime::currentMSecsSinceEpoch();
            QElapsedTimer timer;
            timer.start();
            const qint64 sleep = qint64(ctx.payload().value(QStringLiteral("sleep_ms")).toDouble());
            while (timer.elapsed() < sleep) {
                if (ctx.isCancelled())
                    return JobResult::retry(QStringLiteral("cancelled"));
                QThread::msleep(5);
            }
            if (auto tables = ensureTables(*server.pool()); !tables.ok())
                return JobResult::retry(tables.error().message);
            SqlSession sql(*server.pool(), nullptr);
            if (auto begun = sql.beginWrite(); !begun.ok())
                return JobResult::retry(begun.error().message);
            const QString instance = server.jobs()->instanceId();
            auto run = sql.exec(QStringLiteral("INSERT INTO test_runs (job_id, attempt, instance, "
                                               "started_ms, finished_ms) VALUES (?, ?, ?, ?, ?)"),
                                {ctx.id(), ctx.attempt(), instance, started,
                                 QDateTime::currentMSecsSinceEpoch()});
            if (!run.ok())
                return JobResult::retry(run.error().message);
            auto result = sql.exec(QStringLiteral("INSERT INTO test_results (job_id, instance) "
                                                  "VALUES (?, ?) ON CONFLICT (job_id) DO NOTHING"),
                                   {ctx.id(), instance});
            if (!result.ok())
                return JobResult::retry(result.error().message);
            if (auto committed = sql.commit(); !committed.ok())
                return JobResult::retry(committed.error().message);
            return JobResult::success();
        },
        options);

    SignalWatcher signals;
    QString error;
    if (!signals.install(&error) || !server.start(&error)) {
        std::fprintf(stderr, "jobs_test_server: %s\n", qPrintable(error));
        return 1;
    }
    QObject::connect(&signals, &SignalWatcher::terminateRequested, &server, &ServerApp::shutdown);
    QObject::connect(&server, &ServerApp::finished, &app, [&server] {
        if (!server.drainedCleanly()) {
            std::fflush(stderr);
            std::_Exit(0);
        }
        QCoreApplication::quit();
    });
    std::fprintf(stderr, "listening on port %u instance %s\n", unsigned(server.port()),
                 qPrintable(server.jobs()->instanceId()));
    std::fflush(stderr);
    return app.exec();
}
