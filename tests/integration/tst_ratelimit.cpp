// SPDX-License-Identifier: GPL-3.0-or-later
// The rate limiter over HTTP, with the memory store: the default rules (login per address,
// the API per user) refuse with 429, the JSON error and Retry-After, and every response
// carries the X-RateLimit-* and RateLimit-Policy / RateLimit headers with the right
// values; cached responses are limited too; admins and the allowlist are exempt;
// X-Forwarded-For counts only from a trusted proxy; batch operations each count; a shadow
// rule refuses nothing; rules replaced through the admin API (or a reload) apply to the
// next request, bad ones are refused with 422; statistics, top keys and metrics.
#include "RateLimitRules.h"
#include "TestSupport.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QtTest>
#include <ctime>

using namespace bulwark;
using namespace bulwark::test;

namespace {

QJsonObject activity(int day)
{
    return QJsonObject{{"sport", "run"},
                       {"started_at", QStringLiteral("2024-05-%1T07:00:00Z").arg(day, 2, 10, QChar('0'))},
                       {"duration_s", 1800},
                       {"distance_m", 5000.0}};
}

QJsonObject loginBody(const QString &email)
{
    return QJsonObject{{"email", email}, {"password", "not-the-password"}};
}

RateLimitRuleConfig rule(const QString &name, const QString &route, const QStringList &scope,
                         qint64 limit, const QStringList &methods = {})
{
    RateLimitRuleConfig r;
    r.name = name;
    r.route = route;
    r.scope = scope;
    r.methods = methods;
    r.limit = limit;
    r.window = Milliseconds(60'000);
    r.algorithm = QStringLiteral("sliding_log");
    return r;
}

} // namespace

class TestRateLimit : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { m_server.reset(); }

    void loginIsLimitedPerAddressByDefault();
    void apiIsLimitedPerUserIncludingCachedResponses();
    void headersCanBeSwitchedOff();
    void adminsAndAllowlistAreExempt();
    void forwardedForCountsOnlyFromTrustedProxies();
    void batchOperationsEachCount();
    void shadowRuleRefusesNothing();
    void rulesChangedThroughTheAdminApiApplyToTheNextRequest();
    void badRulesAreRefusedWith422();
    void reloadAppliesNewRules();
    void statisticsTopKeysAndMetrics();

private:
    // A server with rate limiting on (the test config turns it off) and Alice.
    void startServer(const std::function<void(Config &)> &configure = {});
    RawResponse admin(const QByteArray &method, const QString &target, const QJsonObject &body = {});
    RawResponse putRules(const QList<RateLimitRuleConfig> &rules);

    std::unique_ptr<TestServer> m_server;
    TestAccount m_alice;
};

void TestRateLimit::startServer(const std::function<void(Config &)> &configure)
{
    m_server = std::make_unique<TestServer>();
    m_server->config.ratelimit.enabled = true;
    if (configure)
        configure(m_server->config);
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    m_alice = addTestAccount(*m_server->app(), QStringLiteral("alice@example.com"));
}

RawResponse TestRateLimit::admin(const QByteArray &method, const QString &target,
                                 const QJsonObject &body)
{
    return apiRequest(m_server->port(), method, target, m_server->app()->adminToken(), body);
}

RawResponse TestRateLimit::putRules(const QList<RateLimitRuleConfig> &rules)
{
    return admin("PUT", "/admin/api/ratelimit/rules",
                 QJsonObject{{"rules", rateLimitRulesToJson(rules)}});
}

