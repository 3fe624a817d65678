// SPDX-License-Identifier: GPL-3.0-or-later
// See HttpWorker.h. WorkerHttpServer and DispatchTcpServer are private to this file.
#include "HttpWorker.h"

#include "ErrorMapping.h"
#include "GuardedSocket.h"
#include "ResponseWriter.h"

#include <QAbstractHttpServer>
#include <QHttpServerRequest>
#include <QMetaMethod>
#include <QSslSocket>
#include <QTcpServer>
#include <QTimer>
#include <deque>

#ifdef Q_OS_WIN
#include <winsock2.h>
#else
#include <unistd.h>
#endif

namespace bulwark {

namespace {
// origin-form "/p/a%20th?q=1" or absolute-form "http://host/p?q=1" -> decoded path, raw query.
void splitTarget(const QByteArray &target, QString *path, QByteArray *rawQuery)
{
    QByteArrayView t(target);
    if (!t.startsWith('/') && t != "*") { // absolute-form: drop scheme and authority
        const qsizetype authority = t.indexOf("//");
        const qsizetype slash = authority < 0 ? -1 : t.indexOf('/', authority + 2);
        t = slash < 0 ? QByteArrayView("/") : t.sliced(slash);
    }
    const qsizetype hash = t.indexOf('#');
    if (hash >= 0)
        t = t.first(hash);
    const qsizetype question = t.indexOf('?');
    const QByteArrayView rawPath = question < 0 ? t : t.first(question);
    if (question >= 0)
        *rawQuery = t.sliced(question + 1).toByteArray();
    *path = rawPath.contains('%')
                ? QString::fromUtf8(QByteArray::fromPercentEncoding(rawPath.toByteArray()))
                : QString::fromLatin1(rawPath);
}
} // namespace

// The single entry point of every request: Qt parses, we route. Overriding handleRequest
// (instead of using QHttpServer's router) lets our pipeline run in one place and our
// writer produce the bytes.
class WorkerHttpServer final : public QAbstractHttpServer
{
public:
    explicit WorkerHttpServer(ListenerShared &shared, QObject *parent)
        : QAbstractHttpServer(parent), m_shared(shared)
    {
    }

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override
    {
        auto *connection = qobject_cast<GuardedSocket *>(socket);
        if (!connection)
            return false;
        // Method, target and headers come from our framer, which has already split them;
        // Qt's parser contributes the decoded body (Content-Length or chunked).
        const FramedRequest &framed = connection->currentRequest();
        RequestContext ctx;
        HttpRequest &r = ctx.request;
        r.method = framed.method;
        splitTarget(framed.target, &r.path, &r.rawQuery);
        r.head = framed.raw;
        r.headerSpans = framed.headers;
        r.body = request.body();
        r.peer = connection->peerAddress();
        r.version = framed.version;
        r.tls = connection->isTls();
        r.received = connection->receivedAt();

        HttpResponse response;
        try {
            response = m_shared.pipeline->run(ctx);
        } catch (const std::exception &e) {
            qCritical("unhandled exception in handler for %s: %s", qPrintable(r.path), e.what());
            response =
                errorResponse(ErrorCode::Internal, QStringLiteral("internal error"), ctx.requestId);
        }
        const bool close = connection->responseMustClose();
        WriteOptions options;
        options.version = framed.version;
        options.headRequest = r.isHead();
        options.close = close;
        options.keepAliveHeader = framed.version == 10 && !close;
        connection->sendResponse(ResponseWriter::serialize(response, options), close);
        return true;
    }

    void missingHandler(const QHttpServerRequest &, QTcpSocket *) override {}

private:
    ListenerShared &m_shared;
};

// A QTcpServer that never listens: the worker queues sockets here and Qt's
// QAbstractHttpServer takes them through nextPendingConnection(). Qt 6.4 reacts to the
// private signal pendingConnectionAvailable, which QTcpServer only emits from
// addPendingConnection(); that path (and the base nextPendingConnection) warns on every
// connection when the server is not listening, so the queue is ours and the signal is
// emitted through its meta-method.
class DispatchTcpServer final : public QTcpServer
{
public:
    using QTcpServer::QTcpServer;

    void hand(QTcpSocket *socket)
    {
        static const QMetaMethod available =
            QMetaMethod::fromSignal(&QTcpServer::pendingConnectionAvailable);
        m_pending.push_back(socket);
        available.invoke(this, Qt::DirectConnection);
    }
    bool hasPendingConnections() const override { return !m_pending.empty(); }
    QTcpSocket *nextPendingConnection() override
    {
        if (m_pending.empty())
            return nullptr;
        QTcpSocket *socket = m_pending.front();
        m_pending.pop_front();
        return socket;
    }

private:
    std::deque<QTcpSocket *> m_pending;
};

HttpWorker::HttpWorker(ListenerShared &shared)
    : m_shared(shared), m_tasks(new ThreadTaskQueue(this))
{
}

HttpWorker::~HttpWorker() = default;

void HttpWorker::init()
{
    m_http = new WorkerHttpServer(m_shared, this);
    m_dispatch = new DispatchTcpServer(m_http);
    m_http->bind(m_dispatch);
    m_sweep = new QTimer(this);
    const auto shortest = std::min(
        {m_shared.config.headerTimeout, m_shared.config.bodyTimeout, m_shared.config.idleTimeout});
    m_sweep->setInterval(std::clamp<int>(int(shortest.count() / 4), 20, 1000));
    connect(m_sweep, &QTimer::timeout, this, &HttpWorker::sweep);
    m_sweep->start();
}

void HttpWorker::adopt(qintptr descriptor)
{
    QTcpSocket *inner = m_shared.tls ? new QSslSocket : new QTcpSocket;
    if (!inner->setSocketDescriptor(descriptor)) {
        delete inner;
#ifdef Q_OS_WIN
        ::closesocket(SOCKET(descriptor));
#else
        ::close(int(descriptor));
#endif
        m_shared.openConnections.fetch_sub(1, std::memory_order_relaxed);
        m_shared.metrics->connectionRejected("adopt_failed");
        return;
    }
    if (m_shared.draining.load()) {
        delete inner; // closes the descriptor
        m_shared.openConnections.fetch_sub(1, std::memory_order_relaxed);
        return;
    }
    inner->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    if (auto *ssl = qobject_cast<QSslSocket *>(inner)) {
        ssl->setSslConfiguration(m_shared.ssl);
        ssl->startServerEncryption();
    }
    m_shared.metrics->openConnections.inc();
    auto *connection = new GuardedSocket(inner, m_shared, m_shared.tls);
    m_connections.insert(connection);
    connect(connection, &QObject::destroyed, this,
            [this, connection] { m_connections.remove(connection); });
    m_dispatch->hand(connection);
}

void HttpWorker::sweep()
{
    const auto now = std::chrono::steady_clock::now();
    // Copy: a timeout may delete a connection, which edits the set.
    const QList<GuardedSocket *> connections = m_connections.values();
    for (GuardedSocket *c : connections)
        if (m_connections.contains(c))
            c->checkTimeouts(now);
}

void HttpWorker::drain()
{
    const QList<GuardedSocket *> connections = m_connections.values();
    for (GuardedSocket *c : connections)
        if (m_connections.contains(c))
            c->beginDrain();
}

void HttpWorker::shutdown()
{
    if (m_sweep)
        m_sweep->stop();
    const QList<GuardedSocket *> connections = m_connections.values();
    m_connections.clear();
    for (GuardedSocket *c : connections)
        delete c;
    delete m_http;
    m_http = nullptr;
    m_dispatch = nullptr;
}

} // namespace bulwark
