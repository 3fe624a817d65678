// SPDX-License-Identifier: GPL-3.0-or-later
// The load tester against real servers on loopback:
//   - a Bulwark test server's /debug/sleep?ms=25 measured with p50 within 1 ms of 25 ms,
//     through both socket layers (epoll and the portable Qt one);
//   - wait times (constant, between, pacing), user classes shared out by weight, 2000
//     users on 2000 keep-alive connections (both layers), an https target (with and
//     without certificate checks);
//   - a server that stalls for one second: the open model (measured from each request's
//     intended time) shows the stall in p99, the closed model hides it in p99 (only its
//     max knows), which is coordinated omission made visible;
//   - each failure kind (connect, timeout, status, check, protocol) counted as such;
//   - a distributed run with two `bulwark loadtest --worker` processes over a real Redis:
//     every virtual user ran, and the merged count equals what the server received;
//   - the command line: exit codes, reports written, the run stored and compared.
#include "ExternalServers.h"
#include "LoadEngine.h"
#include "LoadTestRunner.h"
#include "RedisClient.h"
#include "Scenario.h"
#include "TestSupport.h"

#include <QElapsedTimer>
#include <QEventLoop>
#include <QJsonArray>
#include <QJsonDocument>
#include <QMutex>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QSslSocket>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>
#include <QtTest>
#include <atomic>
#include <csignal>
#include <thread>

#ifdef Q_OS_UNIX
#include <sys/resource.h>
#endif

using namespace bulwark;
using namespace bulwark::test;

