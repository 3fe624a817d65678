// SPDX-License-Identifier: GPL-3.0-or-later
// IoLoop on Linux epoll (see IoLoop.h and EpollIoLoop.cpp). Compiled on Linux only;
// IoLoop::create falls back to QtIoLoop elsewhere.
#pragma once

#include "IoLoop.h"

#include <QList>
#include <QtGlobal>

#ifdef Q_OS_LINUX
#include <sys/socket.h>

namespace bulwark {

class EpollIoLoop final : public IoLoop
{
public:
    EpollIoLoop(const IoTarget &target, Listener *listener);
    ~EpollIoLoop() override;
    Q_DISABLE_COPY_MOVE(EpollIoLoop)

    int open() override;
    void send(int conn, const char *data, qsizetype size) override;
    void close(int conn) override;
    void poll(qint64 timeoutNs) override;
    void wake() override;
    int openConnections() const override { return m_open; }

private:
    struct Slot
    {
        int fd = -1;
        quint32 generation = 0;
        bool connected = false;
        bool failed = false;
        QByteArray pending; // bytes the socket did not take yet
        qsizetype pendingOffset = 0;
    };
    void arm(int conn, quint32 events, int op);
    void failLater(int conn, const QString &error);
    void release(int conn);
    void closeWithError(int conn, const QString &error);
    void flushPending(int conn);
    void readFrom(int conn);

    IoTarget m_target;
    Listener *m_listener;
    int m_epoll = -1;
    int m_wakeFd = -1;
    int m_timerFd = -1;
    sockaddr_storage m_address{};
    socklen_t m_addressLength = 0;
    QList<Slot> m_slots;
    QList<int> m_free;
    QList<quint64> m_connectedLater;
    QList<std::pair<quint64, QString>> m_failedLater;
    QByteArray m_readBuffer;
    int m_open = 0;
};

} // namespace bulwark

#endif // Q_OS_LINUX
