// SPDX-License-Identifier: GPL-3.0-or-later
// server.max_connections: with a cap of 5, five connections are served, the sixth gets a
// 503 JSON error and is closed, and a slot freed by a client is usable again. Qt 6.4's
// QtHttpServer has no cap at all, so this is enforced by our acceptor.
#include "TestSupport.h"

#include <QRegularExpression>
#include <QtTest>

using namespace bulwark;
using namespace bulwark::test;

namespace {

constexpr int kCap = 5;

// The value of an unlabelled sample in Prometheus text, or -1.
double sampleValue(const QByteArray &exposition, const QByteArray &name)
{
    for (const QByteArray &line : exposition.split('\n'))
        if (line.startsWith(name + ' '))
            return line.mid(name.size() + 1).trimmed().toDouble();
    return -1;
}

} // namespace

class TestConnectionCap : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();
    void sixthConnectionGets503();
    void sixthClientThatSendsAtOnceStillReads503();
    void slotFreedByClientIsReused();

private:
    void openFull(std::vector<std::unique_ptr<RawHttpClient>> *clients);
    void verify503(RawHttpClient &client);
    void waitForOpenConnections(RawHttpClient &via, int expected);

    std::unique_ptr<TestServer> m_server;
};

void TestConnectionCap::init()
{
    m_server = std::make_unique<TestServer>();
    m_server->config.server.maxConnections = kCap;
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
}

void TestConnectionCap::cleanup()
{
    m_server.reset();
}

// Opens kCap connections and has each answer a request, so every one is counted.
void TestConnectionCap::openFull(std::vector<std::unique_ptr<RawHttpClient>> *clients)
{
    for (int i = 0; i < kCap; ++i) {
        auto client = std::make_unique<RawHttpClient>();
        QVERIFY2(client->connectTo(m_server->port()), qPrintable(client->errorString()));
        QVERIFY2(client->send(request("GET", "/health/live")), qPrintable(client->errorString()));
        RawResponse r;
        QVERIFY2(
            client->readResponse(&r),
            qPrintable(QStringLiteral("connection %1: %2").arg(i + 1).arg(client->errorString())));
        QCOMPARE(r.status, 200);
        QVERIFY(!r.hasHeader("Connection"));
        clients->push_back(std::move(client));
    }
}

void TestConnectionCap::verify503(RawHttpClient &client)
{
    RawResponse r;
    QVERIFY2(client.readResponse(&r, 3000), qPrintable(client.errorString()));
    BULWARK_CHECK(verifyJsonError(r, 503, QStringLiteral("unavailable")));
    QCOMPARE(r.statusLine, QByteArray("HTTP/1.1 503 Service Unavailable"));
    QCOMPARE(r.header("Connection"), QByteArray("close"));
    QCOMPARE(r.header("Retry-After"), QByteArray("1"));
    QCOMPARE(r.header("X-Content-Type-Options"), QByteArray("nosniff"));
    BULWARK_CHECK(verifyCommonHeaders(r));
    QVERIFY2(client.waitForClose(3000), qPrintable(client.errorString()));
    QVERIFY2(client.pending().isEmpty(), client.pending().left(200).constData());
}

// Polls /metrics over an already open connection until the open-connection gauge shows
// `expected` (the server notices a client's close asynchronously).
void TestConnectionCap::waitForOpenConnections(RawHttpClient &via, int expected)
{
    QElapsedTimer timer;
    timer.start();
    double seen = -1;
    for (int i = 0; i < 200 && timer.elapsed() < 5000; ++i) {
        QVERIFY2(via.send(request("GET", "/metrics")), qPrintable(via.errorString()));
        RawResponse r;
        QVERIFY2(via.readResponse(&r), qPrintable(via.errorString()));
        QCOMPARE(r.status, 200);
        seen = sampleValue(r.body, "bulwark_http_open_connections");
        if (int(seen) == expected)
            return;
        via.waitForBytes(20); // nothing is expected: a short pause between polls
    }
    QFAIL(qPrintable(QStringLiteral("bulwark_http_open_connections stayed at %1, expected %2")
                         .arg(seen)
                         .arg(expected)));
}

void TestConnectionCap::sixthConnectionGets503()
{
    std::vector<std::unique_ptr<RawHttpClient>> clients;
    BULWARK_CHECK(openFull(&clients));
    BULWARK_CHECK(waitForOpenConnections(*clients.front(), kCap));

    RawHttpClient sixth;
    QVERIFY2(sixth.connectTo(m_server->port()), qPrintable(sixth.errorString()));
    BULWARK_CHECK(verify503(sixth));

    // The five are unaffected.
    for (auto &client : clients) {
        QVERIFY2(client->send(request("GET", "/health/live")), qPrintable(client->errorString()));
        RawResponse r;
        QVERIFY2(client->readResponse(&r), qPrintable(client->errorString()));
        QCOMPARE(r.status, 200);
    }

    RawResponse metrics;
    QVERIFY2(clients.front()->send(request("GET", "/metrics")),
             qPrintable(clients.front()->errorString()));
    QVERIFY2(clients.front()->readResponse(&metrics), qPrintable(clients.front()->errorString()));
    static const QRegularExpression rejected(
        QStringLiteral(
            "^bulwark_http_connections_rejected_total\\{reason=\"max_connections\"\\} 1$"),
        QRegularExpression::MultilineOption);
    QVERIFY2(rejected.match(QString::fromUtf8(metrics.body)).hasMatch(), metrics.body.constData());
}

// A client that writes its request before reading still gets the 503 (not a reset).
void TestConnectionCap::sixthClientThatSendsAtOnceStillReads503()
{
    std::vector<std::unique_ptr<RawHttpClient>> clients;
    BULWARK_CHECK(openFull(&clients));
    BULWARK_CHECK(waitForOpenConnections(*clients.front(), kCap));
    for (int attempt = 0; attempt < 5; ++attempt) {
        RawHttpClient sixth;
        QVERIFY2(sixth.connectTo(m_server->port()), qPrintable(sixth.errorString()));
        sixth.send(request("GET", "/health/live", "X-Request-Id: too-many\r\n"));
        BULWARK_CHECK(verify503(sixth));
    }
}

void TestConnectionCap::slotFreedByClientIsReused()
{
    std::vector<std::unique_ptr<RawHttpClient>> clients;
    BULWARK_CHECK(openFull(&clients));
    BULWARK_CHECK(waitForOpenConnections(*clients.front(), kCap));

    RawHttpClient sixth;
    QVERIFY2(sixth.connectTo(m_server->port()), qPrintable(sixth.errorString()));
    BULWARK_CHECK(verify503(sixth));

    clients.back()->close();
    clients.pop_back();
    BULWARK_CHECK(waitForOpenConnections(*clients.front(), kCap - 1));

    RawHttpClient again;
    QVERIFY2(again.connectTo(m_server->port()), qPrintable(again.errorString()));
    QVERIFY2(again.send(request("GET", "/health/live")), qPrintable(again.errorString()));
    RawResponse r;
    QVERIFY2(again.readResponse(&r), qPrintable(again.errorString()));
    QCOMPARE(r.status, 200);
    QVERIFY(!r.hasHeader("Connection"));

    // Full again: the next one is refused.
    RawHttpClient seventh;
    QVERIFY2(seventh.connectTo(m_server->port()), qPrintable(seventh.errorString()));
    BULWARK_CHECK(verify503(seventh));
}

QTEST_GUILESS_MAIN(TestConnectionCap)
#include "tst_connection_cap.moc"
