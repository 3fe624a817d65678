// SPDX-License-Identifier: GPL-3.0-or-later
// The guarded connection: the socket Qt's QAbstractHttpServer is given is this wrapper, not
// the network socket. The wrapper owns the real QTcpSocket (or QSslSocket), reads every
// byte from it first, runs RequestFramer over them, and only then lets Qt's parser read,
// one complete request at a time, through readData() (a request without a body skips Qt's
// parser: see WorkerHttpServer.h). So limits are enforced before
// anything is buffered by Qt, bad requests get a real 4xx answer instead of a silent
// disconnect, pipelined requests are answered in order, and the wrapper decides when the
// connection closes (Connection: close, HTTP/1.0, draining, errors, timeouts).
//
// Closing is a lingering close: after the last response is flushed, the write side is shut
// down and the rest of what the client sends is discarded for up to two seconds, so that
// the client reads our 413/400 instead of a TCP reset.
//
// Lifetime: created by the worker, handed to Qt through a QTcpServer; Qt deletes it after
// it emits disconnected() (and so do we, if Qt dropped it after a parse error).
#pragma once

#include "ListenerShared.h"
#include "RequestFramer.h"

#include <QTcpSocket>
#include <chrono>

namespace bulwark {

class GuardedSocket final : public QTcpSocket
{
    Q_OBJECT

public:
    using TimePoint = std::chrono::steady_clock::time_point;

    GuardedSocket(QTcpSocket *inner, ListenerShared &shared, bool tls);
    ~GuardedSocket() override;

    // The descriptor of the real socket (for peerHasClosed()).
    qintptr innerDescriptor() const { return m_inner->socketDescriptor(); }
    // The request Qt is parsing or handling right now.
    const FramedRequest &currentRequest() const { return m_current; }
    TimePoint receivedAt() const { return m_receivedAt; }
    bool isTls() const { return m_tls; }
    // True when the response to the current request must be the last one.
    bool responseMustClose() const;
    // Called from the server's handleRequest with the serialised response.
    void sendResponse(const QByteArray &bytes, bool close);

    void checkTimeouts(TimePoint now);
    void beginDrain();

    qint64 bytesAvailable() const override;

protected:
    qint64 readData(char *data, qint64 maxSize) override;
    qint64 writeData(const char *data, qint64 size) override;

private:
    void onInnerReadyRead();
    void onBytesWritten();
    void pump();
    // Answers `about` (the request the error concerns) with an error and closes.
    void reject(ErrorCode code, const QString &message, const QByteArray &reason,
                const FramedRequest &about);
    void closeGracefully();
    void startLinger();
    void finish();

    QTcpSocket *m_inner;
    ListenerShared &m_shared;
    bool m_tls;
    RequestFramer m_framer;
    FramedRequest m_current;
    QByteArray m_buffer; // received, not yet handed over
    QByteArray m_staged; // one complete request, being read by Qt's parser
    bool m_delivered = false;
    bool m_inHandler = false;
    bool m_closing = false; // no more requests; close once output is flushed
    bool m_lingering = false;
    bool m_finished = false;
    bool m_pausedForOutput = false;
    TimePoint m_lastActivity;
    TimePoint m_requestStart;
    TimePoint m_headersDone;
    TimePoint m_receivedAt;
    TimePoint m_lingerDeadline;
};

} // namespace bulwark
