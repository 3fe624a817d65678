// SPDX-License-Identifier: GPL-3.0-or-later
// One load thread of a LoadEngine (see LoadEngine.h for the model): its shard's virtual
// users (closed model) or connections (open model), their timers, and its measurements.
// Everything here runs on the thread; the only shared state is the engine's stop flag and
// the engine's per-second collector.
//
// A virtual user is a small state machine on one keep-alive connection:
//   idle -> (connect) -> request in flight -> next request of the task ... -> wait -> idle
// A failed request (connect, timeout, protocol, or any failed check) ends its task: later
// requests of a task usually depend on earlier ones. A connection that could not be opened
// makes its user pause 100 ms before the next task, so a dead target is reported as connect
// failures without a busy loop.
//
// Waits between tasks are timers, one per user at most, in a binary heap with a generation
// number instead of removal. Request timeouts are found by a periodic scan of the users in
// flight (LoadWorker.cpp), so no per-request timer exists.
#pragma once

#include "HttpResponseParser.h"
#include "IoLoop.h"
#include "LatencyHistogram.h"
#include "LoadEngine.h"
#include "RunReport.h"
#include "Scenario.h"

#include <QHash>
#include <QList>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <vector>

namespace bulwark {

class LoadEngine;

class LoadWorker final : public IoLoop::Listener
{
public:
    struct Setup
    {
        LoadEngine *engine = nullptr;
        std::shared_ptr<const Scenario> scenario;
        IoTarget target;
        QByteArray hostHeader;
        QByteArray token;
        IoLoop::Kind io = IoLoop::Kind::Auto;
        int thread = 0; // index in the engine
        int shard = 0;
        int shardCount = 1;
        qint64 startNs = 0; // steady clock
        qint64 durationNs = 0;
        QStringList endpointNames;
    };

    explicit LoadWorker(Setup setup);
    ~LoadWorker() override;
    Q_DISABLE_COPY_MOVE(LoadWorker)

    void run();
    EngineTotals totals() const { return m_totals; }

    void onConnected(int conn) override;
    void onData(int conn, const char *data, qsizetype size) override;
    void onClosed(int conn, bool wasConnected, const QString &error) override;

    static qint64 nowNs();

private:
    enum class Phase
    {
        Off,        // not active (closed model: beyond the shape's users)
        Idle,       // active, nothing to do yet (open model: waiting for an arrival)
        Connecting, // a request waits for the connection
        InFlight,
        Waiting // between tasks
    };
    struct Step
    {
        const RequestSpec *request = nullptr;
        int endpoint = 0;
    };
    struct Task
    {
        int weight = 1;
        std::vector<Step> steps;
    };
    struct UserClass
    {
        const UserClassSpec *spec = nullptr;
        std::vector<Step> onStart;
        std::vector<Task> tasks;
        int taskWeights = 0;
    };
    struct User
    {
        quint64 number = 0;
        int userClass = 0;
        Phase phase = Phase::Off;
        int conn = -1;
        bool connected = false;
        bool started = false;     // on_start done
        bool inOnStart = false;
        bool stopWhenIdle = false;
        int task = -1;
        int step = 0;
        qint64 dueNs = 0;         // when the current request was due (latency origin)
        qint64 taskStartNs = 0;
        qint64 deadlineNs = 0;    // the request in flight times out then
        quint32 timerGeneration = 0;
        QHash<QString, QByteArray> vars;
        HttpResponseParser parser;
    };
    struct Arrival
    {
        qint64 dueNs;
        quint64 number; // in the run's arrival schedule
    };
    struct Timer
    {
        qint64 atNs;
        int user;
        quint32 generation;
        bool operator>(const Timer &o) const { return atNs > o.atNs; }
    };

    void buildPlan();
    int pickUserClass(quint64 number);
    int pickTask(const UserClass &c);
    void controlClosed(qint64 now);
    void activate(int index);
    void deactivate(User &u, int index);
    void generateArrivals(qint64 now);
    void advanceToOwnArrival();
    void dispatchArrival(const Arrival &arrival);
    void startArrival(int index, const Arrival &arrival);
    void beginNextTask(int index, qint64 now);
    void sendCurrent(int index, qint64 dueNs);
    void writeRequest(int index);
    const Step &currentStep(const User &u) const;
    struct Failure
    {
        FailureKind kind;
        QString message; // for the report: "status 404", "connect: Connection refused"
    };
    // The checks' verdict on the complete response in u.parser (extracting the variables
    // when it passed).
    std::optional<Failure> judge(User &u) const;
    void finishRequest(int index, qint64 now, const Failure *failure, bool hasLatency);
    void afterTask(int index, qint64 now, bool failed, bool connectFailed);
    void setTimer(int index, qint64 atNs);
    void fireTimers(qint64 now);
    void flushSeconds(qint64 now);
    void recordSecond(qint64 now, const FailureKind *failure, quint64 latencyNs, bool hasLatency);
    int activeUsers() const;

    Setup m_setup;
    const Scenario &m_scenario;
    bool m_open = false;
    std::unique_ptr<IoLoop> m_loop;
    std::vector<UserClass> m_classes;
    std::vector<int> m_classSequence; // smooth weighted round robin over the class weights
    int m_classWeights = 0;
    std::vector<User> m_users;
    std::vector<int> m_userOfConn;
    std::vector<Timer> m_timers; // min-heap by atNs
    std::mt19937_64 m_rng;
    quint64 m_seqNext = 0;
    QByteArray m_requestBuffer;
    qint64 m_timeoutNs = 0;
    QString m_timeoutMessage;
    int m_inFlight = 0;
    int m_activeUsers = 0; // closed model: users not Off (kept, not counted: read every 10 ms)
    bool m_ending = false;
    qint64 m_nextControlNs = 0;
    qint64 m_nextTimeoutScanNs = 0;
    // Open model.
    std::unique_ptr<ArrivalSchedule> m_arrivals;
    qint64 m_nextArrivalNs = -1; // of this shard; -1: none left
    quint64 m_nextArrivalNumber = 0;
    int m_connectionCap = 0;
    std::deque<Arrival> m_queue;
    std::vector<int> m_idle; // users (connections) free for an arrival
    // Measurements.
    EngineTotals m_totals;
    SecondPartial m_window;
    qint64 m_lastFinishNs = 0;
};

} // namespace bulwark
