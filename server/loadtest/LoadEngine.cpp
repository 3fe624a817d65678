// SPDX-License-Identifier: GPL-3.0-or-later
// See LoadEngine.h.
#include "LoadEngine.h"

#include "LoadWorker.h"

#include <QHostInfo>
#include <QJsonArray>
#include <QThread>

namespace bulwark {

// ------------------------------------------------------------------ SecondPartial

void SecondPartial::merge(const SecondPartial &other)
{
    requests += other.requests;
    failures += other.failures;
    for (int k = 0; k < kFailureKinds; ++k)
        failuresByKind[size_t(k)] += other.failuresByKind[size_t(k)];
    activeUsers += other.activeUsers;
    // Every shard reports the run's target rate (not its share): the same value.
    targetRate = std::max(targetRate, other.targetRate);
    latency.merge(other.latency);
}

SecondSample SecondPartial::sample() const
{
    SecondSample s;
    s.second = second;
    s.requests = requests;
    s.failures = failures;
    s.activeUsers = activeUsers;
    s.targetRate = targetRate;
    s.p50 = latency.valueAtQuantile(0.50);
    s.p90 = latency.valueAtQuantile(0.90);
    s.p95 = latency.valueAtQuantile(0.95);
    s.p99 = latency.valueAtQuantile(0.99);
    s.max = latency.max();
    return s;
}

QJsonObject SecondPartial::toJson() const
{
    QJsonArray kinds;
    for (quint64 n : failuresByKind)
        kinds.append(double(n));
    return QJsonObject{{QStringLiteral("t"), double(second)},
                       {QStringLiteral("requests"), double(requests)},
                       {QStringLiteral("failures"), double(failures)},
                       {QStringLiteral("kinds"), kinds},
                       {QStringLiteral("users"), activeUsers},
                       {QStringLiteral("target_rate"), targetRate},
                       {QStringLiteral("latency"), histogramToJson(latency)}};
}

Result<SecondPartial> SecondPartial::fromJson(const QJsonObject &o)
{
    SecondPartial p;
    for (const char *key : {"t", "requests", "failures", "users", "target_rate"})
        if (!o.value(QLatin1String(key)).isDouble())
            return Error{ErrorCode::BadRequest,
                         QStringLiteral("second: %1: expected a number").arg(QLatin1String(key))};
    p.second = qint64(o.value(QStringLiteral("t")).toDouble());
    p.requests = quint64(o.value(QStringLiteral("requests")).toDouble());
    p.failures = quint64(o.value(QStringLiteral("failures")).toDouble());
    const QJsonArray kinds = o.value(QStringLiteral("kinds")).toArray();
    if (kinds.size() != kFailureKinds)
        return Error{ErrorCode::BadRequest,
                     QStringLiteral("second: kinds: expected %1 numbers").arg(kFailureKinds)};
    for (int k = 0; k < kFailureKinds; ++k)
        p.failuresByKind[size_t(k)] = quint64(kinds.at(k).toDouble());
    p.activeUsers = o.value(QStringLiteral("users")).toInt();
    p.targetRate = o.value(QStringLiteral("target_rate")).toDouble();
    auto latency = histogramFromJson(o.value(QStringLiteral("latency")).toObject());
    if (!latency.ok())
        return Error{ErrorCode::BadRequest,
                     QStringLiteral("second: latency: ") + latency.error().message};
    p.latency = latency.value();
    return p;
}

// ------------------------------------------------------------------ SeriesMerger

SeriesMerger::SeriesMerger(int sources)
    : m_finished(sources, false), m_lastReported(sources, -1), m_running(sources)
{
}

QList<SecondPartial> SeriesMerger::add(int source, const SecondPartial &partial)
{
    if (source < 0 || source >= m_finished.size() || m_finished[source] ||
        partial.second <= m_lastReported[source] || partial.second < m_nextSecond)
        return {}; // out of order or after the source finished: ignored
    // Seconds a source skipped count as reported (it had nothing in them).
    for (qint64 s = std::max(m_lastReported[source] + 1, m_nextSecond); s < partial.second; ++s) {
        Pending &p = m_pending[s];
        p.merged.second = s;
        ++p.reported;
    }
    m_lastReported[source] = partial.second;
    Pending &p = m_pending[partial.second];
    if (p.reported == 0)
        p.merged = partial;
    else
        p.merged.merge(partial);
    p.merged.second = partial.second;
    ++p.reported;
    return takeComplete();
}

QList<SecondPartial> SeriesMerger::finish(int source)
{
    if (source < 0 || source >= m_finished.size() || m_finished[source])
        return {};
    m_finished[source] = true;
    --m_running;
    QList<SecondPartial> out = takeComplete();
    if (m_running == 0) { // everything left is as complete as it gets
        for (auto it = m_pending.begin(); it != m_pending.end(); ++it)
            out.append(it->merged);
        m_pending.clear();
    }
    return out;
}

// A second is complete when every source reported it or finished before reaching it.
QList<SecondPartial> SeriesMerger::takeComplete()
{
    QList<SecondPartial> out;
    const int sources = int(m_finished.size());
    while (!m_pending.isEmpty() && m_pending.firstKey() == m_nextSecond) {
        int accounted = m_pending.first().reported;
        for (int i = 0; i < sources; ++i)
            if (m_finished[i] && m_lastReported[i] < m_nextSecond)
                ++accounted;
        if (accounted < sources)
            break;
        out.append(m_pending.first().merged);
        m_pending.erase(m_pending.begin());
        ++m_nextSecond;
    }
    return out;
}

// ------------------------------------------------------------------ ArrivalSchedule

qint64 ArrivalSchedule::next()
{
    if (m_total < 0)
        m_total = m_shape.totalDurationMs();
    // Arrival k is due when the total (in thousandths of an arrival, since the rate is per
    // second and the step one millisecond) reaches k * 1000.
    const quint64 wanted = m_next * 1000;
    while (m_ms < m_total) {
        const quint64 rate = quint64(std::max(0, m_shape.usersAt(m_ms)));
        const quint64 after = m_milli + rate;
        if (wanted < after && rate > 0) {
            // Within this millisecond, at the fraction the rate gives.
            const qint64 ns = m_ms * 1'000'000 + qint64((wanted - m_milli) * 1'000'000 / rate);
            ++m_next;
            return ns;
        }
        m_milli = after;
        ++m_ms;
    }
    return -1;
}

// ------------------------------------------------------------------ EngineTotals

void EngineTotals::merge(const EngineTotals &other)
{
    for (const EndpointStats &e : other.endpoints) {
        auto it = std::find_if(endpoints.begin(), endpoints.end(),
                               [&](const EndpointStats &mine) { return mine.name == e.name; });
        if (it == endpoints.end())
            endpoints.append(e);
        else
            it->merge(e);
    }
    dropped += other.dropped;
    interrupted += other.interrupted;
    peakUsers += other.peakUsers; // shards peak at about the same time; an upper bound
    durationSeconds = std::max(durationSeconds, other.durationSeconds);
}

EndpointStats EngineTotals::overall() const
{
    EndpointStats all;
    all.name = QStringLiteral("all");
    for (const EndpointStats &e : endpoints)
        all.merge(e);
    all.name = QStringLiteral("all");
    return all;
}

QJsonObject EngineTotals::toJson() const
{
    QJsonArray list;
    for (const EndpointStats &e : endpoints)
        list.append(e.toJson());
    return QJsonObject{{QStringLiteral("endpoints"), list},
                       {QStringLiteral("dropped"), double(dropped)},
                       {QStringLiteral("interrupted"), double(interrupted)},
                       {QStringLiteral("peak_users"), peakUsers},
                       {QStringLiteral("duration_seconds"), durationSeconds}};
}

Result<EngineTotals> EngineTotals::fromJson(const QJsonObject &o)
{
    EngineTotals t;
    if (!o.value(QStringLiteral("endpoints")).isArray())
        return Error{ErrorCode::BadRequest, QStringLiteral("totals: endpoints: expected an array")};
    const QJsonArray endpoints = o.value(QStringLiteral("endpoints")).toArray();
    for (qsizetype i = 0; i < endpoints.size(); ++i) {
        auto e = EndpointStats::fromJson(endpoints.at(i).toObject());
        if (!e.ok())
            return Error{ErrorCode::BadRequest,
                         QStringLiteral("totals: endpoints[%1]: %2").arg(i).arg(e.error().message)};
        t.endpoints.append(e.value());
    }
    t.dropped = quint64(o.value(QStringLiteral("dropped")).toDouble());
    t.interrupted = quint64(o.value(QStringLiteral("interrupted")).toDouble());
    t.peakUsers = o.value(QStringLiteral("peak_users")).toInt();
    t.durationSeconds = o.value(QStringLiteral("duration_seconds")).toDouble();
    return t;
}

// ------------------------------------------------------------------ LoadEngine

LoadEngine::LoadEngine(EngineOptions options) : m_options(std::move(options)) {}

LoadEngine::~LoadEngine()
{
    stop();
    wait(std::chrono::milliseconds(60'000));
    qDeleteAll(m_threads);
}

Result<bool> LoadEngine::check(const Scenario &scenario, const QUrl &target)
{
    if (!target.isValid() ||
        (target.scheme() != QStringLiteral("http") && target.scheme() != QStringLiteral("https")) ||
        target.host().isEmpty())
        return Error{ErrorCode::BadRequest,
                     QStringLiteral("target: expected an http:// or https:// URL with a host, "
                                    "got \"%1\"")
                         .arg(target.toString())};
    if ((!target.path().isEmpty() && target.path() != QStringLiteral("/")) || target.hasQuery() ||
        target.hasFragment() || !target.userInfo().isEmpty())
        return Error{ErrorCode::BadRequest,
                     QStringLiteral("target: only scheme, host and port (the requests of the "
                                    "scenario give the paths), got \"%1\"")
                         .arg(target.toString())};
    if (scenario.load.model == LoadSpec::Model::Open) {
        for (qsizetype i = 0; i < scenario.userClasses.size(); ++i) {
            if (!scenario.userClasses[i].onStart.isEmpty())
                return Error{ErrorCode::Unprocessable,
                             QStringLiteral("user_classes[%1].on_start: the open model has no "
                                            "virtual users to run it for; use the closed model")
                                 .arg(i)};
            if (scenario.userClasses[i].wait.kind != WaitSpec::Kind::None)
                return Error{ErrorCode::Unprocessable,
                             QStringLiteral("user_classes[%1].wait: in the open model the "
                                            "arrival rate paces the tasks; use the closed model "
                                            "for waits")
                                 .arg(i)};
        }
    }
    if (scenario.load.shape.totalDurationMs() <= 0)
        return Error{ErrorCode::Unprocessable, QStringLiteral("load: the run has no duration")};
    return true;
}

Result<bool> LoadEngine::start()
{
    const Scenario &scenario = *m_options.scenario;
    if (auto ok = check(scenario, m_options.target); !ok.ok())
        return ok.error();
    const QUrl &target = m_options.target;
    IoTarget io;
    io.tls = target.scheme() == QStringLiteral("https");
    io.port = quint16(target.port(io.tls ? 443 : 80));
    io.hostName = target.host();
    io.insecureTls = m_options.insecureTls;
    if (!io.address.setAddress(target.host())) {
        const QHostInfo info = QHostInfo::fromName(target.host());
        // IPv4 first: "localhost" servers usually listen there.
        for (const QHostAddress &a : info.addresses())
            if (a.protocol() == QAbstractSocket::IPv4Protocol) {
                io.address = a;
                break;
            }
        if (io.address.isNull() && !info.addresses().isEmpty())
            io.address = info.addresses().first();
        if (io.address.isNull())
            return Error{ErrorCode::BadRequest, QStringLiteral("target: cannot resolve %1: %2")
                                                    .arg(target.host(), info.errorString())};
    }
    QByteArray hostHeader = target.host(QUrl::FullyEncoded).toLatin1();
    if (io.address.protocol() == QAbstractSocket::IPv6Protocol && target.host().contains(':'))
        hostHeader = '[' + hostHeader + ']';
    if (target.port() > 0)
        hostHeader += ':' + QByteArray::number(target.port());

    m_ioKind = m_options.io;
    if (m_ioKind == IoLoop::Kind::Auto) {
#ifdef Q_OS_LINUX
        m_ioKind = io.tls ? IoLoop::Kind::Qt : IoLoop::Kind::Epoll;
#else
        m_ioKind = IoLoop::Kind::Qt;
#endif
    }
    if (m_ioKind == IoLoop::Kind::Epoll) {
#ifndef Q_OS_LINUX
        return Error{ErrorCode::BadRequest, QStringLiteral("io: epoll exists only on Linux")};
#endif
        if (io.tls)
            return Error{ErrorCode::BadRequest,
                         QStringLiteral("io: epoll speaks plain HTTP only; https needs qt")};
    }

    // Endpoint names in the order the scenario names them.
    QStringList names;
    for (const UserClassSpec &c : scenario.userClasses) {
        for (const RequestSpec &r : c.onStart)
            if (!names.contains(r.name))
                names.append(r.name);
        for (const TaskSpec &t : c.tasks)
            for (const RequestSpec &r : t.requests)
                if (!names.contains(r.name))
                    names.append(r.name);
    }

    m_threadCount =
        m_options.threads > 0 ? m_options.threads : std::max(1, QThread::idealThreadCount());
    const int shardCount = m_options.shardCount > 0 ? m_options.shardCount : m_threadCount;
    if (m_options.shardBase < 0 || m_options.shardBase + m_threadCount > shardCount)
        return Error{ErrorCode::BadRequest, QStringLiteral("shards: this process's shards lie "
                                                           "outside the run's")};
    const auto startAt = m_options.startAt.time_since_epoch().count() != 0
                             ? m_options.startAt
                             : std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    const qint64 startNs =
        std::chrono::duration_cast<std::chrono::nanoseconds>(startAt.time_since_epoch()).count();

    m_merger = std::make_unique<SeriesMerger>(m_threadCount);
    m_running = m_threadCount;
    for (int i = 0; i < m_threadCount; ++i) {
        LoadWorker::Setup setup;
        setup.engine = this;
        setup.scenario = m_options.scenario;
        setup.target = io;
        setup.hostHeader = hostHeader;
        setup.token = m_options.token;
        setup.io = m_ioKind;
        setup.thread = i;
        setup.shard = m_options.shardBase + i;
        setup.shardCount = shardCount;
        setup.startNs = startNs;
        setup.durationNs = scenario.load.shape.totalDurationMs() * 1'000'000;
        setup.endpointNames = names;
        auto worker = std::make_shared<LoadWorker>(std::move(setup));
        m_workers.append(worker);
        QThread *thread = QThread::create([this, worker, i] {
            worker->run();
            threadFinished(i);
        });
        thread->setObjectName(QStringLiteral("load-%1").arg(i));
        m_threads.append(thread);
    }
    for (QThread *t : m_threads)
        t->start();
    return true;
}

void LoadEngine::stop()
{
    m_stop = true; // threads see it within 50 ms (their longest wait)
}

bool LoadEngine::wait(std::chrono::milliseconds timeout)
{
    const QDeadlineTimer deadline(timeout.count());
    bool all = true;
    for (QThread *t : m_threads)
        all = t->wait(deadline) && all;
    return all;
}

bool LoadEngine::finished() const
{
    return m_running.load() == 0;
}

void LoadEngine::threadSecond(int thread, const SecondPartial &partial)
{
    std::lock_guard lock(m_mutex);
    m_ready += m_merger->add(thread, partial);
}

QList<SecondPartial> LoadEngine::takeSeconds()
{
    std::lock_guard lock(m_mutex);
    return std::exchange(m_ready, {});
}

void LoadEngine::threadFinished(int thread)
{
    {
        std::lock_guard lock(m_mutex);
        m_ready += m_merger->finish(thread);
    }
    --m_running;
}

EngineTotals LoadEngine::totals() const
{
    // Each thread's last act is threadFinished(), under this lock: taking it here orders
    // its writes before these reads in a way ThreadSanitizer sees (QThread::wait it does
    // not).
    std::lock_guard lock(m_mutex);
    EngineTotals all;
    bool first = true;
    for (const auto &w : m_workers) {
        if (first) {
            all = w->totals();
            all.peakUsers = w->totals().peakUsers;
            first = false;
        } else {
            all.merge(w->totals());
        }
    }
    return all;
}

} // namespace bulwark
