// SPDX-License-Identifier: GPL-3.0-or-later
// The job queue over HTTP, end to end: the real server in-process (TestServer, SQLite, the
// job workers polling every 20 ms, no cron entries), spoken to with raw HTTP over loopback.
// Every test function gets a fresh server and database.
//
// Admin API: submit (202 + Location) and run to success; retries with the configured
// backoff (noop's backoff is 100 ms then 200 ms, no jitter, so the third attempt cannot
// start before 300 ms); fatal failures and exhausted attempts go dead; retry of a dead job
// (attempts start again) and of a cancelled one; cancelling a scheduled job (200), a
// running one (202, then cancelled) and a finished one (409); DELETE (204, then 404; 409
// while running); lists with every filter and keyset paging; bulk cancel / retry / delete
// (an empty or unknown filter is refused), dead/requeue and dead/purge; pausing a queue
// holds its jobs and resuming runs them; stats, types and queues; unique keys; bad bodies.
// User API: admin-only types and priorities are refused, the GDPR export runs as a job and
// downloads once (then 410), other users' jobs are 404 and lists show only one's own; HEAD
// on the download tells its size without taking it; erasing an account deletes its jobs
// and the export files they wrote; POST /api/v1/me/export is under the "export" rate
// limit. Times without an offset (run_at, from, to) are UTC whatever the server's zone; a
// numeric unique_window is seconds.
// Webhooks: a record created through the data API is POSTed to a loopback receiver that
// answers 500 and then 200; both attempts carry the same delivery id and a valid signature,
// and the delivery log shows both; the webhook list leaves credentials out of URLs.
// Metrics: the job families and the event-bus counters on /metrics.
#include "LoopbackReceiver.h"
#include "TestSupport.h"
#include "WebhookDelivery.h"

#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QJsonArray>
#include <QFileInfo>
#include <QJsonDocument>
#include <QScopeGuard>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>
#include <QTimer>
#include <QUrl>
#include <QtTest>
#include <atomic>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <mutex>

using namespace bulwark;
using namespace bulwark::test;

namespace {

const QString kWebhookSecret = QStringLiteral("whsec_integration_secret_0123");

QString describe(const RawResponse &r)
{
    return QStringLiteral("%1: %2").arg(r.status).arg(QString::fromUtf8(r.body));
}

qint64 idOf(const QJsonObject &job)
{
    return qint64(job.value(QStringLiteral("id")).toDouble());
}

QList<qint64> idsOf(const RawResponse &r)
{
    QList<qint64> ids;
    for (const QJsonValue &v : r.json().value(QStringLiteral("jobs")).toArray())
        ids.append(idOf(v.toObject()));
    return ids;
}

QString jobPath(qint64 id, bool admin = true)
{
    return QStringLiteral("%1/jobs/%2")
        .arg(admin ? QStringLiteral("/admin/api") : QStringLiteral("/api/v1"))
        .arg(id);
}

qint64 isoToMs(const QJsonValue &v)
{
    return QDateTime::fromString(v.toString(), Qt::ISODateWithMs).toMSecsSinceEpoch();
}

QString isoIn(qint64 msFromNow)
{
    return QDateTime::currentDateTimeUtc().addMSecs(msFromNow).toString(Qt::ISODateWithMs);
}

QJsonObject activity()
{
    return QJsonObject{{QStringLiteral("sport"), QStringLiteral("run")},
                       {QStringLiteral("started_at"), QStringLiteral("2026-03-02T07:30:00Z")},
                       {QStringLiteral("duration_s"), 1800},
                       {QStringLiteral("distance_m"), 5000.0}};
}

// Asserts an error response: status, the JSON error shape and code, and (when given) text
// the message contains.
void verifyError(const RawResponse &r, int status, const QString &code,
                 const QString &messagePart = {})
{
    QVERIFY2(r.status == status,
             qPrintable(QStringLiteral("expected %1, got %2").arg(status).arg(describe(r))));
    BULWARK_CHECK(verifyJsonError(r, status, code));
    const QString message = r.json()
                                .value(QStringLiteral("error"))
                                .toObject()
                                .value(QStringLiteral("message"))
                                .toString();
    QVERIFY2(
        messagePart.isEmpty() || message.contains(messagePart),
        qPrintable(
            QStringLiteral("message \"%1\" does not contain \"%2\"").arg(message, messagePart)));
}

// The shared loopback receiver (tests/support), answering the n-th request with
// statuses[n] (200 past the end of the script), one request per connection.
class Receiver final : public LoopbackReceiver
{
public:
    explicit Receiver(const QList<int> &statuses)
        : LoopbackReceiver([statuses](QTcpSocket *socket, int index, const RecordedRequest &) {
              const int status = statuses.value(index, 200);
              const QByteArray body = status == 200 ? QByteArray("ok") : QByteArray("boom");
              socket->write("HTTP/1.1 " + QByteArray::number(status) +
                            (status == 200 ? " OK" : " Internal Server Error") +
                            "\r\nContent-Type: text/plain\r\nContent-Length: " +
                            QByteArray::number(body.size()) + "\r\nConnection: close\r\n\r\n" +
                            body);
              socket->disconnectFromHost();
          })
    {
    }
};

} // namespace

class TestJobsApi : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { m_server.reset(); }

    void submitAndRunToSuccess();
    void retriesWithBackoffThenSucceeds();
    void failuresGoDeadAndRetryStartsAgain();
    void cancelScheduledRunningAndFinished();
    void deleteJobs();
    void listFiltersAndPaging();
    void bulkActionsAndDeadLetterQueue();
    void pauseHoldsJobsAndResumeRunsThem();
    void statsTypesAndQueues();
    void uniqueKeyReturnsTheExistingJob();
    void badSubmissionsAreRefused();
    void timesWithoutOffsetAreUtc();
    void numericUniqueWindowIsSeconds();
    void userJobsAndExportDownload();
    void headOnDownloadDoesNotConsumeIt();
    void erasingAnAccountDeletesItsJobsAndExports();
    void exportSubmissionsAreRateLimited();
    void webhookDeliveredAfterARetry();
    void webhookListHidesUrlCredentials();
    void metricsExposeJobFamilies();
    void metricsExposeEventCounters();
    void eventsOfWritesAndAdminActions();
    void filterValuesThatSayNothingAreRefused();

private:
    void startServer(const std::function<void(Config &)> &configure = {});
    RawResponse admin(const QByteArray &method, const QString &target,
                      const QJsonObject &body = {});
    // Submits through the admin API and asserts 202; returns the job (id 0 on failure).
    QJsonObject submit(const QJsonObject &body);
    // Polls the job at `path` until its state is one of `states` (at most timeoutMs); asserts
    // it got there and returns its last representation.
    QJsonObject waitForState(const QString &path, const QStringList &states,
                             const QByteArray &token = {}, int timeoutMs = 10000);
    // Pauses the default queue and waits out a claim round that may have begun before.
    void pauseDefaultQueue();
    // A POST with raw body bytes (not necessarily JSON).
    RawResponse rawPost(const QString &target, const QByteArray &token, const QByteArray &body);
    // POST /api/v1/me/export as `token`'s user, waits for the job to succeed and returns it
    // (asserts all of it).
    QJsonObject finishedExport(const QByteArray &token);
    // Where the finished export `job` wrote its file: <data dir>/exports/<result.file>.
    QString exportFilePath(const QJsonObject &job) const;

    std::unique_ptr<TestServer> m_server;
};

void TestJobsApi::startServer(const std::function<void(Config &)> &configure)
{
    m_server = std::make_unique<TestServer>();
    Config &c = m_server->config;
    c.jobs.enabled = true;
    c.jobs.pollInterval = Milliseconds(20);
    c.jobs.cron.clear();
    JobTypeConfig noop;
    noop.type = QStringLiteral("noop");
    noop.backoffBase = Milliseconds(100);
    noop.backoffMax = Milliseconds(200);
    noop.backoffJitter = 0;
    JobTypeConfig hook;
    hook.type = QStringLiteral("webhook.deliver");
    hook.backoffBase = Milliseconds(100);
    hook.backoffMax = Milliseconds(200);
    hook.backoffJitter = 0;
    c.jobs.types = {noop, hook};
    if (configure)
        configure(c);
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
}

RawResponse TestJobsApi::admin(const QByteArray &method, const QString &target,
                               const QJsonObject &body)
{
    return apiRequest(m_server->port(), method, target, m_server->app()->adminToken(), body);
}

QJsonObject TestJobsApi::submit(const QJsonObject &body)
{
    const RawResponse r = admin("POST", "/admin/api/jobs", body);
    if (r.status != 202) {
        QTest::qFail(qPrintable(QStringLiteral("submit %1: %2").arg(compact(body), describe(r))),
                     __FILE__, __LINE__);
        return {};
    }
    return r.json();
}

QJsonObject TestJobsApi::waitForState(const QString &path, const QStringList &states,
                                      const QByteArray &token, int timeoutMs)
{
    const QByteArray key = token.isEmpty() ? m_server->app()->adminToken() : token;
    QElapsedTimer timer;
    timer.start();
    QJsonObject last;
    for (int i = 0; i < 5000; ++i) {
        const RawResponse r = apiRequest(m_server->port(), "GET", path, key);
        if (r.status != 200) {
            QTest::qFail(qPrintable(QStringLiteral("GET %1: %2").arg(path, describe(r))), __FILE__,
                         __LINE__);
            return r.json();
        }
        last = r.json();
        if (states.contains(last.value(QStringLiteral("state")).toString()))
            return last;
        if (timer.elapsed() > timeoutMs)
            break;
        QTest::qWait(20);
    }
    QTest::qFail(qPrintable(QStringLiteral("%1 never reached %2 within %3 ms; last: %4")
                                .arg(path, states.join(u'|'))
                                .arg(timeoutMs)
                                .arg(compact(last))),
                 __FILE__, __LINE__);
    return last;
}

void TestJobsApi::pauseDefaultQueue()
{
    const RawResponse r = admin("POST", "/admin/api/jobs/queues/default/pause");
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    // The coordinator reads the paused set when a claim round begins: one that began just
    // before the pause could still claim a job submitted right after it.
    QTest::qWait(100);
}

RawResponse TestJobsApi::rawPost(const QString &target, const QByteArray &token,
                                 const QByteArray &body)
{
    RawHttpClient client;
    RawResponse r;
    const QByteArray headers = "Connection: close\r\nContent-Type: application/json\r\n"
                               "Authorization: Bearer " +
                               token + "\r\n";
    if (!client.connectTo(m_server->port()) ||
        !client.send(request("POST", target.toUtf8(), headers, body)) ||
        !client.readResponse(&r, 10000))
        r.body = client.errorString().toUtf8();
    return r;
}

QJsonObject TestJobsApi::finishedExport(const QByteArray &token)
{
    const RawResponse r = apiRequest(m_server->port(), "POST", "/api/v1/me/export", token);
    if (r.status != 202) {
        QTest::qFail(qPrintable(QStringLiteral("POST /api/v1/me/export: %1").arg(describe(r))),
                     __FILE__, __LINE__);
        return {};
    }
    const QJsonObject done =
        waitForState(jobPath(idOf(r.json()), false), {"succeeded", "dead"}, token);
    if (done.value(QStringLiteral("state")).toString() != QLatin1String("succeeded"))
        QTest::qFail(
            qPrintable(QStringLiteral("the export did not succeed: %1").arg(compact(done))),
            __FILE__, __LINE__);
    return done;
}

QString TestJobsApi::exportFilePath(const QJsonObject &job) const
{
    const QString file =
        job.value(QStringLiteral("result")).toObject().value(QStringLiteral("file")).toString();
    return file.isEmpty() ? QString()
                          : QDir(m_server->dataDir()).filePath(QStringLiteral("exports/") + file);
}

