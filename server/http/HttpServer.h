// SPDX-License-Identifier: GPL-3.0-or-later
// The HTTP listener: one acceptor thread that owns the listening socket and hands each
// accepted descriptor round-robin to N worker threads (HttpWorker), each with its own
// QAbstractHttpServer. The hand-off is plain descriptor passing between threads of one
// process, so it works the same on Linux, macOS and Windows (SO_REUSEPORT would not).
//
// The connection cap is enforced in the acceptor with one atomic counter: beyond
// server.max_connections a connection gets a 503 JSON error and is closed, before any
// worker spends memory on it.
//
// Shutdown is two-phase: beginDrain() stops accepting and closes idle keep-alive
// connections while in-flight requests finish (their responses carry Connection: close);
// stop() then joins every thread.
#pragma once

#include "AccessLogStage.h"
#include "Config.h"
#include "HttpMetrics.h"
#include "Pipeline.h"

#include <QHostAddress>
#include <QObject>
#include <functional>
#include <memory>

namespace bulwark {

class HttpServer final : public QObject
{
    Q_OBJECT

public:
    HttpServer(const ServerConfig &config, bool securityHeaders, const Pipeline &pipeline,
               HttpMetrics &metrics, QObject *parent = nullptr);
    ~HttpServer() override;
    Q_DISABLE_COPY_MOVE(HttpServer)

    // Loads TLS material, binds, starts the threads. On failure returns false and sets
    // *error to a message naming the cause (address in use, unreadable certificate, ...).
    bool start(QString *error);
    // Before start(): called (on a worker thread) for each request rejected before the
    // pipeline, so the access log can record 400/408/413/414/431s too.
    void setRejectionLog(std::function<void(const AccessRecord &)> log);
    // Before start(): run in each worker thread when the server stops, for resources that
    // must be released by the thread that owns them (database connections).
    void setThreadFinalizer(std::function<void()> finalizer);
    quint16 port() const;
    QHostAddress address() const;
    bool isTls() const;
    int threadCount() const;

    bool isAccepting() const;
    int openConnections() const;
    void beginDrain();
    void stop();

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace bulwark
