// SPDX-License-Identifier: GPL-3.0-or-later
// See LoadWorker.h.
#include "LoadWorker.h"

#include "ConfigLoader.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <limits>
#include <numeric>

namespace bulwark {

namespace {
constexpr qint64 kMs = 1'000'000;
constexpr qint64 kSecond = 1'000'000'000;
constexpr qint64 kControlIntervalNs = 10 * kMs;
constexpr qint64 kConnectBackoffNs = 100 * kMs;
constexpr qint64 kMaxPollNs = 50 * kMs;
// Request timeouts are found by a scan of the users in flight this often, not by a timer
// per request: constant memory at any request rate, and a timeout is late by at most this.
constexpr qint64 kTimeoutScanNs = 20 * kMs; // the stop flag is seen within this even without wake()
constexpr size_t kMaxQueued = 100'000;      // open model: arrivals waiting for a connection
constexpr int kMaxClassSequence = 100'000;
} // namespace

qint64 LoadWorker::nowNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

LoadWorker::LoadWorker(Setup setup)
    : m_setup(std::move(setup)), m_scenario(*m_setup.scenario),
      m_open(m_scenario.load.model == LoadSpec::Model::Open),
      m_rng(std::random_device{}() ^ (quint64(m_setup.shard) << 32)),
      m_seqNext(quint64(m_setup.shard))
{
    m_timeoutNs = m_scenario.timeoutMs * kMs;
    m_timeoutMessage = QStringLiteral("no response within %1")
                           .arg(ConfigLoader::formatDurationMs(m_scenario.timeoutMs));
    for (const QString &name : m_setup.endpointNames) {
        EndpointStats e;
        e.name = name;
        m_totals.endpoints.append(e);
    }
    if (m_open) {
        const int cap = m_scenario.load.maxConnections > 0 ? m_scenario.load.maxConnections : 1000;
        m_connectionCap =
            cap / m_setup.shardCount + (m_setup.shard < cap % m_setup.shardCount ? 1 : 0);
        m_connectionCap = std::max(1, m_connectionCap);
    }
    buildPlan();
}

LoadWorker::~LoadWorker() = default;

void LoadWorker::buildPlan()
{
    auto endpointOf = [this](const RequestSpec &r) {
        return int(m_setup.endpointNames.indexOf(r.name));
    };
    for (const UserClassSpec &spec : m_scenario.userClasses) {
        UserClass c;
        c.spec = &spec;
        for (const RequestSpec &r : spec.onStart)
            c.onStart.push_back(Step{&r, endpointOf(r)});
        for (const TaskSpec &t : spec.tasks) {
            Task task;
            task.weight = t.weight;
            for (const RequestSpec &r : t.requests)
                task.steps.push_back(Step{&r, endpointOf(r)});
            c.taskWeights += t.weight;
            c.tasks.push_back(std::move(task));
        }
        m_classWeights += spec.weight;
        m_classes.push_back(std::move(c));
    }
    // Virtual users get their class in a fixed, evenly spread order (smooth weighted round
    // robin over the weights divided by their gcd), so 3 users of weights 2:1 are always
    // two of the first class and one of the second, on any number of shards.
    int gcd = 0;
    for (const UserClass &c : m_classes)
        gcd = std::gcd(gcd, c.spec->weight);
    int total = 0;
    for (const UserClass &c : m_classes)
        total += c.spec->weight / std::max(gcd, 1);
    if (total > 0 && total <= kMaxClassSequence) {
        std::vector<int> current(m_classes.size(), 0);
        for (int n = 0; n < total; ++n) {
            int best = 0;
            for (size_t i = 0; i < m_classes.size(); ++i) {
                current[i] += m_classes[i].spec->weight / gcd;
                if (current[i] > current[size_t(best)])
                    best = int(i);
            }
            current[size_t(best)] -= total;
            m_classSequence.push_back(best);
        }
    }
}

int LoadWorker::pickUserClass(quint64 number)
{
    if (!m_classSequence.empty())
        return m_classSequence[size_t(number % m_classSequence.size())];
    int r = int(std::uniform_int_distribution<int>(0, m_classWeights - 1)(m_rng));
    for (size_t i = 0; i < m_classes.size(); ++i) {
        r -= m_classes[i].spec->weight;
        if (r < 0)
            return int(i);
    }
    return 0;
}

int LoadWorker::pickTask(const UserClass &c)
{
    if (c.tasks.size() == 1)
        return 0;
    int r = int(std::uniform_int_distribution<int>(0, c.taskWeights - 1)(m_rng));
    for (size_t i = 0; i < c.tasks.size(); ++i) {
        r -= c.tasks[i].weight;
        if (r < 0)
            return int(i);
    }
    return 0;
}

// ------------------------------------------------------------------ the thread's loop

void LoadWorker::run()
{
    m_loop = IoLoop::create(m_setup.io, m_setup.target, this);
    const qint64 start = m_setup.startNs;
    const qint64 end = start + m_setup.durationNs;
    if (m_open) {
        m_arrivals = std::make_unique<ArrivalSchedule>(m_scenario.load.shape);
        advanceToOwnArrival();
    }
    m_nextControlNs = start;
    qint64 stoppedAt = 0;
    for (;;) {
        qint64 now = nowNs();
        if (m_setup.engine->m_stop.load(std::memory_order_relaxed)) {
            m_totals.interrupted += quint64(m_inFlight);
            stoppedAt = now;
            break;
        }
        if (now < start) {
            m_loop->poll(std::min(start - now, kMaxPollNs));
            continue;
        }
        if (!m_ending && now >= end) {
            m_ending = true;
            // Users between tasks stop now; users with a request in flight after it.
            for (size_t i = 0; i < m_users.size(); ++i)
                if (m_users[i].phase == Phase::Waiting || m_users[i].phase == Phase::Idle)
                    deactivate(m_users[i], int(i));
            m_totals.dropped += m_queue.size();
            m_queue.clear();
        }
        if (!m_ending) {
            if (m_open)
                generateArrivals(now);
            else if (now >= m_nextControlNs) {
                controlClosed(now);
                m_nextControlNs = now + kControlIntervalNs;
            }
        }
        fireTimers(now);
        flushSeconds(now);
        if (m_ending && m_inFlight == 0)
            break;

        qint64 next = now + kMaxPollNs;
        if (!m_ending) {
            next = std::min(next, end);
            if (!m_open)
                next = std::min(next, m_nextControlNs);
            else if (m_nextArrivalNs >= 0)
                next = std::min(next, start + m_nextArrivalNs);
        }
        if (!m_timers.empty())
            next = std::min(next, m_timers.front().atNs);
        if (m_inFlight > 0)
            next = std::min(next, m_nextTimeoutScanNs);
        next = std::min(next, start + (m_window.second + 1) * kSecond);
        now = nowNs();
        m_loop->poll(next - now);
    }
    const qint64 finishedAt = stoppedAt ? stoppedAt : nowNs();
    flushSeconds(finishedAt);
    // The second in progress when the run ended, if anything happened in it.
    if (m_window.requests > 0 || m_window.second * kSecond < finishedAt - start) {
        m_window.activeUsers = activeUsers();
        m_setup.engine->threadSecond(m_setup.thread, m_window);
    }
    const qint64 last = stoppedAt ? stoppedAt : std::max(m_lastFinishNs, std::min(finishedAt, end));
    m_totals.durationSeconds = double(std::max<qint64>(0, last - start)) / 1e9;
    for (size_t i = 0; i < m_users.size(); ++i)
        if (m_users[i].conn >= 0)
            m_loop->close(m_users[i].conn);
    m_loop.reset();
}

// ------------------------------------------------------------------ closed model

void LoadWorker::controlClosed(qint64 now)
{
    const qint64 tMs = (now - m_setup.startNs) / kMs;
    const int all = m_scenario.load.shape.usersAt(tMs);
    const int shards = m_setup.shardCount;
    const int target = all > m_setup.shard ? (all - 1 - m_setup.shard) / shards + 1 : 0;
    while (int(m_users.size()) < target) {
        User u;
        u.number = quint64(m_setup.shard) + quint64(m_users.size()) * quint64(shards);
        m_users.push_back(std::move(u));
    }
    for (int i = 0; i < int(m_users.size()); ++i) {
        User &u = m_users[size_t(i)];
        if (i < target) {
            if (u.phase == Phase::Off)
                activate(i);
            else
                u.stopWhenIdle = false;
        } else if (u.phase != Phase::Off) {
            if (u.phase == Phase::Waiting || u.phase == Phase::Idle)
                deactivate(u, i);
            else
                u.stopWhenIdle = true;
        }
    }
    m_totals.peakUsers = std::max(m_totals.peakUsers, activeUsers());
}

void LoadWorker::activate(int index)
{
    User &u = m_users[size_t(index)];
    u.phase = Phase::Idle;
    ++m_activeUsers;
    u.userClass = pickUserClass(u.number);
    u.started = false;
    u.stopWhenIdle = false;
    u.vars.clear();
    beginNextTask(index, nowNs());
}

void LoadWorker::deactivate(User &u, int)
{
    if (u.conn >= 0) {
        m_loop->close(u.conn);
        m_userOfConn[size_t(u.conn)] = -1;
        u.conn = -1;
        u.connected = false;
    }
    ++u.timerGeneration;
    if (u.phase != Phase::Off && !m_open)
        --m_activeUsers;
    u.phase = Phase::Off;
    u.stopWhenIdle = false;
}

int LoadWorker::activeUsers() const
{
    return m_open ? m_inFlight : m_activeUsers;
}

// ------------------------------------------------------------------ open model

void LoadWorker::generateArrivals(qint64 now)
{
    const qint64 start = m_setup.startNs;
    while (m_nextArrivalNs >= 0 && start + m_nextArrivalNs <= now) {
        dispatchArrival(Arrival{start + m_nextArrivalNs, m_nextArrivalNumber});
        advanceToOwnArrival();
    }
}

// The next arrival of the schedule that belongs to this shard (arrival k to shard k mod S).
void LoadWorker::advanceToOwnArrival()
{
    const quint64 shards = quint64(m_setup.shardCount);
    const quint64 shard = quint64(m_setup.shard);
    m_nextArrivalNs = -1;
    for (qint64 t = m_arrivals->next(); t >= 0; t = m_arrivals->next())
        if ((m_arrivals->produced() - 1) % shards == shard) {
            m_nextArrivalNs = t;
            m_nextArrivalNumber = m_arrivals->produced() - 1;
            return;
        }
}

void LoadWorker::dispatchArrival(const Arrival &arrival)
{
    if (!m_idle.empty()) {
        const int index = m_idle.back();
        m_idle.pop_back();
        startArrival(index, arrival);
    } else if (int(m_users.size()) < m_connectionCap) {
        User u;
        u.number = quint64(m_setup.shard) + quint64(m_users.size()) * quint64(m_setup.shardCount);
        u.phase = Phase::Idle;
        m_users.push_back(std::move(u));
        startArrival(int(m_users.size()) - 1, arrival);
    } else if (m_queue.size() < kMaxQueued) {
        m_queue.push_back(arrival);
    } else {
        ++m_totals.dropped;
    }
    m_totals.peakUsers = std::max(m_totals.peakUsers, m_inFlight);
}

void LoadWorker::startArrival(int index, const Arrival &arrival)
{
    const qint64 dueNs = arrival.dueNs;
    User &u = m_users[size_t(index)];
    // By the arrival's number in the whole run, so the classes' shares hold exactly over
    // any number of threads and workers.
    u.userClass = pickUserClass(arrival.number);
    u.started = true;
    u.inOnStart = false;
    u.vars.clear(); // an arrival is a new visitor
    u.task = pickTask(m_classes[size_t(u.userClass)]);
    u.step = 0;
    u.taskStartNs = dueNs;
    sendCurrent(index, dueNs);
}

// ------------------------------------------------------------------ requests

const LoadWorker::Step &LoadWorker::currentStep(const User &u) const
{
    const UserClass &c = m_classes[size_t(u.userClass)];
    if (u.inOnStart)
        return c.onStart[size_t(u.step)];
    return c.tasks[size_t(u.task)].steps[size_t(u.step)];
}

void LoadWorker::beginNextTask(int index, qint64 now)
{
    User &u = m_users[size_t(index)];
    if (m_ending || u.stopWhenIdle) {
        deactivate(u, index);
        return;
    }
    const UserClass &c = m_classes[size_t(u.userClass)];
    if (!u.started && !c.onStart.empty()) {
        u.inOnStart = true;
    } else {
        u.started = true;
        u.inOnStart = false;
        u.task = pickTask(c);
    }
    u.step = 0;
    u.taskStartNs = now;
    sendCurrent(index, now);
}

void LoadWorker::sendCurrent(int index, qint64 dueNs)
{
    User &u = m_users[size_t(index)];
    u.dueNs = dueNs;
    ++m_inFlight;
    u.deadlineNs = std::max(dueNs, nowNs()) + m_timeoutNs;
    if (u.conn < 0) {
        u.conn = m_loop->open();
        if (size_t(u.conn) >= m_userOfConn.size())
            m_userOfConn.resize(size_t(u.conn) + 1, -1);
        m_userOfConn[size_t(u.conn)] = index;
        u.connected = false;
        u.phase = Phase::Connecting;
        return;
    }
    writeRequest(index);
}

void LoadWorker::writeRequest(int index)
{
    User &u = m_users[size_t(index)];
    const Step &step = currentStep(u);
    TemplateContext ctx;
    ctx.vu = u.number;
    ctx.seqNext = &m_seqNext;
    ctx.seqStride = quint64(m_setup.shardCount);
    ctx.rng = &m_rng;
    ctx.csv = &m_scenario.csv;
    ctx.csvRow = qsizetype(u.number);
    ctx.vars = &u.vars;
    ctx.runToken = m_setup.token;
    m_requestBuffer.clear();
    step.request->render(ctx, m_setup.hostHeader, &m_requestBuffer);
    u.parser.reset(step.request->method == "HEAD", step.request->needsBody());
    u.phase = Phase::InFlight;
    m_loop->send(u.conn, m_requestBuffer.constData(), m_requestBuffer.size());
}

void LoadWorker::onConnected(int conn)
{
    const int index = m_userOfConn[size_t(conn)];
    if (index < 0)
        return;
    User &u = m_users[size_t(index)];
    u.connected = true;
    if (u.phase == Phase::Connecting)
        writeRequest(index);
}

void LoadWorker::onData(int conn, const char *data, qsizetype size)
{
    const int index = m_userOfConn[size_t(conn)];
    if (index < 0)
        return;
    User &u = m_users[size_t(index)];
    if (u.phase != Phase::InFlight) {
        // Bytes nobody asked for: the connection cannot be trusted any more.
        m_loop->close(conn);
        m_userOfConn[size_t(conn)] = -1;
        u.conn = -1;
        u.connected = false;
        return;
    }
    const qsizetype used = u.parser.feed(data, size);
    const qint64 now = nowNs();
    if (u.parser.failed()) {
        m_loop->close(conn);
        m_userOfConn[size_t(conn)] = -1;
        u.conn = -1;
        u.connected = false;
        const Failure failure{FailureKind::Protocol, u.parser.error()};
        finishRequest(index, now, &failure, true);
        afterTask(index, now, true, false);
        return;
    }
    if (!u.parser.done())
        return;
    const std::optional<Failure> failure = judge(u);
    if (!u.parser.keepAlive() || used < size) {
        m_loop->close(conn);
        m_userOfConn[size_t(conn)] = -1;
        u.conn = -1;
        u.connected = false;
    }
    finishRequest(index, now, failure ? &*failure : nullptr, true);
    if (failure) {
        afterTask(index, now, true, false);
        return;
    }
    // The next request of the task, at once.
    const UserClass &c = m_classes[size_t(u.userClass)];
    const size_t steps = u.inOnStart ? c.onStart.size() : c.tasks[size_t(u.task)].steps.size();
    if (!m_ending && size_t(u.step) + 1 < steps) {
        ++u.step;
        sendCurrent(index, now);
        return;
    }
    afterTask(index, now, false, false);
}

std::optional<LoadWorker::Failure> LoadWorker::judge(User &u) const
{
    const Step &step = currentStep(u);
    const RequestSpec::Verdict verdict =
        step.request->verify(ResponseView{u.parser.status(), QByteArrayView(u.parser.body())});
    if (verdict.statusFailed)
        return Failure{FailureKind::Status, QStringLiteral("status %1").arg(u.parser.status())};
    if (!verdict.failedCheck.isEmpty())
        return Failure{FailureKind::Check, verdict.failedCheck};
    if (!step.request->extract.isEmpty())
        step.request->extractInto(QByteArrayView(u.parser.body()), &u.vars);
    return std::nullopt;
}

void LoadWorker::onClosed(int conn, bool wasConnected, const QString &error)
{
    const int index = m_userOfConn[size_t(conn)];
    if (index < 0)
        return;
    m_userOfConn[size_t(conn)] = -1;
    User &u = m_users[size_t(index)];
    u.conn = -1;
    u.connected = false;
    const qint64 now = nowNs();
    if (u.phase == Phase::InFlight && u.parser.finishOnClose()) {
        // A body delimited by the end of the connection: complete, check it like any other.
        const std::optional<Failure> failure = judge(u);
        finishRequest(index, now, failure ? &*failure : nullptr, true);
        afterTask(index, now, failure.has_value(), false); // the rest of the task would need
                                                           // a new connection: next task
        return;
    }
    if (u.phase == Phase::InFlight || u.phase == Phase::Connecting) {
        const Failure failure{FailureKind::Connect,
                              (wasConnected ? QStringLiteral("connection lost: ")
                                            : QStringLiteral("connect: ")) + error};
        finishRequest(index, now, &failure, false);
        afterTask(index, now, true, !wasConnected);
    }
    // Otherwise an idle keep-alive connection was closed: the next request reconnects.
}

void LoadWorker::finishRequest(int index, qint64 now, const Failure *failure, bool hasLatency)
{
    User &u = m_users[size_t(index)];
    --m_inFlight;
    const Step &step = currentStep(u);
    EndpointStats &e = m_totals.endpoints[step.endpoint];
    ++e.requests;
    if (failure) {
        ++e.failures[size_t(failure->kind)];
        e.addError(failure->message);
    }
    const quint64 latency = quint64(std::max<qint64>(0, now - u.dueNs));
    if (hasLatency) {
        e.latency.record(latency);
        e.bytesReceived += u.parser.bytes();
    }
    m_lastFinishNs = now;
    recordSecond(now, failure ? &failure->kind : nullptr, latency, hasLatency);
}

void LoadWorker::afterTask(int index, qint64 now, bool failed, bool connectFailed)
{
    Q_UNUSED(failed);
    User &u = m_users[size_t(index)];
    if (u.inOnStart) {
        // on_start runs once, whatever its outcome: its failures are in the report, and the
        // tasks show what they cause.
        u.inOnStart = false;
        u.started = true;
    }
    if (m_open) {
        u.phase = Phase::Idle;
        if (m_ending)
            return;
        if (!m_queue.empty()) {
            const Arrival next = m_queue.front();
            m_queue.pop_front();
            startArrival(index, next);
        } else {
            m_idle.push_back(index);
        }
        return;
    }
    if (m_ending || u.stopWhenIdle) {
        deactivate(u, index);
        return;
    }
    u.phase = Phase::Waiting;
    const WaitSpec &wait = m_classes[size_t(u.userClass)].spec->wait;
    qint64 waitNs = 0;
    switch (wait.kind) {
    case WaitSpec::Kind::None: break;
    case WaitSpec::Kind::Constant: waitNs = wait.minMs * kMs; break;
    case WaitSpec::Kind::Between:
        waitNs = std::uniform_int_distribution<qint64>(wait.minMs * kMs, wait.maxMs * kMs)(m_rng);
        break;
    case WaitSpec::Kind::Pacing:
        waitNs = std::max<qint64>(0, u.taskStartNs + wait.minMs * kMs - now);
        break;
    }
    if (connectFailed)
        waitNs = std::max(waitNs, kConnectBackoffNs);
    if (waitNs <= 0) {
        beginNextTask(index, now);
        return;
    }
    setTimer(index, now + waitNs);
}

// ------------------------------------------------------------------ timers

void LoadWorker::setTimer(int index, qint64 atNs)
{
    User &u = m_users[size_t(index)];
    ++u.timerGeneration;
    m_timers.push_back(Timer{atNs, index, u.timerGeneration});
    std::push_heap(m_timers.begin(), m_timers.end(), std::greater<>());
}

void LoadWorker::fireTimers(qint64 now)
{
    while (!m_timers.empty() && m_timers.front().atNs <= now) {
        std::pop_heap(m_timers.begin(), m_timers.end(), std::greater<>());
        const Timer t = m_timers.back();
        m_timers.pop_back();
        User &u = m_users[size_t(t.user)];
        if (u.timerGeneration == t.generation && u.phase == Phase::Waiting)
            beginNextTask(t.user, now);
    }
    if (now >= m_nextTimeoutScanNs) {
        m_nextTimeoutScanNs = now + kTimeoutScanNs;
        for (size_t i = 0; i < m_users.size(); ++i) {
            User &u = m_users[i];
            if ((u.phase != Phase::InFlight && u.phase != Phase::Connecting) || u.deadlineNs > now)
                continue;
            if (u.conn >= 0) {
                m_loop->close(u.conn);
                m_userOfConn[size_t(u.conn)] = -1;
                u.conn = -1;
                u.connected = false;
            }
            const Failure failure{FailureKind::Timeout, m_timeoutMessage};
            finishRequest(int(i), now, &failure, false);
            afterTask(int(i), now, true, false);
        }
    }
}

// ------------------------------------------------------------------ measurements

void LoadWorker::flushSeconds(qint64 now)
{
    const qint64 second = (now - m_setup.startNs) / kSecond;
    while (m_window.second < second) {
        m_window.activeUsers = activeUsers();
        if (m_open)
            m_window.targetRate = m_scenario.load.shape.usersAt(m_window.second * 1000);
        m_setup.engine->threadSecond(m_setup.thread, m_window);
        const qint64 next = m_window.second + 1;
        m_window = SecondPartial{};
        m_window.second = next;
    }
}

void LoadWorker::recordSecond(qint64 now, const FailureKind *failure, quint64 latencyNs,
                              bool hasLatency)
{
    flushSeconds(now);
    ++m_window.requests;
    if (failure) {
        ++m_window.failures;
        ++m_window.failuresByKind[size_t(*failure)];
    }
    if (hasLatency)
        m_window.latency.record(latencyNs);
}

} // namespace bulwark
