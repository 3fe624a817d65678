// SPDX-License-Identifier: GPL-3.0-or-later
// The response cache over HTTP, black-box against the real server (TestServer, SQLite, the
// demo schema, memory tier only; tst_cache_redis covers Redis and several instances):
//
//   - a cacheable GET is a MISS, then a HIT with the same body, Age and Cache-Control;
//     reordered query parameters, HEAD and If-None-Match (304) are served from the entry;
//   - every kind of write (create, update, replace, delete, batch, a cascading delete, GDPR
//     erasure) makes the next read a MISS with the new data, lists and reports alike;
//   - one user's cached response is never served to another;
//   - errors, /api/v1/me and unknown collections are not cached; long keys are hashed; the
//     key varies on headers a policy names; stale entries are served (X-Cache: STALE) and
//     refreshed in the background; warming at start;
//   - the admin API (stats, key browsing with paging, invalidation by key, tag and prefix,
//     flush, bad input) and the metrics.
#include "TestSupport.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QThread>
#include <QUrl>
#include <QtTest>

using namespace bulwark;
using namespace bulwark::test;

namespace {

QJsonObject activity(const QString &sport, const QString &startedAt, double distance = 5000.0)
{
    return QJsonObject{{"sport", sport},
                       {"started_at", startedAt},
                       {"duration_s", 1800},
                       {"distance_m", distance}};
}

QString describe(const QByteArray &method, const QString &target, const RawResponse &r)
{
    return QStringLiteral("%1 %2 -> %3 X-Cache=%4 %5")
        .arg(QString::fromLatin1(method), target)
        .arg(r.status)
        .arg(QString::fromLatin1(r.header("x-cache")), QString::fromUtf8(r.body.left(400)));
}

} // namespace

class TestResponseCache : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void missThenHit();
    void sortedQueryAndHeadShareTheEntry();
    void ifNoneMatchAnsweredFromTheEntry();
    void writesInvalidate_data();
    void writesInvalidate();
    void oneUsersResponseNeverReachesAnother();
    void onlySuccessfulDataResponsesAreCached();
    void longKeysAreHashed();
    void keyVariesOnConfiguredHeaders();
    void staleWhileRevalidate();
    void warmingAtStart();
    void adminStatsAndKeys();
    void adminInvalidation();
    void adminRejectsBadInput();
    void metricsExposed();
    void disabledCacheAddsNothing();

private:
    bool startServer();
    RawResponse get(const TestAccount &who, const QString &target,
                    const QByteArray &extraHeaders = {});
    RawResponse admin(const QByteArray &method, const QString &target,
                      const QJsonObject &body = {});
    qint64 create(const TestAccount &who, const QString &collection, const QJsonObject &body);

    std::unique_ptr<TestServer> m_server;
    TestAccount m_alice;
    TestAccount m_bob;
};

void TestResponseCache::init()
{
    m_server = std::make_unique<TestServer>();
}

void TestResponseCache::cleanup()
{
    m_server.reset();
}

bool TestResponseCache::startServer()
{
    if (!m_server->start()) {
        QTest::qFail(qPrintable(m_server->errorString()), __FILE__, __LINE__);
        return false;
    }
    m_alice = addTestAccount(*m_server->app(), QStringLiteral("alice@example.com"));
    m_bob = addTestAccount(*m_server->app(), QStringLiteral("bob@example.com"));
    return !QTest::currentTestFailed();
}

RawResponse TestResponseCache::get(const TestAccount &who, const QString &target,
                                   const QByteArray &extraHeaders)
{
    return apiRequest(m_server->port(), "GET", target, who.token, {}, 10000, extraHeaders);
}

RawResponse TestResponseCache::admin(const QByteArray &method, const QString &target,
                                     const QJsonObject &body)
{
    return apiRequest(m_server->port(), method, target, m_server->app()->adminToken(), body);
}

