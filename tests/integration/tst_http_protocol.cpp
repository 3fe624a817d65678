// SPDX-License-Identifier: GPL-3.0-or-later
// HTTP/1.x protocol behaviour on the wire: keep-alive, pipelining, HTTP/1.0, Connection:
// close, HEAD, 405/OPTIONS, 404, Date/Server, gzip, request ids, security headers, admin
// auth, 100-continue and chunked bodies — each a gap Qt 6.4's QtHttpServer leaves open.
#include "TestSupport.h"

#include <QRegularExpression>
#include <QtTest>
#include <zlib.h>

using namespace bulwark;
using namespace bulwark::test;

namespace {

QByteArray gunzip(const QByteArray &data)
{
    z_stream zs{};
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return {};
    QByteArray out;
    zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.constData()));
    zs.avail_in = uInt(data.size());
    char chunk[16384];
    int rc = Z_OK;
    for (int i = 0; i < 100000 && rc == Z_OK; ++i) {
        zs.next_out = reinterpret_cast<Bytef *>(chunk);
        zs.avail_out = sizeof chunk;
        rc = inflate(&zs, Z_NO_FLUSH);
        out.append(chunk, qsizetype(sizeof chunk - zs.avail_out));
    }
    inflateEnd(&zs);
    return rc == Z_STREAM_END ? out : QByteArray();
}

bool isHex32(const QByteArray &id)
{
    static const QRegularExpression re(QStringLiteral("^[0-9a-f]{32}$"));
    return re.match(QString::fromLatin1(id)).hasMatch();
}

} // namespace

class TestHttpProtocol : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void keepAlive();
    void pipelining();
    void http10ClosesByDefault();
    void http10KeepAlive();
    void connectionCloseHonoured();
    void headHasGetHeadersWithoutBody_data();
    void headHasGetHeadersWithoutBody();
    void methodNotAllowed_data();
    void methodNotAllowed();
    void optionsListsAllow();
    void notFoundJsonError();
    void dateAndServerHeaders();
    void gzipWhenAccepted();
    void noGzipWithoutAcceptEncoding_data();
    void noGzipWithoutAcceptEncoding();
    void noGzipWhenCompressionOff();
    void requestId_data();
    void requestId();
    void generatedRequestIdsDiffer();
    void securityHeaders_data();
    void securityHeaders();
    void adminApiNeedsToken_data();
    void adminApiNeedsToken();
    void expectContinue();
    void noContinueWithoutBody();
    void chunkedBodyIsFramed();
    void chunkedBodyWithTrailerIsFramed_data();
    void chunkedBodyWithTrailerIsFramed();
    void upgradeHeaderIsIgnored();

private:
    std::unique_ptr<TestServer> m_server;
    quint16 port() const { return m_server->port(); }
};

void TestHttpProtocol::initTestCase()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
}

void TestHttpProtocol::cleanupTestCase()
{
    m_server.reset();
}

void TestHttpProtocol::keepAlive()
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(port()), qPrintable(client.errorString()));
    for (int i = 0; i < 5; ++i) {
        QVERIFY2(client.send(request("GET", "/health/live")), qPrintable(client.errorString()));
        RawResponse r;
        QVERIFY2(client.readResponse(&r), qPrintable(client.errorString()));
        QCOMPARE(r.statusLine, QByteArray("HTTP/1.1 200 OK"));
        QVERIFY2(!r.hasHeader("Connection"), r.header("Connection").constData());
        QCOMPARE(r.header("Content-Type"), QByteArray("application/json"));
        QCOMPARE(r.json().value(QStringLiteral("status")).toString(), QStringLiteral("live"));
        QVERIFY(client.isConnected());
    }
}

void TestHttpProtocol::pipelining()
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(port()), qPrintable(client.errorString()));
    // The slow one first: answers must still come back in request order.
    const QByteArray three = request("GET", "/debug/sleep?ms=200", "X-Request-Id: pipe-1\r\n") +
                             request("GET", "/nope", "X-Request-Id: pipe-2\r\n") +
                             request("GET", "/health/live", "X-Request-Id: pipe-3\r\n");
    QVERIFY2(client.send(three), qPrintable(client.errorString()));
    const QList<std::pair<QByteArray, int>> expected{
        {"pipe-1", 200}, {"pipe-2", 404}, {"pipe-3", 200}};
    for (const auto &[id, status] : expected) {
        RawResponse r;
        QVERIFY2(client.readResponse(&r), qPrintable(client.errorString()));
        QCOMPARE(r.header("X-Request-Id"), id);
        QCOMPARE(r.status, status);
        QVERIFY(!r.hasHeader("Connection"));
    }
    QCOMPARE(client.pending(), QByteArray());
    QVERIFY(client.isConnected());
}

