// SPDX-License-Identifier: GPL-3.0-or-later
// The portable IoLoop (IoLoop.h): QTcpSocket, or QSslSocket for https targets, driven by
// the calling thread's Qt event dispatcher. poll() processes events until one arrives or
// its timeout passes (a precise single-shot QTimer bounds the wait); wake() wakes the
// dispatcher. Qt timers count whole milliseconds, so an open-model request can be sent up
// to 1 ms after its intended time, and that shows in its latency (EpollIoLoop wakes on
// time). Sockets are created in the load thread and used only there.
#pragma once

#include "IoLoop.h"

#include <QAbstractEventDispatcher>
#include <QList>
#include <QTcpSocket>
#include <QTimer>

namespace bulwark {

class QtIoLoop final : public IoLoop
{
public:
    QtIoLoop(const IoTarget &target, Listener *listener);
    ~QtIoLoop() override;
    Q_DISABLE_COPY_MOVE(QtIoLoop)

    int open() override;
    void send(int conn, const char *data, qsizetype size) override;
    void close(int conn) override;
    void poll(qint64 timeoutNs) override;
    void wake() override;
    int openConnections() const override { return m_open; }

private:
    struct Slot
    {
        QTcpSocket *socket = nullptr;
        bool connected = false;
        QByteArray pending; // written once connected
    };
    void onReadyRead(int conn, QTcpSocket *socket);
    void onGone(int conn, QTcpSocket *socket, const QString &error);
    void discard(int conn);

    IoTarget m_target;
    Listener *m_listener;
    QList<Slot> m_slots;
    QList<int> m_free;
    QTimer m_timeout;
    QAbstractEventDispatcher *m_dispatcher = nullptr;
    int m_open = 0;
};

} // namespace bulwark
