// SPDX-License-Identifier: GPL-3.0-or-later
// Health endpoints of a running server: the JSON shapes of /health/live, /health/ready and
// /health, readiness turning 503 when the data directory is gone (works as root, unlike a
// chmod), and an in-process ServerApp::shutdown() that closes idle connections and the listener.
#include "TestSupport.h"
#include "Version.h"

#include <QDir>
#include <QSignalSpy>
#include <QtTest>

using namespace bulwark;
using namespace bulwark::test;

class TestHealth : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();
    void live();
    void ready();
    void summary();
    void headOnHealth();
    void dataDirGoneMakesNotReady();
    void shutdownClosesIdleConnectionsAndListener();
    void shutdownLetsInFlightRequestFinish();

private:
    std::unique_ptr<TestServer> m_server;
    QTemporaryDir m_databaseDir; // outside the data dir, which one test deletes
};

void TestHealth::init()
{
    m_server = std::make_unique<TestServer>();
    m_server->config.db.sqlitePath = m_databaseDir.filePath(QStringLiteral("health.db"));
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
}

void TestHealth::cleanup()
{
    m_server.reset();
}

void TestHealth::live()
{
    RawResponse r;
    BULWARK_CHECK(fetch(m_server->port(), "/health/live", &r));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("Content-Type"), QByteArray("application/json"));
    QCOMPARE(r.header("Cache-Control"), QByteArray("no-store"));
    QCOMPARE(r.json(), QJsonObject({{QStringLiteral("status"), QStringLiteral("live")}}));
}

void TestHealth::ready()
{
    RawResponse r;
    BULWARK_CHECK(fetch(m_server->port(), "/health/ready", &r));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("Cache-Control"), QByteArray("no-store"));
    const QJsonObject o = r.json();
    QCOMPARE(o.value(QStringLiteral("status")).toString(), QStringLiteral("ready"));
    const QJsonObject components = o.value(QStringLiteral("components")).toObject();
    QCOMPARE(components.value(QStringLiteral("data_dir")).toString(), QStringLiteral("up"));
    QCOMPARE(components.value(QStringLiteral("http")).toString(), QStringLiteral("up"));
    QVERIFY2(!o.contains(QStringLiteral("down")), r.body.constData());
}

void TestHealth::summary()
{
    RawResponse r;
    BULWARK_CHECK(fetch(m_server->port(), "/health", &r));
    QCOMPARE(r.status, 200);
    const QJsonObject o = r.json();
    QCOMPARE(o.value(QStringLiteral("status")).toString(), QStringLiteral("up"));
    QCOMPARE(o.value(QStringLiteral("version")).toString(), QStringLiteral(BULWARK_VERSION));
    const QJsonObject versions = o.value(QStringLiteral("versions")).toObject();
    QCOMPARE(versions.value(QStringLiteral("bulwark")).toString(), QStringLiteral(BULWARK_VERSION));
    QCOMPARE(versions.value(QStringLiteral("qt")).toString(), QString::fromLatin1(qVersion()));
    const QDateTime time =
        QDateTime::fromString(o.value(QStringLiteral("time")).toString(), Qt::ISODate);
    QVERIFY2(time.isValid(), r.body.constData());
    QVERIFY(qAbs(time.secsTo(QDateTime::currentDateTimeUtc())) <= 5);
    const QJsonArray components = o.value(QStringLiteral("components")).toArray();
    QStringList names;
    for (const QJsonValue &v : components) {
        const QJsonObject c = v.toObject();
        names.append(c.value(QStringLiteral("name")).toString());
        QCOMPARE(c.value(QStringLiteral("state")).toString(), QStringLiteral("up"));
        QVERIFY(c.value(QStringLiteral("required")).isBool());
        QVERIFY2(!c.contains(QStringLiteral("detail")), r.body.constData());
    }
    names.sort();
    QCOMPARE(names, QStringList({QStringLiteral("cache"), QStringLiteral("data_dir"),
                                 QStringLiteral("database"), QStringLiteral("http")}));
}

void TestHealth::headOnHealth()
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(m_server->port()), qPrintable(client.errorString()));
    for (const QByteArray &target :
         {QByteArray("/health/live"), QByteArray("/health/ready"), QByteArray("/health")}) {
        QVERIFY2(client.send(request("HEAD", target)), qPrintable(client.errorString()));
        RawResponse r;
        QVERIFY2(client.readResponse(&r, 5000, true), qPrintable(client.errorString()));
        QCOMPARE(r.status, 200);
        QVERIFY(r.header("Content-Length").toInt() > 0);
        QCOMPARE(r.header("Content-Type"), QByteArray("application/json"));
    }
    QVERIFY2(client.send(request("GET", "/health/live")), qPrintable(client.errorString()));
    RawResponse r;
    QVERIFY2(client.readResponse(&r), qPrintable(client.errorString()));
    QCOMPARE(r.status, 200);
}

