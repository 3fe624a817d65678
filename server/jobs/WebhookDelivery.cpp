// SPDX-License-Identifier: GPL-3.0-or-later
// See WebhookDelivery.h. How one attempt talks HTTP, and why this way:
//
// The attempt is a QTcpSocket (QSslSocket for https) driven by a QEventLoop local to the
// call, in the calling thread, with two QTimers: the total deadline and a 50 ms poll of
// `cancelled`. A small incremental parser reads the status line and headers, then the body
// (Content-Length, chunked or until close) only as far as the 2048-byte snippet needs.
//
// Not QNetworkAccessManager, although it would be less code: QNAM runs HTTP in a thread of
// its own and hands the request and reply across threads through Qt's event queue, which
// Debian's uninstrumented Qt hides from ThreadSanitizer (see ThreadTaskQueue.h), so the
// tsan build would report races that are not there or, worse, teach us to ignore them.
// QNAM also buffers the whole reply (a receiver answering with a large body would cost
// that memory), keeps connections, cookies and an HSTS cache per manager, and would need a
// per-thread manager whose teardown runs at thread exit. Here every object lives and dies
// inside the call, in one thread, and what is read is bounded.
// Not blocking waitFor*() calls either: QAbstractSocket::waitForConnected() resolves host
// names with a blocking lookup that no timeout bounds, and gives up the connection attempt
// when its own timeout expires, so it cannot be called in 50 ms slices to poll for
// cancellation. In event-driven mode the socket resolves names asynchronously (QHostInfo),
// tries each address in turn, and abort() stops any phase at once.
// A local QEventLoop needs no running loop in the thread: it creates the thread's event
// dispatcher if there is none (plain std::thread or QThread::run() without exec()). It does
// need a QCoreApplication. In a thread that runs an event loop, it would re-enter it.
// Trade-off: a fresh connection (and TLS handshake) per attempt, no keep-alive. Webhook
// rates are modest and each attempt is independent (a retry may be minutes later), so
// pooling would buy little and complicate the bounds.
#include "WebhookDelivery.h"

#include "JsonWriter.h"
#include "Version.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QJsonDocument>
#include <QMessageAuthenticationCode>
#include <QNetworkProxy>
#include <QTcpSocket>
#include <QTimer>
#include <QtNetwork/qtnetworkglobal.h>
#if QT_CONFIG(ssl)
#include <QSslError>
#include <QSslSocket>
#endif
#include <limits>
#include <memory>

namespace bulwark {

namespace {

constexpr qsizetype kSnippetLimit = 2048;
constexpr qsizetype kMaxHeadBytes = 64 * 1024; // status line and headers of one response
constexpr qsizetype kMaxChunkLine = 1024;
constexpr int kCancelPollMs = 50;

// Equal-length comparison whose time does not depend on where the inputs differ.
bool constantTimeEquals(const QByteArray &a, const QByteArray &b)
{
    if (a.size() != b.size())
        return false;
    unsigned char diff = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

bool isDigits(QByteArrayView s, qsizetype maxLength)
{
    if (s.isEmpty() || s.size() > maxLength)
        return false;
    for (char c : s) {
        if (c < '0' || c > '9')
            return false;
    }
    return true;
}

bool isHex(QByteArrayView s)
{
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

// A header value we write: printable ASCII only (no CR/LF, so nothing can be injected).
bool isSafeHeaderValue(QByteArrayView v)
{
    if (v.isEmpty())
        return false;
    for (char c : v) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u > 0x7e)
            return false;
    }
    return true;
}

// Reads one HTTP/1.x response incrementally: feed() the bytes as they arrive, end() when
// the connection closed. Interim (1xx) responses are skipped. Once the final status line
// and headers are in, hasStatus() is true; the body is kept up to kSnippetLimit bytes and
// the reader is done() as soon as the snippet is full or the body is complete.
class ResponseReader
{
public:
    void feed(const QByteArray &data)
    {
        if (m_state == State::Done || m_state == State::Failed)
            return;
        m_sawBytes = m_sawBytes || !data.isEmpty();
        m_buffer.append(data);
        if (m_state == State::Head)
            readHead();
        if (m_state == State::Body)
            readBody();
    }
    void end()
    {
        if (m_state == State::Head) {
            fail(m_sawBytes ? QStringLiteral("connection closed in the middle of the response")
                            : QStringLiteral("connection closed without a response"));
        } else if (m_state == State::Body) {
            m_state = State::Done; // close-delimited (or cut short: the status stands)
        }
    }
    bool hasStatus() const { return m_status > 0; }
    bool done() const { return m_state == State::Done; }
    bool failed() const { return m_state == State::Failed; }
    int status() const { return m_status; }
    const QString &error() const { return m_error; }
    const QByteArray &snippet() const { return m_snippet; }

private:
    enum class State
    {
        Head,
        Body,
        Done,
        Failed
    };
    enum class BodyKind
    {
        Length,
        Chunked,
        UntilClose
    };
    enum class ChunkPart
    {
        Size,
        Data,
        DataEnd
    };