void TestRateLimit::loginIsLimitedPerAddressByDefault()
{
    BULWARK_CHECK(startServer());
    const quint16 port = m_server->port();
    for (int i = 1; i <= 5; ++i) {
        const RawResponse r = apiRequest(port, "POST", "/api/v1/auth/login", {},
                                         loginBody("alice@example.com"));
        QCOMPARE(r.status, 401); // a wrong password still counts
        // Two rules apply (api: 60/min, counted by address without a user; login: 5/h);
        // the X- headers describe the one closest to its limit, login.
        QCOMPARE(r.header("x-ratelimit-limit"), QByteArray("5"));
        QCOMPARE(r.header("x-ratelimit-remaining"), QByteArray::number(5 - i));
        QCOMPARE(r.header("ratelimit-policy"),
                 QByteArray("\"api\";q=60;w=60, \"login\";q=5;w=3600"));
        QVERIFY2(r.header("ratelimit").startsWith(
                     QByteArray("\"api\";r=") + QByteArray::number(60 - i) + ";t="),
                 r.header("ratelimit").constData());
        QVERIFY(r.header("ratelimit").contains(
            QByteArray(", \"login\";r=") + QByteArray::number(5 - i) + ";t="));
        const qint64 reset = r.header("x-ratelimit-reset").toLongLong();
        // Unix time at the decision plus an hour; the login handler (a password hash) runs
        // for a second or two between the decision and `now`.
        const qint64 now = qint64(std::time(nullptr));
        QVERIFY2(reset >= now + 3590 && reset <= now + 3601,
                 qPrintable(QStringLiteral("reset %1, now %2").arg(reset).arg(now)));
    }
    const RawResponse refused =
        apiRequest(port, "POST", "/api/v1/auth/login", {}, loginBody("alice@example.com"));
    verifyJsonError(refused, 429, QStringLiteral("rate_limited"));
    const QJsonObject error = refused.json().value("error").toObject();
    QCOMPARE(error.value("rule").toString(), QStringLiteral("login"));
    const int retry = refused.header("retry-after").toInt();
    // The first of the five (a few password hashes ago) leaves the window first.
    QVERIFY2(retry >= 3570 && retry <= 3600, refused.header("retry-after"));
    QCOMPARE(error.value("retry_after").toInt(), retry);
    QVERIFY2(error.value("message").toString().contains("5 requests per 1h per ip"),
             qPrintable(error.value("message").toString()));
    QCOMPARE(refused.header("x-ratelimit-remaining"), QByteArray("0"));
    QVERIFY(refused.header("ratelimit").contains("\"login\";r=0;t="));
    QCOMPARE(refused.header("cache-control"), QByteArray("no-store"));
    // Another endpoint under the same address is still fine (only the login rule refused).
    QCOMPARE(apiRequest(port, "GET", "/api/v1/activities", m_alice.token).status, 200);
}

void TestRateLimit::apiIsLimitedPerUserIncludingCachedResponses()
{
    BULWARK_CHECK(startServer([](Config &c) {
        c.ratelimit.rules = {rule("api", "/api/**", {"user"}, 4)};
    }));
    const quint16 port = m_server->port();
    const TestAccount bob = addTestAccount(*m_server->app(), QStringLiteral("bob@example.com"));
    QCOMPARE(apiRequest(port, "GET", "/api/v1/activities", m_alice.token).header("x-cache"),
             QByteArray("MISS"));
    for (int i = 2; i <= 4; ++i) {
        const RawResponse r = apiRequest(port, "GET", "/api/v1/activities", m_alice.token);
        QCOMPARE(r.status, 200);
        QCOMPARE(r.header("x-cache"), QByteArray("HIT"));
        QCOMPARE(r.header("x-ratelimit-remaining"), QByteArray::number(4 - i));
        QCOMPARE(r.header("ratelimit-policy"), QByteArray("\"api\";q=4;w=60"));
    }
    // The fifth is refused although the response is in the cache.
    const RawResponse refused = apiRequest(port, "GET", "/api/v1/activities", m_alice.token);
    verifyJsonError(refused, 429, QStringLiteral("rate_limited"));
    QVERIFY(!refused.hasHeader("x-cache"));
    // Bob has his own budget.
    QCOMPARE(apiRequest(port, "GET", "/api/v1/activities", bob.token).status, 200);
    // A request that fails authentication is refused before the limiter counts it.
    QCOMPARE(apiRequest(port, "GET", "/api/v1/activities", "bwk_wrong").status, 401);
}

