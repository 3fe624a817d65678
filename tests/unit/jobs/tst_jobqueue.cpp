// SPDX-License-Identifier: GPL-3.0-or-later
// JobQueue, the runtime: real coordinator and worker threads on a SQLite file, with the
// wall clock injected (an atomic the test moves), so backoff and schedules are checked
// without waiting for them. Waits are bounded polls (QTRY_*); the poll interval is 20 ms.
//
// Success (result, progress), retry with exact backoff (jitter 0) until success, dead
// after the last attempt and fatal at once (with job.failed / job.dead on the EventBus),
// a type no handler exists for, cancellation of a running job (here and from another
// instance), timeouts, shutdown (running jobs released with the attempt not counted,
// claimed-but-waiting ones released at once), paused queues, cron across minute
// boundaries with two instances on one database (each minute enqueued once), priorities
// with one worker, and a queue's concurrency bounding its running handlers (with short
// jobs claimed ahead, waiting for a slot of their queue; long jobs never claimed ahead).
#include "ConnectionPool.h"
#include "CronSchedule.h"
#include "EventBus.h"
#include "InternalSchema.h"
#include "JobQueue.h"
#include "JobRegistry.h"
#include "JobStore.h"
#include "Migrator.h"

#include <QTemporaryDir>
#include <QtTest>
#include <atomic>
#include <mutex>
#include <thread>

using namespace bulwark;
using namespace std::chrono_literals;

namespace {

// 2024-01-01T00:00:30Z: half a minute before a minute boundary.
constexpr qint64 kT0 = 1'704'067'230'000;
constexpr qint64 kMinute = 60'000;
constexpr int kWait = 5000; // ms, bound of every wait for the runtime

template <typename T> QString errorOf(const Result<T> &r)
{
    return r.ok() ? QString() : r.error().message;
}

#define VERIFY_OK(expr)                                                                            \
    do {                                                                                           \
        const auto &verifyOk_ = (expr);                                                            \
        QVERIFY2(verifyOk_.ok(), qPrintable(errorOf(verifyOk_)));                                  \
    } while (false)

// Sleeps in small steps until `done` or `ms` passed (inside handlers: bounded, never
// forever, so a broken runtime fails the test instead of hanging it).
template <typename Pred> bool spinUntil(Pred done, int ms = 10'000)
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(2ms);
    }
    return true;
}

JobTypeOptions options(int maxAttempts = 5, qint64 baseMs = 1000,
                       std::chrono::milliseconds timeout = 60'000ms)
{
    JobTypeOptions o;
    o.retry = RetryPolicy::make(std::chrono::milliseconds(baseMs), 2.0, 60'000ms, maxAttempts, 0.0);
    o.timeout = timeout;
    return o;
}

JobSpec spec(const QString &type, QJsonObject payload = {})
{
    JobSpec s;
    s.type = type;
    s.payload = std::move(payload);
    return s;
}

// `n` jobs of `type` in queue "q"; with `block`, their handler waits for the test.
QList<JobSpec> specsInQ(const QString &type, int n, bool block)
{
    QList<JobSpec> specs;
    for (int i = 0; i < n; ++i) {
        JobSpec s = spec(type, QJsonObject{{QStringLiteral("block"), block}});
        s.queue = QStringLiteral("q");
        specs.append(s);
    }
    return specs;
}

// Handlers of one queue running at once, as the handlers see it (entered, not yet
// returned), and the most seen.
struct RunningGauge
{
    std::atomic<int> now{0};
    std::atomic<int> max{0};
    void enter()
    {
        const int n = ++now;
        int seen = max.load();
        while (n > seen && !max.compare_exchange_weak(seen, n)) {
        }
    }
    void leave() { --now; }
};

// What the claim-ahead tests run: a handler that counts its runs (and those running at
// once in `gauge`), sleeps `sleepMs` (0: returns at once), and, when its payload says
// "block", waits for `release` or its cancellation.
struct GatedJobs
{
    RunningGauge gauge;
    std::atomic<int> runs{0};
    std::atomic<bool> release{false};
    int sleepMs = 0;
};

} // namespace

class TestJobQueue : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void success();
    void unknownTypeIsRefusedAtEnqueue();
    void retriesWithBackoffThenSucceeds();
    void deadAfterMaxAttempts();
    void fatalIsDeadAtOnce();
    void throwingHandlerIsRetried();
    void unknownTypeClaimedIsDead();
    void cancelRunningJob();
    void cancelFromAnotherInstance();
    void timeout();
    void shutdownReleasesRunningJob();
    void shutdownReleasesWaitingJobsAtOnce();
    void pausedQueueIsNotClaimed();
    void cronOncePerMinuteAcrossInstances();
    void priorityWithOneWorker();
    void destroyRightAfterStopped();
    void concurrencyBoundsRunningHandlers();
    void shortJobsAreClaimedAhead();
    void longJobsAreNotClaimedAhead();

private:
    std::unique_ptr<ConnectionPool> makePool();
    std::unique_ptr<JobQueue> makeQueue(JobStore &store, ConnectionPool &pool,
                                        JobQueue::Options o = {});
    JobQueue::Options defaultOptions() const;
    JobRecord job(qint64 id);
    qint64 enqueue(JobQueue &queue, const JobSpec &s);
    int events(const QString &name, qint64 id = 0);
    int countIn(const QString &queue, JobState state); // jobs of the queue in the state
    // Registers `type` as `gate`'s handler and starts a queue of 4 workers, claim batch 16
    // and the queue "q" at `concurrency`.
    JobQueue &startGated(const QString &type, int concurrency, GatedJobs &gate,
                         std::chrono::milliseconds giveBackAfter = std::chrono::seconds(1));

    std::atomic<qint64> m_now{kT0};
    SteadyClock m_steady;
    std::shared_ptr<Dialect> m_dialect;
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<ConnectionPool> m_pool;
    std::unique_ptr<JobStore> m_store;
    std::unique_ptr<JobRegistry> m_registry;
    std::unique_ptr<EventBus> m_bus;
    std::mutex m_eventsMutex;
    QList<Event> m_events;
    // Queues of the test; stopped and destroyed (before the bus and the pools) in cleanup.
    std::vector<std::unique_ptr<JobQueue>> m_queues;
    std::vector<std::unique_ptr<ConnectionPool>> m_extraPools;
    std::vector<std::unique_ptr<JobStore>> m_extraStores;
};

