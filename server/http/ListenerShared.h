// SPDX-License-Identifier: GPL-3.0-or-later
// State shared by the acceptor, every worker and every guarded connection of one
// HttpServer: immutable settings fixed at start, plus a few atomics (open connections for
// the cap, draining for shutdown). Internal to server/http.
#pragma once

#include "AccessLogStage.h"
#include "Config.h"
#include "HttpMetrics.h"
#include "Pipeline.h"
#include "RequestFramer.h"

#include <QSslConfiguration>
#include <atomic>
#include <functional>

namespace bulwark {

struct ListenerShared
{
    ServerConfig config;
    FramingLimits limits;
    const Pipeline *pipeline = nullptr;
    HttpMetrics *metrics = nullptr;
    bool securityHeaders = true;
    bool tls = false;
    QSslConfiguration ssl;
    std::atomic<int> openConnections{0};
    std::atomic<bool> draining{false};
    // Told about every request answered with an error before it reached the pipeline.
    std::function<void(const AccessRecord &)> onRejected;
    // Run in each worker thread just before it ends (closes that thread's DB connections).
    std::function<void()> threadFinalizer;
};

} // namespace bulwark
