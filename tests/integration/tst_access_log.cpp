// SPDX-License-Identifier: GPL-3.0-or-later
// The access log: one JSON line per answered request with the route pattern, and one for
// each request rejected before the pipeline (413, 400, ...), marked with the reason;
// "sampled" mode drops client errors at a sample rate of 0.
#include "TestSupport.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QtTest>

using namespace bulwark;
using namespace bulwark::test;

class TestAccessLog : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void answeredAndRejectedRequestsAreLogged();
    void sampledModeDropsClientErrorsAtRateZero();

private:
    static QList<QJsonObject> readLines(const QString &path);
};

QList<QJsonObject> TestAccessLog::readLines(const QString &path)
{
    QList<QJsonObject> lines;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return lines;
    for (const QByteArray &line : file.readAll().split('\n')) {
        if (!line.isEmpty())
            lines.append(QJsonDocument::fromJson(line).object());
    }
    return lines;
}

void TestAccessLog::answeredAndRejectedRequestsAreLogged()
{
    TestServer server;
    const QString logPath = server.dataDir() + QStringLiteral("/access.log");
    server.config.log.access = AccessLogMode::On;
    server.config.log.accessFile = logPath;
    server.config.server.maxBody = 1024;
    QVERIFY2(server.start(), qPrintable(server.errorString()));

    RawResponse ok;
    BULWARK_CHECK(fetch(server.port(), "/health/live", &ok, "User-Agent: access-test\r\n"));
    QCOMPARE(ok.status, 200);

    RawHttpClient client;
    QVERIFY2(client.connectTo(server.port()), qPrintable(client.errorString()));
    QVERIFY2(
        client.send("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n\r\n"),
        qPrintable(client.errorString()));
    RawResponse tooLarge;
    QVERIFY2(client.readResponse(&tooLarge), qPrintable(client.errorString()));
    QCOMPARE(tooLarge.status, 413);

    QTRY_COMPARE_WITH_TIMEOUT(readLines(logPath).size(), qsizetype(2), 3000);
    const QList<QJsonObject> lines = readLines(logPath);
    const QJsonObject answered =
        lines[0].value(QStringLiteral("status")).toInt() == 200 ? lines[0] : lines[1];
    const QJsonObject rejected =
        lines[0].value(QStringLiteral("status")).toInt() == 413 ? lines[0] : lines[1];

    QCOMPARE(answered.value(QStringLiteral("type")).toString(), QStringLiteral("access"));
    QCOMPARE(answered.value(QStringLiteral("method")).toString(), QStringLiteral("GET"));
    QCOMPARE(answered.value(QStringLiteral("path")).toString(), QStringLiteral("/health/live"));
    QCOMPARE(answered.value(QStringLiteral("route")).toString(), QStringLiteral("/health/live"));
    QCOMPARE(answered.value(QStringLiteral("remote")).toString(), QStringLiteral("127.0.0.1"));
    QCOMPARE(answered.value(QStringLiteral("http")).toString(), QStringLiteral("1.1"));
    QCOMPARE(answered.value(QStringLiteral("user_agent")).toString(),
             QStringLiteral("access-test"));
    QCOMPARE(answered.value(QStringLiteral("request_id")).toString().size(), 32);
    QVERIFY(answered.value(QStringLiteral("duration_ms")).toDouble() >= 0);
    QVERIFY(!answered.contains(QStringLiteral("rejected")));

    QCOMPARE(rejected.value(QStringLiteral("method")).toString(), QStringLiteral("POST"));
    QCOMPARE(rejected.value(QStringLiteral("path")).toString(), QStringLiteral("/upload"));
    QCOMPARE(rejected.value(QStringLiteral("rejected")).toString(),
             QStringLiteral("payload_too_large"));
    QVERIFY(!rejected.contains(QStringLiteral("route")));
    QVERIFY(rejected.value(QStringLiteral("bytes")).toInt() > 0);
}

void TestAccessLog::sampledModeDropsClientErrorsAtRateZero()
{
    TestServer server;
    const QString logPath = server.dataDir() + QStringLiteral("/access.log");
    server.config.log.access = AccessLogMode::Sampled;
    server.config.log.accessSampleRate = 0.0;
    server.config.log.accessFile = logPath;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    for (int i = 0; i < 5; ++i) {
        RawResponse r;
        BULWARK_CHECK(fetch(server.port(), "/nope", &r));
        QCOMPARE(r.status, 404);
    }
    // Requests are logged before the response is written, so once the 404s arrived
    // nothing more can appear for them.
    QCOMPARE(readLines(logPath).size(), qsizetype(0));
}

QTEST_GUILESS_MAIN(TestAccessLog)
#include "tst_access_log.moc"
