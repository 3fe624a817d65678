// SPDX-License-Identifier: GPL-3.0-or-later
// See RemoteWorkers.h.
#include "RemoteWorkers.h"

#include "RedisClient.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QHostInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QThread>

namespace bulwark {

namespace {

constexpr qint64 kHeartbeatMs = 5'000;
constexpr qint64 kClaimMs = 15'000;
constexpr qint64 kRunKeyTtlSeconds = 3'600;

QByteArray workersKey()
{
    return QByteArrayLiteral("bulwark:loadtest:workers");
}
QByteArray workerKey(const QString &id)
{
    return "bulwark:loadtest:worker:" + id.toUtf8();
}
QByteArray claimKey(const QString &id)
{
    return "bulwark:loadtest:claim:" + id.toUtf8();
}
QByteArray assignKey(const QString &id)
{
    return "bulwark:loadtest:assign:" + id.toUtf8();
}
QByteArray controlKey(const QString &run)
{
    return "bulwark:loadtest:run:" + run.toUtf8() + ":control";
}
QByteArray messagesKey(const QString &run)
{
    return "bulwark:loadtest:run:" + run.toUtf8() + ":messages";
}

QByteArray compact(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

QByteArray csvCell(const QByteArray &cell)
{
    QByteArray quoted = cell;
    quoted.replace('"', "\"\"");
    return '"' + quoted + '"';
}

qint64 wallMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

} // namespace

// ------------------------------------------------------------------ scenario payload

QJsonObject RemoteWorkers::scenarioPayload(const Scenario &scenario)
{
    QJsonObject tables;
    for (auto it = scenario.csv.begin(); it != scenario.csv.end(); ++it) {
        QJsonArray rows;
        for (const QList<QByteArray> &row : it->rows) {
            QJsonArray cells;
            for (const QByteArray &cell : row)
                cells.append(QString::fromUtf8(cell));
            rows.append(cells);
        }
        tables.insert(it.key(), QJsonObject{{QStringLiteral("columns"),
                                             QJsonArray::fromStringList(it->columns)},
                                            {QStringLiteral("rows"), rows}});
    }
    return QJsonObject{{QStringLiteral("source"), scenario.source},
                       {QStringLiteral("csv"), tables}};
}

Result<Scenario> scenarioFromPayload(const QJsonObject &payload)
{
    QJsonObject source = payload.value(QStringLiteral("source")).toObject();
    const QJsonObject tables = payload.value(QStringLiteral("csv")).toObject();
    // The CSV tables go back into files next to a scenario that names them, so the one
    // parser reads them (and checks the templates against them) as on the coordinator.
    QTemporaryDir dir;
    if (!dir.isValid())
        return Error{ErrorCode::Internal, QStringLiteral("cannot create a temporary directory")};
    QJsonObject files;
    for (auto it = tables.begin(); it != tables.end(); ++it) {
        const QJsonObject table = it.value().toObject();
        QByteArray text;
        QList<QByteArray> header;
        for (const QJsonValue &c : table.value(QStringLiteral("columns")).toArray())
            header.append(csvCell(c.toString().toUtf8()));
        text += header.join(',') + "\r\n";
        for (const QJsonValue &row : table.value(QStringLiteral("rows")).toArray()) {
            QList<QByteArray> cells;
            for (const QJsonValue &c : row.toArray())
                cells.append(csvCell(c.toString().toUtf8()));
            text += cells.join(',') + "\r\n";
        }
        const QString name = QStringLiteral("table%1.csv").arg(files.size());
        QFile f(dir.filePath(name));
        if (!f.open(QIODevice::WriteOnly) || f.write(text) != text.size())
            return Error{ErrorCode::Internal, QStringLiteral("cannot write %1").arg(f.fileName())};
        files.insert(it.key(), name);
    }
    if (!files.isEmpty())
        source.insert(QStringLiteral("csv"), files);
    return Scenario::parse(QJsonDocument(source).toJson(),
                           QStringLiteral("scenario.json"), dir.path());
}

// ------------------------------------------------------------------ coordinator side

RemoteWorkers::RemoteWorkers(RedisClient &redis, QString runId)
    : m_redis(redis), m_runId(std::move(runId))
{
}

RemoteWorkers::~RemoteWorkers()
{
    if (m_controlSet)
        m_redis.command(
            {"SET", controlKey(m_runId), "stop", "PX", QByteArray::number(kHeartbeatMs)});
    for (const QString &id : m_claimed) {
        // Release only our own claim (a worker that finished already dropped it).
        auto owner = m_redis.command({"GET", claimKey(id)});
        if (owner.ok() && owner.value().string == m_runId.toUtf8())
            m_redis.command({"DEL", claimKey(id)});
    }
}

Result<QList<RemoteWorkerInfo>>
RemoteWorkers::claim(int count, std::chrono::milliseconds timeout,
                     const std::function<void(const QString &)> &note,
                     const std::function<bool()> &stopRequested)
{
    QList<RemoteWorkerInfo> claimed;
    const qint64 deadline = wallMs() + timeout.count();
    int lastNoted = -1;
    for (;;) {
        auto members = m_redis.command({"SMEMBERS", workersKey()});
        if (!members.ok())
            return Error{ErrorCode::Unavailable,
                         QStringLiteral("workers: Redis: ") + members.error().message};
        for (const RedisReply &m : members.value().elements) {
            if (claimed.size() >= count)
                break;
            const QString id = QString::fromUtf8(m.string);
            if (std::any_of(claimed.begin(), claimed.end(),
                            [&](const RemoteWorkerInfo &w) { return w.id == id; }))
                continue;
            auto info = m_redis.command({"GET", workerKey(id)});
            if (!info.ok())
                continue;
            if (info.value().isNil()) { // its heartbeat expired: not a worker any more
                m_redis.command({"SREM", workersKey(), m.string});
                continue;
            }
            const QJsonObject o = QJsonDocument::fromJson(info.value().string).object();
            if (o.value(QStringLiteral("state")).toString() != QStringLiteral("idle"))
                continue;
            auto got = m_redis.command(
                {"SET", claimKey(id), m_runId.toUtf8(), "NX", "PX", QByteArray::number(kClaimMs)});
            if (!got.ok() || got.value().isNil())
                continue; // someone else's
            m_claimed.append(id);
            claimed.append(
                RemoteWorkerInfo{id, o.value(QStringLiteral("host")).toString(),
                                 std::max(1, o.value(QStringLiteral("threads")).toInt())});
        }
        if (claimed.size() >= count)
            return claimed;
        if (note && lastNoted != claimed.size()) {
            lastNoted = int(claimed.size());
            note(QStringLiteral("waiting for workers: %1 of %2 claimed")
                     .arg(claimed.size())
                     .arg(count));
        }
        if ((stopRequested && stopRequested()) || wallMs() >= deadline)
            return Error{ErrorCode::Unavailable,
                         QStringLiteral("workers: %1 of %2 idle workers answered within %3 s "
                                        "(start them with: bulwark loadtest --worker --redis URL)")
                             .arg(claimed.size())
                             .arg(count)
                             .arg(timeout.count() / 1000.0)};
        QThread::msleep(250);
    }
}

Result<bool> RemoteWorkers::assign(const QList<RemoteWorkerInfo> &workers,
                                   const QJsonObject &common, int firstShard, int shardCount)
{
    int shard = firstShard;
    for (qsizetype i = 0; i < workers.size(); ++i) {
        QJsonObject a = common;
        a.insert(QStringLiteral("run"), m_runId);
        a.insert(QStringLiteral("worker"), int(i) + 1);
        a.insert(QStringLiteral("threads"), workers[i].threads);
        a.insert(QStringLiteral("shard_base"), shard);
        a.insert(QStringLiteral("shard_count"), shardCount);
        shard += workers[i].threads;
        auto pushed = m_redis.pipeline({{"RPUSH", assignKey(workers[i].id), compact(a)},
                                        {"EXPIRE", assignKey(workers[i].id), "60"}});
        if (!pushed.ok())
            return Error{ErrorCode::Unavailable,
                         QStringLiteral("workers: Redis: ") + pushed.error().message};
    }
    return true;
}

Result<bool> RemoteWorkers::control(bool stop)
{
    m_controlSet = true;
    auto r = m_redis.command({"SET", controlKey(m_runId), stop ? "stop" : "run", "PX",
                              QByteArray::number(kHeartbeatMs)});
    if (!r.ok())
        return r.error();
    return true;
}

Result<QList<RemoteMessage>> RemoteWorkers::take()
{
    // Read and empty the list in one transaction, so nothing pushed in between is lost.
    auto replies = m_redis.pipeline({{"MULTI"},
                                     {"LRANGE", messagesKey(m_runId), "0", "-1"},
                                     {"DEL", messagesKey(m_runId)},
                                     {"EXEC"}});
    if (!replies.ok())
        return replies.error();
    const RedisReply &exec = replies.value().last();
    if (exec.type != RedisReply::Type::Array || exec.elements.isEmpty())
        return Error{ErrorCode::Unavailable, QStringLiteral("workers: Redis: EXEC failed")};
    QList<RemoteMessage> out;
    for (const RedisReply &item : exec.elements.first().elements) {
        const QJsonObject o = QJsonDocument::fromJson(item.string).object();
        RemoteMessage m;
        m.worker = o.value(QStringLiteral("worker")).toInt();
        const QString type = o.value(QStringLiteral("type")).toString();
        if (type == QStringLiteral("second")) {
            auto s = SecondPartial::fromJson(o.value(QStringLiteral("second")).toObject());
            if (!s.ok())
                continue;
            m.type = RemoteMessage::Type::Second;
            m.second = s.value();
        } else if (type == QStringLiteral("done")) {
            auto t = EngineTotals::fromJson(o.value(QStringLiteral("totals")).toObject());
            m.type = RemoteMessage::Type::Done;
            if (t.ok())
                m.totals = t.value();
            else {
                m.type = RemoteMessage::Type::Error;
                m.error = t.error().message;
            }
        } else {
            m.type = RemoteMessage::Type::Error;
            m.error = o.value(QStringLiteral("message")).toString();
        }
        out.append(m);
    }
    return out;
}

bool RemoteWorkers::alive(const QString &id)
{
    auto r = m_redis.command({"EXISTS", workerKey(id)});
    return !r.ok() || r.value().integer == 1; // a Redis hiccup is not a dead worker
}

// ------------------------------------------------------------------ worker side

WorkerService::WorkerService(RedisClient &redis, Options options)
    : m_redis(redis), m_options(std::move(options))
{
    m_threads =
        m_options.threads > 0 ? m_options.threads : std::max(1, QThread::idealThreadCount());
    m_id = m_options.id;
    if (m_id.isEmpty())
        m_id = QStringLiteral("%1-%2-%3")
                   .arg(QHostInfo::localHostName())
                   .arg(QCoreApplication::applicationPid())
                   .arg(QRandomGenerator::system()->generate() % 100000);
}

void WorkerService::heartbeat(const QString &state, const QString &run)
{
    const QJsonObject info{{QStringLiteral("id"), m_id},
                           {QStringLiteral("host"), QHostInfo::localHostName()},
                           {QStringLiteral("threads"), m_threads},
                           {QStringLiteral("state"), state},
                           {QStringLiteral("run"), run}};
    m_redis.pipeline(
        {{"SADD", workersKey(), m_id.toUtf8()},
         {"SET", workerKey(m_id), compact(info), "PX", QByteArray::number(kHeartbeatMs)}});
    if (!run.isEmpty())
        m_redis.command({"PEXPIRE", claimKey(m_id), QByteArray::number(kClaimMs)});
}

int WorkerService::run(const std::atomic<bool> &stop,
                       const std::function<void(const QString &)> &log)
{
    log(QStringLiteral("worker %1 (%2 threads) waiting for runs on Redis %3")
            .arg(m_id)
            .arg(m_threads)
            .arg(m_redis.options().describe()));
    qint64 lastBeat = 0;
    bool reachable = true;
    while (!stop.load()) {
        if (wallMs() - lastBeat >= 1000) {
            heartbeat(QStringLiteral("idle"), QString());
            lastBeat = wallMs();
        }
        auto next = m_redis.command({"LPOP", assignKey(m_id)});
        if (!next.ok()) {
            if (reachable)
                log(QStringLiteral("Redis unreachable (%1); retrying").arg(next.error().message));
            reachable = false;
            QThread::msleep(500);
            continue;
        }
        if (!reachable)
            log(QStringLiteral("Redis reachable again"));
        reachable = true;
        if (next.value().isNil()) {
            QThread::msleep(200);
            continue;
        }
        const QJsonObject assignment = QJsonDocument::fromJson(next.value().string).object();
        runAssignment(assignment, stop, log);
        m_redis.command({"DEL", claimKey(m_id)});
        lastBeat = 0;
    }
    m_redis.pipeline({{"SREM", workersKey(), m_id.toUtf8()}, {"DEL", workerKey(m_id)}});
    log(QStringLiteral("worker %1 stopped").arg(m_id));
    return 0;
}

bool WorkerService::runAssignment(const QJsonObject &a, const std::atomic<bool> &stop,
                                  const std::function<void(const QString &)> &log)
{
    const QString run = a.value(QStringLiteral("run")).toString();
    const int worker = a.value(QStringLiteral("worker")).toInt();
    auto send = [&](QJsonObject message) {
        message.insert(QStringLiteral("worker"), worker);
        m_redis.pipeline({{"RPUSH", messagesKey(run), compact(message)},
                          {"EXPIRE", messagesKey(run), QByteArray::number(kRunKeyTtlSeconds)}});
    };
    auto fail = [&](const QString &message) {
        log(QStringLiteral("run %1: %2").arg(run, message));
        send(QJsonObject{{QStringLiteral("type"), QStringLiteral("error")},
                         {QStringLiteral("message"),
                          QStringLiteral("worker %1 (%2): %3").arg(worker).arg(m_id, message)}});
        return false;
    };
    heartbeat(QStringLiteral("busy"), run);
    auto scenario = scenarioFromPayload(a.value(QStringLiteral("scenario")).toObject());
    if (!scenario.ok())
        return fail(scenario.error().message);

    EngineOptions options;
    options.scenario = std::make_shared<const Scenario>(std::move(scenario).value());
    options.target = QUrl(a.value(QStringLiteral("target")).toString());
    options.token = a.value(QStringLiteral("token")).toString().toUtf8();
    options.threads = a.value(QStringLiteral("threads")).toInt(m_threads);
    options.shardBase = a.value(QStringLiteral("shard_base")).toInt();
    options.shardCount = a.value(QStringLiteral("shard_count")).toInt();
    options.io = m_options.io;
    options.insecureTls = a.value(QStringLiteral("insecure_tls")).toBool();
    // The shared start instant, in this host's steady clock.
    const qint64 startWall = qint64(a.value(QStringLiteral("start_at_ms")).toDouble());
    options.startAt =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(startWall - wallMs());

    LoadEngine engine(options);
    auto started = engine.start();
    if (!started.ok())
        return fail(started.error().message);
    log(QStringLiteral("run %1: worker %2, shards %3..%4 of %5")
            .arg(run)
            .arg(worker)
            .arg(options.shardBase)
            .arg(options.shardBase + engine.threadCount() - 1)
            .arg(options.shardCount));

    auto flush = [&] {
        for (const SecondPartial &p : engine.takeSeconds())
            send(QJsonObject{{QStringLiteral("type"), QStringLiteral("second")},
                             {QStringLiteral("second"), p.toJson()}});
    };
    qint64 lastBeat = wallMs();
    while (!engine.wait(std::chrono::milliseconds(100))) {
        flush();
        auto control = m_redis.command({"GET", controlKey(run)});
        // Stop on "stop", and when the coordinator's key is gone (it died), unless Redis
        // itself is what we cannot reach: then carry on and keep asking.
        if (stop.load() ||
            (control.ok() && (control.value().isNil() || control.value().string == "stop")))
            engine.stop();
        if (wallMs() - lastBeat >= 1000) {
            heartbeat(QStringLiteral("busy"), run);
            lastBeat = wallMs();
        }
    }
    flush();
    const EngineTotals totals = engine.totals();
    send(QJsonObject{{QStringLiteral("type"), QStringLiteral("done")},
                     {QStringLiteral("totals"), totals.toJson()}});
    log(QStringLiteral("run %1: done, %2 requests").arg(run).arg(totals.overall().requests));
    return true;
}

} // namespace bulwark
