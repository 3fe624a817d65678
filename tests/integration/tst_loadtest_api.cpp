// SPDX-License-Identifier: GPL-3.0-or-later
// Load tests through the admin API, run as loadtest.run jobs by a real server against
// itself (its /debug/sleep route and the demo API): start and follow the live series to
// the final report, stop a running run, the requests that are refused (with the member at
// fault), CSV tables sent inline, the built-in demo scenario passing its thresholds, and a
// loadtest.run job submitted through the generic jobs API.
#include "TestSupport.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QThread>
#include <QtTest>

using namespace bulwark;
using namespace bulwark::test;

namespace {

QJsonObject sleepScenario(const QString &duration, const QJsonArray &thresholds = {})
{
    return QJsonObject{
        {QStringLiteral("name"), QStringLiteral("sleepy")},
        {QStringLiteral("load"), QJsonObject{{QStringLiteral("model"), QStringLiteral("closed")},
                                             {QStringLiteral("shape"), QStringLiteral("constant")},
                                             {QStringLiteral("users"), 2},
                                             {QStringLiteral("duration"), duration}}},
        {QStringLiteral("thresholds"), thresholds},
        {QStringLiteral("user_classes"),
         QJsonArray{QJsonObject{
             {QStringLiteral("name"), QStringLiteral("u")},
             {QStringLiteral("tasks"),
              QJsonArray{QJsonObject{
                  {QStringLiteral("name"), QStringLiteral("sleep")},
                  {QStringLiteral("request"),
                   QJsonObject{{QStringLiteral("path"), QStringLiteral("/debug/sleep?ms=5")}}}}}}}}}};
}

QString errorMessage(const RawResponse &r)
{
    return r.json().value(QStringLiteral("error")).toObject().value(QStringLiteral("message")).toString();
}

} // namespace

class TstLoadTestApi : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup() { m_server.reset(); }
    void startFollowAndReport();
    void stopRunningRun();
    void queuedRunsStopAndCancel();
    void refusedRequests_data();
    void refusedRequests();
    void csvTablesInline();
    void demoScenarioPasses();
    void jobSubmittedDirectly();

private:
    RawResponse admin(const QByteArray &method, const QString &target, const QJsonObject &body = {})
    {
        return apiRequest(m_server->port(), method, target, m_server->app()->adminToken(), body);
    }
    QString self() const { return QStringLiteral("http://127.0.0.1:%1").arg(m_server->port()); }
    // Polls the run until its status is one of `statuses`; returns the last answer.
    QJsonObject waitFor(const QString &id, const QStringList &statuses, int timeoutMs = 30'000)
    {
        QElapsedTimer timer;
        timer.start();
        QJsonObject last;
        while (timer.elapsed() < timeoutMs) {
            last = admin("GET", QStringLiteral("/admin/api/loadtests/%1").arg(id)).json();
            if (statuses.contains(last.value(QStringLiteral("status")).toString()))
                return last;
            QThread::msleep(100);
        }
        return last;
    }
    std::unique_ptr<TestServer> m_server;
};

void TstLoadTestApi::init()
{
    m_server = std::make_unique<TestServer>();
    m_server->config.server.threads = 4;
    m_server->config.jobs.enabled = true;
    m_server->config.jobs.pollInterval = Milliseconds(20);
    m_server->config.jobs.cron.clear();
    m_server->config.ratelimit.enabled = false;
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
}

