// SPDX-License-Identifier: GPL-3.0-or-later
// See JobQueue.h.
#include "JobQueue.h"

#include "ThreadRandom.h"

#include <QCoreApplication>
#include <QDateTime>

namespace bulwark {

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

QString randomInstanceId()
{
    return QStringLiteral("%1-%2")
        .arg(QSysInfo::machineHostName().left(32))
        .arg(quint64(threadRandom()()), 16, 16, QLatin1Char('0'));
}

QString reasonText(CancellationToken::Reason reason, std::chrono::milliseconds timeout)
{
    switch (reason) {
    case CancellationToken::Reason::Timeout:
        return QStringLiteral("timed out after %1 ms").arg(timeout.count());
    case CancellationToken::Reason::Shutdown:
        return QStringLiteral("the instance shut down");
    default: return QStringLiteral("cancelled while running");
    }
}

JobOutcome released(qint64 id, int attempt)
{
    JobOutcome o;
    o.id = id;
    o.attempt = attempt;
    o.kind = JobOutcome::Kind::Released;
    return o;
}

} // namespace

JobQueue::JobQueue(JobStore &store, const JobRegistry &registry, Options options,
                   EventBus *events, MetricsRegistry *metrics, WallClock clock)
    : m_store(store), m_registry(registry), m_options(std::move(options)), m_events(events),
      m_clock(clock ? std::move(clock) : WallClock([] { return QDateTime::currentMSecsSinceEpoch(); }))
{
    if (m_options.instanceId.isEmpty())
        m_options.instanceId = randomInstanceId();
    m_options.workers = std::max(1, m_options.workers);
    m_options.claimBatch = std::max(1, m_options.claimBatch);
    for (const JobQueueConfig &q : m_options.queues) {
        m_concurrency.insert(q.name, std::max(1, q.concurrency));
        m_schedulers.insert(q.name, PriorityScheduler());
    }
    m_counters.workers = m_options.workers;
    if (metrics) {
        m_enqueuedMetric = &metrics->counter("bulwark_jobs_enqueued_total",
                                             "Jobs enqueued by this instance.", {"type"});
        m_finishedMetric = &metrics->counter(
            "bulwark_jobs_finished_total",
            "Attempts that ended in this instance, by outcome (succeeded, failed, dead, "
            "cancelled, released).",
            {"type", "outcome"});
        m_runMetric = &metrics->histogram("bulwark_job_run_seconds",
                                          "Time handlers ran, per job type.", {"type"},
                                          Histogram::exponentialBuckets(0.0001, 4, 14));
        m_waitMetric = &metrics
                            ->histogram("bulwark_job_wait_seconds",
                                        "Time from a job's run_at to its start.", {},
                                        Histogram::exponentialBuckets(0.001, 4, 12))
                            .labels({});
        m_busyMetric = &metrics
                            ->gauge("bulwark_jobs_running",
                                    "Handlers running in this instance.", {})
                            .labels({});
        metrics->addCollector([this](QByteArray &out) {
            const DepthSnapshot d = depth();
            out += "# HELP bulwark_jobs_queue_depth Jobs waiting, by queue, priority and state "
                   "(ready, scheduled, retrying) and running, across all instances.\n"
                   "# TYPE bulwark_jobs_queue_depth gauge\n";
            for (const JobStore::Depth &q : d.depth) {
                const QByteArray labels =
                    "queue=\"" + MetricsRegistry::escapeLabelValue(q.queue.toUtf8()) +
                    "\",priority=\"" + jobPriorityName(q.priority).toUtf8() + "\",state=\"";
                const std::pair<const char *, qint64> rows[] = {{"ready", q.ready},
                                                                {"scheduled", q.scheduled},
                                                                {"retrying", q.retrying},
                                                                {"running", q.running}};
                for (const auto &[state, n] : rows)
                    out += "bulwark_jobs_queue_depth{" + labels + state + "\"} " +
                           QByteArray::number(n) + '\n';
            }
            out += "# HELP bulwark_jobs_dead Jobs in the dead-letter queue.\n"
                   "# TYPE bulwark_jobs_dead gauge\nbulwark_jobs_dead " +
                   QByteArray::number(d.dead) + '\n';
        });
    }
}

JobQueue::~JobQueue()
{
    // Always through stop(): isStopped() turns true just before the coordinator's thread
    // returns, and a QThread must have finished before it is destroyed.
    if (m_started.load())
        stop(std::chrono::milliseconds(0));
}

