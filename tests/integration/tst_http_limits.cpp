// SPDX-License-Identifier: GPL-3.0-or-later
// Request limits and malformed requests over a real loopback connection: each case must get
// its exact status with the JSON error body and then a server-side close, because Qt 6.4's
// own parser has no limits and silently drops bad requests (DESIGN.md).
#include "TestSupport.h"

#include <QtTest>

using namespace bulwark;
using namespace bulwark::test;

namespace {

QByteArray headerLines(int count, int valueSize, const QByteArray &prefix)
{
    QByteArray out;
    for (int i = 0; i < count; ++i)
        out += prefix + QByteArray::number(i) + ": " + QByteArray(valueSize, 'v') + "\r\n";
    return out;
}

} // namespace

class TestHttpLimits : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void rejected_data();
    void rejected();
    void limitsJustBelowAreAccepted_data();
    void limitsJustBelowAreAccepted();
    void payloadTooLargeWhileClientKeepsSending();
    void errorAfterHeadRequestStillHasItsBody();

private:
    std::unique_ptr<TestServer> m_server;
};

void TestHttpLimits::initTestCase()
{
    m_server = std::make_unique<TestServer>();
    m_server->config.server.maxBody = 1024;
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    // Defaults for everything else: 8 KiB request line and header field, 64 KiB headers,
    // 100 header fields.
    QCOMPARE(m_server->config.server.maxRequestLine, 8 * 1024);
    QCOMPARE(m_server->config.server.maxHeaderField, 8 * 1024);
    QCOMPARE(m_server->config.server.maxHeaderTotal, 64 * 1024);
    QCOMPARE(m_server->config.server.maxHeaderCount, 100);
}

void TestHttpLimits::cleanupTestCase()
{
    m_server.reset();
}

