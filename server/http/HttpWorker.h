// SPDX-License-Identifier: GPL-3.0-or-later
// One HTTP worker thread's objects. The worker lives in its own QThread and builds, inside
// that thread, its QAbstractHttpServer subclass and the QTcpServer it is bound to (a
// dispatcher that never listens: the acceptor thread owns the listening socket and posts
// accepted descriptors here). Each descriptor becomes a socket wrapped in a GuardedSocket
// and is handed to Qt. A sweep timer enforces the header, body and idle timeouts of all of
// this worker's connections: one timer per thread instead of one per connection keeps
// 10 000 idle connections cheap.
#pragma once

#include "ListenerShared.h"
#include "ThreadTaskQueue.h"

#include <QObject>
#include <QSet>

class QTimer;

namespace bulwark {

class GuardedSocket;
class WorkerHttpServer;
class DispatchTcpServer;

class HttpWorker final : public QObject
{
    Q_OBJECT

public:
    explicit HttpWorker(ListenerShared &shared);
    ~HttpWorker() override;
    Q_DISABLE_COPY_MOVE(HttpWorker)

    // Runs functions in the worker's thread; the way other threads call the methods below.
    ThreadTaskQueue &tasks() { return *m_tasks; }

    // All of these run in the worker's thread.
    void init();
    void adopt(qintptr descriptor);
    void drain();
    void shutdown();

private:
    void sweep();

    ListenerShared &m_shared;
    ThreadTaskQueue *m_tasks;
    WorkerHttpServer *m_http = nullptr;
    DispatchTcpServer *m_dispatch = nullptr;
    QTimer *m_sweep = nullptr;
    QSet<GuardedSocket *> m_connections;
};

} // namespace bulwark
