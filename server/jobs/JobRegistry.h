// SPDX-License-Identifier: GPL-3.0-or-later
// What the job queue can run: a handler per job type, with the type's defaults (queue,
// priority, retry policy, timeout, who may submit it through the API, how its payload is
// checked). Filled once while the server is built (registerHandler, then applyConfig for
// the jobs.types overrides) and read-only afterwards, so workers read it without a lock.
//
// A handler runs on a job worker thread and returns a JobResult: success (with an
// optional result object), retry (a failure worth another attempt: backoff per the
// type's policy, dead after its last attempt) or fatal (dead at once: the payload can
// never work). It must check ctx.isCancelled() at reasonable intervals and return soon
// after it turns true (cancel, timeout, shutdown); a handler that ignores it keeps its
// thread until it returns. Jobs run at least once: an attempt can be repeated after a
// crash, a lost lease or a shutdown, so handlers must be idempotent (see docs/jobs.md).
#pragma once

#include "Config.h"
#include "Error.h"
#include "JobTypes.h"
#include "RetryPolicy.h"

#include <QHash>
#include <QJsonObject>
#include <atomic>
#include <functional>
#include <memory>

namespace bulwark {

// Set by the runtime; read by the handler.
class CancellationToken
{
public:
    enum class Reason
    {
        None,
        Cancelled, // someone cancelled the job
        Timeout,   // it ran past its type's timeout
        Shutdown   // the instance is stopping
    };
    bool isCancelled() const { return m_reason.load(std::memory_order_acquire) != 0; }
    Reason reason() const { return Reason(m_reason.load(std::memory_order_acquire)); }
    // The first reason sticks.
    void cancel(Reason reason)
    {
        int none = 0;
        m_reason.compare_exchange_strong(none, int(reason), std::memory_order_acq_rel);
    }

private:
    std::atomic<int> m_reason{0};
};

struct JobResult
{
    enum class Kind
    {
        Success,
        Retry,
        Fatal
    };
    Kind kind = Kind::Success;
    QJsonObject result;
    QString error;
    static JobResult success(QJsonObject result = {}) { return {Kind::Success, std::move(result), {}}; }
    static JobResult retry(QString error) { return {Kind::Retry, {}, std::move(error)}; }
    static JobResult fatal(QString error) { return {Kind::Fatal, {}, std::move(error)}; }
};

// What a handler sees of its job.
class JobContext
{
public:
    using ProgressSink = std::function<void(double fraction, const QString &message)>;
    JobContext(const ClaimedJob &job, std::shared_ptr<const CancellationToken> token,
               ProgressSink progress)
        : m_job(job), m_token(std::move(token)), m_progress(std::move(progress))
    {
    }
    const ClaimedJob &job() const { return m_job; }
    qint64 id() const { return m_job.id; }
    const QJsonObject &payload() const { return m_job.payload; }
    int attempt() const { return m_job.attempt; }
    bool isCancelled() const { return m_token->isCancelled(); }
    // 0..1, with an optional short message; stored with the job within a quarter second.
    void setProgress(double fraction, const QString &message = {})
    {
        if (m_progress)
            m_progress(std::clamp(fraction, 0.0, 1.0), message);
    }

private:
    const ClaimedJob &m_job;
    std::shared_ptr<const CancellationToken> m_token;
    ProgressSink m_progress;
};

using JobHandler = std::function<JobResult(JobContext &)>;

struct JobTypeOptions
{
    // Who may submit the type through POST /api/v1/jobs: nobody (the server enqueues it
    // itself), admins, or any signed-in user.
    enum class Submit
    {
        System,
        Admin,
        User
    };
    QString queue = QStringLiteral("default");
    JobPriority priority = JobPriority::Normal;
    RetryPolicy retry;
    std::chrono::milliseconds timeout{600'000};
    Submit submit = Submit::System;
    // Checks a payload before it is queued (API submissions and cron): an empty string
    // when it is fine, else what is wrong with it.
    std::function<QString(const QJsonObject &payload)> validate;
    // One-line description for the API's type list.
    QString description;
};

class JobRegistry
{
public:
    struct Entry
    {
        QString type;
        JobHandler handler;
        JobTypeOptions options;
    };

    JobRegistry() = default;
    Q_DISABLE_COPY_MOVE(JobRegistry)

    // Registers (or replaces) the handler of `type`. Call before the queue starts.
    void registerHandler(const QString &type, JobHandler handler, JobTypeOptions options = {});
    const Entry *find(const QString &type) const;
    QStringList types() const; // sorted

    // Applies jobs.types over the registered options. Fails on a type no handler was
    // registered for, or a queue not in jobs.queues; a registered queue that jobs.queues
    // lacks becomes "default".
    Result<bool> applyConfig(const JobsConfig &config);

    // Options carrying the global defaults of jobs.* (default_timeout,
    // default_max_attempts, backoff.*), to start a registration from.
    static JobTypeOptions defaults(const JobsConfig &config);

private:
    QHash<QString, Entry> m_entries;
};

} // namespace bulwark
