// SPDX-License-Identifier: GPL-3.0-or-later
// RedisRateStore against a real redis-server (started by the harness on a free loopback
// port; a server that cannot start is a failure, never a skip). The store's Lua scripts
// must decide exactly like the C++ algorithms: for every algorithm, ~300 pseudo-random
// requests (time steps around the window and refill boundaries, costs up to capacity + 1)
// are decided by RateLimitAlgorithm on a local RateState and by the store at the same
// nanosecond, and every field must be equal. Then what Redis adds: two clients ("two
// instances") on one key from two threads never let more than the limit through; an idle
// key expires by itself; a stopped server is an error within the timeouts, not a hang; and
// SCRIPT FLUSH is recovered from by reloading the script.
#include "ExternalServers.h"
#include "RateLimitAlgorithm.h"
#include "RedisClient.h"
#include "RedisRateStore.h"

#include <QElapsedTimer>
#include <QtTest>
#include <atomic>
#include <csignal>
#include <random>
#include <thread>

using namespace bulwark;
using bulwark::test::RedisServer;
using namespace std::chrono_literals;

namespace {

RedisOptions optionsFor(const RedisServer &server, std::chrono::milliseconds timeout = 2000ms)
{
    RedisOptions options;
    options.host = server.host();
    options.port = server.port();
    options.connectTimeout = timeout;
    options.commandTimeout = timeout;
    return options;
}

LimitSpec makeSpec(RateAlgorithm algorithm, qint64 limit, qint64 windowMs, qint64 burst = 0)
{
    return LimitSpec::make(algorithm, limit, std::chrono::milliseconds(windowMs), burst);
}

QString show(const RateDecision &d)
{
    return QStringLiteral("%1 limit %2 remaining %3 reset %4 ms retry %5 ms")
        .arg(d.allowed ? QStringLiteral("allowed") : QStringLiteral("denied"))
        .arg(d.limit)
        .arg(d.remaining)
        .arg(d.resetAfter.count())
        .arg(d.retryAfter.count());
}

// A realistic wall-clock time (2025-11), deliberately not aligned to anything.
constexpr qint64 kBaseNs = 1'764'000'000'123'456'789;

} // namespace

class TestRedisRateStore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void matchesAlgorithm_data();
    void matchesAlgorithm();
    void twoInstancesShareTheLimit_data();
    void twoInstancesShareTheLimit();
    void idleKeyExpires();
    void stoppedServerFailsFast();
    void recoversFromScriptFlush();
    void tooLongWindowRefused();
    void slidingLogRebase();
    void slidingCounterExactProducts();

private:
    std::unique_ptr<RedisServer> m_server;
    std::unique_ptr<RedisClient> m_client;
    SteadyClock m_clock;
};

void TestRedisRateStore::initTestCase()
{
    signal(SIGPIPE, SIG_IGN);
    m_server = std::make_unique<RedisServer>();
    if (!m_server->start())
        QFAIL(qPrintable(QStringLiteral("redis-server did not start: ") + m_server->errorString()));
    m_client = std::make_unique<RedisClient>(optionsFor(*m_server), m_clock);
}

void TestRedisRateStore::cleanupTestCase()
{
    m_client.reset();
    m_server.reset();
}

void TestRedisRateStore::matchesAlgorithm_data()
{
    QTest::addColumn<LimitSpec>("spec");
    QTest::addColumn<quint64>("seed");
    const RateAlgorithm all[] = {RateAlgorithm::TokenBucket, RateAlgorithm::SlidingLog,
                                 RateAlgorithm::SlidingCounter, RateAlgorithm::FixedWindow,
                                 RateAlgorithm::Gcra};
    for (RateAlgorithm a : all) {
        const QByteArray name = rateAlgorithmName(a).toUtf8();
        // T = W / L exact; T not a whole number of ns (ceil); a burst; a big count whose
        // sliding-counter products exceed 2^53; a long window.
        QTest::newRow(name + " 10/1s") << makeSpec(a, 10, 1000) << quint64(1);
        QTest::newRow(name + " 7/1s") << makeSpec(a, 7, 1000) << quint64(2);
        QTest::newRow(name + " 3/100ms burst 5") << makeSpec(a, 3, 100, 5) << quint64(3);
        QTest::newRow(name + " 1/1ms") << makeSpec(a, 1, 1) << quint64(4);
        QTest::newRow(name + " 200000/1h") << makeSpec(a, 200000, 3'600'000) << quint64(5);
        QTest::newRow(name + " 13/7d") << makeSpec(a, 13, 7 * 86'400'000LL) << quint64(6);
    }
}

