// SPDX-License-Identifier: GPL-3.0-or-later
// See HttpWorker.h.
#include "HttpWorker.h"

#include "DispatchTcpServer.h"
#include "GuardedSocket.h"
#include "WorkerHttpServer.h"

#include <QSslSocket>
#include <QTimer>

#ifdef Q_OS_WIN
#include <winsock2.h>
#else
#include <unistd.h>
#endif

namespace bulwark {

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
    if (m_shared.threadFinalizer)
        m_shared.threadFinalizer();
    delete m_http;
    m_http = nullptr;
    m_dispatch = nullptr;
}

} // namespace bulwark
