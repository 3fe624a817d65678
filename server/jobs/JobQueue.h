// SPDX-License-Identifier: GPL-3.0-or-later
// The running half of the job queue in one instance: a coordinator thread that talks to
// the database, and a pool of worker threads that run handlers.
//
// The coordinator does every queue write of this instance, so they batch: it claims up
// to jobs.claim_batch jobs per queue in one transaction (weighted across priorities by
// PriorityScheduler), hands them to the workers through an in-memory list, and records
// the outcomes the workers report in one transaction per wake-up. Besides that it renews
// this instance's leases (every lease / 3), re-queues jobs whose lease ran out anywhere
// (every second), passes cancellations made on other instances to the running handlers,
// enforces timeouts, stores progress, follows paused queues, and enqueues cron jobs.
// It sleeps until a worker finishes, a job is enqueued in this process, or the poll
// interval passes (jobs enqueued by other instances are seen within it).
//
// A queue's concurrency bounds the handlers of that queue running at once in this
// instance. Queues whose jobs are short (an average run under 5 ms, measured here, and no
// handler of the queue running for more than 100 ms now) are also claimed ahead, up to
// jobs.claim_batch more, so that short jobs flow in batches rather than one claim per job;
// jobs claimed ahead wait here for a free worker of their queue (they count as running in
// the database, under this instance's lease). When the flow stops (a job of the queue
// turns out slow), nothing more is claimed ahead, and jobs that have waited here for a
// second are given back to the database (attempt not counted) for any instance to take.
//
// Shutdown (beginShutdown): claiming stops; jobs claimed but not started are released
// at once; running jobs get until the deadline to finish; those still running then have
// their tokens cancelled and are released in the database with the attempt not counted
// (their late outcome is fenced off). Then the threads end; a worker stuck in a handler
// that ignores its token is left behind (the process exits without it).
//
// Workers and the coordinator are QThreads that hand their database connections back
// when they end; each runs posted events between jobs, so the pool can ask them to close
// idle connections.
#pragma once

#include "CronSchedule.h"
#include "EventBus.h"
#include "JobRegistry.h"
#include "JobStore.h"
#include "Metrics.h"
#include "PriorityScheduler.h"

#include <QHash>
#include <QSet>
#include <QThread>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

namespace bulwark {

class JobQueue
{
public:
    struct Options
    {
        int workers = 4;
        int claimBatch = 64;
        std::chrono::milliseconds pollInterval{200};
        std::chrono::milliseconds lease{30'000};
        QList<JobQueueConfig> queues{{QStringLiteral("default"), 4}};
        QString instanceId; // empty: a random one
        // Jobs claimed ahead that waited this long for a worker are given back.
        std::chrono::milliseconds giveBackAfter{1000};
    };

    struct CronEntry
    {
        QString name;
        CronSchedule schedule;
        JobSpec spec;
    };

    using WallClock = std::function<qint64()>; // Unix milliseconds

    JobQueue(JobStore &store, const JobRegistry &registry, Options options,
             EventBus *events = nullptr, MetricsRegistry *metrics = nullptr,
             WallClock clock = {});
    // Stops at once (no grace) if still running. After a stop that was not clean (a
    // handler that ignored its token still runs) it must not be destroyed: the owner then
    // leaves it to the end of the process (ServerApp does).
    ~JobQueue();
    Q_DISABLE_COPY_MOVE(JobQueue)

    void setCron(QList<CronEntry> entries); // before start()
    // Called in each worker and coordinator thread before it ends (closes its database
    // and Redis connections).
    void setThreadFinalizer(std::function<void()> finalizer) { m_finalizer = std::move(finalizer); }

    void start();
    // Stops claiming, lets running jobs finish until `grace` from now, releases the rest,
    // then stops the threads. Returns at once; isStopped() tells when it is done.
    void beginShutdown(std::chrono::milliseconds grace);
    bool isStopped() const { return m_stopped.load(); }
    // After isStopped(): false when a handler ignored its token and its thread still runs
    // (the process should then exit without destroying the queue).
    bool stoppedCleanly() const { return m_stoppedCleanly.load(); }
    // beginShutdown and wait (for tests and the destructor); bounded by grace + 2 s.
    void stop(std::chrono::milliseconds grace);

    // Fills in the type's defaults, checks the types exist, stores the jobs and wakes
    // the coordinator. Unprocessable for an unknown type.
    Result<QList<Enqueued>> enqueue(QList<JobSpec> specs);
    Result<Enqueued> enqueue(JobSpec spec);
    // Cancels in the database; a job running here is told at once.
    Result<JobStore::CancelResult> cancel(qint64 id);
    Result<bool> setPaused(const QString &queue, bool paused);
    // Wakes the coordinator (after a retry through the store, for instance).
    void wake();

    const QString &instanceId() const { return m_options.instanceId; }
    const Options &options() const { return m_options; }
    JobStore &store() const { return m_store; }
    const JobRegistry &registry() const { return m_registry; }
    qint64 now() const { return m_clock(); }