void TestJobQueue::init()
{
    m_now = kT0;
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_dialect = std::make_shared<SqliteDialect>(m_dir->filePath(QStringLiteral("jobs.db")), 5000ms);
    m_pool = makePool();
    {
        auto lease = m_pool->acquire();
        QVERIFY2(lease.ok(), qPrintable(errorOf(lease)));
        QSqlDatabase db = lease.value().database();
        const auto migrated = Migrator(*m_dialect, internalMigrations()).migrate(db);
        QVERIFY2(migrated.ok(), qPrintable(errorOf(migrated)));
    }
    m_store = std::make_unique<JobStore>(*m_pool, nullptr);
    m_registry = std::make_unique<JobRegistry>();
    m_bus = std::make_unique<EventBus>();
    {
        std::lock_guard lock(m_eventsMutex);
        m_events.clear();
    }
    m_bus->subscribe(QStringLiteral("*"), [this](const Event &e) {
        std::lock_guard lock(m_eventsMutex);
        m_events.append(e);
    });
    m_bus->start();
}

void TestJobQueue::cleanup()
{
    for (auto &queue : m_queues)
        queue->stop(0ms);
    m_queues.clear();
    if (m_bus)
        m_bus->stop();
    m_bus.reset();
    m_extraStores.clear();
    for (auto &pool : m_extraPools)
        pool->closeThreadConnections();
    m_extraPools.clear();
    m_store.reset();
    m_registry.reset();
    if (m_pool)
        m_pool->closeThreadConnections();
    m_pool.reset();
    m_dir.reset();
}

std::unique_ptr<ConnectionPool> TestJobQueue::makePool()
{
    PoolOptions options;
    options.maxSize = 8;
    options.acquireTimeout = 5000ms;
    options.pingAfterIdle = 3'600'000ms;
    options.idleTimeout = 3'600'000ms;
    options.maxLifetime = 3'600'000ms * 24;
    return std::make_unique<ConnectionPool>(m_dialect, options, m_steady);
}

JobQueue::Options TestJobQueue::defaultOptions() const
{
    JobQueue::Options o;
    o.workers = 2;
    o.claimBatch = 8;
    o.pollInterval = 20ms;
    o.lease = 30'000ms;
    o.queues = {{QStringLiteral("default"), 4}};
    o.instanceId = QStringLiteral("instance-a");
    return o;
}

std::unique_ptr<JobQueue> TestJobQueue::makeQueue(JobStore &store, ConnectionPool &pool,
                                                  JobQueue::Options o)
{
    auto queue = std::make_unique<JobQueue>(store, *m_registry, std::move(o), m_bus.get(), nullptr,
                                            [this] { return m_now.load(); });
    queue->setThreadFinalizer([&pool] { pool.closeThreadConnections(); });
    return queue;
}

JobRecord TestJobQueue::job(qint64 id)
{
    const auto r = m_store->get(id);
    if (!r.ok() || !r.value())
        return {};
    return *r.value();
}

qint64 TestJobQueue::enqueue(JobQueue &queue, const JobSpec &s)
{
    const auto r = queue.enqueue(s);
    if (!r.ok()) {
        QTest::qFail(qPrintable(QStringLiteral("enqueue failed: ") + errorOf(r)), __FILE__,
                     __LINE__);
        return 0;
    }
    return r.value().id;
}

int TestJobQueue::events(const QString &name, qint64 id)
{
    std::lock_guard lock(m_eventsMutex);
    int n = 0;
    for (const Event &e : std::as_const(m_events))
        if (e.name == name &&
            (id == 0 || qint64(e.payload.value(QStringLiteral("id")).toDouble()) == id))
            ++n;
    return n;
}

// ---------------------------------------------------------------------------------------

void TestJobQueue::success()
{
    std::atomic<bool> proceed{false};
    std::atomic<int> runs{0};
    m_registry->registerHandler(
        QStringLiteral("add"),
        [&](JobContext &ctx) {
            ++runs;
            ctx.setProgress(0.5, QStringLiteral("half way"));
            spinUntil([&] { return proceed.load() || ctx.isCancelled(); });
            const int a = ctx.payload().value(QStringLiteral("a")).toInt();
            const int b = ctx.payload().value(QStringLiteral("b")).toInt();
            return JobResult::success(QJsonObject{{QStringLiteral("sum"), a + b}});
        },
        options());
    m_queues.push_back(makeQueue(*m_store, *m_pool, defaultOptions()));
    JobQueue &queue = *m_queues.back();
    queue.start();
    const qint64 id = enqueue(
        queue, spec("add", QJsonObject{{QStringLiteral("a"), 40}, {QStringLiteral("b"), 2}}));
    QVERIFY(id > 0);

    // Running, with its progress stored while it runs.
    QTRY_COMPARE_WITH_TIMEOUT(job(id).progress, 0.5, kWait);
    JobRecord j = job(id);
    QCOMPARE(j.state, JobState::Running);
    QCOMPARE(j.progressMessage, QStringLiteral("half way"));
    QCOMPARE(j.leaseOwner, QStringLiteral("instance-a"));
    QCOMPARE(j.startedAtMs, std::optional<qint64>(kT0));
    QCOMPARE(j.leaseUntilMs, std::optional<qint64>(kT0 + 30'000));
    QCOMPARE(queue.localStats().busy, 1);

    proceed = true;
    QTRY_COMPARE_WITH_TIMEOUT(job(id).state, JobState::Succeeded, kWait);
    j = job(id);
    QCOMPARE(j.result, (QJsonObject{{QStringLiteral("sum"), 42}}));
    QCOMPARE(j.progress, 1.0);
    QCOMPARE(j.attempts, 1);
    QCOMPARE(j.finishedAtMs, std::optional<qint64>(kT0));
    QVERIFY(j.error.isEmpty());
    QCOMPARE(runs.load(), 1);
    QTRY_COMPARE_WITH_TIMEOUT(events("job.succeeded", id), 1, kWait);
    QCOMPARE(events("job.failed"), 0);
    {
        std::lock_guard lock(m_eventsMutex);
        for (const Event &e : std::as_const(m_events))
            if (e.name == QLatin1String("job.succeeded")) {
                QCOMPARE(e.payload.value("type").toString(), QStringLiteral("add"));
                QCOMPARE(e.payload.value("queue").toString(), QStringLiteral("default"));
                QCOMPARE(e.payload.value("attempt").toInt(), 1);
                QCOMPARE(e.payload.value("result").toObject().value("sum").toInt(), 42);
            }
    }
    const JobQueue::LocalStats stats = queue.localStats();
    QCOMPARE(stats.claimed, quint64(1));
    QCOMPARE(stats.succeeded, quint64(1));
    QCOMPARE(stats.failed, quint64(0));
    QCOMPARE(stats.workers, 2);
}

void TestJobQueue::unknownTypeIsRefusedAtEnqueue()
{
    m_registry->registerHandler(
        QStringLiteral("known"), [](JobContext &) { return JobResult::success(); }, options());
    m_queues.push_back(makeQueue(*m_store, *m_pool, defaultOptions()));
    JobQueue &queue = *m_queues.back();
    auto r = queue.enqueue(spec("unknown"));
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::Unprocessable);
    JobSpec s = spec("known");
    s.queue = QStringLiteral("no-such-queue");
    r = queue.enqueue(s);
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::Unprocessable);
    // The type's defaults fill in what the spec leaves open.
    JobTypeOptions o = options(7);
    o.priority = JobPriority::High;
    m_registry->registerHandler(
        QStringLiteral("defaults"), [](JobContext &) { return JobResult::success(); }, o);
    const qint64 id = enqueue(queue, spec("defaults"));
    const JobRecord j = job(id);
    QCOMPARE(j.queue, QStringLiteral("default"));
    QCOMPARE(j.priority, JobPriority::High);
    QCOMPARE(j.maxAttempts, 7);
    QCOMPARE(j.runAtMs, kT0);
}