    void fail(const QString &error)
    {
        m_state = State::Failed;
        m_error = error;
    }

    void readHead()
    {
        while (m_state == State::Head) {
            const qsizetype crlf = m_buffer.indexOf("\r\n\r\n");
            const qsizetype lf = m_buffer.indexOf("\n\n");
            qsizetype end = -1;
            qsizetype separator = 0;
            if (crlf >= 0 && (lf < 0 || crlf < lf)) {
                end = crlf;
                separator = 4;
            } else if (lf >= 0) {
                end = lf;
                separator = 2;
            }
            if (end < 0) {
                if (m_buffer.size() > kMaxHeadBytes)
                    fail(QStringLiteral("response headers too large"));
                return;
            }
            if (end > kMaxHeadBytes) {
                fail(QStringLiteral("response headers too large"));
                return;
            }
            const QByteArray head = m_buffer.left(end);
            m_buffer.remove(0, end + separator);
            parseHead(head);
        }
    }

    void parseHead(const QByteArray &head)
    {
        const QList<QByteArray> lines = head.split('\n');
        QByteArray statusLine = lines.value(0);
        if (statusLine.endsWith('\r'))
            statusLine.chop(1);
        // "HTTP/1.1 200 OK": version, space, three digits, then a space or the end.
        if (!statusLine.startsWith("HTTP/1.") || statusLine.size() < 12 || statusLine[8] != ' ' ||
            !isDigits(QByteArrayView(statusLine).sliced(9, 3), 3) ||
            (statusLine.size() > 12 && statusLine[12] != ' ')) {
            fail(QStringLiteral("malformed response status line"));
            return;
        }
        const int status = statusLine.mid(9, 3).toInt();
        if (status < 100) {
            fail(QStringLiteral("malformed response status line"));
            return;
        }
        if (status < 200 && status != 101)
            return; // interim response (100 Continue, 103 Early Hints): the next head follows

        qint64 contentLength = -1;
        bool chunked = false;
        for (qsizetype i = 1; i < lines.size(); ++i) {
            const QByteArray &line = lines[i];
            const qsizetype colon = line.indexOf(':');
            if (colon <= 0)
                continue;
            const QByteArray name = line.left(colon).trimmed().toLower();
            const QByteArray value = line.mid(colon + 1).trimmed();
            if (name == "content-length") {
                if (isDigits(value, 18))
                    contentLength = value.toLongLong();
            } else if (name == "transfer-encoding") {
                const QList<QByteArray> codings = value.split(',');
                chunked = codings.last().trimmed().toLower() == "chunked";
            }
        }

        m_status = status;
        if (status == 101 || status == 204 || status == 304) {
            m_state = State::Done;
        } else if (chunked) {
            m_kind = BodyKind::Chunked;
            m_state = State::Body;
        } else if (contentLength >= 0) {
            m_kind = BodyKind::Length;
            m_remaining = contentLength;
            m_state = contentLength == 0 ? State::Done : State::Body;
        } else {
            m_kind = BodyKind::UntilClose;
            m_state = State::Body;
        }
    }

    // Moves up to m_remaining buffered bytes into the snippet (as far as it has room).
    void takeData()
    {
        const qsizetype take = qsizetype(qMin<qint64>(m_remaining, m_buffer.size()));
        m_snippet.append(m_buffer.constData(), qMin(take, kSnippetLimit - m_snippet.size()));
        m_buffer.remove(0, take);
        m_remaining -= take;
    }

    void readBody()
    {
        while (m_state == State::Body) {
            if (m_snippet.size() >= kSnippetLimit) {
                m_state = State::Done; // all the caller keeps
                return;
            }
            switch (m_kind) {
            case BodyKind::UntilClose:
                m_snippet.append(m_buffer.left(kSnippetLimit - m_snippet.size()));
                m_buffer.clear();
                if (m_snippet.size() < kSnippetLimit)
                    return; // more may come, or end()
                break;
            case BodyKind::Length:
                takeData();
                if (m_remaining == 0)
                    m_state = State::Done;
                else if (m_buffer.isEmpty() && m_snippet.size() < kSnippetLimit)
                    return;
                break;
            case BodyKind::Chunked:
                if (!readChunked()) {
                    if (m_snippet.size() >= kSnippetLimit)
                        m_state = State::Done; // no need to wait for the rest of a chunk
                    return;
                }
                break;
            }
        }
    }

