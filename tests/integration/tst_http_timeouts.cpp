// SPDX-License-Identifier: GPL-3.0-or-later
// Header, body and idle timeouts against short configured values: slow or silent clients
// get 408 (or, when idle, a quiet close) no earlier than the limit and well before a
// generous bound, while a connection that is busy or active is never cut early.
#include "TestSupport.h"

#include <QScopeGuard>
#include <QtTest>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace bulwark;
using namespace bulwark::test;

namespace {
constexpr int kHeaderTimeout = 300;
constexpr int kBodyTimeout = 300;
constexpr int kIdleTimeout = 400;
// The sweep runs every quarter of the shortest timeout; this bound leaves room for a
// loaded CI machine while still catching a timeout that is not enforced at all.
constexpr int kUpperBound = 3000;
// Millisecond clocks on both sides may each round down by one tick.
constexpr int kSlack = 5;
} // namespace

class TestHttpTimeouts : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void partialHeaders_data();
    void partialHeaders();
    void missingBody_data();
    void missingBody();
    void idleKeepAliveClosed();
    void idleFreshConnectionClosed();
    void activeConnectionNotClosedEarly();
    void slowHandlerNotCutByTimeouts();
    void headerTimeoutCountsFromFirstByte();
    void clientThatNeverReadsIsDropped();

private:
    // Sends bytes that never complete a request and checks the 408 + close, no sooner
    // than minimumMs after the first byte.
    void expect408(const QByteArray &bytes, int minimumMs);
    std::unique_ptr<TestServer> m_server;
};

void TestHttpTimeouts::initTestCase()
{
    m_server = std::make_unique<TestServer>();
    m_server->config.server.headerTimeout = Milliseconds(kHeaderTimeout);
    m_server->config.server.bodyTimeout = Milliseconds(kBodyTimeout);
    m_server->config.server.idleTimeout = Milliseconds(kIdleTimeout);
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
}

void TestHttpTimeouts::cleanupTestCase()
{
    m_server.reset();
}

void TestHttpTimeouts::partialHeaders_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::newRow("request line only") << QByteArray("GET /health/live HTTP/1.1\r\n");
    QTest::newRow("half a request line") << QByteArray("GET /heal");
    QTest::newRow("one header, no blank line")
        << QByteArray("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n");
}

void TestHttpTimeouts::expect408(const QByteArray &bytes, int minimumMs)
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(m_server->port()), qPrintable(client.errorString()));
    QElapsedTimer timer;
    timer.start();
    QVERIFY2(client.send(bytes), qPrintable(client.errorString()));
    RawResponse r;
    QVERIFY2(client.readResponse(&r, kUpperBound), qPrintable(client.errorString()));
    const qint64 elapsed = timer.elapsed();
    QVERIFY2(elapsed >= minimumMs - kSlack,
             qPrintable(QStringLiteral("408 after %1 ms").arg(elapsed)));
    BULWARK_CHECK(verifyJsonError(r, 408, QStringLiteral("request_timeout")));
    QCOMPARE(r.header("Connection"), QByteArray("close"));
    QVERIFY2(client.waitForClose(kUpperBound), qPrintable(client.errorString()));
    QVERIFY2(client.pending().isEmpty(), client.pending().left(200).constData());
}

void TestHttpTimeouts::partialHeaders()
{
    QFETCH(QByteArray, bytes);
    BULWARK_CHECK(expect408(bytes, kHeaderTimeout));
}

void TestHttpTimeouts::missingBody_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::newRow("no body at all") << request("POST", "/health/live", "Content-Length: 10\r\n");
    QTest::newRow("half a body") << QByteArray(
        request("POST", "/health/live", "Content-Length: 10\r\n") + "12345");
    QTest::newRow("chunked, unfinished")
        << QByteArray("POST /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: "
                      "chunked\r\n\r\n5\r\nhel");
}

void TestHttpTimeouts::missingBody()
{
    QFETCH(QByteArray, bytes);
    BULWARK_CHECK(expect408(bytes, kBodyTimeout));
}

void TestHttpTimeouts::idleKeepAliveClosed()
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(m_server->port()), qPrintable(client.errorString()));
    // Started before the request: the server's last activity on this connection is no
    // earlier than this, so the close cannot come sooner than kIdleTimeout from here.
    QElapsedTimer timer;
    timer.start();
    QVERIFY2(client.send(request("GET", "/health/live")), qPrintable(client.errorString()));
    RawResponse r;
    QVERIFY2(client.readResponse(&r), qPrintable(client.errorString()));
    QCOMPARE(r.status, 200);
    QVERIFY(!r.hasHeader("Connection"));
    QVERIFY2(client.waitForClose(kUpperBound), qPrintable(client.errorString()));
    const qint64 elapsed = timer.elapsed();
    QVERIFY2(elapsed >= kIdleTimeout - kSlack,
             qPrintable(QStringLiteral("closed after %1 ms").arg(elapsed)));
    // An idle close says nothing: no 408 on a connection with no request in progress.
    QVERIFY2(client.pending().isEmpty(), client.pending().left(200).constData());
}