void TestJobQueue::retriesWithBackoffThenSucceeds()
{
    std::atomic<int> runs{0};
    const JobTypeOptions o = options(5, 1000);
    m_registry->registerHandler(
        QStringLiteral("flaky"),
        [&](JobContext &ctx) {
            const int n = ++runs;
            if (ctx.attempt() != n)
                return JobResult::fatal(
                    QStringLiteral("attempt %1 on run %2").arg(ctx.attempt()).arg(n));
            if (n < 3)
                return JobResult::retry(QStringLiteral("flaky %1").arg(n));
            return JobResult::success(QJsonObject{{QStringLiteral("runs"), n}});
        },
        o);
    m_queues.push_back(makeQueue(*m_store, *m_pool, defaultOptions()));
    JobQueue &queue = *m_queues.back();
    queue.start();
    const qint64 id = enqueue(queue, spec("flaky"));

    // Attempt 1 failed at kT0: retrying, due after exactly the first delay.
    QTRY_COMPARE_WITH_TIMEOUT(job(id).state, JobState::Retrying, kWait);
    JobRecord j = job(id);
    QCOMPARE(j.attempts, 1);
    QCOMPARE(j.error, QStringLiteral("flaky 1"));
    QCOMPARE(o.retry.window(1).min, o.retry.window(1).max);
    QCOMPARE(j.runAtMs, kT0 + o.retry.window(1).min.count());
    QCOMPARE(j.runAtMs, kT0 + 1000);
    // Not before its time: a few polls pass without a second run.
    QTest::qWait(150);
    QCOMPARE(runs.load(), 1);
    QCOMPARE(job(id).state, JobState::Retrying);

    // One millisecond short: still waiting.
    m_now = kT0 + 999;
    QTest::qWait(100);
    QCOMPARE(runs.load(), 1);

    // Due: attempt 2 runs and fails; the next delay is doubled.
    m_now = kT0 + 1000;
    QTRY_COMPARE_WITH_TIMEOUT(job(id).attempts, 2, kWait);
    QTRY_COMPARE_WITH_TIMEOUT(job(id).state, JobState::Retrying, kWait);
    j = job(id);
    QCOMPARE(j.error, QStringLiteral("flaky 2"));
    QCOMPARE(j.runAtMs, kT0 + 1000 + o.retry.window(2).min.count());
    QCOMPARE(j.runAtMs, kT0 + 3000);

    m_now = kT0 + 3000;
    QTRY_COMPARE_WITH_TIMEOUT(job(id).state, JobState::Succeeded, kWait);
    j = job(id);
    QCOMPARE(j.attempts, 3);
    QCOMPARE(j.result.value(QStringLiteral("runs")).toInt(), 3);
    QCOMPARE(runs.load(), 3);
    QTRY_COMPARE_WITH_TIMEOUT(events("job.succeeded", id), 1, kWait);
    QCOMPARE(events("job.failed", id), 2);
    QCOMPARE(events("job.dead", id), 0);
    {
        std::lock_guard lock(m_eventsMutex);
        QStringList retryAt;
        for (const Event &e : std::as_const(m_events))
            if (e.name == QLatin1String("job.failed"))
                retryAt.append(e.payload.value(QStringLiteral("retry_at")).toString());
        QCOMPARE(retryAt, (QStringList{QStringLiteral("2024-01-01T00:00:31.000Z"),
                                       QStringLiteral("2024-01-01T00:00:33.000Z")}));
    }
}

void TestJobQueue::deadAfterMaxAttempts()
{
    std::atomic<int> runs{0};
    m_registry->registerHandler(
        QStringLiteral("doomed"),
        [&](JobContext &) {
            ++runs;
            return JobResult::retry(QStringLiteral("still broken"));
        },
        options(3, 100));
    m_queues.push_back(makeQueue(*m_store, *m_pool, defaultOptions()));
    JobQueue &queue = *m_queues.back();
    queue.start();
    const qint64 id = enqueue(queue, spec("doomed"));
    for (int attempt = 1; attempt <= 2; ++attempt) {
        QTRY_VERIFY_WITH_TIMEOUT(job(id).attempts == attempt && job(id).state == JobState::Retrying,
                                 kWait);
        m_now += kMinute; // past any backoff
    }
    QTRY_COMPARE_WITH_TIMEOUT(job(id).state, JobState::Dead, kWait);
    const JobRecord j = job(id);
    QCOMPARE(j.attempts, 3);
    QCOMPARE(j.error, QStringLiteral("still broken"));
    QVERIFY(j.finishedAtMs.has_value());
    QCOMPARE(runs.load(), 3);
    QTRY_COMPARE_WITH_TIMEOUT(events("job.dead", id), 1, kWait);
    QCOMPARE(events("job.failed", id), 3); // every failed attempt, the last one included
    {
        std::lock_guard lock(m_eventsMutex);
        for (const Event &e : std::as_const(m_events))
            if (e.name == QLatin1String("job.dead")) {
                QCOMPARE(e.payload.value("error").toString(), QStringLiteral("still broken"));
                QCOMPARE(e.payload.value("attempt").toInt(), 3);
                QVERIFY(!e.payload.contains(QStringLiteral("retry_at")));
            }
    }
    // Nothing runs it again.
    m_now += 10 * kMinute;
    QTest::qWait(100);
    QCOMPARE(runs.load(), 3);
    QCOMPARE(queue.localStats().dead, quint64(1));
}

