// SPDX-License-Identifier: GPL-3.0-or-later
// JobStore through the real ConnectionPool and the internal migrations, with explicit
// times (Unix ms chosen by the test, no sleeping): enqueue and read back; scheduled jobs
// not claimed before their time; claim order (priority, run_at, id); the weighted claim
// (8:4:2:1 under contention, unused slots to whoever has work) and no starvation of low
// jobs under a flood of critical ones; lease fencing of every outcome; released, failed
// (retrying / dead) and expired leases; unique keys within their window; cancel, retry and
// remove one by one and by filter; list filters and paging; paused queues; stats; prune;
// cron slots (each taken once); webhook deliveries; and two stores on one database
// claiming from two threads at once, never the same job twice.
//
// One source, two executables: tst_jobstore runs on a SQLite file in a temporary directory
// (unit); tst_jobstore_postgres (tests/integration, BULWARK_TEST_POSTGRES defined) runs
// the same checks on a real PostgreSQL from the harness, whose absence is a failure.
#include "ConnectionPool.h"
#include "InternalSchema.h"
#include "JobStore.h"
#include "MigratedDatabase.h"
#include "Migrator.h"
#include "PriorityScheduler.h"

#ifdef BULWARK_TEST_POSTGRES
#include "ExternalServers.h"
#endif

#include <QSet>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QtTest>
#include <atomic>
#include <mutex>
#include <thread>

using namespace bulwark;
using namespace std::chrono_literals;

namespace {

constexpr qint64 kT0 = 1'700'000'000'000; // 2023-11-14T22:13:20Z
constexpr qint64 kLease = 30'000;
constexpr qint64 kMinute = 60'000;
constexpr qint64 kHour = 60 * kMinute;
constexpr qint64 kDay = 24 * kHour;

using Counts = std::array<int, kJobPriorities>;
using Kind = JobOutcome::Kind;

constexpr Counts kAll{1000, 1000, 1000, 1000};
constexpr Counts kWeights{8, 4, 2, 1};

template <typename T> QString errorOf(const Result<T> &r)
{
    return r.ok() ? QString() : r.error().message;
}

#define VERIFY_OK(expr)                                                                            \
    do {                                                                                           \
        const auto &verifyOk_ = (expr);                                                            \
        QVERIFY2(verifyOk_.ok(), qPrintable(errorOf(verifyOk_)));                                  \
    } while (false)

JobSpec spec(const QString &type, JobPriority priority = JobPriority::Normal, qint64 runAtMs = 0,
             const QString &queue = QStringLiteral("default"), int maxAttempts = 3)
{
    JobSpec s;
    s.type = type;
    s.queue = queue;
    s.priority = priority;
    s.maxAttempts = maxAttempts;
    s.runAtMs = runAtMs;
    return s;
}

JobOutcome outcome(qint64 id, int attempt, Kind kind, qint64 retryAtMs = 0,
                   const QString &error = {}, const QJsonObject &result = {})
{
    JobOutcome o;
    o.id = id;
    o.attempt = attempt;
    o.kind = kind;
    o.retryAtMs = retryAtMs;
    o.error = error;
    o.result = result;
    return o;
}

QList<qint64> idsOf(const QList<JobRecord> &records)
{
    QList<qint64> ids;
    for (const JobRecord &r : records)
        ids.append(r.id);
    return ids;
}

QList<qint64> idsOf(const QList<ClaimedJob> &jobs)
{
    QList<qint64> ids;
    for (const ClaimedJob &j : jobs)
        ids.append(j.id);
    return ids;
}

Counts perPriority(const QList<ClaimedJob> &jobs)
{
    Counts c{};
    for (const ClaimedJob &j : jobs)
        ++c[int(j.priority)];
    return c;
}

QByteArray show(const Counts &c)
{
    return QByteArray::number(c[0]) + ',' + QByteArray::number(c[1]) + ',' +
           QByteArray::number(c[2]) + ',' + QByteArray::number(c[3]);
}

} // namespace

class TestJobStore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();
    void cleanup();

    void enqueueAndGet();
    void scheduledJobWaitsForItsTime();
    void claimOrder();
    void claimOnlyItsQueue();
    void weightedClaim();
    void unusedSlotsGoToOthers();
    void noStarvation();
    void leaseFencing();
    void expiredLeaseFencesTheOldAttempt();
    void releasedRestoresTheJob();
    void failedIsRetriedAfterItsTime();
    void failedWithoutRetryIsDead();
    void requeueExpired();
    void uniqueKey();
    void cancel();
    void retry();
    void remove();
    void listFilters();
    void listPaging();
    void bulkActions();
    void pause();
    void stats();
    void progress();
    void renewLeases();
    void prune();
    void cronSlots();
    void deliveries();
    void concurrentClaims();

private:
    std::unique_ptr<ConnectionPool> makePool();
    qint64 add(const JobSpec &s, qint64 nowMs);
    QList<ClaimedJob> claim(const QString &queue, Counts counts, qint64 nowMs,
                            const QString &owner = QStringLiteral("a"), qint64 lease = kLease);
    JobRecord job(qint64 id);
    std::vector<bool> finish(const QString &owner, const QList<JobOutcome> &outcomes, qint64 nowMs);
    // A job in a queue of its own, claimed at `at` and ended with `kind` at `endAt`
    // (Cancelled: cancelled at `endAt` before it ran).
    qint64 ended(Kind kind, qint64 at, qint64 endAt, const QString &type = QStringLiteral("t"));
    qint64 running(qint64 at, const QString &type = QStringLiteral("t"),
                   const QString &owner = QStringLiteral("a"));

    std::shared_ptr<Dialect> m_dialect;
    SteadyClock m_clock;
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<ConnectionPool> m_pool;
    std::unique_ptr<JobStore> m_store;
    int m_solo = 0;
#ifdef BULWARK_TEST_POSTGRES
    test::PostgresServer m_pg;
#endif
};

void TestJobStore::initTestCase()
{
#ifdef BULWARK_TEST_POSTGRES
    QVERIFY2(m_pg.start(), qPrintable(m_pg.errorString()));
#endif
}

void TestJobStore::cleanupTestCase()
{
#ifdef BULWARK_TEST_POSTGRES
    m_pg.stop();
#endif
}

std::unique_ptr<ConnectionPool> TestJobStore::makePool()
{
    PoolOptions options;
    options.maxSize = 8;
    options.acquireTimeout = 5000ms;
    options.pingAfterIdle = 3'600'000ms;
    options.idleTimeout = 3'600'000ms;
    options.maxLifetime = 3'600'000ms * 24;
    return std::make_unique<ConnectionPool>(m_dialect, options, m_clock);
}

void TestJobStore::init()
{
    m_solo = 0;
#ifdef BULWARK_TEST_POSTGRES
    PostgresDialect::Params params;
    params.host = m_pg.host();
    params.port = m_pg.port();
    params.database = m_pg.database();
    params.user = m_pg.user();
    params.connectTimeoutSeconds = 2;
    m_dialect = std::make_shared<PostgresDialect>(params);
#else
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_dialect = std::make_shared<SqliteDialect>(m_dir->filePath(QStringLiteral("jobs.db")), 5000ms);
#endif
    m_pool = makePool();
    const QString migrated = test::migrateInternalTables(*m_pool, *m_dialect);
    QVERIFY2(migrated.isEmpty(), qPrintable(migrated));
    m_store = std::make_unique<JobStore>(*m_pool, nullptr);
}

void TestJobStore::cleanup()
{
    m_store.reset();
    if (m_pool)
        m_pool->closeThreadConnections();
    m_pool.reset();
    m_dir.reset();
}

qint64 TestJobStore::add(const JobSpec &s, qint64 nowMs)
{
    const auto r = m_store->enqueue({s}, nowMs);
    if (!r.ok() || r.value().size() != 1) {
        QTest::qFail(qPrintable(QStringLiteral("enqueue failed: ") + errorOf(r)), __FILE__,
                     __LINE__);
        return 0;
    }
    return r.value().first().id;
}

QList<ClaimedJob> TestJobStore::claim(const QString &queue, Counts counts, qint64 nowMs,
                                      const QString &owner, qint64 lease)
{
    const auto r = m_store->claim(owner, queue, counts, nowMs, nowMs + lease);
    if (!r.ok()) {
        QTest::qFail(qPrintable(QStringLiteral("claim failed: ") + errorOf(r)), __FILE__, __LINE__);
        return {};
    }
    return r.value();
}

JobRecord TestJobStore::job(qint64 id)
{
    const auto r = m_store->get(id);
    if (!r.ok() || !r.value()) {
        QTest::qFail(qPrintable(QStringLiteral("no job %1: %2").arg(id).arg(errorOf(r))), __FILE__,
                     __LINE__);
        return {};
    }
    return *r.value();
}

std::vector<bool> TestJobStore::finish(const QString &owner, const QList<JobOutcome> &outcomes,
                                       qint64 nowMs)
{
    const auto r = m_store->finish(owner, outcomes, nowMs);
    if (!r.ok()) {
        QTest::qFail(qPrintable(QStringLiteral("finish failed: ") + errorOf(r)), __FILE__,
                     __LINE__);
        return std::vector<bool>(size_t(outcomes.size()), false);
    }
    return r.value();
}

qint64 TestJobStore::running(qint64 at, const QString &type, const QString &owner)
{
    const QString queue = QStringLiteral("solo-%1").arg(++m_solo);
    const qint64 id = add(spec(type, JobPriority::Normal, 0, queue), at);
    const auto claimed = claim(queue, {0, 0, 1, 0}, at, owner);
    if (claimed.size() != 1 || claimed.first().id != id) {
        QTest::qFail("could not claim the solo job", __FILE__, __LINE__);
        return 0;
    }
    return id;
}

