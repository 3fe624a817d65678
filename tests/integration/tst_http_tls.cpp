// SPDX-License-Identifier: GPL-3.0-or-later
// HTTPS with a freshly generated self-signed certificate: requests over TLS are answered
// with HSTS, plain text on the TLS port gets no answer, and a bad certificate path stops
// start-up with a message naming the config key.
#include "TestSupport.h"

#include <QProcess>
#include <QSslSocket>
#include <QStandardPaths>
#include <QtTest>

using namespace bulwark;
using namespace bulwark::test;

class TestHttpTls : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void getOverTls();
    void keepAliveAndPipeliningOverTls();
    void limitsApplyOverTls();
    void plainTextOnTlsPortIsNotServed();
    void missingCertificateFailsStart();
    void missingKeyFailsStart();
    void garbageCertificateFailsStart();

private:
    QTemporaryDir m_certDir;
    QString m_cert;
    QString m_key;
    std::unique_ptr<TestServer> m_server;
};

void TestHttpTls::initTestCase()
{
    QVERIFY2(QSslSocket::supportsSsl(), "this Qt build has no TLS backend");
    const QString openssl = QStandardPaths::findExecutable(QStringLiteral("openssl"));
    if (openssl.isEmpty())
        QFAIL("the openssl command-line tool is missing (Debian package: openssl); it is needed to "
              "generate the test certificate");
    QVERIFY(m_certDir.isValid());
    m_cert = m_certDir.filePath(QStringLiteral("cert.pem"));
    m_key = m_certDir.filePath(QStringLiteral("key.pem"));
    QProcess proc;
    proc.setProcessChannelMode(QProcess::MergedChannels);
    proc.start(openssl,
               {QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-newkey"),
                QStringLiteral("rsa:2048"), QStringLiteral("-nodes"), QStringLiteral("-subj"),
                QStringLiteral("/CN=localhost"), QStringLiteral("-days"), QStringLiteral("2"),
                QStringLiteral("-keyout"), m_key, QStringLiteral("-out"), m_cert});
    QVERIFY2(proc.waitForStarted(10000), qPrintable(proc.errorString()));
    QVERIFY2(proc.waitForFinished(60000), "openssl req did not finish within 60 s");
    QVERIFY2(proc.exitStatus() == QProcess::NormalExit && proc.exitCode() == 0,
             proc.readAll().constData());
    QVERIFY(QFileInfo::exists(m_cert));
    QVERIFY(QFileInfo::exists(m_key));

    m_server = std::make_unique<TestServer>();
    m_server->config.server.tls.certFile = m_cert;
    m_server->config.server.tls.keyFile = m_key;
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    QVERIFY(m_server->app()->baseUrl().startsWith(QStringLiteral("https://127.0.0.1:")));
}

void TestHttpTls::cleanupTestCase()
{
    m_server.reset();
}

void TestHttpTls::getOverTls()
{
    RawHttpClient client;
    QVERIFY2(client.connectEncrypted(m_server->port()), qPrintable(client.errorString()));
    auto *ssl = qobject_cast<QSslSocket *>(client.socket());
    QVERIFY(ssl && ssl->isEncrypted());
    QCOMPARE(ssl->peerCertificate().subjectInfo(QSslCertificate::CommonName),
             QStringList{QStringLiteral("localhost")});
    QVERIFY2(ssl->sessionProtocol() == QSsl::TlsV1_2 || ssl->sessionProtocol() == QSsl::TlsV1_3,
             "TLS 1.2 or later expected");
    QVERIFY2(client.send(request("GET", "/health/live")), qPrintable(client.errorString()));
    RawResponse r;
    QVERIFY2(client.readResponse(&r), qPrintable(client.errorString()));
    QCOMPARE(r.statusLine, QByteArray("HTTP/1.1 200 OK"));
    QCOMPARE(r.header("Strict-Transport-Security"),
             QByteArray("max-age=31536000; includeSubDomains"));
    QCOMPARE(r.header("X-Content-Type-Options"), QByteArray("nosniff"));
    QCOMPARE(r.json().value(QStringLiteral("status")).toString(), QStringLiteral("live"));
    BULWARK_CHECK(verifyCommonHeaders(r));
}