void TestRateLimit::headersCanBeSwitchedOff()
{
    BULWARK_CHECK(startServer([](Config &c) {
        c.ratelimit.legacyHeaders = false;
        c.ratelimit.rules = {rule("api", "/api/**", {"user"}, 1)};
    }));
    const RawResponse r = apiRequest(m_server->port(), "GET", "/api/v1/activities", m_alice.token);
    QCOMPARE(r.status, 200);
    QVERIFY(!r.hasHeader("x-ratelimit-limit"));
    QVERIFY(!r.hasHeader("x-ratelimit-remaining"));
    QVERIFY(!r.hasHeader("x-ratelimit-reset"));
    QCOMPARE(r.header("ratelimit"), QByteArray("\"api\";r=0;t=60"));
    m_server.reset();

    BULWARK_CHECK(startServer([](Config &c) {
        c.ratelimit.standardHeaders = false;
        c.ratelimit.rules = {rule("api", "/api/**", {"user"}, 1)};
    }));
    const RawResponse first = apiRequest(m_server->port(), "GET", "/api/v1/activities", m_alice.token);
    QCOMPARE(first.header("x-ratelimit-remaining"), QByteArray("0"));
    QVERIFY(!first.hasHeader("ratelimit"));
    QVERIFY(!first.hasHeader("ratelimit-policy"));
    const RawResponse refused = apiRequest(m_server->port(), "GET", "/api/v1/activities", m_alice.token);
    QCOMPARE(refused.status, 429);
    QVERIFY(refused.hasHeader("retry-after")); // Retry-After belongs to the 429 itself
    QVERIFY(!refused.hasHeader("ratelimit"));
}

void TestRateLimit::adminsAndAllowlistAreExempt()
{
    BULWARK_CHECK(startServer([](Config &c) {
        c.ratelimit.rules = {rule("api", "/api/**", {"user"}, 1)};
    }));
    const TestAccount root =
        addTestAccount(*m_server->app(), QStringLiteral("root@example.com"), QStringLiteral("admin"));
    for (int i = 0; i < 3; ++i) {
        const RawResponse r = apiRequest(m_server->port(), "GET", "/api/v1/activities", root.token);
        QCOMPARE(r.status, 200);
        QVERIFY(!r.hasHeader("x-ratelimit-limit"));
    }
    m_server.reset();

    BULWARK_CHECK(startServer([](Config &c) {
        c.ratelimit.exemptAdmins = false;
        c.ratelimit.rules = {rule("api", "/api/**", {"user"}, 1)};
    }));
    const TestAccount root2 =
        addTestAccount(*m_server->app(), QStringLiteral("root@example.com"), QStringLiteral("admin"));
    QCOMPARE(apiRequest(m_server->port(), "GET", "/api/v1/activities", root2.token).status, 200);
    QCOMPARE(apiRequest(m_server->port(), "GET", "/api/v1/activities", root2.token).status, 429);
    m_server.reset();

    BULWARK_CHECK(startServer([](Config &c) {
        c.ratelimit.allowlist = {QStringLiteral("127.0.0.0/8")};
        c.ratelimit.rules = {rule("api", "/api/**", {"user"}, 1)};
    }));
    for (int i = 0; i < 3; ++i)
        QCOMPARE(apiRequest(m_server->port(), "GET", "/api/v1/activities", m_alice.token).status,
                 200);
}