qint64 TestJobStore::ended(Kind kind, qint64 at, qint64 endAt, const QString &type)
{
    if (kind == Kind::Cancelled) {
        const QString queue = QStringLiteral("solo-%1").arg(++m_solo);
        const qint64 id = add(spec(type, JobPriority::Normal, 0, queue), at);
        const auto cancelled = m_store->cancel(id, endAt);
        if (!cancelled.ok())
            QTest::qFail("could not cancel the solo job", __FILE__, __LINE__);
        return id;
    }
    const qint64 id = running(at, type);
    const auto applied = finish(
        QStringLiteral("a"), {outcome(id, 1, kind, 0, kind == Kind::Failed ? "boom" : "")}, endAt);
    if (applied != std::vector<bool>{true})
        QTest::qFail("could not end the solo job", __FILE__, __LINE__);
    return id;
}

// ---------------------------------------------------------------------------------------

void TestJobStore::enqueueAndGet()
{
    JobSpec s = spec(QStringLiteral("email.send"), JobPriority::High, 0, QStringLiteral("mail"), 4);
    s.payload = QJsonObject{{QStringLiteral("to"), QStringLiteral("a@example.org")},
                            {QStringLiteral("n"), 3},
                            {QStringLiteral("nested"), QJsonObject{{QStringLiteral("x"), true}}}};
    s.ownerId = 42;
    const auto r = m_store->enqueue({s}, kT0);
    VERIFY_OK(r);
    QCOMPARE(r.value().size(), 1);
    QVERIFY(r.value().first().id > 0);
    QCOMPARE(r.value().first().duplicate, false);

    const JobRecord j = job(r.value().first().id);
    QCOMPARE(j.id, r.value().first().id);
    QCOMPARE(j.type, QStringLiteral("email.send"));
    QCOMPARE(j.queue, QStringLiteral("mail"));
    QCOMPARE(j.priority, JobPriority::High);
    QCOMPARE(j.state, JobState::Queued);
    QCOMPARE(j.payload, s.payload);
    QVERIFY(j.result.isEmpty());
    QVERIFY(j.error.isEmpty());
    QCOMPARE(j.progress, 0.0);
    QCOMPARE(j.attempts, 0);
    QCOMPARE(j.maxAttempts, 4);
    QCOMPARE(j.runAtMs, kT0); // runAtMs 0: now
    QCOMPARE(j.createdAtMs, kT0);
    QVERIFY(!j.startedAtMs);
    QVERIFY(!j.finishedAtMs);
    QVERIFY(j.leaseOwner.isEmpty());
    QVERIFY(!j.leaseUntilMs);
    QVERIFY(j.uniqueKey.isEmpty());
    QCOMPARE(j.cancelRequested, false);
    QCOMPARE(j.ownerId, std::optional<qint64>(42));
    const QJsonObject json = j.toJson();
    QCOMPARE(json.value(QStringLiteral("state")).toString(), QStringLiteral("queued"));
    QCOMPARE(json.value(QStringLiteral("priority")).toString(), QStringLiteral("high"));
    QVERIFY(!json.contains(QStringLiteral("scheduled")));
    QCOMPARE(json.value(QStringLiteral("payload")).toObject(), s.payload);

    // A batch: ids ascending; no owner is stored as none; a future run_at is "scheduled".
    QList<JobSpec> batch{spec(QStringLiteral("a")), spec(QStringLiteral("b")),
                         spec(QStringLiteral("c"), JobPriority::Low, kT0 + 5000)};
    const auto many = m_store->enqueue(batch, kT0 + 1);
    VERIFY_OK(many);
    QCOMPARE(many.value().size(), 3);
    QVERIFY(many.value().at(0).id > r.value().first().id);
    QVERIFY(many.value().at(1).id > many.value().at(0).id);
    QVERIFY(many.value().at(2).id > many.value().at(1).id);
    const JobRecord c = job(many.value().at(2).id);
    QCOMPARE(c.type, QStringLiteral("c"));
    QCOMPARE(c.priority, JobPriority::Low);
    QCOMPARE(c.runAtMs, kT0 + 5000);
    QCOMPARE(c.createdAtMs, kT0 + 1);
    QVERIFY(!c.ownerId);
    QCOMPARE(c.toJson(true, kT0 + 1).value(QStringLiteral("scheduled")).toBool(), true);
    QCOMPARE(c.toJson(true, kT0 + 5000).value(QStringLiteral("scheduled")).toBool(), false);

    const auto missing = m_store->get(999'999);
    VERIFY_OK(missing);
    QVERIFY(!missing.value());
}

void TestJobStore::scheduledJobWaitsForItsTime()
{
    JobSpec s = spec(QStringLiteral("later"), JobPriority::Critical, kT0 + 5000);
    s.payload = QJsonObject{{QStringLiteral("k"), QStringLiteral("v")}};
    s.ownerId = 7;
    const qint64 id = add(s, kT0);
    QVERIFY(id > 0);
    QVERIFY(claim(QStringLiteral("default"), kAll, kT0).isEmpty());
    QVERIFY(claim(QStringLiteral("default"), kAll, kT0 + 4999).isEmpty());
    QCOMPARE(job(id).state, JobState::Queued);

    const auto claimed = claim(QStringLiteral("default"), kAll, kT0 + 5000, QStringLiteral("x"));
    QCOMPARE(claimed.size(), 1);
    const ClaimedJob &c = claimed.first();
    QCOMPARE(c.id, id);
    QCOMPARE(c.type, QStringLiteral("later"));
    QCOMPARE(c.queue, QStringLiteral("default"));
    QCOMPARE(c.priority, JobPriority::Critical);
    QCOMPARE(c.payload, s.payload);
    QCOMPARE(c.attempt, 1);
    QCOMPARE(c.maxAttempts, 3);
    QCOMPARE(c.runAtMs, kT0 + 5000);
    QCOMPARE(c.createdAtMs, kT0);
    QCOMPARE(c.ownerId, std::optional<qint64>(7));

    const JobRecord j = job(id);
    QCOMPARE(j.state, JobState::Running);
    QCOMPARE(j.attempts, 1);
    QCOMPARE(j.leaseOwner, QStringLiteral("x"));
    QCOMPARE(j.leaseUntilMs, std::optional<qint64>(kT0 + 5000 + kLease));
    QCOMPARE(j.startedAtMs, std::optional<qint64>(kT0 + 5000));
    // Claimed once only.
    QVERIFY(claim(QStringLiteral("default"), kAll, kT0 + 6000).isEmpty());
}

void TestJobStore::claimOrder()
{
    const qint64 low = add(spec("low", JobPriority::Low, kT0), kT0);
    const qint64 normal = add(spec("normal", JobPriority::Normal, kT0 + 1), kT0);
    const qint64 c1 = add(spec("c1", JobPriority::Critical, kT0 + 3), kT0);
    const qint64 c2 = add(spec("c2", JobPriority::Critical, kT0 + 2), kT0);
    const qint64 high = add(spec("high", JobPriority::High, kT0), kT0);
    const qint64 c3 = add(spec("c3", JobPriority::Critical, kT0 + 2), kT0);
    const QList<qint64> expected{c2, c3, c1, high, normal, low};

    // One at a time: each claim takes the first job in order.
    QList<qint64> order;
    for (int i = 0; i < 6; ++i) {
        const auto claimed = claim(QStringLiteral("default"), {1, 0, 0, 0}, kT0 + 10);
        QCOMPARE(claimed.size(), 1);
        order.append(claimed.first().id);
    }
    QCOMPARE(order, expected);
    QVERIFY(claim(QStringLiteral("default"), kAll, kT0 + 10).isEmpty());

    // Released (run_at becomes the release time for all), then all at once: returned
    // in priority order, ties by id.
    for (qint64 id : expected)
        QVERIFY(m_store->retry(id, kT0).ok() == false); // running: Conflict
    QVERIFY(finish("a",
                   {outcome(c1, 1, Kind::Released), outcome(c2, 1, Kind::Released),
                    outcome(c3, 1, Kind::Released), outcome(high, 1, Kind::Released),
                    outcome(normal, 1, Kind::Released), outcome(low, 1, Kind::Released)},
                   kT0 + 20) == std::vector<bool>(6, true));
    const auto all = claim(QStringLiteral("default"), kAll, kT0 + 30);
    QCOMPARE(idsOf(all), (QList<qint64>{c1, c2, c3, high, normal, low}));
}

void TestJobStore::claimOnlyItsQueue()
{
    const qint64 a = add(spec("a", JobPriority::Normal, 0, QStringLiteral("one")), kT0);
    const qint64 b = add(spec("b", JobPriority::Normal, 0, QStringLiteral("two")), kT0);
    const auto one = claim(QStringLiteral("one"), kAll, kT0);
    QCOMPARE(idsOf(one), QList<qint64>{a});
    QCOMPARE(one.first().queue, QStringLiteral("one"));
    QVERIFY(claim(QStringLiteral("three"), kAll, kT0).isEmpty());
    QCOMPARE(idsOf(claim(QStringLiteral("two"), kAll, kT0)), QList<qint64>{b});
}

void TestJobStore::weightedClaim()
{
    QList<JobSpec> specs;
    for (int p = 0; p < kJobPriorities; ++p)
        for (int i = 0; i < 100; ++i)
            specs.append(spec(QStringLiteral("w"), JobPriority(p), kT0 + i));
    const auto enqueued = m_store->enqueue(specs, kT0);
    VERIFY_OK(enqueued);
    QCOMPARE(enqueued.value().size(), 400);

    const auto claimed = claim(QStringLiteral("default"), kWeights, kT0 + 1000);
    QCOMPARE(show(perPriority(claimed)), QByteArray("8,4,2,1"));
    // Within each priority, the oldest run_at first (run_at kT0 + i).
    for (const ClaimedJob &j : claimed) {
        const int p = int(j.priority);
        QVERIFY2(j.runAtMs < kT0 + kWeights[p],
                 qPrintable(
                     QStringLiteral("priority %1 claimed run_at +%2").arg(p).arg(j.runAtMs - kT0)));
    }
    // Returned in priority order.
    for (qsizetype i = 1; i < claimed.size(); ++i)
        QVERIFY(claimed.at(i - 1).priority <= claimed.at(i).priority);

    // Again: the next ones.
    const auto second = claim(QStringLiteral("default"), kWeights, kT0 + 1000);
    QCOMPARE(show(perPriority(second)), QByteArray("8,4,2,1"));
    QSet<qint64> seen;
    for (const ClaimedJob &j : claimed + second)
        seen.insert(j.id);
    QCOMPARE(seen.size(), 30);
}

void TestJobStore::unusedSlotsGoToOthers()
{
    // Only low jobs: the 15 slots all go to low.
    QList<JobSpec> lows;
    for (int i = 0; i < 100; ++i)
        lows.append(spec(QStringLiteral("l"), JobPriority::Low));
    VERIFY_OK(m_store->enqueue(lows, kT0));
    auto claimed = claim(QStringLiteral("default"), kWeights, kT0);
    QCOMPARE(show(perPriority(claimed)), QByteArray("0,0,0,15"));

    // Three critical and many low: critical takes its three, low the other twelve.
    QList<JobSpec> critical;
    for (int i = 0; i < 3; ++i)
        critical.append(spec(QStringLiteral("c"), JobPriority::Critical));
    VERIFY_OK(m_store->enqueue(critical, kT0));
    claimed = claim(QStringLiteral("default"), kWeights, kT0);
    QCOMPARE(show(perPriority(claimed)), QByteArray("3,0,0,12"));

    // High and normal only, slots for critical only: the second pass fills them from
    // high first.
    QList<JobSpec> mixed;
    for (int i = 0; i < 5; ++i) {
        mixed.append(spec(QStringLiteral("h"), JobPriority::High, 0, QStringLiteral("q2")));
        mixed.append(spec(QStringLiteral("n"), JobPriority::Normal, 0, QStringLiteral("q2")));
    }
    VERIFY_OK(m_store->enqueue(mixed, kT0));
    claimed = claim(QStringLiteral("q2"), {7, 0, 0, 0}, kT0);
    QCOMPARE(show(perPriority(claimed)), QByteArray("0,5,2,0"));
    claimed = claim(QStringLiteral("q2"), {7, 0, 0, 0}, kT0);
    QCOMPARE(show(perPriority(claimed)), QByteArray("0,0,3,0"));
}

void TestJobStore::noStarvation()
{
    // A flood of critical jobs (two more for every one claimed) does not starve low ones:
    // one slot at a time, low still gets one slot in every 15.
    QList<JobSpec> lows;
    for (int i = 0; i < 20; ++i)
        lows.append(spec(QStringLiteral("low"), JobPriority::Low, kT0));
    VERIFY_OK(m_store->enqueue(lows, kT0));
    PriorityScheduler scheduler;
    QList<JobPriority> order;
    qint64 now = kT0;
    for (int round = 0; round < 150; ++round) {
        now += 10;
        QList<JobSpec> flood{spec(QStringLiteral("crit"), JobPriority::Critical, now),
                             spec(QStringLiteral("crit"), JobPriority::Critical, now)};
        VERIFY_OK(m_store->enqueue(flood, now));
        const auto claimed = claim(QStringLiteral("default"), scheduler.allocate(1), now);
        QCOMPARE(claimed.size(), 1);
        order.append(claimed.first().priority);
    }
    QCOMPARE(order.count(JobPriority::Low), 10);
    for (qsizetype start = 0; start + 15 <= order.size(); ++start) {
        int lowsInWindow = 0;
        for (qsizetype i = start; i < start + 15; ++i)
            lowsInWindow += order.at(i) == JobPriority::Low ? 1 : 0;
        QVERIFY2(lowsInWindow == 1, qPrintable(QStringLiteral("%1 low claims in slots [%2, %3)")
                                                   .arg(lowsInWindow)
                                                   .arg(start)
                                                   .arg(start + 15)));
    }

    // In batches of 15 with 20 more critical jobs per batch: one low per batch.
    for (int round = 0; round < 5; ++round) {
        now += 10;
        QList<JobSpec> flood;
        for (int i = 0; i < 20; ++i)
            flood.append(spec(QStringLiteral("crit"), JobPriority::Critical, now));
        VERIFY_OK(m_store->enqueue(flood, now));
        const auto claimed = claim(QStringLiteral("default"), scheduler.allocate(15), now);
        QCOMPARE(claimed.size(), 15);
        QCOMPARE(perPriority(claimed)[3], 1);
    }
}

void TestJobStore::leaseFencing()
{
    const qint64 id = running(kT0);
    QVERIFY(id > 0);
    const QJsonObject result{{QStringLiteral("rows"), 12}};

    // Wrong owner, wrong attempt: nothing changes.
    QCOMPARE(finish("b", {outcome(id, 1, Kind::Succeeded, 0, {}, result)}, kT0 + 1),
             std::vector<bool>{false});
    QCOMPARE(finish("a", {outcome(id, 2, Kind::Succeeded, 0, {}, result)}, kT0 + 1),
             std::vector<bool>{false});
    QCOMPARE(finish("a", {outcome(id, 0, Kind::Failed, 0, "x")}, kT0 + 1),
             std::vector<bool>{false});
    QCOMPARE(finish("b", {outcome(id, 1, Kind::Released)}, kT0 + 1), std::vector<bool>{false});
    QCOMPARE(finish("b", {outcome(id, 1, Kind::Cancelled)}, kT0 + 1), std::vector<bool>{false});
    JobRecord j = job(id);
    QCOMPARE(j.state, JobState::Running);
    QCOMPARE(j.attempts, 1);
    QCOMPARE(j.leaseOwner, QStringLiteral("a"));
    QVERIFY(j.result.isEmpty());

    // A batch: the fenced outcome and an unknown job are false, the right one true.
    const std::vector<bool> applied =
        finish("a",
               {outcome(id, 2, Kind::Failed, 0, "late"), outcome(999'999, 1, Kind::Succeeded),
                outcome(id, 1, Kind::Succeeded, 0, {}, result)},
               kT0 + 2);
    QCOMPARE(applied, (std::vector<bool>{false, false, true}));
    j = job(id);
    QCOMPARE(j.state, JobState::Succeeded);
    QCOMPARE(j.result, result);
    QCOMPARE(j.progress, 1.0);
    QCOMPARE(j.finishedAtMs, std::optional<qint64>(kT0 + 2));
    QVERIFY(j.leaseOwner.isEmpty());
    QVERIFY(!j.leaseUntilMs);
    QCOMPARE(j.attempts, 1);
    // Finished: no outcome applies any more.
    QCOMPARE(finish("a", {outcome(id, 1, Kind::Failed, 0, "again")}, kT0 + 3),
             std::vector<bool>{false});
    QCOMPARE(job(id).state, JobState::Succeeded);
}

void TestJobStore::expiredLeaseFencesTheOldAttempt()
{
    const qint64 id = add(spec("t"), kT0);
    QCOMPARE(claim("default", kAll, kT0, "a", 1000).size(), 1);
    const auto expired = m_store->requeueExpired(kT0 + 1001);
    VERIFY_OK(expired);
    QCOMPARE(expired.value().size(), 1);
    const auto again = claim("default", kAll, kT0 + 1001, "b");
    QCOMPARE(idsOf(again), QList<qint64>{id});
    QCOMPARE(again.first().attempt, 2);
    // The first instance comes back with its outcome: fenced off (attempt and owner).
    QCOMPARE(finish("a", {outcome(id, 1, Kind::Succeeded)}, kT0 + 2000), std::vector<bool>{false});
    QCOMPARE(finish("a", {outcome(id, 2, Kind::Succeeded)}, kT0 + 2000), std::vector<bool>{false});
    QCOMPARE(finish("b", {outcome(id, 1, Kind::Succeeded)}, kT0 + 2000), std::vector<bool>{false});
    QCOMPARE(job(id).state, JobState::Running);
    QCOMPARE(job(id).leaseOwner, QStringLiteral("b"));
    QCOMPARE(finish("b", {outcome(id, 2, Kind::Succeeded)}, kT0 + 2000), std::vector<bool>{true});
    QCOMPARE(job(id).state, JobState::Succeeded);
}

void TestJobStore::releasedRestoresTheJob()
{
    const qint64 id = add(spec("t"), kT0);
    QCOMPARE(claim("default", kAll, kT0).size(), 1);
    QCOMPARE(finish("a", {outcome(id, 1, Kind::Released)}, kT0 + 5), std::vector<bool>{true});
    JobRecord j = job(id);
    QCOMPARE(j.state, JobState::Queued);
    QCOMPARE(j.attempts, 0);
    QVERIFY(j.leaseOwner.isEmpty());
    QVERIFY(!j.leaseUntilMs);
    QVERIFY(!j.finishedAtMs);
    QVERIFY(j.runAtMs <= kT0 + 5);

    // Claimable again at once, as attempt 1 again.
    auto claimed = claim("default", kAll, kT0 + 5);
    QCOMPARE(idsOf(claimed), QList<qint64>{id});
    QCOMPARE(claimed.first().attempt, 1);

    // A second attempt released goes back to retrying with one attempt counted.
    QCOMPARE(finish("a", {outcome(id, 1, Kind::Failed, kT0 + 100, "first")}, kT0 + 10),
             std::vector<bool>{true});
    claimed = claim("default", kAll, kT0 + 100);
    QCOMPARE(idsOf(claimed), QList<qint64>{id});
    QCOMPARE(claimed.first().attempt, 2);
    QCOMPARE(finish("a", {outcome(id, 2, Kind::Released)}, kT0 + 110), std::vector<bool>{true});
    j = job(id);
    QCOMPARE(j.state, JobState::Retrying);
    QCOMPARE(j.attempts, 1);
    claimed = claim("default", kAll, kT0 + 110);
    QCOMPARE(idsOf(claimed), QList<qint64>{id});
    QCOMPARE(claimed.first().attempt, 2);
}

void TestJobStore::failedIsRetriedAfterItsTime()
{
    const qint64 id = add(spec("t"), kT0);
    QCOMPARE(claim("default", kAll, kT0).size(), 1);
    QCOMPARE(finish("a", {outcome(id, 1, Kind::Failed, kT0 + 2000, "boom")}, kT0 + 10),
             std::vector<bool>{true});
    JobRecord j = job(id);
    QCOMPARE(j.state, JobState::Retrying);
    QCOMPARE(j.error, QStringLiteral("boom"));
    QCOMPARE(j.runAtMs, kT0 + 2000);
    QCOMPARE(j.attempts, 1);
    QVERIFY(!j.finishedAtMs);
    QVERIFY(j.leaseOwner.isEmpty());

    QVERIFY(claim("default", kAll, kT0 + 1999).isEmpty());
    const auto claimed = claim("default", kAll, kT0 + 2000);
    QCOMPARE(idsOf(claimed), QList<qint64>{id});
    QCOMPARE(claimed.first().attempt, 2);
    QCOMPARE(job(id).state, JobState::Running);
}

void TestJobStore::failedWithoutRetryIsDead()
{
    const qint64 id = add(spec("t"), kT0);
    QCOMPARE(claim("default", kAll, kT0).size(), 1);
    QCOMPARE(finish("a", {outcome(id, 1, Kind::Failed, 0, "permanent")}, kT0 + 10),
             std::vector<bool>{true});
    const JobRecord j = job(id);
    QCOMPARE(j.state, JobState::Dead);
    QCOMPARE(j.error, QStringLiteral("permanent"));
    QCOMPARE(j.finishedAtMs, std::optional<qint64>(kT0 + 10));
    QCOMPARE(j.attempts, 1);
    QVERIFY(claim("default", kAll, kT0 + 100'000).isEmpty());
}

void TestJobStore::requeueExpired()
{
    const qint64 a = add(spec("ta", JobPriority::Critical, 0, "default", 3), kT0);
    const qint64 b = add(spec("tb", JobPriority::High, 0, "default", 1), kT0);
    QCOMPARE(claim("default", {1, 1, 0, 0}, kT0, "a", 1000).size(), 2);
    const qint64 c = add(spec("tc"), kT0);
    QCOMPARE(claim("default", kAll, kT0, "a", 5000).size(), 1);

    auto expired = m_store->requeueExpired(kT0 + 1000); // not past yet
    VERIFY_OK(expired);
    QVERIFY(expired.value().isEmpty());

    expired = m_store->requeueExpired(kT0 + 1001);
    VERIFY_OK(expired);
    QCOMPARE(expired.value().size(), 2);
    QHash<qint64, JobStore::Expired> byId;
    for (const JobStore::Expired &e : expired.value())
        byId.insert(e.id, e);
    QVERIFY(byId.contains(a) && byId.contains(b));
    QCOMPARE(byId.value(a).type, QStringLiteral("ta"));
    QCOMPARE(byId.value(a).state, JobState::Retrying);
    QCOMPARE(byId.value(a).queue, QStringLiteral("default"));
    QCOMPARE(byId.value(a).attempt, 1);
    QCOMPARE(byId.value(b).type, QStringLiteral("tb"));
    QCOMPARE(byId.value(b).state, JobState::Dead); // attempts 1 of max 1

    JobRecord ja = job(a);
    QCOMPARE(ja.state, JobState::Retrying);
    QCOMPARE(ja.attempts, 1);
    QVERIFY(ja.leaseOwner.isEmpty());
    QVERIFY(!ja.leaseUntilMs);
    QVERIFY(!ja.finishedAtMs);
    QVERIFY2(ja.error.contains(QStringLiteral("lease expired")), qPrintable(ja.error));
    QVERIFY(ja.runAtMs <= kT0 + 1001);
    const JobRecord jb = job(b);
    QCOMPARE(jb.state, JobState::Dead);
    QCOMPARE(jb.finishedAtMs, std::optional<qint64>(kT0 + 1001));
    QCOMPARE(job(c).state, JobState::Running);

    // Again: nothing more. The retried one runs again as attempt 2.
    expired = m_store->requeueExpired(kT0 + 1002);
    VERIFY_OK(expired);
    QVERIFY(expired.value().isEmpty());
    const auto claimed = claim("default", kAll, kT0 + 1002, "b");
    QCOMPARE(idsOf(claimed), QList<qint64>{a});
    QCOMPARE(claimed.first().attempt, 2);

    // A cancel requested while running, whose instance then died: cancelled, not re-run.
    auto requested = m_store->cancel(a, kT0 + 1003);
    VERIFY_OK(requested);
    QVERIFY(requested.value().requested);
    expired = m_store->requeueExpired(kT0 + 100'000);
    VERIFY_OK(expired);
    QCOMPARE(expired.value().size(), 2); // a, and c from the first claim
    for (const JobStore::Expired &e : expired.value())
        QCOMPARE(e.state, e.id == a ? JobState::Cancelled : JobState::Retrying);
    const JobRecord cancelled = job(a);
    QCOMPARE(cancelled.state, JobState::Cancelled);
    QVERIFY(!cancelled.cancelRequested);
    QCOMPARE(cancelled.finishedAtMs, std::optional<qint64>(kT0 + 100'000));
    QVERIFY(idsOf(claim("default", kAll, kT0 + 100'000, "b")) == QList<qint64>{c});
}

void TestJobStore::uniqueKey()
{
    auto keyed = [](const QString &key, qint64 window) {
        JobSpec s = spec(QStringLiteral("report"));
        s.uniqueKey = key;
        s.uniqueWindowMs = window;
        return s;
    };
    auto one = [this](const JobSpec &s, qint64 now) {
        const auto r = m_store->enqueue({s}, now);
        return r.ok() && r.value().size() == 1 ? r.value().first() : Enqueued{};
    };

    const Enqueued first = one(keyed("k", kMinute), kT0);
    QVERIFY(first.id > 0);
    QCOMPARE(first.duplicate, false);
    QCOMPARE(job(first.id).uniqueKey, QStringLiteral("k"));

    Enqueued again = one(keyed("k", kMinute), kT0 + kMinute - 1);
    QCOMPARE(again.id, first.id);
    QCOMPARE(again.duplicate, true);

    // Outside the window: a new job; then that one is the duplicate target.
    const Enqueued second = one(keyed("k", kMinute), kT0 + kMinute);
    QVERIFY(second.id > first.id);
    QCOMPARE(second.duplicate, false);
    again = one(keyed("k", kMinute), kT0 + kMinute + 1);
    QCOMPARE(again.id, second.id);
    QCOMPARE(again.duplicate, true);

    // A cancelled job does not block its key.
    VERIFY_OK(m_store->cancel(second.id, kT0 + kMinute + 2));
    const Enqueued third = one(keyed("k", kMinute), kT0 + kMinute + 3);
    QVERIFY(third.id > second.id);
    QCOMPARE(third.duplicate, false);

    // A finished (succeeded) job does block it within the window.
    QCOMPARE(idsOf(claim("default", kAll, kT0 + kMinute + 4)), (QList<qint64>{first.id, third.id}));
    QCOMPARE(finish("a",
                    {outcome(first.id, 1, Kind::Succeeded), outcome(third.id, 1, Kind::Succeeded)},
                    kT0 + kMinute + 5),
             (std::vector<bool>{true, true}));
    again = one(keyed("k", kMinute), kT0 + kMinute + 6);
    QCOMPARE(again.id, third.id);
    QCOMPARE(again.duplicate, true);

    // Other keys, and no window, are independent.
    const Enqueued other = one(keyed("other", kMinute), kT0 + kMinute + 7);
    QCOMPARE(other.duplicate, false);
    const Enqueued noWindow = one(keyed("k", 0), kT0 + kMinute + 8);
    QCOMPARE(noWindow.duplicate, false);
    QVERIFY(noWindow.id != third.id);

    // Twice in one batch: the second is the first.
    const auto batch = m_store->enqueue({keyed("b", kMinute), keyed("b", kMinute)}, kT0);
    VERIFY_OK(batch);
    QCOMPARE(batch.value().size(), 2);
    QCOMPARE(batch.value().at(0).duplicate, false);
    QCOMPARE(batch.value().at(1).duplicate, true);
    QCOMPARE(batch.value().at(1).id, batch.value().at(0).id);
}

void TestJobStore::cancel()
{
    // Queued: cancelled at once.
    const qint64 queued = add(spec("t", JobPriority::Normal, 0, "q1"), kT0);
    auto r = m_store->cancel(queued, kT0 + 1);
    VERIFY_OK(r);
    QCOMPARE(r.value().state, JobState::Cancelled);
    QCOMPARE(r.value().requested, false);
    JobRecord j = job(queued);
    QCOMPARE(j.state, JobState::Cancelled);
    QCOMPARE(j.finishedAtMs, std::optional<qint64>(kT0 + 1));
    QVERIFY(!j.error.isEmpty());
    QVERIFY(claim("q1", kAll, kT0 + 2).isEmpty());

    // Scheduled (future run_at) and retrying: cancelled at once too.
    const qint64 scheduled = add(spec("t", JobPriority::Normal, kT0 + kHour, "q2"), kT0);
    VERIFY_OK(m_store->cancel(scheduled, kT0 + 1));
    QCOMPARE(job(scheduled).state, JobState::Cancelled);
    const qint64 retrying = running(kT0);
    QCOMPARE(finish("a", {outcome(retrying, 1, Kind::Failed, kT0 + kHour, "x")}, kT0),
             std::vector<bool>{true});
    r = m_store->cancel(retrying, kT0 + 1);
    VERIFY_OK(r);
    QCOMPARE(r.value().state, JobState::Cancelled);
    QCOMPARE(job(retrying).state, JobState::Cancelled);

    // Running: only requested; its instance sees it through cancelRequested.
    const qint64 run = running(kT0, "t", "owner-1");
    r = m_store->cancel(run, kT0 + 1);
    VERIFY_OK(r);
    QCOMPARE(r.value().state, JobState::Running);
    QCOMPARE(r.value().requested, true);
    j = job(run);
    QCOMPARE(j.state, JobState::Running);
    QCOMPARE(j.cancelRequested, true);
    QCOMPARE(j.toJson().value(QStringLiteral("cancel_requested")).toBool(), true);
    auto requested = m_store->cancelRequested("owner-1");
    VERIFY_OK(requested);
    QCOMPARE(requested.value(), QList<qint64>{run});
    requested = m_store->cancelRequested("owner-2");
    VERIFY_OK(requested);
    QVERIFY(requested.value().isEmpty());
    // The handler honours it.
    QCOMPARE(finish("owner-1", {outcome(run, 1, Kind::Cancelled)}, kT0 + 2),
             std::vector<bool>{true});
    j = job(run);
    QCOMPARE(j.state, JobState::Cancelled);
    QCOMPARE(j.finishedAtMs, std::optional<qint64>(kT0 + 2));
    requested = m_store->cancelRequested("owner-1");
    VERIFY_OK(requested);
    QVERIFY(requested.value().isEmpty());

    // Finished: Conflict; unknown: NotFound.
    r = m_store->cancel(queued, kT0 + 3);
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::Conflict);
    const qint64 done = ended(Kind::Succeeded, kT0, kT0 + 1);
    r = m_store->cancel(done, kT0 + 3);
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::Conflict);
    QCOMPARE(job(done).state, JobState::Succeeded);
    r = m_store->cancel(999'999, kT0);
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::NotFound);

    // A cancel requested while the attempt ran wins over the attempt's retry (its token
    // may have been cancelled for another reason first): cancelled, not run again.
    const qint64 again = running(kT0, "t", "owner-3");
    VERIFY_OK(m_store->cancel(again, kT0 + 1));
    QCOMPARE(finish("owner-3", {outcome(again, 1, Kind::Failed, kT0 + 2, "x")}, kT0 + 1),
             std::vector<bool>{true});
    QCOMPARE(job(again).state, JobState::Cancelled);
    QCOMPARE(job(again).finishedAtMs, std::optional<qint64>(kT0 + 1));
    QCOMPARE(job(again).cancelRequested, false);
    QVERIFY(claim(job(again).queue, kAll, kT0 + 2, "owner-3").isEmpty());
    // ... and over a release at shutdown; a success stands.
    const qint64 released = running(kT0, "t", "owner-4");
    VERIFY_OK(m_store->cancel(released, kT0 + 1));
    QCOMPARE(finish("owner-4", {outcome(released, 1, Kind::Released)}, kT0 + 1),
             std::vector<bool>{true});
    QCOMPARE(job(released).state, JobState::Cancelled);
    const qint64 succeeded = running(kT0, "t", "owner-5");
    VERIFY_OK(m_store->cancel(succeeded, kT0 + 1));
    QCOMPARE(finish("owner-5", {outcome(succeeded, 1, Kind::Succeeded)}, kT0 + 1),
             std::vector<bool>{true});
    QCOMPARE(job(succeeded).state, JobState::Succeeded);
}

void TestJobStore::retry()
{
    // Dead: queued again now, with a fresh attempt budget.
    const qint64 dead = ended(Kind::Failed, kT0, kT0 + 10);
    QCOMPARE(job(dead).state, JobState::Dead);
    auto r = m_store->retry(dead, kT0 + 100);
    VERIFY_OK(r);
    QCOMPARE(r.value().id, dead);
    QCOMPARE(r.value().state, JobState::Queued);
    QCOMPARE(r.value().attempts, 0);
    QCOMPARE(r.value().runAtMs, kT0 + 100);
    QVERIFY(!r.value().finishedAtMs);
    QVERIFY(!r.value().startedAtMs);
    const auto claimed = claim(r.value().queue, kAll, kT0 + 100);
    QCOMPARE(idsOf(claimed), QList<qint64>{dead});
    QCOMPARE(claimed.first().attempt, 1);

    // Cancelled: the same.
    const qint64 cancelled = ended(Kind::Cancelled, kT0, kT0 + 10);
    r = m_store->retry(cancelled, kT0 + 100);
    VERIFY_OK(r);
    QCOMPARE(r.value().state, JobState::Queued);
    QCOMPARE(r.value().attempts, 0);

    // Retrying: sooner, attempts kept.
    const qint64 retrying = running(kT0);
    QCOMPARE(finish("a", {outcome(retrying, 1, Kind::Failed, kT0 + kHour, "x")}, kT0),
             std::vector<bool>{true});
    r = m_store->retry(retrying, kT0 + 5);
    VERIFY_OK(r);
    QCOMPARE(r.value().state, JobState::Retrying);
    QCOMPARE(r.value().attempts, 1);
    QCOMPARE(r.value().runAtMs, kT0 + 5);

    // Queued, running and succeeded: Conflict, unchanged. Unknown: NotFound.
    const qint64 queued = add(spec("t"), kT0);
    r = m_store->retry(queued, kT0 + 5);
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::Conflict);
    QCOMPARE(job(queued).state, JobState::Queued);
    const qint64 run = running(kT0);
    r = m_store->retry(run, kT0 + 5);
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::Conflict);
    QCOMPARE(job(run).state, JobState::Running);
    const qint64 done = ended(Kind::Succeeded, kT0, kT0 + 1);
    r = m_store->retry(done, kT0 + 5);
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::Conflict);
    r = m_store->retry(999'999, kT0);
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::NotFound);
}

void TestJobStore::remove()
{
    const qint64 run = running(kT0);
    auto r = m_store->remove(run);
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::Conflict);
    QCOMPARE(job(run).state, JobState::Running);

    const qint64 queued = add(spec("t"), kT0);
    VERIFY_OK(m_store->remove(queued));
    const auto gone = m_store->get(queued);
    VERIFY_OK(gone);
    QVERIFY(!gone.value());
    const qint64 dead = ended(Kind::Failed, kT0, kT0 + 1);
    VERIFY_OK(m_store->remove(dead));

    r = m_store->remove(queued);
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::NotFound);
}

void TestJobStore::listFilters()
{
    auto make = [&](const QString &type, const QString &queue, JobPriority priority, qint64 created,
                    std::optional<qint64> owner, const QString &name) {
        JobSpec s = spec(type, priority, 0, queue);
        s.ownerId = owner;
        s.payload = QJsonObject{{QStringLiteral("name"), name}};
        return add(s, created);
    };
    const qint64 j1 = make("report.build", "solo-a", JobPriority::Normal, kT0, 1, "100% done");
    const qint64 j2 = make("email.send", "mail", JobPriority::High, kT0 + 1000, 2, "a_b");
    const qint64 j3 = make("email.send", "mail", JobPriority::Low, kT0 + 2000, 1, "axb");
    const qint64 j4 =
        make("report.build", "default", JobPriority::Normal, kT0 + 3000, std::nullopt, "1000 done");
    const qint64 j5 = make("cleanup", "bulk", JobPriority::Critical, kT0 + 4000, 3, "old");
    // j1 dead ("boom"), j4 cancelled, j5 running.
    QCOMPARE(idsOf(claim("solo-a", kAll, kT0 + 5000)), QList<qint64>{j1});
    QCOMPARE(finish("a", {outcome(j1, 1, Kind::Failed, 0, "boom")}, kT0 + 5000),
             std::vector<bool>{true});
    VERIFY_OK(m_store->cancel(j4, kT0 + 5000));
    QCOMPARE(idsOf(claim("bulk", kAll, kT0 + 5000, "runner")), QList<qint64>{j5});

    auto list = [&](const JobFilter &f) {
        const auto r = m_store->list(f, 0, 100);
        if (!r.ok())
            QTest::qFail(qPrintable(errorOf(r)), __FILE__, __LINE__);
        return r.ok() ? idsOf(r.value()) : QList<qint64>{-1};
    };
    using Ids = QList<qint64>;
    QCOMPARE(list({}), (Ids{j5, j4, j3, j2, j1}));

    JobFilter f;
    f.states = {JobState::Queued};
    QCOMPARE(list(f), (Ids{j3, j2}));
    f.states = {JobState::Dead, JobState::Cancelled};
    QCOMPARE(list(f), (Ids{j4, j1}));
    f.states = {JobState::Running};
    QCOMPARE(list(f), (Ids{j5}));
    f.states = {JobState::Succeeded};
    QCOMPARE(list(f), Ids{});

    f = {};
    f.type = QStringLiteral("email.send");
    QCOMPARE(list(f), (Ids{j3, j2}));
    f.type = QStringLiteral("email"); // exact, not a prefix
    QCOMPARE(list(f), Ids{});

    f = {};
    f.queue = QStringLiteral("mail");
    QCOMPARE(list(f), (Ids{j3, j2}));
    f = {};
    f.priority = JobPriority::Low;
    QCOMPARE(list(f), (Ids{j3}));
    f.priority = JobPriority::Critical;
    QCOMPARE(list(f), (Ids{j5}));

    f = {};
    f.createdFromMs = kT0 + 1000; // inclusive
    f.createdToMs = kT0 + 3000;   // exclusive
    QCOMPARE(list(f), (Ids{j3, j2}));
    f.createdToMs.reset();
    QCOMPARE(list(f), (Ids{j5, j4, j3, j2}));

    // Text: a substring of type, error or payload; % and _ are literal.
    f = {};
    f.text = QStringLiteral("%");
    QCOMPARE(list(f), (Ids{j1}));
    f.text = QStringLiteral("0% d");
    QCOMPARE(list(f), (Ids{j1}));
    f.text = QStringLiteral("a_b");
    QCOMPARE(list(f), (Ids{j2}));
    f.text = QStringLiteral("_");
    QCOMPARE(list(f), (Ids{j2}));
    f.text = QStringLiteral("email");
    QCOMPARE(list(f), (Ids{j3, j2}));
    f.text = QStringLiteral("boom");
    QCOMPARE(list(f), (Ids{j1}));
    f.text = QStringLiteral("1000 done");
    QCOMPARE(list(f), (Ids{j4}));
    f.text = QStringLiteral("a\\b");
    QCOMPARE(list(f), Ids{});
    f.text = QStringLiteral("nothing like it");
    QCOMPARE(list(f), Ids{});

    f = {};
    f.ownerId = 1;
    QCOMPARE(list(f), (Ids{j3, j1}));
    // Combined: every field narrows.
    f.type = QStringLiteral("email.send");
    QCOMPARE(list(f), (Ids{j3}));
    f.states = {JobState::Dead};
    QCOMPARE(list(f), Ids{});

    // The records carry what the API shows.
    const auto r = m_store->list({}, 0, 100);
    VERIFY_OK(r);
    const JobRecord &running = r.value().first();
    QCOMPARE(running.id, j5);
    QCOMPARE(running.state, JobState::Running);
    QCOMPARE(running.leaseOwner, QStringLiteral("runner"));
    QCOMPARE(running.payload.value(QStringLiteral("name")).toString(), QStringLiteral("old"));
}

void TestJobStore::listPaging()
{
    QList<JobSpec> specs;
    for (int i = 0; i < 7; ++i)
        specs.append(spec(QStringLiteral("p")));
    const auto enqueued = m_store->enqueue(specs, kT0);
    VERIFY_OK(enqueued);
    QList<qint64> expected;
    for (const Enqueued &e : enqueued.value())
        expected.prepend(e.id); // newest first

    QList<qint64> all;
    qint64 before = 0;
    int pages = 0;
    for (;;) {
        const auto page = m_store->list({}, before, 3);
        VERIFY_OK(page);
        if (page.value().isEmpty())
            break;
        QVERIFY(page.value().size() <= 3);
        all += idsOf(page.value());
        before = page.value().last().id;
        QVERIFY(++pages <= 3);
    }
    QCOMPARE(pages, 3);
    QCOMPARE(all, expected);

    // Paging with a filter.
    JobFilter f;
    f.type = QStringLiteral("p");
    const auto page = m_store->list(f, expected.at(2), 2);
    VERIFY_OK(page);
    QCOMPARE(idsOf(page.value()), (QList<qint64>{expected.at(3), expected.at(4)}));
}

void TestJobStore::bulkActions()
{
    // Queue "mail": e1, e2 queued, e3 running, e4 dead, e5 retrying; another queue untouched.
    const qint64 e3 = add(spec("email.send", JobPriority::Critical, 0, "mail"), kT0);
    QCOMPARE(idsOf(claim("mail", kAll, kT0)), QList<qint64>{e3});
    const qint64 e4 = add(spec("email.send", JobPriority::Critical, 0, "mail"), kT0);
    QCOMPARE(idsOf(claim("mail", kAll, kT0)), QList<qint64>{e4});
    QCOMPARE(finish("a", {outcome(e4, 1, Kind::Failed, 0, "bounced")}, kT0 + 1),
             std::vector<bool>{true});
    const qint64 e5 = add(spec("email.digest", JobPriority::Critical, 0, "mail"), kT0);
    QCOMPARE(idsOf(claim("mail", kAll, kT0)), QList<qint64>{e5});
    QCOMPARE(finish("a", {outcome(e5, 1, Kind::Failed, kT0 + kHour, "later")}, kT0 + 1),
             std::vector<bool>{true});
    const qint64 e1 = add(spec("email.send", JobPriority::Normal, 0, "mail"), kT0);
    const qint64 e2 = add(spec("email.send", JobPriority::Normal, kT0 + kHour, "mail"), kT0);
    const qint64 other = add(spec("email.send", JobPriority::Normal, 0, "other"), kT0);

    JobFilter byType;
    byType.type = QStringLiteral("email.send");
    byType.queue = QStringLiteral("mail");
    auto n = m_store->cancelMatching(byType, kT0 + 10);
    VERIFY_OK(n);
    QCOMPARE(n.value(), qint64(3)); // e1, e2 cancelled; e3 asked to stop
    QCOMPARE(job(e1).state, JobState::Cancelled);
    QCOMPARE(job(e2).state, JobState::Cancelled);
    QCOMPARE(job(e1).finishedAtMs, std::optional<qint64>(kT0 + 10));
    QCOMPARE(job(e3).state, JobState::Running);
    QCOMPARE(job(e3).cancelRequested, true);
    QCOMPARE(job(e4).state, JobState::Dead);
    QCOMPARE(job(e5).state, JobState::Retrying);
    QCOMPARE(job(other).state, JobState::Queued);

    JobFilter mail;
    mail.queue = QStringLiteral("mail");
    n = m_store->retryMatching(mail, kT0 + 20);
    VERIFY_OK(n);
    QCOMPARE(n.value(), qint64(4)); // e1, e2, e4 queued again; e5 sooner
    for (qint64 id : {e1, e2, e4}) {
        const JobRecord j = job(id);
        QCOMPARE(j.state, JobState::Queued);
        QCOMPARE(j.attempts, 0);
        QCOMPARE(j.runAtMs, kT0 + 20);
        QVERIFY(!j.finishedAtMs);
    }
    QCOMPARE(job(e5).state, JobState::Retrying);
    QCOMPARE(job(e5).runAtMs, kT0 + 20);
    QCOMPARE(job(e5).attempts, 1);
    QCOMPARE(job(e3).state, JobState::Running);

    // By state: only the dead ones.
    QCOMPARE(finish("a", {outcome(e3, 1, Kind::Failed, 0, "stopped")}, kT0 + 30),
             std::vector<bool>{true});
    JobFilter deadOnly;
    deadOnly.states = {JobState::Dead};
    n = m_store->retryMatching(deadOnly, kT0 + 40);
    VERIFY_OK(n);
    QCOMPARE(n.value(), qint64(1));
    QCOMPARE(job(e3).state, JobState::Queued);

    // Remove: everything of the queue but what is running.
    const auto claimed = claim("mail", {0, 0, 0, 1}, kT0 + 50); // one of them runs
    QCOMPARE(claimed.size(), 1);
    n = m_store->removeMatching(mail);
    VERIFY_OK(n);
    QCOMPARE(n.value(), qint64(4));
    const auto left = m_store->list(mail, 0, 100);
    VERIFY_OK(left);
    QCOMPARE(idsOf(left.value()), QList<qint64>{claimed.first().id});
    QCOMPARE(job(other).state, JobState::Queued);

    // Nothing matching: 0.
    JobFilter none;
    none.type = QStringLiteral("no.such.type");
    n = m_store->cancelMatching(none, kT0);
    VERIFY_OK(n);
    QCOMPARE(n.value(), qint64(0));
    n = m_store->retryMatching(none, kT0);
    VERIFY_OK(n);
    QCOMPARE(n.value(), qint64(0));
    n = m_store->removeMatching(none);
    VERIFY_OK(n);
    QCOMPARE(n.value(), qint64(0));
}

void TestJobStore::pause()
{
    auto paused = m_store->pausedQueues();
    VERIFY_OK(paused);
    QVERIFY(paused.value().isEmpty());
    VERIFY_OK(m_store->setPaused("mail", true));
    VERIFY_OK(m_store->setPaused("bulk", true));
    VERIFY_OK(m_store->setPaused("bulk", true)); // twice is fine
    paused = m_store->pausedQueues();
    VERIFY_OK(paused);
    QCOMPARE(paused.value(), (QSet<QString>{"mail", "bulk"}));
    VERIFY_OK(m_store->setPaused("mail", false));
    paused = m_store->pausedQueues();
    VERIFY_OK(paused);
    QCOMPARE(paused.value(), (QSet<QString>{"bulk"}));
    VERIFY_OK(m_store->setPaused("never-paused", false));
    paused = m_store->pausedQueues();
    VERIFY_OK(paused);
    QCOMPARE(paused.value(), (QSet<QString>{"bulk"}));
}

void TestJobStore::stats()
{
    const qint64 now = kT0 + 10'000;
    // default/critical: one running.
    const qint64 d = add(spec("t", JobPriority::Critical), kT0);
    QCOMPARE(idsOf(claim("default", {1, 0, 0, 0}, kT0)), QList<qint64>{d});
    // default/normal: e retrying later, f retrying due (counts as ready), a and b ready,
    // c scheduled.
    const qint64 e = add(spec("t"), kT0);
    QCOMPARE(idsOf(claim("default", {0, 0, 1, 0}, kT0)), QList<qint64>{e});
    QCOMPARE(finish("a", {outcome(e, 1, Kind::Failed, kT0 + 50'000, "x")}, kT0),
             std::vector<bool>{true});
    const qint64 f = add(spec("t"), kT0);
    QCOMPARE(idsOf(claim("default", {0, 0, 1, 0}, kT0)), QList<qint64>{f});
    QCOMPARE(finish("a", {outcome(f, 1, Kind::Failed, kT0 + 5'000, "x")}, kT0),
             std::vector<bool>{true});
    add(spec("t"), kT0);
    add(spec("t"), kT0);
    add(spec("t", JobPriority::Normal, kT0 + 100'000), kT0);
    // mail/low: one ready.
    add(spec("t", JobPriority::Low, 0, "mail"), kT0);
    // Finished: succeeded 30 s ago, cancelled 10 minutes ago, dead 2 hours ago.
    ended(Kind::Succeeded, now - 40'000, now - 30'000);
    ended(Kind::Cancelled, now - 20 * kMinute, now - 10 * kMinute);
    ended(Kind::Failed, now - 3 * kHour, now - 2 * kHour);

    const auto r = m_store->stats(now);
    VERIFY_OK(r);
    const JobStore::Stats &s = r.value();
    QCOMPARE(s.depth.size(), 3);
    const JobStore::Depth &crit = s.depth.at(0);
    QCOMPARE(crit.queue, QStringLiteral("default"));
    QCOMPARE(crit.priority, JobPriority::Critical);
    QCOMPARE(crit.running, 1);
    QCOMPARE(crit.ready + crit.scheduled + crit.retrying, 0);
    const JobStore::Depth &normal = s.depth.at(1);
    QCOMPARE(normal.queue, QStringLiteral("default"));
    QCOMPARE(normal.priority, JobPriority::Normal);
    QCOMPARE(normal.ready, 3);
    QCOMPARE(normal.scheduled, 1);
    QCOMPARE(normal.retrying, 1);
    QCOMPARE(normal.running, 0);
    const JobStore::Depth &mail = s.depth.at(2);
    QCOMPARE(mail.queue, QStringLiteral("mail"));
    QCOMPARE(mail.priority, JobPriority::Low);
    QCOMPARE(mail.ready, 1);
    QCOMPARE(s.dead, 1);
    QCOMPARE(s.lastMinute.value("succeeded"), 1);
    QCOMPARE(s.lastMinute.value("cancelled"), 0);
    QCOMPARE(s.lastMinute.value("dead"), 0);
    QCOMPARE(s.lastHour.value("succeeded"), 1);
    QCOMPARE(s.lastHour.value("cancelled"), 1);
    QCOMPARE(s.lastHour.value("dead"), 0);
    QCOMPARE(s.failedLastHour, 2); // e and f

    // An hour later the finished counts are gone; the depth follows run_at.
    const auto later = m_store->stats(now + 2 * kHour);
    VERIFY_OK(later);
    QCOMPARE(later.value().lastMinute.value("succeeded"), 0);
    QCOMPARE(later.value().lastHour.value("succeeded"), 0);
    QCOMPARE(later.value().depth.at(1).ready, 5);
    QCOMPARE(later.value().depth.at(1).scheduled, 0);
    QCOMPARE(later.value().depth.at(1).retrying, 0);

    // Empty: no depth rows.
    VERIFY_OK(m_store->removeMatching({}));
    const auto empty = m_store->stats(now);
    VERIFY_OK(empty);
    QCOMPARE(empty.value().depth.size(), 1); // the running one cannot be removed
    QCOMPARE(empty.value().dead, 0);
}

void TestJobStore::progress()
{
    const qint64 id = running(kT0, "t", "a");
    auto saved = m_store->saveProgress("a", {{id, 1, 0.25, QStringLiteral("a quarter")}});
    VERIFY_OK(saved);
    JobRecord j = job(id);
    QCOMPARE(j.progress, 0.25);
    QCOMPARE(j.progressMessage, QStringLiteral("a quarter"));
    // Fenced like outcomes.
    VERIFY_OK(m_store->saveProgress("b", {{id, 1, 0.5, QStringLiteral("b")}}));
    VERIFY_OK(m_store->saveProgress("a", {{id, 2, 0.5, QStringLiteral("2")}}));
    QCOMPARE(job(id).progress, 0.25);
    VERIFY_OK(m_store->saveProgress("a", {}));
}

void TestJobStore::renewLeases()
{
    const qint64 a1 = running(kT0, "t", "a");
    const qint64 a2 = running(kT0, "t", "a");
    const qint64 b1 = running(kT0, "t", "b");
    const auto renewed = m_store->renewLeases("a", kT0 + kHour);
    VERIFY_OK(renewed);
    QCOMPARE(renewed.value(), qint64(2));
    QCOMPARE(job(a1).leaseUntilMs, std::optional<qint64>(kT0 + kHour));
    QCOMPARE(job(a2).leaseUntilMs, std::optional<qint64>(kT0 + kHour));
    QCOMPARE(job(b1).leaseUntilMs, std::optional<qint64>(kT0 + kLease));
    const auto expired = m_store->requeueExpired(kT0 + kLease + 1);
    VERIFY_OK(expired);
    QCOMPARE(expired.value().size(), 1);
    QCOMPARE(expired.value().first().id, b1);
}

void TestJobStore::prune()
{
    const qint64 now = kT0 + 40 * kDay;
    const qint64 retention = 7 * kDay;
    const qint64 deadRetention = 30 * kDay;
    const qint64 s1 = ended(Kind::Succeeded, now - 10 * kDay, now - 10 * kDay);
    const qint64 s2 = ended(Kind::Succeeded, now - 3 * kDay, now - 3 * kDay);
    const qint64 c1 = ended(Kind::Cancelled, now - 9 * kDay, now - 8 * kDay);
    const qint64 old = add(spec("t", JobPriority::Normal, 0, "idle"), now - 20 * kDay);
    const qint64 d1 = ended(Kind::Failed, now - 36 * kDay, now - 35 * kDay);
    QList<qint64> recentDead;
    for (int i = 5; i >= 1; --i) // d2 (oldest) .. d6 (newest)
        recentDead.append(ended(Kind::Failed, now - i * kDay - kHour, now - i * kDay));
    const qint64 oldRunning = running(now - 20 * kDay);

    JobStore::Delivery oldDelivery;
    oldDelivery.webhook = "w";
    oldDelivery.event = "job.dead";
    oldDelivery.deliveryId = "d-old";
    oldDelivery.attempt = 1;
    oldDelivery.atMs = now - 8 * kDay;
    oldDelivery.status = 500;
    VERIFY_OK(m_store->recordDelivery(oldDelivery));
    JobStore::Delivery newDelivery = oldDelivery;
    newDelivery.deliveryId = "d-new";
    newDelivery.atMs = now - kDay;
    VERIFY_OK(m_store->recordDelivery(newDelivery));

    const auto pruned = m_store->prune(now, retention, deadRetention, 3);
    VERIFY_OK(pruned);
    QCOMPARE(pruned.value().finished, qint64(2)); // s1, c1
    QCOMPARE(pruned.value().dead, qint64(3));     // d1 by age; d2, d3 above the cap
    QCOMPARE(pruned.value().deliveries, qint64(1));

    auto exists = [this](qint64 id) {
        const auto r = m_store->get(id);
        return r.ok() && r.value().has_value();
    };
    QVERIFY(!exists(s1));
    QVERIFY(exists(s2));
    QVERIFY(!exists(c1));
    QVERIFY(exists(old));
    QVERIFY(exists(oldRunning));
    QVERIFY(!exists(d1));
    QVERIFY(!exists(recentDead.at(0)));
    QVERIFY(!exists(recentDead.at(1)));
    QVERIFY(exists(recentDead.at(2)));
    QVERIFY(exists(recentDead.at(3)));
    QVERIFY(exists(recentDead.at(4)));
    const auto deliveries = m_store->deliveries("w", 0, 10);
    VERIFY_OK(deliveries);
    QCOMPARE(deliveries.value().size(), 1);
    QCOMPARE(deliveries.value().first().deliveryId, QStringLiteral("d-new"));

    // Again: nothing more.
    const auto again = m_store->prune(now, retention, deadRetention, 3);
    VERIFY_OK(again);
    QCOMPARE(again.value().finished + again.value().dead + again.value().deliveries, qint64(0));
    // A cap of 0 removes every dead job.
    const auto none = m_store->prune(now, retention, deadRetention, 0);
    VERIFY_OK(none);
    QCOMPARE(none.value().dead, qint64(3));
}

void TestJobStore::cronSlots()
{
    const qint64 slot = kT0 - kT0 % kMinute + kMinute;
    JobSpec s = spec(QStringLiteral("cleanup"), JobPriority::Low, 0, "bulk", 2);
    s.payload = QJsonObject{{QStringLiteral("older_than"), 30}};

    auto last = m_store->lastCronSlot("nightly");
    VERIFY_OK(last);
    QVERIFY(!last.value());

    auto r = m_store->enqueueCronSlot("nightly", slot, s, slot + 5);
    VERIFY_OK(r);
    QVERIFY(r.value().has_value());
    const qint64 first = *r.value();
    const JobRecord j = job(first);
    QCOMPARE(j.type, QStringLiteral("cleanup"));
    QCOMPARE(j.queue, QStringLiteral("bulk"));
    QCOMPARE(j.priority, JobPriority::Low);
    QCOMPARE(j.maxAttempts, 2);
    QCOMPARE(j.payload, s.payload);
    QCOMPARE(j.runAtMs, slot + 5);
    QCOMPARE(j.createdAtMs, slot + 5);
    QCOMPARE(j.state, JobState::Queued);

    // The same slot again (another instance): nothing.
    r = m_store->enqueueCronSlot("nightly", slot, s, slot + 6);
    VERIFY_OK(r);
    QVERIFY(!r.value());
    last = m_store->lastCronSlot("nightly");
    VERIFY_OK(last);
    QCOMPARE(last.value(), std::optional<qint64>(slot));

    // A later slot wins again; an earlier one never.
    r = m_store->enqueueCronSlot("nightly", slot + kMinute, s, slot + kMinute + 1);
    VERIFY_OK(r);
    QVERIFY(r.value().has_value());
    QVERIFY(*r.value() > first);
    r = m_store->enqueueCronSlot("nightly", slot, s, slot + kMinute + 2);
    VERIFY_OK(r);
    QVERIFY(!r.value());
    last = m_store->lastCronSlot("nightly");
    VERIFY_OK(last);
    QCOMPARE(last.value(), std::optional<qint64>(slot + kMinute));

    // Entries are independent.
    r = m_store->enqueueCronSlot("hourly", slot, s, slot + 7);
    VERIFY_OK(r);
    QVERIFY(r.value().has_value());

    JobFilter f;
    f.type = QStringLiteral("cleanup");
    const auto all = m_store->list(f, 0, 100);
    VERIFY_OK(all);
    QCOMPARE(all.value().size(), 3);
}

void TestJobStore::deliveries()
{
    QList<qint64> ids;
    for (int i = 0; i < 5; ++i) {
        JobStore::Delivery d;
        d.webhook = "w1";
        d.event = i % 2 ? "job.dead" : "record.created";
        d.deliveryId = QStringLiteral("dlv-%1").arg(i);
        d.jobId = 100 + i;
        d.attempt = i + 1;
        d.atMs = kT0 + i;
        d.status = i == 4 ? 0 : 200 + i;
        d.durationMs = 10 * i;
        if (i == 4)
            d.error = QStringLiteral("connection refused");
        if (i == 3)
            d.response = QStringLiteral("{\"ok\":true}");
        VERIFY_OK(m_store->recordDelivery(d));
    }
    for (int i = 0; i < 2; ++i) {
        JobStore::Delivery d;
        d.webhook = "w2";
        d.event = "job.succeeded";
        d.deliveryId = QStringLiteral("other-%1").arg(i);
        d.atMs = kT0;
        d.status = 204;
        VERIFY_OK(m_store->recordDelivery(d));
    }

    auto page = m_store->deliveries("w1", 0, 2);
    VERIFY_OK(page);
    QCOMPARE(page.value().size(), 2);
    const JobStore::Delivery &newest = page.value().at(0);
    QCOMPARE(newest.webhook, QStringLiteral("w1"));
    QCOMPARE(newest.deliveryId, QStringLiteral("dlv-4"));
    QCOMPARE(newest.event, QStringLiteral("record.created"));
    QCOMPARE(newest.jobId, qint64(104));
    QCOMPARE(newest.attempt, 5);
    QCOMPARE(newest.atMs, kT0 + 4);
    QCOMPARE(newest.status, 0);
    QCOMPARE(newest.durationMs, qint64(40));
    QCOMPARE(newest.error, QStringLiteral("connection refused"));
    QVERIFY(newest.response.isEmpty());
    QCOMPARE(page.value().at(1).deliveryId, QStringLiteral("dlv-3"));
    QCOMPARE(page.value().at(1).response, QStringLiteral("{\"ok\":true}"));
    QVERIFY(page.value().at(1).error.isEmpty());
    QVERIFY(newest.id > page.value().at(1).id);
    QCOMPARE(newest.toJson().value(QStringLiteral("delivery_id")).toString(),
             QStringLiteral("dlv-4"));

    QStringList seen;
    qint64 before = 0;
    for (int i = 0; i < 5; ++i) {
        page = m_store->deliveries("w1", before, 2);
        VERIFY_OK(page);
        if (page.value().isEmpty())
            break;
        for (const JobStore::Delivery &d : page.value())
            seen.append(d.deliveryId);
        before = page.value().last().id;
    }
    QCOMPARE(seen, (QStringList{"dlv-4", "dlv-3", "dlv-2", "dlv-1", "dlv-0"}));

    page = m_store->deliveries("w2", 0, 10);
    VERIFY_OK(page);
    QCOMPARE(page.value().size(), 2);
    page = m_store->deliveries("none", 0, 10);
    VERIFY_OK(page);
    QVERIFY(page.value().isEmpty());
}

void TestJobStore::concurrentClaims()
{
    // Two instances (each its own pool, as two processes would have) on one database,
    // claiming batches of 10 from two threads until nothing is left.
    constexpr int kJobs = 1000;
    QList<JobSpec> specs;
    for (int i = 0; i < kJobs; ++i)
        specs.append(spec(QStringLiteral("c"), JobPriority(i % kJobPriorities), kT0 + i % 7));
    const auto enqueued = m_store->enqueue(specs, kT0);
    VERIFY_OK(enqueued);
    QCOMPARE(enqueued.value().size(), kJobs);

    std::unique_ptr<ConnectionPool> otherPool = makePool();
    JobStore other(*otherPool, nullptr);
    JobStore *stores[2] = {m_store.get(), &other};
    ConnectionPool *pools[2] = {m_pool.get(), otherPool.get()};

    std::mutex mutex;
    QHash<qint64, int> claimedBy; // id -> instance
    QList<qint64> duplicates;
    std::atomic<int> errors{0};
    QString firstError;
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&, t] {
            // Each thread opens its connection before the race starts.
            if (!stores[t]->pausedQueues().ok())
                ++errors;
            while (!go.load())
                std::this_thread::yield();
            PriorityScheduler scheduler;
            const QString owner = QStringLiteral("instance-%1").arg(t);
            int emptyInARow = 0;
            for (int round = 0; round < 2 * kJobs && emptyInARow < 3; ++round) {
                const auto r = stores[t]->claim(owner, QStringLiteral("default"),
                                                scheduler.allocate(10), kT0 + 100, kT0 + kHour);
                if (!r.ok()) {
                    std::lock_guard lock(mutex);
                    if (errors++ == 0)
                        firstError = r.error().message;
                    continue;
                }
                // Empty can mean the other instance holds the rest locked (PostgreSQL
                // skips them): look again a few times before giving up.
                emptyInARow = r.value().isEmpty() ? emptyInARow + 1 : 0;
                if (r.value().size() > 10) {
                    std::lock_guard lock(mutex);
                    if (errors++ == 0)
                        firstError =
                            QStringLiteral("a claim of 10 returned %1").arg(r.value().size());
                }
                {
                    std::lock_guard lock(mutex);
                    for (const ClaimedJob &j : r.value()) {
                        if (claimedBy.contains(j.id))
                            duplicates.append(j.id);
                        claimedBy.insert(j.id, t);
                    }
                }
                // A pause between claims, as the runtime has (it hands the jobs to its
                // workers): without it one SQLite writer can take every turn while the
                // other sleeps in its busy handler, and nothing would be concurrent.
                std::this_thread::sleep_for(1ms);
            }
            pools[t]->closeThreadConnections();
        });
    }
    go = true;
    for (auto &thread : threads)
        thread.join();

    QVERIFY2(
        errors.load() == 0,
        qPrintable(QStringLiteral("%1 error(s), first: %2").arg(errors.load()).arg(firstError)));
    QVERIFY2(duplicates.isEmpty(),
             qPrintable(QStringLiteral("%1 job(s) claimed twice").arg(duplicates.size())));
    QCOMPARE(claimedBy.size(), kJobs);
    for (const Enqueued &e : enqueued.value())
        QVERIFY(claimedBy.contains(e.id));
    // Both took part, and the database agrees on who holds what.
    int byFirst = 0;
    for (int who : std::as_const(claimedBy))
        byFirst += who == 0 ? 1 : 0;
    qInfo("instance-0 claimed %d, instance-1 %d", byFirst, kJobs - byFirst);
    QVERIFY(byFirst > 0 && byFirst < kJobs);
    JobFilter runningFilter;
    runningFilter.states = {JobState::Running};
    const auto all = m_store->list(runningFilter, 0, 2 * kJobs);
    VERIFY_OK(all);
    QCOMPARE(all.value().size(), kJobs);
    for (const JobRecord &r : all.value()) {
        QCOMPARE(r.attempts, 1);
        QCOMPARE(r.leaseOwner, QStringLiteral("instance-%1").arg(claimedBy.value(r.id)));
    }
    otherPool->closeThreadConnections();
}

QTEST_GUILESS_MAIN(TestJobStore)
#include "tst_jobstore.moc"
