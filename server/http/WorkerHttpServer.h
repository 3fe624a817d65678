// SPDX-License-Identifier: GPL-3.0-or-later
// One worker thread's QAbstractHttpServer. Internal to server/http (see HttpWorker.h).
#pragma once

#include "ListenerShared.h"

#include <QAbstractHttpServer>

namespace bulwark {

class GuardedSocket;

// Every request ends in serve(): the framer's method, target and headers, the body, our
// pipeline, our writer. A request with a body reaches it through Qt's parser, which decodes
// the body (Content-Length or chunked), and handleRequest (overridden instead of using
// QHttpServer's router). A request without a body goes to serve() straight from the
// guarded connection: Qt's parser would only re-read, one byte at a time, a head the
// framer has already split and checked, and that re-read was a quarter of a cached GET's
// time (perf). The two paths differ only in where the body comes from.
class WorkerHttpServer final : public QAbstractHttpServer
{
public:
    explicit WorkerHttpServer(ListenerShared &shared, QObject *parent)
        : QAbstractHttpServer(parent), m_shared(shared)
    {
    }

    static void serve(GuardedSocket *connection, const ListenerShared &shared, QByteArray body);

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;
    void missingHandler(const QHttpServerRequest &, QTcpSocket *) override {}

private:
    ListenerShared &m_shared;
};

} // namespace bulwark
