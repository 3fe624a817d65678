// SPDX-License-Identifier: GPL-3.0-or-later
// Shared support for the integration tests: TestServer embeds a real ServerApp on
// 127.0.0.1 port 0 with a temporary data directory, and RawHttpClient speaks raw HTTP/1.x
// bytes over loopback (plain or TLS) with deadlines, so tests see exactly what goes on the wire.
#pragma once

#include "Config.h"
#include "ServerApp.h"

#include <QByteArray>
#include <QElapsedTimer>
#include <QJsonObject>
#include <QList>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest>
#include <memory>

namespace bulwark::test {

// Runs `call` (a void helper that uses QVERIFY/QCOMPARE) and returns from the calling test
// function when it failed.
#define BULWARK_CHECK(call)                                                                        \
    do {                                                                                           \
        call;                                                                                      \
        if (QTest::currentTestFailed())                                                            \
            return;                                                                                \
    } while (false)

// A Config for tests: loopback, port 0, two worker threads, access log off, debug
// endpoints on, data directory as given.
Config testConfig(const QString &dataDir);

class TestServer
{
public:
    TestServer();
    ~TestServer();
    Q_DISABLE_COPY_MOVE(TestServer)

private:
    QTemporaryDir m_dir; // first: config below points into it

public:
    Config config; // edit before start()

    bool start();
    QString errorString() const { return m_error; }
    ServerApp *app() const { return m_app.get(); }
    quint16 port() const { return m_app ? m_app->port() : 0; }
    QString dataDir() const { return m_dir.path(); }
    // Stops the server (joins its threads) now.
    void stop() { m_app.reset(); }

private:
    std::unique_ptr<ServerApp> m_app;
    QString m_error;
};

struct RawResponse
{
    QByteArray statusLine;
    QByteArray version; // "HTTP/1.1"
    int status = 0;
    QByteArray reason;
    QList<std::pair<QByteArray, QByteArray>> headers; // as received
    QByteArray body;

    // First value of the header (case-insensitive name), or a null QByteArray.
    QByteArray header(QByteArrayView name) const;
    bool hasHeader(QByteArrayView name) const;
    int headerCount(QByteArrayView name) const;
    QJsonObject json() const; // the body parsed as a JSON object (empty when not JSON)
};

class RawHttpClient
{
public:
    RawHttpClient();
    ~RawHttpClient();
    Q_DISABLE_COPY_MOVE(RawHttpClient)

    bool connectTo(quint16 port, int timeoutMs = 5000);
    // TLS with peer verification off (self-signed test certificates).
    bool connectEncrypted(quint16 port, int timeoutMs = 5000);
    bool send(const QByteArray &bytes, int timeoutMs = 5000);

    // Reads one complete response. `head`: the response to a HEAD request (no body).
    // False on timeout, close before a complete response, or garbage; see errorString().
    bool readResponse(RawResponse *out, int timeoutMs = 5000, bool head = false);
    // Waits until the server closes the connection (EOF or reset). Bytes that arrive
    // meanwhile stay in pending(). False when it is still open at the deadline.
    bool waitForClose(int timeoutMs = 5000);
    // Waits up to timeoutMs for any bytes; true when something arrived.
    bool waitForBytes(int timeoutMs);
    bool isConnected() const;
    QByteArray pending() const { return m_buffer; }
    QByteArray takePending();
    QString errorString() const { return m_error; }
    QTcpSocket *socket() const { return m_socket.get(); }
    void close();

private:
    bool fill(int waitMs);
    enum class Parse
    {
        NeedMore,
        Done,
        Bad
    };
    Parse tryParse(RawResponse *out, bool head, bool atEof);

    std::unique_ptr<QTcpSocket> m_socket;
    QByteArray m_buffer;
    QString m_error;
    bool m_eof = false;
};

// A JSON value as compact text (a scalar without the array around it), for messages.
QString compact(const QJsonValue &v);

// "GET <target> HTTP/1.1\r\nHost: 127.0.0.1\r\n<extra>\r\n"; extra lines end in \r\n.
QByteArray request(const QByteArray &method, const QByteArray &target,
                   const QByteArray &extraHeaders = {}, const QByteArray &body = {},
                   const QByteArray &version = "HTTP/1.1");

// One GET on a fresh connection; asserts a complete response arrived.
void fetch(quint16 port, const QByteArray &target, RawResponse *out,
           const QByteArray &extraHeaders = {});

// One data-API request on a fresh connection (Connection: close), with the API key (if any),
// extra header lines, and a JSON body for POST/PUT/PATCH. A transport failure comes back as
// status 0 with the reason in the body, so that the assertion that follows shows it.
RawResponse apiRequest(quint16 port, const QByteArray &method, const QString &target,
                       const QByteArray &token, const QJsonObject &body = {}, int timeoutMs = 10000,
                       const QByteArray &extraHeaders = {});

// A user made through the server's UserStore, with a fresh API key.
struct TestAccount
{
    qint64 id = 0;
    QString email;
    QByteArray token;
};
// Fails the current test (and returns an empty account) when the store refuses.
TestAccount addTestAccount(ServerApp &app, const QString &email,
                           const QString &role = QStringLiteral("user"));
QByteArray newTestKey(ServerApp &app, qint64 userId);

// FLUSHALL on the redis-server at 127.0.0.1:port (asserts +OK).
void flushRedis(quint16 port);
// GET /admin/api/ratelimit's "stats" of the rule at `index`.
QJsonObject rateLimitRuleStats(TestServer &server, int index = 0);

// Asserts the response is `status` with the JSON error shape {"error":{"code","message"}}.
void verifyJsonError(const RawResponse &r, int status, const QString &code);
// Asserts the headers every response carries: Date (IMF-fixdate) and Server.
void verifyCommonHeaders(const RawResponse &r);

} // namespace bulwark::test