void JobQueue::setCron(QList<CronEntry> entries)
{
    m_cron = std::move(entries);
}

void JobQueue::start()
{
    if (m_started.exchange(true))
        return;
    for (int i = 0; i < m_options.workers; ++i) {
        std::unique_ptr<QThread> thread(QThread::create([this] { workerLoop(); }));
        thread->setObjectName(QStringLiteral("bulwark-job-%1").arg(i));
        thread->start();
        m_workers.push_back(std::move(thread));
    }
    m_coordinator.reset(QThread::create([this] { coordinatorLoop(); }));
    m_coordinator->setObjectName(QStringLiteral("bulwark-jobs"));
    m_coordinator->start();
}

void JobQueue::beginShutdown(std::chrono::milliseconds grace)
{
    std::lock_guard lock(m_mutex);
    if (m_stopClaiming) {
        // Called again with a shorter grace (the destructor's stop(0)): that one counts.
        m_releaseDeadline = std::min(m_releaseDeadline, std::chrono::steady_clock::now() + grace);
        m_wakeFlag = true;
        m_coordinatorWake.notify_all();
        return;
    }
    m_stopClaiming = true;
    m_counters.shuttingDown = true;
    m_releaseDeadline = std::chrono::steady_clock::now() + grace;
    m_wakeFlag = true;
    m_coordinatorWake.notify_all();
}

void JobQueue::stop(std::chrono::milliseconds grace)
{
    if (!m_started.load()) {
        m_stopped = true;
        return;
    }
    beginShutdown(grace);
    // The coordinator runs no handler: it ends soon after the deadline, once its last
    // writes are done, so it is waited for without a limit.
    if (m_coordinator)
        m_coordinator->wait();
    for (auto &worker : m_workers) {
        if (worker && !worker->wait(QDeadlineTimer(std::chrono::seconds(2)))) {
            // A handler that ignores its token: the thread is left to the end of the
            // process (ServerApp then exits without a clean drain).
            qWarning("job worker %s did not stop; leaving it", qPrintable(worker->objectName()));
            (void)worker.release();
            m_stoppedCleanly = false;
        }
    }
    m_stopped = true;
}

Result<QList<Enqueued>> JobQueue::enqueue(QList<JobSpec> specs)
{
    const qint64 now = m_clock();
    for (JobSpec &spec : specs) {
        const JobRegistry::Entry *entry = m_registry.find(spec.type);
        if (!entry)
            return Error{ErrorCode::Unprocessable,
                         QStringLiteral("no job type \"%1\"").arg(spec.type)};
        if (spec.queue.isEmpty())
            spec.queue = entry->options.queue;
        if (!m_concurrency.contains(spec.queue))
            return Error{ErrorCode::Unprocessable,
                         QStringLiteral("no queue \"%1\"").arg(spec.queue)};
        if (!spec.priority)
            spec.priority = entry->options.priority;
        if (spec.maxAttempts <= 0)
            spec.maxAttempts = entry->options.retry.maxAttempts;
        if (spec.runAtMs <= 0)
            spec.runAtMs = now;
    }
    auto stored = m_store.enqueue(specs, now);
    if (!stored.ok())
        return stored;
    if (m_enqueuedMetric)
        for (qsizetype i = 0; i < specs.size(); ++i)
            if (!stored.value().at(i).duplicate)
                m_enqueuedMetric->labels({specs.at(i).type.toUtf8()}).inc();
    wake();
    return stored;
}

Result<Enqueued> JobQueue::enqueue(JobSpec spec)
{
    auto many = enqueue(QList<JobSpec>{std::move(spec)});
    if (!many.ok())
        return many.error();
    return many.value().first();
}

Result<JobStore::CancelResult> JobQueue::cancel(qint64 id)
{
    auto result = m_store.cancel(id, m_clock());
    if (result.ok() && result.value().requested) {
        std::lock_guard lock(m_mutex);
        if (auto it = m_active.find(id); it != m_active.end())
            it->token->cancel(CancellationToken::Reason::Cancelled);
    }
    return result;
}

Result<bool> JobQueue::setPaused(const QString &queue, bool paused)
{
    if (!m_concurrency.contains(queue))
        return Error{ErrorCode::NotFound, QStringLiteral("no queue \"%1\"").arg(queue)};
    auto set = m_store.setPaused(queue, paused);
    if (!set.ok())
        return set;
    std::lock_guard lock(m_mutex);
    if (paused)
        m_paused.insert(queue);
    else
        m_paused.remove(queue);
    m_wakeFlag = true;
    m_coordinatorWake.notify_all();
    return true;
}