    // One step of chunked decoding; false when more bytes are needed. A malformed chunk
    // ends the body (the status is what matters; the snippet is a courtesy).
    bool readChunked()
    {
        switch (m_chunkPart) {
        case ChunkPart::Size: {
            const qsizetype newline = m_buffer.indexOf('\n');
            if (newline < 0) {
                if (m_buffer.size() > kMaxChunkLine)
                    m_state = State::Done;
                return false;
            }
            QByteArray line = m_buffer.left(newline);
            m_buffer.remove(0, newline + 1);
            const qsizetype semicolon = line.indexOf(';');
            if (semicolon >= 0)
                line.truncate(semicolon);
            line = line.trimmed();
            bool ok = false;
            const qint64 size = line.toLongLong(&ok, 16);
            if (!ok || size < 0 || line.isEmpty() || !isHex(line)) {
                m_state = State::Done;
                return true;
            }
            if (size == 0) {
                m_state = State::Done; // trailers are of no interest
                return true;
            }
            m_remaining = size;
            m_chunkPart = ChunkPart::Data;
            return true;
        }
        case ChunkPart::Data:
            takeData();
            if (m_remaining > 0)
                return false;
            m_chunkPart = ChunkPart::DataEnd;
            return true;
        case ChunkPart::DataEnd:
            if (m_buffer.startsWith("\r\n")) {
                m_buffer.remove(0, 2);
            } else if (m_buffer.startsWith('\n')) {
                m_buffer.remove(0, 1);
            } else if (m_buffer.size() < 2) {
                return false;
            } else {
                m_state = State::Done;
                return true;
            }
            m_chunkPart = ChunkPart::Size;
            return true;
        }
        return false;
    }