// POST -> 202 + Location and the queued job; it runs and succeeds on its first attempt.
void TestJobsApi::submitAndRunToSuccess()
{
    BULWARK_CHECK(startServer());
    // Paused, so that the 202 shows the job as stored, before a worker can claim it.
    BULWARK_CHECK(pauseDefaultQueue());
    const RawResponse r =
        admin("POST", "/admin/api/jobs",
              QJsonObject{{"type", "noop"}, {"payload", QJsonObject{{"tag", "one"}}}});
    QVERIFY2(r.status == 202, qPrintable(describe(r)));
    QCOMPARE(r.header("Content-Type"), QByteArray("application/json"));
    QVERIFY2(r.header("Cache-Control").contains("no-store"), r.header("Cache-Control").constData());
    const QJsonObject queued = r.json();
    const qint64 id = idOf(queued);
    QVERIFY(id > 0);
    QCOMPARE(r.header("Location"), jobPath(id).toUtf8());
    QCOMPARE(queued.value("type").toString(), QStringLiteral("noop"));
    QCOMPARE(queued.value("queue").toString(), QStringLiteral("default"));
    QCOMPARE(queued.value("priority").toString(), QStringLiteral("normal"));
    QCOMPARE(queued.value("state").toString(), QStringLiteral("queued"));
    QCOMPARE(queued.value("attempts").toInt(), 0);
    QCOMPARE(queued.value("max_attempts").toInt(), 5); // jobs.default_max_attempts
    QCOMPARE(compact(queued.value("payload")), QStringLiteral(R"({"tag":"one"})"));
    QVERIFY(queued.value("result").isNull());
    QVERIFY(queued.value("error").isNull());
    QVERIFY(queued.value("finished_at").isNull());
    QVERIFY(!queued.contains("owner_id")); // the admin token is nobody
    QVERIFY(!queued.contains("scheduled"));
    QCOMPARE(admin("POST", "/admin/api/jobs/queues/default/resume").status, 200);

    const QJsonObject done = waitForState(jobPath(id), {"succeeded", "dead"});
    QCOMPARE(done.value("state").toString(), QStringLiteral("succeeded"));
    QCOMPARE(compact(done.value("result")), QStringLiteral(R"({"attempt":1})"));
    QCOMPARE(done.value("attempts").toInt(), 1);
    QCOMPARE(done.value("progress").toDouble(), 1.0);
    QVERIFY(done.value("error").isNull());
    QVERIFY(done.value("started_at").isString());
    QVERIFY(done.value("finished_at").isString());
    QVERIFY(isoToMs(done.value("finished_at")) >= isoToMs(done.value("started_at")));
    QVERIFY(isoToMs(done.value("started_at")) >= isoToMs(done.value("created_at")));
    QVERIFY(!done.contains("lease_owner"));
}

// fail_attempts 2: attempts 1 and 2 fail (retrying, with the backoff of jobs.types: 100 ms,
// then 200 ms), the third succeeds.
void TestJobsApi::retriesWithBackoffThenSucceeds()
{
    BULWARK_CHECK(startServer());
    const QJsonObject job =
        submit(QJsonObject{{"type", "noop"}, {"payload", QJsonObject{{"fail_attempts", 2}}}});
    const qint64 id = idOf(job);
    QVERIFY(id > 0);
    QElapsedTimer timer;
    timer.start();
    QJsonObject last;
    bool sawRetrying = false;
    for (int i = 0; i < 2000 && timer.elapsed() < 10000; ++i) {
        const RawResponse r = admin("GET", jobPath(id));
        QVERIFY2(r.status == 200, qPrintable(describe(r)));
        last = r.json();
        const QString state = last.value("state").toString();
        if (state == QLatin1String("retrying")) {
            sawRetrying = true;
            const int attempts = last.value("attempts").toInt();
            QVERIFY2(attempts == 1 || attempts == 2, qPrintable(compact(last)));
            QCOMPARE(last.value("error").toString(),
                     QStringLiteral("failing attempt %1 as asked").arg(attempts));
            QVERIFY(isoToMs(last.value("run_at")) > isoToMs(last.value("created_at")));
        }
        if (state == QLatin1String("succeeded") || state == QLatin1String("dead"))
            break;
        QTest::qWait(10);
    }
    QCOMPARE(last.value("state").toString(), QStringLiteral("succeeded"));
    QCOMPARE(last.value("attempts").toInt(), 3);
    QCOMPARE(compact(last.value("result")), QStringLiteral(R"({"attempt":3})"));
    QVERIFY(last.value("error").isNull()); // a success clears the last failure
    // The third attempt could start no earlier than 100 + 200 ms after the first.
    const qint64 took = isoToMs(last.value("finished_at")) - isoToMs(last.value("created_at"));
    QVERIFY2(took >= 300, qPrintable(QStringLiteral("took %1 ms").arg(took)));
    if (!sawRetrying)
        qWarning("the job was never seen retrying (polling too slow); the backoff still held");
}

// A fatal failure is dead at once; running out of attempts is dead too. Both are in the
// dead-letter list. Retrying a dead job queues it with a fresh attempt budget (and the same
// payload: dead again, on attempt 1); a succeeded one cannot be retried.
void TestJobsApi::failuresGoDeadAndRetryStartsAgain()
{
    BULWARK_CHECK(startServer());
    const qint64 fatal = idOf(submit(QJsonObject{
        {"type", "noop"}, {"payload", QJsonObject{{"fail_attempts", 1}, {"fatal", true}}}}));
    const qint64 exhausted = idOf(submit(QJsonObject{
        {"type", "noop"}, {"payload", QJsonObject{{"fail_attempts", 5}}}, {"max_attempts", 2}}));
    const qint64 fine = idOf(submit(QJsonObject{{"type", "noop"}}));
    QVERIFY(fatal > 0 && exhausted > 0 && fine > 0);

    QJsonObject dead = waitForState(jobPath(fatal), {"succeeded", "dead"});
    QCOMPARE(dead.value("state").toString(), QStringLiteral("dead"));
    QCOMPARE(dead.value("attempts").toInt(), 1); // fatal: no retry although 5 were allowed
    QCOMPARE(dead.value("max_attempts").toInt(), 5);
    QCOMPARE(dead.value("error").toString(), QStringLiteral("failing attempt 1 as asked"));
    QCOMPARE(compact(dead.value("result")), QStringLiteral("{}"));
    QVERIFY(dead.value("finished_at").isString());
    const qint64 firstFinish = isoToMs(dead.value("finished_at"));

    const QJsonObject outOfAttempts = waitForState(jobPath(exhausted), {"succeeded", "dead"});
    QCOMPARE(outOfAttempts.value("state").toString(), QStringLiteral("dead"));
    QCOMPARE(outOfAttempts.value("attempts").toInt(), 2);
    QCOMPARE(outOfAttempts.value("max_attempts").toInt(), 2);
    QCOMPARE(outOfAttempts.value("error").toString(), QStringLiteral("failing attempt 2 as asked"));
    QCOMPARE(waitForState(jobPath(fine), {"succeeded", "dead"}).value("state").toString(),
             QStringLiteral("succeeded"));

    const RawResponse list = admin("GET", "/admin/api/jobs/dead");
    QVERIFY2(list.status == 200, qPrintable(describe(list)));
    QCOMPARE(idsOf(list), (QList<qint64>{exhausted, fatal}));
    for (const QJsonValue &v : list.json().value("jobs").toArray()) {
        QCOMPARE(v.toObject().value("state").toString(), QStringLiteral("dead"));
        QVERIFY(!v.toObject().contains("payload")); // lists leave payloads out
    }
    // The dead list ignores a state parameter: it is the dead-letter queue.
    QCOMPARE(idsOf(admin("GET", "/admin/api/jobs/dead?state=succeeded")),
             (QList<qint64>{exhausted, fatal}));
    QCOMPARE(idsOf(admin("GET", "/admin/api/jobs/dead?limit=1")), (QList<qint64>{exhausted}));

    QTest::qWait(5); // the retried run finishes at a later millisecond
    const RawResponse retried = admin("POST", jobPath(fatal) + "/retry");
    QVERIFY2(retried.status == 200, qPrintable(describe(retried)));
    QCOMPARE(idOf(retried.json()), fatal);
    const QString stateAfter = retried.json().value("state").toString();
    // Queued by the retry; the worker may already have claimed it.
    QVERIFY2(stateAfter == QLatin1String("queued") || stateAfter == QLatin1String("running") ||
                 stateAfter == QLatin1String("dead"),
             qPrintable(compact(retried.json())));
    if (stateAfter == QLatin1String("queued")) {
        QCOMPARE(retried.json().value("attempts").toInt(), 0);
        QVERIFY(retried.json().value("finished_at").isNull());
    }
    // attempts start again at 0, so fail_attempts 1 fails attempt 1 again: dead again.
    QJsonObject deadAgain;
    for (int i = 0; i < 500; ++i) {
        deadAgain = waitForState(jobPath(fatal), {"dead"});
        if (QTest::currentTestFailed())
            return;
        if (isoToMs(deadAgain.value("finished_at")) > firstFinish)
            break;
        QTest::qWait(20);
    }
    QCOMPARE(deadAgain.value("attempts").toInt(), 1);
    QVERIFY2(isoToMs(deadAgain.value("finished_at")) > firstFinish, qPrintable(compact(deadAgain)));
    QCOMPARE(deadAgain.value("error").toString(), QStringLiteral("failing attempt 1 as asked"));

    verifyError(admin("POST", jobPath(fine) + "/retry"), 409, "conflict", "succeeded");
    verifyError(admin("POST", jobPath(999999) + "/retry"), 404, "not_found");
}

// A scheduled job is cancelled at once (200); a running one is asked to stop (202) and is
// cancelled when its handler returns; a finished one cannot be cancelled (409). A cancelled
// job can be retried and then runs.
void TestJobsApi::cancelScheduledRunningAndFinished()
{
    BULWARK_CHECK(startServer());
    const QString runAt = isoIn(3'600'000);
    const QJsonObject scheduled = submit(QJsonObject{{"type", "noop"}, {"run_at", runAt}});
    const qint64 scheduledId = idOf(scheduled);
    QVERIFY(scheduledId > 0);
    QCOMPARE(scheduled.value("state").toString(), QStringLiteral("queued"));
    QCOMPARE(scheduled.value("scheduled").toBool(), true);
    QCOMPARE(isoToMs(scheduled.value("run_at")), isoToMs(runAt));

    RawResponse r = admin("POST", jobPath(scheduledId) + "/cancel");
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QCOMPARE(compact(r.json()),
             QStringLiteral(R"({"cancel_requested":false,"id":%1,"state":"cancelled"})")
                 .arg(scheduledId));
    QJsonObject cancelled = admin("GET", jobPath(scheduledId)).json();
    QCOMPARE(cancelled.value("state").toString(), QStringLiteral("cancelled"));
    QCOMPARE(cancelled.value("error").toString(), QStringLiteral("cancelled before it ran"));
    QCOMPARE(cancelled.value("attempts").toInt(), 0);
    QVERIFY(cancelled.value("finished_at").isString());
    verifyError(admin("POST", jobPath(scheduledId) + "/cancel"), 409, "conflict", "cancelled");

    // A cancelled job can be retried: it runs now and succeeds.
    r = admin("POST", jobPath(scheduledId) + "/retry");
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QJsonObject rerun = waitForState(jobPath(scheduledId), {"succeeded", "dead", "cancelled"});
    QCOMPARE(rerun.value("state").toString(), QStringLiteral("succeeded"));
    QCOMPARE(rerun.value("attempts").toInt(), 1);
    QVERIFY(rerun.value("error").isNull());

    // Running: the handler sleeps 10 s unless cancelled.
    const qint64 sleeper =
        idOf(submit(QJsonObject{{"type", "noop"}, {"payload", QJsonObject{{"sleep_ms", 10000}}}}));
    QVERIFY(sleeper > 0);
    const QJsonObject running = waitForState(jobPath(sleeper), {"running"});
    QVERIFY(running.value("lease_owner").isString());
    QVERIFY(running.value("lease_until").isString());
    verifyError(admin("DELETE", jobPath(sleeper)), 409, "conflict", "running");
    QElapsedTimer timer;
    timer.start();
    r = admin("POST", jobPath(sleeper) + "/cancel");
    QVERIFY2(r.status == 202, qPrintable(describe(r)));
    QCOMPARE(compact(r.json()),
             QStringLiteral(R"({"cancel_requested":true,"id":%1,"state":"running"})").arg(sleeper));
    cancelled = waitForState(jobPath(sleeper), {"cancelled", "succeeded", "dead"}, {}, 5000);
    QCOMPARE(cancelled.value("state").toString(), QStringLiteral("cancelled"));
    QVERIFY2(timer.elapsed() < 5000, qPrintable(QString::number(timer.elapsed())));
    QCOMPARE(cancelled.value("error").toString(), QStringLiteral("cancelled while running"));
    QCOMPARE(cancelled.value("attempts").toInt(), 1);
    QVERIFY(!cancelled.contains("lease_owner"));

    // Finished.
    verifyError(admin("POST", jobPath(scheduledId) + "/cancel"), 409, "conflict", "succeeded");
    verifyError(admin("POST", jobPath(999999) + "/cancel"), 404, "not_found");
    verifyError(admin("POST", "/admin/api/jobs/abc/cancel"), 404, "not_found");
}