qint64 TestResponseCache::create(const TestAccount &who, const QString &collection,
                                 const QJsonObject &body)
{
    const QString target = QStringLiteral("/api/v1/") + collection;
    const RawResponse r = apiRequest(m_server->port(), "POST", target, who.token, body);
    if (r.status != 201) {
        QTest::qFail(qPrintable(describe("POST", target, r)), __FILE__, __LINE__);
        return 0;
    }
    return r.json().value(QStringLiteral("id")).toInteger();
}

void TestResponseCache::missThenHit()
{
    QVERIFY(startServer());
    create(m_alice, "activities", activity("run", "2024-03-01T07:00:00Z"));
    const QString target = QStringLiteral("/api/v1/activities?limit=5");
    const RawResponse first = get(m_alice, target);
    QVERIFY2(first.status == 200, qPrintable(describe("GET", target, first)));
    QCOMPARE(first.header("x-cache"), QByteArray("MISS"));
    QCOMPARE(first.header("age"), QByteArray("0"));
    QCOMPARE(first.header("cache-control"), QByteArray("private, no-cache"));
    const RawResponse second = get(m_alice, target);
    QCOMPARE(second.status, 200);
    QCOMPARE(second.header("x-cache"), QByteArray("HIT"));
    QCOMPARE(second.body, first.body);
    QCOMPARE(second.header("etag"), first.header("etag"));
    QCOMPARE(second.header("content-type"), QByteArray("application/json"));
    QCOMPARE(second.header("cache-control"), QByteArray("private, no-cache"));
    QVERIFY(second.header("age").toInt() >= 0);
    // The request id belongs to the request, not to the cached entry.
    QVERIFY(!second.header("x-request-id").isEmpty());
    QVERIFY(second.header("x-request-id") != first.header("x-request-id"));
}

void TestResponseCache::sortedQueryAndHeadShareTheEntry()
{
    QVERIFY(startServer());
    create(m_alice, "activities", activity("run", "2024-03-01T07:00:00Z"));
    QCOMPARE(get(m_alice, "/api/v1/activities?limit=5&sort=-started_at").header("x-cache"),
             QByteArray("MISS"));
    const RawResponse swapped = get(m_alice, "/api/v1/activities?sort=-started_at&limit=5");
    QCOMPARE(swapped.header("x-cache"), QByteArray("HIT"));
    const RawResponse head = apiRequest(
        m_server->port(), "HEAD", "/api/v1/activities?limit=5&sort=-started_at", m_alice.token);
    QCOMPARE(head.status, 200);
    QCOMPARE(head.header("x-cache"), QByteArray("HIT"));
    QVERIFY(head.body.isEmpty());
    QCOMPARE(head.header("content-length").toInt(), swapped.body.size());
    // A different query is a different entry.
    QCOMPARE(get(m_alice, "/api/v1/activities?limit=6&sort=-started_at").header("x-cache"),
             QByteArray("MISS"));
}

void TestResponseCache::ifNoneMatchAnsweredFromTheEntry()
{
    QVERIFY(startServer());
    create(m_alice, "activities", activity("run", "2024-03-01T07:00:00Z"));
    const RawResponse first = get(m_alice, "/api/v1/activities");
    QCOMPARE(first.header("x-cache"), QByteArray("MISS"));
    const QByteArray etag = first.header("etag");
    QVERIFY(!etag.isEmpty());
    const RawResponse notModified =
        get(m_alice, "/api/v1/activities", "If-None-Match: W/" + etag + "\r\n");
    QCOMPARE(notModified.status, 304);
    QCOMPARE(notModified.header("x-cache"), QByteArray("HIT"));
    QCOMPARE(notModified.header("etag"), etag);
    QVERIFY(notModified.body.isEmpty());
    const RawResponse other = get(m_alice, "/api/v1/activities", "If-None-Match: \"nope\"\r\n");
    QCOMPARE(other.status, 200);
    QCOMPARE(other.body, first.body);
}