void TestRateLimit::forwardedForCountsOnlyFromTrustedProxies()
{
    const QList<RateLimitRuleConfig> rules{rule("login", "/api/v1/auth/login", {"ip"}, 2, {"POST"})};
    auto login = [this](const QByteArray &forwardedFor) {
        return apiRequest(m_server->port(), "POST", "/api/v1/auth/login", {},
                          loginBody("alice@example.com"), 10000,
                          "X-Forwarded-For: " + forwardedFor + "\r\n")
            .status;
    };
    // Not trusted: the header is ignored, every request is 127.0.0.1's.
    BULWARK_CHECK(startServer([&](Config &c) { c.ratelimit.rules = rules; }));
    QCOMPARE(login("203.0.113.1"), 401);
    QCOMPARE(login("203.0.113.2"), 401);
    QCOMPARE(login("203.0.113.3"), 429);
    m_server.reset();

    // Trusted: each client has its own budget; a forged left part does not help.
    BULWARK_CHECK(startServer([&](Config &c) {
        c.ratelimit.rules = rules;
        c.ratelimit.trustedProxies = {QStringLiteral("127.0.0.1")};
    }));
    QCOMPARE(login("203.0.113.1"), 401);
    QCOMPARE(login("203.0.113.1"), 401);
    QCOMPARE(login("203.0.113.1"), 429);
    QCOMPARE(login("198.51.100.9, 203.0.113.1"), 429);
    QCOMPARE(login("203.0.113.2"), 401);
    // IPv6 clients are counted by /64.
    QCOMPARE(login("2001:db8:1:2::10"), 401);
    QCOMPARE(login("2001:db8:1:2::20"), 401);
    QCOMPARE(login("2001:db8:1:2:ffff::1"), 429);
    QCOMPARE(login("2001:db8:1:3::1"), 401);
}

void TestRateLimit::batchOperationsEachCount()
{
    BULWARK_CHECK(startServer([](Config &c) {
        c.ratelimit.rules = {rule("writes", "/api/v1/{collection}", {"user"}, 3, {"POST"}),
                             rule("batch", "/api/v1/batch", {"user"}, 10, {"POST"})};
    }));
    const quint16 port = m_server->port();
    auto batch = [&](int creates) {
        QJsonArray operations;
        for (int i = 0; i < creates; ++i)
            operations.append(QJsonObject{
                {"op", "create"}, {"collection", "activities"}, {"data", activity(1 + i)}});
        return apiRequest(port, "POST", "/api/v1/batch", m_alice.token,
                          QJsonObject{{"operations", operations}});
    };
    // Four creates can never pass a limit of three: 413, like a batch above api.batch_max.
    const RawResponse tooBig = batch(4);
    verifyJsonError(tooBig, 413, QStringLiteral("payload_too_large"));
    QVERIFY2(tooBig.json().value("error").toObject().value("message").toString().contains(
                 "counts 4 (one per batch operation) and can never pass"),
             tooBig.body.constData());
    QVERIFY(!tooBig.hasHeader("retry-after")); // waiting would not help
    const RawResponse two = batch(2);
    QCOMPARE(two.status, 200);
    // writes has 1 left (3 - 2: the refused batch took nothing), batch 9 (it counts the
    // envelope once; writes refused the first batch before batch was asked).
    QCOMPARE(two.header("ratelimit"), QByteArray("\"writes\";r=1;t=60, \"batch\";r=9;t=60"));
    QCOMPARE(batch(2).status, 429);
    QCOMPARE(apiRequest(port, "POST", "/api/v1/activities", m_alice.token, activity(9)).status,
             201);
    QCOMPARE(apiRequest(port, "POST", "/api/v1/activities", m_alice.token, activity(10)).status,
             429);
}