    State m_state = State::Head;
    BodyKind m_kind = BodyKind::UntilClose;
    ChunkPart m_chunkPart = ChunkPart::Size;
    qint64 m_remaining = 0;
    int m_status = 0;
    bool m_sawBytes = false;
    QString m_error;
    QByteArray m_buffer;
    QByteArray m_snippet;
};

} // namespace

QByteArray webhookSignature(const QByteArray &secret, qint64 unixSeconds, const QByteArray &body)
{
    QByteArray message = QByteArray::number(unixSeconds);
    message.reserve(message.size() + 1 + body.size());
    message.append('.').append(body);
    return QMessageAuthenticationCode::hash(message, secret, QCryptographicHash::Sha256).toHex();
}

QByteArray webhookSignatureHeader(const QByteArray &secret, qint64 unixSeconds,
                                  const QByteArray &body)
{
    return "t=" + QByteArray::number(unixSeconds) +
           ",v1=" + webhookSignature(secret, unixSeconds, body);
}

QString verifyWebhookSignature(const QByteArray &secret, const QByteArray &header,
                               const QByteArray &body, qint64 nowUnixSeconds,
                               qint64 toleranceSeconds)
{
    if (secret.isEmpty())
        return QStringLiteral("no secret to verify with");
    qint64 timestamp = -1;
    QList<QByteArray> signatures;
    for (const QByteArray &element : header.split(',')) {
        const QByteArray item = element.trimmed();
        const qsizetype eq = item.indexOf('=');
        if (eq <= 0)
            return QStringLiteral("malformed signature header");
        const QByteArray key = item.left(eq);
        const QByteArray value = item.mid(eq + 1);
        if (key == "t") {
            if (timestamp >= 0 || !isDigits(value, 18))
                return QStringLiteral("malformed signature header: bad timestamp");
            timestamp = value.toLongLong();
        } else if (key == "v1") {
            if (value.size() != 64 || !isHex(value))
                return QStringLiteral("malformed signature header: bad v1 signature");
            signatures.append(value.toLower());
        }
        // Other schemes (v0, v2, ...) are ignored, so a sender can add one later.
    }
    if (timestamp < 0)
        return QStringLiteral("signature header has no timestamp");
    if (signatures.isEmpty())
        return QStringLiteral("signature header has no v1 signature");

    const qint64 tolerance = qMax<qint64>(0, toleranceSeconds);
    qint64 age = 0;
    if (qSubOverflow(nowUnixSeconds, timestamp, &age) || age > tolerance || age < -tolerance)
        return QStringLiteral("timestamp outside the tolerance");

    const QByteArray expected = webhookSignature(secret, timestamp, body);
    bool match = false;
    for (const QByteArray &candidate : std::as_const(signatures))
        match = constantTimeEquals(candidate, expected) || match; // compare them all
    return match ? QString() : QStringLiteral("signature mismatch");
}

QByteArray webhookBody(const QString &deliveryId, const QString &event, qint64 emittedAtMs,
                       const QJsonObject &payload)
{
    QByteArray out;
    JsonWriter json(out);
    json.beginObject();
    json.key(QLatin1StringView("id"));
    json.string(deliveryId);
    json.key(QLatin1StringView("event"));
    json.string(event);
    json.key(QLatin1StringView("created_at"));
    json.string(QDateTime::fromMSecsSinceEpoch(emittedAtMs, Qt::UTC).toString(Qt::ISODateWithMs));
    json.key(QLatin1StringView("data"));
    json.value(payload);
    json.endObject();
    return out;
}

WebhookAttempt deliverWebhook(const QUrl &url, const QByteArray &secret, const QString &event,
                              const QString &deliveryId, const QByteArray &body, qint64 unixSeconds,
                              std::chrono::milliseconds timeout,
                              const std::function<bool()> &cancelled)
{
    QElapsedTimer elapsed;
    elapsed.start();
    WebhookAttempt result;
    const auto finish = [&](const QString &error) {
        result.error = error;
        result.durationMs = elapsed.elapsed();
        return result;
    };
    const auto isCancelled = [&cancelled] { return cancelled && cancelled(); };

    if (isCancelled())
        return finish(QStringLiteral("cancelled"));
    const QString scheme = url.scheme().toLower();
    const bool https = scheme == QLatin1String("https");
    if (!url.isValid() || (!https && scheme != QLatin1String("http")))
        return finish(QStringLiteral("invalid webhook URL (http or https only): %1")
                          .arg(url.toDisplayString(QUrl::RemoveUserInfo)));
    QString host = url.host(QUrl::FullyEncoded);
    if (host.startsWith(QLatin1Char('[')) && host.endsWith(QLatin1Char(']')))
        host = host.mid(1, host.size() - 2);
    if (host.isEmpty())
        return finish(QStringLiteral("webhook URL has no host"));
#if QT_CONFIG(ssl)
    if (https && !QSslSocket::supportsSsl())
        return finish(QStringLiteral("TLS is not available (no TLS backend)"));
#else
    if (https)
        return finish(QStringLiteral("TLS is not available (Qt built without SSL)"));
#endif
    if (!QCoreApplication::instance())
        return finish(QStringLiteral("no QCoreApplication"));

    const QByteArray eventHeader = event.toUtf8();
    const QByteArray deliveryHeader = deliveryId.toUtf8();
    if (!isSafeHeaderValue(eventHeader) || !isSafeHeaderValue(deliveryHeader))
        return finish(QStringLiteral("event name or delivery id is not printable ASCII"));

    const quint16 defaultPort = https ? 443 : 80;
    const int port = url.port(defaultPort);
    QByteArray hostHeader = host.toLatin1();
    if (hostHeader.contains(':'))
        hostHeader = '[' + hostHeader + ']';
    if (port != defaultPort)
        hostHeader += ':' + QByteArray::number(port);
    QByteArray target = url.path(QUrl::FullyEncoded).toLatin1();
    if (target.isEmpty())
        target = "/";
    if (url.hasQuery())
        target += '?' + url.query(QUrl::FullyEncoded).toLatin1();
    if (!isSafeHeaderValue(target) || target.contains(' '))
        return finish(QStringLiteral("webhook URL path cannot be sent"));

    QByteArray request;
    request.reserve(512 + body.size());
    request += "POST " + target + " HTTP/1.1\r\n";
    request += "Host: " + hostHeader + "\r\n";
    request += "User-Agent: Bulwark-Webhooks/" BULWARK_VERSION "\r\n";
    request += "Content-Type: application/json\r\n";
    request += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
    request += "Bulwark-Event: " + eventHeader + "\r\n";
    request += "Bulwark-Delivery: " + deliveryHeader + "\r\n";
    request += "Bulwark-Timestamp: " + QByteArray::number(unixSeconds) + "\r\n";
    request += "Bulwark-Signature: " + webhookSignatureHeader(secret, unixSeconds, body) + "\r\n";
    if (!url.userName().isEmpty()) {
        const QByteArray credentials = url.userName(QUrl::FullyDecoded).toUtf8() + ':' +
                                       url.password(QUrl::FullyDecoded).toUtf8();
        request += "Authorization: Basic " + credentials.toBase64() + "\r\n";
    }
    request += "Connection: close\r\n\r\n";
    request += body;

    const qint64 remainingMs = qint64(timeout.count()) - elapsed.elapsed();
    if (remainingMs <= 0)
        return finish(QStringLiteral("timeout before connecting"));

    // Everything below lives in this thread and this call. The loop first: it gives the
    // thread an event dispatcher, which the timers and the socket's notifiers need.
    QEventLoop loop;
    std::unique_ptr<QTcpSocket> socket;
#if QT_CONFIG(ssl)
    QSslSocket *ssl = nullptr;
    QString sslErrors;
    if (https) {
        auto s = std::make_unique<QSslSocket>();
        ssl = s.get();
        socket = std::move(s);
    } else
#endif
    {
        socket = std::make_unique<QTcpSocket>();
    }
    socket->setProxy(QNetworkProxy::NoProxy);

    ResponseReader reader;
    bool finished = false;
    bool connected = false;
    QString failure;
    const auto stop = [&](const QString &error) {
        if (finished)
            return;
        finished = true;
        failure = error;
        loop.quit();
    };
    const auto readAvailable = [&] {
        reader.feed(socket->readAll());
        if (reader.done())
            stop(QString());
        else if (reader.failed())
            stop(reader.error());
    };
    const auto sendRequest = [&] {
        connected = true;
        socket->write(request);
    };

#if QT_CONFIG(ssl)
    if (ssl) {
        QObject::connect(ssl, &QSslSocket::encrypted, &loop, sendRequest);
        QObject::connect(ssl, &QSslSocket::sslErrors, &loop, [&](const QList<QSslError> &errors) {
            QStringList texts;
            for (const QSslError &e : errors)
                texts << e.errorString();
            sslErrors = texts.join(QStringLiteral("; "));
        });
    } else
#endif
    {
        QObject::connect(socket.get(), &QAbstractSocket::connected, &loop, sendRequest);
    }
    QObject::connect(socket.get(), &QIODevice::readyRead, &loop, readAvailable);
    QObject::connect(socket.get(), &QAbstractSocket::errorOccurred, &loop,
                     [&](QAbstractSocket::SocketError error) {
                         if (error == QAbstractSocket::RemoteHostClosedError) {
                             reader.feed(socket->readAll());
                             reader.end();
                             stop(reader.error());
                             return;
                         }
                         QString text = socket->errorString();
#if QT_CONFIG(ssl)
                         if (!sslErrors.isEmpty())
                             text = QStringLiteral("TLS: ") + sslErrors;
#endif
                         stop(connected ? QStringLiteral("connection error: ") + text
                                        : QStringLiteral("cannot connect: ") + text);
                     });
    QObject::connect(socket.get(), &QAbstractSocket::disconnected, &loop, [&] {
        reader.feed(socket->readAll());
        reader.end();
        stop(reader.error());
    });

    QTimer deadline;
    deadline.setSingleShot(true);
    deadline.setTimerType(Qt::PreciseTimer);
    QObject::connect(&deadline, &QTimer::timeout, &loop, [&] {
        stop(connected ? QStringLiteral("timeout waiting for the response")
                       : QStringLiteral("timeout connecting to %1").arg(host));
    });
    deadline.start(int(qMin<qint64>(remainingMs, std::numeric_limits<int>::max())));
    QTimer poll;
    if (cancelled) {
        QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
            if (cancelled())
                stop(QStringLiteral("cancelled"));
        });
        poll.start(kCancelPollMs);
    }

#if QT_CONFIG(ssl)
    if (ssl)
        ssl->connectToHostEncrypted(host, quint16(port));
    else
#endif
        socket->connectToHost(host, quint16(port));
    if (!finished) // an error may already have been reported from inside connectToHost
        loop.exec(QEventLoop::ExcludeUserInputEvents);

    // Nothing may call back into this frame once it returns.
    QObject::disconnect(socket.get(), nullptr, &loop, nullptr);
    socket->abort();
    deadline.stop();
    poll.stop();

    if (reader.hasStatus()) {
        // The receiver answered: its status stands, whatever happened to the body after.
        result.status = reader.status();
        result.responseSnippet = reader.snippet();
        return finish(QString());
    }
    return finish(failure.isEmpty() ? QStringLiteral("no response") : failure);
}

} // namespace bulwark