void TestHealth::dataDirGoneMakesNotReady()
{
    const QString dir = m_server->app()->dataDir();
    QVERIFY(QDir(dir).removeRecursively());

    RawResponse r;
    BULWARK_CHECK(fetch(m_server->port(), "/health/ready", &r));
    QCOMPARE(r.status, 503);
    QJsonObject o = r.json();
    QCOMPARE(o.value(QStringLiteral("status")).toString(), QStringLiteral("not_ready"));
    QCOMPARE(o.value(QStringLiteral("down")).toArray(), QJsonArray({QStringLiteral("data_dir")}));
    QCOMPARE(o.value(QStringLiteral("components"))
                 .toObject()
                 .value(QStringLiteral("data_dir"))
                 .toString(),
             QStringLiteral("down"));
    QCOMPARE(
        o.value(QStringLiteral("components")).toObject().value(QStringLiteral("http")).toString(),
        QStringLiteral("up"));

    BULWARK_CHECK(fetch(m_server->port(), "/health", &r));
    QCOMPARE(r.status, 200);
    o = r.json();
    QCOMPARE(o.value(QStringLiteral("status")).toString(), QStringLiteral("down"));
    bool sawDetail = false;
    for (const QJsonValue &v : o.value(QStringLiteral("components")).toArray()) {
        const QJsonObject c = v.toObject();
        if (c.value(QStringLiteral("name")).toString() == QLatin1String("data_dir")) {
            QCOMPARE(c.value(QStringLiteral("state")).toString(), QStringLiteral("down"));
            QVERIFY(c.value(QStringLiteral("detail"))
                        .toString()
                        .contains(QStringLiteral("not writable")));
            sawDetail = true;
        }
    }
    QVERIFY(sawDetail);

    // Liveness is unaffected: the process is fine, it just cannot do its work.
    BULWARK_CHECK(fetch(m_server->port(), "/health/live", &r));
    QCOMPARE(r.status, 200);

    QVERIFY(QDir().mkpath(dir));
    BULWARK_CHECK(fetch(m_server->port(), "/health/ready", &r));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json().value(QStringLiteral("status")).toString(), QStringLiteral("ready"));
}

void TestHealth::shutdownClosesIdleConnectionsAndListener()
{
    const quint16 port = m_server->port();
    RawHttpClient idle;
    QVERIFY2(idle.connectTo(port), qPrintable(idle.errorString()));
    QVERIFY2(idle.send(request("GET", "/health/ready")), qPrintable(idle.errorString()));
    RawResponse r;
    QVERIFY2(idle.readResponse(&r), qPrintable(idle.errorString()));
    QCOMPARE(r.status, 200);

    QSignalSpy finished(m_server->app(), &ServerApp::finished);
    m_server->app()->shutdown();
    // Readiness is unreachable from now on: the listener is closed.
    QTcpSocket probe;
    probe.connectToHost(QHostAddress::LocalHost, port);
    QVERIFY(!probe.waitForConnected(2000));
    QCOMPARE(probe.error(), QAbstractSocket::ConnectionRefusedError);
    // The idle keep-alive connection is closed without a response.
    QVERIFY2(idle.waitForClose(3000), qPrintable(idle.errorString()));
    QVERIFY2(idle.pending().isEmpty(), idle.pending().left(200).constData());
    QVERIFY(finished.wait(5000) || finished.size() == 1);
    QCOMPARE(finished.size(), 1);
}

void TestHealth::shutdownLetsInFlightRequestFinish()
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(m_server->port()), qPrintable(client.errorString()));
    QVERIFY2(client.send(request("GET", "/debug/sleep?ms=600")), qPrintable(client.errorString()));
    QVERIFY(!client.waitForBytes(200)); // about time: the handler is asleep now
    QSignalSpy finished(m_server->app(), &ServerApp::finished);
    m_server->app()->shutdown();
    RawResponse r;
    QVERIFY2(client.readResponse(&r, 5000), qPrintable(client.errorString()));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("Connection"), QByteArray("close"));
    QVERIFY2(client.waitForClose(3000), qPrintable(client.errorString()));
    QVERIFY(finished.wait(5000) || finished.size() == 1);
    QCOMPARE(finished.size(), 1);
}

QTEST_GUILESS_MAIN(TestHealth)
#include "tst_health.moc"