void TestHttpTls::keepAliveAndPipeliningOverTls()
{
    RawHttpClient client;
    QVERIFY2(client.connectEncrypted(m_server->port()), qPrintable(client.errorString()));
    QVERIFY2(
        client.send(request("GET", "/health/live", "X-Request-Id: t1\r\n") +
                    request("GET", "/nope", "X-Request-Id: t2\r\n") +
                    request("GET", "/health/live", "X-Request-Id: t3\r\nConnection: close\r\n")),
        qPrintable(client.errorString()));
    const QList<std::pair<QByteArray, int>> expected{{"t1", 200}, {"t2", 404}, {"t3", 200}};
    for (const auto &[id, status] : expected) {
        RawResponse r;
        QVERIFY2(client.readResponse(&r), qPrintable(client.errorString()));
        QCOMPARE(r.header("X-Request-Id"), id);
        QCOMPARE(r.status, status);
        QVERIFY(r.hasHeader("Strict-Transport-Security"));
    }
    QVERIFY2(client.waitForClose(3000), qPrintable(client.errorString()));
}

// Framing errors are answered inside the TLS session too, with HSTS.
void TestHttpTls::limitsApplyOverTls()
{
    RawHttpClient client;
    QVERIFY2(client.connectEncrypted(m_server->port()), qPrintable(client.errorString()));
    QVERIFY2(
        client.send("GET /" + QByteArray(9 * 1024, 'a') + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        qPrintable(client.errorString()));
    RawResponse r;
    QVERIFY2(client.readResponse(&r, 3000), qPrintable(client.errorString()));
    BULWARK_CHECK(verifyJsonError(r, 414, QStringLiteral("uri_too_long")));
    QVERIFY(r.hasHeader("Strict-Transport-Security"));
    QVERIFY2(client.waitForClose(3000), qPrintable(client.errorString()));
}

void TestHttpTls::plainTextOnTlsPortIsNotServed()
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(m_server->port()), qPrintable(client.errorString()));
    QVERIFY2(client.send(request("GET", "/health/live")), qPrintable(client.errorString()));
    // The TLS handshake fails on an HTTP request line; the server drops the connection.
    QVERIFY2(client.waitForClose(5000), qPrintable(client.errorString()));
    const QByteArray got = client.pending();
    QVERIFY2(!got.startsWith("HTTP/1.1 200") && !got.contains("\"live\""),
             got.left(200).constData());

    // The server is still fine for TLS clients afterwards.
    RawHttpClient good;
    QVERIFY2(good.connectEncrypted(m_server->port()), qPrintable(good.errorString()));
    QVERIFY2(good.send(request("GET", "/health/live")), qPrintable(good.errorString()));
    RawResponse r;
    QVERIFY2(good.readResponse(&r), qPrintable(good.errorString()));
    QCOMPARE(r.status, 200);
}

void TestHttpTls::missingCertificateFailsStart()
{
    TestServer server;
    server.config.server.tls.certFile = m_certDir.filePath(QStringLiteral("does-not-exist.pem"));
    server.config.server.tls.keyFile = m_key;
    QVERIFY(!server.start());
    QVERIFY2(server.errorString().contains(QStringLiteral("server.tls.cert")),
             qPrintable(server.errorString()));
    QVERIFY2(server.errorString().contains(QStringLiteral("does-not-exist.pem")),
             qPrintable(server.errorString()));
}

void TestHttpTls::missingKeyFailsStart()
{
    TestServer server;
    server.config.server.tls.certFile = m_cert;
    server.config.server.tls.keyFile = m_certDir.filePath(QStringLiteral("no-key.pem"));
    QVERIFY(!server.start());
    QVERIFY2(server.errorString().contains(QStringLiteral("server.tls.key")),
             qPrintable(server.errorString()));
}

void TestHttpTls::garbageCertificateFailsStart()
{
    const QString garbage = m_certDir.filePath(QStringLiteral("garbage.pem"));
    QFile f(garbage);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("not a certificate\n");
    f.close();
    TestServer server;
    server.config.server.tls.certFile = garbage;
    server.config.server.tls.keyFile = m_key;
    QVERIFY(!server.start());
    QVERIFY2(server.errorString().contains(QStringLiteral("server.tls.cert")),
             qPrintable(server.errorString()));
}

QTEST_GUILESS_MAIN(TestHttpTls)
#include "tst_http_tls.moc"