// DELETE a finished job: 204 without a body, then 404 for GET, DELETE and cancel.
void TestJobsApi::deleteJobs()
{
    BULWARK_CHECK(startServer());
    const qint64 id = idOf(submit(QJsonObject{{"type", "noop"}}));
    QVERIFY(id > 0);
    QCOMPARE(waitForState(jobPath(id), {"succeeded"}).value("state").toString(),
             QStringLiteral("succeeded"));
    RawResponse r = admin("DELETE", jobPath(id));
    QVERIFY2(r.status == 204, qPrintable(describe(r)));
    QVERIFY(r.body.isEmpty());
    verifyError(admin("GET", jobPath(id)), 404, "not_found");
    verifyError(admin("DELETE", jobPath(id)), 404, "not_found");
    verifyError(admin("POST", jobPath(id) + "/cancel"), 404, "not_found");
    verifyError(admin("GET", "/admin/api/jobs/0"), 404, "not_found");
    verifyError(admin("GET", "/admin/api/jobs/-3"), 404, "not_found");
    QCOMPARE(idsOf(admin("GET", "/admin/api/jobs")), QList<qint64>{});
}

// Lists are newest first; every filter narrows; keyset paging visits each job once.
void TestJobsApi::listFiltersAndPaging()
{
    BULWARK_CHECK(startServer());
    // The default queue is paused so its jobs stay queued; maintenance runs.
    BULWARK_CHECK(pauseDefaultQueue());

    QList<QJsonObject> jobs;
    const QList<QJsonObject> bodies{
        {{"type", "noop"}, {"priority", "low"}, {"payload", QJsonObject{{"tag", "alpha"}}}},
        {{"type", "noop"}, {"priority", "high"}, {"payload", QJsonObject{{"tag", "beta"}}}},
        {{"type", "noop"}, {"queue", "maintenance"}, {"payload", QJsonObject{{"tag", "alpha"}}}},
        {{"type", "noop"}, {"payload", QJsonObject{{"tag", "gamma"}}}},
        {{"type", "noop"},
         {"queue", "maintenance"},
         {"payload", QJsonObject{{"fail_attempts", 1}, {"fatal", true}, {"tag", "delta_1"}}}},
    };
    for (const QJsonObject &body : bodies) {
        jobs.append(submit(body));
        if (QTest::currentTestFailed())
            return;
        QThread::msleep(5); // distinct created_at milliseconds
    }
    const qint64 j1 = idOf(jobs[0]), j2 = idOf(jobs[1]), j3 = idOf(jobs[2]), j4 = idOf(jobs[3]),
                 j5 = idOf(jobs[4]);
    QCOMPARE(jobs[1].value("priority").toString(), QStringLiteral("high"));
    QCOMPARE(jobs[2].value("queue").toString(), QStringLiteral("maintenance"));
    BULWARK_CHECK(waitForState(jobPath(j3), {"succeeded"}));
    BULWARK_CHECK(waitForState(jobPath(j5), {"dead"}));

    const auto ids = [this](const QString &query) {
        const RawResponse list = admin("GET", "/admin/api/jobs" + query);
        if (list.status != 200)
            QTest::qFail(qPrintable(QStringLiteral("%1: %2").arg(query, describe(list))), __FILE__,
                         __LINE__);
        return idsOf(list);
    };
    QCOMPARE(ids(""), (QList<qint64>{j5, j4, j3, j2, j1}));
    QCOMPARE(ids("?state=queued"), (QList<qint64>{j4, j2, j1}));
    QCOMPARE(ids("?state=succeeded,dead"), (QList<qint64>{j5, j3}));
    QCOMPARE(ids("?state=running"), QList<qint64>{});
    QCOMPARE(ids("?type=noop"), (QList<qint64>{j5, j4, j3, j2, j1}));
    QCOMPARE(ids("?type=gdpr.export"), QList<qint64>{});
    QCOMPARE(ids("?queue=maintenance"), (QList<qint64>{j5, j3}));
    QCOMPARE(ids("?queue=default"), (QList<qint64>{j4, j2, j1}));
    QCOMPARE(ids("?priority=high"), (QList<qint64>{j2}));
    QCOMPARE(ids("?priority=low"), (QList<qint64>{j1}));
    QCOMPARE(ids("?priority=normal&state=queued"), (QList<qint64>{j4}));
    QCOMPARE(ids("?q=alpha"), (QList<qint64>{j3, j1}));
    QCOMPARE(ids("?q=failing%20attempt"), (QList<qint64>{j5})); // the error text
    QCOMPARE(ids("?q=delta_1"), (QList<qint64>{j5}));
    QCOMPARE(ids("?q=delta%25"), QList<qint64>{}); // % is literal, not a wildcard
    QCOMPARE(ids("?q=fa_al"), QList<qint64>{});    // so is _ ("fatal" is in j5's payload)
    QCOMPARE(ids("?q=nothing-like-this"), QList<qint64>{});
    // from (inclusive, ISO-8601) and to (exclusive, Unix ms): j2 and j3.
    const QString from = jobs[1].value("created_at").toString();
    const qint64 to = isoToMs(jobs[3].value("created_at"));
    QCOMPARE(ids(QStringLiteral("?from=%1&to=%2")
                     .arg(QString::fromLatin1(QUrl::toPercentEncoding(from)))
                     .arg(to)),
             (QList<qint64>{j3, j2}));
    QCOMPARE(ids(QStringLiteral("?from=%1").arg(isoToMs(jobs[4].value("created_at")))),
             (QList<qint64>{j5}));
    QCOMPARE(ids(QStringLiteral("?to=%1").arg(isoToMs(jobs[0].value("created_at")))),
             QList<qint64>{});

    // Paging: limit + next_before, newest first, each job once.
    QList<qint64> seen;
    QString query = QStringLiteral("?limit=2");
    QList<QList<qint64>> pages;
    for (int page = 0; page < 10; ++page) {
        const RawResponse p = admin("GET", "/admin/api/jobs" + query);
        QVERIFY2(p.status == 200, qPrintable(describe(p)));
        pages.append(idsOf(p));
        seen.append(idsOf(p));
        if (!p.json().contains("next_before"))
            break;
        const qint64 next = qint64(p.json().value("next_before").toDouble());
        QCOMPARE(next, idsOf(p).last());
        query = QStringLiteral("?limit=2&before=%1").arg(next);
    }
    QCOMPARE(pages, (QList<QList<qint64>>{{j5, j4}, {j3, j2}, {j1}}));
    QCOMPARE(seen, (QList<qint64>{j5, j4, j3, j2, j1}));
    QCOMPARE(ids(QStringLiteral("?state=queued&limit=1&before=%1").arg(j4)), (QList<qint64>{j2}));

    verifyError(admin("GET", "/admin/api/jobs?state=bogus"), 400, "bad_request", "state");
    verifyError(admin("GET", "/admin/api/jobs?priority=urgent"), 400, "bad_request", "priority");
    verifyError(admin("GET", "/admin/api/jobs?from=yesterday"), 400, "bad_request", "from");
    verifyError(admin("GET", "/admin/api/jobs?to=later"), 400, "bad_request", "to");
    verifyError(admin("GET", "/admin/api/jobs?owner=me"), 400, "bad_request", "owner");
    verifyError(admin("GET", "/admin/api/jobs?limit=0"), 400, "bad_request", "limit");
    verifyError(admin("GET", "/admin/api/jobs?limit=501"), 400, "bad_request", "limit");
}

// Bulk cancel / retry / delete by filter; an empty filter needs "all": true; dead/requeue
// and dead/purge act on the dead-letter queue only.
void TestJobsApi::bulkActionsAndDeadLetterQueue()
{
    BULWARK_CHECK(startServer());
    // Two dead jobs and a succeeded one.
    const QJsonObject fatalBody{{"type", "noop"},
                                {"payload", QJsonObject{{"fail_attempts", 1}, {"fatal", true}}}};
    const qint64 d1 = idOf(submit(fatalBody));
    const qint64 d2 = idOf(submit(fatalBody));
    const qint64 ok = idOf(submit(QJsonObject{{"type", "noop"}}));
    QVERIFY(d1 > 0 && d2 > 0 && ok > 0);
    BULWARK_CHECK(waitForState(jobPath(d1), {"dead"}));
    BULWARK_CHECK(waitForState(jobPath(d2), {"dead"}));
    BULWARK_CHECK(waitForState(jobPath(ok), {"succeeded"}));
    const qint64 firstFinish =
        std::max(isoToMs(admin("GET", jobPath(d1)).json().value("finished_at")),
                 isoToMs(admin("GET", jobPath(d2)).json().value("finished_at")));
    QCOMPARE(idsOf(admin("GET", "/admin/api/jobs/dead")), (QList<qint64>{d2, d1}));

    QTest::qWait(5);
    RawResponse r = admin("POST", "/admin/api/jobs/dead/requeue");
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QCOMPARE(compact(r.json()), QStringLiteral(R"({"action":"retry","jobs":2})"));
    // They run again (attempts from 0) and die again.
    for (qint64 id : {d1, d2}) {
        QJsonObject job;
        for (int i = 0; i < 500; ++i) {
            job = waitForState(jobPath(id), {"dead"});
            if (QTest::currentTestFailed())
                return;
            if (isoToMs(job.value("finished_at")) > firstFinish)
                break;
            QTest::qWait(20);
        }
        QVERIFY2(isoToMs(job.value("finished_at")) > firstFinish, qPrintable(compact(job)));
        QCOMPARE(job.value("attempts").toInt(), 1);
    }
    r = admin("POST", "/admin/api/jobs/dead/purge");
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QCOMPARE(compact(r.json()), QStringLiteral(R"({"action":"delete","jobs":2})"));
    QCOMPARE(idsOf(admin("GET", "/admin/api/jobs/dead")), QList<qint64>{});
    verifyError(admin("GET", jobPath(d1)), 404, "not_found");
    QCOMPARE(compact(admin("POST", "/admin/api/jobs/dead/purge").json()),
             QStringLiteral(R"({"action":"delete","jobs":0})"));

    // Three queued jobs (the default queue paused) and one scheduled for later.
    BULWARK_CHECK(pauseDefaultQueue());
    QList<qint64> queued;
    for (int i = 0; i < 3; ++i)
        queued.append(idOf(submit(QJsonObject{{"type", "noop"}})));
    const qint64 later = idOf(submit(QJsonObject{{"type", "noop"}, {"run_at", isoIn(3'600'000)}}));
    QVERIFY(!QTest::currentTestFailed());

    r = admin("POST", "/admin/api/jobs/bulk",
              QJsonObject{{"action", "cancel"},
                          {"filter", QJsonObject{{"type", "noop"}, {"state", "queued"}}}});
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QCOMPARE(compact(r.json()), QStringLiteral(R"({"action":"cancel","jobs":4})"));
    for (qint64 id : queued)
        QCOMPARE(admin("GET", jobPath(id)).json().value("state").toString(),
                 QStringLiteral("cancelled"));
    QCOMPARE(admin("GET", jobPath(later)).json().value("state").toString(),
             QStringLiteral("cancelled"));
    QCOMPARE(admin("GET", jobPath(ok)).json().value("state").toString(),
             QStringLiteral("succeeded"));
    // Nothing left to cancel.
    QCOMPARE(
        compact(admin("POST", "/admin/api/jobs/bulk",
                      QJsonObject{{"action", "cancel"},
                                  {"filter", QJsonObject{{"type", "noop"}, {"state", "queued"}}}})
                    .json()),
        QStringLiteral(R"({"action":"cancel","jobs":0})"));
    // Retry the cancelled ones (an array of states is accepted too).
    r = admin("POST", "/admin/api/jobs/bulk",
              QJsonObject{{"action", "retry"},
                          {"filter", QJsonObject{{"state", QJsonArray{"cancelled", "dead"}}}}});
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QCOMPARE(compact(r.json()), QStringLiteral(R"({"action":"retry","jobs":4})"));
    for (qint64 id : queued) {
        const QJsonObject job = admin("GET", jobPath(id)).json();
        QCOMPARE(job.value("state").toString(), QStringLiteral("queued"));
        QCOMPARE(job.value("attempts").toInt(), 0);
    }
    // Delete by filter: the four queued ones, not the succeeded one.
    r = admin("POST", "/admin/api/jobs/bulk",
              QJsonObject{{"action", "delete"}, {"filter", QJsonObject{{"state", "queued"}}}});
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QCOMPARE(compact(r.json()), QStringLiteral(R"({"action":"delete","jobs":4})"));
    QCOMPARE(idsOf(admin("GET", "/admin/api/jobs")), (QList<qint64>{ok}));

    // Refused: no filter, an empty one, a bad action, a bad or unknown filter field.
    verifyError(admin("POST", "/admin/api/jobs/bulk", QJsonObject{{"action", "delete"}}), 400,
                "bad_request", "\"all\": true");
    verifyError(admin("POST", "/admin/api/jobs/bulk",
                      QJsonObject{{"action", "cancel"}, {"filter", QJsonObject{}}}),
                400, "bad_request", "filter");
    verifyError(
        admin("POST", "/admin/api/jobs/bulk", QJsonObject{{"action", "explode"}, {"all", true}}),
        400, "bad_request", "action");
    verifyError(
        admin("POST", "/admin/api/jobs/bulk",
              QJsonObject{{"action", "delete"}, {"filter", QJsonObject{{"state", "bogus"}}}}),
        400, "bad_request", "filter.state");
    verifyError(admin("POST", "/admin/api/jobs/bulk",
                      QJsonObject{{"action", "delete"}, {"filter", QJsonObject{{"typo", "noop"}}}}),
                400, "bad_request", "typo");
    QCOMPARE(idsOf(admin("GET", "/admin/api/jobs")), (QList<qint64>{ok})); // untouched
    verifyError(rawPost("/admin/api/jobs/bulk", m_server->app()->adminToken(), "{not json"), 400,
                "bad_request");
    // "all": true acts on every job.
    r = admin("POST", "/admin/api/jobs/bulk", QJsonObject{{"action", "delete"}, {"all", true}});
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QCOMPARE(compact(r.json()), QStringLiteral(R"({"action":"delete","jobs":1})"));
    QCOMPARE(idsOf(admin("GET", "/admin/api/jobs")), QList<qint64>{});
}

