// SPDX-License-Identifier: GPL-3.0-or-later
// See Acceptor.h.
#include "Acceptor.h"

#include "ErrorMapping.h"
#include "HttpWorker.h"
#include "ResponseWriter.h"
#include "SocketShutdown.h"
#include "Stages.h"

#include <QTcpSocket>
#include <QTimer>

namespace bulwark {

Acceptor::Acceptor(ListenerShared &shared, std::vector<HttpWorker *> workers)
    : m_shared(shared), m_workers(std::move(workers)), m_tasks(new ThreadTaskQueue(this))
{
    HttpResponse busy =
        errorResponse(ErrorCode::Unavailable, QStringLiteral("too many open connections"));
    if (shared.securityHeaders)
        SecurityHeadersStage::apply(busy, shared.tls);
    m_busy = busy;
}

void Acceptor::incomingConnection(qintptr descriptor)
{
    if (m_shared.openConnections.load(std::memory_order_relaxed) >=
        m_shared.config.maxConnections) {
        refuse(descriptor);
        return;
    }
    m_shared.openConnections.fetch_add(1, std::memory_order_relaxed);
    m_shared.metrics->acceptedConnections.inc();
    HttpWorker *worker = m_workers[m_next++ % m_workers.size()];
    worker->tasks().post([worker, descriptor] { worker->adopt(descriptor); });
}

void Acceptor::refuse(qintptr descriptor)
{
    m_shared.metrics->connectionRejected("max_connections");
    auto *socket = new QTcpSocket(this);
    if (!socket->setSocketDescriptor(descriptor)) {
        delete socket;
        return;
    }
    if (m_shared.tls) {
        // A plain-text 503 would be garbage to a TLS client; just close.
        socket->abort();
        socket->deleteLater();
        return;
    }
    WriteOptions options;
    options.close = true;
    // Lingering close, as in GuardedSocket: once the 503 is flushed, shut down our
    // side and discard what the client still sends, so that it reads the 503 instead
    // of a reset caused by its unread request.
    connect(socket, &QIODevice::readyRead, socket, [socket] { socket->readAll(); });
    connect(socket, &QIODevice::bytesWritten, socket, [socket] {
        if (socket->bytesToWrite() == 0)
            shutdownWrite(socket->socketDescriptor());
    });
    connect(socket, &QAbstractSocket::disconnected, socket, &QObject::deleteLater);
    QTimer::singleShot(2000, socket, [socket] {
        socket->abort();
        socket->deleteLater();
    });
    socket->write(ResponseWriter::serialize(m_busy, options));
}

} // namespace bulwark
