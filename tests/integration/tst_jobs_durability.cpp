// SPDX-License-Identifier: GPL-3.0-or-later
// The job queue across process deaths and instances, with real processes
// (jobs_test_server: the server's composition root plus the test.record job type, whose
// effect lands in an idempotent results table, and whose every run is logged):
//   - kill -9 while 10 000 jobs run, restart on the same SQLite database: every job ends
//     succeeded once, its result row exists exactly once, and re-runs are bounded by what
//     was in flight at the kill;
//   - SIGTERM while jobs run: short jobs finish, long ones are released back to the queue
//     with their attempt not counted, and the process exits 0 within the grace period;
//   - two instances on one real PostgreSQL drain one queue: every job runs exactly once,
//     both instances take part.
#include "ExternalServers.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace bulwark::test;

namespace {

const QByteArray kToken = "jobs-durability-test-token-0123456789abcdef";

QString serverBinary()
{
    return qEnvironmentVariable("BULWARK_JOBS_TEST_SERVER");
}

// One HTTP/1.1 request with Connection: close; returns (status, body).
std::pair<int, QByteArray> http(quint16 port, const QByteArray &method, const QByteArray &target,
                                const QByteArray &body = {})
{
    QTcpSocket socket;
    socket.connectToHost(QStringLiteral("127.0.0.1"), port);
    if (!socket.waitForConnected(5000))
        return {0, socket.errorString().toUtf8()};
    QByteArray request = method + ' ' + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                         "Authorization: Bearer " + kToken + "\r\nConnection: close\r\n";
    if (!body.isEmpty())
        request += "Content-Type: application/json\r\nContent-Length: " +
                   QByteArray::number(body.size()) + "\r\n";
    request += "\r\n" + body;
    socket.write(request);
    QByteArray response;
    QElapsedTimer timer;
    timer.start();
    while (timer.elapsed() < 30000) {
        if (!socket.waitForReadyRead(1000) && socket.state() != QAbstractSocket::ConnectedState)
            break;
        response += socket.readAll();
    }
    response += socket.readAll();
    const qsizetype headEnd = response.indexOf("\r\n\r\n");
    if (!response.startsWith("HTTP/1.1 ") || headEnd < 0)
        return {0, response};
    return {response.mid(9, 3).toInt(), response.mid(headEnd + 4)};
}

class JobServer
{
public:
    ~JobServer()
    {
        if (m_proc.state() != QProcess::NotRunning) {
            m_proc.kill();
            m_proc.waitForFinished(5000);
        }
    }
    // Starts it and waits for "listening on port N"; 0 when it did not come up.
    quint16 start(const QString &configFile)
    {
        m_proc.setProgram(serverBinary());
        m_proc.setArguments({QStringLiteral("--config"), configFile});
        m_proc.setStandardOutputFile(QProcess::nullDevice());
        m_proc.setReadChannel(QProcess::StandardError);
        m_proc.start();
        if (!m_proc.waitForStarted(10000))
            return 0;
        QElapsedTimer timer;
        timer.start();
        while (timer.elapsed() < 20000) {
            m_proc.waitForReadyRead(200);
            m_log += m_proc.readAllStandardError();
            const qsizetype at = m_log.indexOf("listening on port ");
            if (at >= 0 && m_log.indexOf('\n', at) > 0)
                return quint16(m_log.mid(at + 18, m_log.indexOf(' ', at + 18) - at - 18).toUInt());
            if (m_proc.state() != QProcess::Running)
                return 0;
        }
        return 0;
    }
    void signal(int signo) { ::kill(pid_t(m_proc.processId()), signo); }
    bool waitForExit(int timeoutMs)
    {
        const bool done = m_proc.waitForFinished(timeoutMs);
        m_log += m_proc.readAllStandardError();
        return done;
    }
    int exitCode() const { return m_proc.exitCode(); }
    QProcess::ExitStatus exitStatus() const { return m_proc.exitStatus(); }
    QByteArray log() { return m_log += m_proc.readAllStandardError(); }

private:
    QProcess m_proc;
    QByteArray m_log;
};

QJsonObject baseConfig(const QString &dataDir)
{
    return QJsonObject{
        {QStringLiteral("server"),
         QJsonObject{{QStringLiteral("listen"), QStringLiteral("127.0.0.1:0")},
                     {QStringLiteral("data_dir"), dataDir},
                     {QStringLiteral("threads"), 2},
                     {QStringLiteral("shutdown_grace"), QStringLiteral("3s")}}},
        {QStringLiteral("log"), QJsonObject{{QStringLiteral("level"), QStringLiteral("warning")},
                                            {QStringLiteral("access"), QStringLiteral("off")}}},
        {QStringLiteral("admin"), QJsonObject{{QStringLiteral("token"), QString::fromLatin1(kToken)}}},
        {QStringLiteral("ratelimit"), QJsonObject{{QStringLiteral("enabled"), false}}},
        {QStringLiteral("db"), QJsonObject{{QStringLiteral("slow_query_ms"), 60000}}},
        {QStringLiteral("jobs"),
         QJsonObject{{QStringLiteral("workers"), 4},
                     {QStringLiteral("lease"), QStringLiteral("2s")},
                     {QStringLiteral("poll_interval"), QStringLiteral("50ms")},
                     {QStringLiteral("queues"),
                      QJsonArray{QJsonObject{{QStringLiteral("name"), QStringLiteral("default")},
                                             {QStringLiteral("concurrency"), 16}}}},
                     {QStringLiteral("cron"), QJsonArray{}}}}};
}

QString writeConfig(const QString &dir, const QString &name, const QJsonObject &config)
{
    const QString path = dir + u'/' + name;
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
        qFatal("cannot write %s", qPrintable(path));
    f.write(QJsonDocument(config).toJson());
    return path;
}

// Enqueues `count` test.record jobs in batches of 1000; returns false on any refusal.
bool enqueue(quint16 port, int count, int sleepMs, QString *why)
{
    for (int done = 0; done < count;) {
        QJsonArray jobs;
        const int n = std::min(1000, count - done);
        for (int i = 0; i < n; ++i)
            jobs.append(QJsonObject{{QStringLiteral("type"), QStringLiteral("test.record")},
                                    {QStringLiteral("payload"),
                                     QJsonObject{{QStringLiteral("sleep_ms"), sleepMs}}}});
        const auto [status, body] =
            http(port, "POST", "/admin/api/jobs",
                 QJsonDocument(QJsonObject{{QStringLiteral("jobs"), jobs}}).toJson(QJsonDocument::Compact));
        if (status != 202) {
            *why = QStringLiteral("enqueue: %1 %2").arg(status).arg(QString::fromUtf8(body));
            return false;
        }
        done += n;
    }
    return true;
}

qint64 scalar(QSqlDatabase db, const QString &sql)
{
    QSqlQuery q(db);
    if (!q.exec(sql) || !q.next()) {
        qWarning("%s: %s", qPrintable(sql), qPrintable(q.lastError().text()));
        return -1;
    }
    return q.value(0).toLongLong();
}

// Jobs not finished yet, read through the stats endpoint (all instances).
qint64 unfinished(quint16 port)
{
    const auto [status, body] = http(port, "GET", "/admin/api/jobs/stats");
    if (status != 200)
        return -1;
    qint64 n = 0;
    for (const QJsonValue &d :
         QJsonDocument::fromJson(body).object().value(QStringLiteral("depth")).toArray()) {
        const QJsonObject o = d.toObject();
        for (const char *k : {"ready", "scheduled", "retrying", "running"})
            n += qint64(o.value(QLatin1String(k)).toDouble());
    }
    return n;
}

qint64 succeeded(quint16 port)
{
    const auto [status, body] = http(port, "GET", "/admin/api/jobs/stats");
    if (status != 200)
        return -1;
    return qint64(QJsonDocument::fromJson(body)
                      .object()
                      .value(QStringLiteral("finished_last_hour"))
                      .toObject()
                      .value(QStringLiteral("succeeded"))
                      .toDouble());
}

} // namespace

