// SPDX-License-Identifier: GPL-3.0-or-later
// Routes every process has regardless of data: health (live, ready, summary), Prometheus
// metrics, the admin metrics series for the console, and the opt-in debug endpoint.
// Controllers return values and never touch sockets (DESIGN.md).
#pragma once

#include "HealthRegistry.h"
#include "Metrics.h"
#include "Router.h"
#include "TimeSeries.h"

#include <atomic>

namespace bulwark {

class SystemController
{
public:
    struct Services
    {
        HealthRegistry *health = nullptr;
        MetricsRegistry *metrics = nullptr;
        TimeSeries *series = nullptr;
        const std::atomic<bool> *shuttingDown = nullptr;
        bool debugEndpoints = false;
    };

    explicit SystemController(Services services) : m_s(services) {}
    void registerRoutes(Router &router) const;

    HttpResponse live() const;
    HttpResponse ready() const;
    HttpResponse summary() const;

private:
    Services m_s;
};

} // namespace bulwark