namespace {

constexpr qint64 kMs = 1'000'000;
// The sleep route's median must be within 1 ms of the sleep (the issue's bound). Under
// AddressSanitizer or ThreadSanitizer every instruction of server and client is
// instrumented, which alone adds about a millisecond to each request, so those builds get
// 3 ms; the plain builds (dev, release, CI's) keep 1 ms.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr qint64 kSleepTolerance = 3 * kMs;
#else
constexpr qint64 kSleepTolerance = kMs;
#endif

// A minimal keep-alive HTTP server on its own thread: answers every request with 200 and a
// tiny body, except that requests arriving during the stall window are answered only when
// it ends. It counts requests and remembers the `vu` query value of each.
class StallServer
{
public:
    // The server lives on a std::thread with its own Qt event loop: everything Qt is made,
    // used and destroyed there, and the join is a synchronisation ThreadSanitizer sees
    // (posting to a QThread and QThread::wait are not, Qt being uninstrumented).
    StallServer()
    {
        m_thread = std::thread([this] {
            QEventLoop loop;
            setUp();
            QTimer stopCheck;
            QObject::connect(&stopCheck, &QTimer::timeout, &loop, [&] {
                if (m_stop.load())
                    loop.quit();
            });
            stopCheck.start(5);
            loop.exec();
            tearDown();
        });
        for (int i = 0; i < 10'000 && m_port.load() == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        if (m_port.load() == 0)
            qFatal("the stall server did not listen within 10 s");
    }
    ~StallServer()
    {
        m_stop = true;
        m_thread.join();
    }
    quint16 port() const { return m_port.load(); }
    // Requests arriving from `afterMs` (from now) for `forMs` are held until the window ends.
    void scheduleStall(qint64 afterMs, qint64 forMs)
    {
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        m_stallFrom = now + afterMs;
        m_stallUntil = now + afterMs + forMs;
    }
    quint64 requests() const { return m_requests.load(); }
    QSet<QByteArray> users() const
    {
        QMutexLocker lock(&m_mutex);
        return m_users;
    }
    // The request targets seen ("/a?vu=3"), without repeats.
    QSet<QByteArray> targets() const
    {
        QMutexLocker lock(&m_mutex);
        return m_targets;
    }

private:
    struct Conn
    {
        QByteArray buffer;
        int held = 0;
    };
    void setUp()
    {
        m_server = new QTcpServer;
        m_server->setListenBacklogSize(4096); // thousands of users connect at once
        m_server->listen(QHostAddress::LocalHost, 0);
        m_port = m_server->serverPort();
        QObject::connect(m_server, &QTcpServer::newConnection, m_server, [this] {
            while (QTcpSocket *s = m_server->nextPendingConnection()) {
                m_conns.insert(s, Conn{});
                QObject::connect(s, &QTcpSocket::readyRead, s, [this, s] { onRead(s); });
                QObject::connect(s, &QTcpSocket::disconnected, s, [this, s] {
                    m_conns.remove(s);
                    s->deleteLater();
                });
            }
        });
        m_release = new QTimer;
        m_release->setInterval(2);
        QObject::connect(m_release, &QTimer::timeout, m_release, [this] { releaseHeld(); });
        m_release->start();
    }
    void tearDown()
    {
        delete m_release;
        for (auto it = m_conns.begin(); it != m_conns.end(); ++it)
            delete it.key();
        m_conns.clear();
        delete m_server;
    }
    bool stalled() const
    {
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        return now >= m_stallFrom && now < m_stallUntil;
    }
    void onRead(QTcpSocket *s)
    {
        Conn &c = m_conns[s];
        c.buffer += s->readAll();
        int complete = 0;
        for (qsizetype end = c.buffer.indexOf("\r\n\r\n"); end >= 0; end = c.buffer.indexOf("\r\n\r\n")) {
            const QByteArray head = c.buffer.left(end);
            c.buffer.remove(0, end + 4);
            ++complete;
            m_requests.fetch_add(1);
            const qsizetype vu = head.indexOf("vu=");
            if (vu >= 0) {
                QMutexLocker lock(&m_mutex);
                m_users.insert(head.mid(vu + 3, head.indexOf(' ', vu) - vu - 3));
                m_targets.insert(head.mid(4, head.indexOf(' ', 4) - 4));
            }
        }
        if (stalled())
            c.held += complete;
        else
            answer(s, complete);
    }
    void answer(QTcpSocket *s, int n)
    {
        static const QByteArray response =
            QByteArrayLiteral("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        for (int i = 0; i < n; ++i)
            s->write(response);
    }
    void releaseHeld()
    {
        if (stalled())
            return;
        for (auto it = m_conns.begin(); it != m_conns.end(); ++it)
            if (it->held > 0) {
                answer(it.key(), it->held);
                it->held = 0;
            }
    }

    std::thread m_thread;
    std::atomic<bool> m_stop{false};
    QTcpServer *m_server = nullptr;
    QTimer *m_release = nullptr;
    QHash<QTcpSocket *, Conn> m_conns;
    // Written on the server's thread while the constructor waits for it: atomic, because
    // ThreadSanitizer does not see the wait of a BlockingQueuedConnection.
    std::atomic<quint16> m_port{0};
    std::atomic<qint64> m_stallFrom{0};
    std::atomic<qint64> m_stallUntil{0};
    std::atomic<quint64> m_requests{0};
    mutable QMutex m_mutex;
    QSet<QByteArray> m_users;
    QSet<QByteArray> m_targets;
};

// `bulwark loadtest --worker` processes (one load thread each) on a Redis, stopped with
// SIGTERM (then SIGKILL) when this goes away.
class WorkerProcesses
{
public:
    WorkerProcesses(const QString &redisUrl, int count)
    {
        for (int i = 0; i < count; ++i) {
            auto process = std::make_unique<QProcess>();
            process->setProcessChannelMode(QProcess::ForwardedErrorChannel);
            process->start(qEnvironmentVariable("BULWARK_BINARY"),
                           {QStringLiteral("loadtest"), QStringLiteral("--worker"),
                            QStringLiteral("--redis"), redisUrl, QStringLiteral("--threads"),
                            QStringLiteral("1")});
            m_started = process->waitForStarted() && m_started;
            m_processes.push_back(std::move(process));
        }
    }
    ~WorkerProcesses()
    {
        for (const auto &p : m_processes) {
            p->terminate();
            if (!p->waitForFinished(5000))
                p->kill();
            p->waitForFinished();
        }
    }
    bool started() const { return m_started; }
    qint64 pid(int i) const { return m_processes.at(size_t(i))->processId(); }

private:
    std::vector<std::unique_ptr<QProcess>> m_processes;
    bool m_started = true;
};

std::shared_ptr<const Scenario> scenarioFrom(const QByteArray &json);
QByteArray oneRequest(const QByteArray &load, const QByteArray &request, const QByteArray &extra = {});

// A distributed run's surroundings: a real Redis, the counting server (never stalled),
// `workers` worker processes, and the coordinator's options for a closed run of `users`
// virtual users requesting /x?vu={{vu}} for `duration`, with one load thread here.
struct DistributedRig
{
    RedisServer redis;
    StallServer server;
    std::unique_ptr<WorkerProcesses> workers;
    SteadyClock clock;
    std::unique_ptr<RedisClient> client;
    RunOptions options;

    // Empty on success, else what is missing.
    QString start(int workerCount, int users, const QString &duration)
    {
        if (!redis.start())
            return redis.errorString();
        const QString url = QStringLiteral("redis://127.0.0.1:%1").arg(redis.port());
        workers = std::make_unique<WorkerProcesses>(url, workerCount);
        if (!workers->started())
            return QStringLiteral("a worker process did not start");
        client = std::make_unique<RedisClient>(RedisOptions::fromUrl(url).value(), clock);
        options.scenario = scenarioFrom(oneRequest(
            QStringLiteral(R"({"model": "closed", "shape": "constant", "users": %1, "duration": "%2"})")
                .arg(users)
                .arg(duration)
                .toUtf8(),
            R"({"path": "/x?vu={{vu}}"})"));
        if (!options.scenario)
            return QStringLiteral("the scenario does not parse");
        options.target = QUrl(QStringLiteral("http://127.0.0.1:%1").arg(server.port()));
        options.threads = 1;
        options.redis = client.get();
        options.workers = workerCount;
        options.workersTimeout = std::chrono::milliseconds(20'000);
        return {};
    }
};

std::shared_ptr<const Scenario> scenarioFrom(const QByteArray &json)
{
    auto s = Scenario::parse(json, QStringLiteral("test.json"), QDir::tempPath());
    if (!s.ok()) {
        qWarning("%s", qPrintable(s.error().message));
        return nullptr;
    }
    return std::make_shared<const Scenario>(std::move(s).value());
}

QByteArray oneRequest(const QByteArray &load, const QByteArray &request, const QByteArray &extra)
{
    return "{\"name\": \"t\", " + extra + "\"load\": " + load +
           ", \"user_classes\": [{\"name\": \"u\", \"weight\": 1, \"tasks\": [{\"name\": \"t\", "
           "\"weight\": 1, \"request\": " +
           request + "}]}]}";
}

RunReport runOnce(const std::shared_ptr<const Scenario> &scenario, const QString &target,
                  IoLoop::Kind io = IoLoop::Kind::Auto, int threads = 2)
{
    RunOptions options;
    options.scenario = scenario;
    options.target = QUrl(target);
    options.threads = threads;
    options.io = io;
    return LoadTestRunner::run(options, {});
}

struct ProcessResult
{
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
};

ProcessResult runBulwark(const QStringList &arguments, int timeoutMs = 60'000)
{
    QProcess p;
    p.start(qEnvironmentVariable("BULWARK_BINARY"), arguments);
    ProcessResult r;
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
    }
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

} // namespace

class TstLoadTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void sleepRouteMedian_data();
    void sleepRouteMedian();
    void stallVisibleInOpenModelOnly();
    void failureKinds();
    void waitTimes_data();
    void waitTimes();
    void userClassesByWeight();
    void thousandsOfConnections();
    void tlsTarget();
    void distributedRunMergesExactly();
    void distributedRunLosesAWorker();
    void distributedRunStopsTogether();
    void commandLine();
};

void TstLoadTest::initTestCase()
{
#ifdef Q_OS_UNIX
    // Thousands of client connections and as many server ones in this one process.
    rlimit limit{};
    QVERIFY(getrlimit(RLIMIT_NOFILE, &limit) == 0);
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 65536);
    QVERIFY(setrlimit(RLIMIT_NOFILE, &limit) == 0);
    QVERIFY2(limit.rlim_cur >= 5000, "the hard limit on open files is below 5000");
#endif
}

void TstLoadTest::sleepRouteMedian_data()
{
    QTest::addColumn<int>("io");
    QTest::newRow("epoll") << int(IoLoop::Kind::Epoll);
    QTest::newRow("qt (portable)") << int(IoLoop::Kind::Qt);
}

void TstLoadTest::sleepRouteMedian()
{
    QFETCH(int, io);
    TestServer server;
    server.config.server.threads = 4;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    // Fewer users than server threads: no request waits for a free worker, so what is left
    // is the sleep and the loopback round trip.
    auto scenario = scenarioFrom(oneRequest(
        R"({"model": "closed", "shape": "constant", "users": 3, "duration": "3s"})",
        R"({"path": "/debug/sleep?ms=25", "checks": [{"status": 200}, {"json": "slept_ms", "equals": 25}]})"));
    QVERIFY(scenario);
    const RunReport report = runOnce(scenario, QStringLiteral("http://127.0.0.1:%1").arg(server.port()),
                                     IoLoop::Kind(io));
    QCOMPARE(report.status, QStringLiteral("passed"));
    QVERIFY2(report.overall.requests >= 200, qPrintable(QString::number(report.overall.requests)));
    QCOMPARE(report.overall.failed(), quint64(0));
    const qint64 p50 = qint64(report.overall.latency.valueAtQuantile(0.5));
    QVERIFY2(std::abs(p50 - 25 * kMs) <= kSleepTolerance,
             qPrintable(QStringLiteral("p50 %1 ns").arg(p50)));
    QVERIFY(report.overall.latency.min() >= quint64(25 * kMs));
    // The series covers the run and adds up to the totals.
    quint64 sum = 0;
    for (const SecondSample &s : report.series)
        sum += s.requests;
    QCOMPARE(sum, report.overall.requests);
    QVERIFY(report.series.size() >= 3 && report.series.size() <= 4);
    QCOMPARE(report.peakUsers, 3);
}

void TstLoadTest::stallVisibleInOpenModelOnly()
{
    // 4 s runs; the server stalls from 1.5 s to 2.5 s into each.
    StallServer server;
    const QString target = QStringLiteral("http://127.0.0.1:%1").arg(server.port());
    auto open = scenarioFrom(oneRequest(
        R"({"model": "open", "shape": "constant", "rate": 400, "duration": "4s", "max_connections": 50})",
        R"({"path": "/x"})"));
    auto closed = scenarioFrom(oneRequest(
        R"({"model": "closed", "shape": "constant", "users": 10, "duration": "4s"})",
        R"({"path": "/x"})"));
    QVERIFY(open && closed);

    server.scheduleStall(1'600, 1'000); // the run starts 100 ms after run()
    const RunReport o = runOnce(open, target);
    server.scheduleStall(1'600, 1'000);
    const RunReport c = runOnce(closed, target);

    const qint64 second = 1'000 * kMs;
    qInfo("open:   %llu requests, p50 %.1f ms, p99 %.1f ms, max %.1f ms",
          o.overall.requests, o.overall.latency.valueAtQuantile(0.5) / 1e6,
          o.overall.latency.valueAtQuantile(0.99) / 1e6, o.overall.latency.max() / 1e6);
    qInfo("closed: %llu requests, p50 %.1f ms, p99 %.1f ms, max %.1f ms",
          c.overall.requests, c.overall.latency.valueAtQuantile(0.5) / 1e6,
          c.overall.latency.valueAtQuantile(0.99) / 1e6, c.overall.latency.max() / 1e6);
    QCOMPARE(o.overall.failed(), quint64(0));
    QCOMPARE(c.overall.failed(), quint64(0));
    // Open model: every arrival due during the stall waited for it (a quarter of the run),
    // so p99 is most of the second.
    QCOMPARE(o.overall.requests, quint64(1600));
    QVERIFY(o.overall.latency.valueAtQuantile(0.99) >= quint64(0.7 * second));
    QVERIFY(o.overall.latency.valueAtQuantile(0.90) >= quint64(0.3 * second));
    // Closed model: the 10 users waited once each; thousands of fast requests hide that
    // in p99 and only the max shows the stall.
    QVERIFY(c.overall.requests >= 1000);
    QVERIFY(c.overall.latency.valueAtQuantile(0.99) < quint64(0.1 * second));
    QVERIFY(c.overall.latency.max() >= quint64(0.8 * second));
}

void TstLoadTest::failureKinds()
{
    TestServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const QString target = QStringLiteral("http://127.0.0.1:%1").arg(server.port());
    const QByteArray load = R"({"model": "closed", "shape": "constant", "users": 1, "duration": "1s"})";

    struct Row
    {
        const char *name;
        QByteArray request;
        QByteArray extra;
        FailureKind kind;
        QString target;
        QString message; // the start of the report's error message
    };
    // A port nobody listens on: bind one, note it, close it.
    QTcpServer probe;
    QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
    const quint16 closedPort = probe.serverPort();
    probe.close();

    const QList<Row> rows{
        {"status", R"({"path": "/api/v1/nothing"})", {}, FailureKind::Status, target,
         QStringLiteral("status 401")},
        {"check", R"({"path": "/debug/sleep?ms=0", "checks": [{"json": "slept_ms", "equals": 5}]})",
         {}, FailureKind::Check, target, QStringLiteral("json slept_ms")},
        {"timeout", R"({"path": "/debug/sleep?ms=800"})", R"("timeout": "200ms", )",
         FailureKind::Timeout, target, QStringLiteral("no response within 200ms")},
        {"connect", R"({"path": "/"})", {}, FailureKind::Connect,
         QStringLiteral("http://127.0.0.1:%1").arg(closedPort), QStringLiteral("connect: ")},
    };
    for (const Row &row : rows) {
        auto scenario = scenarioFrom(oneRequest(load, row.request, row.extra));
        QVERIFY2(scenario, row.name);
        const RunReport r = runOnce(scenario, row.target, IoLoop::Kind::Auto, 1);
        QVERIFY2(r.overall.requests > 0, row.name);
        QVERIFY2(r.overall.failures[size_t(row.kind)] == r.overall.requests,
                 qPrintable(QStringLiteral("%1: %2 of %3 in the expected kind")
                                .arg(QLatin1String(row.name))
                                .arg(r.overall.failures[size_t(row.kind)])
                                .arg(r.overall.requests)));
        QCOMPARE(r.overall.failed(), r.overall.requests);
        // The report says why, in words, with the count.
        const QMap<QString, quint64> &errors = r.endpoints.first().errors;
        QVERIFY2(errors.size() == 1 && errors.firstKey().startsWith(row.message) &&
                     errors.first() == r.overall.requests,
                 qPrintable(QStringLiteral("%1: %2 x %3").arg(QLatin1String(row.name),
                                                             errors.isEmpty() ? QString() : errors.firstKey())
                                .arg(errors.isEmpty() ? 0 : errors.first())));
    }
}

void TstLoadTest::waitTimes_data()
{
    // One user for 2 s against a server that answers at once; the wait decides the count.
    QTest::addColumn<QByteArray>("wait");
    QTest::addColumn<int>("low");
    QTest::addColumn<int>("high");
    QTest::newRow("none") << QByteArray() << 1000 << 10'000'000;
    QTest::newRow("constant 200ms") << QByteArray(R"("wait": {"constant": "200ms"}, )") << 9 << 11;
    QTest::newRow("between 100ms 300ms") << QByteArray(R"("wait": {"between": ["100ms", "300ms"]}, )")
                                        << 6 << 15;
    // Pacing: a task starts every 250 ms whatever it took: at 0, 250, ... 1750 ms.
    QTest::newRow("pacing 250ms") << QByteArray(R"("wait": {"pacing": "250ms"}, )") << 8 << 9;
}

void TstLoadTest::waitTimes()
{
    QFETCH(QByteArray, wait);
    QFETCH(int, low);
    QFETCH(int, high);
    StallServer server;
    auto scenario = scenarioFrom(
        R"({"name": "w", "load": {"model": "closed", "shape": "constant", "users": 1, "duration": "2s"},
            "user_classes": [{"name": "u", )" + wait + R"("tasks": [{"name": "t", "request": {"path": "/x"}}]}]})");
    QVERIFY(scenario);
    const RunReport r = runOnce(scenario, QStringLiteral("http://127.0.0.1:%1").arg(server.port()),
                                IoLoop::Kind::Auto, 1);
    QVERIFY2(int(r.overall.requests) >= low && int(r.overall.requests) <= high,
             qPrintable(QStringLiteral("%1 requests, expected %2..%3").arg(r.overall.requests).arg(low).arg(high)));
    QCOMPARE(r.overall.failed(), quint64(0));
}

void TstLoadTest::userClassesByWeight()
{
    // 8 users of classes weighted 3:1 are 6 and 2, on any number of threads.
    StallServer server;
    auto scenario = scenarioFrom(R"({"name": "w",
        "load": {"model": "closed", "shape": "constant", "users": 8, "duration": "1s"},
        "user_classes": [
          {"name": "a", "weight": 3, "wait": {"constant": "50ms"}, "tasks": [{"name": "t", "request": {"path": "/a?vu={{vu}}"}}]},
          {"name": "b", "weight": 1, "wait": {"constant": "50ms"}, "tasks": [{"name": "t", "request": {"path": "/b?vu={{vu}}"}}]}]})");
    QVERIFY(scenario);
    const RunReport r = runOnce(scenario, QStringLiteral("http://127.0.0.1:%1").arg(server.port()),
                                IoLoop::Kind::Auto, 3);
    QCOMPARE(r.overall.failed(), quint64(0));
    int a = 0;
    int b = 0;
    for (const QByteArray &target : server.targets())
        (target.startsWith("/a") ? a : b) += 1;
    QCOMPARE(a, 6);
    QCOMPARE(b, 2);
    QCOMPARE(server.users().size(), 8);
    QCOMPARE(r.endpoints.size(), 2);