void TestHttpProtocol::http10ClosesByDefault()
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(port()), qPrintable(client.errorString()));
    QVERIFY2(client.send("GET /health/live HTTP/1.0\r\n\r\n"), qPrintable(client.errorString()));
    RawResponse r;
    QVERIFY2(client.readResponse(&r), qPrintable(client.errorString()));
    QCOMPARE(r.statusLine, QByteArray("HTTP/1.0 200 OK"));
    QCOMPARE(r.header("Connection"), QByteArray("close"));
    QCOMPARE(r.json().value(QStringLiteral("status")).toString(), QStringLiteral("live"));
    QVERIFY2(client.waitForClose(3000), qPrintable(client.errorString()));
    QCOMPARE(client.pending(), QByteArray());
}

void TestHttpProtocol::http10KeepAlive()
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(port()), qPrintable(client.errorString()));
    for (int i = 0; i < 2; ++i) {
        QVERIFY2(client.send("GET /health/live HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
                 qPrintable(client.errorString()));
        RawResponse r;
        QVERIFY2(client.readResponse(&r), qPrintable(client.errorString()));
        QCOMPARE(r.statusLine, QByteArray("HTTP/1.0 200 OK"));
        QCOMPARE(r.header("Connection").toLower(), QByteArray("keep-alive"));
        QVERIFY(client.isConnected());
    }
    // The next HTTP/1.0 request without keep-alive is the last one.
    QVERIFY2(client.send("GET /health/live HTTP/1.0\r\n\r\n"), qPrintable(client.errorString()));
    RawResponse last;
    QVERIFY2(client.readResponse(&last), qPrintable(client.errorString()));
    QCOMPARE(last.statusLine, QByteArray("HTTP/1.0 200 OK"));
    QCOMPARE(last.header("Connection"), QByteArray("close"));
    QVERIFY2(client.waitForClose(3000), qPrintable(client.errorString()));
}

void TestHttpProtocol::connectionCloseHonoured()
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(port()), qPrintable(client.errorString()));
    // A request pipelined after "Connection: close" must not be answered.
    QVERIFY2(
        client.send(request("GET", "/health/live", "Connection: close\r\nX-Request-Id: last\r\n") +
                    request("GET", "/health/live", "X-Request-Id: ignored\r\n")),
        qPrintable(client.errorString()));
    RawResponse r;
    QVERIFY2(client.readResponse(&r), qPrintable(client.errorString()));
    QCOMPARE(r.statusLine, QByteArray("HTTP/1.1 200 OK"));
    QCOMPARE(r.header("Connection"), QByteArray("close"));
    QCOMPARE(r.header("X-Request-Id"), QByteArray("last"));
    QVERIFY2(client.waitForClose(3000), qPrintable(client.errorString()));
    QVERIFY2(client.pending().isEmpty(), client.pending().left(200).constData());
}

void TestHttpProtocol::headHasGetHeadersWithoutBody_data()
{
    QTest::addColumn<QByteArray>("target");
    QTest::newRow("/health/live") << QByteArray("/health/live");
    QTest::newRow("/debug/bytes?n=100") << QByteArray("/debug/bytes?n=100");
    QTest::newRow("/debug/bytes?n=0") << QByteArray("/debug/bytes?n=0");
    QTest::newRow("404") << QByteArray("/no/such/thing");
}

void TestHttpProtocol::headHasGetHeadersWithoutBody()
{
    QFETCH(QByteArray, target);
    RawHttpClient client;
    QVERIFY2(client.connectTo(port()), qPrintable(client.errorString()));
    QVERIFY2(client.send(request("GET", target)), qPrintable(client.errorString()));
    RawResponse get;
    QVERIFY2(client.readResponse(&get), qPrintable(client.errorString()));

    // HEAD and a GET pipelined right behind it in one write: if HEAD carried a body, the
    // next status line would not start where the HEAD's head ends.
    QVERIFY2(client.send(request("HEAD", target) +
                         request("GET", "/health/live", "X-Request-Id: after-head\r\n")),
             qPrintable(client.errorString()));
    RawResponse head;
    QVERIFY2(client.readResponse(&head, 5000, true), qPrintable(client.errorString()));
    QCOMPARE(head.status, get.status);
    QCOMPARE(head.header("Content-Length"), get.header("Content-Length"));
    QCOMPARE(head.header("Content-Length").toLongLong(), get.body.size());
    QCOMPARE(head.header("Content-Type"), get.header("Content-Type"));
    QVERIFY(head.body.isEmpty());
    RawResponse next;
    QVERIFY2(client.readResponse(&next), qPrintable(client.errorString()));
    QCOMPARE(next.statusLine, QByteArray("HTTP/1.1 200 OK"));
    QCOMPARE(next.header("X-Request-Id"), QByteArray("after-head"));
    QCOMPARE(client.pending(), QByteArray());
}

