// SPDX-License-Identifier: GPL-3.0-or-later
// LoadTestRunner runs one load test from start to report: the CLI, the load-test job and
// the admin API all go through it. It drives a LoadEngine in this process and, for a
// distributed run, the remote workers that take part through Redis (RemoteWorkers), merges
// their seconds and totals, and turns them into a RunReport with the thresholds evaluated.
//
// run() blocks the calling thread for the length of the test (load is generated on the
// engine's threads); once a second it hands the caller the live report (series so far,
// running totals) and asks whether to stop. Nothing it does blocks for longer than a
// Redis command timeout, so a stop is seen within about 100 ms.
//
// Distributed runs: see RemoteWorkers.h for the protocol. The coordinator (this process)
// claims `workers` idle workers, gives each its shards and the scenario, and all start at
// the same wall-clock instant 2 s later (hosts are expected to keep their clocks in sync,
// e.g. with NTP). A stop reaches the workers through Redis; a worker that stops answering
// is reported as an error, its seconds so far kept.
#pragma once

#include "IoLoop.h"
#include "RunReport.h"
#include "Scenario.h"

#include <QUrl>
#include <chrono>
#include <functional>
#include <memory>

namespace bulwark {

class RedisClient;

struct RunOptions
{
    std::shared_ptr<const Scenario> scenario;
    QUrl target;
    QByteArray token;
    int threads = 0; // this process's load threads (0: one per core)
    IoLoop::Kind io = IoLoop::Kind::Auto;
    bool insecureTls = false;
    QString runId; // empty: a new UUID
    // Distributed: remote workers to take part (0: this process alone) and where to find
    // them.
    RedisClient *redis = nullptr;
    int workers = 0;
    std::chrono::milliseconds workersTimeout{30'000};
};

class LoadTestRunner
{
public:
    // Called about once a second on the calling thread with the report so far (status
    // "running"). Also called with status messages while waiting for workers (`note`).
    struct Callbacks
    {
        std::function<void(const RunReport &live)> progress;
        std::function<void(const QString &note)> note;
        std::function<bool()> stopRequested;
    };

    // The finished report: status "passed", "failed" (a threshold did not hold), "stopped"
    // (stopRequested) or "error" (with `error`: the target does not resolve, workers did not
    // come, a worker was lost).
    static RunReport run(const RunOptions &options, const Callbacks &callbacks);

    // A report for a run about to start: id, scenario (its "token" member, if any, hidden:
    // reports are stored and shared), target, model, start time, status "running".
    static RunReport newReport(const Scenario &scenario, const QUrl &target, const QString &id);

    // The report's summary members from the merged totals (overall, endpoints, rates) and
    // the thresholds, evaluated. Public for the tests.
    static void complete(RunReport &report, const class EngineTotals &totals,
                         const Scenario &scenario);
};

} // namespace bulwark
