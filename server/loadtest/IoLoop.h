// SPDX-License-Identifier: GPL-3.0-or-later
// The load tester's socket layer: one IoLoop per load thread owns that thread's client
// connections to one target and waits for their events. Two implementations behind one
// interface, so the engine (virtual users, timing, measurements) is written once:
//
//   QtIoLoop     portable (Linux, macOS, Windows) and the only one with TLS: QTcpSocket or
//                QSslSocket objects driven by the thread's Qt event dispatcher.
//   EpollIoLoop  Linux only, plain HTTP: non-blocking sockets and one epoll set, no
//                objects or signals per event: less client CPU per request, which matters
//                when the tester shares the machine with the server it measures.
//
// Connections are small integers (reused after close). Events are delivered to the Listener
// from inside poll(), on the loop's thread; the listener may open, send and close from its
// callbacks (a connection closed there gets no further events). Nothing here is
// thread-safe except wake().
#pragma once

#include <QByteArray>
#include <QHostAddress>
#include <QString>
#include <memory>

namespace bulwark {

struct IoTarget
{
    QHostAddress address;
    quint16 port = 0;
    bool tls = false;
    QString hostName;         // for TLS SNI and certificate checks
    bool insecureTls = false; // accept any certificate (self-signed test servers)
};

class IoLoop
{
public:
    class Listener
    {
    public:
        virtual ~Listener() = default;
        virtual void onConnected(int conn) = 0;
        virtual void onData(int conn, const char *data, qsizetype size) = 0;
        // The connection is gone (refused, reset, closed by the peer). `wasConnected`: it
        // had connected. The id is free again after this returns.
        virtual void onClosed(int conn, bool wasConnected, const QString &error) = 0;
    };

    enum class Kind
    {
        Auto, // epoll on Linux for plain HTTP, else Qt
        Qt,
        Epoll
    };

    virtual ~IoLoop() = default;
    // Starts connecting; onConnected or onClosed follows from a later poll().
    virtual int open() = 0;
    // Queues bytes on a connected connection and writes what the socket takes now.
    virtual void send(int conn, const char *data, qsizetype size) = 0;
    // Closes at once; no callback follows.
    virtual void close(int conn) = 0;
    // Waits up to timeoutNs (0: do not wait) for events and delivers them.
    virtual void poll(qint64 timeoutNs) = 0;
    // Makes a poll() in progress return soon; callable from any thread.
    virtual void wake() = 0;
    virtual int openConnections() const = 0;

    // Kind::Epoll where it is not available (not Linux, or TLS) returns nullptr.
    static std::unique_ptr<IoLoop> create(Kind kind, const IoTarget &target, Listener *listener);
    static const char *kindName(Kind kind);
};

} // namespace bulwark