void TestHttpProtocol::methodNotAllowed_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<QByteArray>("allow");
    QTest::newRow("POST /health/live")
        << QByteArray("POST") << QByteArray("/health/live") << QByteArray("GET, HEAD, OPTIONS");
    QTest::newRow("PUT /metrics") << QByteArray("PUT") << QByteArray("/metrics")
                                  << QByteArray("GET, HEAD, OPTIONS");
    QTest::newRow("DELETE /health")
        << QByteArray("DELETE") << QByteArray("/health") << QByteArray("GET, HEAD, OPTIONS");
    QTest::newRow("PATCH /health/ready")
        << QByteArray("PATCH") << QByteArray("/health/ready") << QByteArray("GET, HEAD, OPTIONS");
}

void TestHttpProtocol::methodNotAllowed()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, target);
    QFETCH(QByteArray, allow);
    RawHttpClient client;
    QVERIFY2(client.connectTo(port()), qPrintable(client.errorString()));
    QVERIFY2(client.send(request(method, target, "X-Request-Id: m405\r\nContent-Length: 0\r\n")),
             qPrintable(client.errorString()));
    RawResponse r;
    QVERIFY2(client.readResponse(&r), qPrintable(client.errorString()));
    BULWARK_CHECK(verifyJsonError(r, 405, QStringLiteral("method_not_allowed")));
    QCOMPARE(r.header("Allow"), allow);
    QCOMPARE(r.json()
                 .value(QStringLiteral("error"))
                 .toObject()
                 .value(QStringLiteral("request_id"))
                 .toString(),
             QStringLiteral("m405"));
    QVERIFY(!r.hasHeader("Connection"));
}

void TestHttpProtocol::optionsListsAllow()
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(port()), qPrintable(client.errorString()));
    QVERIFY2(client.send(request("OPTIONS", "/health/live") +
                         request("GET", "/health/live", "X-Request-Id: after-options\r\n")),
             qPrintable(client.errorString()));
    RawResponse r;
    QVERIFY2(client.readResponse(&r), qPrintable(client.errorString()));
    QCOMPARE(r.statusLine, QByteArray("HTTP/1.1 204 No Content"));
    QCOMPARE(r.header("Allow"), QByteArray("GET, HEAD, OPTIONS"));
    QVERIFY(r.body.isEmpty());
    QVERIFY2(!r.hasHeader("Content-Length") || r.header("Content-Length") == "0",
             r.header("Content-Length").constData());
    RawResponse next;
    QVERIFY2(client.readResponse(&next), qPrintable(client.errorString()));
    QCOMPARE(next.status, 200);
    QCOMPARE(next.header("X-Request-Id"), QByteArray("after-options"));
}

void TestHttpProtocol::notFoundJsonError()
{
    RawResponse r;
    BULWARK_CHECK(fetch(port(), "/nope/123", &r, "X-Request-Id: nf-1\r\n"));
    BULWARK_CHECK(verifyJsonError(r, 404, QStringLiteral("not_found")));
    const QJsonObject error = r.json().value(QStringLiteral("error")).toObject();
    QCOMPARE(error.value(QStringLiteral("request_id")).toString(), QStringLiteral("nf-1"));
    QCOMPARE(r.header("X-Request-Id"), QByteArray("nf-1"));
    QCOMPARE(r.header("Cache-Control"), QByteArray("no-store"));
    QCOMPARE(r.statusLine, QByteArray("HTTP/1.1 404 Not Found"));
}

void TestHttpProtocol::dateAndServerHeaders()
{
    for (const QByteArray &target :
         {QByteArray("/health/live"), QByteArray("/nope"), QByteArray("/metrics")}) {
        RawResponse r;
        BULWARK_CHECK(fetch(port(), target, &r));
        BULWARK_CHECK(verifyCommonHeaders(r));
    }
}