void TstLoadTestApi::startFollowAndReport()
{
    const RawResponse started = admin("POST", QStringLiteral("/admin/api/loadtests"),
                                      QJsonObject{{QStringLiteral("scenario"),
                                                   sleepScenario(QStringLiteral("3s"),
                                                                 {QStringLiteral("p95 < 2s")})},
                                                  {QStringLiteral("target"), self()}});
    QVERIFY2(started.status == 202, started.body.constData());
    const QString id = started.json().value(QStringLiteral("id")).toString();
    QCOMPARE(id.size(), 36);
    QCOMPARE(started.header("location"), QStringLiteral("/admin/api/loadtests/%1").arg(id).toUtf8());
    QVERIFY(started.json().value(QStringLiteral("job_id")).toDouble() > 0);

    // Follow the series as the console does: each answer gives where to continue.
    qint64 next = 0;
    qint64 seen = 0;
    bool sawRunning = false;
    QElapsedTimer timer;
    timer.start();
    QString status;
    while (timer.elapsed() < 30'000) {
        const QJsonObject page =
            admin("GET", QStringLiteral("/admin/api/loadtests/%1/series?since=%2").arg(id).arg(next)).json();
        status = page.value(QStringLiteral("status")).toString();
        for (const QJsonValue &point : page.value(QStringLiteral("series")).toArray()) {
            QCOMPARE(qint64(point.toObject().value(QStringLiteral("t")).toDouble()), seen);
            ++seen;
        }
        next = qint64(page.value(QStringLiteral("next")).toDouble());
        if (status == QStringLiteral("running") && seen > 0)
            sawRunning = true;
        if (status == QStringLiteral("passed") || status == QStringLiteral("failed") ||
            status == QStringLiteral("error"))
            break;
        QThread::msleep(200);
    }
    QCOMPARE(status, QStringLiteral("passed"));
    QVERIFY2(sawRunning, "the series never showed while the run was running");
    QVERIFY(seen >= 3);

    const QJsonObject report = admin("GET", QStringLiteral("/admin/api/loadtests/%1").arg(id.left(8))).json();
    QCOMPARE(report.value(QStringLiteral("id")).toString(), id);
    QCOMPARE(report.value(QStringLiteral("status")).toString(), QStringLiteral("passed"));
    const QJsonObject overall = report.value(QStringLiteral("overall")).toObject();
    QVERIFY(overall.value(QStringLiteral("requests")).toDouble() > 100);
    QCOMPARE(overall.value(QStringLiteral("failed")).toDouble(), 0.0);
    QCOMPARE(report.value(QStringLiteral("thresholds")).toArray().size(), 1);
    QCOMPARE(report.value(QStringLiteral("endpoints")).toArray().size(), 1);

    const QJsonObject list = admin("GET", QStringLiteral("/admin/api/loadtests")).json();
    QCOMPARE(list.value(QStringLiteral("total")).toInt(), 1);
    const QJsonObject row = list.value(QStringLiteral("data")).toArray().first().toObject();
    QCOMPARE(row.value(QStringLiteral("id")).toString(), id);
    QCOMPARE(row.value(QStringLiteral("status")).toString(), QStringLiteral("passed"));
    QVERIFY(!row.contains(QStringLiteral("series")));

    // The run was a job, and the job says how it went.
    const qint64 jobId = qint64(started.json().value(QStringLiteral("job_id")).toDouble());
    const QJsonObject job = admin("GET", QStringLiteral("/admin/api/jobs/%1").arg(jobId)).json();
    QCOMPARE(job.value(QStringLiteral("state")).toString(), QStringLiteral("succeeded"));
    QCOMPARE(job.value(QStringLiteral("result")).toObject().value(QStringLiteral("run")).toString(), id);
}

