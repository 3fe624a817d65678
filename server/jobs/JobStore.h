// SPDX-License-Identifier: GPL-3.0-or-later
// Every statement of the job queue, over the connection pool: the durable half of the
// queue. Stateless apart from the pool, so any thread may call it (each call runs in its
// own SqlSession, i.e. on the calling thread's connection); the runtime (JobQueue) decides
// what to do and when, this class only makes it so, atomically.
//
// Claiming. One write transaction per claim: for each priority in turn an
//   UPDATE jobs SET state='running', lease... WHERE id IN (SELECT id ... ready, this queue
//   and priority, ORDER BY run_at, id LIMIT n [FOR UPDATE SKIP LOCKED]) RETURNING ...
// so a job is claimed by exactly one instance: SQLite has one writer at a time; PostgreSQL
// skips rows another transaction has locked instead of waiting for them. The counts per
// priority come from PriorityScheduler; what a priority cannot fill goes to the others in
// priority order in a second pass.
//
// Fencing. Every write about a running job names the instance that claimed it and the
// attempt number (`WHERE id = ? AND lease_owner = ? AND attempts = ? AND state =
// 'running'`): when a lease expired and the job was claimed again, the old attempt's
// outcome changes nothing.
//
// Times are Unix milliseconds passed in by the caller, so tests choose them.
#pragma once

#include "ConnectionPool.h"
#include "Error.h"
#include "JobTypes.h"
#include "QueryInsight.h"

#include <QHash>
#include <QSet>
#include <array>
#include <vector>

namespace bulwark {

class SqlSession;

class JobStore
{
public:
    JobStore(ConnectionPool &pool, QueryInsight *insight) : m_pool(pool), m_insight(insight) {}
    Q_DISABLE_COPY_MOVE(JobStore)

    // Inserts the jobs in one transaction. Each spec must be complete (queue, priority,
    // maxAttempts >= 1, runAtMs set). A spec with a unique key returns the newest job of
    // that key created within its window, if one exists that was not cancelled.
    Result<QList<Enqueued>> enqueue(const QList<JobSpec> &specs, qint64 nowMs);

    // Claims up to counts[p] ready jobs of each priority of `queue` (and, in a second
    // pass, up to the sum of counts from whichever priorities still have jobs, in priority
    // order), leasing them to `owner` until leaseUntilMs. Returns them in priority order.
    Result<QList<ClaimedJob>> claim(const QString &owner, const QString &queue,
                                    std::array<int, kJobPriorities> counts, qint64 nowMs,
                                    qint64 leaseUntilMs);

    // Records the outcomes in one transaction; applied[i] tells whether outcome i changed
    // its job (false: the attempt was fenced off, see above).
    Result<std::vector<bool>> finish(const QString &owner, const QList<JobOutcome> &outcomes,
                                     qint64 nowMs);

    // Extends the lease of every job `owner` is running.
    Result<qint64> renewLeases(const QString &owner, qint64 leaseUntilMs);

    // Jobs whose lease ran out (their instance died or hung): back to retrying, dead if
    // that was their last attempt, cancelled if a cancel was requested. Returns what
    // happened to each.
    struct Expired
    {
        qint64 id = 0;
        QString type;
        QString queue;
        int attempt = 0;
        JobState state = JobState::Retrying; // retrying, dead, or cancelled (requested)
    };
    Result<QList<Expired>> requeueExpired(qint64 nowMs);

    // Running jobs of `owner` that someone asked to cancel.
    Result<QList<qint64>> cancelRequested(const QString &owner);

    struct Progress
    {
        qint64 id = 0;
        int attempt = 0;
        double fraction = 0;
        QString message;
    };
    Result<bool> saveProgress(const QString &owner, const QList<Progress> &progress);

    // --- The API's view ---
    Result<std::optional<JobRecord>> get(qint64 id);
    // Newest first; `beforeId` pages (0: from the newest).
    Result<QList<JobRecord>> list(const JobFilter &filter, qint64 beforeId, int limit);

    // Cancels a queued, retrying or scheduled job at once; for a running one, sets the
    // request its instance acts on (at its next poll). NotFound / Conflict (finished).
    struct CancelResult
    {
        JobState state = JobState::Cancelled; // after the call
        bool requested = false;               // running: the handler was asked to stop
    };
    Result<CancelResult> cancel(qint64 id, qint64 nowMs);
    // Runs a dead, cancelled or retrying job again now, with a fresh attempt budget
    // (retrying: just sooner). Conflict for queued, running and succeeded jobs.
    Result<JobRecord> retry(qint64 id, qint64 nowMs);
    Result<bool> remove(qint64 id); // Conflict while running

    // The same for every job the filter covers (running jobs are asked to stop, never
    // deleted). Return how many jobs changed.
    Result<qint64> cancelMatching(const JobFilter &filter, qint64 nowMs);
    Result<qint64> retryMatching(const JobFilter &filter, qint64 nowMs);
    Result<qint64> removeMatching(const JobFilter &filter);

    Result<bool> setPaused(const QString &queue, bool paused);
    Result<QSet<QString>> pausedQueues();

    struct Depth
    {
        QString queue;
        JobPriority priority = JobPriority::Normal;
        qint64 ready = 0;     // queued or retrying with run_at <= now
        qint64 scheduled = 0; // queued with run_at in the future
        qint64 retrying = 0;  // waiting for their backoff
        qint64 running = 0;
    };
    struct Stats
    {
        QList<Depth> depth;
        qint64 dead = 0;
        // Finished in the last minute and hour, by state (succeeded, dead, cancelled).
        QHash<QString, qint64> lastMinute;
        QHash<QString, qint64> lastHour;
        // Jobs with a failed attempt in the last hour that are now retrying or dead (a job
        // that failed twice counts once).
        qint64 failedLastHour = 0;
    };
    Result<Stats> stats(qint64 nowMs);

    struct Pruned
    {
        qint64 finished = 0; // succeeded and cancelled past retention
        qint64 dead = 0;     // dead past dead retention or above the cap
        qint64 deliveries = 0;
    };
    Result<Pruned> prune(qint64 nowMs, qint64 retentionMs, qint64 deadRetentionMs,
                         qint64 deadMax);

    // Cron: enqueues `spec` for period `slotMs` of cron entry `name`, unless some instance
    // already did (compare-and-set on job_cron in the same transaction). Returns the job
    // id, or nothing when the period was taken.
    Result<std::optional<qint64>> enqueueCronSlot(const QString &name, qint64 slotMs,
                                                  const JobSpec &spec, qint64 nowMs);
    // The last period recorded for a cron entry (nothing before its first run).
    Result<std::optional<qint64>> lastCronSlot(const QString &name);

    struct Delivery
    {
        qint64 id = 0;
        QString webhook;
        QString event;
        QString deliveryId;
        qint64 jobId = 0;
        int attempt = 0;
        qint64 atMs = 0;
        int status = 0;
        qint64 durationMs = 0;
        QString error;
        QString response;
        QJsonObject toJson() const;
    };
    Result<bool> recordDelivery(const Delivery &delivery);
    Result<QList<Delivery>> deliveries(const QString &webhook, qint64 beforeId, int limit);

    ConnectionPool &pool() const { return m_pool; }
    QueryInsight *insight() const { return m_insight; }

private:
    ConnectionPool &m_pool;
    QueryInsight *m_insight;
};

} // namespace bulwark