void TestHttpProtocol::gzipWhenAccepted()
{
    RawResponse r;
    BULWARK_CHECK(fetch(port(), "/debug/bytes?n=4096", &r, "Accept-Encoding: gzip, deflate\r\n"));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("Content-Encoding"), QByteArray("gzip"));
    QCOMPARE(r.header("Vary"), QByteArray("Accept-Encoding"));
    QCOMPARE(r.header("Content-Type"), QByteArray("text/plain"));
    QCOMPARE(r.header("Content-Length").toLongLong(), r.body.size());
    QVERIFY2(r.body.size() < 4096, qPrintable(QString::number(r.body.size())));
    QCOMPARE(gunzip(r.body), QByteArray(4096, 'x'));
}

void TestHttpProtocol::noGzipWithoutAcceptEncoding_data()
{
    QTest::addColumn<QByteArray>("extraHeaders");
    QTest::addColumn<bool>("vary");
    QTest::newRow("no Accept-Encoding") << QByteArray() << true;
    QTest::newRow("identity only") << QByteArray("Accept-Encoding: identity\r\n") << true;
    QTest::newRow("gzip;q=0") << QByteArray("Accept-Encoding: gzip;q=0, identity\r\n") << true;
}

void TestHttpProtocol::noGzipWithoutAcceptEncoding()
{
    QFETCH(QByteArray, extraHeaders);
    QFETCH(bool, vary);
    RawResponse r;
    BULWARK_CHECK(fetch(port(), "/debug/bytes?n=4096", &r, extraHeaders));
    QCOMPARE(r.status, 200);
    QVERIFY2(!r.hasHeader("Content-Encoding"), r.header("Content-Encoding").constData());
    QCOMPARE(r.hasHeader("Vary"), vary);
    QCOMPARE(r.header("Content-Length"), QByteArray("4096"));
    QCOMPARE(r.body, QByteArray(4096, 'x'));
}

void TestHttpProtocol::noGzipWhenCompressionOff()
{
    TestServer plain;
    plain.config.http.compression = false;
    QVERIFY2(plain.start(), qPrintable(plain.errorString()));
    RawResponse r;
    BULWARK_CHECK(fetch(plain.port(), "/debug/bytes?n=4096", &r, "Accept-Encoding: gzip\r\n"));
    QCOMPARE(r.status, 200);
    QVERIFY2(!r.hasHeader("Content-Encoding"), r.header("Content-Encoding").constData());
    QCOMPARE(r.header("Content-Length"), QByteArray("4096"));
    QCOMPARE(r.body, QByteArray(4096, 'x'));
}

void TestHttpProtocol::requestId_data()
{
    QTest::addColumn<QByteArray>("sent"); // null: no header
    QTest::addColumn<bool>("echoed");
    QTest::newRow("well-formed") << QByteArray("abc-123._:XYZ") << true;
    QTest::newRow("128 characters") << QByteArray(128, 'a') << true;
    QTest::newRow("absent") << QByteArray() << false;
    QTest::newRow("space and punctuation") << QByteArray("bad id!") << false;
    QTest::newRow("129 characters") << QByteArray(129, 'a') << false;
    QTest::newRow("slash") << QByteArray("a/b") << false;
    QTest::newRow("non-ASCII") << QByteArray("id-\xc3\xa9") << false;
}

void TestHttpProtocol::requestId()
{
    QFETCH(QByteArray, sent);
    QFETCH(bool, echoed);
    RawResponse r;
    BULWARK_CHECK(fetch(port(), "/health/live", &r,
                        sent.isNull() ? QByteArray() : "X-Request-Id: " + sent + "\r\n"));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.headerCount("X-Request-Id"), 1);
    const QByteArray id = r.header("X-Request-Id");
    if (echoed)
        QCOMPARE(id, sent);
    else
        QVERIFY2(isHex32(id), id.constData());
}

void TestHttpProtocol::generatedRequestIdsDiffer()
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(port()), qPrintable(client.errorString()));
    QSet<QByteArray> ids;
    for (int i = 0; i < 10; ++i) {
        QVERIFY2(client.send(request("GET", "/nope")), qPrintable(client.errorString()));
        RawResponse r;
        QVERIFY2(client.readResponse(&r), qPrintable(client.errorString()));
        const QByteArray id = r.header("X-Request-Id");
        QVERIFY2(isHex32(id), id.constData());
        // The error body names the same id.
        QCOMPARE(r.json()
                     .value(QStringLiteral("error"))
                     .toObject()
                     .value(QStringLiteral("request_id"))
                     .toString(),
                 QString::fromLatin1(id));
        ids.insert(id);
    }
    QCOMPARE(ids.size(), 10);
}

