// SPDX-License-Identifier: GPL-3.0-or-later
// Router: static and {param} routes, 404 with routePattern "unmatched", 405 with Allow,
// HEAD served by the GET handler, OPTIONS answered with 204 and Allow.

#include "Router.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

using namespace bulwark;

namespace {
// Each handler answers "<name> <method>" so a test sees which handler ran for which method.
Handler named(const char *name)
{
    return [name](RequestContext &ctx) {
        return HttpResponse::bytes(QByteArray(name) + ' ' + ctx.request.method, "text/plain");
    };
}

QJsonObject errorOf(const HttpResponse &r)
{
    return QJsonDocument::fromJson(r.body).object().value("error").toObject();
}
} // namespace

class TestRouter : public QObject
{
    Q_OBJECT

private:
    Router m_router;

    HttpResponse run(const QByteArray &method, const QString &path, RequestContext *out = nullptr)
    {
        RequestContext ctx;
        ctx.request.method = method;
        ctx.request.path = path;
        HttpResponse r = m_router.dispatch(ctx);
        if (out)
            *out = ctx;
        return r;
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_router.add("GET", "/health", named("health"));
        m_router.add("POST", "/items", named("create"));
        m_router.add("GET", "/items/{id}", named("item"));
        m_router.add("DELETE", "/items/{id}", named("delete"));
        m_router.add("GET", "/items/new", named("new-form")); // static beats the pattern
        m_router.add("GET", "/users/{uid}/posts/{pid}", named("post"));
        m_router.add("GET", "/both", named("both-get"));
        m_router.add("HEAD", "/both", named("both-head"));
        m_router.add("GET", "/opt", named("opt-get"));
        m_router.add("OPTIONS", "/opt", named("opt-options"));
    }

    void dispatch_data()
    {
        QTest::addColumn<QByteArray>("method");
        QTest::addColumn<QString>("path");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("pattern");  // ctx.routePattern afterwards
        QTest::addColumn<QByteArray>("body");  // handler output, for 2xx with a body
        QTest::addColumn<QByteArray>("allow"); // Allow header, empty: none

        QTest::newRow("static") << QByteArray("GET") << "/health" << 200 << "/health"
                                << QByteArray("health GET") << QByteArray();
        QTest::newRow("param") << QByteArray("GET") << "/items/42" << 200 << "/items/{id}"
                               << QByteArray("item GET") << QByteArray();
        QTest::newRow("param, other method")
            << QByteArray("DELETE") << "/items/42" << 200 << "/items/{id}"
            << QByteArray("delete DELETE") << QByteArray();
        QTest::newRow("static beats pattern")
            << QByteArray("GET") << "/items/new" << 200 << "/items/new"
            << QByteArray("new-form GET") << QByteArray();
        QTest::newRow("two params")
            << QByteArray("GET") << "/users/7/posts/9" << 200 << "/users/{uid}/posts/{pid}"
            << QByteArray("post GET") << QByteArray();
        QTest::newRow("HEAD served by GET") << QByteArray("HEAD") << "/health" << 200 << "/health"
                                            << QByteArray("health HEAD") << QByteArray();
        QTest::newRow("HEAD on a pattern")
            << QByteArray("HEAD") << "/items/1" << 200 << "/items/{id}" << QByteArray("item HEAD")
            << QByteArray();
        QTest::newRow("explicit HEAD handler") << QByteArray("HEAD") << "/both" << 200 << "/both"
                                               << QByteArray("both-head HEAD") << QByteArray();
        QTest::newRow("explicit OPTIONS handler")
            << QByteArray("OPTIONS") << "/opt" << 200 << "/opt" << QByteArray("opt-options OPTIONS")
            << QByteArray();

        QTest::newRow("404") << QByteArray("GET") << "/nope" << 404 << "unmatched" << QByteArray()
                             << QByteArray();
        QTest::newRow("404 empty param")
            << QByteArray("GET") << "/items/" << 404 << "unmatched" << QByteArray() << QByteArray();
        QTest::newRow("404 extra segment") << QByteArray("GET") << "/items/1/x" << 404
                                           << "unmatched" << QByteArray() << QByteArray();
        QTest::newRow("404 trailing slash") << QByteArray("GET") << "/health/" << 404 << "unmatched"
                                            << QByteArray() << QByteArray();
        QTest::newRow("404 case-sensitive")
            << QByteArray("GET") << "/Health" << 404 << "unmatched" << QByteArray() << QByteArray();
        QTest::newRow("404 OPTIONS") << QByteArray("OPTIONS") << "/nope" << 404 << "unmatched"
                                     << QByteArray() << QByteArray();

        QTest::newRow("405 GET route") << QByteArray("PUT") << "/health" << 405 << "/health"
                                       << QByteArray() << QByteArray("GET, HEAD, OPTIONS");
        QTest::newRow("405 POST route") << QByteArray("GET") << "/items" << 405 << "/items"
                                        << QByteArray() << QByteArray("POST, OPTIONS");
        QTest::newRow("405 HEAD without GET") << QByteArray("HEAD") << "/items" << 405 << "/items"
                                              << QByteArray() << QByteArray("POST, OPTIONS");
        QTest::newRow("405 pattern") << QByteArray("PATCH") << "/items/5" << 405 << "/items/{id}"
                                     << QByteArray() << QByteArray("DELETE, GET, HEAD, OPTIONS");
        QTest::newRow("405 with explicit HEAD") << QByteArray("POST") << "/both" << 405 << "/both"
                                                << QByteArray() << QByteArray("GET, HEAD, OPTIONS");
        QTest::newRow("405 with explicit OPTIONS")
            << QByteArray("POST") << "/opt" << 405 << "/opt" << QByteArray()
            << QByteArray("GET, HEAD, OPTIONS");

        QTest::newRow("OPTIONS") << QByteArray("OPTIONS") << "/health" << 204 << "/health"
                                 << QByteArray() << QByteArray("GET, HEAD, OPTIONS");
        QTest::newRow("OPTIONS pattern")
            << QByteArray("OPTIONS") << "/items/3" << 204 << "/items/{id}" << QByteArray()
            << QByteArray("DELETE, GET, HEAD, OPTIONS");
        QTest::newRow("OPTIONS POST route") << QByteArray("OPTIONS") << "/items" << 204 << "/items"
                                            << QByteArray() << QByteArray("POST, OPTIONS");
    }
    void dispatch()
    {
        QFETCH(QByteArray, method);
        QFETCH(QString, path);
        QFETCH(int, status);
        QFETCH(QString, pattern);
        QFETCH(QByteArray, body);
        QFETCH(QByteArray, allow);

        RequestContext ctx;
        const HttpResponse r = run(method, path, &ctx);
        QCOMPARE(r.status, status);
        QCOMPARE(ctx.routePattern, pattern);
        QCOMPARE(r.header("Allow"), allow);
        switch (status) {
        case 200: QCOMPARE(r.body, body); break;
        case 204:
            QCOMPARE(r.body, QByteArray());
            QCOMPARE(r.contentType, QByteArray());
            break;
        case 404:
            QCOMPARE(r.contentType, QByteArray("application/json"));
            QCOMPARE(errorOf(r).value("code").toString(), QStringLiteral("not_found"));
            QCOMPARE(errorOf(r).value("message").toString(),
                     QStringLiteral("no route for ") + path);
            break;
        case 405:
            QCOMPARE(r.contentType, QByteArray("application/json"));
            QCOMPARE(errorOf(r).value("code").toString(), QStringLiteral("method_not_allowed"));
            QCOMPARE(errorOf(r).value("message").toString(),
                     QStringLiteral("%1 is not allowed on %2")
                         .arg(QString::fromLatin1(method), pattern));
            break;
        default: QFAIL("unexpected status in the table");
        }
    }