void TestJobQueue::fatalIsDeadAtOnce()
{
    std::atomic<int> runs{0};
    m_registry->registerHandler(
        QStringLiteral("bad"),
        [&](JobContext &) {
            ++runs;
            return JobResult::fatal(QStringLiteral("payload can never work"));
        },
        options(5));
    m_queues.push_back(makeQueue(*m_store, *m_pool, defaultOptions()));
    JobQueue &queue = *m_queues.back();
    queue.start();
    const qint64 id = enqueue(queue, spec("bad"));
    QTRY_COMPARE_WITH_TIMEOUT(job(id).state, JobState::Dead, kWait);
    const JobRecord j = job(id);
    QCOMPARE(j.attempts, 1);
    QCOMPARE(j.error, QStringLiteral("payload can never work"));
    QCOMPARE(runs.load(), 1);
    QTRY_COMPARE_WITH_TIMEOUT(events("job.dead", id), 1, kWait);
    QCOMPARE(events("job.failed", id), 1);
}

void TestJobQueue::throwingHandlerIsRetried()
{
    std::atomic<int> runs{0};
    m_registry->registerHandler(
        QStringLiteral("throws"),
        [&](JobContext &) -> JobResult {
            if (++runs == 1)
                throw std::runtime_error("kaboom");
            return JobResult::success();
        },
        options(3, 10));
    m_queues.push_back(makeQueue(*m_store, *m_pool, defaultOptions()));
    JobQueue &queue = *m_queues.back();
    queue.start();
    const qint64 id = enqueue(queue, spec("throws"));
    QTRY_COMPARE_WITH_TIMEOUT(job(id).state, JobState::Retrying, kWait);
    QVERIFY2(job(id).error.contains(QStringLiteral("kaboom")), qPrintable(job(id).error));
    m_now += 10;
    QTRY_COMPARE_WITH_TIMEOUT(job(id).state, JobState::Succeeded, kWait);
    QCOMPARE(job(id).attempts, 2);
}

void TestJobQueue::unknownTypeClaimedIsDead()
{
    // Enqueued by another version of the server, straight into the store.
    JobSpec s = spec("ghost");
    s.queue = QStringLiteral("default");
    s.priority = JobPriority::Normal;
    s.maxAttempts = 5;
    const auto stored = m_store->enqueue({s}, kT0);
    VERIFY_OK(stored);
    const qint64 id = stored.value().first().id;
    m_queues.push_back(makeQueue(*m_store, *m_pool, defaultOptions()));
    m_queues.back()->start();
    QTRY_COMPARE_WITH_TIMEOUT(job(id).state, JobState::Dead, kWait);
    const JobRecord j = job(id);
    QCOMPARE(j.attempts, 1);
    QVERIFY2(j.error.contains(QStringLiteral("no handler for job type \"ghost\"")),
             qPrintable(j.error));
    QVERIFY2(j.error.contains(QStringLiteral("instance-a")), qPrintable(j.error));
    QTRY_COMPARE_WITH_TIMEOUT(events("job.dead", id), 1, kWait);
}

void TestJobQueue::cancelRunningJob()
{
    std::atomic<bool> started{false};
    std::atomic<bool> sawCancel{false};
    m_registry->registerHandler(
        QStringLiteral("long"),
        [&](JobContext &ctx) {
            started = true;
            sawCancel = spinUntil([&] { return ctx.isCancelled(); });
            return JobResult::retry(QStringLiteral("stopped"));
        },
        options());
    m_queues.push_back(makeQueue(*m_store, *m_pool, defaultOptions()));
    JobQueue &queue = *m_queues.back();
    queue.start();
    const qint64 id = enqueue(queue, spec("long"));
    QTRY_VERIFY_WITH_TIMEOUT(started.load(), kWait);
    QCOMPARE(job(id).state, JobState::Running);

    const auto cancelled = queue.cancel(id);
    VERIFY_OK(cancelled);
    QCOMPARE(cancelled.value().state, JobState::Running);
    QCOMPARE(cancelled.value().requested, true);
    QTRY_COMPARE_WITH_TIMEOUT(job(id).state, JobState::Cancelled, kWait);
    QVERIFY(sawCancel.load());
    const JobRecord j = job(id);
    QCOMPARE(j.attempts, 1);
    QVERIFY(j.finishedAtMs.has_value());
    QVERIFY(j.leaseOwner.isEmpty());
    QTRY_COMPARE_WITH_TIMEOUT(queue.localStats().cancelled, quint64(1), kWait);
    // No failed event for a cancellation; and it is not retried.
    QCOMPARE(events("job.failed", id), 0);
    m_now += 10 * kMinute;
    QTest::qWait(100);
    QCOMPARE(job(id).state, JobState::Cancelled);

    // A queued job is cancelled at once.
    JobSpec later = spec("long");
    later.runAtMs = kT0 + 100 * kMinute;
    const qint64 waiting = enqueue(queue, later);
    const auto direct = queue.cancel(waiting);
    VERIFY_OK(direct);
    QCOMPARE(direct.value().state, JobState::Cancelled);
    QCOMPARE(direct.value().requested, false);
    QCOMPARE(job(waiting).state, JobState::Cancelled);
}