void TestHttpProtocol::securityHeaders_data()
{
    QTest::addColumn<QByteArray>("target");
    QTest::newRow("200") << QByteArray("/health/live");
    QTest::newRow("404") << QByteArray("/nope");
    QTest::newRow("401") << QByteArray("/admin/api/metrics/series");
    QTest::newRow("metrics") << QByteArray("/metrics");
}

void TestHttpProtocol::securityHeaders()
{
    QFETCH(QByteArray, target);
    RawResponse r;
    BULWARK_CHECK(fetch(port(), target, &r));
    QCOMPARE(r.header("X-Content-Type-Options"), QByteArray("nosniff"));
    QCOMPARE(r.header("X-Frame-Options"), QByteArray("DENY"));
    QCOMPARE(r.header("Referrer-Policy"), QByteArray("no-referrer"));
    QCOMPARE(r.header("Content-Security-Policy"),
             QByteArray("default-src 'none'; frame-ancestors 'none'"));
    QVERIFY2(!r.hasHeader("Strict-Transport-Security"), "HSTS must only be sent over TLS");
}

void TestHttpProtocol::adminApiNeedsToken_data()
{
    QTest::addColumn<QByteArray>("authorization"); // null: no header
    QTest::addColumn<int>("status");
    const QByteArray token = m_server->app()->adminToken();
    QVERIFY(token.size() >= 32);
    QTest::newRow("no token") << QByteArray() << 401;
    QTest::newRow("wrong token") << QByteArray("Bearer " + QByteArray(token.size(), 'A')) << 401;
    QTest::newRow("token prefix") << QByteArray("Bearer " + token.left(token.size() - 1)) << 401;
    QTest::newRow("basic scheme") << QByteArray("Basic " + token) << 401;
    QTest::newRow("right token") << QByteArray("Bearer " + token) << 200;
    QTest::newRow("right token, lower-case scheme") << QByteArray("bearer " + token) << 200;
}

void TestHttpProtocol::adminApiNeedsToken()
{
    QFETCH(QByteArray, authorization);
    QFETCH(int, status);
    RawResponse r;
    BULWARK_CHECK(
        fetch(port(), "/admin/api/metrics/series?seconds=5", &r,
              authorization.isNull() ? QByteArray() : "Authorization: " + authorization + "\r\n"));
    if (status == 401) {
        BULWARK_CHECK(verifyJsonError(r, 401, QStringLiteral("unauthorized")));
        QCOMPARE(r.header("WWW-Authenticate"), QByteArray("Bearer realm=\"bulwark-admin\""));
        QVERIFY2(!r.body.contains("series"), r.body.constData());
    } else {
        QCOMPARE(r.status, 200);
        QCOMPARE(r.header("Content-Type"), QByteArray("application/json"));
        QCOMPARE(r.header("Cache-Control"), QByteArray("no-store"));
        const QJsonObject o = r.json();
        QVERIFY2(o.value(QStringLiteral("series")).isArray(), r.body.constData());
        QVERIFY2(o.value(QStringLiteral("t")).isArray(), r.body.constData());
        QVERIFY2(o.value(QStringLiteral("values")).isObject(), r.body.constData());
    }
}

void TestHttpProtocol::expectContinue()
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(port()), qPrintable(client.errorString()));
    QVERIFY2(client.send(
                 request("POST", "/health/live", "Content-Length: 5\r\nExpect: 100-continue\r\n")),
             qPrintable(client.errorString()));
    RawResponse interim;
    QVERIFY2(client.readResponse(&interim, 3000), qPrintable(client.errorString()));
    QCOMPARE(interim.statusLine, QByteArray("HTTP/1.1 100 Continue"));
    QVERIFY2(client.pending().isEmpty(), client.pending().left(200).constData());
    QVERIFY2(client.send("hello"), qPrintable(client.errorString()));
    RawResponse r;
    QVERIFY2(client.readResponse(&r, 3000), qPrintable(client.errorString()));
    BULWARK_CHECK(verifyJsonError(r, 405, QStringLiteral("method_not_allowed")));
    QVERIFY(!r.hasHeader("Connection"));
    // Same connection, next request, no second 100.
    QVERIFY2(client.send(request("GET", "/health/live")), qPrintable(client.errorString()));
    QVERIFY2(client.readResponse(&r, 3000), qPrintable(client.errorString()));
    QCOMPARE(r.statusLine, QByteArray("HTTP/1.1 200 OK"));
}