void JobQueue::wake()
{
    std::lock_guard lock(m_mutex);
    m_wakeFlag = true;
    m_coordinatorWake.notify_all();
}

JobQueue::LocalStats JobQueue::localStats() const
{
    std::lock_guard lock(m_mutex);
    LocalStats s = m_counters;
    s.busy = m_busy;
    s.waiting = int(m_ready.size());
    s.held = m_held;
    s.paused = m_paused;
    s.wait = m_waitLocal.snapshot();
    s.run = m_runLocal.snapshot();
    return s;
}

JobQueue::DepthSnapshot JobQueue::depth() const
{
    std::lock_guard lock(m_mutex);
    return m_depth;
}

void JobQueue::countStoreError(const Error &error, const char *what)
{
    quint64 suppressed = 0;
    {
        std::lock_guard lock(m_mutex);
        ++m_counters.storeErrors;
        // At most one warning a second, with how many were left out: a database outage
        // must not flood the log.
        const auto now = std::chrono::steady_clock::now();
        if (now - m_lastStoreWarning < std::chrono::seconds(1)) {
            ++m_suppressedWarnings;
            return;
        }
        m_lastStoreWarning = now;
        suppressed = std::exchange(m_suppressedWarnings, 0);
    }
    if (suppressed > 0)
        qWarning("job queue: %s failed: %s (%llu similar failures in the last second not "
                 "logged)",
                 what, qPrintable(error.message), static_cast<unsigned long long>(suppressed));
    else
        qWarning("job queue: %s failed: %s", what, qPrintable(error.message));
}

// --- Coordinator ---

void JobQueue::coordinatorLoop()
{
    SteadyTime nextPoll{};
    SteadyTime nextPeriodic{};
    bool released = false;
    for (;;) {
        std::vector<Finished> finished;
        bool claimNow = false;
        bool exitNow = false;
        {
            std::unique_lock lock(m_mutex);
            SteadyTime wakeAt = std::min(nextPoll, nextPeriodic);
            if (!m_finished.empty())
                wakeAt = std::min(wakeAt, m_flushNotBefore);
            m_coordinatorWake.wait_until(lock, wakeAt, [this] {
                return (!m_finished.empty() &&
                        std::chrono::steady_clock::now() >= m_flushNotBefore) ||
                       m_wakeFlag || m_exitCoordinator;
            });
            if (std::chrono::steady_clock::now() >= m_flushNotBefore)
                finished.swap(m_finished);
            claimNow = m_wakeFlag || m_claimMore;
            m_wakeFlag = false;
            m_claimMore = false;
            exitNow = m_exitCoordinator;
        }
        QCoreApplication::sendPostedEvents();
        if (!finished.empty())
            flush(std::move(finished));
        if (exitNow)
            break;
        const SteadyTime steadyNow = std::chrono::steady_clock::now();
        const qint64 now = m_clock();
        bool stopping;
        {
            std::lock_guard lock(m_mutex);
            stopping = m_stopClaiming;
        }
        if (stopping) {
            if (!released) {
                releaseAll(false); // claimed but not started: back at once
                released = true;
            }
            bool idle;
            bool pastDeadline;
            {
                std::lock_guard lock(m_mutex);
                idle = m_active.isEmpty() && m_finished.empty();
                pastDeadline = steadyNow >= m_releaseDeadline;
            }
            if (!idle && pastDeadline) {
                releaseAll(true);
                idle = true;
            }
            if (idle) {
                std::lock_guard lock(m_mutex);
                m_stopWorkers = true;
                m_exitCoordinator = true;
                m_workerWake.notify_all();
                // One more turn stores what the workers report while stopping.
                m_coordinatorWake.notify_all();
            }
            if (steadyNow >= nextPeriodic) {
                // Leases of jobs still running must not lapse while they finish.
                periodic(now, steadyNow);
                nextPeriodic = steadyNow + std::chrono::milliseconds(250);
            }
            nextPoll = std::min(steadyNow + std::chrono::milliseconds(20), m_releaseDeadline);
            continue;
        }
        if (claimNow || steadyNow >= nextPoll) {
            claimRound(now);
            nextPoll = steadyNow + m_options.pollInterval;
        }
        if (steadyNow >= nextPeriodic) {
            periodic(now, steadyNow);
            nextPeriodic = steadyNow + std::chrono::milliseconds(250);
        }
    }
    if (m_finalizer)
        m_finalizer();
    const QDeadlineTimer workersDeadline(std::chrono::seconds(2));
    bool clean = true;
    for (auto &worker : m_workers)
        clean = worker->wait(workersDeadline) && clean;
    m_stoppedCleanly = clean;
    m_stopped = true;
}

