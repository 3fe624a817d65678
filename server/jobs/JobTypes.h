// SPDX-License-Identifier: GPL-3.0-or-later
// The value types of the job queue: states, priorities, what a producer enqueues, what a
// worker claims, what it reports back, and a job as the API shows it. Plain values, so the
// store, the runtime, the controllers and the tests share one vocabulary.
//
// States. A job is `queued` (waiting for its run_at), `running` (claimed by an instance
// that holds its lease), `retrying` (an attempt failed; waiting for its backoff), and ends
// `succeeded`, `dead` (attempts used up, or a permanent failure: the dead-letter queue) or
// `cancelled`. "Failed" is what happens to an attempt, not a state a job stays in: the
// job.failed event fires for every failed attempt, and the job goes on to retrying or dead.
// "Scheduled" is a queued job whose run_at lies in the future.
#pragma once

#include <QJsonObject>
#include <QList>
#include <QString>
#include <QtGlobal>
#include <array>
#include <optional>

namespace bulwark {

enum class JobState
{
    Queued,
    Running,
    Retrying,
    Succeeded,
    Dead,
    Cancelled
};

QString jobStateName(JobState state);
std::optional<JobState> jobStateFromName(QStringView name);
inline bool isFinished(JobState s)
{
    return s == JobState::Succeeded || s == JobState::Dead || s == JobState::Cancelled;
}

// Stored as 0..3, claimed by weight (see PriorityScheduler.h).
enum class JobPriority
{
    Critical = 0,
    High = 1,
    Normal = 2,
    Low = 3
};
constexpr int kJobPriorities = 4;

QString jobPriorityName(JobPriority priority);
std::optional<JobPriority> jobPriorityFromName(QStringView name);

// What a producer asks for. queue, priority and maxAttempts left unset take the type's.
struct JobSpec
{
    QString type;
    QJsonObject payload;
    QString queue;
    std::optional<JobPriority> priority;
    int maxAttempts = 0;
    qint64 runAtMs = 0;     // 0: now
    QString uniqueKey;      // with uniqueWindowMs > 0: at most one such job per window
    qint64 uniqueWindowMs = 0;
    std::optional<qint64> ownerId; // the user who submitted it (none for system jobs)
};

// The answer to one enqueue: the job's id, and whether an existing job within the unique
// window was returned instead of a new one.
struct Enqueued
{
    qint64 id = 0;
    bool duplicate = false;
};

// A job as a worker receives it.
struct ClaimedJob
{
    qint64 id = 0;
    QString type;
    QString queue;
    JobPriority priority = JobPriority::Normal;
    QJsonObject payload;
    int attempt = 0; // 1 for the first run
    int maxAttempts = 1;
    qint64 runAtMs = 0;
    qint64 createdAtMs = 0;
    std::optional<qint64> ownerId;
};

// What became of one attempt, as the runtime reports it to the store.
struct JobOutcome
{
    enum class Kind
    {
        Succeeded,
        Failed,    // retried after retryAtMs, or dead when retryAtMs is 0
        Cancelled, // the cancellation token was honoured
        Released   // given back unrun (shutdown): the attempt does not count
    };
    qint64 id = 0;
    int attempt = 0; // fences the write: a job re-queued meanwhile is not touched
    Kind kind = Kind::Succeeded;
    QJsonObject result;
    QString error;
    qint64 retryAtMs = 0;
};

// A job as the API shows it.
struct JobRecord
{
    qint64 id = 0;
    QString type;
    QString queue;
    JobPriority priority = JobPriority::Normal;
    JobState state = JobState::Queued;
    QJsonObject payload;
    QJsonObject result;
    QString error;
    double progress = 0;
    QString progressMessage;
    int attempts = 0;
    int maxAttempts = 1;
    qint64 runAtMs = 0;
    qint64 createdAtMs = 0;
    std::optional<qint64> startedAtMs;
    std::optional<qint64> finishedAtMs;
    QString leaseOwner;
    std::optional<qint64> leaseUntilMs;
    QString uniqueKey;
    bool cancelRequested = false;
    std::optional<qint64> ownerId;

    // "scheduled" is set for a queued job due after nowMs (-1: the current time).
    QJsonObject toJson(bool withPayload = true, qint64 nowMs = -1) const;
};

// Which jobs a list or a bulk action covers; every field set narrows it.
struct JobFilter
{
    QList<JobState> states;
    QString type;
    QString queue;
    std::optional<JobPriority> priority;
    std::optional<qint64> createdFromMs; // inclusive
    std::optional<qint64> createdToMs;   // exclusive
    QString text;                        // substring of type, error or payload
    std::optional<qint64> ownerId;
    bool isEmpty() const
    {
        return states.isEmpty() && type.isEmpty() && queue.isEmpty() && !priority &&
               !createdFromMs && !createdToMs && text.isEmpty() && !ownerId;
    }
};

} // namespace bulwark