void TestRateLimit::shadowRuleRefusesNothing()
{
    RateLimitRuleConfig shadow = rule("trial", "/api/**", {"user"}, 2);
    shadow.shadow = true;
    BULWARK_CHECK(startServer([&](Config &c) { c.ratelimit.rules = {shadow}; }));
    for (int i = 0; i < 5; ++i) {
        const RawResponse r =
            apiRequest(m_server->port(), "GET", "/api/v1/activities", m_alice.token);
        QCOMPARE(r.status, 200);
        QVERIFY(!r.hasHeader("ratelimit"));
        QVERIFY(!r.hasHeader("x-ratelimit-limit"));
    }
    const QJsonObject stats = rateLimitRuleStats(*m_server);
    QCOMPARE(stats.value("allowed").toInt(), 2);
    QCOMPARE(stats.value("shadow_limited").toInt(), 3);
    QCOMPARE(stats.value("limited").toInt(), 0);
}

void TestRateLimit::rulesChangedThroughTheAdminApiApplyToTheNextRequest()
{
    BULWARK_CHECK(startServer([](Config &c) {
        c.ratelimit.rules = {rule("api", "/api/**", {"user"}, 100)};
    }));
    const quint16 port = m_server->port();
    QCOMPARE(apiRequest(port, "GET", "/api/v1/activities", m_alice.token).status, 200);
    const RawResponse put = putRules({rule("api", "/api/**", {"user"}, 1)});
    QCOMPARE(put.status, 200);
    QCOMPARE(put.json().value("rules").toArray().at(0).toObject().value("limit").toInt(), 1);
    // A changed rule starts afresh: one request passes, the next is refused.
    QCOMPARE(apiRequest(port, "GET", "/api/v1/activities", m_alice.token).status, 200);
    QCOMPARE(apiRequest(port, "GET", "/api/v1/activities", m_alice.token).status, 429);
    const RawResponse got = admin("GET", "/admin/api/ratelimit/rules");
    QCOMPARE(got.status, 200);
    QCOMPARE(got.json().value("rules").toArray().size(), 1);
    QCOMPARE(got.json().value("rules").toArray().at(0).toObject().value("window").toString(),
             QStringLiteral("1m"));
    // No rules: nothing is limited and no headers are sent.
    QCOMPARE(putRules({}).status, 200);
    const RawResponse free = apiRequest(port, "GET", "/api/v1/activities", m_alice.token);
    QCOMPARE(free.status, 200);
    QVERIFY(!free.hasHeader("ratelimit"));
}

void TestRateLimit::badRulesAreRefusedWith422()
{
    BULWARK_CHECK(startServer([](Config &c) {
        c.ratelimit.rules = {rule("api", "/api/**", {"user"}, 1)};
    }));
    struct Case
    {
        QByteArray body;
        int status;
        QString message;
    };
    const QList<Case> cases{
        {"not json", 400, "body: invalid JSON"},
        {"{\"rules\": 5}", 400, "body: expected {\"rules\": [...]}"},
        {"{\"rules\": [{\"name\": \"x\", \"limit\": 0, \"window\": \"1m\"}]}", 422,
         "rules[0].limit: must be an integer from 1 to"},
        {"{\"rules\": [{\"name\": \"x\", \"limit\": 5, \"window\": \"1m\", \"scope\": "
         "\"planet\"}]}",
         422, "rules[0].scope: \"planet\" is not one of"},
        {"{\"rules\": [{\"name\": \"x\", \"limit\": 5, \"window\": \"1m\", \"store\": "
         "\"redis\"}]}",
         422, "rule \"x\" keeps its counters in redis, which needs redis.url"},
    };
    for (const Case &c : cases) {
        RawHttpClient client;
        QVERIFY(client.connectTo(m_server->port()));
        QVERIFY(client.send(request("PUT", "/admin/api/ratelimit/rules",
                                    "Connection: close\r\nContent-Type: application/json\r\n"
                                    "Authorization: Bearer " +
                                        m_server->app()->adminToken() + "\r\n",
                                    c.body)));
        RawResponse r;
        QVERIFY(client.readResponse(&r));
        QCOMPARE(r.status, c.status);
        QVERIFY2(r.json().value("error").toObject().value("message").toString().startsWith(
                     c.message),
                 r.body.constData());
    }
    // The rules in force did not change.
    QCOMPARE(apiRequest(m_server->port(), "GET", "/api/v1/activities", m_alice.token).status, 200);
    QCOMPARE(apiRequest(m_server->port(), "GET", "/api/v1/activities", m_alice.token).status, 429);
}