// A paused queue keeps its jobs queued; resumed, they run.
void TestJobsApi::pauseHoldsJobsAndResumeRunsThem()
{
    BULWARK_CHECK(startServer());
    RawResponse r = admin("POST", "/admin/api/jobs/queues/default/pause");
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QCOMPARE(compact(r.json()), QStringLiteral(R"({"paused":true,"queue":"default"})"));
    verifyError(admin("POST", "/admin/api/jobs/queues/nope/pause"), 404, "not_found", "nope");
    QTest::qWait(100); // see pauseDefaultQueue()

    r = admin("GET", "/admin/api/jobs/queues");
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QJsonArray queues = r.json().value("queues").toArray();
    QCOMPARE(queues.size(), 4);
    QCOMPARE(queues.at(0).toObject().value("name").toString(), QStringLiteral("default"));
    QCOMPARE(queues.at(0).toObject().value("paused").toBool(), true);
    QCOMPARE(queues.at(1).toObject().value("name").toString(), QStringLiteral("webhooks"));
    QCOMPARE(queues.at(1).toObject().value("paused").toBool(), false);

    const qint64 id = idOf(submit(QJsonObject{{"type", "noop"}}));
    QVERIFY(id > 0);
    // A job in another queue still runs meanwhile.
    const qint64 other = idOf(submit(QJsonObject{{"type", "noop"}, {"queue", "maintenance"}}));
    BULWARK_CHECK(waitForState(jobPath(other), {"succeeded"}));
    QTest::qWait(500);
    QJsonObject held = admin("GET", jobPath(id)).json();
    QCOMPARE(held.value("state").toString(), QStringLiteral("queued"));
    QCOMPARE(held.value("attempts").toInt(), 0);
    // The stats see it as ready in default/normal.
    const QJsonArray depth = admin("GET", "/admin/api/jobs/stats").json().value("depth").toArray();
    QCOMPARE(depth.size(), 1);
    QCOMPARE(
        compact(depth.at(0)),
        QStringLiteral(
            R"({"priority":"normal","queue":"default","ready":1,"retrying":0,"running":0,"scheduled":0})"));

    r = admin("POST", "/admin/api/jobs/queues/default/resume");
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QCOMPARE(compact(r.json()), QStringLiteral(R"({"paused":false,"queue":"default"})"));
    const QJsonObject done = waitForState(jobPath(id), {"succeeded", "dead"}, {}, 5000);
    QCOMPARE(done.value("state").toString(), QStringLiteral("succeeded"));
    queues = admin("GET", "/admin/api/jobs/queues").json().value("queues").toArray();
    QCOMPARE(queues.at(0).toObject().value("paused").toBool(), false);
}

// /stats after a few jobs; /types and /queues describe the configuration.
void TestJobsApi::statsTypesAndQueues()
{
    BULWARK_CHECK(startServer());
    constexpr int n = 3;
    QList<qint64> ids;
    for (int i = 0; i < n; ++i)
        ids.append(idOf(submit(QJsonObject{{"type", "noop"}})));
    const qint64 dead = idOf(submit(QJsonObject{
        {"type", "noop"}, {"payload", QJsonObject{{"fail_attempts", 1}, {"fatal", true}}}}));
    for (qint64 id : ids)
        BULWARK_CHECK(waitForState(jobPath(id), {"succeeded"}));
    BULWARK_CHECK(waitForState(jobPath(dead), {"dead"}));

    // The instance counts an outcome just after storing it: wait until it has counted all.
    RawResponse r;
    for (int i = 0; i < 250; ++i) {
        r = admin("GET", "/admin/api/jobs/stats");
        QVERIFY2(r.status == 200, qPrintable(describe(r)));
        const QJsonObject counted = r.json().value("instance").toObject();
        if (counted.value("succeeded").toDouble() + counted.value("dead").toDouble() >= n + 1)
            break;
        QTest::qWait(20);
    }
    const QJsonObject stats = r.json();
    QVERIFY(stats.value("depth").isArray());
    QCOMPARE(stats.value("depth").toArray().size(), 0); // nothing waiting or running
    QCOMPARE(stats.value("running").toDouble(), 0.0);
    QCOMPARE(stats.value("dead").toDouble(), 1.0);
    const QJsonObject minute = stats.value("finished_last_minute").toObject();
    QCOMPARE(minute.value("succeeded").toDouble(), double(n));
    QCOMPARE(minute.value("dead").toDouble(), 1.0);
    QCOMPARE(minute.value("cancelled").toDouble(), 0.0);
    QCOMPARE(compact(stats.value("finished_last_hour")), compact(minute));
    QCOMPARE(stats.value("throughput_per_second").toDouble(), (n + 1) / 60.0);
    QCOMPARE(stats.value("failed_jobs_last_hour").toDouble(), 1.0);
    // One job of n + 1 failed.
    QCOMPARE(stats.value("failure_rate_last_hour").toDouble(), 1.0 / (n + 1));
    const QJsonObject instance = stats.value("instance").toObject();
    QVERIFY(!instance.value("id").toString().isEmpty());
    QCOMPARE(instance.value("workers").toInt(), 4);
    QCOMPARE(instance.value("busy").toInt(), 0);
    QCOMPARE(instance.value("succeeded").toDouble(), double(n));
    QCOMPARE(instance.value("dead").toDouble(), 1.0);
    QCOMPARE(instance.value("failed_attempts").toDouble(), 1.0);
    QCOMPARE(instance.value("claimed").toDouble(), double(n + 1));
    QCOMPARE(instance.value("shutting_down").toBool(), false);
    QCOMPARE(instance.value("run_seconds").toObject().value("count").toDouble(), double(n + 1));
    QCOMPARE(instance.value("wait_seconds").toObject().value("count").toDouble(), double(n + 1));
    QVERIFY(instance.value("run_seconds").toObject().value("buckets").toArray().size() > 1);

    r = admin("GET", "/admin/api/jobs/types");
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QHash<QString, QJsonObject> types;
    QStringList names;
    for (const QJsonValue &v : r.json().value("types").toArray()) {
        names.append(v.toObject().value("type").toString());
        types.insert(names.last(), v.toObject());
    }
    QStringList sorted = names;
    sorted.sort();
    QCOMPARE(names, sorted);
    for (const char *t : {"db.maintenance", "gdpr.export", "jobs.prune", "noop", "webhook.deliver"})
        QVERIFY2(names.contains(QLatin1String(t)), t);
    const QJsonObject noop = types.value("noop");
    QCOMPARE(noop.value("submit").toString(), QStringLiteral("admin"));
    QCOMPARE(noop.value("queue").toString(), QStringLiteral("default"));
    QCOMPARE(noop.value("priority").toString(), QStringLiteral("normal"));
    QCOMPARE(noop.value("max_attempts").toInt(), 5);
    QCOMPARE(noop.value("backoff_base_ms").toDouble(), 100.0); // jobs.types
    QCOMPARE(noop.value("backoff_max_ms").toDouble(), 200.0);
    QCOMPARE(noop.value("backoff_multiplier").toDouble(), 2.0);
    QCOMPARE(noop.value("backoff_jitter").toDouble(), 0.0);
    QCOMPARE(noop.value("timeout_ms").toDouble(), 600000.0);
    QVERIFY(!noop.value("description").toString().isEmpty());
    QCOMPARE(types.value("gdpr.export").value("submit").toString(), QStringLiteral("user"));
    QCOMPARE(types.value("webhook.deliver").value("submit").toString(), QStringLiteral("system"));
    QCOMPARE(types.value("webhook.deliver").value("queue").toString(), QStringLiteral("webhooks"));
    QCOMPARE(types.value("webhook.deliver").value("max_attempts").toInt(), 8);
    QCOMPARE(types.value("jobs.prune").value("queue").toString(), QStringLiteral("maintenance"));
    QCOMPARE(types.value("jobs.prune").value("priority").toString(), QStringLiteral("low"));

    r = admin("GET", "/admin/api/jobs/queues");
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    const QJsonArray queues = r.json().value("queues").toArray();
    QCOMPARE(queues.size(), 4);
    const QList<std::pair<QString, int>> expected{
        {"default", 4}, {"webhooks", 2}, {"maintenance", 1}, {"loadtest", 1}};
    for (int i = 0; i < 4; ++i) {
        const QJsonObject q = queues.at(i).toObject();
        QCOMPARE(q.value("name").toString(), expected[i].first);
        QCOMPARE(q.value("concurrency").toInt(), expected[i].second);
        QCOMPARE(q.value("paused").toBool(), false);
        QCOMPARE(q.value("held_here").toInt(), 0);
        for (const char *key : {"ready", "scheduled", "retrying", "running"})
            QVERIFY2(q.value(QLatin1String(key)).isDouble(), key);
    }
}