    // The open model shares arrivals out by weight exactly too: 1:1 over 2 s at 50/s on 3
    // threads is 50 and 50.
    auto open = scenarioFrom(R"({"name": "w",
        "load": {"model": "open", "shape": "constant", "rate": 50, "duration": "2s"},
        "user_classes": [
          {"name": "a", "weight": 1, "tasks": [{"name": "t", "request": {"name": "a", "path": "/a"}}]},
          {"name": "b", "weight": 1, "tasks": [{"name": "t", "request": {"name": "b", "path": "/b"}}]}]})");
    QVERIFY(open);
    const RunReport o = runOnce(open, QStringLiteral("http://127.0.0.1:%1").arg(server.port()),
                                IoLoop::Kind::Auto, 3);
    QCOMPARE(o.overall.requests, quint64(100));
    QCOMPARE(o.endpoints.size(), 2);
    QCOMPARE(o.endpoints.at(0).requests, quint64(50));
    QCOMPARE(o.endpoints.at(1).requests, quint64(50));
}

void TstLoadTest::thousandsOfConnections()
{
    // 2000 virtual users, each on its own keep-alive connection, through both socket layers.
    for (const IoLoop::Kind io : {IoLoop::Kind::Epoll, IoLoop::Kind::Qt}) {
        StallServer server;
        auto scenario = scenarioFrom(oneRequest(
            R"({"model": "closed", "shape": "constant", "users": 2000, "duration": "4s"})",
            R"({"path": "/x?vu={{vu}}"})"));
        QVERIFY(scenario);
        const RunReport r = runOnce(scenario, QStringLiteral("http://127.0.0.1:%1").arg(server.port()), io);
        QVERIFY2(r.overall.failed() == 0,
                 qPrintable(QStringLiteral("%1: %2 failed (connect %3, timeout %4)")
                                .arg(QLatin1String(IoLoop::kindName(io)))
                                .arg(r.overall.failed())
                                .arg(r.overall.failures[size_t(FailureKind::Connect)])
                                .arg(r.overall.failures[size_t(FailureKind::Timeout)])));
        QCOMPARE(server.users().size(), 2000);
        QCOMPARE(r.peakUsers, 2000);
        QCOMPARE(r.overall.requests, server.requests());
    }
}

