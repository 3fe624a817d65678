// SPDX-License-Identifier: GPL-3.0-or-later
// Distributed load tests over Redis: the coordinator side (RemoteWorkers) and the worker
// side (WorkerService, `bulwark loadtest --worker --redis URL`). Plain keys and lists, no
// pub/sub, so a message sent while someone was briefly away is still there:
//
//   bulwark:loadtest:workers               set of worker ids
//   bulwark:loadtest:worker:<id>           {"id","host","threads","state":"idle"|"busy","run"}
//                                          refreshed every second, expires after 5 s: a
//                                          worker whose key is gone is gone
//   bulwark:loadtest:claim:<id>            the run that claimed the worker (SET NX, 15 s,
//                                          then kept by the worker while it runs): two
//                                          coordinators never get the same worker
//   bulwark:loadtest:assign:<id>           list: the assignment (scenario with its CSV
//                                          tables, target, token, shards, start instant)
//   bulwark:loadtest:run:<run>:control     "run" or "stop", refreshed by the coordinator
//                                          every second, expires after 5 s: a worker stops
//                                          when it says stop or is gone (coordinator died)
//   bulwark:loadtest:run:<run>:messages    list: {"type":"second"|"done"|"error",
//                                          "worker": n, ...} from the workers
//
// Every run key expires an hour after its last write. The token travels through Redis:
// use a Redis that only the load-test hosts reach (and a password: redis://:pw@host).
#pragma once

#include "Error.h"
#include "LoadEngine.h"

#include <QJsonObject>
#include <QList>
#include <QString>
#include <atomic>
#include <chrono>
#include <functional>

namespace bulwark {

class RedisClient;

struct RemoteWorkerInfo
{
    QString id;
    QString host;
    int threads = 1;
};

// What a worker sends: a second of its measurements, its totals at the end, or an error.
struct RemoteMessage
{
    enum class Type
    {
        Second,
        Done,
        Error
    };
    Type type = Type::Second;
    int worker = 0; // 1-based, as assigned
    SecondPartial second;
    EngineTotals totals;
    QString error;
};

class RemoteWorkers
{
public:
    RemoteWorkers(RedisClient &redis, QString runId);
    ~RemoteWorkers(); // releases claims and stops workers still running (sets "stop")
    Q_DISABLE_COPY_MOVE(RemoteWorkers)

    // Claims `count` idle workers, waiting up to `timeout`; `note` hears how many it has.
    // Fails (Unavailable) when they do not come in time or `stopRequested` says so.
    Result<QList<RemoteWorkerInfo>> claim(int count, std::chrono::milliseconds timeout,
                                          const std::function<void(const QString &)> &note,
                                          const std::function<bool()> &stopRequested);
    // Sends each worker its assignment (the common part plus its number and shards).
    Result<bool> assign(const QList<RemoteWorkerInfo> &workers, const QJsonObject &common,
                        int firstShard, int shardCount);
    // Refreshes the control key ("run" or "stop"); call about once a second.
    Result<bool> control(bool stop);
    // The messages sent since the last call, in order.
    Result<QList<RemoteMessage>> take();
    // Whether worker `id` still has its heartbeat key.
    bool alive(const QString &id);

    static QJsonObject scenarioPayload(const Scenario &scenario);

private:
    RedisClient &m_redis;
    QString m_runId;
    QList<QString> m_claimed;
    bool m_controlSet = false;
};

// The worker side: registers, waits for assignments, runs them, reports back. Blocks until
// `stop` is set (SIGINT/SIGTERM in the CLI). `log` hears what happens.
class WorkerService
{
public:
    struct Options
    {
        int threads = 0; // 0: one per core
        IoLoop::Kind io = IoLoop::Kind::Auto;
        QString id;      // empty: host-pid-random
    };
    WorkerService(RedisClient &redis, Options options);
    int run(const std::atomic<bool> &stop, const std::function<void(const QString &)> &log);
    QString id() const { return m_id; }

private:
    bool runAssignment(const QJsonObject &assignment, const std::atomic<bool> &stop,
                       const std::function<void(const QString &)> &log);
    void heartbeat(const QString &state, const QString &run);

    RedisClient &m_redis;
    Options m_options;
    QString m_id;
    int m_threads = 1;
};

// Rebuilds a scenario from scenarioPayload(): the JSON with its CSV tables inline.
Result<Scenario> scenarioFromPayload(const QJsonObject &payload);

} // namespace bulwark