bool JobQueue::shortJobs(const QString &queue, SteadyTime now) const
{
    const double average = m_runAverage.value(queue, -1);
    if (average < 0 || average >= kShortJobSeconds)
        return false;
    for (const Active &a : m_active)
        if (a.started != SteadyTime{} && a.job.queue == queue && now - a.started > kStalledAfter)
            return false;
    return true;
}

void JobQueue::giveBackStale(SteadyTime now)
{
    std::vector<Finished> back;
    {
        std::lock_guard lock(m_mutex);
        for (auto it = m_ready.begin(); it != m_ready.end();) {
            auto active = m_active.find(*it);
            if (active == m_active.end() || now - active->claimed < m_options.giveBackAfter ||
                shortJobs(active->job.queue, now)) {
                ++it;
                continue;
            }
            back.push_back(
                Finished{released(active.key(), active->job.attempt), active->job.type,
                         active->job.queue, 0});
            int &held = m_held[active->job.queue];
            held = std::max(0, held - 1);
            m_active.erase(active);
            it = m_ready.erase(it);
        }
    }
    if (!back.empty()) {
        qInfo("job queue: %lld job(s) claimed ahead waited a second; given back to the queue",
              qlonglong(back.size()));
        flush(std::move(back));
    }
}

void JobQueue::claimRound(qint64 nowMs)
{
    struct Want
    {
        QString queue;
        int slots = 0;
    };
    std::vector<Want> wants;
    {
        std::lock_guard lock(m_mutex);
        for (auto it = m_concurrency.cbegin(); it != m_concurrency.cend(); ++it) {
            if (m_paused.contains(it.key()))
                continue;
            const int ahead = shortJobs(it.key(), std::chrono::steady_clock::now())
                                  ? m_options.claimBatch
                                  : 0;
            const int free = it.value() + ahead - m_held.value(it.key());
            if (free > 0)
                wants.push_back({it.key(), std::min(free, m_options.claimBatch)});
        }
    }
    const qint64 leaseUntil = nowMs + m_options.lease.count();
    bool full = false;
    for (const Want &want : wants) {
        const auto counts = m_schedulers[want.queue].allocate(want.slots);
        auto claimed = m_store.claim(m_options.instanceId, want.queue, counts, nowMs, leaseUntil);
        if (!claimed.ok()) {
            countStoreError(claimed.error(), "claiming jobs");
            continue;
        }
        if (claimed.value().isEmpty())
            continue;
        full = full || claimed.value().size() >= want.slots;
        std::vector<JobOutcome> unknown;
        {
            std::lock_guard lock(m_mutex);
            for (ClaimedJob &job : claimed.value()) {
                const JobRegistry::Entry *entry = m_registry.find(job.type);
                Active active;
                active.entry = entry;
                active.claimed = std::chrono::steady_clock::now();
                active.token = std::make_shared<CancellationToken>();
                active.job = std::move(job);
                const qint64 id = active.job.id;
                ++m_counters.claimed;
                if (auto old = m_active.find(id); old != m_active.end()) {
                    // Its lease lapsed here (a database outage), it was re-queued and this
                    // instance claimed it again: the old attempt is stale. Its handler is
                    // told to stop and its outcome is dropped (runJob compares attempts);
                    // the new attempt takes its place and its slot.
                    old->token->cancel(CancellationToken::Reason::Shutdown);
                    const bool waiting = old->started == SteadyTime{};
                    *old = std::move(active);
                    if (!waiting)
                        m_ready.push_back(id);
                    continue;
                }
                m_held[want.queue] += 1;
                if (!entry) {
                    // A type this instance does not know (another version enqueued it):
                    // dead, with the reason, rather than retried forever.
                    Finished f;
                    f.outcome = JobOutcome{id, active.job.attempt, JobOutcome::Kind::Failed, {},
                                           QStringLiteral("no handler for job type \"%1\" on "
                                                          "instance %2")
                                               .arg(active.job.type, m_options.instanceId),
                                           0};
                    f.type = active.job.type;
                    f.queue = want.queue;
                    m_active.insert(id, std::move(active));
                    m_finished.push_back(std::move(f));
                    continue;
                }
                m_active.insert(id, std::move(active));
                m_ready.push_back(id);
            }
        }
        m_workerWake.notify_all();
        m_coordinatorWake.notify_all();
    }
    if (full) {
        std::lock_guard lock(m_mutex);
        m_claimMore = true;
    }
}