void TestResponseCache::writesInvalidate_data()
{
    QTest::addColumn<QString>("write");
    QTest::addColumn<QString>("read"); // the cached target that must change
    QTest::newRow("create") << "create"
                            << "/api/v1/activities";
    QTest::newRow("patch") << "patch"
                           << "/api/v1/activities";
    QTest::newRow("patch one row") << "patch"
                                   << "/api/v1/activities/{id}";
    QTest::newRow("replace") << "replace"
                             << "/api/v1/activities";
    QTest::newRow("delete") << "delete"
                            << "/api/v1/activities";
    QTest::newRow("batch") << "batch"
                           << "/api/v1/activities";
    QTest::newRow("cascade to children") << "delete"
                                         << "/api/v1/splits";
    QTest::newRow("expanded children") << "split"
                                       << "/api/v1/activities?expand=splits";
    QTest::newRow("report") << "create"
                            << "/api/v1/reports/weekly_distance";
    QTest::newRow("gdpr erasure") << "erase"
                                  << "/api/v1/activities";
}

void TestResponseCache::writesInvalidate()
{
    QFETCH(QString, write);
    QFETCH(QString, read);
    QVERIFY(startServer());
    const qint64 id = create(m_alice, "activities", activity("run", "2024-03-01T07:00:00Z"));
    create(m_alice, "splits",
           QJsonObject{{"activity_id", double(id)}, {"km", 1}, {"duration_s", 300}});
    const QString target = QString(read).replace(QStringLiteral("{id}"), QString::number(id));
    const TestAccount &who = m_alice;

    const RawResponse before = get(who, target);
    QVERIFY2(before.status == 200, qPrintable(describe("GET", target, before)));
    QCOMPARE(before.header("x-cache"), QByteArray("MISS"));
    QCOMPARE(get(who, target).header("x-cache"), QByteArray("HIT"));

    const quint16 port = m_server->port();
    const QString one = QStringLiteral("/api/v1/activities/%1").arg(id);
    RawResponse w;
    if (write == "create") {
        w = apiRequest(port, "POST", "/api/v1/activities", m_alice.token,
                       activity("ride", "2024-03-02T07:00:00Z", 20000));
    } else if (write == "patch") {
        w = apiRequest(port, "PATCH", one, m_alice.token, QJsonObject{{"distance_m", 7777.0}});
    } else if (write == "replace") {
        w = apiRequest(port, "PUT", one, m_alice.token, activity("swim", "2024-03-01T07:00:00Z"));
    } else if (write == "delete") {
        w = apiRequest(port, "DELETE", one, m_alice.token);
    } else if (write == "batch") {
        w = apiRequest(
            port, "POST", "/api/v1/batch", m_alice.token,
            QJsonObject{{"operations", QJsonArray{QJsonObject{
                                           {"op", "create"},
                                           {"collection", "activities"},
                                           {"data", activity("walk", "2024-03-03T07:00:00Z")}}}}});
    } else if (write == "split") {
        w = apiRequest(port, "POST", "/api/v1/splits", m_alice.token,
                       QJsonObject{{"activity_id", double(id)}, {"km", 2}, {"duration_s", 310}});
    } else if (write == "erase") {
        // Bob's account is erased by an admin: Alice's list does not depend on it, but the
        // collection changed, so her entry is invalidated too (tags are per collection).
        create(m_bob, "activities", activity("run", "2024-03-05T07:00:00Z"));
        const TestAccount root =
            addTestAccount(*m_server->app(), QStringLiteral("root@example.com"), "admin");
        w = apiRequest(port, "DELETE", QStringLiteral("/api/v1/users/%1").arg(m_bob.id),
                       root.token);
    }
    QVERIFY2(w.status >= 200 && w.status < 300, qPrintable(describe("write", write, w)));

    const RawResponse after = get(who, target);
    QVERIFY2(after.status == 200, qPrintable(describe("GET", target, after)));
    QCOMPARE(after.header("x-cache"), QByteArray("MISS"));
    if (write != "erase")
        QVERIFY2(after.body != before.body, qPrintable(describe("GET", target, after)));
    QCOMPARE(get(who, target).header("x-cache"), QByteArray("HIT"));
}