void TestHttpProtocol::noContinueWithoutBody()
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(port()), qPrintable(client.errorString()));
    QVERIFY2(client.send(request("GET", "/health/live", "Expect: 100-continue\r\n")),
             qPrintable(client.errorString()));
    RawResponse r;
    QVERIFY2(client.readResponse(&r, 3000), qPrintable(client.errorString()));
    QCOMPARE(r.statusLine, QByteArray("HTTP/1.1 200 OK"));
}

void TestHttpProtocol::chunkedBodyIsFramed()
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(port()), qPrintable(client.errorString()));
    const QByteArray chunked =
        "POST /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        "X-Request-Id: chunked\r\n\r\n"
        "5\r\nhello\r\n"
        "6;ext=1\r\n world\r\n"
        "0\r\n\r\n";
    QVERIFY2(
        client.send(chunked + request("GET", "/health/live", "X-Request-Id: after-chunked\r\n")),
        qPrintable(client.errorString()));
    RawResponse first;
    QVERIFY2(client.readResponse(&first), qPrintable(client.errorString()));
    BULWARK_CHECK(verifyJsonError(first, 405, QStringLiteral("method_not_allowed")));
    QCOMPARE(first.header("X-Request-Id"), QByteArray("chunked"));
    RawResponse second;
    QVERIFY2(client.readResponse(&second), qPrintable(client.errorString()));
    QCOMPARE(second.statusLine, QByteArray("HTTP/1.1 200 OK"));
    QCOMPARE(second.header("X-Request-Id"), QByteArray("after-chunked"));
    QCOMPARE(client.pending(), QByteArray());
    QVERIFY(client.isConnected());
}

// The framer accepts a trailer section after the last chunk (RFC 9112 7.1.2), so the
// request must be answered like any other and the connection must stay usable.
void TestHttpProtocol::chunkedBodyWithTrailerIsFramed_data()
{
    QTest::addColumn<bool>("pipelined");
    QTest::newRow("alone") << false;
    QTest::newRow("with a request pipelined after it") << true;
}

void TestHttpProtocol::chunkedBodyWithTrailerIsFramed()
{
    QFETCH(bool, pipelined);
    RawHttpClient client;
    QVERIFY2(client.connectTo(port()), qPrintable(client.errorString()));
    const QByteArray chunked =
        "POST /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        "X-Request-Id: trailer\r\n\r\n"
        "5\r\nhello\r\n"
        "0\r\nX-Trailer: t\r\n\r\n";
    const QByteArray next = request("GET", "/health/live", "X-Request-Id: after-trailer\r\n");
    QVERIFY2(client.send(pipelined ? chunked + next : chunked), qPrintable(client.errorString()));
    RawResponse first;
    QVERIFY2(client.readResponse(&first), qPrintable(client.errorString()));
    BULWARK_CHECK(verifyJsonError(first, 405, QStringLiteral("method_not_allowed")));
    QCOMPARE(first.header("X-Request-Id"), QByteArray("trailer"));
    QVERIFY(!first.hasHeader("Connection"));
    if (!pipelined)
        QVERIFY2(client.send(next), qPrintable(client.errorString()));
    RawResponse second;
    QVERIFY2(client.readResponse(&second), qPrintable(client.errorString()));
    QCOMPARE(second.statusLine, QByteArray("HTTP/1.1 200 OK"));
    QCOMPARE(second.header("X-Request-Id"), QByteArray("after-trailer"));
}

// We never switch protocols; an Upgrade offer is ignored and the request is answered.
void TestHttpProtocol::upgradeHeaderIsIgnored()
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(port()), qPrintable(client.errorString()));
    QVERIFY2(client.send(request("GET", "/health/live",
                                 "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: "
                                 "h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n")),
             qPrintable(client.errorString()));
    RawResponse r;
    QVERIFY2(client.readResponse(&r, 3000), qPrintable(client.errorString()));
    QCOMPARE(r.statusLine, QByteArray("HTTP/1.1 200 OK"));
    QVERIFY(!r.hasHeader("Upgrade"));
}

QTEST_GUILESS_MAIN(TestHttpProtocol)
#include "tst_http_protocol.moc"
