// SPDX-License-Identifier: GPL-3.0-or-later
// See TestSupport.h. The HTTP response parser here is deliberately independent of the
// server's code, so a framing bug on the server cannot be mirrored by the test.
#include "TestSupport.h"

#include <QJsonArray>

#include <QDateTime>
#include <QJsonDocument>
#include <QLocale>
#include <QRegularExpression>
#include <QSslSocket>
#include <QTimeZone>

namespace bulwark::test {

namespace {
constexpr qsizetype kMaxResponse = 64 * 1024 * 1024;
constexpr int kMaxIterations = 100000;

QtMessageHandler g_previousHandler = nullptr;

// Each worker's QAbstractHttpServer is bound to a QTcpServer that never listens (the
// acceptor owns the listening socket); Qt 6.4 warns about that once per worker. The
// product's Logger drops exactly this message; the tests do the same and pass the rest
// on to Qt Test's handler.
void filterExpectedWarnings(QtMsgType type, const QMessageLogContext &context,
                            const QString &message)
{
    if (context.category && qstrcmp(context.category, "qt.httpserver") == 0 &&
        message.contains(QLatin1String("is not listening")))
        return;
    if (g_previousHandler)
        g_previousHandler(type, context, message);
}
} // namespace

Config testConfig(const QString &dataDir)
{
    Config c;
    c.server.address = QHostAddress::LocalHost;
    c.server.port = 0;
    c.server.threads = 2;
    c.server.dataDir = dataDir;
    c.server.debugEndpoints = true;
    c.server.shutdownGrace = Milliseconds(5000);
    c.log.access = AccessLogMode::Off;
    // Tests send many requests from one address and user; the rate-limit tests turn it on.
    c.ratelimit.enabled = false;
    // The job queue's coordinator reads the database in the background; tests that count
    // statements or connections must not see it. The job tests turn it on.
    c.jobs.enabled = false;
    return c;
}

TestServer::TestServer() : config(testConfig(m_dir.path())) {}

TestServer::~TestServer() = default;

bool TestServer::start()
{
    if (!m_dir.isValid()) {
        m_error = QStringLiteral("cannot create a temporary data directory");
        return false;
    }
    static const bool filterInstalled = [] {
        g_previousHandler = qInstallMessageHandler(filterExpectedWarnings);
        return true;
    }();
    Q_UNUSED(filterInstalled);
    m_app = std::make_unique<ServerApp>(config);
    if (!m_app->start(&m_error)) {
        m_app.reset();
        return false;
    }
    if (m_app->port() == 0) {
        m_error = QStringLiteral("server started without a port");
        return false;
    }
    return true;
}

QByteArray RawResponse::header(QByteArrayView name) const
{
    for (const auto &[n, v] : headers)
        if (QByteArrayView(n).compare(name, Qt::CaseInsensitive) == 0)
            return v;
    return {};
}

bool RawResponse::hasHeader(QByteArrayView name) const
{
    return headerCount(name) > 0;
}

int RawResponse::headerCount(QByteArrayView name) const
{
    int n = 0;
    for (const auto &[h, v] : headers)
        if (QByteArrayView(h).compare(name, Qt::CaseInsensitive) == 0)
            ++n;
    return n;
}

QJsonObject RawResponse::json() const
{
    return QJsonDocument::fromJson(body).object();
}

RawHttpClient::RawHttpClient() = default;

RawHttpClient::~RawHttpClient()
{
    close();
}

void RawHttpClient::close()
{
    if (m_socket) {
        m_socket->abort();
        m_socket.reset();
    }
}

bool RawHttpClient::connectTo(quint16 port, int timeoutMs)
{
    close();
    m_buffer.clear();
    m_eof = false;
    m_socket = std::make_unique<QTcpSocket>();
    m_socket->connectToHost(QHostAddress::LocalHost, port);
    if (!m_socket->waitForConnected(timeoutMs)) {
        m_error = QStringLiteral("connect to 127.0.0.1:%1 failed: %2")
                      .arg(port)
                      .arg(m_socket->errorString());
        return false;
    }
    return true;
}

bool RawHttpClient::connectEncrypted(quint16 port, int timeoutMs)
{
    close();
    m_buffer.clear();
    m_eof = false;
    auto ssl = std::make_unique<QSslSocket>();
    ssl->setPeerVerifyMode(QSslSocket::VerifyNone);
    ssl->connectToHostEncrypted(QStringLiteral("127.0.0.1"), port);
    const bool ok = ssl->waitForEncrypted(timeoutMs);
    if (!ok) {
        m_error = QStringLiteral("TLS connect to 127.0.0.1:%1 failed: %2")
                      .arg(port)
                      .arg(ssl->errorString());
        m_socket = std::move(ssl);
        return false;
    }
    m_socket = std::move(ssl);
    return true;
}

bool RawHttpClient::send(const QByteArray &bytes, int timeoutMs)
{
    if (!m_socket || m_socket->state() != QAbstractSocket::ConnectedState) {
        m_error = QStringLiteral("send on a socket that is not connected");
        return false;
    }
    if (m_socket->write(bytes) != bytes.size()) {
        m_error = QStringLiteral("write failed: %1").arg(m_socket->errorString());
        return false;
    }
    QElapsedTimer timer;
    timer.start();
    for (int i = 0; i < kMaxIterations && m_socket->bytesToWrite() > 0; ++i) {
        const qint64 left = timeoutMs - timer.elapsed();
        if (left <= 0 || m_socket->state() != QAbstractSocket::ConnectedState)
            break;
        m_socket->waitForBytesWritten(int(qMin<qint64>(left, 100)));
        // Keep what the server already answered (an early 413/431) instead of letting it
        // sit unread while we push the rest.
        if (m_socket->bytesAvailable() > 0)
            m_buffer.append(m_socket->readAll());
    }
    if (m_socket->bytesToWrite() > 0) {
        m_error = QStringLiteral("could not write %1 bytes within %2 ms (%3 left; %4)")
                      .arg(bytes.size())
                      .arg(timeoutMs)
                      .arg(m_socket->bytesToWrite())
                      .arg(m_socket->errorString());
        return false;
    }
    return true;
}

bool RawHttpClient::isConnected() const
{
    return m_socket && m_socket->state() == QAbstractSocket::ConnectedState && !m_eof;
}

QByteArray RawHttpClient::takePending()
{
    QByteArray out;
    out.swap(m_buffer);
    return out;
}

// Waits up to waitMs for more bytes; true when some were appended. Sets m_eof when the
// connection is closed.
bool RawHttpClient::fill(int waitMs)
{
    if (!m_socket)
        return false;
    if (m_socket->bytesAvailable() > 0) {
        m_buffer.append(m_socket->readAll());
        return true;
    }
    if (m_socket->state() != QAbstractSocket::ConnectedState) {
        m_eof = true;
        return false;
    }
    const bool ready = m_socket->waitForReadyRead(waitMs);
    if (m_socket->bytesAvailable() > 0) {
        m_buffer.append(m_socket->readAll());
        return true;
    }
    if (!ready && m_socket->state() != QAbstractSocket::ConnectedState)
        m_eof = true;
    return false;
}

bool RawHttpClient::waitForBytes(int timeoutMs)
{
    if (!m_buffer.isEmpty())
        return true;
    QElapsedTimer timer;
    timer.start();
    for (int i = 0; i < kMaxIterations; ++i) {
        const qint64 left = timeoutMs - timer.elapsed();
        if (left <= 0 || m_eof)
            return false;
        if (fill(int(qMin<qint64>(left, 100))))
            return true;
    }
    return false;
}

RawHttpClient::Parse RawHttpClient::tryParse(RawResponse *out, bool head, bool atEof)
{
    const qsizetype headEnd = m_buffer.indexOf("\r\n\r\n");
    if (headEnd < 0) {
        if (m_buffer.size() > 1024 * 1024) {
            m_error = QStringLiteral("no end of the response head in 1 MiB");
            return Parse::Bad;
        }
        return Parse::NeedMore;
    }
    // Every line of the head, the status line included, ends in CRLF.
    QList<QByteArray> lines = m_buffer.first(headEnd + 2).split('\n');
    lines.removeLast(); // empty: after the last \n
    for (QByteArray &line : lines) {
        if (!line.endsWith('\r')) {
            m_error = QStringLiteral("response line not terminated by CRLF: %1")
                          .arg(QString::fromLatin1(line.left(200)));
            return Parse::Bad;
        }
        line.chop(1);
    }
    RawResponse r;
    r.statusLine = lines.first();
    static const QRegularExpression statusRe(QStringLiteral("^(HTTP/\\d\\.\\d) (\\d{3}) (.*)$"));
    const auto m = statusRe.match(QString::fromLatin1(r.statusLine));
    if (!m.hasMatch()) {
        m_error =
            QStringLiteral("bad status line: %1").arg(QString::fromLatin1(r.statusLine.left(200)));
        return Parse::Bad;
    }
    r.version = m.captured(1).toLatin1();
    r.status = m.captured(2).toInt();
    r.reason = m.captured(3).toLatin1();
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const QByteArray &line = lines[i];
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0) {
            m_error = QStringLiteral("malformed header line: %1")
                          .arg(QString::fromLatin1(line.left(200)));
            return Parse::Bad;
        }
        r.headers.append({line.first(colon), line.sliced(colon + 1).trimmed()});
    }
    const qsizetype bodyStart = headEnd + 4;
    qsizetype length = 0;
    bool untilClose = false;
    const bool bodyless =
        head || r.status == 204 || r.status == 304 || (r.status >= 100 && r.status < 200);
    if (!bodyless) {
        if (r.hasHeader("Transfer-Encoding")) {
            m_error = QStringLiteral("unexpected Transfer-Encoding in a response");
            return Parse::Bad;
        }
        if (r.headerCount("Content-Length") > 1) {
            m_error = QStringLiteral("more than one Content-Length");
            return Parse::Bad;
        }
        const QByteArray cl = r.header("Content-Length");
        if (cl.isNull()) {
            untilClose = true;
        } else {
            bool ok = false;
            length = cl.toLongLong(&ok);
            if (!ok || length < 0 || length > kMaxResponse) {
                m_error = QStringLiteral("bad Content-Length %1").arg(QString::fromLatin1(cl));
                return Parse::Bad;
            }
        }
    }
    if (untilClose) {
        if (!atEof)
            return Parse::NeedMore;
        length = m_buffer.size() - bodyStart;
    }
    if (m_buffer.size() - bodyStart < length)
        return Parse::NeedMore;
    r.body = m_buffer.mid(bodyStart, length);
    m_buffer.remove(0, bodyStart + length);
    *out = std::move(r);
    return Parse::Done;
}