void TestHttpLimits::rejected_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("code");

    const QByteArray host = "Host: 127.0.0.1\r\n";
    const QByteArray longTarget = "/" + QByteArray(9 * 1024, 'a');

    QTest::newRow("request line > 8 KiB")
        << QByteArray("GET " + longTarget + " HTTP/1.1\r\n" + host + "\r\n") << 414
        << "uri_too_long";
    QTest::newRow("request line > 8 KiB, still unterminated")
        << QByteArray("GET " + longTarget) << 414 << "uri_too_long";
    QTest::newRow("header field > 8 KiB")
        << QByteArray("GET /health/live HTTP/1.1\r\n" + host +
                      "X-Long: " + QByteArray(9 * 1024, 'b') + "\r\n\r\n")
        << 431 << "headers_too_large";
    QTest::newRow("header field > 8 KiB, still unterminated")
        << QByteArray("GET /health/live HTTP/1.1\r\n" + host +
                      "X-Long: " + QByteArray(9 * 1024, 'b'))
        << 431 << "headers_too_large";
    QTest::newRow("headers > 64 KiB total") << QByteArray("GET /health/live HTTP/1.1\r\n" + host +
                                                          headerLines(20, 4000, "X-Fill-") + "\r\n")
                                            << 431 << "headers_too_large";
    QTest::newRow("more than 100 headers")
        << QByteArray("GET /health/live HTTP/1.1\r\n" + host + headerLines(100, 4, "X-H-") + "\r\n")
        << 431 << "headers_too_large";
    QTest::newRow("body > max_body (headers only)")
        << QByteArray("POST /health/live HTTP/1.1\r\n" + host +
                      "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        << 413 << "payload_too_large";
    QTest::newRow("chunked body > max_body (size line only)")
        << QByteArray("POST /health/live HTTP/1.1\r\n" + host +
                      "Transfer-Encoding: chunked\r\n\r\n800\r\n")
        << 413 << "payload_too_large";
    QTest::newRow("malformed request line: one word")
        << QByteArray("GARBAGE\r\n\r\n") << 400 << "bad_request";
    QTest::newRow("malformed request line: no version")
        << QByteArray("GET /health/live\r\n" + host + "\r\n") << 400 << "bad_request";
    QTest::newRow("malformed request line: double space")
        << QByteArray("GET  /health/live HTTP/1.1\r\n" + host + "\r\n") << 400 << "bad_request";
    QTest::newRow("malformed request line: bad version")
        << QByteArray("GET /health/live HTTP/one\r\n" + host + "\r\n") << 400 << "bad_request";
    QTest::newRow("bare LF line ends")
        << QByteArray("GET /health/live HTTP/1.1\nHost: 127.0.0.1\n\n") << 400 << "bad_request";
    QTest::newRow("HTTP/1.1 without Host")
        << QByteArray("GET /health/live HTTP/1.1\r\n\r\n") << 400 << "bad_request";
    QTest::newRow("obs-fold header")
        << QByteArray("GET /health/live HTTP/1.1\r\n" + host + "X-A: 1\r\n  folded\r\n\r\n") << 400
        << "bad_request";
    QTest::newRow("Content-Length with plus sign")
        << QByteArray("POST /health/live HTTP/1.1\r\n" + host + "Content-Length: +5\r\n\r\nhello")
        << 400 << "bad_request";
    QTest::newRow("Content-Length hex")
        << QByteArray("POST /health/live HTTP/1.1\r\n" + host + "Content-Length: 0x5\r\n\r\nhello")
        << 400 << "bad_request";
    QTest::newRow("Content-Length negative")
        << QByteArray("POST /health/live HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\n") << 400
        << "bad_request";
    QTest::newRow("Content-Length empty")
        << QByteArray("POST /health/live HTTP/1.1\r\n" + host + "Content-Length: \r\n\r\n") << 400
        << "bad_request";
    QTest::newRow("Content-Length 2^63 (would wrap negative)")
        << QByteArray("POST /health/live HTTP/1.1\r\n" + host +
                      "Content-Length: 9223372036854775808\r\n\r\n")
        << 400 << "bad_request";
    QTest::newRow("Content-Length above 2^64")
        << QByteArray("POST /health/live HTTP/1.1\r\n" + host +
                      "Content-Length: 18446744073709551621\r\n\r\n")
        << 400 << "bad_request";
    QTest::newRow("two different Content-Length headers")
        << QByteArray("POST /health/live HTTP/1.1\r\n" + host +
                      "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")
        << 400 << "bad_request";
    QTest::newRow("Content-Length list with different values")
        << QByteArray("POST /health/live HTTP/1.1\r\n" + host +
                      "Content-Length: 5, 6\r\n\r\nhello!")
        << 400 << "bad_request";
    QTest::newRow("Content-Length with Transfer-Encoding")
        << QByteArray(
               "POST /health/live HTTP/1.1\r\n" + host +
               "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        << 400 << "bad_request";
    QTest::newRow("Transfer-Encoding with Content-Length (other order)")
        << QByteArray(
               "POST /health/live HTTP/1.1\r\n" + host +
               "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        << 400 << "bad_request";
    QTest::newRow("chunked in HTTP/1.0")
        << QByteArray("POST /health/live HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        << 400 << "bad_request";
    QTest::newRow("bad chunk size") << QByteArray("POST /health/live HTTP/1.1\r\n" + host +
                                                  "Transfer-Encoding: chunked\r\n\r\nzz\r\n")
                                    << 400 << "bad_request";
    QTest::newRow("HTTP/2.0") << QByteArray("GET /health/live HTTP/2.0\r\n" + host + "\r\n") << 505
                              << "http_version_not_supported";
    QTest::newRow("HTTP/0.9 style version")
        << QByteArray("GET /health/live HTTP/0.9\r\n" + host + "\r\n") << 505
        << "http_version_not_supported";
    QTest::newRow("unknown method")
        << QByteArray("BREW /health/live HTTP/1.1\r\n" + host + "\r\n") << 501 << "not_implemented";
    QTest::newRow("unknown transfer coding")
        << QByteArray("POST /health/live HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n")
        << 501 << "not_implemented";
}

void TestHttpLimits::rejected()
{
    QFETCH(QByteArray, bytes);
    QFETCH(int, status);
    QFETCH(QString, code);

    RawHttpClient client;
    QVERIFY2(client.connectTo(m_server->port()), qPrintable(client.errorString()));
    QElapsedTimer timer;
    timer.start();
    QVERIFY2(client.send(bytes), qPrintable(client.errorString()));
    RawResponse r;
    // Well within every timeout (header 10 s, body 30 s): the answer comes from the limit,
    // not from a timer. For the 413 rows the body is never sent.
    QVERIFY2(client.readResponse(&r, 3000), qPrintable(client.errorString()));
    QVERIFY2(timer.elapsed() < 3000, qPrintable(QString::number(timer.elapsed())));
    BULWARK_CHECK(verifyJsonError(r, status, code));
    if (!bytes.contains(" HTTP/1.0\r\n"))
        QCOMPARE(r.version, QByteArray("HTTP/1.1"));
    QCOMPARE(r.header("Connection"), QByteArray("close"));
    QCOMPARE(r.header("Content-Length").toLongLong(), r.body.size());
    QCOMPARE(r.header("Cache-Control"), QByteArray("no-store"));
    QCOMPARE(r.header("X-Content-Type-Options"), QByteArray("nosniff"));
    BULWARK_CHECK(verifyCommonHeaders(r));
    QVERIFY2(client.waitForClose(3000), qPrintable(client.errorString()));
    QVERIFY2(client.pending().isEmpty(), client.pending().left(200).constData());
}

// The same shapes one byte or one field below each limit get through to the router.
void TestHttpLimits::limitsJustBelowAreAccepted_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("status");

    const QByteArray host = "Host: 127.0.0.1\r\n";
    // Request line "GET <target> HTTP/1.1" of exactly 8192 bytes: 4 + target + 9.
    const QByteArray target = "/health/live?pad=" + QByteArray(8 * 1024 - 13 - 17, 'a');
    QTest::newRow("request line of exactly 8 KiB")
        << QByteArray("GET " + target + " HTTP/1.1\r\n" + host + "\r\n") << 200;
    // Header line of exactly 8192 bytes: "X-Long: " is 8 bytes.
    QTest::newRow("header field of exactly 8 KiB")
        << QByteArray("GET /health/live HTTP/1.1\r\n" + host +
                      "X-Long: " + QByteArray(8 * 1024 - 8, 'b') + "\r\n\r\n")
        << 200;
    QTest::newRow("100 headers") << QByteArray("GET /health/live HTTP/1.1\r\n" + host +
                                               headerLines(99, 4, "X-H-") + "\r\n")
                                 << 200;
    QTest::newRow("body of exactly max_body")
        << QByteArray("POST /health/live HTTP/1.1\r\n" + host + "Content-Length: 1024\r\n\r\n" +
                      QByteArray(1024, 'z'))
        << 405;
}

void TestHttpLimits::limitsJustBelowAreAccepted()
{
    QFETCH(QByteArray, bytes);
    QFETCH(int, status);

    RawHttpClient client;
    QVERIFY2(client.connectTo(m_server->port()), qPrintable(client.errorString()));
    QVERIFY2(client.send(bytes), qPrintable(client.errorString()));
    RawResponse r;
    QVERIFY2(client.readResponse(&r, 3000), qPrintable(client.errorString()));
    QCOMPARE(r.status, status);
    QVERIFY(!r.hasHeader("Connection"));
    // Still usable afterwards.
    QVERIFY2(client.send(request("GET", "/health/live")), qPrintable(client.errorString()));
    QVERIFY2(client.readResponse(&r, 3000), qPrintable(client.errorString()));
    QCOMPARE(r.status, 200);
}

// A client that sends its body anyway (no Expect: 100-continue) must still read the 413:
// the server keeps reading and discarding instead of resetting the connection.
void TestHttpLimits::payloadTooLargeWhileClientKeepsSending()
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(m_server->port()), qPrintable(client.errorString()));
    QVERIFY2(client.send(request("POST", "/health/live", "Content-Length: 65536\r\n")),
             qPrintable(client.errorString()));
    RawResponse r;
    QVERIFY2(client.readResponse(&r, 3000), qPrintable(client.errorString()));
    BULWARK_CHECK(verifyJsonError(r, 413, QStringLiteral("payload_too_large")));
    QCOMPARE(r.header("Connection"), QByteArray("close"));
    // The rest of the body: discarded by the lingering close, never answered.
    QVERIFY2(client.send(QByteArray(65536, 'x')), qPrintable(client.errorString()));
    QVERIFY2(client.waitForClose(4000), qPrintable(client.errorString()));
    QVERIFY2(client.pending().isEmpty(), client.pending().left(200).constData());
}

// An error that ends a keep-alive connection must be framed for the request that caused
// it, not for the request before it: after a HEAD, the 400 still carries its body.
void TestHttpLimits::errorAfterHeadRequestStillHasItsBody()
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(m_server->port()), qPrintable(client.errorString()));
    QVERIFY2(client.send(request("HEAD", "/health/live")), qPrintable(client.errorString()));
    RawResponse head;
    QVERIFY2(client.readResponse(&head, 3000, true), qPrintable(client.errorString()));
    QCOMPARE(head.status, 200);
    QVERIFY2(client.send(request("POST", "/health/live", "Content-Length: 0x5\r\n")),
             qPrintable(client.errorString()));
    RawResponse r;
    QVERIFY2(client.readResponse(&r, 3000), qPrintable(client.errorString()));
    BULWARK_CHECK(verifyJsonError(r, 400, QStringLiteral("bad_request")));
    QCOMPARE(r.header("Content-Length").toLongLong(), r.body.size());
    QVERIFY2(client.waitForClose(3000), qPrintable(client.errorString()));
    QVERIFY2(client.pending().isEmpty(), client.pending().left(200).constData());
}

QTEST_GUILESS_MAIN(TestHttpLimits)
#include "tst_http_limits.moc"