void TestResponseCache::oneUsersResponseNeverReachesAnother()
{
    QVERIFY(startServer());
    create(m_alice, "activities", activity("run", "2024-03-01T07:00:00Z"));
    create(m_bob, "activities", activity("swim", "2024-03-02T07:00:00Z"));
    const QString target = QStringLiteral("/api/v1/activities");
    const RawResponse alice = get(m_alice, target);
    QCOMPARE(alice.header("x-cache"), QByteArray("MISS"));
    QCOMPARE(get(m_alice, target).header("x-cache"), QByteArray("HIT"));
    const RawResponse bob = get(m_bob, target);
    QCOMPARE(bob.status, 200);
    QCOMPARE(bob.header("x-cache"), QByteArray("MISS"));
    QVERIFY(bob.body.contains("swim"));
    QVERIFY(!bob.body.contains("\"run\""));
    const RawResponse bobAgain = get(m_bob, target);
    QCOMPARE(bobAgain.header("x-cache"), QByteArray("HIT"));
    QCOMPARE(bobAgain.body, bob.body);
    const RawResponse aliceAgain = get(m_alice, target);
    QCOMPARE(aliceAgain.body, alice.body);
    QVERIFY(!aliceAgain.body.contains("swim"));
    // Without a key there is no answer at all, cached or not.
    QCOMPARE(apiRequest(m_server->port(), "GET", target, {}).status, 401);
    // The same holds for reports.
    const RawResponse aliceReport = get(m_alice, "/api/v1/reports/weekly_distance");
    const RawResponse bobReport = get(m_bob, "/api/v1/reports/weekly_distance");
    QCOMPARE(bobReport.header("x-cache"), QByteArray("MISS"));
    QVERIFY(bobReport.body != aliceReport.body);
}

void TestResponseCache::onlySuccessfulDataResponsesAreCached()
{
    QVERIFY(startServer());
    for (int i = 0; i < 2; ++i) {
        const RawResponse missing = get(m_alice, "/api/v1/activities/999999");
        QCOMPARE(missing.status, 404);
        QVERIFY(missing.header("x-cache").isEmpty());
        const RawResponse unknown = get(m_alice, "/api/v1/nosuchthing");
        QCOMPARE(unknown.status, 404);
        QVERIFY(unknown.header("x-cache").isEmpty());
        const RawResponse me = get(m_alice, "/api/v1/me");
        QCOMPARE(me.status, 200);
        QVERIFY(me.header("x-cache").isEmpty());
        const RawResponse badQuery = get(m_alice, "/api/v1/activities?limit=0");
        QCOMPARE(badQuery.status, 400);
        QVERIFY(badQuery.header("x-cache").isEmpty());
    }
    const RawResponse created = apiRequest(m_server->port(), "POST", "/api/v1/activities",
                                           m_alice.token, activity("run", "2024-03-01T07:00:00Z"));
    QCOMPARE(created.status, 201);
    QVERIFY(created.header("x-cache").isEmpty());
}

void TestResponseCache::longKeysAreHashed()
{
    QVERIFY(startServer());
    const QString filter = QStringLiteral("sport eq 'run' or sport eq '%1'").arg(QString(300, 'x'));
    const QString target = QStringLiteral("/api/v1/activities?filter=") +
                           QString::fromLatin1(QUrl::toPercentEncoding(filter));
    const RawResponse first = get(m_alice, target);
    QVERIFY2(first.status == 200, qPrintable(describe("GET", target, first)));
    QCOMPARE(first.header("x-cache"), QByteArray("MISS"));
    QCOMPARE(get(m_alice, target).header("x-cache"), QByteArray("HIT"));
    const RawResponse keys = admin("GET", "/admin/api/cache/keys?prefix=/api/v1/activities");
    const QJsonArray list = keys.json().value("keys").toArray();
    QCOMPARE(list.size(), 1);
    const QString key = list.at(0).toObject().value("key").toString();
    QVERIFY2(key.startsWith("/api/v1/activities|#") && key.size() <= 200, qPrintable(key));
}