void JobQueue::periodic(qint64 nowMs, SteadyTime steadyNow)
{
    static constexpr auto kSecond = std::chrono::seconds(1);
    // Timeouts, and progress to store, under the lock; the writes after it.
    QList<JobStore::Progress> progress;
    bool anyActive;
    {
        std::lock_guard lock(m_mutex);
        anyActive = !m_active.isEmpty();
        for (auto it = m_active.begin(); it != m_active.end(); ++it) {
            Active &a = it.value();
            if (a.started != SteadyTime{} && steadyNow - a.started > a.entry->options.timeout)
                a.token->cancel(CancellationToken::Reason::Timeout);
            if (a.progressDirty) {
                progress.append({a.job.id, a.job.attempt, a.progress, a.progressMessage});
                a.progressDirty = false;
            }
        }
    }
    if (anyActive && steadyNow - m_lastRenew >= m_options.lease / 3) {
        // A failed renewal is tried again at the next tick (250 ms), not a third of a lease
        // later: the lease must not lapse over a short database outage.
        if (auto renewed = m_store.renewLeases(m_options.instanceId, nowMs + m_options.lease.count());
            renewed.ok())
            m_lastRenew = steadyNow;
        else
            countStoreError(renewed.error(), "renewing leases");
    }
    if (!progress.isEmpty())
        if (auto saved = m_store.saveProgress(m_options.instanceId, progress); !saved.ok())
            countStoreError(saved.error(), "saving progress");
    giveBackStale(steadyNow);
    if (steadyNow - m_lastSecond >= kSecond) {
        m_lastSecond = steadyNow;
        if (auto expired = m_store.requeueExpired(nowMs); expired.ok()) {
            for (const JobStore::Expired &e : expired.value()) {
                qWarning("job %lld (%s): lease expired; %s", qlonglong(e.id), qPrintable(e.type),
                         e.state == JobState::Dead        ? "dead (no attempts left)"
                         : e.state == JobState::Cancelled ? "cancelled (as requested)"
                                                          : "queued again");
                if (!m_events || e.state == JobState::Cancelled)
                    continue;
                // The same events, with the same fields, as an attempt that failed here.
                const QJsonObject payload{
                    {QStringLiteral("id"), double(e.id)},
                    {QStringLiteral("type"), e.type},
                    {QStringLiteral("queue"), e.queue},
                    {QStringLiteral("attempt"), e.attempt},
                    {QStringLiteral("error"),
                     QStringLiteral("the lease expired: the instance running it stopped or hung")}};
                m_events->emitEvent(QStringLiteral("job.failed"), payload);
                if (e.state == JobState::Dead)
                    m_events->emitEvent(QStringLiteral("job.dead"), payload);
            }
            if (!expired.value().isEmpty())
                wake();
        } else {
            countStoreError(expired.error(), "re-queueing expired leases");
        }
        if (anyActive) {
            if (auto cancels = m_store.cancelRequested(m_options.instanceId); cancels.ok()) {
                std::lock_guard lock(m_mutex);
                for (qint64 id : cancels.value())
                    if (auto it = m_active.find(id); it != m_active.end())
                        it->token->cancel(CancellationToken::Reason::Cancelled);
            } else {
                countStoreError(cancels.error(), "reading cancellations");
            }
        }
        if (auto paused = m_store.pausedQueues(); paused.ok()) {
            std::lock_guard lock(m_mutex);
            m_paused = paused.value();
        } else {
            countStoreError(paused.error(), "reading paused queues");
        }
        runCron(nowMs);
    }
    if (steadyNow - m_lastDepth >= 2 * kSecond) {
        m_lastDepth = steadyNow;
        if (auto stats = m_store.stats(nowMs); stats.ok()) {
            std::lock_guard lock(m_mutex);
            m_depth = DepthSnapshot{stats.value().depth, stats.value().dead, nowMs};
        } else {
            countStoreError(stats.error(), "reading queue depth");
        }
    }
}

