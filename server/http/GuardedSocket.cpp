// SPDX-License-Identifier: GPL-3.0-or-later
// See GuardedSocket.h.
#include "GuardedSocket.h"

#include "ErrorMapping.h"
#include "ResponseWriter.h"
#include "SocketShutdown.h"
#include "Stages.h"
#include "WorkerHttpServer.h"

#include <QSslSocket>

namespace bulwark {

namespace {
constexpr qint64 kMaxPendingOutput = 4 * 1024 * 1024; // stop reading requests beyond this
constexpr auto kLinger = std::chrono::seconds(2);
auto now()
{
    return std::chrono::steady_clock::now();
}
} // namespace

GuardedSocket::GuardedSocket(QTcpSocket *inner, ListenerShared &shared, bool tls)
    : m_inner(inner), m_shared(shared), m_tls(tls), m_framer(shared.limits)
{
    m_inner->setParent(this);
    // Bounded so that a client that pipelines faster than it reads is held back by TCP
    // flow control instead of by our memory.
    m_inner->setReadBufferSize(256 * 1024);
    setSocketState(QAbstractSocket::ConnectedState);
    setPeerAddress(m_inner->peerAddress());
    setPeerPort(m_inner->peerPort());
    setLocalAddress(m_inner->localAddress());
    setLocalPort(m_inner->localPort());
    QIODevice::open(QIODevice::ReadWrite);
    m_lastActivity = now();

    connect(m_inner, &QIODevice::readyRead, this, &GuardedSocket::onInnerReadyRead);
    connect(m_inner, &QIODevice::bytesWritten, this, &GuardedSocket::onBytesWritten);
    connect(m_inner, &QAbstractSocket::disconnected, this, &GuardedSocket::finish);
    connect(m_inner, &QAbstractSocket::errorOccurred, this, [this](QAbstractSocket::SocketError) {
        if (m_inner->state() != QAbstractSocket::ConnectedState)
            finish();
    });
    if (auto *ssl = qobject_cast<QSslSocket *>(m_inner)) {
        connect(ssl, &QSslSocket::sslErrors, this,
                [this](const QList<QSslError> &) { m_inner->abort(); });
        // Handshake failures end in errorOccurred + disconnected, handled above.
    }
}

GuardedSocket::~GuardedSocket()
{
    m_shared.openConnections.fetch_sub(1, std::memory_order_relaxed);
    m_shared.metrics->openConnections.dec();
    // QAbstractSocket's destructor would call abort() -> disconnected() on a half-destroyed
    // object; we are past that point, so only the state is reset.
    setSocketState(QAbstractSocket::UnconnectedState);
}

bool GuardedSocket::responseMustClose() const
{
    return !m_current.keepAlive || m_shared.draining.load(std::memory_order_relaxed);
}

qint64 GuardedSocket::bytesAvailable() const
{
    return QIODevice::bytesAvailable() + m_staged.size();
}

qint64 GuardedSocket::readData(char *data, qint64 maxSize)
{
    const qint64 n = qMin<qint64>(maxSize, m_staged.size());
    if (n <= 0)
        return m_finished ? -1 : 0;
    memcpy(data, m_staged.constData(), size_t(n));
    m_staged.remove(0, qsizetype(n));
    return n;
}

qint64 GuardedSocket::writeData(const char *data, qint64 size)
{
    // Responses go through sendResponse(); this keeps the QIODevice contract for anything else.
    if (m_closing || m_finished)
        return -1;
    return m_inner->write(data, size);
}

void GuardedSocket::onInnerReadyRead()
{
    if (m_finished)
        return;
    if (m_lingering || m_closing) {
        // Discard: we answered and are closing. Not counted as activity, so a client that
        // keeps sending but never reads cannot hold the connection open.
        m_inner->readAll();
        return;
    }
    m_lastActivity = now();
    if (m_pausedForOutput)
        return; // left in the socket's buffer until the client reads our responses
    const bool wasIdle = m_buffer.isEmpty();
    // read(bytesAvailable()) allocates what arrived; readAll() would allocate a whole read
    // chunk (32 KiB) that an idle keep-alive connection would then hold on to.
    const QByteArray received = m_inner->read(m_inner->bytesAvailable());
    if (wasIdle)
        m_buffer = received; // no copy in the common case of one request per read
    else
        m_buffer.append(received);
    if (wasIdle && !m_buffer.isEmpty())
        m_requestStart = m_lastActivity;
    pump();
}

void GuardedSocket::onBytesWritten()
{
    m_lastActivity = now();
    if (m_inner->bytesToWrite() > 0)
        return;
    if (m_closing && !m_lingering) {
        startLinger();
        return;
    }
    if (m_pausedForOutput) {
        m_pausedForOutput = false;
        if (m_inner->bytesAvailable() > 0)
            onInnerReadyRead();
        else
            pump();
    }
}

void GuardedSocket::pump()
{
    while (!m_closing && !m_finished) {
        if (m_inner->bytesToWrite() > kMaxPendingOutput) {
            m_pausedForOutput = true;
            return;
        }
        const auto status = m_framer.advance(m_buffer);
        if (status == RequestFramer::Status::Failed) {
            const auto &failure = m_framer.failure();
            reject(failure.code, failure.message, errorCodeName(failure.code).toLatin1(),
                   m_framer.request());
            return;
        }
        if (status == RequestFramer::Status::NeedMore) {
            if (m_framer.takeContinueRequest())
                m_inner->write("HTTP/1.1 100 Continue\r\n\r\n");
            if (m_framer.headersComplete() && m_headersDone < m_requestStart)
                m_headersDone = now();
            return;
        }

        m_current = m_framer.request();
        if (m_current.totalLength == m_buffer.size()) {
            m_current.raw = std::exchange(m_buffer, QByteArray());
        } else {
            m_current.raw = m_buffer.first(m_current.totalLength);
            m_buffer.remove(0, m_current.totalLength);
        }
        const bool bodyless = m_current.contentLength == 0 && !m_current.chunked;
        if (!bodyless)
            m_staged = m_framer.bytesForParser(m_current.raw);
        m_framer.reset();
        m_receivedAt = now();
        m_requestStart = m_receivedAt; // a pipelined next request starts now
        m_headersDone = {};
        m_delivered = false;
        m_inHandler = true;
        if (bodyless) // see WorkerHttpServer.h: nothing for Qt's parser to decode
            WorkerHttpServer::serve(this, m_shared, QByteArray());
        else
            Q_EMIT readyRead(); // Qt's parser reads m_staged and calls handleRequest at once
        m_inHandler = false;
        if (m_finished)
            return;
        m_staged.clear();
        m_current.raw.clear(); // an idle keep-alive connection keeps no request bytes
        if (!m_delivered) {
            // Qt's parser refused a request our framer accepted. Qt has disconnected all
            // of this object's signals by now, so we answer, close and delete it ourselves.
            reject(ErrorCode::BadRequest, QStringLiteral("malformed request"), "parser", m_current);
            return;
        }
    }
}

void GuardedSocket::sendResponse(const QByteArray &bytes, bool close)
{
    m_delivered = true;
    m_lastActivity = now();
    m_inner->write(bytes);
    if (close)
        closeGracefully();
}

void GuardedSocket::reject(ErrorCode code, const QString &message, const QByteArray &reason,
                           const FramedRequest &about)
{
    m_shared.metrics->requestRejected(reason);
    HttpResponse response = errorResponse(code, message);
    if (m_shared.securityHeaders)
        SecurityHeadersStage::apply(response, m_tls);
    WriteOptions options;
    // A request whose request line was not parsed yet has method "" and version 11.
    options.version = about.method.isEmpty() ? 11 : about.version;
    options.close = true;
    options.headRequest = about.method == "HEAD";
    m_buffer.clear();
    m_inner->write(ResponseWriter::serialize(response, options));
    if (m_shared.onRejected) {
        AccessRecord record;
        record.method = about.method;
        record.path = QString::fromLatin1(about.target.left(256));
        record.status = response.status;
        record.bytes = response.body.size();
        record.durationMs =
            std::chrono::duration<double, std::milli>(now() - m_requestStart).count();
        record.remote = peerAddress().toString();
        record.version = options.version;
        record.rejected = reason;
        m_shared.onRejected(record);
    }
    closeGracefully();
}

void GuardedSocket::closeGracefully()
{
    if (m_closing)
        return;
    m_closing = true;
    if (m_inner->bytesToWrite() == 0)
        startLinger();
    // else onBytesWritten() starts the linger once the output is flushed
}

void GuardedSocket::startLinger()
{
    if (m_lingering || m_finished)
        return;
    m_lingering = true;
    m_lingerDeadline = now() + kLinger;
    if (m_tls || m_inner->socketDescriptor() < 0) {
        // TLS needs its close_notify; Qt sends it on disconnectFromHost after flushing.
        m_inner->disconnectFromHost();
        return;
    }
    m_inner->flush();
    shutdownWrite(m_inner->socketDescriptor());
    m_inner->readAll();
}

void GuardedSocket::finish()
{
    if (m_finished)
        return;
    m_finished = true;
    m_closing = true;
    if (m_inner->state() != QAbstractSocket::UnconnectedState)
        m_inner->abort();
    setSocketState(QAbstractSocket::UnconnectedState);
    Q_EMIT stateChanged(QAbstractSocket::UnconnectedState);
    Q_EMIT disconnected(); // Qt deletes us (later) in response, unless it is mid-handler
    if (!m_inHandler)
        deleteLater();
}

void GuardedSocket::checkTimeouts(TimePoint t)
{
    if (m_finished || m_inHandler)
        return;
    const ServerConfig &c = m_shared.config;
    if (m_lingering) {
        if (t >= m_lingerDeadline)
            finish();
        return;
    }
    if (m_closing) {
        // Our last response is still queued: a client that stops reading it is dropped
        // after the idle timeout (the output makes no progress, so nothing refreshes it).
        if (t - m_lastActivity >= c.idleTimeout) {
            m_shared.metrics->connectionRejected("write_stalled");
            finish();
        }
        return;
    }
    if (!m_buffer.isEmpty()) {
        // A request is arriving: the header timeout runs from its first byte, the body
        // timeout from the end of its headers.
        const bool body = m_framer.headersComplete();
        const TimePoint since =
            body && m_headersDone.time_since_epoch().count() ? m_headersDone : m_requestStart;
        const Milliseconds limit = body ? c.bodyTimeout : c.headerTimeout;
        if (t - since >= limit) {
            const QByteArray reason = body ? "body_timeout" : "header_timeout";
            m_shared.metrics->connectionRejected(reason);
            reject(ErrorCode::RequestTimeout,
                   QStringLiteral("request %1 not received within %2 ms")
                       .arg(body ? QStringLiteral("body") : QStringLiteral("headers"))
                       .arg(limit.count()),
                   reason, m_framer.request());
        }
        return;
    }
    if (t - m_lastActivity >= c.idleTimeout) {
        m_shared.metrics->connectionRejected("idle_timeout");
        finish();
    }
}

void GuardedSocket::beginDrain()
{
    if (m_finished || m_closing)
        return;
    if (m_buffer.isEmpty() && !m_inHandler && m_inner->bytesToWrite() == 0)
        finish(); // idle keep-alive connection: nothing in flight, close it now
    // otherwise the response in progress carries Connection: close (responseMustClose)
}

} // namespace bulwark