// Two submissions with the same unique_key within its window: the second is 200 with
// "duplicate": true and the first job. A cancelled job does not hold its key.
void TestJobsApi::uniqueKeyReturnsTheExistingJob()
{
    BULWARK_CHECK(startServer());
    const QJsonObject body{{"type", "noop"},
                           {"unique_key", "nightly-report"},
                           {"unique_window", "10m"},
                           {"run_at", isoIn(3'600'000)}};
    RawResponse first = admin("POST", "/admin/api/jobs", body);
    QVERIFY2(first.status == 202, qPrintable(describe(first)));
    const qint64 id = idOf(first.json());
    QCOMPARE(first.json().value("unique_key").toString(), QStringLiteral("nightly-report"));
    QVERIFY(!first.json().contains("duplicate"));

    RawResponse second = admin("POST", "/admin/api/jobs", body);
    QVERIFY2(second.status == 200, qPrintable(describe(second)));
    QCOMPARE(idOf(second.json()), id);
    QCOMPARE(second.json().value("duplicate").toBool(), true);
    QCOMPARE(second.header("Location"), jobPath(id).toUtf8());
    QCOMPARE(idsOf(admin("GET", "/admin/api/jobs")), (QList<qint64>{id}));

    // Another key is another job.
    QJsonObject otherBody = body;
    otherBody.insert("unique_key", "other");
    const RawResponse other = admin("POST", "/admin/api/jobs", otherBody);
    QVERIFY2(other.status == 202, qPrintable(describe(other)));
    QVERIFY(idOf(other.json()) != id);

    // Cancelled, the key is free again.
    QCOMPARE(admin("POST", jobPath(id) + "/cancel").status, 200);
    const RawResponse third = admin("POST", "/admin/api/jobs", body);
    QVERIFY2(third.status == 202, qPrintable(describe(third)));
    QVERIFY(idOf(third.json()) > idOf(other.json()));

    QJsonObject badWindow = body;
    badWindow.insert("unique_window", "soon");
    verifyError(admin("POST", "/admin/api/jobs", badWindow), 400, "bad_request", "unique_window");
    QJsonObject emptyKey = body;
    emptyKey.insert("unique_key", "");
    verifyError(admin("POST", "/admin/api/jobs", emptyKey), 400, "bad_request", "unique_key");
}

void TestJobsApi::badSubmissionsAreRefused()
{
    BULWARK_CHECK(startServer());
    const QByteArray token = m_server->app()->adminToken();
    verifyError(admin("POST", "/admin/api/jobs", QJsonObject{{"type", "noop"}, {"colour", "red"}}),
                400, "bad_request", "unknown field \"colour\"");
    verifyError(admin("POST", "/admin/api/jobs", QJsonObject{{"type", "no.such.type"}}), 422,
                "validation_failed", "no.such.type");
    verifyError(admin("POST", "/admin/api/jobs", QJsonObject{}), 400, "bad_request", "type");
    verifyError(
        admin("POST", "/admin/api/jobs", QJsonObject{{"type", "noop"}, {"priority", "urgent"}}),
        400, "bad_request", "priority");
    verifyError(admin("POST", "/admin/api/jobs",
                      QJsonObject{{"type", "noop"}, {"payload", QJsonArray{1, 2}}}),
                400, "bad_request", "payload");
    verifyError(admin("POST", "/admin/api/jobs", QJsonObject{{"type", "noop"}, {"payload", "x"}}),
                400, "bad_request", "payload");
    verifyError(admin("POST", "/admin/api/jobs",
                      QJsonObject{{"type", "noop"}, {"payload", QJsonObject{{"sleep_ms", -1}}}}),
                422, "validation_failed", "sleep_ms");
    verifyError(admin("POST", "/admin/api/jobs",
                      QJsonObject{{"type", "noop"}, {"payload", QJsonObject{{"sleep_ms", 1.5}}}}),
                422, "validation_failed", "sleep_ms");
    verifyError(admin("POST", "/admin/api/jobs",
                      QJsonObject{{"type", "noop"}, {"payload", QJsonObject{{"extra", 1}}}}),
                422, "validation_failed", "\"extra\"");
    verifyError(admin("POST", "/admin/api/jobs",
                      QJsonObject{{"type", "gdpr.export"}, {"payload", QJsonObject{{"x", 1}}}}),
                422, "validation_failed", "\"x\"");
    verifyError(
        admin("POST", "/admin/api/jobs", QJsonObject{{"type", "noop"}, {"max_attempts", 0}}), 400,
        "bad_request", "max_attempts");
    verifyError(
        admin("POST", "/admin/api/jobs", QJsonObject{{"type", "noop"}, {"max_attempts", 101}}), 400,
        "bad_request", "max_attempts");
    verifyError(
        admin("POST", "/admin/api/jobs", QJsonObject{{"type", "noop"}, {"run_at", "tomorrow"}}),
        400, "bad_request", "run_at");
    verifyError(admin("POST", "/admin/api/jobs", QJsonObject{{"type", "noop"}, {"queue", "nope"}}),
                422, "validation_failed", "nope");
    verifyError(rawPost("/admin/api/jobs", token, "{\"type\": "), 400, "bad_request");
    verifyError(rawPost("/admin/api/jobs", token, "[1]"), 400, "bad_request");
    verifyError(apiRequest(m_server->port(), "POST", "/admin/api/jobs", "wrong-token",
                           QJsonObject{{"type", "noop"}}),
                401, "unauthorized");
    // Nothing was stored.
    QCOMPARE(idsOf(admin("GET", "/admin/api/jobs")), QList<qint64>{});
    // run_at as Unix milliseconds is accepted.
    const qint64 at = QDateTime::currentMSecsSinceEpoch() + 3'600'000;
    const QJsonObject job = submit(QJsonObject{{"type", "noop"}, {"run_at", double(at)}});
    QCOMPARE(isoToMs(job.value("run_at")), at);
}

// run_at, from and to written without an offset are UTC, as every time the API answers
// with, not the server's local zone. The server runs in this process, so TZ is switched to
// Europe/Berlin (UTC+1 in January, never UTC) before it starts and restored afterwards:
// reading such a time as local time would then be off by an hour and the checks below fail.
// Where the zone database is missing the switch has no effect; the UTC results are still
// asserted, they just cannot tell the two readings apart then.
void TestJobsApi::timesWithoutOffsetAreUtc()
{
    const bool hadTz = qEnvironmentVariableIsSet("TZ");
    const QByteArray oldTz = qgetenv("TZ");
    const auto restoreTz = qScopeGuard([&] {
        if (hadTz)
            qputenv("TZ", oldTz);
        else
            qunsetenv("TZ");
        tzset();
    });
    qputenv("TZ", "Europe/Berlin");
    tzset();
    const qint64 utcNewYear =
        QDateTime(QDate(2030, 1, 1), QTime(0, 0), Qt::UTC).toMSecsSinceEpoch();
    const qint64 localNewYear =
        QDateTime::fromString(QStringLiteral("2030-01-01T00:00:00"), Qt::ISODate)
            .toMSecsSinceEpoch();
    if (localNewYear == utcNewYear)
        qWarning("TZ=Europe/Berlin did not change the local zone (no tzdata?): this test cannot "
                 "tell UTC from local time here");
    else
        QCOMPARE(utcNewYear - localNewYear, qint64(3'600'000)); // Berlin is an hour ahead

    BULWARK_CHECK(startServer());
    const QJsonObject job =
        submit(QJsonObject{{"type", "noop"}, {"run_at", "2030-01-01T00:00:00"}});
    const qint64 id = idOf(job);
    QVERIFY(id > 0);
    QCOMPARE(job.value("run_at").toString(), QStringLiteral("2030-01-01T00:00:00.000Z"));
    QCOMPARE(job.value("scheduled").toBool(), true);
    QCOMPARE(admin("GET", jobPath(id)).json().value("run_at").toString(),
             QStringLiteral("2030-01-01T00:00:00.000Z"));
    // With milliseconds, and with an explicit offset, for comparison.
    QCOMPARE(submit(QJsonObject{{"type", "noop"}, {"run_at", "2030-01-01T00:00:00.250"}})
                 .value("run_at")
                 .toString(),
             QStringLiteral("2030-01-01T00:00:00.250Z"));
    QCOMPARE(submit(QJsonObject{{"type", "noop"}, {"run_at", "2030-01-01T01:00:00+01:00"}})
                 .value("run_at")
                 .toString(),
             QStringLiteral("2030-01-01T00:00:00.000Z"));
    // A user's submission reads it the same way.
    const TestAccount alice = addTestAccount(*m_server->app(), QStringLiteral("alice@example.com"));
    QVERIFY(!QTest::currentTestFailed());
    RawResponse r =
        apiRequest(m_server->port(), "POST", "/api/v1/jobs", alice.token,
                   QJsonObject{{"type", "gdpr.export"}, {"run_at", "2030-01-01T00:00:00"}});
    QVERIFY2(r.status == 202, qPrintable(describe(r)));
    QCOMPARE(r.json().value("run_at").toString(), QStringLiteral("2030-01-01T00:00:00.000Z"));

    // The list's from/to (on created_at, which is now) too: a window of UTC wall-clock
    // times around now finds the first job; one starting 30 minutes from now finds none
    // (read as Berlin time it would start half an hour or more ago, and find it).
    const QString format = QStringLiteral("yyyy-MM-ddTHH:mm:ss");
    const QDateTime now = QDateTime::currentDateTimeUtc();
    const QString around =
        QStringLiteral("?from=%1&to=%2")
            .arg(now.addSecs(-300).toString(format), now.addSecs(300).toString(format));
    r = admin("GET", "/admin/api/jobs" + around);
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QVERIFY2(idsOf(r).contains(id), qPrintable(describe(r)));
    r = admin("GET", "/admin/api/jobs?from=" + now.addSecs(1800).toString(format));
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QCOMPARE(idsOf(r), QList<qint64>{});
    r = admin("GET", "/admin/api/jobs?to=" + now.addSecs(-1800).toString(format));
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QCOMPARE(idsOf(r), QList<qint64>{});
}

// unique_window as a JSON number is seconds: 600 holds the key for ten minutes (still a
// duplicate after 700 ms, which it would not be if it were milliseconds); 0.001 (1 ms) has
// run out a few milliseconds later, so the same key makes a new job.
void TestJobsApi::numericUniqueWindowIsSeconds()
{
    BULWARK_CHECK(startServer());
    const QJsonObject body{{"type", "noop"},
                           {"unique_key", "report"},
                           {"unique_window", 600},
                           {"run_at", isoIn(3'600'000)}};
    RawResponse first = admin("POST", "/admin/api/jobs", body);
    QVERIFY2(first.status == 202, qPrintable(describe(first)));
    const qint64 id = idOf(first.json());
    QVERIFY(id > 0);
    RawResponse again = admin("POST", "/admin/api/jobs", body);
    QVERIFY2(again.status == 200, qPrintable(describe(again)));
    QCOMPARE(idOf(again.json()), id);
    QCOMPARE(again.json().value("duplicate").toBool(), true);
    QTest::qWait(700);
    again = admin("POST", "/admin/api/jobs", body);
    QVERIFY2(again.status == 200, qPrintable(describe(again)));
    QCOMPARE(idOf(again.json()), id);
    QCOMPARE(again.json().value("duplicate").toBool(), true);

    QJsonObject tiny = body;
    tiny.insert("unique_key", "tiny");
    tiny.insert("unique_window", 0.001);
    first = admin("POST", "/admin/api/jobs", tiny);
    QVERIFY2(first.status == 202, qPrintable(describe(first)));
    const qint64 tinyId = idOf(first.json());
    QTest::qWait(20);
    again = admin("POST", "/admin/api/jobs", tiny);
    QVERIFY2(again.status == 202, qPrintable(describe(again)));
    QVERIFY(idOf(again.json()) > tinyId);
    QVERIFY(!again.json().contains("duplicate"));

    // Durations as text still work; a negative number is refused.
    QJsonObject text = body;
    text.insert("unique_key", "text");
    text.insert("unique_window", "10m");
    first = admin("POST", "/admin/api/jobs", text);
    QVERIFY2(first.status == 202, qPrintable(describe(first)));
    again = admin("POST", "/admin/api/jobs", text);
    QVERIFY2(again.status == 200, qPrintable(describe(again)));
    QCOMPARE(idOf(again.json()), idOf(first.json()));
    QJsonObject negative = body;
    negative.insert("unique_key", "negative");
    negative.insert("unique_window", -5);
    verifyError(admin("POST", "/admin/api/jobs", negative), 400, "bad_request", "unique_window");
}