    void params_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QStringList>("keyValues");
        QTest::newRow("one") << "/items/42" << QStringList{"id", "42"};
        QTest::newRow("encoded-looking value") << "/items/a%20b" << QStringList{"id", "a%20b"};
        QTest::newRow("two") << "/users/u-1/posts/p.2" << QStringList{"pid", "p.2", "uid", "u-1"};
        QTest::newRow("static has none") << "/health" << QStringList{};
    }
    void params()
    {
        QFETCH(QString, path);
        QFETCH(QStringList, keyValues);
        QHash<QString, QString> expected;
        for (qsizetype i = 0; i + 1 < keyValues.size(); i += 2)
            expected.insert(keyValues[i], keyValues[i + 1]);

        const Router::Match m = m_router.match("GET", path);
        QCOMPARE(m.kind, Router::Match::Kind::Found);
        QVERIFY(m.handler);
        QCOMPARE(m.params, expected);

        RequestContext ctx;
        run("GET", path, &ctx);
        QCOMPARE(ctx.pathParams, expected);
    }

    void matchKinds()
    {
        const Router::Match notFound = m_router.match("GET", "/missing");
        QCOMPARE(notFound.kind, Router::Match::Kind::NotFound);
        QVERIFY(!notFound.handler);
        QVERIFY(notFound.pattern.isEmpty());

        const Router::Match wrongMethod = m_router.match("PUT", "/items/9");
        QCOMPARE(wrongMethod.kind, Router::Match::Kind::MethodNotAllowed);
        QCOMPARE(wrongMethod.pattern, QStringLiteral("/items/{id}"));
        QCOMPARE(wrongMethod.allow, QByteArray("DELETE, GET, HEAD, OPTIONS"));
        QVERIFY(!wrongMethod.handler);
    }

    void requestIdInErrors()
    {
        RequestContext ctx;
        ctx.request.method = "GET";
        ctx.request.path = "/nope";
        ctx.requestId = "rid-7";
        const HttpResponse r = m_router.dispatch(ctx);
        QCOMPARE(errorOf(r).value("request_id").toString(), QStringLiteral("rid-7"));
    }

    void laterRegistrationReplaces()
    {
        Router router;
        router.add("GET", "/x", named("first"));
        router.add("GET", "/x", named("second"));
        router.add("GET", "/p/{a}", named("first"));
        router.add("GET", "/p/{a}", named("second"));
        RequestContext ctx;
        ctx.request.method = "GET";
        ctx.request.path = "/x";
        QCOMPARE(router.dispatch(ctx).body, QByteArray("second GET"));
        ctx.request.path = "/p/1";
        QCOMPARE(router.dispatch(ctx).body, QByteArray("second GET"));
    }

    void emptyRouter()
    {
        Router router;
        RequestContext ctx;
        ctx.request.method = "GET";
        ctx.request.path = "/";
        const HttpResponse r = router.dispatch(ctx);
        QCOMPARE(r.status, 404);
        QCOMPARE(ctx.routePattern, QStringLiteral("unmatched"));
    }
};

QTEST_GUILESS_MAIN(TestRouter)
#include "tst_router.moc"
