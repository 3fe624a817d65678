// SPDX-License-Identifier: GPL-3.0-or-later
// jobs_bench: end-to-end throughput of the durable job queue, and the latency of one
// enqueue, on SQLite or PostgreSQL, against a naive serial loop over the same database
// measured in the same run.
//
//   bulwark_jobs_bench --sqlite DIR | --postgres HOST:PORT:NAME:USER
//                      [--jobs N] [--batch N] [--workers N] [--concurrency N]
//                      [--claim-batch N] [--runs N] [--latency-samples N]
//
// Each run (median of --runs reported):
//   serial  what a straightforward single-threaded queue loop does for N jobs, issued back
//           to back from one thread: INSERT in transactions of --batch rows, claim with
//           the queue's UPDATE ... RETURNING (FOR UPDATE SKIP LOCKED on PostgreSQL) in
//           --claim-batch slices, and one UPDATE per job to succeeded in one transaction
//           per slice. The reference the queue's overlap and batching are measured against.
//   queue   N no-op jobs through JobQueue: a producer thread enqueues them in batches of
//           --batch (one transaction each) while the coordinator claims and the workers
//           run and complete them; timed from the first enqueue until the last job is
//           stored as succeeded. jobs/s = N / that time.
// Then enqueue latency: --latency-samples single-job enqueues (one transaction each),
// one after another, while the queue drains them, and the same number of bare
// single-row INSERT transactions as their reference; p50 and p99 of each.
// Output lines are "key=value" for bench/run_jobs_bench.sh to read.
#include "DatabaseSetup.h"
#include "JobQueue.h"
#include "SqlSession.h"

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QThread>
#include <algorithm>
#include <cstdio>
#include <thread>

using namespace bulwark;