class TestJobsDurability : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void killNineLosesNothing();
    void sigtermReleasesRunningJobs();
    void twoInstancesOnPostgres();
    void cleanupTestCase();

private:
    PostgresServer m_postgres;
};

void TestJobsDurability::initTestCase()
{
    QVERIFY2(QFile::exists(serverBinary()),
             "BULWARK_JOBS_TEST_SERVER must name the jobs_test_server executable");
}

void TestJobsDurability::cleanupTestCase()
{
    m_postgres.stop();
}

void TestJobsDurability::killNineLosesNothing()
{
    constexpr int kJobs = 10'000;
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString config = writeConfig(dir.path(), QStringLiteral("config.json"),
                                       baseConfig(dir.filePath(QStringLiteral("data"))));
    qint64 atKill = 0;
    {
        JobServer first;
        const quint16 port = first.start(config);
        QVERIFY2(port > 0, first.log().constData());
        QString why;
        QVERIFY2(enqueue(port, kJobs, 1, &why), qPrintable(why));
        // Kill it in the middle: after a good share ran, well before the end.
        QElapsedTimer timer;
        timer.start();
        while (timer.elapsed() < 60000 && (atKill = succeeded(port)) < kJobs / 5)
            QTest::qWait(20);
        QVERIFY2(atKill >= kJobs / 5 && atKill < kJobs,
                 qPrintable(QStringLiteral("succeeded before the kill: %1").arg(atKill)));
        first.signal(SIGKILL);
        QVERIFY(first.waitForExit(10000));
        QCOMPARE(first.exitStatus(), QProcess::CrashExit);
    }
    {
        JobServer second;
        const quint16 port = second.start(config);
        QVERIFY2(port > 0, second.log().constData());
        // The killed instance's leases expire (2 s), its jobs run again, the rest drain.
        QElapsedTimer timer;
        timer.start();
        qint64 left = -1;
        while (timer.elapsed() < 120000 && (left = unfinished(port)) != 0)
            QTest::qWait(100);
        QCOMPARE(left, qint64(0));
        second.signal(SIGTERM);
        QVERIFY(second.waitForExit(10000));
        QCOMPARE(second.exitCode(), 0);
    }
    QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("kill9"));
    db.setDatabaseName(dir.filePath(QStringLiteral("data/bulwark.db")));
    QVERIFY(db.open());
    QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(*) FROM jobs")), qint64(kJobs));
    QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(*) FROM jobs WHERE state = 'succeeded'")),
             qint64(kJobs));
    // The idempotent effect: exactly one result row per job, for every job.
    QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(*) FROM test_results")), qint64(kJobs));
    QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(*) FROM test_results r JOIN jobs j ON "
                                       "j.id = r.job_id")),
             qint64(kJobs));
    // At least once: a job may have run twice only if it was in flight at the kill (its
    // run committed, its completion not); at most the 16 the queue held at once.
    const qint64 runs = scalar(db, QStringLiteral("SELECT COUNT(*) FROM test_runs"));
    const qint64 repeated = scalar(
        db, QStringLiteral("SELECT COUNT(*) FROM (SELECT job_id FROM test_runs GROUP BY job_id "
                           "HAVING COUNT(*) > 1) AS t"));
    qInfo("10000 jobs, %lld succeeded before the kill, %lld runs, %lld jobs ran twice",
          qlonglong(atKill), qlonglong(runs), qlonglong(repeated));
    QVERIFY(runs >= kJobs);
    QVERIFY2(repeated <= 16, qPrintable(QString::number(repeated)));
    QCOMPARE(runs - kJobs, repeated);
    db.close();
    db = QSqlDatabase();
    QSqlDatabase::removeDatabase(QStringLiteral("kill9"));
}

