// SPDX-License-Identifier: GPL-3.0-or-later
// The rate limiter's Redis store against a real redis-server from the harness (missing is a
// failure, never a skip), with two Bulwark instances in this process sharing it and one
// SQLite file, as two hosts would:
//
//   - one global limit enforced across both instances under concurrent traffic: allowed in
//     total exactly the limit, never more;
//   - redis-server killed under traffic: fail-open by default, not one failed request,
//     health says the limiter is degraded; restarted: limits resume by themselves;
//   - on_redis_failure closed refuses with 429 while Redis is down; local falls back to
//     this instance's memory counters.
#include "ExternalServers.h"
#include "RateLimitRules.h"
#include "TestSupport.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QtTest>
#include <atomic>
#include <thread>

using namespace bulwark;
using namespace bulwark::test;

class TestRateLimitRedis : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void twoInstancesShareOneGlobalLimit();
    void redisKilledUnderTrafficFailsOpenThenLimitsResume();
    void failClosedRefusesWhileRedisIsDown();
    void localFallbackKeepsLimiting();

private:
    void startInstances(int count, qint64 limit, const QString &onFailure = QStringLiteral("open"));
    int get(TestServer &server);

    RedisServer m_redis;
    std::unique_ptr<TestServer> m_a;
    std::unique_ptr<TestServer> m_b;
    TestAccount m_alice;
};

void TestRateLimitRedis::initTestCase()
{
    QVERIFY2(m_redis.start(), qPrintable(m_redis.errorString()));
}

void TestRateLimitRedis::init()
{
    QVERIFY2(m_redis.start(), qPrintable(m_redis.errorString()));
    BULWARK_CHECK(flushRedis(m_redis.port()));
}

void TestRateLimitRedis::cleanup()
{
    m_b.reset();
    m_a.reset();
}