bool RawHttpClient::readResponse(RawResponse *out, int timeoutMs, bool head)
{
    QElapsedTimer timer;
    timer.start();
    for (int i = 0; i < kMaxIterations; ++i) {
        switch (tryParse(out, head, m_eof)) {
        case Parse::Done: return true;
        case Parse::Bad: return false;
        case Parse::NeedMore: break;
        }
        if (m_eof) {
            m_error = m_buffer.isEmpty()
                          ? QStringLiteral("connection closed without a response")
                          : QStringLiteral("connection closed after an incomplete response: %1")
                                .arg(QString::fromLatin1(m_buffer.left(300)));
            return false;
        }
        const qint64 left = timeoutMs - timer.elapsed();
        if (left <= 0) {
            m_error = QStringLiteral("no complete response within %1 ms (have %2 bytes: %3)")
                          .arg(timeoutMs)
                          .arg(m_buffer.size())
                          .arg(QString::fromLatin1(m_buffer.left(300)));
            return false;
        }
        fill(int(qMin<qint64>(left, 100)));
    }
    m_error = QStringLiteral("readResponse: too many iterations");
    return false;
}

bool RawHttpClient::waitForClose(int timeoutMs)
{
    QElapsedTimer timer;
    timer.start();
    for (int i = 0; i < kMaxIterations; ++i) {
        if (m_eof || !m_socket)
            return true;
        const qint64 left = timeoutMs - timer.elapsed();
        if (left <= 0) {
            m_error =
                QStringLiteral("the server kept the connection open for %1 ms").arg(timeoutMs);
            return false;
        }
        fill(int(qMin<qint64>(left, 100)));
    }
    return m_eof;
}