void TestResponseCache::keyVariesOnConfiguredHeaders()
{
    m_server->config.cache.routes = {{QStringLiteral("/api/v1/{collection}"),
                                      Milliseconds(60'000),
                                      true,
                                      {QStringLiteral("accept-language")}}};
    QVERIFY(startServer());
    const QString target = QStringLiteral("/api/v1/activities");
    QCOMPARE(get(m_alice, target, "Accept-Language: de\r\n").header("x-cache"), QByteArray("MISS"));
    QCOMPARE(get(m_alice, target, "Accept-Language: fr\r\n").header("x-cache"), QByteArray("MISS"));
    QCOMPARE(get(m_alice, target, "Accept-Language: de\r\n").header("x-cache"), QByteArray("HIT"));
    // Routes without a policy are not cached.
    QCOMPARE(get(m_alice, "/api/v1/activities/1").header("x-cache"), QByteArray());
}

void TestResponseCache::staleWhileRevalidate()
{
    m_server->config.cache.routes = {
        {QStringLiteral("/api/v1/{collection}"), Milliseconds(300), true, {}}};
    m_server->config.cache.staleWhileRevalidate = Milliseconds(60'000);
    m_server->config.cache.ttlJitter = 0;
    QVERIFY(startServer());
    const QString target = QStringLiteral("/api/v1/activities");
    const RawResponse first = get(m_alice, target);
    QCOMPARE(first.header("x-cache"), QByteArray("MISS"));
    QTest::qWait(400); // past the 300 ms TTL, well inside the stale window
    const RawResponse stale = get(m_alice, target);
    QCOMPARE(stale.status, 200);
    QCOMPARE(stale.header("x-cache"), QByteArray("STALE"));
    QCOMPARE(stale.body, first.body);
    // The background refresh stores a fresh entry: a HIT follows within the TTL.
    QTRY_VERIFY_WITH_TIMEOUT(
        admin("GET", "/admin/api/cache").json().value("refreshes").toInt() >= 1, 5000);
    QCOMPARE(get(m_alice, target).header("x-cache"), QByteArray("HIT"));
}

void TestResponseCache::warmingAtStart()
{
    QVERIFY(startServer());
    create(m_alice, "activities", activity("run", "2024-03-01T07:00:00Z"));
    m_server->stop();
    m_server->config.cache.warm = {
        {QStringLiteral("/api/v1/reports/weekly_distance"), m_alice.email},
        {QStringLiteral("/api/v1/activities?limit=3"), QString::number(m_alice.id)},
        {QStringLiteral("/api/v1/activities"), QStringLiteral("nobody@example.com")}};
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression("cache.warm: /api/v1/activities: user nobody"));
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    QTRY_COMPARE_WITH_TIMEOUT(admin("GET", "/admin/api/cache").json().value("stores").toInt(), 2,
                              10000);
    const RawResponse report = get(m_alice, "/api/v1/reports/weekly_distance");
    QCOMPARE(report.status, 200);
    QCOMPARE(report.header("x-cache"), QByteArray("HIT"));
    QVERIFY(report.body.contains("run"));
    QCOMPARE(get(m_alice, "/api/v1/activities?limit=3").header("x-cache"), QByteArray("HIT"));
}

void TestResponseCache::adminStatsAndKeys()
{
    QVERIFY(startServer());
    for (const char *target : {"/api/v1/activities?limit=1", "/api/v1/activities?limit=2",
                               "/api/v1/splits", "/api/v1/activities?limit=1"})
        QCOMPARE(get(m_alice, target).status, 200);
    const QJsonObject stats = admin("GET", "/admin/api/cache").json();
    const QJsonObject memory = stats.value("memory").toObject();
    QCOMPARE(memory.value("enabled").toBool(), true);
    QCOMPARE(memory.value("hits").toInt(), 1);
    QCOMPARE(memory.value("misses").toInt(), 3);
    QCOMPARE(memory.value("entries").toInt(), 3);
    QVERIFY(memory.value("bytes").toDouble() > 0);
    QVERIFY(memory.value("bytes").toDouble() <= memory.value("max_bytes").toDouble());
    QCOMPARE(stats.value("hit_rate").toDouble(), 0.25);
    QCOMPARE(stats.value("redis").toObject().value("state").toString(), QStringLiteral("off"));
    QVERIFY(stats.value("tags").toObject().contains("activities"));
    QCOMPARE(stats.value("policies").toArray().size(), 4);

    // Paging by prefix: one key per page, the cursor is the last key.
    const QString prefix =
        QStringLiteral("/admin/api/cache/keys?prefix=/api/v1/activities&limit=1");
    const QJsonObject page1 = admin("GET", prefix).json();
    QCOMPARE(page1.value("keys").toArray().size(), 1);
    const QString next = page1.value("next").toString();
    QVERIFY(!next.isEmpty());
    const QJsonObject page2 =
        admin("GET", prefix + "&after=" + QString::fromLatin1(QUrl::toPercentEncoding(next)))
            .json();
    QCOMPARE(page2.value("keys").toArray().size(), 1);
    QVERIFY(page2.value("keys").toArray().at(0).toObject().value("key").toString() > next);
    const QJsonObject page3 =
        admin("GET",
              prefix + "&after=" +
                  QString::fromLatin1(QUrl::toPercentEncoding(page2.value("next").toString())))
            .json();
    QCOMPARE(page3.value("keys").toArray().size(), 0);
    QVERIFY(page3.value("next").isNull());
    const QJsonObject key = page1.value("keys").toArray().at(0).toObject();
    QVERIFY(key.value("key").toString().endsWith(QStringLiteral("|u=%1").arg(m_alice.id)));
    QVERIFY(key.value("ttl_ms").toDouble() > 0);
    QVERIFY(key.value("bytes").toDouble() > 0);
    // Health names the cache, up, memory only.
    const QJsonObject health = apiRequest(m_server->port(), "GET", "/health", {}).json();
    QVERIFY2(QJsonDocument(health).toJson().contains("\"cache\""),
             QJsonDocument(health).toJson().constData());
}

void TestResponseCache::adminInvalidation()
{
    QVERIFY(startServer());
    auto prime = [this](const QString &target) {
        get(m_alice, target);
        QCOMPARE(get(m_alice, target).header("x-cache"), QByteArray("HIT"));
    };
    const QString list = QStringLiteral("/api/v1/activities");
    const QString splits = QStringLiteral("/api/v1/splits");
    BULWARK_CHECK(prime(list));
    BULWARK_CHECK(prime(splits));
    const QString key = list + QStringLiteral("|u=%1").arg(m_alice.id);
    RawResponse r = admin("POST", "/admin/api/cache/invalidate", QJsonObject{{"key", key}});
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json().value("removed").toInt(), 1);
    QCOMPARE(get(m_alice, list).header("x-cache"), QByteArray("MISS"));
    QCOMPARE(get(m_alice, splits).header("x-cache"), QByteArray("HIT"));

    r = admin("POST", "/admin/api/cache/invalidate", QJsonObject{{"tag", "splits"}});
    QCOMPARE(r.status, 200);
    QCOMPARE(get(m_alice, splits).header("x-cache"), QByteArray("MISS"));
    QCOMPARE(get(m_alice, list).header("x-cache"), QByteArray("HIT"));

    r = admin("POST", "/admin/api/cache/invalidate", QJsonObject{{"prefix", "/api/v1/act"}});
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json().value("removed").toInt(), 1);
    QCOMPARE(get(m_alice, list).header("x-cache"), QByteArray("MISS"));
    QCOMPARE(get(m_alice, splits).header("x-cache"), QByteArray("HIT"));

    r = admin("POST", "/admin/api/cache/flush");
    QCOMPARE(r.status, 200);
    QCOMPARE(get(m_alice, list).header("x-cache"), QByteArray("MISS"));
    QCOMPARE(get(m_alice, splits).header("x-cache"), QByteArray("MISS"));
    const QJsonObject invalidations =
        admin("GET", "/admin/api/cache").json().value("invalidations").toObject();
    QCOMPARE(invalidations.value("key").toInt(), 1);
    QCOMPARE(invalidations.value("prefix").toInt(), 1);
    QCOMPARE(invalidations.value("flush").toInt(), 1);
}