// Users submit only what their role may, see only their own jobs, and download an export
// once.
void TestJobsApi::userJobsAndExportDownload()
{
    BULWARK_CHECK(startServer());
    const TestAccount alice = addTestAccount(*m_server->app(), QStringLiteral("alice@example.com"));
    const TestAccount bob = addTestAccount(*m_server->app(), QStringLiteral("bob@example.com"));
    QVERIFY(!QTest::currentTestFailed());
    const quint16 port = m_server->port();

    verifyError(
        apiRequest(port, "POST", "/api/v1/jobs", alice.token, QJsonObject{{"type", "noop"}}), 403,
        "forbidden", "noop");
    verifyError(apiRequest(port, "POST", "/api/v1/jobs", alice.token,
                           QJsonObject{{"type", "webhook.deliver"}}),
                403, "forbidden");
    verifyError(
        apiRequest(port, "POST", "/api/v1/jobs", alice.token, QJsonObject{{"type", "nope"}}), 422,
        "validation_failed");
    verifyError(apiRequest(port, "POST", "/api/v1/jobs", alice.token,
                           QJsonObject{{"type", "gdpr.export"}, {"priority", "high"}}),
                403, "forbidden", "priority");
    verifyError(apiRequest(port, "POST", "/api/v1/jobs", alice.token,
                           QJsonObject{{"type", "gdpr.export"}, {"queue", "default"}}),
                403, "forbidden", "queue");
    verifyError(apiRequest(port, "POST", "/api/v1/me/export", {}), 401, "unauthorized");
    verifyError(apiRequest(port, "GET", "/admin/api/jobs", alice.token), 401, "unauthorized");

    RawResponse r = apiRequest(port, "POST", "/api/v1/me/export", alice.token);
    QVERIFY2(r.status == 202, qPrintable(describe(r)));
    const qint64 id = idOf(r.json());
    QVERIFY(id > 0);
    QCOMPARE(r.header("Location"), jobPath(id, false).toUtf8());
    QCOMPARE(r.json().value("type").toString(), QStringLiteral("gdpr.export"));
    QCOMPARE(qint64(r.json().value("owner_id").toDouble()), alice.id);

    const QJsonObject done = waitForState(jobPath(id, false), {"succeeded", "dead"}, alice.token);
    QCOMPARE(done.value("state").toString(), QStringLiteral("succeeded"));
    const QJsonObject result = done.value("result").toObject();
    const QString download = jobPath(id, false) + "/download";
    QCOMPARE(result.value("download").toString(), download);
    QVERIFY(result.value("bytes").toDouble() > 0);
    QVERIFY(result.value("file").toString().startsWith(QStringLiteral("export-%1-").arg(id)));
    QVERIFY(isoToMs(result.value("expires_at")) > QDateTime::currentMSecsSinceEpoch() + 3'000'000);

    // Bob sees none of it.
    verifyError(apiRequest(port, "GET", jobPath(id, false), bob.token), 404, "not_found");
    verifyError(apiRequest(port, "GET", download, bob.token), 404, "not_found");
    verifyError(apiRequest(port, "POST", jobPath(id, false) + "/cancel", bob.token), 404,
                "not_found");

    r = apiRequest(port, "GET", download, alice.token);
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QCOMPARE(r.header("Content-Type"), QByteArray("application/json"));
    QCOMPARE(r.header("Content-Disposition"),
             QByteArray("attachment; filename=\"bulwark-export.json\""));
    QCOMPARE(qint64(r.body.size()), qint64(result.value("bytes").toDouble()));
    const QJsonObject account = r.json().value("account").toObject();
    QCOMPARE(account.value("email").toString(), alice.email);
    QCOMPARE(qint64(account.value("id").toDouble()), alice.id);
    verifyError(apiRequest(port, "GET", download, alice.token), 410, "gone");

    // Lists show one's own jobs only (not Bob's, not the admin's).
    r = apiRequest(port, "POST", "/api/v1/me/export", bob.token);
    QVERIFY2(r.status == 202, qPrintable(describe(r)));
    const qint64 bobsJob = idOf(r.json());
    const qint64 adminsJob = idOf(submit(QJsonObject{{"type", "noop"}}));
    QVERIFY(adminsJob > 0);
    r = apiRequest(port, "GET", "/api/v1/jobs", alice.token);
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QCOMPARE(idsOf(r), (QList<qint64>{id}));
    QCOMPARE(idsOf(apiRequest(port, "GET", "/api/v1/jobs", bob.token)), (QList<qint64>{bobsJob}));
    // An owner parameter does not widen a user's list.
    QCOMPARE(idsOf(apiRequest(port, "GET", QStringLiteral("/api/v1/jobs?owner=%1").arg(bob.id),
                              alice.token)),
             (QList<qint64>{id}));
    QCOMPARE(idsOf(admin("GET", QStringLiteral("/admin/api/jobs?owner=%1").arg(bob.id))),
             (QList<qint64>{bobsJob}));

    // Unique keys are per user; a user's scheduled export can be cancelled by them.
    const QJsonObject later{
        {"type", "gdpr.export"}, {"unique_key", "weekly"}, {"run_at", isoIn(3'600'000)}};
    r = apiRequest(port, "POST", "/api/v1/jobs", alice.token, later);
    QVERIFY2(r.status == 202, qPrintable(describe(r)));
    const qint64 alicesLater = idOf(r.json());
    QCOMPARE(r.json().value("unique_key").toString(),
             QStringLiteral("user:%1:weekly").arg(alice.id));
    r = apiRequest(port, "POST", "/api/v1/jobs", bob.token, later);
    QVERIFY2(r.status == 202, qPrintable(describe(r)));
    QVERIFY(idOf(r.json()) != alicesLater);
    r = apiRequest(port, "POST", "/api/v1/jobs", alice.token, later);
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QCOMPARE(idOf(r.json()), alicesLater);
    QCOMPARE(r.json().value("duplicate").toBool(), true);
    verifyError(apiRequest(port, "GET", jobPath(alicesLater, false) + "/download", alice.token),
                409, "conflict", "not ready");
    r = apiRequest(port, "POST", jobPath(alicesLater, false) + "/cancel", alice.token);
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QCOMPARE(r.json().value("state").toString(), QStringLiteral("cancelled"));
    // A user's list filters too.
    QCOMPARE(idsOf(apiRequest(port, "GET", "/api/v1/jobs?state=cancelled", alice.token)),
             (QList<qint64>{alicesLater}));
}

// HEAD on a finished export's download answers 200 with the file's Content-Length and no
// body, and leaves the file in place: the GET after it still gets the export, the GET after
// that 410, and so does a HEAD then.
void TestJobsApi::headOnDownloadDoesNotConsumeIt()
{
    BULWARK_CHECK(startServer());
    const TestAccount alice = addTestAccount(*m_server->app(), QStringLiteral("alice@example.com"));
    const TestAccount bob = addTestAccount(*m_server->app(), QStringLiteral("bob@example.com"));
    QVERIFY(!QTest::currentTestFailed());
    const quint16 port = m_server->port();
    const QJsonObject done = finishedExport(alice.token);
    QVERIFY(!QTest::currentTestFailed());
    const qint64 id = idOf(done);
    const qint64 bytes = qint64(done.value("result").toObject().value("bytes").toDouble());
    QVERIFY(bytes > 0);
    const QString download = jobPath(id, false) + "/download";
    const QString file = exportFilePath(done);
    QVERIFY2(QFileInfo::exists(file), qPrintable(file));

    QList<QByteArrayList> headLengths; // checked last, see the end
    for (int i = 0; i < 2; ++i) {      // HEAD twice: neither takes the file
        const RawResponse head = apiRequest(port, "HEAD", download, alice.token);
        QVERIFY2(head.status == 200, qPrintable(describe(head)));
        QVERIFY(head.body.isEmpty());
        QCOMPARE(head.header("Content-Type"), QByteArray("application/json"));
        QVERIFY2(head.header("Cache-Control").contains("no-store"),
                 head.header("Cache-Control").constData());
        QByteArrayList lengths;
        for (const auto &[name, value] : head.headers)
            if (name.compare("Content-Length", Qt::CaseInsensitive) == 0)
                lengths.append(value);
        headLengths.append(lengths);
        QVERIFY2(QFileInfo::exists(file), qPrintable(file));
    }
    // Someone else's job is 404 for HEAD too.
    QCOMPARE(apiRequest(port, "HEAD", download, bob.token).status, 404);

    RawResponse r = apiRequest(port, "GET", download, alice.token);
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QCOMPARE(qint64(r.body.size()), bytes);
    QCOMPARE(qint64(r.json().value("account").toObject().value("id").toDouble()), alice.id);
    QVERIFY(!QFileInfo::exists(file));
    verifyError(apiRequest(port, "GET", download, alice.token), 410, "gone");
    r = apiRequest(port, "HEAD", download, alice.token);
    QVERIFY2(r.status == 410, qPrintable(describe(r)));
    QVERIFY(r.body.isEmpty());

    // Each HEAD had one Content-Length, the size of the file (what the GET then sent). Last,
    // so that a failure here still lets the checks above run.
    for (const QByteArrayList &lengths : std::as_const(headLengths))
        QVERIFY2(lengths == QByteArrayList{QByteArray::number(bytes)},
                 qPrintable(QStringLiteral("HEAD Content-Length: %1 (the file has %2 bytes)")
                                .arg(QString::fromLatin1(lengths.join(", ")))
                                .arg(bytes)));
}

// DELETE /api/v1/me removes the account's jobs and the file its export wrote, and says how
// many jobs went; an admin's DELETE /api/v1/users/{id} does the same for another account.
void TestJobsApi::erasingAnAccountDeletesItsJobsAndExports()
{
    BULWARK_CHECK(startServer());
    const TestAccount alice = addTestAccount(*m_server->app(), QStringLiteral("alice@example.com"));
    const TestAccount bob = addTestAccount(*m_server->app(), QStringLiteral("bob@example.com"));
    const TestAccount root = addTestAccount(*m_server->app(), QStringLiteral("root@example.com"),
                                            QStringLiteral("admin"));
    QVERIFY(!QTest::currentTestFailed());
    const quint16 port = m_server->port();

    const QJsonObject alicesExport = finishedExport(alice.token);
    QVERIFY(!QTest::currentTestFailed());
    const qint64 alicesJob = idOf(alicesExport);
    const QString alicesFile = exportFilePath(alicesExport);
    QVERIFY2(QFileInfo::exists(alicesFile), qPrintable(alicesFile));
    QCOMPARE(QFileInfo(alicesFile).absolutePath(),
             QFileInfo(QDir(m_server->dataDir()).filePath("exports")).absoluteFilePath());
    const QJsonObject bobsExport = finishedExport(bob.token);
    QVERIFY(!QTest::currentTestFailed());
    const qint64 bobsJob = idOf(bobsExport);
    const QString bobsFile = exportFilePath(bobsExport);
    QVERIFY2(QFileInfo::exists(bobsFile), qPrintable(bobsFile));
    // A job of nobody's (the admin token's) is not anyone's to delete.
    const qint64 adminsJob = idOf(submit(QJsonObject{{"type", "noop"}}));
    QVERIFY(adminsJob > 0);

    RawResponse r = apiRequest(port, "DELETE", "/api/v1/me", alice.token);
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QCOMPARE(r.json().value("jobs_deleted").toInt(-1), 1);
    QVERIFY(r.json().value("rows_deleted").isObject());
    QVERIFY2(!QFileInfo::exists(alicesFile), qPrintable(alicesFile));
    verifyError(admin("GET", jobPath(alicesJob)), 404, "not_found");
    // Bob's job and file, and the admin's job, are untouched.
    QVERIFY2(QFileInfo::exists(bobsFile), qPrintable(bobsFile));
    QCOMPARE(admin("GET", jobPath(bobsJob)).status, 200);
    QCOMPARE(admin("GET", jobPath(adminsJob)).status, 200);
    QCOMPARE(apiRequest(port, "GET", "/api/v1/jobs", alice.token).status, 401); // key gone

    r = apiRequest(port, "DELETE", QStringLiteral("/api/v1/users/%1").arg(bob.id), root.token);
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QCOMPARE(r.json().value("jobs_deleted").toInt(-1), 1);
    QVERIFY2(!QFileInfo::exists(bobsFile), qPrintable(bobsFile));
    verifyError(admin("GET", jobPath(bobsJob)), 404, "not_found");
    QCOMPARE(idsOf(admin("GET", "/admin/api/jobs")), (QList<qint64>{adminsJob}));

    // An account without jobs: 0.
    r = apiRequest(port, "DELETE", "/api/v1/me", root.token);
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QCOMPARE(r.json().value("jobs_deleted").toInt(-1), 0);
}