    // This instance's view, for the stats endpoint and the console.
    struct LocalStats
    {
        int workers = 0;
        int busy = 0;       // workers inside a handler
        int waiting = 0;    // claimed, waiting for a worker
        QHash<QString, int> held; // per queue: running + waiting
        QSet<QString> paused;
        quint64 claimed = 0;
        quint64 succeeded = 0;
        quint64 failed = 0; // failed attempts
        quint64 dead = 0;
        quint64 cancelled = 0;
        quint64 released = 0;
        quint64 storeErrors = 0;
        Histogram::Snapshot wait; // seconds from run_at to start
        Histogram::Snapshot run;  // seconds a handler ran
        bool shuttingDown = false;
    };
    LocalStats localStats() const;
    // Depth per queue and priority across all instances, as the coordinator last read it
    // (every 2 s): for metrics and the console, which must not query on every sample.
    struct DepthSnapshot
    {
        QList<JobStore::Depth> depth;
        qint64 dead = 0;
        qint64 atMs = 0;
    };
    DepthSnapshot depth() const;

private:
    struct Active
    {
        ClaimedJob job;
        const JobRegistry::Entry *entry = nullptr;
        std::shared_ptr<CancellationToken> token;
        std::chrono::steady_clock::time_point claimed{};
        std::chrono::steady_clock::time_point started{}; // unset while waiting
        bool progressDirty = false;
        bool outcomePending = false; // the handler returned; its outcome awaits the store
        double progress = 0;
        QString progressMessage;
    };
    struct Finished
    {
        JobOutcome outcome;
        QString type;
        QString queue;
        double runSeconds = 0;
    };

    void coordinatorLoop();
    void workerLoop();
    void runJob(qint64 id, const QString &queue);
    void claimRound(qint64 nowMs);
    void flush(std::vector<Finished> finished);
    void periodic(qint64 nowMs, std::chrono::steady_clock::time_point steadyNow);
    void runCron(qint64 nowMs);
    void releaseAll(bool runningToo); // shutdown
    void countStoreError(const Error &error, const char *what);
    // Whether the queue's recent jobs ran shorter than kShortJobSeconds on average and none
    // of its handlers has been running for kStalledAfter (with m_mutex held).
    bool shortJobs(const QString &queue, std::chrono::steady_clock::time_point now) const;
    // Gives back jobs claimed ahead that waited giveBackAfter for a worker.
    void giveBackStale(std::chrono::steady_clock::time_point now);
    static constexpr double kShortJobSeconds = 0.005;
    static constexpr std::chrono::milliseconds kStalledAfter{100};
    Finished outcomeFor(const Active &active, const JobResult &result, double runSeconds);

    JobStore &m_store;
    const JobRegistry &m_registry;
    Options m_options;
    EventBus *m_events;
    WallClock m_clock;
    std::function<void()> m_finalizer;
    QList<CronEntry> m_cron;
    QHash<QString, qint64> m_cronNext; // entry -> next slot (ms), coordinator only
    QHash<QString, PriorityScheduler> m_schedulers; // coordinator only
    QHash<QString, int> m_concurrency;
    // Coordinator only: when the periodic duties last ran.
    std::chrono::steady_clock::time_point m_lastRenew{};
    std::chrono::steady_clock::time_point m_lastSecond{};
    std::chrono::steady_clock::time_point m_lastDepth{};

    mutable std::mutex m_mutex;
    std::condition_variable m_coordinatorWake;
    std::condition_variable m_workerWake;
    std::deque<qint64> m_ready;            // claimed, not started (ids into m_active)
    QHash<qint64, Active> m_active;        // claimed by this instance
    QHash<QString, int> m_held;            // per queue: claimed here (running or waiting)
    QHash<QString, int> m_running;         // per queue: handlers running
    QHash<QString, double> m_runAverage;   // per queue: moving average of run seconds
    std::vector<Finished> m_finished;      // outcomes not yet stored
    QSet<QString> m_paused;
    bool m_wakeFlag = false;
    bool m_claimMore = false;              // the last claim was full: claim again soon
    bool m_stopClaiming = false;
    bool m_stopWorkers = false;
    bool m_exitCoordinator = false;
    std::chrono::steady_clock::time_point m_releaseDeadline{};
    std::chrono::milliseconds m_flushBackoff{0};          // after failed outcome writes
    std::chrono::steady_clock::time_point m_flushNotBefore{};
    std::chrono::steady_clock::time_point m_lastStoreWarning{};
    quint64 m_suppressedWarnings = 0;
    int m_busy = 0;
    LocalStats m_counters;
    DepthSnapshot m_depth;

    std::unique_ptr<QThread> m_coordinator;
    std::vector<std::unique_ptr<QThread>> m_workers;
    std::atomic<bool> m_started{false};
    std::atomic<bool> m_stopped{false};
    std::atomic<bool> m_stoppedCleanly{true};

    Family<Counter> *m_enqueuedMetric = nullptr;
    Family<Counter> *m_finishedMetric = nullptr;
    Family<Histogram> *m_runMetric = nullptr;
    Histogram *m_waitMetric = nullptr;
    Gauge *m_busyMetric = nullptr;
    Histogram m_waitLocal{Histogram::exponentialBuckets(0.001, 4, 12)};
    Histogram m_runLocal{Histogram::exponentialBuckets(0.0001, 4, 14)};
};

} // namespace bulwark
