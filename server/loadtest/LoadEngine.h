// SPDX-License-Identifier: GPL-3.0-or-later
// LoadEngine runs a scenario against a target from this process: several load threads,
// each with its own IoLoop and connections, and merges what they measure.
//
// Work is split into shards so that threads and distributed workers share one run
// exactly, without talking to each other while it runs: a run has S shards in total (the
// load threads of every process), a thread owns shard s, and
//   closed model: virtual user u (numbered in the order the shape adds them) belongs to
//                 shard u mod S, so at time t shard s runs ceil((usersAt(t) - s) / S) users;
//   open model:   arrival k of the run's arrival schedule (ArrivalSchedule) belongs to shard
//                 k mod S, and the connection cap is split the same way.
// A process is given its first shard and the total, so N processes with T threads each
// together produce exactly the load of one process with N*T threads.
//
// Timing: every thread starts at the same steady-clock instant (startAt) and ends at
// startAt + the shape's duration; requests in flight at the end finish (or time out) and
// count. stop() ends at once: requests in flight are dropped and counted as interrupted.
//
// Latency is measured from the moment a request was due: in the closed model that is when
// it is sent; in the open model the first request of an arrival is due at the arrival's
// intended time, so time spent waiting for a free connection (a stalled server) is part of
// its latency — the coordinated-omission correction.
//
// Results: every thread reports each second of the run ([k s, k+1 s) after the start) once
// it is over; the engine merges the threads' seconds (SeriesMerger) and keeps each merged
// second for takeSeconds(), in order. totals() after wait() holds the run's endpoint stats.
#pragma once

#include "Error.h"
#include "IoLoop.h"
#include "LatencyHistogram.h"
#include "RunReport.h"
#include "Scenario.h"

#include <QJsonObject>
#include <QList>
#include <QMap>
#include <QUrl>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>

class QThread;

namespace bulwark {

// One second of the run as measured by one thread, one process or all of them: mergeable.
struct SecondPartial
{
    qint64 second = 0;
    quint64 requests = 0;
    quint64 failures = 0;
    std::array<quint64, kFailureKinds> failuresByKind{};
    int activeUsers = 0;
    double targetRate = 0;
    LatencyHistogram latency;

    void merge(const SecondPartial &other);
    SecondSample sample() const; // percentiles of the histogram
    QJsonObject toJson() const;
    static Result<SecondPartial> fromJson(const QJsonObject &o);
};

// Merges the per-second partials of several sources (threads, or processes) into one per
// second, in order. A second is complete when every source still running has reported it;
// a finished source (finish()) is not waited for. Each source reports its seconds in
// increasing order.
class SeriesMerger
{
public:
    explicit SeriesMerger(int sources);
    // Returns the seconds this completes, in order.
    QList<SecondPartial> add(int source, const SecondPartial &partial);
    QList<SecondPartial> finish(int source);

private:
    QList<SecondPartial> takeComplete();

    struct Pending
    {
        SecondPartial merged;
        int reported = 0;
    };
    QMap<qint64, Pending> m_pending;
    QList<bool> m_finished;
    QList<qint64> m_lastReported;
    int m_running;
    qint64 m_nextSecond = 0;
};

// The integer arrival schedule of an open-model run: the shape gives arrivals per second
// (usersAt), integrated per millisecond in whole thousandths of an arrival, so arrival k's
// intended time is exact and the same in every process: arrival k is due when the running
// total reaches k.
class ArrivalSchedule
{
public:
    explicit ArrivalSchedule(const LoadShape &shape) : m_shape(shape) {}
    // The intended time of the next arrival in nanoseconds since the start, or -1 when the
    // shape has ended. Arrivals are numbered 0, 1, ... in the order next() returns them.
    qint64 next();
    quint64 produced() const { return m_next; }

private:
    const LoadShape &m_shape;
    qint64 m_ms = 0;         // the millisecond being integrated
    quint64 m_milli = 0;     // thousandths of arrivals due before m_ms
    quint64 m_next = 0;      // the next arrival's number
    qint64 m_total = -1;
};

// What a process (or a whole run) measured, at the end.
struct EngineTotals
{
    QList<EndpointStats> endpoints; // in the scenario's order of first appearance
    quint64 dropped = 0;
    quint64 interrupted = 0;
    int peakUsers = 0;
    double durationSeconds = 0; // start to the last finished request

    void merge(const EngineTotals &other);
    EndpointStats overall() const;
    QJsonObject toJson() const;
    static Result<EngineTotals> fromJson(const QJsonObject &o);
};

struct EngineOptions
{
    std::shared_ptr<const Scenario> scenario;
    QUrl target;             // http(s)://host[:port]
    QByteArray token;        // the run's token ({{token}}); empty: none
    int threads = 0;         // load threads here (0: one per core)
    int shardBase = 0;       // this process's first shard
    int shardCount = 0;      // shards in the run (0: threads, a run of this process alone)
    IoLoop::Kind io = IoLoop::Kind::Auto;
    bool insecureTls = false;
    // When the threads start (steady clock); default: 100 ms after start().
    std::chrono::steady_clock::time_point startAt{};
};

class LoadEngine
{
public:
    explicit LoadEngine(EngineOptions options);
    ~LoadEngine();
    Q_DISABLE_COPY_MOVE(LoadEngine)

    // Resolves the target and starts the threads; returns at once. Errors: the target is
    // not a usable URL or its host does not resolve (BadRequest), the scenario cannot run
    // on this model (Unprocessable).
    Result<bool> start();
    // Ends the run now (any thread).
    void stop();
    // Waits for the threads; true when they ended within the timeout.
    bool wait(std::chrono::milliseconds timeout);
    bool finished() const;

    // The merged seconds of this process completed since the last call, in order (any
    // thread; the runner and the distributed worker poll it).
    QList<SecondPartial> takeSeconds();

    EngineTotals totals() const; // valid after wait()
    const EngineOptions &options() const { return m_options; }
    int threadCount() const { return m_threadCount; }
    IoLoop::Kind ioKind() const { return m_ioKind; } // what the threads use
    bool stoppedEarly() const { return m_stop.load(); }

    // Validates a scenario and target for the engine without running anything.
    static Result<bool> check(const Scenario &scenario, const QUrl &target);

private:
    friend class LoadWorker;
    void threadSecond(int thread, const SecondPartial &partial);
    void threadFinished(int thread);

    EngineOptions m_options;
    int m_threadCount = 0;
    IoLoop::Kind m_ioKind = IoLoop::Kind::Auto;
    std::atomic<bool> m_stop{false};
    std::atomic<int> m_running{0};
    QList<QThread *> m_threads;
    QList<std::shared_ptr<class LoadWorker>> m_workers;
    mutable std::mutex m_mutex;
    std::unique_ptr<SeriesMerger> m_merger;
    QList<SecondPartial> m_ready; // merged, not taken yet
};

} // namespace bulwark