void TestJobQueue::cancelFromAnotherInstance()
{
    std::atomic<bool> started{false};
    m_registry->registerHandler(
        QStringLiteral("long"),
        [&](JobContext &ctx) {
            started = true;
            spinUntil([&] { return ctx.isCancelled(); });
            return JobResult::retry(QStringLiteral("stopped"));
        },
        options());
    m_queues.push_back(makeQueue(*m_store, *m_pool, defaultOptions()));
    JobQueue &queue = *m_queues.back();
    queue.start();
    const qint64 id = enqueue(queue, spec("long"));
    QTRY_VERIFY_WITH_TIMEOUT(started.load(), kWait);
    // Through the store only, as the API of another instance would: seen within a second.
    const auto r = m_store->cancel(id, m_now.load());
    VERIFY_OK(r);
    QCOMPARE(r.value().requested, true);
    QTRY_COMPARE_WITH_TIMEOUT(job(id).state, JobState::Cancelled, kWait);
}

void TestJobQueue::timeout()
{
    std::atomic<int> runs{0};
    std::atomic<bool> sawCancel{false};
    const JobTypeOptions o = options(3, 1000, 100ms);
    m_registry->registerHandler(
        QStringLiteral("slow"),
        [&](JobContext &ctx) {
            if (++runs == 1) {
                sawCancel = spinUntil([&] { return ctx.isCancelled(); });
                return JobResult::retry(QStringLiteral("gave up"));
            }
            return JobResult::success();
        },
        o);
    m_queues.push_back(makeQueue(*m_store, *m_pool, defaultOptions()));
    JobQueue &queue = *m_queues.back();
    queue.start();
    QElapsedTimer timer;
    timer.start();
    const qint64 id = enqueue(queue, spec("slow"));
    QTRY_COMPARE_WITH_TIMEOUT(job(id).state, JobState::Retrying, kWait);
    QVERIFY(timer.elapsed() >= 100);
    QVERIFY(sawCancel.load());
    JobRecord j = job(id);
    QVERIFY2(j.error.contains(QStringLiteral("timed out")), qPrintable(j.error));
    QCOMPARE(j.attempts, 1);
    QCOMPARE(j.runAtMs, kT0 + 1000);
    QTRY_COMPARE_WITH_TIMEOUT(events("job.failed", id), 1, kWait);

    m_now = kT0 + 1000;
    QTRY_COMPARE_WITH_TIMEOUT(job(id).state, JobState::Succeeded, kWait);
    QCOMPARE(job(id).attempts, 2);
    QCOMPARE(runs.load(), 2);
}

void TestJobQueue::shutdownReleasesRunningJob()
{
    std::atomic<bool> started{false};
    std::atomic<bool> sawCancel{false};
    m_registry->registerHandler(
        QStringLiteral("waits"),
        [&](JobContext &ctx) {
            started = true;
            sawCancel = spinUntil([&] { return ctx.isCancelled(); });
            return JobResult::retry(QStringLiteral("interrupted"));
        },
        options());
    m_queues.push_back(makeQueue(*m_store, *m_pool, defaultOptions()));
    JobQueue &queue = *m_queues.back();
    queue.start();
    const qint64 id = enqueue(queue, spec("waits"));
    QTRY_VERIFY_WITH_TIMEOUT(started.load(), kWait);
    QCOMPARE(job(id).state, JobState::Running);

    QElapsedTimer timer;
    timer.start();
    queue.stop(200ms);
    const qint64 took = timer.elapsed();
    QVERIFY(queue.isStopped());
    QVERIFY2(took >= 150 && took < 3000, qPrintable(QString::number(took)));
    QVERIFY(sawCancel.load());
    const JobRecord j = job(id);
    QCOMPARE(j.state, JobState::Queued); // released: the attempt does not count
    QCOMPARE(j.attempts, 0);
    QVERIFY(j.leaseOwner.isEmpty());
    QVERIFY(!j.finishedAtMs);
    QVERIFY(j.error.isEmpty());
    QCOMPARE(events("job.failed", id), 0);
    QVERIFY(queue.localStats().released >= 1);
    QVERIFY(queue.localStats().shuttingDown);

    // A new instance picks it up as attempt 1.
    std::atomic<int> runs{0};
    m_registry->registerHandler(
        QStringLiteral("waits"),
        [&](JobContext &ctx) {
            ++runs;
            return ctx.attempt() == 1 ? JobResult::success() : JobResult::fatal("attempt");
        },
        options());
    JobQueue::Options o = defaultOptions();
    o.instanceId = QStringLiteral("instance-b");
    m_queues.push_back(makeQueue(*m_store, *m_pool, o));
    m_queues.back()->start();
    QTRY_COMPARE_WITH_TIMEOUT(job(id).state, JobState::Succeeded, kWait);
    QCOMPARE(job(id).attempts, 1);
    QCOMPARE(runs.load(), 1);
}

void TestJobQueue::shutdownReleasesWaitingJobsAtOnce()
{
    std::atomic<int> runs{0};
    std::atomic<bool> finishFirst{false};
    m_registry->registerHandler(
        QStringLiteral("block"),
        [&](JobContext &ctx) {
            ++runs;
            spinUntil([&] { return finishFirst.load() || ctx.isCancelled(); });
            return ctx.isCancelled() ? JobResult::retry(QStringLiteral("interrupted"))
                                     : JobResult::success();
        },
        options());
    JobQueue::Options o = defaultOptions();
    o.workers = 1;
    o.queues = {{QStringLiteral("default"), 3}};
    m_queues.push_back(makeQueue(*m_store, *m_pool, o));
    JobQueue &queue = *m_queues.back();
    QList<qint64> ids;
    for (int i = 0; i < 3; ++i)
        ids.append(enqueue(queue, spec("block")));
    queue.start();
    // One runs; the two others are claimed and wait for the only worker.
    QTRY_COMPARE_WITH_TIMEOUT(runs.load(), 1, kWait);
    QTRY_COMPARE_WITH_TIMEOUT(queue.localStats().waiting, 2, kWait);
    int runningCount = 0;
    for (qint64 id : ids)
        runningCount += job(id).state == JobState::Running ? 1 : 0;
    QCOMPARE(runningCount, 3); // claimed in the database, all three

    QElapsedTimer timer;
    timer.start();
    queue.beginShutdown(10'000ms);
    // The waiting ones go back at once, long before the grace period ends.
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
            int queued = 0;
            for (qint64 id : ids) {
                const JobRecord j = job(id);
                queued += j.state == JobState::Queued && j.attempts == 0 ? 1 : 0;
            }
            return queued == 2;
        }(),
        kWait);
    QVERIFY(timer.elapsed() < 5000);
    QVERIFY(!queue.isStopped());
    qint64 runningId = 0;
    for (qint64 id : ids)
        if (job(id).state == JobState::Running)
            runningId = id;
    QVERIFY(runningId != 0);

    // The running one may finish within the grace period: its outcome counts.
    finishFirst = true;
    QTRY_VERIFY_WITH_TIMEOUT(queue.isStopped(), kWait);
    QVERIFY(timer.elapsed() < 5000);
    QCOMPARE(job(runningId).state, JobState::Succeeded);
    QCOMPARE(runs.load(), 1); // nothing else started after the shutdown began
    for (qint64 id : ids)
        if (id != runningId) {
            QCOMPARE(job(id).state, JobState::Queued);
            QCOMPARE(job(id).attempts, 0);
        }
}