void TestRateLimit::reloadAppliesNewRules()
{
    BULWARK_CHECK(startServer([](Config &c) {
        c.ratelimit.rules = {rule("api", "/api/**", {"user"}, 1)};
    }));
    const quint16 port = m_server->port();
    QCOMPARE(apiRequest(port, "GET", "/api/v1/activities", m_alice.token).status, 200);
    QCOMPARE(apiRequest(port, "GET", "/api/v1/activities", m_alice.token).status, 429);
    // What main() does on SIGHUP with the configuration read again.
    Config reloaded = m_server->app()->config();
    reloaded.ratelimit.rules = {rule("api", "/api/**", {"user"}, 3)};
    m_server->app()->reload(reloaded);
    QCOMPARE(apiRequest(port, "GET", "/api/v1/activities", m_alice.token).status, 200);
    QCOMPARE(m_server->app()->rateLimiter()->rules().at(0).limit, 3);
}

void TestRateLimit::statisticsTopKeysAndMetrics()
{
    BULWARK_CHECK(startServer([](Config &c) {
        c.ratelimit.rules = {rule("api", "/api/**", {"user"}, 3)};
    }));
    const quint16 port = m_server->port();
    for (int i = 0; i < 5; ++i)
        apiRequest(port, "GET", "/api/v1/activities", m_alice.token);
    const QJsonObject status = admin("GET", "/admin/api/ratelimit").json();
    const QJsonObject stats =
        status.value("rules").toArray().at(0).toObject().value("stats").toObject();
    QCOMPARE(stats.value("allowed").toInt(), 3);
    QCOMPARE(stats.value("limited").toInt(), 2);
    // Remaining 2, 1 and 0 of 3: only the last had used 80 % or more.
    QCOMPARE(stats.value("near_limit").toInt(), 1);
    const QJsonObject top = status.value("top_limited").toArray().at(0).toObject();
    QCOMPARE(top.value("key").toString(), QStringLiteral("api|u%1").arg(m_alice.id));
    QCOMPARE(top.value("limited").toInt(), 2);
    const QByteArray metrics = apiRequest(port, "GET", "/metrics", {}).body;
    QVERIFY(metrics.contains("bulwark_ratelimit_decisions_total{rule=\"api\",result=\"allowed\"} 3"));
    QVERIFY(metrics.contains("bulwark_ratelimit_decisions_total{rule=\"api\",result=\"limited\"} 2"));
    // The 429s are counted under the rule's route, not as unmatched paths.
    QVERIFY2(metrics.contains("route=\"/api/**\""), metrics.constData());
    // The console's series: the refusals show as a rate within the next samples.
    auto limitedPerSecond = [this] {
        double most = 0;
        const QJsonArray values = admin("GET", "/admin/api/metrics/series?seconds=10")
                                      .json()
                                      .value("values")
                                      .toObject()
                                      .value("ratelimit_limited_per_second")
                                      .toArray();
        for (const QJsonValue &v : values)
            most = qMax(most, v.toDouble());
        return most;
    };
    QTRY_VERIFY_WITH_TIMEOUT(limitedPerSecond() > 0, 5000);
    QCOMPARE(admin("POST", "/admin/api/ratelimit/stats/reset").status, 200);
    const QJsonObject after = admin("GET", "/admin/api/ratelimit").json();
    QCOMPARE(after.value("rules").toArray().at(0).toObject().value("stats").toObject().value(
                 "limited").toInt(),
             0);
    QVERIFY(after.value("top_limited").toArray().isEmpty());
}

QTEST_GUILESS_MAIN(TestRateLimit)
#include "tst_ratelimit.moc"