void TestJobsDurability::sigtermReleasesRunningJobs()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    // Four workers, four jobs held at once: every claimed job is on a worker.
    QJsonObject c = baseConfig(dir.filePath(QStringLiteral("data")));
    QJsonObject jobs = c.value(QStringLiteral("jobs")).toObject();
    jobs.insert(QStringLiteral("queues"),
                QJsonArray{QJsonObject{{QStringLiteral("name"), QStringLiteral("default")},
                                       {QStringLiteral("concurrency"), 4}}});
    c.insert(QStringLiteral("jobs"), jobs);
    const QString config = writeConfig(dir.path(), QStringLiteral("config.json"), c);
    JobServer server;
    const quint16 port = server.start(config);
    QVERIFY2(port > 0, server.log().constData());
    // Two jobs that end within the grace period (3 s), two that would run for a minute.
    QString why;
    QVERIFY2(enqueue(port, 2, 60'000, &why), qPrintable(why));
    QVERIFY2(enqueue(port, 2, 1'000, &why), qPrintable(why));
    QElapsedTimer timer;
    timer.start();
    int running = 0;
    while (timer.elapsed() < 10000) {
        const auto [status, body] = http(port, "GET", "/admin/api/jobs?state=running");
        running = int(QJsonDocument::fromJson(body).object().value(QStringLiteral("jobs")).toArray().size());
        if (running == 4)
            break;
        QTest::qWait(20);
    }
    QCOMPARE(running, 4);
    server.signal(SIGTERM);
    timer.restart();
    QVERIFY(server.waitForExit(10000));
    QVERIFY2(timer.elapsed() < 5000, qPrintable(QString::number(timer.elapsed())));
    QCOMPARE(server.exitStatus(), QProcess::NormalExit);
    QCOMPARE(server.exitCode(), 0);
    QVERIFY2(server.log().contains("2 job(s) still running at the end of the shutdown grace"), server.log().constData());

    QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("term"));
    db.setDatabaseName(dir.filePath(QStringLiteral("data/bulwark.db")));
    QVERIFY(db.open());
    // The short jobs finished; the long ones are back in the queue untouched: state
    // queued, attempt not counted, no lease, no run recorded.
    QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(*) FROM jobs WHERE state = 'succeeded'")),
             qint64(2));
    QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND "
                                       "attempts = 0 AND lease_owner IS NULL AND payload LIKE "
                                       "'%60000%'")),
             qint64(2));
    QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(*) FROM test_runs")), qint64(2));
    db.close();
    db = QSqlDatabase();
    QSqlDatabase::removeDatabase(QStringLiteral("term"));
}

