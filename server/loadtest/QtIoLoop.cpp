// SPDX-License-Identifier: GPL-3.0-or-later
// See QtIoLoop.h. Sockets closed from inside one of their own signals cannot be deleted
// there: they are disconnected, aborted and deleted at the start of the next poll().
#include "QtIoLoop.h"

#include <QAbstractEventDispatcher>
#include <QSslSocket>
#include <QThread>

namespace bulwark {

namespace {
thread_local QList<QTcpSocket *> t_graveyard;

void bury(QTcpSocket *socket)
{
    QObject::disconnect(socket, nullptr, nullptr, nullptr);
    socket->abort();
    t_graveyard.append(socket);
}

void emptyGraveyard()
{
    const auto dead = std::exchange(t_graveyard, {});
    qDeleteAll(dead);
}
} // namespace

QtIoLoop::QtIoLoop(const IoTarget &target, Listener *listener)
    : m_target(target), m_listener(listener),
      m_dispatcher(QAbstractEventDispatcher::instance(QThread::currentThread()))
{
    m_timeout.setSingleShot(true);
    m_timeout.setTimerType(Qt::PreciseTimer);
    // The timer only ends a wait: firing is the event that makes processEvents return.
    QObject::connect(&m_timeout, &QTimer::timeout, [] {});
}

QtIoLoop::~QtIoLoop()
{
    for (Slot &s : m_slots)
        if (s.socket)
            bury(s.socket);
    emptyGraveyard();
}

int QtIoLoop::open()
{
    int conn;
    if (!m_free.isEmpty()) {
        conn = m_free.takeLast();
    } else {
        conn = int(m_slots.size());
        m_slots.append(Slot{});
    }
    QTcpSocket *socket;
    if (m_target.tls) {
        auto *ssl = new QSslSocket;
        if (m_target.insecureTls)
            ssl->setPeerVerifyMode(QSslSocket::VerifyNone);
        QObject::connect(ssl, &QSslSocket::encrypted, ssl, [this, conn, ssl] {
            m_slots[conn].connected = true;
            const QByteArray pending = std::exchange(m_slots[conn].pending, {});
            if (!pending.isEmpty())
                ssl->write(pending);
            m_listener->onConnected(conn);
        });
        socket = ssl;
    } else {
        socket = new QTcpSocket;
        QObject::connect(socket, &QTcpSocket::connected, socket, [this, conn, socket] {
            socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
            m_slots[conn].connected = true;
            const QByteArray pending = std::exchange(m_slots[conn].pending, {});
            if (!pending.isEmpty())
                socket->write(pending);
            m_listener->onConnected(conn);
        });
    }
    m_slots[conn].socket = socket;
    m_slots[conn].connected = false;
    m_slots[conn].pending.clear();
    ++m_open;
    QObject::connect(socket, &QTcpSocket::readyRead, socket,
                     [this, conn, socket] { onReadyRead(conn, socket); });
    QObject::connect(socket, &QTcpSocket::errorOccurred, socket,
                     [this, conn, socket] { onGone(conn, socket, socket->errorString()); });
    QObject::connect(socket, &QTcpSocket::disconnected, socket, [this, conn, socket] {
        onGone(conn, socket, QStringLiteral("the server closed the connection"));
    });
    if (m_target.tls)
        static_cast<QSslSocket *>(socket)->connectToHostEncrypted(m_target.address.toString(),
                                                                  m_target.port, m_target.hostName);
    else
        socket->connectToHost(m_target.address, m_target.port);
    return conn;
}

void QtIoLoop::onReadyRead(int conn, QTcpSocket *socket)
{
    // A local buffer per read: Qt's own buffer already holds the bytes, so reading them
    // into a reused array costs one copy, the same as epoll's recv.
    thread_local QByteArray buffer(64 * 1024, Qt::Uninitialized);
    while (m_slots[conn].socket == socket && socket->bytesAvailable() > 0) {
        const qint64 n = socket->read(buffer.data(), buffer.size());
        if (n <= 0)
            return;
        m_listener->onData(conn, buffer.constData(), qsizetype(n));
    }
}

void QtIoLoop::onGone(int conn, QTcpSocket *socket, const QString &error)
{
    if (m_slots[conn].socket != socket)
        return;
    // Bytes that arrived together with the close are still delivered first.
    if (socket->bytesAvailable() > 0)
        onReadyRead(conn, socket);
    if (m_slots[conn].socket != socket)
        return;
    const bool wasConnected = m_slots[conn].connected;
    discard(conn);
    m_listener->onClosed(conn, wasConnected, error);
}

void QtIoLoop::discard(int conn)
{
    Slot &s = m_slots[conn];
    bury(s.socket);
    s.socket = nullptr;
    s.connected = false;
    s.pending.clear();
    --m_open;
    m_free.append(conn);
}

void QtIoLoop::send(int conn, const char *data, qsizetype size)
{
    Slot &s = m_slots[conn];
    if (!s.socket)
        return;
    if (!s.connected)
        s.pending.append(data, size);
    else
        s.socket->write(data, size);
}

void QtIoLoop::close(int conn)
{
    if (m_slots[conn].socket)
        discard(conn);
}

void QtIoLoop::poll(qint64 timeoutNs)
{
    emptyGraveyard();
    if (timeoutNs <= 0) {
        m_dispatcher->processEvents(QEventLoop::AllEvents);
        return;
    }
    m_timeout.start(int(qMin<qint64>((timeoutNs + 999'999) / 1'000'000, 1000)));
    m_dispatcher->processEvents(QEventLoop::WaitForMoreEvents);
    m_timeout.stop();
}

void QtIoLoop::wake()
{
    m_dispatcher->wakeUp();
}

} // namespace bulwark