void TstLoadTestApi::stopRunningRun()
{
    const RawResponse started = admin("POST", QStringLiteral("/admin/api/loadtests"),
                                      QJsonObject{{QStringLiteral("scenario"), sleepScenario(QStringLiteral("60s"))},
                                                  {QStringLiteral("target"), self()}});
    QVERIFY2(started.status == 202, started.body.constData());
    const QString id = started.json().value(QStringLiteral("id")).toString();
    // Running, with something measured.
    QElapsedTimer timer;
    timer.start();
    while (timer.elapsed() < 20'000) {
        const QJsonObject r = admin("GET", QStringLiteral("/admin/api/loadtests/%1").arg(id)).json();
        if (r.value(QStringLiteral("series")).toArray().size() >= 1)
            break;
        QThread::msleep(100);
    }
    const RawResponse stop = admin("POST", QStringLiteral("/admin/api/loadtests/%1/stop").arg(id));
    QVERIFY2(stop.status == 202, stop.body.constData());
    timer.restart();
    const QJsonObject done = waitFor(id, {QStringLiteral("stopped")}, 10'000);
    QCOMPARE(done.value(QStringLiteral("status")).toString(), QStringLiteral("stopped"));
    QVERIFY2(timer.elapsed() < 5'000, "the stop took longer than 5 s");
    QVERIFY(done.value(QStringLiteral("overall")).toObject().value(QStringLiteral("requests")).toDouble() > 0);
    QVERIFY(done.value(QStringLiteral("duration_seconds")).toDouble() < 30);

    const RawResponse again = admin("POST", QStringLiteral("/admin/api/loadtests/%1/stop").arg(id));
    QCOMPARE(again.status, 409);
    QVERIFY(errorMessage(again).contains(QStringLiteral("already ended (stopped)")));
    QCOMPARE(admin("DELETE", QStringLiteral("/admin/api/loadtests/%1").arg(id)).status, 204);
    QCOMPARE(admin("GET", QStringLiteral("/admin/api/loadtests/%1").arg(id)).status, 404);
}

void TstLoadTestApi::queuedRunsStopAndCancel()
{
    // One load test at a time per instance (the "loadtest" queue): B and C wait behind A.
    auto start = [&] {
        const RawResponse r = admin("POST", QStringLiteral("/admin/api/loadtests"),
                                    QJsonObject{{QStringLiteral("scenario"), sleepScenario(QStringLiteral("60s"))},
                                                {QStringLiteral("target"), self()}});
        return r.json();
    };
    const QJsonObject a = start();
    const QString idA = a.value(QStringLiteral("id")).toString();
    QCOMPARE(waitFor(idA, {QStringLiteral("running")}).value(QStringLiteral("status")).toString(),
             QStringLiteral("running"));
    const QJsonObject b = start();
    const QJsonObject c = start();
    const QString idB = b.value(QStringLiteral("id")).toString();
    const QString idC = c.value(QStringLiteral("id")).toString();
    QCOMPARE(admin("GET", QStringLiteral("/admin/api/loadtests/%1").arg(idB)).json().value(QStringLiteral("status")).toString(),
             QStringLiteral("queued"));

    // Stopping a queued run cancels its job: it never runs, and says "stopped".
    QCOMPARE(admin("POST", QStringLiteral("/admin/api/loadtests/%1/stop").arg(idB)).status, 202);
    QCOMPARE(waitFor(idB, {QStringLiteral("stopped")}, 5'000).value(QStringLiteral("status")).toString(),
             QStringLiteral("stopped"));
    // Cancelling a queued run's job through the jobs API does the same.
    const qint64 jobC = qint64(c.value(QStringLiteral("job_id")).toDouble());
    QCOMPARE(admin("POST", QStringLiteral("/admin/api/jobs/%1/cancel").arg(jobC)).status, 200);
    QCOMPARE(waitFor(idC, {QStringLiteral("stopped")}, 5'000).value(QStringLiteral("status")).toString(),
             QStringLiteral("stopped"));
    // The list agrees, and A still runs until it is stopped.
    for (const QJsonValue &v : admin("GET", QStringLiteral("/admin/api/loadtests")).json().value(QStringLiteral("data")).toArray()) {
        const QJsonObject row = v.toObject();
        const QString expected = row.value(QStringLiteral("id")).toString() == idA ? QStringLiteral("running")
                                                                                  : QStringLiteral("stopped");
        QCOMPARE(row.value(QStringLiteral("status")).toString(), expected);
    }
    QCOMPARE(admin("POST", QStringLiteral("/admin/api/loadtests/%1/stop").arg(idA)).status, 202);
    QCOMPARE(waitFor(idA, {QStringLiteral("stopped")}, 10'000).value(QStringLiteral("status")).toString(),
             QStringLiteral("stopped"));
}

void TstLoadTestApi::refusedRequests_data()
{
    QTest::addColumn<QJsonObject>("body");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("message");
    const QJsonObject ok = sleepScenario(QStringLiteral("1s"));
    QJsonObject badModel = ok;
    QJsonObject load = ok.value(QStringLiteral("load")).toObject();
    load.insert(QStringLiteral("model"), QStringLiteral("sideways"));
    badModel.insert(QStringLiteral("load"), load);
    const QString target = QStringLiteral("http://127.0.0.1:1");
    QTest::newRow("no scenario") << QJsonObject{{QStringLiteral("target"), target}} << 400
                                 << QStringLiteral("scenario: expected a scenario object");
    QTest::newRow("bad model") << QJsonObject{{QStringLiteral("scenario"), badModel},
                                              {QStringLiteral("target"), target}}
                               << 422 << QStringLiteral("scenario.load.model: must be \"closed\" or \"open\"");
    QTest::newRow("no target") << QJsonObject{{QStringLiteral("scenario"), ok}} << 422
                               << QStringLiteral("target: required");
    QTest::newRow("ftp target") << QJsonObject{{QStringLiteral("scenario"), ok},
                                               {QStringLiteral("target"), QStringLiteral("ftp://x")}}
                                << 422 << QStringLiteral("target: expected an http:// or https:// URL");
    QTest::newRow("unknown member") << QJsonObject{{QStringLiteral("scenario"), ok},
                                                   {QStringLiteral("target"), target},
                                                   {QStringLiteral("speed"), 3}}
                                    << 400 << QStringLiteral("speed: unknown member");
    QTest::newRow("run chosen") << QJsonObject{{QStringLiteral("scenario"), ok},
                                               {QStringLiteral("target"), target},
                                               {QStringLiteral("run"), QStringLiteral("x")}}
                                << 400 << QStringLiteral("run: chosen by the server");
    QTest::newRow("rate on closed") << QJsonObject{{QStringLiteral("scenario"), ok},
                                                   {QStringLiteral("target"), target},
                                                   {QStringLiteral("rate"), 10}}
                                    << 422 << QStringLiteral("rate: the scenario uses the closed model");
    QTest::newRow("threads") << QJsonObject{{QStringLiteral("scenario"), ok},
                                            {QStringLiteral("target"), target},
                                            {QStringLiteral("threads"), 0}}
                             << 422 << QStringLiteral("threads: must be from 1 to 256");
}

void TstLoadTestApi::refusedRequests()
{
    QFETCH(QJsonObject, body);
    QFETCH(int, status);
    QFETCH(QString, message);
    const RawResponse r = admin("POST", QStringLiteral("/admin/api/loadtests"), body);
    QVERIFY2(r.status == status, r.body.constData());
    QVERIFY2(errorMessage(r).contains(message), qPrintable(errorMessage(r)));
    // Nothing was queued or stored.
    QCOMPARE(admin("GET", QStringLiteral("/admin/api/loadtests")).json().value(QStringLiteral("total")).toInt(), 0);
}

void TstLoadTestApi::csvTablesInline()
{
    QJsonObject scenario = sleepScenario(QStringLiteral("1s"));
    QJsonArray classes = scenario.value(QStringLiteral("user_classes")).toArray();
    QJsonObject cls = classes.first().toObject();
    cls.insert(QStringLiteral("tasks"),
               QJsonArray{QJsonObject{{QStringLiteral("name"), QStringLiteral("t")},
                                      {QStringLiteral("request"),
                                       QJsonObject{{QStringLiteral("path"),
                                                    QStringLiteral("/debug/sleep?ms={{csv waits.ms}}")},
                                                   {QStringLiteral("checks"),
                                                    QJsonArray{QJsonObject{{QStringLiteral("json"), QStringLiteral("slept_ms")},
                                                                           {QStringLiteral("equals"), 3}}}}}}}});
    classes.replace(0, cls);
    scenario.insert(QStringLiteral("user_classes"), classes);
    const QJsonObject csv{{QStringLiteral("waits"),
                           QJsonObject{{QStringLiteral("columns"), QJsonArray{QStringLiteral("ms")}},
                                       {QStringLiteral("rows"), QJsonArray{QJsonArray{QStringLiteral("3")}}}}}};
    const RawResponse started = admin("POST", QStringLiteral("/admin/api/loadtests"),
                                      QJsonObject{{QStringLiteral("scenario"), scenario},
                                                  {QStringLiteral("csv"), csv},
                                                  {QStringLiteral("target"), self()}});
    QVERIFY2(started.status == 202, started.body.constData());
    const QJsonObject done = waitFor(started.json().value(QStringLiteral("id")).toString(),
                                     {QStringLiteral("passed"), QStringLiteral("failed"), QStringLiteral("error")});
    QCOMPARE(done.value(QStringLiteral("status")).toString(), QStringLiteral("passed"));
    const QJsonObject overall = done.value(QStringLiteral("overall")).toObject();
    QVERIFY(overall.value(QStringLiteral("requests")).toDouble() > 10);
    QCOMPARE(overall.value(QStringLiteral("failed")).toDouble(), 0.0);

    // A scenario that names CSV files is refused: the server reads no files on request.
    scenario.insert(QStringLiteral("csv"), QJsonObject{{QStringLiteral("waits"), QStringLiteral("waits.csv")}});
    const RawResponse named = admin("POST", QStringLiteral("/admin/api/loadtests"),
                                    QJsonObject{{QStringLiteral("scenario"), scenario},
                                                {QStringLiteral("target"), self()}});
    QCOMPARE(named.status, 422);
    QVERIFY2(errorMessage(named).contains(QStringLiteral("scenario.csv: files are not read on request")),
             qPrintable(errorMessage(named)));
}

void TstLoadTestApi::demoScenarioPasses()
{
    // The built-in scenario against the demo API, shortened to 4 s and 6 users: a signed-in
    // user with a few activities of their own (browsers open the latest one).
    const TestAccount user = addTestAccount(*m_server->app(), QStringLiteral("load@example.com"));
    QVERIFY(!user.token.isEmpty());
    for (int i = 0; i < 3; ++i) {
        const RawResponse created = apiRequest(
            m_server->port(), "POST", QStringLiteral("/api/v1/activities"), user.token,
            QJsonObject{{QStringLiteral("sport"), QStringLiteral("run")},
                        {QStringLiteral("started_at"), QStringLiteral("2026-03-02T07:30:00Z")},
                        {QStringLiteral("duration_s"), 1800},
                        {QStringLiteral("distance_m"), 5000.0}});
        QCOMPARE(created.status, 201);
    }
    const RawResponse started = admin("POST", QStringLiteral("/admin/api/loadtests"),
                                      QJsonObject{{QStringLiteral("scenario"), QStringLiteral("demo")},
                                                  {QStringLiteral("target"), self()},
                                                  {QStringLiteral("token"), QString::fromLatin1(user.token)},
                                                  {QStringLiteral("duration"), QStringLiteral("4s")},
                                                  {QStringLiteral("users"), 6}});
    QVERIFY2(started.status == 202, started.body.constData());
    const QJsonObject done = waitFor(started.json().value(QStringLiteral("id")).toString(),
                                     {QStringLiteral("passed"), QStringLiteral("failed"), QStringLiteral("error")});
    QVERIFY2(done.value(QStringLiteral("status")).toString() == QStringLiteral("passed"),
             qPrintable(QString::fromUtf8(QJsonDocument(done.value(QStringLiteral("endpoints")).toArray()).toJson())));
    QCOMPARE(done.value(QStringLiteral("scenario_name")).toString(), QStringLiteral("demo"));
    // Every user class took part: its endpoints have requests.
    QStringList names;
    for (const QJsonValue &e : done.value(QStringLiteral("endpoints")).toArray())
        if (e.toObject().value(QStringLiteral("requests")).toDouble() > 0)
            names.append(e.toObject().value(QStringLiteral("name")).toString());
    QVERIFY2(names.contains(QStringLiteral("list activities")), qPrintable(names.join(", ")));
    QVERIFY2(names.contains(QStringLiteral("create activity")), qPrintable(names.join(", ")));
    QVERIFY2(names.contains(QStringLiteral("report weekly_distance")) ||
                 names.contains(QStringLiteral("report pace_trend")),
             qPrintable(names.join(", ")));
}

void TstLoadTestApi::jobSubmittedDirectly()
{
    const RawResponse submitted = admin(
        "POST", QStringLiteral("/admin/api/jobs"),
        QJsonObject{{QStringLiteral("type"), QStringLiteral("loadtest.run")},
                    {QStringLiteral("payload"), QJsonObject{{QStringLiteral("scenario"), sleepScenario(QStringLiteral("1s"))},
                                                            {QStringLiteral("target"), self()}}}});
    QVERIFY2(submitted.status == 202, submitted.body.constData());
    const qint64 jobId = qint64(submitted.json().value(QStringLiteral("id")).toDouble());
    QElapsedTimer timer;
    timer.start();
    QJsonObject job;
    while (timer.elapsed() < 20'000) {
        job = admin("GET", QStringLiteral("/admin/api/jobs/%1").arg(jobId)).json();
        if (job.value(QStringLiteral("state")).toString() == QStringLiteral("succeeded"))
            break;
        QThread::msleep(100);
    }
    QCOMPARE(job.value(QStringLiteral("state")).toString(), QStringLiteral("succeeded"));
    const QString run = job.value(QStringLiteral("result")).toObject().value(QStringLiteral("run")).toString();
    QCOMPARE(admin("GET", QStringLiteral("/admin/api/loadtests/%1").arg(run)).json().value(QStringLiteral("status")).toString(),
             QStringLiteral("passed"));
    // A bad payload is refused when it is submitted, not when it runs.
    const RawResponse bad = admin("POST", QStringLiteral("/admin/api/jobs"),
                                  QJsonObject{{QStringLiteral("type"), QStringLiteral("loadtest.run")},
                                              {QStringLiteral("payload"), QJsonObject{{QStringLiteral("target"), self()}}}});
    QVERIFY2(bad.status == 422 || bad.status == 400, bad.body.constData());
    QVERIFY(errorMessage(bad).contains(QStringLiteral("scenario")));
}

QTEST_GUILESS_MAIN(TstLoadTestApi)
#include "tst_loadtest_api.moc"