void TestJobsDurability::twoInstancesOnPostgres()
{
    constexpr int kJobs = 3000;
    QVERIFY2(m_postgres.start(), qPrintable(m_postgres.errorString()));
    QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), QStringLiteral("pg"));
    db.setHostName(m_postgres.host());
    db.setPort(m_postgres.port());
    db.setUserName(m_postgres.user());
    db.setDatabaseName(m_postgres.database());
    QVERIFY2(db.open(), qPrintable(db.lastError().text()));
    QSqlQuery q(db);
    QVERIFY(q.exec(QStringLiteral("DROP DATABASE IF EXISTS jobs_two WITH (FORCE)")));
    QVERIFY2(q.exec(QStringLiteral("CREATE DATABASE jobs_two")), qPrintable(q.lastError().text()));
    db.close();
    db.setDatabaseName(QStringLiteral("jobs_two"));
    QVERIFY(db.open());
    QSqlQuery make(db);
    QVERIFY(make.exec(QStringLiteral("CREATE TABLE test_runs (job_id BIGINT NOT NULL, attempt "
                                     "INTEGER NOT NULL, instance TEXT NOT NULL, started_ms BIGINT "
                                     "NOT NULL, finished_ms BIGINT NOT NULL)")));
    QVERIFY(make.exec(QStringLiteral("CREATE TABLE test_results (job_id BIGINT PRIMARY KEY, "
                                     "instance TEXT NOT NULL)")));

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    auto configFor = [&](const QString &name) {
        QJsonObject c = baseConfig(dir.filePath(name));
        c.insert(QStringLiteral("db"),
                 QJsonObject{{QStringLiteral("driver"), QStringLiteral("postgres")},
                             {QStringLiteral("slow_query_ms"), 60000},
                             {QStringLiteral("postgres"),
                              QJsonObject{{QStringLiteral("host"), m_postgres.host()},
                                          {QStringLiteral("port"), m_postgres.port()},
                                          {QStringLiteral("name"), QStringLiteral("jobs_two")},
                                          {QStringLiteral("user"), m_postgres.user()}}}});
        return writeConfig(dir.path(), name + QStringLiteral(".json"), c);
    };
    JobServer a;
    JobServer b;
    const quint16 portA = a.start(configFor(QStringLiteral("a")));
    QVERIFY2(portA > 0, a.log().constData());
    const quint16 portB = b.start(configFor(QStringLiteral("b")));
    QVERIFY2(portB > 0, b.log().constData());
    QString why;
    QVERIFY2(enqueue(portA, kJobs / 2, 2, &why), qPrintable(why));
    QVERIFY2(enqueue(portB, kJobs / 2, 2, &why), qPrintable(why));
    QElapsedTimer timer;
    timer.start();
    qint64 left = -1;
    while (timer.elapsed() < 120000 && (left = unfinished(portA)) != 0)
        QTest::qWait(100);
    QCOMPARE(left, qint64(0));
    a.signal(SIGTERM);
    b.signal(SIGTERM);
    QVERIFY(a.waitForExit(10000));
    QVERIFY(b.waitForExit(10000));

    QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(*) FROM jobs WHERE state = 'succeeded'")),
             qint64(kJobs));
    // Exactly once here (no instance died): one run per job, one result per job.
    QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(*) FROM test_runs")), qint64(kJobs));
    QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(DISTINCT job_id) FROM test_runs")),
             qint64(kJobs));
    QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(*) FROM test_results")), qint64(kJobs));
    // No job ran on both, and both did their share.
    QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(*) FROM (SELECT job_id FROM test_runs GROUP "
                                       "BY job_id HAVING COUNT(DISTINCT instance) > 1) AS t")),
             qint64(0));
    const qint64 instances = scalar(db, QStringLiteral("SELECT COUNT(DISTINCT instance) FROM test_runs"));
    QCOMPARE(instances, qint64(2));
    const qint64 smaller = scalar(
        db, QStringLiteral("SELECT MIN(n) FROM (SELECT COUNT(*) AS n FROM test_runs GROUP BY "
                           "instance) AS t"));
    qInfo("two instances: %d jobs, the smaller share %lld", kJobs, qlonglong(smaller));
    QVERIFY2(smaller >= kJobs / 10, qPrintable(QString::number(smaller)));
    db.close();
    db = QSqlDatabase();
    QSqlDatabase::removeDatabase(QStringLiteral("pg"));
}

QTEST_GUILESS_MAIN(TestJobsDurability)
#include "tst_jobs_durability.moc"