void TestHttpTimeouts::idleFreshConnectionClosed()
{
    RawHttpClient client;
    QElapsedTimer timer;
    timer.start();
    QVERIFY2(client.connectTo(m_server->port()), qPrintable(client.errorString()));
    QVERIFY2(client.waitForClose(kUpperBound), qPrintable(client.errorString()));
    const qint64 elapsed = timer.elapsed();
    QVERIFY2(elapsed >= kIdleTimeout - kSlack,
             qPrintable(QStringLiteral("closed after %1 ms").arg(elapsed)));
    QVERIFY2(client.pending().isEmpty(), client.pending().left(200).constData());
}

// Requests every 150 ms for well over the idle timeout: activity keeps the connection open.
void TestHttpTimeouts::activeConnectionNotClosedEarly()
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(m_server->port()), qPrintable(client.errorString()));
    QElapsedTimer total;
    total.start();
    for (int i = 0; i < 10; ++i) {
        QVERIFY2(client.send(request("GET", "/health/live")), qPrintable(client.errorString()));
        RawResponse r;
        QVERIFY2(client.readResponse(&r),
                 qPrintable(QStringLiteral("request %1: %2").arg(i).arg(client.errorString())));
        QCOMPARE(r.status, 200);
        QVERIFY(!r.hasHeader("Connection"));
        // This test is about time: pause less than the idle timeout between requests.
        QVERIFY(!client.waitForBytes(150));
        QVERIFY(client.isConnected());
    }
    QVERIFY(total.elapsed() >= 3 * kIdleTimeout);
}

// A handler that runs longer than every timeout is not cut off, and the connection stays
// usable afterwards.
void TestHttpTimeouts::slowHandlerNotCutByTimeouts()
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(m_server->port()), qPrintable(client.errorString()));
    QElapsedTimer timer;
    timer.start();
    QVERIFY2(client.send(request("GET", "/debug/sleep?ms=900")), qPrintable(client.errorString()));
    RawResponse r;
    QVERIFY2(client.readResponse(&r, 5000), qPrintable(client.errorString()));
    QVERIFY(timer.elapsed() >= 900 - kSlack);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json().value(QStringLiteral("slept_ms")).toInt(), 900);
    QVERIFY(!r.hasHeader("Connection"));
    QVERIFY2(client.send(request("GET", "/health/live")), qPrintable(client.errorString()));
    QVERIFY2(client.readResponse(&r), qPrintable(client.errorString()));
    QCOMPARE(r.status, 200);
}

// Trickling header bytes (slowloris) does not extend the header deadline: it runs from
// the first byte of the request, not from the last one.
void TestHttpTimeouts::headerTimeoutCountsFromFirstByte()
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(m_server->port()), qPrintable(client.errorString()));
    QElapsedTimer timer;
    timer.start();
    QVERIFY2(client.send("GET /health/live HTTP/1.1\r\n"), qPrintable(client.errorString()));
    RawResponse r;
    bool answered = false;
    for (int i = 0; i < 40 && timer.elapsed() < kUpperBound; ++i) {
        // This test is about time: one header line every 50 ms.
        if (client.waitForBytes(50)) {
            answered = true;
            break;
        }
        if (!client.isConnected())
            break;
        client.send("X-Drip-" + QByteArray::number(i) + ": x\r\n");
    }
    QVERIFY2(answered, "no 408 while the client kept trickling headers");
    QVERIFY2(client.readResponse(&r, kUpperBound), qPrintable(client.errorString()));
    const qint64 elapsed = timer.elapsed();
    QVERIFY2(elapsed >= kHeaderTimeout - kSlack,
             qPrintable(QStringLiteral("408 after %1 ms").arg(elapsed)));
    BULWARK_CHECK(verifyJsonError(r, 408, QStringLiteral("request_timeout")));
    QVERIFY2(client.waitForClose(kUpperBound), qPrintable(client.errorString()));
}

// A client that asks for a large response and then never reads it must not hold the
// connection (and its queued output) forever: it is dropped after the idle timeout.
void TestHttpTimeouts::clientThatNeverReadsIsDropped()
{
    auto stalledDrops = [this] {
        RawResponse metrics;
        fetch(m_server->port(), "/metrics", &metrics);
        for (const QByteArray &line : metrics.body.split('\n'))
            if (line.startsWith(
                    "bulwark_http_connections_rejected_total{reason=\"write_stalled\"}"))
                return line.split(' ').last().toInt();
        return 0;
    };
    const int before = stalledDrops();
    // A plain socket that is never read (a QTcpSocket would read whenever the event loop
    // runs), with a small receive buffer so the server's output stalls quickly.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    QVERIFY(fd >= 0);
    const int small = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(m_server->port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    QCOMPARE(::connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address), 0);
    const QByteArray request = "GET /debug/bytes?n=16777216 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "Connection: close\r\n\r\n";
    QCOMPARE(::send(fd, request.constData(), size_t(request.size()), 0), ssize_t(request.size()));
    auto closeSocket = qScopeGuard([fd] { ::close(fd); });
    QTRY_COMPARE_WITH_TIMEOUT(stalledDrops(), before + 1, kIdleTimeout + 3000);
}

QTEST_GUILESS_MAIN(TestHttpTimeouts)
#include "tst_http_timeouts.moc"