// The default "export" rule (10 an hour per user) covers every method of
// /api/v1/me/export: the 11th POST is refused with 429 and the rule's name, and so is a
// GET then. 12 requests stay well under the "api" rule (60 a minute per user).
void TestJobsApi::exportSubmissionsAreRateLimited()
{
    BULWARK_CHECK(startServer([](Config &c) {
        c.ratelimit.enabled = true; // the default rules
    }));
    const TestAccount alice = addTestAccount(*m_server->app(), QStringLiteral("alice@example.com"));
    const TestAccount bob = addTestAccount(*m_server->app(), QStringLiteral("bob@example.com"));
    QVERIFY(!QTest::currentTestFailed());
    // The exports need not run (gdpr.export is in the default queue): only their submission
    // counts here. One admin request, far under the "admin" rule.
    BULWARK_CHECK(pauseDefaultQueue());
    const quint16 port = m_server->port();
    QList<qint64> submitted;
    for (int i = 0; i < 10; ++i) {
        const RawResponse r = apiRequest(port, "POST", "/api/v1/me/export", alice.token);
        QVERIFY2(r.status == 202,
                 qPrintable(QStringLiteral("#%1: %2").arg(i + 1).arg(describe(r))));
        QVERIFY2(r.header("RateLimit").contains("\"export\";r=" + QByteArray::number(9 - i)),
                 r.header("RateLimit").constData());
        submitted.append(idOf(r.json()));
    }
    RawResponse refused = apiRequest(port, "POST", "/api/v1/me/export", alice.token);
    verifyError(refused, 429, "rate_limited");
    QCOMPARE(refused.json().value("error").toObject().value("rule").toString(),
             QStringLiteral("export"));
    QVERIFY(refused.header("Retry-After").toInt() > 0);
    refused = apiRequest(port, "GET", "/api/v1/me/export", alice.token);
    verifyError(refused, 429, "rate_limited");
    QCOMPARE(refused.json().value("error").toObject().value("rule").toString(),
             QStringLiteral("export"));
    // The refused POST stored nothing; the limit is per user.
    const RawResponse mine = apiRequest(port, "GET", "/api/v1/jobs?limit=100", alice.token);
    QVERIFY2(mine.status == 200, qPrintable(describe(mine)));
    QCOMPARE(idsOf(mine).size(), 10);
    for (qint64 id : std::as_const(submitted))
        QVERIFY(idsOf(mine).contains(id));
    const RawResponse other = apiRequest(port, "POST", "/api/v1/me/export", bob.token);
    QVERIFY2(other.status == 202, qPrintable(describe(other)));
}

// A record created through the data API is delivered to the webhook; the receiver's first
// answer is 500, so the same delivery comes again after the backoff and gets 200.
void TestJobsApi::webhookDeliveredAfterARetry()
{
    Receiver receiver({500, 200});
    QVERIFY(receiver.port() != 0);
    const QString url = QStringLiteral("http://127.0.0.1:%1/hook").arg(receiver.port());
    BULWARK_CHECK(startServer([&](Config &c) {
        WebhookConfig hook;
        hook.name = QStringLiteral("test");
        hook.url = url;
        hook.events = {QStringLiteral("record.created")};
        hook.secret = kWebhookSecret;
        c.webhooks.endpoints = {hook};
        c.webhooks.timeout = Milliseconds(5000);
    }));
    const TestAccount alice = addTestAccount(*m_server->app(), QStringLiteral("alice@example.com"));
    QVERIFY(!QTest::currentTestFailed());

    RawResponse r =
        apiRequest(m_server->port(), "POST", "/api/v1/activities", alice.token, activity());
    QVERIFY2(r.status == 201, qPrintable(describe(r)));
    const qint64 recordId = qint64(r.json().value("id").toDouble());
    QVERIFY(recordId > 0);

    QElapsedTimer timer;
    timer.start();
    for (int i = 0; i < 1000 && receiver.requests().size() < 2 && timer.elapsed() < 15000; ++i)
        QTest::qWait(20);
    const QList<RecordedRequest> requests = receiver.requests();
    QCOMPARE(requests.size(), 2);
    const qint64 now = QDateTime::currentMSecsSinceEpoch() / 1000;
    for (const RecordedRequest &req : requests) {
        QCOMPARE(req.method, QByteArray("POST"));
        QCOMPARE(req.target, QByteArray("/hook"));
        QCOMPARE(req.headers.value("content-type"), QByteArray("application/json"));
        QCOMPARE(req.headers.value("bulwark-event"), QByteArray("record.created"));
        QVERIFY(req.headers.value("user-agent").startsWith("Bulwark-Webhooks/"));
        const QByteArray signature = req.headers.value("bulwark-signature");
        QCOMPARE(verifyWebhookSignature(kWebhookSecret.toUtf8(), signature, req.body, now),
                 QString());
        QVERIFY(
            !verifyWebhookSignature("another-secret-of-16", signature, req.body, now).isEmpty());
        QVERIFY(signature.startsWith("t=" + req.headers.value("bulwark-timestamp") + ",v1="));
        const QJsonObject body = QJsonDocument::fromJson(req.body).object();
        QCOMPARE(body.value("event").toString(), QStringLiteral("record.created"));
        QCOMPARE(body.value("id").toString(),
                 QString::fromLatin1(req.headers.value("bulwark-delivery")));
        const QJsonObject data = body.value("data").toObject();
        QCOMPARE(data.value("collection").toString(), QStringLiteral("activities"));
        QCOMPARE(qint64(data.value("id").toDouble()), recordId);
        QCOMPARE(qint64(data.value("user_id").toDouble()), alice.id);
        QVERIFY(body.value("created_at").isString());
    }
    const QByteArray deliveryId = requests[0].headers.value("bulwark-delivery");
    QVERIFY(!deliveryId.isEmpty());
    QCOMPARE(requests[1].headers.value("bulwark-delivery"), deliveryId);
    QCOMPARE(requests[1].body, requests[0].body); // the same event, byte for byte
    // The retry came after the backoff (100 ms, no jitter).
    QVERIFY2(requests[1].receivedAtMs - requests[0].receivedAtMs >= 90,
             qPrintable(QString::number(requests[1].receivedAtMs - requests[0].receivedAtMs)));

    // The job succeeded on its second attempt.
    const RawResponse list = admin("GET", "/admin/api/jobs?type=webhook.deliver");
    QCOMPARE(idsOf(list).size(), 1);
    const qint64 jobId = idsOf(list).first();
    const QJsonObject job = waitForState(jobPath(jobId), {"succeeded", "dead"});
    QCOMPARE(job.value("state").toString(), QStringLiteral("succeeded"));
    QCOMPARE(job.value("attempts").toInt(), 2);
    QCOMPARE(job.value("queue").toString(), QStringLiteral("webhooks"));
    QCOMPARE(job.value("result").toObject().value("status").toInt(), 200);
    QCOMPARE(job.value("payload").toObject().value("webhook").toString(), QStringLiteral("test"));
    QCOMPARE(job.value("payload").toObject().value("delivery_id").toString(),
             QString::fromLatin1(deliveryId));

    // The delivery log, newest first.
    QJsonArray deliveries;
    for (int i = 0; i < 250; ++i) { // the second row is written just before the job finishes
        r = admin("GET", "/admin/api/webhooks/test/deliveries");
        QVERIFY2(r.status == 200, qPrintable(describe(r)));
        deliveries = r.json().value("deliveries").toArray();
        if (deliveries.size() >= 2)
            break;
        QTest::qWait(20);
    }
    QCOMPARE(deliveries.size(), 2);
    const QJsonObject newest = deliveries.at(0).toObject();
    const QJsonObject oldest = deliveries.at(1).toObject();
    QCOMPARE(newest.value("status").toInt(), 200);
    QCOMPARE(newest.value("attempt").toInt(), 2);
    QCOMPARE(newest.value("response").toString(), QStringLiteral("ok"));
    QVERIFY(newest.value("error").isNull());
    QCOMPARE(oldest.value("status").toInt(), 500);
    QCOMPARE(oldest.value("attempt").toInt(), 1);
    QCOMPARE(oldest.value("response").toString(), QStringLiteral("boom"));
    for (const QJsonObject &d : {newest, oldest}) {
        QCOMPARE(d.value("webhook").toString(), QStringLiteral("test"));
        QCOMPARE(d.value("event").toString(), QStringLiteral("record.created"));
        QCOMPARE(d.value("delivery_id").toString(), QString::fromLatin1(deliveryId));
        QCOMPARE(qint64(d.value("job_id").toDouble()), jobId);
        QVERIFY(d.value("duration_ms").isDouble());
        QVERIFY(d.value("at").isString());
    }
    QVERIFY(newest.value("id").toDouble() > oldest.value("id").toDouble());
    r = admin("GET", "/admin/api/webhooks/test/deliveries?limit=1");
    QCOMPARE(r.json().value("deliveries").toArray().size(), 1);
    QCOMPARE(r.json().value("next_before").toDouble(), newest.value("id").toDouble());
    r = admin("GET", QStringLiteral("/admin/api/webhooks/test/deliveries?before=%1")
                         .arg(qint64(newest.value("id").toDouble())));
    QCOMPARE(r.json().value("deliveries").toArray().size(), 1);
    QCOMPARE(r.json().value("deliveries").toArray().at(0).toObject().value("status").toInt(), 500);
    verifyError(admin("GET", "/admin/api/webhooks/nope/deliveries"), 404, "not_found", "nope");

    // The webhook list leaves the secret out.
    r = admin("GET", "/admin/api/webhooks");
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    QCOMPARE(
        compact(r.json()),
        QStringLiteral(R"({"webhooks":[{"events":["record.created"],"name":"test","url":"%1"}]})")
            .arg(url));
    QVERIFY(!r.body.contains(kWebhookSecret.toUtf8()));

    // Nothing more arrives (one event, delivered).
    QTest::qWait(300);
    QCOMPARE(receiver.requests().size(), 2);
}

// Credentials in a webhook's URL are configuration, not something the admin API shows.
void TestJobsApi::webhookListHidesUrlCredentials()
{
    BULWARK_CHECK(startServer([](Config &c) {
        WebhookConfig hook;
        hook.name = QStringLiteral("private");
        hook.url = QStringLiteral("http://user:secretpass@127.0.0.1:9/hook");
        hook.events = {QStringLiteral("record.created")};
        hook.secret = kWebhookSecret;
        c.webhooks.endpoints = {hook};
    }));
    const RawResponse r = admin("GET", "/admin/api/webhooks");
    QVERIFY2(r.status == 200, qPrintable(describe(r)));
    const QJsonArray hooks = r.json().value("webhooks").toArray();
    QCOMPARE(hooks.size(), 1);
    QCOMPARE(hooks.at(0).toObject().value("name").toString(), QStringLiteral("private"));
    QCOMPARE(hooks.at(0).toObject().value("url").toString(),
             QStringLiteral("http://127.0.0.1:9/hook"));
    QVERIFY2(!r.body.contains("secretpass"), r.body.constData());
    QVERIFY2(!r.body.contains("user:"), r.body.constData());
    QVERIFY(!r.body.contains(kWebhookSecret.toUtf8()));
}

