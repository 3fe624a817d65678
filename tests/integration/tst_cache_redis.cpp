// SPDX-License-Identifier: GPL-3.0-or-later
// The Redis tier and cross-instance invalidation, against a real redis-server from the
// harness (a missing redis-server is a failure, never a skip) and two Bulwark instances in
// this process sharing one SQLite file and that Redis, as two hosts would share PostgreSQL:
//
//   - an entry stored by instance A is a hit on instance B (from Redis);
//   - a write through A makes B's next read a MISS with the new data within 100 ms;
//   - redis-server killed during a stream of requests: not one request fails, health says
//     the cache is degraded; restarted on the same port: the Redis tier is in use again
//     within 5 s, and a write made on A during the outage is not hidden by B's memory tier;
//   - the Redis tier alone (memory tier off); key browsing and prefix invalidation in Redis;
//     the Redis metrics.
#include "ExternalServers.h"
#include "TestSupport.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QtTest>
#include <atomic>
#include <thread>

using namespace bulwark;
using namespace bulwark::test;

namespace {

QJsonObject activity(const QString &sport, const QString &startedAt)
{
    return QJsonObject{
        {"sport", sport}, {"started_at", startedAt}, {"duration_s", 1800}, {"distance_m", 5000.0}};
}

} // namespace

class TestCacheRedis : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void entryStoredByOneInstanceIsAHitOnTheOther();
    void writeOnOneInstanceInvalidatesTheOtherWithin100ms();
    void redisKilledDuringTrafficThenRestarted();
    void outageWritesAreNotHiddenAfterRecovery();
    void redisTierAlone();
    void redisKeysAndPrefixInvalidation();
    void redisMetrics();

private:
    bool startInstances(int count, bool memory = true);
    QJsonObject cacheStats(TestServer &server);
    RawResponse get(TestServer &server, const QString &target);
    // POST /api/v1/activities through instance A as Alice; the status.
    int createActivity(const QString &sport, const QString &startedAt);

    RedisServer m_redis;
    std::unique_ptr<TestServer> m_a;
    std::unique_ptr<TestServer> m_b;
    TestAccount m_alice;
};

void TestCacheRedis::initTestCase()
{
    QVERIFY2(m_redis.start(), qPrintable(m_redis.errorString()));
}

void TestCacheRedis::init()
{
    // Each test starts from an empty Redis.
    QVERIFY2(m_redis.start(), qPrintable(m_redis.errorString()));
    BULWARK_CHECK(flushRedis(m_redis.port()));
}

void TestCacheRedis::cleanup()
{
    m_b.reset();
    m_a.reset();
}

