// SPDX-License-Identifier: GPL-3.0-or-later
// The acceptor thread's listening socket. It owns the listening descriptor and hands each
// accepted connection round-robin to a worker (descriptor passing within one process, the
// same on Linux, macOS and Windows). The connection cap is one atomic counter: beyond
// server.max_connections a client gets a 503 JSON error with a lingering close, before any
// worker spends memory on it. Internal to server/http (see HttpServer.h).
#pragma once

#include "HttpResponse.h"
#include "ListenerShared.h"
#include "ThreadTaskQueue.h"

#include <QTcpServer>
#include <vector>

namespace bulwark {

class HttpWorker;

class Acceptor final : public QTcpServer
{
public:
    Acceptor(ListenerShared &shared, std::vector<HttpWorker *> workers);
    // Runs functions in the acceptor thread.
    ThreadTaskQueue &tasks() { return *m_tasks; }

protected:
    void incomingConnection(qintptr descriptor) override;

private:
    void refuse(qintptr descriptor);

    ListenerShared &m_shared;
    std::vector<HttpWorker *> m_workers;
    size_t m_next = 0;
    HttpResponse m_busy;
    ThreadTaskQueue *m_tasks;
};

} // namespace bulwark