void TestJobQueue::pausedQueueIsNotClaimed()
{
    std::atomic<int> runs{0};
    m_registry->registerHandler(
        QStringLiteral("t"),
        [&](JobContext &) {
            ++runs;
            return JobResult::success();
        },
        options());
    JobQueue::Options o = defaultOptions();
    o.queues = {{QStringLiteral("default"), 2}, {QStringLiteral("other"), 2}};
    m_queues.push_back(makeQueue(*m_store, *m_pool, o));
    JobQueue &queue = *m_queues.back();
    VERIFY_OK(queue.setPaused(QStringLiteral("default"), true));
    QVERIFY(!queue.setPaused(QStringLiteral("no-such-queue"), true).ok());
    const qint64 id = enqueue(queue, spec("t"));
    JobSpec elsewhere = spec("t");
    elsewhere.queue = QStringLiteral("other");
    const qint64 other = enqueue(queue, elsewhere);
    queue.start();
    // The other queue runs; the paused one does not.
    QTRY_COMPARE_WITH_TIMEOUT(job(other).state, JobState::Succeeded, kWait);
    QTest::qWait(300); // many polls, and the first periodic read of paused queues
    QCOMPARE(job(id).state, JobState::Queued);
    QCOMPARE(runs.load(), 1);
    QVERIFY(queue.localStats().paused.contains(QStringLiteral("default")));

    VERIFY_OK(queue.setPaused(QStringLiteral("default"), false));
    QTRY_COMPARE_WITH_TIMEOUT(job(id).state, JobState::Succeeded, kWait);

    // Paused by another instance (through the store): followed within about a second.
    VERIFY_OK(m_store->setPaused(QStringLiteral("default"), true));
    QTRY_VERIFY_WITH_TIMEOUT(queue.localStats().paused.contains(QStringLiteral("default")), kWait);
    const qint64 third = enqueue(queue, spec("t"));
    QTest::qWait(200);
    QCOMPARE(job(third).state, JobState::Queued);
    VERIFY_OK(m_store->setPaused(QStringLiteral("default"), false));
    QTRY_COMPARE_WITH_TIMEOUT(job(third).state, JobState::Succeeded, kWait);
}

