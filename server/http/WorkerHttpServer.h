// SPDX-License-Identifier: GPL-3.0-or-later
// One worker thread's QAbstractHttpServer. Internal to server/http (see HttpWorker.h).
#pragma once

#include "ListenerShared.h"

#include <QAbstractHttpServer>

namespace bulwark {

// The single entry point of every request: Qt parses, we route. Overriding handleRequest
// (instead of using QHttpServer's router) lets our pipeline run in one place and our
// writer produce the bytes.
class WorkerHttpServer final : public QAbstractHttpServer
{
public:
    explicit WorkerHttpServer(ListenerShared &shared, QObject *parent)
        : QAbstractHttpServer(parent), m_shared(shared)
    {
    }

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;
    void missingHandler(const QHttpServerRequest &, QTcpSocket *) override {}

private:
    ListenerShared &m_shared;
};

} // namespace bulwark