void TestResponseCache::adminRejectsBadInput()
{
    QVERIFY(startServer());
    struct Case
    {
        QByteArray method;
        QString target;
        QJsonObject body;
        int status;
        QString code;
    };
    const QList<Case> cases{
        {"POST", "/admin/api/cache/invalidate", QJsonObject{}, 400, "bad_request"},
        {"POST", "/admin/api/cache/invalidate", QJsonObject{{"key", "a"}, {"tag", "b"}}, 400,
         "bad_request"},
        {"POST", "/admin/api/cache/invalidate", QJsonObject{{"key", ""}}, 400, "bad_request"},
        {"POST", "/admin/api/cache/invalidate", QJsonObject{{"tag", "nosuch"}}, 404, "not_found"},
        {"GET", "/admin/api/cache/keys?tier=disk", {}, 400, "bad_request"},
        {"GET", "/admin/api/cache/keys?tier=redis", {}, 404, "not_found"},
        {"GET", "/admin/api/cache/keys?limit=0", {}, 400, "bad_request"},
    };
    for (const Case &c : cases) {
        const RawResponse r = admin(c.method, c.target, c.body);
        BULWARK_CHECK(verifyJsonError(r, c.status, c.code));
    }
    // Without the admin token: 401.
    const RawResponse anonymous = apiRequest(m_server->port(), "GET", "/admin/api/cache", {});
    QCOMPARE(anonymous.status, 401);
}