bool TestCacheRedis::startInstances(int count, bool memory)
{
    m_a = std::make_unique<TestServer>();
    if (count > 1)
        m_b = std::make_unique<TestServer>();
    for (TestServer *s : {m_a.get(), m_b.get()}) {
        if (!s)
            continue;
        s->config.redis.url = QStringLiteral("redis://127.0.0.1:%1").arg(m_redis.port());
        s->config.cache.memoryEnabled = memory;
        s->config.api.keyCacheTtl = Milliseconds(60'000);
        if (s == m_b.get())
            s->config.db.sqlitePath = m_a->dataDir() + QStringLiteral("/bulwark.db");
        if (!s->start()) {
            QTest::qFail(qPrintable(s->errorString()), __FILE__, __LINE__);
            return false;
        }
    }
    m_alice = addTestAccount(*m_a->app(), QStringLiteral("alice@example.com"));
    if (QTest::currentTestFailed())
        return false;
    // Both instances subscribed and in sync with Redis before the test starts.
    for (TestServer *s : {m_a.get(), m_b.get()}) {
        if (!s)
            continue;
        QElapsedTimer t;
        t.start();
        while (cacheStats(*s).value("redis").toObject().value("state").toString() != "up") {
            if (t.elapsed() > 10000) {
                QTest::qFail("the Redis tier did not come up", __FILE__, __LINE__);
                return false;
            }
            QTest::qWait(20);
        }
    }
    return true;
}

QJsonObject TestCacheRedis::cacheStats(TestServer &server)
{
    return apiRequest(server.port(), "GET", "/admin/api/cache", server.app()->adminToken()).json();
}

RawResponse TestCacheRedis::get(TestServer &server, const QString &target)
{
    return apiRequest(server.port(), "GET", target, m_alice.token);
}

int TestCacheRedis::createActivity(const QString &sport, const QString &startedAt)
{
    return apiRequest(m_a->port(), "POST", "/api/v1/activities", m_alice.token,
                      activity(sport, startedAt))
        .status;
}

void TestCacheRedis::entryStoredByOneInstanceIsAHitOnTheOther()
{
    QVERIFY(startInstances(2));
    QCOMPARE(createActivity("run", "2024-03-01T07:00:00Z"), 201);
    const RawResponse a = get(*m_a, "/api/v1/activities");
    QCOMPARE(a.header("x-cache"), QByteArray("MISS"));
    const RawResponse b = get(*m_b, "/api/v1/activities");
    QCOMPARE(b.status, 200);
    QCOMPARE(b.header("x-cache"), QByteArray("HIT"));
    QCOMPARE(b.body, a.body);
    const QJsonObject redis = cacheStats(*m_b).value("redis").toObject();
    QCOMPARE(redis.value("hits").toInt(), 1);
    // Now in B's memory tier too.
    QCOMPARE(get(*m_b, "/api/v1/activities").header("x-cache"), QByteArray("HIT"));
    QCOMPARE(cacheStats(*m_b).value("memory").toObject().value("hits").toInt(), 1);
}

void TestCacheRedis::writeOnOneInstanceInvalidatesTheOtherWithin100ms()
{
    QVERIFY(startInstances(2));
    const QString target = QStringLiteral("/api/v1/activities");
    get(*m_a, target);
    QCOMPARE(get(*m_a, target).header("x-cache"), QByteArray("HIT"));
    QCOMPARE(get(*m_b, target).header("x-cache"), QByteArray("HIT"));
    QCOMPARE(get(*m_b, target).header("x-cache"), QByteArray("HIT")); // now in B's memory

    const RawResponse written = apiRequest(m_a->port(), "POST", target, m_alice.token,
                                           activity("swim", "2024-03-09T07:00:00Z"));
    QCOMPARE(written.status, 201);
    QElapsedTimer sinceWrite;
    sinceWrite.start();
    RawResponse b;
    do {
        b = get(*m_b, target);
    } while (!b.body.contains("swim") && sinceWrite.elapsed() < 2000);
    const qint64 elapsed = sinceWrite.elapsed();
    QVERIFY2(b.body.contains("swim"), b.body.constData());
    QCOMPARE(b.header("x-cache"), QByteArray("MISS"));
    QVERIFY2(elapsed < 100, qPrintable(QStringLiteral("B saw the write after %1 ms").arg(elapsed)));
    qInfo("instance B served the new data %lld ms after the write on A", qlonglong(elapsed));
    QVERIFY(cacheStats(*m_b).value("redis").toObject().value("messages_received").toInt() >= 1);
}

void TestCacheRedis::redisKilledDuringTrafficThenRestarted()
{
    QVERIFY(startInstances(2));
    // A client streams requests (reads of a few keys and writes) at A until told to stop;
    // every answer must be a success.
    std::atomic<bool> stop{false};
    std::atomic<int> requests{0};
    std::atomic<int> failures{0};
    QByteArray firstFailure;
    const quint16 port = m_a->port();
    const QByteArray token = m_alice.token;
    std::thread client([&] {
        QElapsedTimer bound;
        bound.start();
        for (int i = 0; !stop && i < 20000 && bound.elapsed() < 60000; ++i) {
            RawResponse r;
            if (i % 10 == 9)
                r = apiRequest(port, "POST", "/api/v1/activities", token,
                               activity("ride", "2024-04-01T07:00:00Z"));
            else
                r = apiRequest(port, "GET",
                               QStringLiteral("/api/v1/activities?limit=%1").arg(1 + i % 3), token);
            ++requests;
            if (r.status != 200 && r.status != 201 && failures++ == 0)
                firstFailure = QByteArray::number(r.status) + ' ' + r.body.left(300);
        }
    });
    auto waitForRequests = [&](int more) {
        const int target = requests + more;
        QElapsedTimer t;
        t.start();
        while (requests < target && t.elapsed() < 20000)
            QTest::qWait(10);
    };
    waitForRequests(100);
    m_redis.kill();
    waitForRequests(200);
    // Health: the cache is degraded (not down: the process stays ready).
    QTRY_VERIFY_WITH_TIMEOUT(
        apiRequest(m_a->port(), "GET", "/health", {}).body.contains("degraded"), 5000);
    const RawResponse ready = apiRequest(m_a->port(), "GET", "/health/ready", {});
    QCOMPARE(ready.status, 200);
    QVERIFY(cacheStats(*m_a).value("redis").toObject().value("state").toString() != "up");
    waitForRequests(200);

    QVERIFY2(m_redis.start(), qPrintable(m_redis.errorString()));
    QElapsedTimer sinceRestart;
    sinceRestart.start();
    // The Redis tier is used again: an entry A stores after recovery is a Redis hit on B.
    bool back = false;
    int attempt = 0;
    while (!back && sinceRestart.elapsed() < 10000) {
        const QString probe = QStringLiteral("/api/v1/activities?limit=7&probe=%1").arg(++attempt);
        const int before = cacheStats(*m_b).value("redis").toObject().value("hits").toInt();
        get(*m_a, probe);
        get(*m_b, probe);
        back = cacheStats(*m_b).value("redis").toObject().value("hits").toInt() > before;
        if (!back)
            QTest::qWait(50);
    }
    const qint64 recovery = sinceRestart.elapsed();
    stop = true;
    client.join();
    QVERIFY2(back, "the Redis tier was not used again after the restart");
    QVERIFY2(recovery < 5000, qPrintable(QStringLiteral("recovery took %1 ms").arg(recovery)));
    qInfo("%d requests, %d failed; Redis tier in use again %lld ms after the restart",
          int(requests), int(failures), qlonglong(recovery));
    QVERIFY2(failures == 0, firstFailure.constData());
    QVERIFY(requests > 500);
    QTRY_VERIFY_WITH_TIMEOUT(
        !apiRequest(m_a->port(), "GET", "/health", {}).body.contains("degraded"), 5000);
}

void TestCacheRedis::outageWritesAreNotHiddenAfterRecovery()
{
    QVERIFY(startInstances(2));
    const QString target = QStringLiteral("/api/v1/activities");
    get(*m_a, target);
    get(*m_b, target);
    QCOMPARE(get(*m_b, target).header("x-cache"), QByteArray("HIT")); // in B's memory tier
    m_redis.kill();
    // A cannot tell B about this write while Redis is down...
    QCOMPARE(createActivity("hike", "2024-05-01T07:00:00Z"), 201);
    // ...but A itself never serves its own stale entry.
    QVERIFY(get(*m_a, target).body.contains("hike"));
    QVERIFY2(m_redis.start(), qPrintable(m_redis.errorString()));
    // Once both are back in sync, B's memory tier has been cleared: the write shows.
    QTRY_VERIFY_WITH_TIMEOUT(get(*m_b, target).body.contains("hike"), 5000);
}

void TestCacheRedis::redisTierAlone()
{
    QVERIFY(startInstances(1, false));
    const RawResponse first = get(*m_a, "/api/v1/activities");
    QCOMPARE(first.header("x-cache"), QByteArray("MISS"));
    const RawResponse second = get(*m_a, "/api/v1/activities");
    QCOMPARE(second.header("x-cache"), QByteArray("HIT"));
    QCOMPARE(second.body, first.body);
    const QJsonObject stats = cacheStats(*m_a);
    QCOMPARE(stats.value("memory").toObject().value("enabled").toBool(), false);
    QCOMPARE(stats.value("redis").toObject().value("hits").toInt(), 1);
    QCOMPARE(stats.value("redis").toObject().value("misses").toInt(), 1);
    // Writes invalidate here too.
    QCOMPARE(createActivity("walk", "2024-03-01T07:00:00Z"), 201);
    const RawResponse third = get(*m_a, "/api/v1/activities");
    QCOMPARE(third.header("x-cache"), QByteArray("MISS"));
    QVERIFY(third.body.contains("walk"));
}

void TestCacheRedis::redisKeysAndPrefixInvalidation()
{
    QVERIFY(startInstances(2));
    for (int i = 1; i <= 5; ++i)
        get(*m_a, QStringLiteral("/api/v1/activities?limit=%1").arg(i));
    get(*m_a, "/api/v1/splits");
    QCOMPARE(get(*m_b, "/api/v1/splits").header("x-cache"), QByteArray("HIT"));
    // Browse Redis by prefix, following SCAN's cursor until it is done.
    QStringList keys;
    QString cursor;
    for (int page = 0; page < 100; ++page) {
        QString target =
            QStringLiteral("/admin/api/cache/keys?tier=redis&limit=2&prefix=/api/v1/act");
        if (!cursor.isEmpty())
            target += QStringLiteral("&after=") + cursor;
        const QJsonObject r =
            apiRequest(m_a->port(), "GET", target, m_a->app()->adminToken()).json();
        for (const QJsonValue &k : r.value("keys").toArray()) {
            keys.append(k.toObject().value("key").toString());
            QVERIFY(k.toObject().value("ttl_ms").toDouble() > 0);
            QVERIFY(k.toObject().value("bytes").toDouble() > 0);
        }
        if (r.value("next").isNull())
            break;
        cursor = r.value("next").toString();
    }
    keys.removeDuplicates(); // SCAN may return a key twice
    QCOMPARE(keys.size(), 5);
    for (const QString &k : keys)
        QVERIFY2(k.startsWith("/api/v1/activities?limit="), qPrintable(k));
    // A prefix invalidation on A removes them from A, Redis and (by message) B.
    get(*m_b, "/api/v1/activities?limit=1"); // into B's memory tier
    const RawResponse removed =
        apiRequest(m_a->port(), "POST", "/admin/api/cache/invalidate", m_a->app()->adminToken(),
                   QJsonObject{{"prefix", "/api/v1/activities"}});
    QCOMPARE(removed.status, 200);
    QCOMPARE(removed.json().value("removed").toInt(), 10); // 5 in A's memory, 5 in Redis
    QTRY_VERIFY_WITH_TIMEOUT(
        cacheStats(*m_b).value("redis").toObject().value("messages_received").toInt() >= 1, 1000);
    QCOMPARE(get(*m_b, "/api/v1/activities?limit=1").header("x-cache"), QByteArray("MISS"));
    QCOMPARE(get(*m_b, "/api/v1/splits").header("x-cache"), QByteArray("HIT"));
}

void TestCacheRedis::redisMetrics()
{
    QVERIFY(startInstances(1));
    get(*m_a, "/api/v1/activities");
    get(*m_a, "/api/v1/activities");
    const RawResponse metrics = apiRequest(m_a->port(), "GET", "/metrics", {});
    for (const char *line : {"bulwark_cache_requests_total{tier=\"redis\",result=\"miss\"} 1",
                             "bulwark_cache_requests_total{tier=\"memory\",result=\"hit\"} 1",
                             "bulwark_redis_breaker_state 0", "bulwark_cache_redis_up 1",
                             "bulwark_redis_errors_total 0"})
        QVERIFY2(metrics.body.contains(line), line);
}

QTEST_GUILESS_MAIN(TestCacheRedis)
#include "tst_cache_redis.moc"
