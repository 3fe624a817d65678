// SPDX-License-Identifier: GPL-3.0-or-later
// An HTTP receiver on 127.0.0.1 for tests in which Bulwark sends HTTP (webhook deliveries):
// a QTcpServer and an event loop in a thread of its own, so that a blocking client in the
// test thread can talk to it. It records every complete request (method, target, headers
// with lower-case names, body, arrival time) and hands it, in its own thread, to the test's
// responder, which writes the answer. The thread is a std::thread and state shared with the
// test thread is behind a std::mutex: ThreadSanitizer sees that hand-off and the join,
// while Qt's own thread synchronisation (QThread::wait) is invisible to it in Debian's
// uninstrumented Qt. A local QEventLoop works in a plain std::thread.
#pragma once

#include <QDateTime>
#include <QEventLoop>
#include <QHash>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>
#include <QUrl>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace bulwark::test {

struct RecordedRequest
{
    QByteArray method;
    QByteArray target;
    QHash<QByteArray, QByteArray> headers; // lower-case names
    QByteArray body;
    qint64 receivedAtMs = 0;
};

class LoopbackReceiver
{
public:
    // Answers request number `index` (from 0), in the receiver's thread.
    using Responder =
        std::function<void(QTcpSocket *socket, int index, const RecordedRequest &request)>;
    // Sees each new connection first; false: it has dealt with it, read nothing from it.
    using OnConnect = std::function<bool(QTcpSocket *socket)>;

    explicit LoopbackReceiver(Responder responder, OnConnect onConnect = {})
        : m_responder(std::move(responder)), m_onConnect(std::move(onConnect))
    {
        m_thread = std::thread([this] { run(); });
        std::unique_lock lock(m_mutex);
        m_changed.wait(lock, [this] { return m_listening; });
    }
    virtual ~LoopbackReceiver()
    {
        m_stop.store(true);
        m_thread.join();
    }
    Q_DISABLE_COPY_MOVE(LoopbackReceiver)

    quint16 port() const // 0 when it could not listen (the test fails on it)
    {
        std::lock_guard lock(m_mutex);
        return m_port;
    }
    QUrl url(const QString &pathAndQuery = QStringLiteral("/hooks/in")) const
    {
        return QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(port()).arg(pathAndQuery));
    }
    QList<RecordedRequest> requests() const
    {
        std::lock_guard lock(m_mutex);
        return m_requests;
    }
    int connections() const
    {
        std::lock_guard lock(m_mutex);
        return m_connections;
    }

private:
    void run()
    {
        {
            QEventLoop loop;
            QTcpServer server;
            QHash<QTcpSocket *, QByteArray> buffers;
            const bool listening = server.listen(QHostAddress::LocalHost, 0);
            {
                std::lock_guard lock(m_mutex);
                m_port = listening ? server.serverPort() : 0;
                m_listening = true;
            }
            m_changed.notify_all();
            QObject::connect(&server, &QTcpServer::newConnection, &loop, [&] {
                while (QTcpSocket *socket = server.nextPendingConnection()) {
                    {
                        std::lock_guard lock(m_mutex);
                        ++m_connections;
                    }
                    if (m_onConnect && !m_onConnect(socket))
                        continue;
                    QObject::connect(socket, &QIODevice::readyRead, &loop, [&, socket] {
                        buffers[socket] += socket->readAll();
                        handle(socket, buffers[socket]);
                    });
                    QObject::connect(socket, &QTcpSocket::disconnected, &loop, [&, socket] {
                        buffers.remove(socket);
                        socket->deleteLater();
                    });
                }
            });
            QTimer stopPoll;
            QObject::connect(&stopPoll, &QTimer::timeout, &loop, [&] {
                if (m_stop.load())
                    loop.quit();
            });
            stopPoll.start(10);
            loop.exec();
        } // the server and its sockets are gone before the thread ends
    }

    // Records the request once it is complete (head and Content-Length bytes of body).
    void handle(QTcpSocket *socket, QByteArray &buffer)
    {
        const qsizetype end = buffer.indexOf("\r\n\r\n");
        if (end < 0)
            return;
        RecordedRequest request;
        const QList<QByteArray> lines = buffer.left(end).split('\n');
        const QList<QByteArray> requestLine = lines.value(0).trimmed().split(' ');
        request.method = requestLine.value(0);
        request.target = requestLine.value(1);
        for (qsizetype i = 1; i < lines.size(); ++i) {
            const qsizetype colon = lines[i].indexOf(':');
            if (colon > 0)
                request.headers.insert(lines[i].left(colon).trimmed().toLower(),
                                       lines[i].mid(colon + 1).trimmed());
        }
        const qint64 length = request.headers.value("content-length", "0").toLongLong();
        if (buffer.size() < end + 4 + length)
            return;
        request.body = buffer.mid(end + 4, length);
        request.receivedAtMs = QDateTime::currentMSecsSinceEpoch();
        buffer.clear();
        int index = 0;
        {
            std::lock_guard lock(m_mutex);
            index = int(m_requests.size());
            m_requests.append(request);
        }
        m_responder(socket, index, request);
    }

    const Responder m_responder;
    const OnConnect m_onConnect;
    std::atomic<bool> m_stop{false};
    mutable std::mutex m_mutex;
    std::condition_variable m_changed;
    quint16 m_port = 0;
    bool m_listening = false; // the listen() attempt is over
    int m_connections = 0;
    QList<RecordedRequest> m_requests;
    std::thread m_thread; // last: it starts once everything above exists
};

} // namespace bulwark::test