namespace {

struct Options
{
    DbConfig db;
    QString dataDir;
    int jobs = 100'000;
    int batch = 1000;
    int workers = 4;
    int concurrency = 4;  // jobs.queues' default queue
    int claimBatch = 64;  // jobs.claim_batch
    int runs = 3;
    int latencySamples = 2000;
};

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n == 0 ? 0 : (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
}

double percentile(std::vector<double> v, double q)
{
    std::sort(v.begin(), v.end());
    if (v.empty())
        return 0;
    return v[std::min(v.size() - 1, size_t(q * double(v.size())))];
}

[[noreturn]] void fail(const QString &what)
{
    std::fprintf(stderr, "jobs_bench: %s\n", qPrintable(what));
    std::exit(1);
}

template <typename T> T check(Result<T> r, const char *what)
{
    if (!r.ok())
        fail(QStringLiteral("%1: %2").arg(QLatin1String(what), r.error().message));
    return std::move(r.value());
}

void clear(ConnectionPool &pool)
{
    SqlSession sql(pool, nullptr);
    // TRUNCATE on PostgreSQL: DELETE would leave every run's rows behind as dead tuples
    // for the next run to step over.
    const QString clearTable =
        sql.isSqlite() ? QStringLiteral("DELETE FROM %1") : QStringLiteral("TRUNCATE %1");
    check(sql.execUnprepared(clearTable.arg(QStringLiteral("jobs"))), "clearing jobs");
    check(sql.execUnprepared(clearTable.arg(QStringLiteral("bench_serial"))), "clearing bench_serial");
}

// One row as JobStore::enqueue inserts it (the same columns, RETURNING id).
void insertFloorRow(SqlSession &sql, qint64 now)
{
    check(sql.select(QStringLiteral("INSERT INTO bench_serial (type, queue, priority, state, "
                                    "payload, max_attempts, run_at, created_at) VALUES ('noop', "
                                    "'default', 2, 'queued', '{}', 5, ?, ?) RETURNING id"),
                     {now, now}, [](const SqlCell *, int) { return false; }),
          "insert");
}

// The serial reference: the queue's statements, one thread, no runtime.
double serialRun(ConnectionPool &pool, const Options &o)
{
    clear(pool);
    SqlSession sql(pool, nullptr);
    const QString lock = sql.isSqlite() ? QString() : QStringLiteral(" FOR UPDATE SKIP LOCKED");
    const QString claim =
        QStringLiteral("UPDATE bench_serial SET state = 'running', attempts = attempts + 1, "
                       "lease_owner = 'serial', lease_until = ? WHERE id IN (SELECT id FROM "
                       "bench_serial WHERE state = 'queued' AND queue = 'default' AND priority = 2 "
                       "AND run_at <= ? ORDER BY run_at, id LIMIT ?%1) RETURNING id, payload")
            .arg(lock);
    QElapsedTimer timer;
    timer.start();
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    for (int done = 0; done < o.jobs;) {
        check(sql.beginWrite(), "begin");
        const int n = std::min(o.batch, o.jobs - done);
        for (int i = 0; i < n; ++i)
            insertFloorRow(sql, now);
        check(sql.commit(), "commit");
        done += n;
    }
    for (;;) {
        check(sql.beginWrite(), "begin");
        QList<qint64> ids;
        check(sql.select(claim, {now + 30'000, now, o.claimBatch},
                         [&ids](const SqlCell *c, int) {
                             ids.append(c[0].integer);
                             return true;
                         }),
              "claim");
        check(sql.commit(), "commit");
        if (ids.isEmpty())
            break;
        check(sql.beginWrite(), "begin");
        for (qint64 id : ids)
            check(sql.select(QStringLiteral("UPDATE bench_serial SET state = 'succeeded', "
                                            "finished_at = ?, lease_owner = NULL WHERE id = ? AND "
                                            "lease_owner = 'serial' AND attempts = 1 AND state = "
                                            "'running' RETURNING id"),
                             {now, id}, [](const SqlCell *, int) { return false; }),
                  "complete");
        check(sql.commit(), "commit");
    }
    return double(o.jobs) / (double(timer.nsecsElapsed()) / 1e9);
}

qint64 succeededCount(ConnectionPool &pool)
{
    SqlSession sql(pool, nullptr);
    qint64 n = 0;
    check(sql.select(QStringLiteral("SELECT COUNT(*) FROM jobs WHERE state = 'succeeded'"), {},
                     [&n](const SqlCell *c, int) {
                         n = c[0].integer;
                         return false;
                     }),
          "count");
    return n;
}

struct QueueRun
{
    double jobsPerSecond = 0;
    double enqueueOnlyPerSecond = 0;
};

// The runtime as the server builds it (poll interval and lease at their defaults).
JobQueue::Options queueOptions(const Options &o)
{
    JobQueue::Options qo;
    qo.workers = o.workers;
    qo.claimBatch = o.claimBatch;
    qo.queues = {{QStringLiteral("default"), o.concurrency}};
    return qo;
}

QueueRun queueRun(ConnectionPool &pool, JobStore &store, const JobRegistry &registry,
                  const Options &o)
{
    clear(pool);
    JobQueue queue(store, registry, queueOptions(o));
    queue.setThreadFinalizer([&pool] { pool.closeThreadConnections(); });
    queue.start();
    QElapsedTimer timer;
    timer.start();
    std::atomic<qint64> enqueueNs{0};
    std::thread producer([&] {
        QElapsedTimer t;
        t.start();
        for (int done = 0; done < o.jobs;) {
            const int n = std::min(o.batch, o.jobs - done);
            QList<JobSpec> specs(n);
            for (JobSpec &s : specs)
                s.type = QStringLiteral("noop");
            check(queue.enqueue(specs), "enqueue");
            done += n;
        }
        enqueueNs = t.nsecsElapsed();
        pool.closeThreadConnections();
    });
    // Polls the count: the queue is done when every job is stored as succeeded.
    while (queue.localStats().succeeded < quint64(o.jobs) && timer.elapsed() < 600'000)
        QThread::msleep(2);
    const double seconds = double(timer.nsecsElapsed()) / 1e9;
    producer.join();
    queue.stop(std::chrono::milliseconds(1000));
    if (succeededCount(pool) != o.jobs)
        fail(QStringLiteral("queue run: %1 of %2 jobs succeeded").arg(succeededCount(pool)).arg(o.jobs));
    return QueueRun{double(o.jobs) / seconds, double(o.jobs) / (double(enqueueNs.load()) / 1e9)};
}

void latencyRun(ConnectionPool &pool, JobStore &store, const JobRegistry &registry,
                const Options &o)
{
    clear(pool);
    JobQueue queue(store, registry, queueOptions(o));
    queue.setThreadFinalizer([&pool] { pool.closeThreadConnections(); });
    queue.start();
    std::vector<double> enqueueUs;
    std::vector<double> insertUs;
    JobSpec spec;
    spec.type = QStringLiteral("noop");
    SqlSession sql(pool, nullptr);
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    for (int i = 0; i < o.latencySamples; ++i) {
        QElapsedTimer t;
        t.start();
        check(queue.enqueue(spec), "enqueue");
        enqueueUs.push_back(double(t.nsecsElapsed()) / 1e3);
        t.restart();
        check(sql.beginWrite(), "begin");
        insertFloorRow(sql, now);
        check(sql.commit(), "commit");
        insertUs.push_back(double(t.nsecsElapsed()) / 1e3);
    }
    queue.stop(std::chrono::milliseconds(1000));
    std::printf("enqueue_latency_us p50=%.1f p99=%.1f max=%.1f samples=%d\n",
                percentile(enqueueUs, 0.5), percentile(enqueueUs, 0.99),
                *std::max_element(enqueueUs.begin(), enqueueUs.end()), o.latencySamples);
    std::printf("insert_latency_us p50=%.1f p99=%.1f max=%.1f samples=%d\n",
                percentile(insertUs, 0.5), percentile(insertUs, 0.99),
                *std::max_element(insertUs.begin(), insertUs.end()), o.latencySamples);
}

int intArg(const QStringList &args, int &i, int min, int max)
{
    bool ok = false;
    const int v = i + 1 < args.size() ? args.at(i + 1).toInt(&ok) : 0;
    if (!ok || v < min || v > max)
        fail(QStringLiteral("%1 takes an integer from %2 to %3").arg(args.at(i)).arg(min).arg(max));
    ++i;
    return v;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    qputenv("QT_LOGGING_RULES", "*.info=false");
    Options o;
    const QStringList args = QCoreApplication::arguments();
    for (int i = 1; i < args.size(); ++i) {
        const QString &a = args.at(i);
        if (a == QLatin1String("--sqlite") && i + 1 < args.size()) {
            o.db.driver = DbDriver::Sqlite;
            o.dataDir = args.at(++i);
        } else if (a == QLatin1String("--postgres") && i + 1 < args.size()) {
            const QStringList p = args.at(++i).split(u':');
            if (p.size() != 4)
                fail(QStringLiteral("--postgres takes HOST:PORT:NAME:USER"));
            o.db.driver = DbDriver::Postgres;
            o.db.postgresHost = p[0];
            o.db.postgresPort = p[1].toInt();
            o.db.postgresName = p[2];
            o.db.postgresUser = p[3];
        } else if (a == QLatin1String("--jobs")) {
            o.jobs = intArg(args, i, 1000, 10'000'000);
        } else if (a == QLatin1String("--batch")) {
            o.batch = intArg(args, i, 1, 10'000);
        } else if (a == QLatin1String("--workers")) {
            o.workers = intArg(args, i, 1, 256);
        } else if (a == QLatin1String("--concurrency")) {
            o.concurrency = intArg(args, i, 1, 100'000);
        } else if (a == QLatin1String("--claim-batch")) {
            o.claimBatch = intArg(args, i, 1, 1000);
        } else if (a == QLatin1String("--runs")) {
            o.runs = intArg(args, i, 1, 15);
        } else if (a == QLatin1String("--latency-samples")) {
            o.latencySamples = intArg(args, i, 100, 100'000);
        } else {
            fail(QStringLiteral("unknown argument %1 (see the opening comment of "
                                "bench/jobs_bench.cpp)")
                     .arg(a));
        }
    }
    if (o.dataDir.isEmpty() && o.db.driver == DbDriver::Sqlite)
        fail(QStringLiteral("give --sqlite DIR or --postgres HOST:PORT:NAME:USER"));
    if (o.dataDir.isEmpty())
        o.dataDir = QDir::tempPath();
    o.db.poolMaxSize = o.workers + 4;
    o.db.slowQueryMs = 1'000'000;
    SteadyClock clock;
    auto setup = openDatabase(o.db, o.dataDir, clock, nullptr);
    if (!setup.ok())
        fail(setup.error().message);
    ConnectionPool &pool = *setup.value().pool;
    {
        // The serial loop's table: the jobs table's shape and its claim index.
        SqlSession sql(pool, nullptr);
        const QString key = setup.value().dialect->autoIncrementKey();
        check(sql.execUnprepared(
                  QStringLiteral("CREATE TABLE IF NOT EXISTS bench_serial (id %1, type TEXT NOT "
                                 "NULL, queue TEXT NOT NULL, priority INTEGER NOT NULL, state TEXT "
                                 "NOT NULL, payload TEXT NOT NULL, result TEXT, error TEXT, "
                                 "attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT "
                                 "NULL, run_at BIGINT NOT NULL, created_at BIGINT NOT NULL, "
                                 "finished_at BIGINT, lease_owner TEXT, lease_until BIGINT)")
                      .arg(key)),
              "create bench_serial");
        check(sql.execUnprepared(QStringLiteral(
                  "CREATE INDEX IF NOT EXISTS bench_serial_ready ON bench_serial (queue, priority, "
                  "run_at, id) WHERE state IN ('queued', 'retrying')")),
              "index bench_serial");
    }
    JobStore store(pool, nullptr);
    JobRegistry registry;
    registry.registerHandler(QStringLiteral("noop"),
                             [](JobContext &) { return JobResult::success(); });
    std::printf("config driver=%s jobs=%d batch=%d workers=%d concurrency=%d claim_batch=%d "
                "runs=%d\n",
                o.db.driver == DbDriver::Sqlite ? "sqlite" : "postgres", o.jobs, o.batch,
                o.workers, o.concurrency, o.claimBatch, o.runs);
    std::vector<double> serials, queues, enqueueOnly;
    for (int r = 0; r < o.runs; ++r) {
        // Alternate which goes first, so neither always meets a warmer cache.
        double f, q;
        QueueRun run;
        if (r % 2 == 0) {
            f = serialRun(pool, o);
            run = queueRun(pool, store, registry, o);
        } else {
            run = queueRun(pool, store, registry, o);
            f = serialRun(pool, o);
        }
        q = run.jobsPerSecond;
        serials.push_back(f);
        queues.push_back(q);
        enqueueOnly.push_back(run.enqueueOnlyPerSecond);
        std::printf("run=%d serial_jobs_per_s=%.0f queue_jobs_per_s=%.0f "
                    "enqueue_only_jobs_per_s=%.0f ratio=%.3f\n",
                    r + 1, f, q, run.enqueueOnlyPerSecond, q / f);
        std::fflush(stdout);
    }
    std::printf("median serial_jobs_per_s=%.0f queue_jobs_per_s=%.0f ratio=%.3f\n", median(serials),
                median(queues), median(queues) / median(serials));
    latencyRun(pool, store, registry, o);
    clear(pool);
    pool.closeThreadConnections();
    return 0;
}