void TestRedisRateStore::matchesAlgorithm()
{
    QFETCH(LimitSpec, spec);
    QFETCH(quint64, seed);
    const std::unique_ptr<RateLimitAlgorithm> algorithm = RateLimitAlgorithm::create(spec);
    RedisRateStore store(*m_client, "test:match:");
    // Keys must not vanish while simulated time lags real time (the test runs in real
    // milliseconds between requests at one simulated instant): an expiry grace far above
    // the test's duration. Expiry itself is checked by idleKeyExpires.
    store.setExpiryGrace(600'000ms);
    const QByteArray key = QTest::currentDataTag();
    QVERIFY(m_client->command({"DEL", store.redisKey(key), store.redisKey(key) + ":m"}).ok());

    const qint64 windowNs = spec.window.count() * 1'000'000;
    const qint64 capacity = spec.burst > 0 ? spec.burst : spec.limit;
    const qint64 intervalNs = (windowNs + spec.limit - 1) / spec.limit;
    // Steps: zero (several requests per instant), just below / at / above one interval T,
    // sub-millisecond jitter, a random fraction of T; and, one time in ten, just below / at
    // / above one window W or past 2W (idle keys).
    const qint64 small[] = {0,       0,        0, 1, intervalNs - 1, intervalNs, intervalNs + 1,
                            999'999, 1'000'000};
    const qint64 large[] = {windowNs - 1, windowNs, windowNs + 1, 2 * windowNs + 7};
    std::mt19937_64 rng(seed);
    RateState state;
    qint64 now = kBaseNs + qint64(seed) * 1'000'003;
    int allowed = 0, denied = 0;
    for (int i = 0; i < 300; ++i) {
        const quint64 pick = rng() % 10;
        if (pick == 0)
            now += large[rng() % std::size(large)];
        else if (pick < 3)
            now += qint64(rng() % quint64(std::max<qint64>(1, intervalNs)));
        else
            now += small[rng() % std::size(small)];
        // Mostly cost 1; sometimes up to min(capacity, 50) + 1, and now and then
        // capacity + 1 (always denied).
        qint64 cost = 1;
        if (rng() % 5 == 0)
            cost = 1 + qint64(rng() % quint64(std::min<qint64>(capacity, 50) + 1));
        // Big limits need big costs to be exhausted within 300 requests (the sliding
        // counter's products then exceed 2^53: the exact wide comparisons are exercised).
        if (capacity > 1000)
            cost = 1 + qint64(rng() % quint64(capacity / 5));
        if (rng() % 50 == 0)
            cost = capacity + 1;
        const RateDecision expected =
            algorithm->decide(state, RateTime(std::chrono::nanoseconds(now)), cost);
        const Result<RateDecision> got =
            store.decide(*algorithm, key, cost, std::chrono::nanoseconds(now));
        QVERIFY2(got.ok(), qPrintable(got.ok() ? QString() : got.error().message));
        const RateDecision &d = got.value();
        const QString context = QStringLiteral("#%1 at +%2 ns cost %3: C++ %4, Redis %5")
                                    .arg(i)
                                    .arg(now - kBaseNs)
                                    .arg(cost)
                                    .arg(show(expected), show(d));
        // Every field exactly: the scripts use the same integer formulas (no field differs).
        QVERIFY2(d.allowed == expected.allowed, qPrintable(context));
        QVERIFY2(d.limit == expected.limit, qPrintable(context));
        QVERIFY2(d.remaining == expected.remaining, qPrintable(context));
        QVERIFY2(d.resetAfter == expected.resetAfter, qPrintable(context));
        QVERIFY2(d.retryAfter == expected.retryAfter, qPrintable(context));
        (expected.allowed ? allowed : denied)++;
    }
    // The sequence must exercise both outcomes to mean anything.
    QVERIFY2(allowed > 10 && denied > 10,
             qPrintable(QStringLiteral("allowed %1 denied %2").arg(allowed).arg(denied)));
}

void TestRedisRateStore::twoInstancesShareTheLimit_data()
{
    QTest::addColumn<RateAlgorithm>("algorithm");
    for (RateAlgorithm a :
         {RateAlgorithm::TokenBucket, RateAlgorithm::SlidingLog, RateAlgorithm::SlidingCounter,
          RateAlgorithm::FixedWindow, RateAlgorithm::Gcra})
        QTest::newRow(rateAlgorithmName(a).toUtf8()) << a;
}

void TestRedisRateStore::twoInstancesShareTheLimit()
{
    QFETCH(RateAlgorithm, algorithm);
    constexpr qint64 kLimit = 100;
    const std::unique_ptr<RateLimitAlgorithm> algo =
        RateLimitAlgorithm::create(makeSpec(algorithm, kLimit, 3'600'000));
    // Two instances: each its own RedisClient (own connections) and store.
    RedisClient clientA(optionsFor(*m_server), m_clock), clientB(optionsFor(*m_server), m_clock);
    RedisRateStore storeA(clientA, "test:shared:"), storeB(clientB, "test:shared:");
    const QByteArray key = QByteArray("k-") + QTest::currentDataTag();
    QVERIFY(m_client->command({"DEL", storeA.redisKey(key), storeA.redisKey(key) + ":m"}).ok());

    std::atomic<int> allowed{0}, errors{0};
    // Time advances by 1 us per request: far less than the hour needed for any refill.
    std::atomic<qint64> now{kBaseNs};
    auto run = [&](RedisRateStore &store) {
        for (int i = 0; i < 500; ++i) {
            const auto r =
                store.decide(*algo, key, 1, std::chrono::nanoseconds(now.fetch_add(1000)));
            if (!r.ok())
                ++errors;
            else if (r.value().allowed)
                ++allowed;
        }
    };
    std::thread a([&] { run(storeA); });
    std::thread b([&] { run(storeB); });
    a.join();
    b.join();
    clientA.closeThreadConnection();
    clientB.closeThreadConnection();
    QCOMPARE(errors.load(), 0);
    // Never above the limit; and since no budget comes back within the run, exactly it
    // (only the sliding counter could be stricter, never looser: p = 0 here, so it is L).
    QCOMPARE(allowed.load(), int(kLimit));
}

void TestRedisRateStore::idleKeyExpires()
{
    RedisRateStore store(*m_client, "test:expire:");
    store.setExpiryGrace(0ms);
    for (RateAlgorithm a :
         {RateAlgorithm::TokenBucket, RateAlgorithm::SlidingLog, RateAlgorithm::SlidingCounter,
          RateAlgorithm::FixedWindow, RateAlgorithm::Gcra}) {
        const std::unique_ptr<RateLimitAlgorithm> algo =
            RateLimitAlgorithm::create(makeSpec(a, 5, 300));
        const QByteArray key = rateAlgorithmName(a).toUtf8();
        const QByteArray rkey = store.redisKey(key);
        const qint64 nowNs = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
        const auto r = store.decide(*algo, key, 2, std::chrono::nanoseconds(nowNs));
        QVERIFY(r.ok());
        QVERIFY(r.value().allowed);
        const qint64 idleMs = r.value().resetAfter.count();
        QVERIFY2(idleMs > 0 && idleMs <= 600, qPrintable(QString::number(idleMs)));
        // The key lives exactly until its state is idle (rounded up to ms; the sliding
        // counter's idle time is up to 2W, its resetAfter).
        const auto pttl = m_client->command({"PTTL", rkey});
        QVERIFY(pttl.ok());
        QVERIFY2(
            pttl.value().integer > 0 && pttl.value().integer <= idleMs,
            qPrintable(
                QStringLiteral("PTTL %1, idle in %2 ms").arg(pttl.value().integer).arg(idleMs)));
        if (a == RateAlgorithm::SlidingLog) {
            const auto meta = m_client->command({"PTTL", rkey + ":m"});
            QVERIFY(meta.ok() && meta.value().integer > 0 && meta.value().integer <= idleMs);
        }
        QTest::qWait(int(idleMs) + 100);
        const auto exists = m_client->command({"EXISTS", rkey, rkey + ":m"});
        QVERIFY(exists.ok());
        QCOMPARE(exists.value().integer, 0);
        // A state that is idle right after a decision is not stored at all (cost above the
        // capacity: denied, nothing changes).
        const auto big =
            store.decide(*algo, key, 6, std::chrono::nanoseconds(nowNs + 1'000'000'000));
        QVERIFY(big.ok());
        QVERIFY(!big.value().allowed);
        const auto none = m_client->command({"EXISTS", rkey, rkey + ":m"});
        QVERIFY(none.ok());
        QCOMPARE(none.value().integer, 0);
    }
}

void TestRedisRateStore::stoppedServerFailsFast()
{
    RedisServer server;
    if (!server.start())
        QFAIL(qPrintable(QStringLiteral("redis-server did not start: ") + server.errorString()));
    RedisClient client(optionsFor(server, 250ms), m_clock);
    RedisRateStore store(client, "test:down:");
    const std::unique_ptr<RateLimitAlgorithm> algo =
        RateLimitAlgorithm::create(makeSpec(RateAlgorithm::Gcra, 10, 1000));
    QVERIFY(store.decide(*algo, "k", 1, std::chrono::nanoseconds(kBaseNs)).ok());
    server.stop();
    for (int i = 0; i < 3; ++i) {
        QElapsedTimer timer;
        timer.start();
        const auto r = store.decide(*algo, "k", 1, std::chrono::nanoseconds(kBaseNs + i));
        const qint64 ms = timer.elapsed();
        qInfo("decide with the server stopped: %lld ms", ms);
        QVERIFY(!r.ok());
        QCOMPARE(r.error().code, ErrorCode::Unavailable);
        QVERIFY2(ms < 1500, qPrintable(QString::number(ms)));
    }

    // A server that accepts but never answers (SIGSTOP): one command timeout, not a hang.
    RedisServer frozen;
    if (!frozen.start())
        QFAIL(qPrintable(QStringLiteral("redis-server did not start: ") + frozen.errorString()));
    RedisClient frozenClient(optionsFor(frozen, 250ms), m_clock);
    RedisRateStore frozenStore(frozenClient, "test:down:");
    QVERIFY(frozenStore.decide(*algo, "k", 1, std::chrono::nanoseconds(kBaseNs)).ok());
    frozen.pause();
    QElapsedTimer timer;
    timer.start();
    const auto r = frozenStore.decide(*algo, "k", 1, std::chrono::nanoseconds(kBaseNs + 1));
    const qint64 ms = timer.elapsed();
    qInfo("decide with the server paused: %lld ms", ms);
    frozen.resume();
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::Unavailable);
    QVERIFY2(ms < 1500, qPrintable(QString::number(ms)));
}

void TestRedisRateStore::recoversFromScriptFlush()
{
    RedisRateStore store(*m_client, "test:flush:");
    const std::unique_ptr<RateLimitAlgorithm> algo =
        RateLimitAlgorithm::create(makeSpec(RateAlgorithm::FixedWindow, 3, 60'000));
    QVERIFY(m_client->command({"DEL", store.redisKey("k")}).ok());
    const std::chrono::nanoseconds now(kBaseNs);
    auto first = store.decide(*algo, "k", 1, now);
    QVERIFY(first.ok());
    QCOMPARE(first.value().remaining, 2);
    const auto flushed = m_client->command({"SCRIPT", "FLUSH"});
    QVERIFY(flushed.ok() && !flushed.value().isError());
    // The next decision meets NOSCRIPT, loads the script again and retries once; the state
    // in Redis is untouched by the flush.
    auto second = store.decide(*algo, "k", 1, now);
    QVERIFY2(second.ok(), qPrintable(second.ok() ? QString() : second.error().message));
    QCOMPARE(second.value().remaining, 1);
    // And with every script gone again, another algorithm loads its own.
    QVERIFY(m_client->command({"SCRIPT", "FLUSH"}).ok());
    const std::unique_ptr<RateLimitAlgorithm> log =
        RateLimitAlgorithm::create(makeSpec(RateAlgorithm::SlidingLog, 3, 60'000));
    auto third = store.decide(*log, "log", 1, now);
    QVERIFY(third.ok());
    QVERIFY(third.value().allowed);
}

void TestRedisRateStore::tooLongWindowRefused()
{
    RedisRateStore store(*m_client, "test:long:");
    const std::unique_ptr<RateLimitAlgorithm> algo =
        RateLimitAlgorithm::create(makeSpec(RateAlgorithm::FixedWindow, 3, 30LL * 86'400'000));
    const auto r = store.decide(*algo, "k", 1, std::chrono::nanoseconds(kBaseNs));
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::Unprocessable);
}

// The sliding log keeps its scores relative to a base second and rewrites them once the
// offset passes 2^50 ns (~13 days): requests just before and after that point, with live
// entries carried over, decide like the C++ algorithm.
void TestRedisRateStore::slidingLogRebase()
{
    const std::unique_ptr<RateLimitAlgorithm> algorithm =
        RateLimitAlgorithm::create(makeSpec(RateAlgorithm::SlidingLog, 3, 1000));
    RedisRateStore store(*m_client, "test:rebase:");
    store.setExpiryGrace(600'000ms); // simulated time runs ahead: keep the key meanwhile
    QVERIFY(m_client->command({"DEL", store.redisKey("k"), store.redisKey("k") + ":m"}).ok());
    RateState state;
    qint64 now = kBaseNs;
    const qint64 rebaseAt = kBaseNs - kBaseNs % 1'000'000'000 + (qint64(1) << 50);
    QList<qint64> times{now, now + 10};
    for (qint64 t = rebaseAt - 900'000'000; t < rebaseAt + 1'500'000'000; t += 150'000'000)
        times << t;
    for (qint64 t : times) {
        const RateDecision expected =
            algorithm->decide(state, RateTime(std::chrono::nanoseconds(t)), 1);
        const auto got = store.decide(*algorithm, "k", 1, std::chrono::nanoseconds(t));
        QVERIFY(got.ok());
        const QString context = QStringLiteral("at +%1 ns: C++ %2, Redis %3")
                                    .arg(t - kBaseNs)
                                    .arg(show(expected), show(got.value()));
        QVERIFY2(got.value().allowed == expected.allowed, qPrintable(context));
        QVERIFY2(got.value().remaining == expected.remaining, qPrintable(context));
        QVERIFY2(got.value().resetAfter == expected.resetAfter, qPrintable(context));
        QVERIFY2(got.value().retryAfter == expected.retryAfter, qPrintable(context));
    }
    // The base moved: the stored base second is now past the rebase point.
    const auto base = m_client->command({"HGET", store.redisKey("k") + ":m", "b"});
    QVERIFY(base.ok());
    QVERIFY2(base.value().string.toLongLong() * 1'000'000'000 > rebaseAt - 2'000'000'000,
             base.value().string.constData());
}

// The sliding counter's comparison p * (W - e) <= A * W at a point where the two sides
// differ by 1 and both exceed 2^53: doubles would round them to the same value and allow the
// request (and round ceil(p * (W - e) / W) down). W = 1 h, p = 43261, e = 166431659 ns,
// A = p - 2: p * (W - e) = A * W + 1, so the request is denied and remaining is
// L - c - ceil(p * (W - e) / W) = L - (A + 1) (c = 0).
void TestRedisRateStore::slidingCounterExactProducts()
{
    constexpr qint64 kLimit = 200000, kP = 43261, kE = 166'431'659;
    constexpr qint64 kWindowNs = 3'600'000'000'000;
    const std::unique_ptr<RateLimitAlgorithm> algorithm =
        RateLimitAlgorithm::create(makeSpec(RateAlgorithm::SlidingCounter, kLimit, 3'600'000));
    RedisRateStore store(*m_client, "test:exact:");
    store.setExpiryGrace(600'000ms);
    QVERIFY(m_client->command({"DEL", store.redisKey("k")}).ok());
    RateState state;
    const qint64 start = kBaseNs - kBaseNs % kWindowNs;
    const struct
    {
        qint64 at;
        qint64 cost;
    } requests[] = {{start, kP}, {start + kWindowNs + kE, kLimit - (kP - 2)}};
    for (const auto &r : requests) {
        const RateDecision expected =
            algorithm->decide(state, RateTime(std::chrono::nanoseconds(r.at)), r.cost);
        const auto got = store.decide(*algorithm, "k", r.cost, std::chrono::nanoseconds(r.at));
        QVERIFY(got.ok());
        const QString context =
            QStringLiteral("C++ %1, Redis %2").arg(show(expected), show(got.value()));
        QVERIFY2(got.value().allowed == expected.allowed, qPrintable(context));
        QVERIFY2(got.value().remaining == expected.remaining, qPrintable(context));
        QVERIFY2(got.value().resetAfter == expected.resetAfter, qPrintable(context));
        QVERIFY2(got.value().retryAfter == expected.retryAfter, qPrintable(context));
    }
    // The C++ reference itself: denied, remaining L - (A + 1).
    RateState check;
    algorithm->decide(check, RateTime(std::chrono::nanoseconds(start)), kP);
    const RateDecision d = algorithm->decide(
        check, RateTime(std::chrono::nanoseconds(start + kWindowNs + kE)), kLimit - (kP - 2));
    QVERIFY(!d.allowed);
    QCOMPARE(d.remaining, kLimit - (kP - 1));
}

QTEST_GUILESS_MAIN(TestRedisRateStore)
#include "tst_redis_ratestore.moc"
