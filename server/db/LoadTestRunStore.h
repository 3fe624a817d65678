// SPDX-License-Identifier: GPL-3.0-or-later
// Stored load-test runs (table loadtest_runs, migration 4), on SQLite and PostgreSQL alike.
// The store knows rows, not reports: the load tester turns its RunReport into a
// LoadTestRunRow (a few plain columns for lists, plus the whole report as JSON), so db does
// not depend on loadtest.
//
// Stopping a run from another thread, process or instance goes through the row: the API
// sets "stopping" (requestStop) and the runner's once-a-second saveProgress(), which only
// writes a run still "running", reports that it no longer is. No lost stop, no lock.
//
// save() is one upsert by id (INSERT ... ON CONFLICT (id) DO UPDATE), one statement in one
// short write transaction: the runner saves a running run every second with its growing
// series, and that must cost no read-back and no second statement. list() leaves the big
// report column out. get() and remove() take a full id or, like git, a unique prefix of at
// least 8 characters (ids are UUIDs); a prefix shared by several runs is BadRequest, an id
// that matches nothing NotFound.
//
// Stateless apart from the pool, like JobStore: every call runs in its own SqlSession on the
// calling thread's connection, so any thread may call it. Times are Unix milliseconds chosen
// by the caller.
#pragma once

#include "ConnectionPool.h"
#include "Error.h"
#include "QueryInsight.h"

#include <QJsonObject>
#include <QList>
#include <QString>

namespace bulwark {

struct LoadTestRunRow
{
    QString id;     // a UUID, chosen by the caller
    QString name;   // the scenario's name
    QString target; // base URL
    QString model;  // "closed" or "open"
    QString status; // "queued", "running", "stopping", then "passed", "failed", "stopped" or
                    // "error"
    qint64 startedAtMs = 0;
    qint64 durationMs = 0;
    qint64 requests = 0;
    qint64 failures = 0;
    double rps = 0;
    qint64 p95Ns = 0;
    QJsonObject scenario;
    QJsonObject report;     // the whole RunReport; empty in rows from list()
    qint64 updatedAtMs = 0; // save(): 0 stores the current time
    qint64 jobId = 0;       // the loadtest.run job that runs it; save() keeps the stored one
                            // when this is 0
};

class LoadTestRunStore
{
public:
    static constexpr int kMinPrefix = 8;

    LoadTestRunStore(ConnectionPool &pool, QueryInsight *insight) : m_pool(pool), m_insight(insight)
    {
    }
    Q_DISABLE_COPY_MOVE(LoadTestRunStore)

    // Inserts the run, or replaces every column of the run with that id. Unprocessable
    // without an id.
    Result<bool> save(const LoadTestRunRow &row);
    // The job's start of a run: a queued row becomes "running" (or a missing one is
    // created so) and true is returned; false when the row is stopping or has ended, with
    // its status in *statusFound: the job must not run it (a stop came first, or this is
    // a repeat of a run that ended).
    Result<bool> begin(const LoadTestRunRow &row, QString *statusFound = nullptr);
    Result<bool> setJobId(const QString &id, qint64 jobId);
    // The running run's live state: like save(), but only while its status is "running"
    // (one UPDATE ... WHERE status = 'running'). False when it is not (someone asked it to
    // stop, or it ended): the runner takes that as its cue to stop.
    Result<bool> saveProgress(const LoadTestRunRow &row);
    // Asks a queued or running run to stop: its status becomes "stopping" and the runner
    // finds out at its next saveProgress(). Returns the run's full id; Conflict when the
    // run has already ended (the message says how).
    Result<QString> requestStop(const QString &idOrPrefix);
    // By id or unique prefix (see above).
    Result<LoadTestRunRow> get(const QString &idOrPrefix);
    // Newest first (started_at, then id, descending), without `report`. A negative limit
    // or offset counts as 0.
    Result<QList<LoadTestRunRow>> list(int limit, int offset = 0);
    Result<qint64> count();
    // Deletes one run, by id or unique prefix; returns its full id.
    Result<QString> remove(const QString &idOrPrefix);

private:
    ConnectionPool &m_pool;
    QueryInsight *m_insight;
};

} // namespace bulwark