void TestJobQueue::cronOncePerMinuteAcrossInstances()
{
    std::atomic<int> runs{0};
    m_registry->registerHandler(
        QStringLiteral("tick"),
        [&](JobContext &) {
            ++runs;
            return JobResult::success();
        },
        options());
    const auto schedule = CronSchedule::parse(QStringLiteral("* * * * *"));
    VERIFY_OK(schedule);
    JobQueue::CronEntry entry;
    entry.name = QStringLiteral("every-minute");
    entry.schedule = schedule.value();
    entry.spec.type = QStringLiteral("tick");
    entry.spec.queue = QStringLiteral("default");
    entry.spec.priority = JobPriority::Normal;
    entry.spec.maxAttempts = 1;

    // Two instances, each with its own pool on the one database file.
    m_extraPools.push_back(makePool());
    ConnectionPool &otherPool = *m_extraPools.back();
    m_extraStores.push_back(std::make_unique<JobStore>(otherPool, nullptr));
    JobQueue::Options oa = defaultOptions();
    JobQueue::Options ob = defaultOptions();
    ob.instanceId = QStringLiteral("instance-b");
    m_queues.push_back(makeQueue(*m_store, *m_pool, oa));
    JobQueue &a = *m_queues.back();
    m_queues.push_back(makeQueue(*m_extraStores.back(), otherPool, ob));
    JobQueue &b = *m_queues.back();
    a.setCron({entry});
    b.setCron({entry});
    a.start();
    b.start();
    // Both have looked at the cron entry (the first periodic pass reads the depth after).
    QTRY_VERIFY_WITH_TIMEOUT(a.depth().atMs != 0 && b.depth().atMs != 0, kWait);

    JobFilter ticks;
    ticks.type = QStringLiteral("tick");
    auto countTicks = [&] {
        const auto r = m_store->list(ticks, 0, 100);
        return r.ok() ? int(r.value().size()) : -1;
    };
    // Nothing before the first minute boundary.
    QTest::qWait(200);
    QCOMPARE(countTicks(), 0);

    const qint64 firstSlot = kT0 - kT0 % kMinute + kMinute; // 00:01:00
    for (int minute = 1; minute <= 3; ++minute) {
        m_now = firstSlot + (minute - 1) * kMinute + 5'000;
        QTRY_COMPARE_WITH_TIMEOUT(countTicks(), minute, kWait);
        // Both instances look again (once a second) in this minute: still one job.
        QTest::qWait(1300);
        QCOMPARE(countTicks(), minute);
    }
    const auto last = m_store->lastCronSlot(entry.name);
    VERIFY_OK(last);
    QCOMPARE(last.value(), std::optional<qint64>(firstSlot + 2 * kMinute));
    QTRY_COMPARE_WITH_TIMEOUT(runs.load(), 3, kWait);
    const auto all = m_store->list(ticks, 0, 100);
    VERIFY_OK(all);
    QList<qint64> created;
    for (const JobRecord &r : all.value()) {
        QCOMPARE(r.maxAttempts, 1);
        created.prepend(r.createdAtMs);
    }
    QCOMPARE(created, (QList<qint64>{firstSlot + 5'000, firstSlot + kMinute + 5'000,
                                     firstSlot + 2 * kMinute + 5'000}));
    // Several minutes skipped at once (the clock jumped): one job, not a catch-up.
    m_now = firstSlot + 10 * kMinute + 5'000;
    QTRY_COMPARE_WITH_TIMEOUT(countTicks(), 4, kWait);
    QTest::qWait(1300);
    QCOMPARE(countTicks(), 4);
}

void TestJobQueue::priorityWithOneWorker()
{
    std::mutex mutex;
    QStringList order;
    m_registry->registerHandler(
        QStringLiteral("p"),
        [&](JobContext &ctx) {
            std::lock_guard lock(mutex);
            order.append(ctx.payload().value("name").toString());
            return JobResult::success();
        },
        options());
    JobQueue::Options o = defaultOptions();
    o.workers = 1;
    o.queues = {{QStringLiteral("default"), 1}};
    m_queues.push_back(makeQueue(*m_store, *m_pool, o));
    JobQueue &queue = *m_queues.back();
    auto add = [&](const QString &name, JobPriority priority) {
        JobSpec s = spec("p", QJsonObject{{QStringLiteral("name"), name}});
        s.priority = priority;
        return enqueue(queue, s);
    };
    for (int i = 1; i <= 3; ++i)
        add(QStringLiteral("low-%1").arg(i), JobPriority::Low);
    for (int i = 1; i <= 3; ++i)
        add(QStringLiteral("critical-%1").arg(i), JobPriority::Critical);
    queue.start();
    QTRY_COMPARE_WITH_TIMEOUT(
        [&] {
            std::lock_guard lock(mutex);
            return order.size();
        }(),
        qsizetype(6), kWait);
    std::lock_guard lock(mutex);
    QCOMPARE(order,
             (QStringList{"critical-1", "critical-2", "critical-3", "low-1", "low-2", "low-3"}));
}

void TestJobQueue::destroyRightAfterStopped()
{
    // The owner polls isStopped() after beginShutdown() and then destroys the queue: the
    // destructor must not destroy a thread that is still winding down.
    m_registry->registerHandler(
        QStringLiteral("t"), [](JobContext &) { return JobResult::success(); }, options());
    for (int i = 0; i < 50; ++i) {
        auto queue = makeQueue(*m_store, *m_pool, defaultOptions());
        queue->start();
        queue->beginShutdown(0ms);
        QVERIFY(spinUntil([&] { return queue->isStopped(); }, kWait));
        queue.reset();
    }
}

int TestJobQueue::countIn(const QString &queue, JobState state)
{
    JobFilter filter;
    filter.queue = queue;
    filter.states = {state};
    const auto r = m_store->list(filter, 0, 10'000);
    return r.ok() ? int(r.value().size()) : -1;
}

JobQueue &TestJobQueue::startGated(const QString &type, int concurrency, GatedJobs &gate,
                                   std::chrono::milliseconds giveBackAfter)
{
    m_registry->registerHandler(
        type,
        [&gate](JobContext &ctx) {
            gate.gauge.enter();
            ++gate.runs;
            if (ctx.payload().value(QStringLiteral("block")).toBool())
                spinUntil([&] { return gate.release.load() || ctx.isCancelled(); });
            else if (gate.sleepMs > 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(gate.sleepMs));
            gate.gauge.leave();
            return JobResult::success();
        },
        options());
    JobQueue::Options o = defaultOptions();
    o.workers = 4;
    o.claimBatch = 16;
    o.queues = {{QStringLiteral("q"), concurrency}};
    o.giveBackAfter = giveBackAfter;
    m_queues.push_back(makeQueue(*m_store, *m_pool, o));
    JobQueue &queue = *m_queues.back();
    queue.start();
    return queue;
}

void TestJobQueue::concurrencyBoundsRunningHandlers()
{
    // Concurrency 2 with 4 workers: never more than 2 handlers of the queue at once, also
    // when the queue's jobs are short and more of them are claimed ahead than may run.
    GatedJobs gate;
    RunningGauge &gauge = gate.gauge;
    std::atomic<int> &started = gate.runs;
    std::atomic<bool> &release = gate.release;
    JobQueue &queue = startGated(QStringLiteral("c"), 2, gate);

    // Warm-up: quick jobs, so the queue's average run time is short (claimed ahead).
    VERIFY_OK(queue.enqueue(specsInQ(QStringLiteral("c"), 20, false)));
    QTRY_COMPARE_WITH_TIMEOUT(queue.localStats().succeeded, quint64(20), kWait);
    QVERIFY2(gauge.max.load() <= 2, qPrintable(QString::number(gauge.max.load())));

    // Six that block: two run, four are claimed ahead and wait though two workers idle.
    VERIFY_OK(queue.enqueue(specsInQ(QStringLiteral("c"), 6, true)));
    QTRY_COMPARE_WITH_TIMEOUT(started.load(), 22, kWait);
    QTRY_COMPARE_WITH_TIMEOUT(queue.localStats().waiting, 4, kWait);
    QCOMPARE(countIn(QStringLiteral("q"), JobState::Running), 6);
    for (int i = 0; i < 5; ++i) { // several polls and worker wake-ups: still two
        QTest::qWait(30);
        QCOMPARE(gauge.now.load(), 2);
        QCOMPARE(started.load(), 22);
        const JobQueue::LocalStats stats = queue.localStats();
        QCOMPARE(stats.busy, 2);
        QCOMPARE(stats.waiting, 4);
        QCOMPARE(stats.workers, 4);
    }
    QCOMPARE(gauge.max.load(), 2);

    release = true;
    QTRY_COMPARE_WITH_TIMEOUT(countIn(QStringLiteral("q"), JobState::Succeeded), 26, kWait);
    QCOMPARE(started.load(), 26);
    QCOMPARE(gauge.max.load(), 2);
    QCOMPARE(countIn(QStringLiteral("q"), JobState::Running), 0);
    QTRY_COMPARE_WITH_TIMEOUT(queue.localStats().succeeded, quint64(26), kWait);
    QCOMPARE(queue.localStats().failed, quint64(0));
}

void TestJobQueue::shortJobsAreClaimedAhead()
{
    GatedJobs gate;
    RunningGauge &gauge = gate.gauge;
    std::atomic<int> &runs = gate.runs;
    std::atomic<bool> &release = gate.release;
    // Three seconds before claimed-ahead jobs are given back: the checks of the waiting
    // state below must not race the give-back on a loaded machine.
    JobQueue &queue = startGated(QStringLiteral("s"), 1, gate, std::chrono::seconds(3));

    // 200 no-op jobs, one handler at a time.
    VERIFY_OK(queue.enqueue(specsInQ(QStringLiteral("s"), 200, false)));
    int maxHeld = 0; // informational: the claim-ahead checked below is deterministic
    QVERIFY(spinUntil(
        [&] {
            const JobQueue::LocalStats stats = queue.localStats();
            maxHeld = std::max(maxHeld, stats.held.value(QStringLiteral("q")));
            return stats.succeeded == 200;
        },
        8000));
    qInfo("200 short jobs: at most %d held at once (seen)", maxHeld);
    QCOMPARE(countIn(QStringLiteral("q"), JobState::Succeeded), 200);
    QCOMPARE(runs.load(), 200);
    QCOMPARE(gauge.max.load(), 1);

    QVERIFY2(maxHeld <= 1 + 16, qPrintable(QString::number(maxHeld)));

    // The average is short now: of 20 jobs that block, 1 + 16 are claimed (concurrency
    // plus claim_batch ahead); one runs, the 16 others wait in this instance (running in
    // the database) for the slot, though three workers are idle; 3 stay queued.
    VERIFY_OK(queue.enqueue(specsInQ(QStringLiteral("s"), 20, true)));
    QTRY_COMPARE_WITH_TIMEOUT(runs.load(), 201, kWait);
    QTRY_COMPARE_WITH_TIMEOUT(queue.localStats().waiting, 16, kWait);
    QCOMPARE(countIn(QStringLiteral("q"), JobState::Running), 17);
    QCOMPARE(countIn(QStringLiteral("q"), JobState::Queued), 3);
    for (int i = 0; i < 5; ++i) { // several polls and worker wake-ups: no change
        QTest::qWait(30);
        QCOMPARE(runs.load(), 201);
        QCOMPARE(gauge.now.load(), 1);
        const JobQueue::LocalStats stats = queue.localStats();
        QCOMPARE(stats.busy, 1);
        QCOMPARE(stats.waiting, 16);
        QCOMPARE(stats.held.value(QStringLiteral("q")), 17);
        QCOMPARE(countIn(QStringLiteral("q"), JobState::Running), 17);
    }
    // The flow stopped (the running job is slow): after the give-back delay the 16 waiting go
    // back to the database for any instance, and none is claimed ahead again meanwhile.
    QTRY_COMPARE_WITH_TIMEOUT(queue.localStats().waiting, 0, kWait);
    QCOMPARE(countIn(QStringLiteral("q"), JobState::Running), 1);
    QCOMPARE(countIn(QStringLiteral("q"), JobState::Queued), 19);
    QCOMPARE(queue.localStats().released, quint64(16));
    QTest::qWait(300);
    QCOMPARE(countIn(QStringLiteral("q"), JobState::Running), 1);
    QCOMPARE(runs.load(), 201);

    release = true;
    QTRY_COMPARE_WITH_TIMEOUT(countIn(QStringLiteral("q"), JobState::Succeeded), 220, kWait);
    QCOMPARE(runs.load(), 220);
    QCOMPARE(gauge.max.load(), 1);
    QCOMPARE(countIn(QStringLiteral("q"), JobState::Running), 0);
}

void TestJobQueue::longJobsAreNotClaimedAhead()
{
    GatedJobs gate;
    gate.sleepMs = 20;
    RunningGauge &gauge = gate.gauge;
    std::atomic<int> &runs = gate.runs;
    std::atomic<bool> &release = gate.release;
    JobQueue &queue = startGated(QStringLiteral("l"), 1, gate);

    // Five jobs of 20 ms: claimed one at a time (unknown average first, long after).
    VERIFY_OK(queue.enqueue(specsInQ(QStringLiteral("l"), 5, false)));
    int maxDbRunning = 0;
    int maxHeld = 0;
    int maxWaiting = 0;
    int polls = 0;
    const bool done = spinUntil(
        [&] {
            ++polls;
            maxDbRunning = std::max(maxDbRunning, countIn(QStringLiteral("q"), JobState::Running));
            const JobQueue::LocalStats stats = queue.localStats();
            maxHeld = std::max(maxHeld, stats.held.value(QStringLiteral("q")));
            maxWaiting = std::max(maxWaiting, stats.waiting);
            return countIn(QStringLiteral("q"), JobState::Succeeded) == 5;
        },
        kWait);
    QVERIFY(done);
    QVERIFY2(polls >= 5, qPrintable(QString::number(polls)));
    QVERIFY2(maxDbRunning <= 1, qPrintable(QString::number(maxDbRunning)));
    QVERIFY2(maxHeld <= 1, qPrintable(QString::number(maxHeld)));
    QCOMPARE(maxWaiting, 0);
    QCOMPARE(runs.load(), 5);
    QCOMPARE(gauge.max.load(), 1);

    // The average is long now: while a job holds the slot, the next ones stay queued in
    // the database for any instance to take, poll after poll.
    VERIFY_OK(queue.enqueue(specsInQ(QStringLiteral("l"), 3, true)));
    QTRY_COMPARE_WITH_TIMEOUT(runs.load(), 6, kWait);
    for (int i = 0; i < 5; ++i) {
        QTest::qWait(30);
        QCOMPARE(countIn(QStringLiteral("q"), JobState::Running), 1);
        QCOMPARE(countIn(QStringLiteral("q"), JobState::Queued), 2);
        const JobQueue::LocalStats stats = queue.localStats();
        QCOMPARE(stats.waiting, 0);
        QCOMPARE(stats.held.value(QStringLiteral("q")), 1);
        QCOMPARE(runs.load(), 6);
    }

    release = true;
    QTRY_COMPARE_WITH_TIMEOUT(countIn(QStringLiteral("q"), JobState::Succeeded), 8, kWait);
    QCOMPARE(runs.load(), 8);
    QCOMPARE(gauge.max.load(), 1);
}

QTEST_GUILESS_MAIN(TestJobQueue)
#include "tst_jobqueue.moc"