void TestResponseCache::metricsExposed()
{
    QVERIFY(startServer());
    get(m_alice, "/api/v1/activities");
    get(m_alice, "/api/v1/activities");
    const RawResponse metrics = apiRequest(m_server->port(), "GET", "/metrics", {});
    QCOMPARE(metrics.status, 200);
    for (const char *line :
         {"bulwark_cache_requests_total{tier=\"memory\",result=\"hit\"} 1",
          "bulwark_cache_requests_total{tier=\"memory\",result=\"miss\"} 1",
          "bulwark_cache_entries{tier=\"memory\"} 1", "bulwark_cache_bytes{tier=\"memory\"} ",
          "bulwark_cache_evictions_total{tier=\"memory\"} 0",
          "bulwark_cache_invalidations_total{kind=\"tag\"} "})
        QVERIFY2(metrics.body.contains(line), line);
    QVERIFY(!metrics.body.contains("bulwark_redis_breaker_state")); // no Redis configured
    // Hits are counted under the route's pattern like any other request.
    QVERIFY2(metrics.body.contains("http_requests_total{method=\"GET\",route=\"/api/v1/"
                                   "{collection}\",status=\"200\"} 2"),
             metrics.body.constData());
    const RawResponse series = admin("GET", "/admin/api/metrics/series?seconds=60");
    QVERIFY2(series.body.contains("cache_hit_rate"), series.body.left(300).constData());
}

void TestResponseCache::disabledCacheAddsNothing()
{
    m_server->config.cache.enabled = false;
    QVERIFY(startServer());
    for (int i = 0; i < 2; ++i)
        QVERIFY(get(m_alice, "/api/v1/activities").header("x-cache").isEmpty());
    QCOMPARE(admin("GET", "/admin/api/cache").status, 404);
}

QTEST_GUILESS_MAIN(TestResponseCache)
#include "tst_response_cache.moc"