void JobQueue::runCron(qint64 nowMs)
{
    for (const CronEntry &entry : std::as_const(m_cron)) {
        auto next = m_cronNext.find(entry.name);
        if (next == m_cronNext.end()) {
            // First look: the next slot after the one last enqueued by any instance, or
            // after now when it never ran (a cron entry does not catch up on the past).
            qint64 from = nowMs;
            if (auto last = m_store.lastCronSlot(entry.name); last.ok() && last.value())
                from = std::max(*last.value(), nowMs - 60'000);
            const auto slot =
                entry.schedule.next(QDateTime::fromMSecsSinceEpoch(from, Qt::UTC));
            next = m_cronNext.insert(entry.name, slot.isValid()
                                                     ? slot.toMSecsSinceEpoch()
                                                     : std::numeric_limits<qint64>::max());
        }
        if (*next > nowMs)
            continue;
        const qint64 slot = *next;
        JobSpec spec = entry.spec;
        auto done = m_store.enqueueCronSlot(entry.name, slot, spec, nowMs);
        if (!done.ok()) {
            countStoreError(done.error(), "enqueueing a cron job");
            continue; // tried again next second
        }
        if (done.value()) {
            qInfo("cron %s: enqueued %s as job %lld", qPrintable(entry.name),
                  qPrintable(spec.type), qlonglong(*done.value()));
            if (m_enqueuedMetric)
                m_enqueuedMetric->labels({spec.type.toUtf8()}).inc();
            wake();
        }
        const auto following = entry.schedule.next(
            QDateTime::fromMSecsSinceEpoch(std::max(slot, nowMs), Qt::UTC));
        *next = following.isValid() ? following.toMSecsSinceEpoch()
                                    : std::numeric_limits<qint64>::max();
    }
}

void JobQueue::releaseAll(bool runningToo)
{
    std::vector<Finished> release;
    {
        // Taken out of m_active here, under the lock: a handler that returns from now on
        // finds its job gone and reports nothing (its outcome would be fenced off in the
        // database anyway), so each job is released, and counted, once.
        std::lock_guard lock(m_mutex);
        auto take = [&](QHash<qint64, Active>::iterator it) {
            release.push_back(
                Finished{released(it.key(), it->job.attempt), it->job.type, it->job.queue, 0});
            int &held = m_held[it->job.queue];
            held = std::max(0, held - 1);
            return m_active.erase(it);
        };
        std::deque<qint64> ready;
        ready.swap(m_ready);
        for (qint64 id : ready)
            if (auto it = m_active.find(id); it != m_active.end())
                take(it);
        if (runningToo) {
            for (auto it = m_active.begin(); it != m_active.end();) {
                if (it->started == SteadyTime{} || it->outcomePending) {
                    ++it;
                    continue;
                }
                it->token->cancel(CancellationToken::Reason::Shutdown);
                it = take(it);
            }
        }
    }
    if (!release.empty()) {
        if (runningToo)
            qWarning("job queue: %lld job(s) still running at the end of the shutdown grace "
                     "period; released back to the queue (attempt not counted)",
                     qlonglong(release.size()));
        else
            qInfo("job queue: %lld claimed job(s) not started; released back to the queue",
                  qlonglong(release.size()));
        flush(std::move(release));
    }
}

void JobQueue::flush(std::vector<Finished> finished)
{
    QList<JobOutcome> outcomes;
    outcomes.reserve(qsizetype(finished.size()));
    for (const Finished &f : finished)
        outcomes.append(f.outcome);
    const qint64 now = m_clock();
    auto applied = m_store.finish(m_options.instanceId, outcomes, now);
    if (!applied.ok()) {
        // Kept and tried again; if this instance dies meanwhile, the leases expire and the
        // jobs run again (at least once).
        countStoreError(applied.error(), "storing job outcomes");
        std::lock_guard lock(m_mutex);
        m_finished.insert(m_finished.begin(), std::make_move_iterator(finished.begin()),
                          std::make_move_iterator(finished.end()));
        // Not at once again: the coordinator would spin on a database that refuses.
        m_flushBackoff = std::min(std::max(m_flushBackoff * 2, std::chrono::milliseconds(100)),
                                  std::chrono::milliseconds(2000));
        m_flushNotBefore = std::chrono::steady_clock::now() + m_flushBackoff;
        return;
    }
    {
        std::lock_guard lock(m_mutex);
        m_flushBackoff = std::chrono::milliseconds(0);
        m_flushNotBefore = SteadyTime{};
        for (const Finished &f : finished) {
            if (m_active.remove(f.outcome.id) > 0) {
                int &held = m_held[f.queue];
                held = std::max(0, held - 1);
            }
            if (f.outcome.kind == JobOutcome::Kind::Succeeded ||
                f.outcome.kind == JobOutcome::Kind::Failed) {
                auto average = m_runAverage.find(f.queue);
                if (average == m_runAverage.end())
                    m_runAverage.insert(f.queue, f.runSeconds);
                else
                    *average = 0.8 * *average + 0.2 * f.runSeconds;
            }
            switch (f.outcome.kind) {
            case JobOutcome::Kind::Succeeded: ++m_counters.succeeded; break;
            case JobOutcome::Kind::Failed:
                ++m_counters.failed;
                if (f.outcome.retryAtMs == 0)
                    ++m_counters.dead;
                break;
            case JobOutcome::Kind::Cancelled: ++m_counters.cancelled; break;
            case JobOutcome::Kind::Released: ++m_counters.released; break;
            }
        }
        m_claimMore = true; // capacity came back
    }
    for (size_t i = 0; i < finished.size(); ++i) {
        const Finished &f = finished[i];
        const JobOutcome &o = f.outcome;
        const char *outcome = "succeeded";
        switch (o.kind) {
        case JobOutcome::Kind::Succeeded: break;
        case JobOutcome::Kind::Failed: outcome = o.retryAtMs > 0 ? "failed" : "dead"; break;
        case JobOutcome::Kind::Cancelled: outcome = "cancelled"; break;
        case JobOutcome::Kind::Released: outcome = "released"; break;
        }
        if (m_finishedMetric)
            m_finishedMetric->labels({f.type.toUtf8(), outcome}).inc();
        if (!applied.value()[i] || !m_events || o.kind == JobOutcome::Kind::Released ||
            o.kind == JobOutcome::Kind::Cancelled)
            continue;
        QJsonObject payload{{QStringLiteral("id"), double(o.id)},
                            {QStringLiteral("type"), f.type},
                            {QStringLiteral("queue"), f.queue},
                            {QStringLiteral("attempt"), o.attempt}};
        if (o.kind == JobOutcome::Kind::Succeeded) {
            payload.insert(QStringLiteral("result"), o.result);
            m_events->emitEvent(QStringLiteral("job.succeeded"), payload);
            continue;
        }
        payload.insert(QStringLiteral("error"), o.error);
        if (o.retryAtMs > 0)
            payload.insert(QStringLiteral("retry_at"),
                           QDateTime::fromMSecsSinceEpoch(o.retryAtMs, Qt::UTC)
                               .toString(Qt::ISODateWithMs));
        m_events->emitEvent(QStringLiteral("job.failed"), payload);
        if (o.retryAtMs == 0)
            m_events->emitEvent(QStringLiteral("job.dead"), payload);
    }
}

// --- Workers ---

void JobQueue::workerLoop()
{
    for (;;) {
        qint64 id = 0;
        QString queue;
        {
            std::unique_lock lock(m_mutex);
            // The first claimed job whose queue is below its concurrency: jobs claimed
            // ahead wait here until a handler of their queue returns.
            auto runnable = [this] {
                for (auto it = m_ready.begin(); it != m_ready.end(); ++it) {
                    const QString &queue = m_active.value(*it).job.queue;
                    if (m_running.value(queue) < m_concurrency.value(queue, 1))
                        return it;
                }
                return m_ready.end();
            };
            m_workerWake.wait_for(lock, std::chrono::milliseconds(200), [&] {
                return runnable() != m_ready.end() || (m_stopWorkers && m_ready.empty());
            });
            if (auto it = runnable(); it != m_ready.end()) {
                id = *it;
                m_ready.erase(it);
                // Started from here on: a shutdown release sees it and cancels its token.
                Active &active = m_active[id];
                active.started = std::chrono::steady_clock::now();
                queue = active.job.queue;
                m_running[queue] += 1;
            } else if (m_stopWorkers && m_ready.empty()) {
                break;
            }
        }
        QCoreApplication::sendPostedEvents();
        if (id)
            runJob(id, queue);
    }
    if (m_finalizer)
        m_finalizer();
}

JobQueue::Finished JobQueue::outcomeFor(const Active &active, const JobResult &result,
                                        double runSeconds)
{
    const ClaimedJob &job = active.job;
    Finished f;
    f.type = job.type;
    f.queue = job.queue;
    f.runSeconds = runSeconds;
    f.outcome.id = job.id;
    f.outcome.attempt = job.attempt;
    const CancellationToken::Reason reason = active.token->reason();
    if (result.kind == JobResult::Kind::Success) {
        // Work that completed counts, even if a cancellation arrived meanwhile.
        f.outcome.kind = JobOutcome::Kind::Succeeded;
        f.outcome.result = result.result;
        return f;
    }
    if (reason == CancellationToken::Reason::Cancelled) {
        f.outcome.kind = JobOutcome::Kind::Cancelled;
        f.outcome.error = QStringLiteral("cancelled while running");
        return f;
    }
    if (reason == CancellationToken::Reason::Shutdown) {
        f.outcome.kind = JobOutcome::Kind::Released;
        return f;
    }
    f.outcome.kind = JobOutcome::Kind::Failed;
    f.outcome.error = reason == CancellationToken::Reason::Timeout
                          ? reasonText(reason, active.entry->options.timeout)
                          : result.error;
    const RetryPolicy &policy = active.entry->options.retry;
    // The job's own budget (stored with it) decides, so a type's policy change does not
    // rewrite jobs already queued.
    RetryPolicy budget = policy;
    budget.maxAttempts = job.maxAttempts;
    if (result.kind == JobResult::Kind::Retry && !budget.exhausted(job.attempt))
        f.outcome.retryAtMs =
            m_clock() + budget.delayBefore(job.attempt, quint64(threadRandom()())).count();
    return f;
}

void JobQueue::runJob(qint64 id, const QString &queue)
{
    ClaimedJob job;
    std::shared_ptr<CancellationToken> token;
    const JobRegistry::Entry *entry = nullptr;
    {
        std::lock_guard lock(m_mutex);
        auto it = m_active.find(id);
        if (it == m_active.end()) {
            // Released between the worker taking it and here: give the slot back.
            int &running = m_running[queue];
            running = std::max(0, running - 1);
            m_workerWake.notify_all();
            return;
        }
        job = it->job;
        token = it->token;
        entry = it->entry;
        ++m_busy;
    }
    if (m_busyMetric)
        m_busyMetric->inc();
    const double waitSeconds = std::max<qint64>(0, m_clock() - job.runAtMs) / 1000.0;
    m_waitLocal.observe(waitSeconds);
    if (m_waitMetric)
        m_waitMetric->observe(waitSeconds);

    JobContext context(job, token, [this, id](double fraction, const QString &message) {
        std::lock_guard lock(m_mutex);
        if (auto it = m_active.find(id); it != m_active.end()) {
            it->progress = fraction;
            it->progressMessage = message;
            it->progressDirty = true;
        }
    });
    const auto started = std::chrono::steady_clock::now();
    JobResult result;
    if (token->isCancelled()) {
        result = JobResult::retry(QStringLiteral("cancelled before it started"));
    } else {
        try {
            result = entry->handler(context);
        } catch (const std::exception &e) {
            result = JobResult::retry(QStringLiteral("the handler threw: %1").arg(e.what()));
        } catch (...) {
            result = JobResult::retry(QStringLiteral("the handler threw"));
        }
    }
    const double runSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    m_runLocal.observe(runSeconds);
    if (m_runMetric)
        m_runMetric->labels({job.type.toUtf8()}).observe(runSeconds);
    if (m_busyMetric)
        m_busyMetric->dec();
    std::lock_guard lock(m_mutex);
    --m_busy;
    int &running = m_running[job.queue];
    running = std::max(0, running - 1);
    m_workerWake.notify_all(); // a job of this queue waiting for its turn may go now
    auto it = m_active.find(id);
    // Released at shutdown, or claimed again as a new attempt: this outcome is stale (and
    // would be fenced off in the database anyway).
    if (it == m_active.end() || it->job.attempt != job.attempt)
        return;
    // A shutdown release from now on leaves it alone: its outcome is on its way.
    it->outcomePending = true;
    m_finished.push_back(outcomeFor(*it, result, runSeconds));
    m_coordinatorWake.notify_all();
}

} // namespace bulwark