QString compact(const QJsonValue &v)
{
    if (v.isObject())
        return QString::fromUtf8(QJsonDocument(v.toObject()).toJson(QJsonDocument::Compact));
    if (v.isArray())
        return QString::fromUtf8(QJsonDocument(v.toArray()).toJson(QJsonDocument::Compact));
    return QString::fromUtf8(
        QJsonDocument(QJsonArray{v}).toJson(QJsonDocument::Compact).chopped(1).mid(1));
}

QByteArray request(const QByteArray &method, const QByteArray &target,
                   const QByteArray &extraHeaders, const QByteArray &body,
                   const QByteArray &version)
{
    QByteArray out =
        method + ' ' + target + ' ' + version + "\r\nHost: 127.0.0.1\r\n" + extraHeaders;
    if (!body.isEmpty())
        out += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
    out += "\r\n";
    out += body;
    return out;
}

void fetch(quint16 port, const QByteArray &target, RawResponse *out, const QByteArray &extraHeaders)
{
    RawHttpClient client;
    QVERIFY2(client.connectTo(port), qPrintable(client.errorString()));
    QVERIFY2(client.send(request("GET", target, extraHeaders + "Connection: close\r\n")),
             qPrintable(client.errorString()));
    QVERIFY2(client.readResponse(out), qPrintable(client.errorString()));
}