void TestRateLimitRedis::startInstances(int count, qint64 limit, const QString &onFailure)
{
    RateLimitRuleConfig rule;
    rule.name = QStringLiteral("global");
    rule.route = QStringLiteral("/api/v1/activities");
    rule.scope = {QStringLiteral("global")};
    rule.algorithm = QStringLiteral("sliding_log");
    rule.limit = limit;
    rule.window = Milliseconds(60'000);
    m_a = std::make_unique<TestServer>();
    if (count > 1)
        m_b = std::make_unique<TestServer>();
    for (TestServer *s : {m_a.get(), m_b.get()}) {
        if (!s)
            continue;
        s->config.redis.url = QStringLiteral("redis://127.0.0.1:%1").arg(m_redis.port());
        s->config.ratelimit.enabled = true;
        s->config.ratelimit.store = QStringLiteral("redis");
        s->config.ratelimit.onRedisFailure = onFailure;
        s->config.ratelimit.rules = {rule};
        s->config.api.keyCacheTtl = Milliseconds(60'000);
        // The cache stays out of the way of "is Redis up" (its tier has its own tests).
        s->config.cache.redisEnabled = false;
        if (s == m_b.get())
            s->config.db.sqlitePath = m_a->dataDir() + QStringLiteral("/bulwark.db");
        QVERIFY2(s->start(), qPrintable(s->errorString()));
    }
    m_alice = addTestAccount(*m_a->app(), QStringLiteral("alice@example.com"));
}

int TestRateLimitRedis::get(TestServer &server)
{
    const RawResponse r = apiRequest(server.port(), "GET", "/api/v1/activities", m_alice.token);
    if (r.status != 200 && r.status != 429)
        qWarning("unexpected answer: %d %s", r.status, r.body.left(300).constData());
    return r.status;
}

void TestRateLimitRedis::twoInstancesShareOneGlobalLimit()
{
    BULWARK_CHECK(startInstances(2, 50));
    // Four clients, each alternating between the instances, 400 requests in all.
    std::atomic<int> allowed{0};
    std::atomic<int> refused{0};
    std::atomic<int> other{0};
    const quint16 ports[2] = {m_a->port(), m_b->port()};
    const QByteArray token = m_alice.token;
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c)
        clients.emplace_back([&, c] {
            for (int i = 0; i < 100; ++i) {
                const int status =
                    apiRequest(ports[(c + i) % 2], "GET", "/api/v1/activities", token).status;
                (status == 200 ? allowed : status == 429 ? refused : other)++;
            }
        });
    for (std::thread &t : clients)
        t.join();
    qInfo("two instances, one global limit of 50: %d allowed, %d refused, %d other", int(allowed),
          int(refused), int(other));
    QCOMPARE(int(other), 0);
    QCOMPARE(int(allowed), 50);
    QCOMPARE(int(refused), 350);
    // Both instances decided some of them.
    for (TestServer *s : {m_a.get(), m_b.get()}) {
        const QJsonObject stats = rateLimitRuleStats(*s);
        QVERIFY(stats.value("allowed").toInt() > 0);
        QCOMPARE(stats.value("store_errors").toInt(), 0);
    }
}

void TestRateLimitRedis::redisKilledUnderTrafficFailsOpenThenLimitsResume()
{
    BULWARK_CHECK(startInstances(1, 30));
    int status = 0;
    for (int i = 0; i < 30; ++i)
        QCOMPARE(get(*m_a), 200);
    QCOMPARE(get(*m_a), 429);

    // A second client streams requests through the kill; refused ones (the limit is
    // reached) are fine, failed ones are not.
    std::atomic<bool> stop{false};
    std::atomic<int> streamed{0};
    std::atomic<int> failed{0};
    const quint16 port = m_a->port();
    const QByteArray token = m_alice.token;
    std::thread stream([&] {
        QElapsedTimer bound;
        bound.start();
        for (int i = 0; !stop && i < 20000 && bound.elapsed() < 30000; ++i) {
            const int s = apiRequest(port, "GET", "/api/v1/activities", token).status;
            failed += s != 200 && s != 429;
            ++streamed;
        }
    });
    QTest::qWait(50);
    m_redis.kill();
    // Fail-open: every request is served while Redis is gone.
    int served = 0;
    for (int i = 0; i < 200; ++i) {
        status = get(*m_a);
        QCOMPARE(status, 200);
        ++served;
    }
    stop = true;
    stream.join();
    QCOMPARE(int(failed), 0);
    QVERIFY(streamed > 0);
    const RawResponse health = apiRequest(m_a->port(), "GET", "/health", {});
    QVERIFY2(health.body.contains("\"ratelimit\"") && health.body.contains("degraded"),
             health.body.constData());
    QCOMPARE(apiRequest(m_a->port(), "GET", "/health/ready", {}).status, 200);

    // Restarted (empty, as after a crash without persistence): the limiter uses Redis again
    // by itself, and the limit applies again.
    QVERIFY2(m_redis.start(), qPrintable(m_redis.errorString()));
    QElapsedTimer sinceRestart;
    sinceRestart.start();
    bool limited = false;
    int afterRestart = 0;
    while (!limited && sinceRestart.elapsed() < 15000 && afterRestart < 5000) {
        status = get(*m_a);
        QVERIFY(status == 200 || status == 429);
        limited = status == 429;
        ++afterRestart;
    }
    qInfo("fail-open: %d requests served with Redis down; limit enforced again %lld ms after the "
          "restart (%d requests)",
          served, qlonglong(sinceRestart.elapsed()), afterRestart);
    QVERIFY2(limited, "the limit did not come back after Redis restarted");
    QTRY_VERIFY_WITH_TIMEOUT(
        !apiRequest(m_a->port(), "GET", "/health", {}).body.contains("degraded"), 5000);
    const QByteArray metrics = apiRequest(m_a->port(), "GET", "/metrics", {}).body;
    // The 200 above, and any made after the restart before the breaker's next probe.
    const QByteArray line = "bulwark_ratelimit_decisions_total{rule=\"global\",result=\"store_error\"} ";
    const qsizetype at = metrics.indexOf(line);
    QVERIFY2(at >= 0, metrics.constData());
    const qint64 storeErrors =
        metrics.mid(at + line.size(), metrics.indexOf('\n', at) - at - line.size()).toLongLong();
    QVERIFY2(storeErrors >= 200 && storeErrors <= 200 + afterRestart + streamed,
             qPrintable(QString::number(storeErrors)));
}

void TestRateLimitRedis::failClosedRefusesWhileRedisIsDown()
{
    BULWARK_CHECK(startInstances(1, 1000, QStringLiteral("closed")));
    QCOMPARE(get(*m_a), 200);
    m_redis.kill();
    const RawResponse refused =
        apiRequest(m_a->port(), "GET", "/api/v1/activities", m_alice.token);
    // Not the client's fault: 503, no rate-limit headers.
    verifyJsonError(refused, 503, QStringLiteral("unavailable"));
    QCOMPARE(refused.header("retry-after"), QByteArray("1"));
    QVERIFY(!refused.hasHeader("x-ratelimit-remaining"));
    QVERIFY(!refused.hasHeader("ratelimit"));
    QVERIFY2(refused.json().value("error").toObject().value("message").toString().contains(
                 "on_redis_failure is closed"),
             refused.body.constData());
    QVERIFY2(m_redis.start(), qPrintable(m_redis.errorString()));
    QTRY_COMPARE_WITH_TIMEOUT(get(*m_a), 200, 10000);
}

void TestRateLimitRedis::localFallbackKeepsLimiting()
{
    BULWARK_CHECK(startInstances(1, 3, QStringLiteral("local")));
    QCOMPARE(get(*m_a), 200);
    m_redis.kill();
    // This instance's own counters take over (from zero): three more pass, then 429.
    QCOMPARE(get(*m_a), 200);
    QCOMPARE(get(*m_a), 200);
    QCOMPARE(get(*m_a), 200);
    QCOMPARE(get(*m_a), 429);
}

QTEST_GUILESS_MAIN(TestRateLimitRedis)
#include "tst_ratelimit_redis.moc"