void TstLoadTest::tlsTarget()
{
    QVERIFY2(QSslSocket::supportsSsl(), "this Qt build has no TLS backend");
    const QString openssl = QStandardPaths::findExecutable(QStringLiteral("openssl"));
    QVERIFY2(!openssl.isEmpty(), "the openssl command-line tool is missing (Debian: openssl)");
    QTemporaryDir certs;
    const QString cert = certs.filePath(QStringLiteral("cert.pem"));
    const QString key = certs.filePath(QStringLiteral("key.pem"));
    QProcess proc;
    proc.setProcessChannelMode(QProcess::MergedChannels);
    proc.start(openssl, {QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-newkey"),
                         QStringLiteral("rsa:2048"), QStringLiteral("-nodes"), QStringLiteral("-subj"),
                         QStringLiteral("/CN=localhost"), QStringLiteral("-days"), QStringLiteral("2"),
                         QStringLiteral("-keyout"), key, QStringLiteral("-out"), cert});
    QVERIFY(proc.waitForFinished(60'000) && proc.exitCode() == 0);
    TestServer server;
    server.config.server.tls.certFile = cert;
    server.config.server.tls.keyFile = key;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const QString target = QStringLiteral("https://127.0.0.1:%1").arg(server.port());
    auto scenario = scenarioFrom(oneRequest(
        R"({"model": "closed", "shape": "constant", "users": 2, "duration": "1s"})",
        R"({"path": "/debug/sleep?ms=2", "checks": [{"json": "slept_ms", "equals": 2}]})"));
    QVERIFY(scenario);

    RunOptions options;
    options.scenario = scenario;
    options.target = QUrl(target);
    options.threads = 1;
    options.insecureTls = true; // the certificate is self-signed
    const RunReport trusted = LoadTestRunner::run(options, {});
    QCOMPARE(trusted.status, QStringLiteral("passed"));
    QVERIFY(trusted.overall.requests > 20);
    QCOMPARE(trusted.overall.failed(), quint64(0));

    // Without --insecure the self-signed certificate is refused: every attempt is a
    // connect failure, nothing is sent.
    options.insecureTls = false;
    const RunReport refused = LoadTestRunner::run(options, {});
    QVERIFY(refused.overall.requests > 0);
    QCOMPARE(refused.overall.failures[size_t(FailureKind::Connect)], refused.overall.requests);

    // The epoll layer speaks plain HTTP only, and says so.
    options.io = IoLoop::Kind::Epoll;
    const RunReport epoll = LoadTestRunner::run(options, {});
    QCOMPARE(epoll.status, QStringLiteral("error"));
    QVERIFY2(epoll.error.contains(QStringLiteral("epoll speaks plain HTTP only")), qPrintable(epoll.error));
}

void TstLoadTest::distributedRunMergesExactly()
{
    DistributedRig rig;
    const QString problem = rig.start(2, 6, QStringLiteral("3s"));
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    const StallServer &server = rig.server;
    const RunReport report = LoadTestRunner::run(rig.options, {});

    QVERIFY2(report.error.isEmpty(), qPrintable(report.error));
    QCOMPARE(report.status, QStringLiteral("passed"));
    QCOMPARE(report.workers, 3);
    QCOMPARE(report.threads, 3);
    // Users 0..5 over shards 0 (here), 1 and 2 (the workers): all six ran.
    QCOMPARE(server.users(), (QSet<QByteArray>{"0", "1", "2", "3", "4", "5"}));
    // Every request the server answered is in the merged report, and nothing else.
    QVERIFY(report.overall.requests > 100);
    QCOMPARE(report.overall.requests, server.requests());
    QCOMPARE(report.overall.failed(), quint64(0));
    quint64 sum = 0;
    for (const SecondSample &s : report.series)
        sum += s.requests;
    QCOMPARE(sum, report.overall.requests);
    QCOMPARE(report.endpoints.size(), 1);
    QCOMPARE(report.endpoints.first().requests, report.overall.requests);
}

void TstLoadTest::distributedRunLosesAWorker()
{
    // A worker killed mid-run: the coordinator notices (its heartbeat key expires) and
    // ends the run on time with an error that says which worker, keeping what it measured.
    DistributedRig rig;
    const QString problem = rig.start(1, 4, QStringLiteral("12s"));
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    const StallServer &server = rig.server;
    std::thread killer([&] {
        // Once the run is 2 s old (it starts 2 s after the claim): SIGKILL, no goodbye.
        for (int i = 0; i < 200 && server.requests() == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        std::this_thread::sleep_for(std::chrono::seconds(2));
        ::kill(pid_t(rig.workers->pid(0)), SIGKILL);
    });
    QElapsedTimer timer;
    timer.start();
    const RunReport report = LoadTestRunner::run(rig.options, {});
    killer.join();
    QCOMPARE(report.status, QStringLiteral("error"));
    QVERIFY2(report.error.contains(QStringLiteral("worker 1")) &&
                 report.error.contains(QStringLiteral("stopped answering")),
             qPrintable(report.error));
    QVERIFY2(timer.elapsed() < 12'000 + 2'000 + 9'000, qPrintable(QString::number(timer.elapsed())));
    QVERIFY(report.overall.requests > 0); // this process's own load, in full
    QCOMPARE(report.overall.failed(), quint64(0));
}

void TstLoadTest::distributedRunStopsTogether()
{
    // A stop at the coordinator reaches the workers through Redis: everyone stops within a
    // second or so, the run is "stopped", and nothing is sent after it ended.
    DistributedRig rig;
    const QString problem = rig.start(2, 6, QStringLiteral("60s"));
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    const StallServer &server = rig.server;
    QElapsedTimer sinceLoad;
    LoadTestRunner::Callbacks callbacks;
    callbacks.stopRequested = [&] {
        if (server.requests() == 0)
            return false;
        if (!sinceLoad.isValid())
            sinceLoad.start();
        return sinceLoad.elapsed() > 2'000;
    };
    const RunReport report = LoadTestRunner::run(rig.options, callbacks);
    QCOMPARE(report.status, QStringLiteral("stopped"));
    QVERIFY2(report.error.isEmpty(), qPrintable(report.error));
    QVERIFY2(sinceLoad.elapsed() < 2'000 + 5'000, qPrintable(QString::number(sinceLoad.elapsed())));
    QCOMPARE(server.users().size(), 6); // all three processes took part
    // Everything the server answered is counted or was in flight when the stop came.
    const quint64 sent = server.requests();
    QVERIFY(report.overall.requests > 0);
    QVERIFY2(sent >= report.overall.requests && sent - report.overall.requests <= report.interrupted,
             qPrintable(QStringLiteral("server %1, counted %2, interrupted %3")
                            .arg(sent).arg(report.overall.requests).arg(report.interrupted)));
    // And nobody sends anything after the run ended.
    QThread::msleep(1'000);
    QCOMPARE(server.requests(), sent);
}

void TstLoadTest::commandLine()
{
    TestServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    QTemporaryDir dir;
    const QString target = QStringLiteral("http://127.0.0.1:%1").arg(server.port());
    const QString dataDir = dir.filePath(QStringLiteral("data"));
    auto write = [&](const QString &name, const QByteArray &text) {
        QFile f(dir.filePath(name));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(text);
    };
    write(QStringLiteral("pass.json"),
          oneRequest(R"({"model": "closed", "shape": "constant", "users": 2, "duration": "2s"})",
                     R"({"path": "/debug/sleep?ms=5"})", R"("thresholds": ["p95 < 2s"], )"));
    write(QStringLiteral("fail.json"),
          oneRequest(R"({"model": "closed", "shape": "constant", "users": 2, "duration": "1s"})",
                     R"({"path": "/debug/sleep?ms=5"})", R"("thresholds": ["p50 < 1ms"], )"));
    write(QStringLiteral("broken.json"), "{\n  \"name\": \"x\",\n  \"load\": {\"model\": \"sideways\"}\n}\n");

    const QString html = dir.filePath(QStringLiteral("r.html"));
    const QString json = dir.filePath(QStringLiteral("r.json"));
    const QString csv = dir.filePath(QStringLiteral("r.csv"));
    ProcessResult pass = runBulwark({QStringLiteral("loadtest"), dir.filePath(QStringLiteral("pass.json")),
                                     QStringLiteral("--target"), target, QStringLiteral("--data-dir"), dataDir,
                                     QStringLiteral("--report"), html, QStringLiteral("--report"), json,
                                     QStringLiteral("--report"), csv});
    QVERIFY2(pass.exitCode == 0, pass.err.constData());
    QVERIFY(pass.out.contains("PASS  p95 < 2s"));
    // The progress line (stderr is not a terminal here: whole lines, the first at once).
    QVERIFY2(QRegularExpression(QStringLiteral(R"(\[ +\d+s/2s\] users 2 \| [\d,]+ req \| [\d,]+ req/s \| \d+\.\d\d% err \| p50 )"))
                 .match(QString::fromUtf8(pass.err))
                 .hasMatch(),
             pass.err.constData());
    QVERIFY(pass.err.contains("stored as run "));
    for (const QString &path : {html, json, csv})
        QVERIFY2(QFileInfo(path).size() > 100, qPrintable(path));

    ProcessResult fail = runBulwark({QStringLiteral("loadtest"), dir.filePath(QStringLiteral("fail.json")),
                                     QStringLiteral("--target"), target, QStringLiteral("--data-dir"), dataDir,
                                     QStringLiteral("--quiet")});
    QCOMPARE(fail.exitCode, 3);
    QVERIFY(fail.out.contains("FAIL  p50 < 1ms"));

    ProcessResult broken = runBulwark({QStringLiteral("loadtest"), dir.filePath(QStringLiteral("broken.json")),
                                       QStringLiteral("--target"), target, QStringLiteral("--no-store")});
    QCOMPARE(broken.exitCode, 2);
    QVERIFY2(broken.err.contains("broken.json:3:21: load.model:"), broken.err.constData());

    ProcessResult noTarget = runBulwark({QStringLiteral("loadtest"), dir.filePath(QStringLiteral("pass.json")),
                                         QStringLiteral("--no-store")});
    QCOMPARE(noTarget.exitCode, 2);
    QVERIFY(noTarget.err.contains("no target"));

    // Both runs are stored; list shows them, compare reads them back by id prefix.
    ProcessResult list = runBulwark({QStringLiteral("loadtest"), QStringLiteral("list"),
                                     QStringLiteral("--data-dir"), dataDir});
    QCOMPARE(list.exitCode, 0);
    const QList<QByteArray> lines = list.out.trimmed().split('\n');
    QCOMPARE(lines.size(), 3); // header + two runs, newest first
    QVERIFY(lines.at(1).contains("failed"));
    QVERIFY(lines.at(2).contains("passed"));
    const QString newer = QString::fromLatin1(lines.at(1).left(8));
    const QString older = QString::fromLatin1(lines.at(2).left(8));
    ProcessResult compare = runBulwark({QStringLiteral("loadtest"), QStringLiteral("compare"), older,
                                        newer, QStringLiteral("--data-dir"), dataDir});
    QVERIFY2(compare.exitCode == 0, compare.err.constData());
    QVERIFY(compare.out.contains("p95"));
    // A report file is a RUN too.
    ProcessResult fromFile = runBulwark({QStringLiteral("loadtest"), QStringLiteral("compare"), json,
                                         older, QStringLiteral("--data-dir"), dataDir});
    QVERIFY2(fromFile.exitCode == 0, fromFile.err.constData());
}

QTEST_GUILESS_MAIN(TstLoadTest)
#include "tst_loadtest.moc"