RawResponse apiRequest(quint16 port, const QByteArray &method, const QString &target,
                       const QByteArray &token, const QJsonObject &body, int timeoutMs,
                       const QByteArray &extraHeaders)
{
    RawResponse r;
    RawHttpClient client;
    if (!client.connectTo(port)) {
        r.body = client.errorString().toUtf8();
        return r;
    }
    QByteArray headers = "Connection: close\r\n" + extraHeaders;
    if (!token.isEmpty())
        headers += "Authorization: Bearer " + token + "\r\n";
    QByteArray payload;
    if (method == "POST" || method == "PUT" || method == "PATCH") {
        headers += "Content-Type: application/json\r\n";
        payload = QJsonDocument(body).toJson(QJsonDocument::Compact);
    }
    if (!client.send(request(method, target.toUtf8(), headers, payload)) ||
        !client.readResponse(&r, timeoutMs, method == "HEAD")) {
        r = RawResponse();
        r.body = client.errorString().toUtf8();
    }
    return r;
}

void flushRedis(quint16 port)
{
    RawHttpClient redis; // RESP inline commands are lines of text, like HTTP's
    QVERIFY(redis.connectTo(port));
    QVERIFY(redis.send("FLUSHALL\r\n"));
    QVERIFY(redis.waitForBytes(5000));
    QCOMPARE(redis.takePending(), QByteArray("+OK\r\n"));
}

QJsonObject rateLimitRuleStats(TestServer &server, int index)
{
    return apiRequest(server.port(), "GET", "/admin/api/ratelimit", server.app()->adminToken())
        .json()
        .value(QStringLiteral("rules"))
        .toArray()
        .at(index)
        .toObject()
        .value(QStringLiteral("stats"))
        .toObject();
}

QByteArray newTestKey(ServerApp &app, qint64 userId)
{
    const auto key = app.users()->createApiKey(userId, QStringLiteral("test"));
    // The store used a pool connection of this (the test's) thread: give it back, so that
    // the test never holds capacity the server's threads may need.
    app.pool()->closeThreadConnections();
    if (!key.ok()) {
        QTest::qFail(qPrintable(key.error().message), __FILE__, __LINE__);
        return {};
    }
    return key.value().token;
}

TestAccount addTestAccount(ServerApp &app, const QString &email, const QString &role)
{
    TestAccount a;
    a.email = email;
    const auto id =
        app.users()->addUser(email, QStringLiteral("Test ") + email, std::nullopt, role);
    if (!id.ok()) {
        app.pool()->closeThreadConnections();
        QTest::qFail(qPrintable(id.error().message), __FILE__, __LINE__);
        return a;
    }
    a.id = id.value();
    a.token = newTestKey(app, a.id);
    return a;
}

void verifyJsonError(const RawResponse &r, int status, const QString &code)
{
    QCOMPARE(r.status, status);
    QVERIFY2(r.header("Content-Type").startsWith("application/json"),
             r.header("Content-Type").constData());
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(r.body, &parseError);
    QVERIFY2(parseError.error == QJsonParseError::NoError && doc.isObject(), r.body.constData());
    const QJsonObject root = doc.object();
    QVERIFY2(root.value(QStringLiteral("error")).isObject(), r.body.constData());
    const QJsonObject error = root.value(QStringLiteral("error")).toObject();
    QCOMPARE(error.value(QStringLiteral("code")).toString(), code);
    QVERIFY2(error.value(QStringLiteral("message")).isString() &&
                 !error.value(QStringLiteral("message")).toString().isEmpty(),
             r.body.constData());
}

void verifyCommonHeaders(const RawResponse &r)
{
    const QByteArray date = r.header("Date");
    QVERIFY2(!date.isEmpty(), "no Date header");
    static const QRegularExpression dateRe(QStringLiteral(
        "^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \\d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
        "\\d{4} \\d{2}:\\d{2}:\\d{2} GMT$"));
    QVERIFY2(dateRe.match(QString::fromLatin1(date)).hasMatch(), date.constData());
    QDateTime parsed = QLocale::c().toDateTime(QString::fromLatin1(date).chopped(4),
                                               QStringLiteral("ddd, dd MMM yyyy HH:mm:ss"));
    parsed.setTimeZone(QTimeZone::utc());
    QVERIFY2(parsed.isValid(), date.constData());
    const qint64 skew = qAbs(parsed.secsTo(QDateTime::currentDateTimeUtc()));
    QVERIFY2(
        skew <= 5,
        qPrintable(QStringLiteral("Date %1 is %2 s off").arg(QString::fromLatin1(date)).arg(skew)));
    QVERIFY2(r.header("Server").startsWith("Bulwark/"), r.header("Server").constData());
    QCOMPARE(r.headerCount("Date"), 1);
    QCOMPARE(r.headerCount("Server"), 1);
}

} // namespace bulwark::test