void TestJobsApi::metricsExposeJobFamilies()
{
    BULWARK_CHECK(startServer());
    const qint64 ok = idOf(submit(QJsonObject{{"type", "noop"}}));
    const qint64 dead = idOf(submit(QJsonObject{
        {"type", "noop"}, {"payload", QJsonObject{{"fail_attempts", 1}, {"fatal", true}}}}));
    BULWARK_CHECK(waitForState(jobPath(ok), {"succeeded"}));
    BULWARK_CHECK(waitForState(jobPath(dead), {"dead"}));
    // A job held by a paused queue shows in the depth gauge (sampled every 2 s).
    BULWARK_CHECK(pauseDefaultQueue());
    QVERIFY(idOf(submit(QJsonObject{{"type", "noop"}})) > 0);

    const QByteArray readyLine =
        "bulwark_jobs_queue_depth{queue=\"default\",priority=\"normal\",state=\"ready\"} 1\n";
    RawResponse r;
    QElapsedTimer timer;
    timer.start();
    for (int i = 0; i < 200 && timer.elapsed() < 8000; ++i) {
        BULWARK_CHECK(fetch(m_server->port(), "/metrics", &r));
        QCOMPARE(r.status, 200);
        // The gauge is a snapshot taken every 2 s: wait for one taken after the pause (an
        // earlier one may show a job ready and none dead yet).
        if (r.body.contains(readyLine) && r.body.contains("bulwark_jobs_dead 1\n"))
            break;
        QTest::qWait(100);
    }
    QVERIFY2(r.body.contains(readyLine), r.body.constData());
    QVERIFY2(r.body.contains("bulwark_jobs_queue_depth{queue=\"default\",priority=\"normal\","
                             "state=\"running\"} 0\n"),
             r.body.constData());
    for (const QByteArray &line :
         {QByteArray("# TYPE bulwark_jobs_finished_total counter\n"),
          QByteArray("bulwark_jobs_finished_total{type=\"noop\",outcome=\"succeeded\"} 1\n"),
          QByteArray("bulwark_jobs_finished_total{type=\"noop\",outcome=\"dead\"} 1\n"),
          QByteArray("bulwark_jobs_enqueued_total{type=\"noop\"} 3\n"),
          QByteArray("# TYPE bulwark_jobs_queue_depth gauge\n"),
          QByteArray("# TYPE bulwark_job_run_seconds histogram\n"),
          QByteArray("bulwark_job_run_seconds_count{type=\"noop\"} 2\n"),
          QByteArray("bulwark_job_run_seconds_bucket{type=\"noop\",le=\"+Inf\"} 2\n"),
          QByteArray("bulwark_jobs_dead 1\n")})
        QVERIFY2(r.body.contains(line), line.constData());
}

// The event bus's counters: events accepted (a record.created for the webhook's
// subscription), none dropped, no handler threw.
void TestJobsApi::metricsExposeEventCounters()
{
    Receiver receiver({});
    QVERIFY(receiver.port() != 0);
    BULWARK_CHECK(startServer([&](Config &c) {
        WebhookConfig hook;
        hook.name = QStringLiteral("test");
        hook.url = QStringLiteral("http://127.0.0.1:%1/hook").arg(receiver.port());
        hook.events = {QStringLiteral("record.created")};
        hook.secret = kWebhookSecret;
        c.webhooks.endpoints = {hook};
    }));
    const TestAccount alice = addTestAccount(*m_server->app(), QStringLiteral("alice@example.com"));
    QVERIFY(!QTest::currentTestFailed());
    const RawResponse created =
        apiRequest(m_server->port(), "POST", "/api/v1/activities", alice.token, activity());
    QVERIFY2(created.status == 201, qPrintable(describe(created)));
    // Delivered: the event went through the bus and its handler enqueued the job.
    QElapsedTimer timer;
    timer.start();
    while (receiver.requests().isEmpty() && timer.elapsed() < 10000)
        QTest::qWait(20);
    QCOMPARE(receiver.requests().size(), 1);

    RawResponse r;
    BULWARK_CHECK(fetch(m_server->port(), "/metrics", &r));
    QCOMPARE(r.status, 200);
    for (const QByteArray &line :
         {QByteArray("# TYPE bulwark_events_emitted_total counter\n"),
          QByteArray("# TYPE bulwark_events_dropped_total counter\n"),
          QByteArray("# TYPE bulwark_event_handler_errors_total counter\n"),
          QByteArray("\nbulwark_events_dropped_total 0\n"),
          QByteArray("\nbulwark_event_handler_errors_total 0\n")})
        QVERIFY2(r.body.contains(line), line.constData());
    const QByteArray prefix = "\nbulwark_events_emitted_total ";
    const qsizetype at = r.body.indexOf(prefix);
    QVERIFY2(at >= 0, r.body.constData());
    const qsizetype end = r.body.indexOf('\n', at + prefix.size());
    bool ok = false;
    const qint64 emitted = r.body.mid(at + prefix.size(), end - at - prefix.size()).toLongLong(&ok);
    QVERIFY2(ok && emitted >= 1, r.body.mid(at, end - at + 1).constData());
}

// The events the server emits besides job events, as an in-process subscriber sees them:
// record.created, cache.invalidated from a write and from the cache admin API,
// ratelimit.exceeded, user.deleted and config.reloaded.
void TestJobsApi::eventsOfWritesAndAdminActions()
{
    startServer([](Config &c) {
        c.ratelimit.enabled = true;
        RateLimitRuleConfig tiny;
        tiny.name = QStringLiteral("tiny");
        tiny.route = QStringLiteral("/api/v1/body_measurements");
        tiny.methods = {QStringLiteral("GET")};
        tiny.scope = {QStringLiteral("user")};
        tiny.limit = 1;
        tiny.window = Milliseconds(3'600'000);
        c.ratelimit.rules = {tiny};
    });
    EventBus &bus = m_server->app()->events();
    std::mutex mutex;
    QList<Event> seen;
    const quint64 id = bus.subscribe(QStringLiteral("*"), [&](const Event &e) {
        std::lock_guard lock(mutex);
        seen.append(e);
    });
    auto named = [&](const QString &name) {
        std::lock_guard lock(mutex);
        QList<Event> out;
        for (const Event &e : std::as_const(seen))
            if (e.name == name)
                out.append(e);
        return out;
    };
    const TestAccount alice = addTestAccount(*m_server->app(), QStringLiteral("alice@example.com"));
    const RawResponse created =
        apiRequest(m_server->port(), "POST", QStringLiteral("/api/v1/body_measurements"),
                   alice.token,
                   QJsonObject{{QStringLiteral("measured_at"), QStringLiteral("2026-11-28T07:00:00Z")},
                               {QStringLiteral("weight_kg"), 70.5}});
    QCOMPARE(created.status, 201);
    // A batch announces each operation as the request it stands for.
    const RawResponse batch = apiRequest(
        m_server->port(), "POST", QStringLiteral("/api/v1/batch"), alice.token,
        QJsonObject{{QStringLiteral("operations"),
                     QJsonArray{QJsonObject{
                         {QStringLiteral("op"), QStringLiteral("create")},
                         {QStringLiteral("collection"), QStringLiteral("body_measurements")},
                         {QStringLiteral("data"),
                          QJsonObject{{QStringLiteral("measured_at"),
                                       QStringLiteral("2026-11-28T08:00:00Z")},
                                      {QStringLiteral("weight_kg"), 70.4}}}}}}});
    QVERIFY2(batch.status == 200, qPrintable(describe(batch)));
    const RawResponse flushed = admin("POST", QStringLiteral("/admin/api/cache/flush"));
    QCOMPARE(flushed.status, 200);
    for (int status : {200, 429})
        QCOMPARE(apiRequest(m_server->port(), "GET", QStringLiteral("/api/v1/body_measurements"),
                            alice.token)
                     .status,
                 status);
    QCOMPARE(apiRequest(m_server->port(), "DELETE", QStringLiteral("/api/v1/me"), alice.token).status,
             200);
    m_server->app()->reload(m_server->config);
    bus.flush();

    const QList<Event> records = named(QStringLiteral("record.created"));
    QCOMPARE(records.size(), 2);
    QCOMPARE(qint64(records.at(1).payload.value(QStringLiteral("id")).toDouble()),
             qint64(batch.json()
                        .value(QStringLiteral("results"))
                        .toArray()
                        .at(0)
                        .toObject()
                        .value(QStringLiteral("id"))
                        .toDouble()));
    QCOMPARE(records.first().payload.value(QStringLiteral("collection")).toString(),
             QStringLiteral("body_measurements"));
    QCOMPARE(qint64(records.first().payload.value(QStringLiteral("user_id")).toDouble()), alice.id);
    const QList<Event> invalidated = named(QStringLiteral("cache.invalidated"));
    QCOMPARE(invalidated.size(), 4); // the create, the batch, the flush, the erasure
    QCOMPARE(invalidated.at(3).payload.value(QStringLiteral("reason")).toString(),
             QStringLiteral("write"));
    QCOMPARE(invalidated.at(0).payload.value(QStringLiteral("reason")).toString(),
             QStringLiteral("write"));
    QVERIFY(invalidated.at(0)
                .payload.value(QStringLiteral("tags"))
                .toArray()
                .contains(QStringLiteral("body_measurements")));
    QCOMPARE(invalidated.at(2).payload.value(QStringLiteral("reason")).toString(),
             QStringLiteral("admin"));
    QCOMPARE(invalidated.at(2).payload.value(QStringLiteral("flush")).toBool(), true);
    const QList<Event> limited = named(QStringLiteral("ratelimit.exceeded"));
    QCOMPARE(limited.size(), 1);
    QCOMPARE(limited.first().payload.value(QStringLiteral("rule")).toString(), QStringLiteral("tiny"));
    QCOMPARE(limited.first().payload.value(QStringLiteral("path")).toString(),
             QStringLiteral("/api/v1/body_measurements"));
    const QList<Event> deleted = named(QStringLiteral("user.deleted"));
    QCOMPARE(deleted.size(), 1);
    QCOMPARE(qint64(deleted.first().payload.value(QStringLiteral("user_id")).toDouble()), alice.id);
    QCOMPARE(deleted.first().payload.value(QStringLiteral("by")).toString(), QStringLiteral("self"));
    QCOMPARE(named(QStringLiteral("config.reloaded")).size(), 1);
    bus.unsubscribe(id);
}

// A bulk filter value that reads as nothing must not widen the action to every job, and
// the text filter matches in any case (the same on SQLite and PostgreSQL).
void TestJobsApi::filterValuesThatSayNothingAreRefused()
{
    startServer();
    pauseDefaultQueue();
    const QJsonObject job = submit(QJsonObject{{"type", "noop"}, {"payload", QJsonObject{{"tag", "MixedCase"}}}});
    QVERIFY(!QTest::currentTestFailed());
    for (const QJsonValue &nothing :
         {QJsonValue(), QJsonValue(true), QJsonValue(QString()), QJsonValue(QJsonArray{}),
          QJsonValue(QJsonObject{})}) {
        QJsonObject filter{{"owner", nothing}};
        verifyError(admin("POST", "/admin/api/jobs/bulk",
                          QJsonObject{{"action", "delete"}, {"filter", filter}}),
                    400, "bad_request", "filter.owner");
    }
    verifyError(admin("POST", "/admin/api/jobs/bulk",
                      QJsonObject{{"action", "delete"}, {"filter", QJsonValue(5)}}),
                400, "bad_request", "filter");
    QCOMPARE(admin("GET", QStringLiteral("/admin/api/jobs/%1").arg(idOf(job))).status, 200);
    const QList<qint64> found = idsOf(admin("GET", "/admin/api/jobs?q=mixedcase"));
    QCOMPARE(found, QList<qint64>{idOf(job)});
}

QTEST_GUILESS_MAIN(TestJobsApi)
#include "tst_jobs_api.moc"
