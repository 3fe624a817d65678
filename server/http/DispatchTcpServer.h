// SPDX-License-Identifier: GPL-3.0-or-later
// The QTcpServer a worker's QAbstractHttpServer is bound to. Internal to server/http.
#pragma once

#include <QMetaMethod>
#include <QTcpServer>
#include <QTcpSocket>
#include <deque>

namespace bulwark {

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

} // namespace bulwark
