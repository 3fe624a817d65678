// SPDX-License-Identifier: GPL-3.0-or-later
// LoadTestRunStore through the real ConnectionPool and the internal migrations: a run saved
// and read back column for column (JSON included); saving again updates in place; ids and
// unique prefixes of at least 8 characters, ambiguous and unknown ones with their messages;
// the list newest first, paged, without the report; remove by id or prefix; a run without
// an id refused.
//
// One source, two executables: tst_loadtestrunstore runs on a SQLite file in a temporary
// directory (unit); tst_loadtestrunstore_postgres (tests/integration, BULWARK_TEST_POSTGRES
// defined) runs the same checks on a real PostgreSQL from the harness, whose absence is a
// failure.
#include "ConnectionPool.h"
#include "InternalSchema.h"
#include "LoadTestRunStore.h"
#include "MigratedDatabase.h"
#include "Migrator.h"

#ifdef BULWARK_TEST_POSTGRES
#include "ExternalServers.h"
#endif

#include <QJsonArray>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QtTest>

using namespace bulwark;
using namespace std::chrono_literals;

namespace {

constexpr qint64 kT0 = 1'700'000'000'000; // 2023-11-14T22:13:20Z

template <typename T> QString errorOf(const Result<T> &r)
{
    return r.ok() ? QString() : r.error().message;
}

#define VERIFY_OK(expr)                                                                            \
    do {                                                                                           \
        const auto &verifyOk_ = (expr);                                                            \
        QVERIFY2(verifyOk_.ok(), qPrintable(errorOf(verifyOk_)));                                  \
    } while (false)

LoadTestRunRow run(const QString &id, qint64 startedAtMs,
                   const QString &status = QStringLiteral("passed"))
{
    LoadTestRunRow r;
    r.id = id;
    r.name = QStringLiteral("checkout");
    r.target = QStringLiteral("http://127.0.0.1:8080");
    r.model = QStringLiteral("closed");
    r.status = status;
    r.startedAtMs = startedAtMs;
    r.durationMs = 60'000;
    r.requests = 12345;
    r.failures = 67;
    r.rps = 205.75;
    r.p95Ns = 12'500'000;
    r.scenario = QJsonObject{{QStringLiteral("name"), QStringLiteral("checkout")},
                             {QStringLiteral("users"), 50}};
    r.report = QJsonObject{{QStringLiteral("status"), status},
                           {QStringLiteral("series"), QJsonArray{QJsonObject{{"t", 0}}}}};
    r.updatedAtMs = startedAtMs + 60'000;
    return r;
}

void compareRows(const LoadTestRunRow &a, const LoadTestRunRow &b, bool withReport)
{
    QCOMPARE(a.id, b.id);
    QCOMPARE(a.name, b.name);
    QCOMPARE(a.target, b.target);
    QCOMPARE(a.model, b.model);
    QCOMPARE(a.status, b.status);
    QCOMPARE(a.startedAtMs, b.startedAtMs);
    QCOMPARE(a.durationMs, b.durationMs);
    QCOMPARE(a.requests, b.requests);
    QCOMPARE(a.failures, b.failures);
    QCOMPARE(a.rps, b.rps);
    QCOMPARE(a.p95Ns, b.p95Ns);
    QCOMPARE(a.scenario, b.scenario);
    QCOMPARE(a.updatedAtMs, b.updatedAtMs);
    if (withReport)
        QCOMPARE(a.report, b.report);
    else
        QVERIFY(a.report.isEmpty());
}

} // namespace

class TestLoadTestRunStore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();
    void cleanup();

    void migrationIsTheLatest();
    void saveAndGet();
    void saveUpdatesInPlace();
    void needsAnId();
    void prefixes_data();
    void prefixes();
    void listNewestFirst();
    void remove();
    void lifecycle();

private:
    std::shared_ptr<Dialect> m_dialect;
    SteadyClock m_clock;
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<ConnectionPool> m_pool;
    std::unique_ptr<LoadTestRunStore> m_store;
#ifdef BULWARK_TEST_POSTGRES
    test::PostgresServer m_pg;
#endif
};

void TestLoadTestRunStore::initTestCase()
{
#ifdef BULWARK_TEST_POSTGRES
    QVERIFY2(m_pg.start(), qPrintable(m_pg.errorString()));
#endif
}

void TestLoadTestRunStore::cleanupTestCase()
{
#ifdef BULWARK_TEST_POSTGRES
    m_pg.stop();
#endif
}

void TestLoadTestRunStore::init()
{
#ifdef BULWARK_TEST_POSTGRES
    PostgresDialect::Params params;
    params.host = m_pg.host();
    params.port = m_pg.port();
    params.database = m_pg.database();
    params.user = m_pg.user();
    params.connectTimeoutSeconds = 2;
    m_dialect = std::make_shared<PostgresDialect>(params);
#else
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_dialect = std::make_shared<SqliteDialect>(m_dir->filePath(QStringLiteral("runs.db")), 5000ms);
#endif
    PoolOptions options;
    options.maxSize = 4;
    options.acquireTimeout = 5000ms;
    options.pingAfterIdle = 3'600'000ms;
    options.idleTimeout = 3'600'000ms;
    options.maxLifetime = 3'600'000ms * 24;
    m_pool = std::make_unique<ConnectionPool>(m_dialect, options, m_clock);
    const QString migrated = test::migrateInternalTables(*m_pool, *m_dialect);
    QVERIFY2(migrated.isEmpty(), qPrintable(migrated));
    m_store = std::make_unique<LoadTestRunStore>(*m_pool, nullptr);
}

void TestLoadTestRunStore::cleanup()
{
    m_store.reset();
    if (m_pool)
        m_pool->closeThreadConnections();
    m_pool.reset();
    m_dir.reset();
}

void TestLoadTestRunStore::migrationIsTheLatest()
{
    const QList<Migration> migrations = internalMigrations();
    QCOMPARE(migrations.size(), 4);
    QCOMPARE(migrations.last().version, 4);
    auto lease = m_pool->acquire();
    QVERIFY(lease.ok());
    QSqlQuery q(lease.value().database());
    QVERIFY2(q.exec(QStringLiteral("SELECT max(version) FROM schema_migrations")) && q.next(),
             qPrintable(q.lastError().text()));
    QCOMPARE(q.value(0).toInt(), 4);
}

void TestLoadTestRunStore::saveAndGet()
{
    const LoadTestRunRow row = run(QStringLiteral("0b7c2a34-5d6e-4f70-8192-a3b4c5d6e7f8"), kT0);
    VERIFY_OK(m_store->save(row));
    const auto got = m_store->get(row.id);
    VERIFY_OK(got);
    compareRows(got.value(), row, true);
    const auto n = m_store->count();
    VERIFY_OK(n);
    QCOMPARE(n.value(), qint64(1));

    // Empty strings and objects stay empty (NOT NULL columns); updated_at 0 means now.
    LoadTestRunRow bare;
    bare.id = QStringLiteral("11111111-0000-0000-0000-000000000000");
    const qint64 before = QDateTime::currentMSecsSinceEpoch();
    VERIFY_OK(m_store->save(bare));
    const auto back = m_store->get(bare.id);
    VERIFY_OK(back);
    QCOMPARE(back.value().name, QString());
    QVERIFY(back.value().report.isEmpty());
    QVERIFY(back.value().updatedAtMs >= before);
    QVERIFY(back.value().updatedAtMs <= QDateTime::currentMSecsSinceEpoch());
}

void TestLoadTestRunStore::saveUpdatesInPlace()
{
    LoadTestRunRow row =
        run(QStringLiteral("0b7c2a34-5d6e-4f70-8192-a3b4c5d6e7f8"), kT0, QStringLiteral("running"));
    VERIFY_OK(m_store->save(row));
    // The runner's per-second saves: the series grows, the totals move.
    QJsonArray series;
    for (int s = 0; s < 30; ++s) {
        series.append(QJsonObject{{QStringLiteral("t"), s}, {QStringLiteral("requests"), 100 + s}});
        row.requests = 100 * (s + 1);
        row.durationMs = 1000 * (s + 1);
        row.updatedAtMs = kT0 + 1000 * (s + 1);
        row.report = QJsonObject{{QStringLiteral("status"), QStringLiteral("running")},
                                 {QStringLiteral("series"), series}};
        VERIFY_OK(m_store->save(row));
    }
    row.status = QStringLiteral("failed");
    row.name = QStringLiteral("renamed");
    row.rps = 99.5;
    row.p95Ns = 42;
    VERIFY_OK(m_store->save(row));
    const auto got = m_store->get(row.id);
    VERIFY_OK(got);
    compareRows(got.value(), row, true);
    QCOMPARE(got.value().report.value(QLatin1String("series")).toArray().size(), 30);
    QCOMPARE(m_store->count().value(), qint64(1));
}

void TestLoadTestRunStore::needsAnId()
{
    const auto saved = m_store->save(run(QString(), kT0));
    QVERIFY(!saved.ok());
    QCOMPARE(saved.error().code, ErrorCode::Unprocessable);
    QCOMPARE(m_store->count().value(), qint64(0));
}

void TestLoadTestRunStore::prefixes_data()
{
    QTest::addColumn<QString>("lookup");
    QTest::addColumn<QString>("found"); // empty: an error
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("message");
    const int none = -1;
    const int notFound = int(ErrorCode::NotFound);
    QTest::newRow("full id") << "abcdef01-1111-4000-8000-000000000001"
                             << "abcdef01-1111-4000-8000-000000000001" << none << "";
    QTest::newRow("unique prefix of 8") << "abcdef02"
                                        << "abcdef02-2222-4000-8000-000000000002" << none << "";
    QTest::newRow("longer unique prefix") << "abcdef03-3333-4000-8000-0000000000"
                                          << "abcdef03-3333-4000-8000-000000000003" << none << "";
    QTest::newRow("ambiguous") << "abcdef01-1111"
                               << "" << int(ErrorCode::BadRequest)
                               << "\"abcdef01-1111\" is the start of several load-test runs "
                                  "(abcdef01-1111-4000-8000-000000000001, "
                                  "abcdef01-1111-4000-8000-000000000009, ...); give more of the id";
    QTest::newRow("too short") << "abcdef0"
                               << "" << notFound
                               << "no load-test run \"abcdef0\" (a prefix of an id needs at "
                                  "least 8 characters)";
    QTest::newRow("unknown") << "99999999"
                             << "" << notFound << "no load-test run \"99999999\"";
    QTest::newRow("case matters") << "ABCDEF02"
                                  << "" << notFound << "no load-test run \"ABCDEF02\"";
    QTest::newRow("like wildcards are plain") << "abcdef0%"
                                              << "" << notFound << "no load-test run \"abcdef0%\"";
    QTest::newRow("empty") << ""
                           << "" << notFound
                           << "no load-test run \"\" (a prefix of an id needs at least 8 "
                              "characters)";
}

void TestLoadTestRunStore::prefixes()
{
    QFETCH(QString, lookup);
    QFETCH(QString, found);
    QFETCH(int, code);
    QFETCH(QString, message);
    for (const char *id :
         {"abcdef01-1111-4000-8000-000000000001", "abcdef01-1111-4000-8000-000000000009",
          "abcdef02-2222-4000-8000-000000000002", "abcdef03-3333-4000-8000-000000000003"})
        VERIFY_OK(m_store->save(run(QString::fromLatin1(id), kT0)));
    const auto got = m_store->get(lookup);
    if (!found.isEmpty()) {
        VERIFY_OK(got);
        QCOMPARE(got.value().id, found);
        QCOMPARE(got.value().report, run(found, kT0).report);
        return;
    }
    QVERIFY(!got.ok());
    QCOMPARE(int(got.error().code), code);
    QCOMPARE(got.error().message, message);
}

void TestLoadTestRunStore::listNewestFirst()
{
    // Started in this order: c (oldest), a, b (newest); d shares b's start and sorts by id.
    VERIFY_OK(m_store->save(run(QStringLiteral("cccccccc-0000"), kT0)));
    VERIFY_OK(m_store->save(run(QStringLiteral("aaaaaaaa-0000"), kT0 + 1000)));
    VERIFY_OK(m_store->save(run(QStringLiteral("bbbbbbbb-0000"), kT0 + 2000)));
    VERIFY_OK(m_store->save(run(QStringLiteral("dddddddd-0000"), kT0 + 2000)));
    const auto all = m_store->list(10);
    VERIFY_OK(all);
    QStringList ids;
    for (const LoadTestRunRow &r : all.value())
        ids.append(r.id);
    QCOMPARE(ids,
             (QStringList{"dddddddd-0000", "bbbbbbbb-0000", "aaaaaaaa-0000", "cccccccc-0000"}));
    compareRows(all.value().at(2), run(QStringLiteral("aaaaaaaa-0000"), kT0 + 1000), false);

    const auto page = m_store->list(2, 1);
    VERIFY_OK(page);
    QCOMPARE(page.value().size(), 2);
    QCOMPARE(page.value().at(0).id, QStringLiteral("bbbbbbbb-0000"));
    QCOMPARE(page.value().at(1).id, QStringLiteral("aaaaaaaa-0000"));
    QCOMPARE(m_store->list(10, 4).value().size(), 0);
    QCOMPARE(m_store->list(0).value().size(), 0);
    QCOMPARE(m_store->list(-5, -5).value().size(), 0);
    QCOMPARE(m_store->count().value(), qint64(4));
}

void TestLoadTestRunStore::remove()
{
    VERIFY_OK(m_store->save(run(QStringLiteral("abcdef01-1111-4000-8000-000000000001"), kT0)));
    VERIFY_OK(m_store->save(run(QStringLiteral("abcdef02-2222-4000-8000-000000000002"), kT0)));
    const auto removed = m_store->remove(QStringLiteral("abcdef01"));
    VERIFY_OK(removed);
    QCOMPARE(removed.value(), QStringLiteral("abcdef01-1111-4000-8000-000000000001"));
    const auto gone = m_store->get(QStringLiteral("abcdef01-1111-4000-8000-000000000001"));
    QVERIFY(!gone.ok());
    QCOMPARE(gone.error().code, ErrorCode::NotFound);
    const auto again = m_store->remove(QStringLiteral("abcdef01"));
    QVERIFY(!again.ok());
    QCOMPARE(again.error().code, ErrorCode::NotFound);
    QCOMPARE(m_store->count().value(), qint64(1));
    VERIFY_OK(m_store->remove(QStringLiteral("abcdef02-2222-4000-8000-000000000002")));
    QCOMPARE(m_store->count().value(), qint64(0));
}

// The lifecycle the job and the API drive: begin only from queued (or no row), progress
// only while running, a stop through the row that the next progress reports, the job id
// kept by saves that do not carry one.
void TestLoadTestRunStore::lifecycle()
{
    const QString id = QStringLiteral("22222222-0000-0000-0000-000000000000");
    LoadTestRunRow queued = run(id, kT0, QStringLiteral("queued"));
    VERIFY_OK(m_store->save(queued));
    auto set = m_store->setJobId(id, 41);
    VERIFY_OK(set);
    QVERIFY(set.value());

    // queued -> running; a second begin (a repeat of the job) is refused with the status.
    LoadTestRunRow starting = run(id, kT0 + 5, QStringLiteral("running"));
    starting.jobId = 0; // carries none: the stored one stays
    QString found;
    auto begun = m_store->begin(starting, &found);
    VERIFY_OK(begun);
    QVERIFY(begun.value());
    auto row = m_store->get(id);
    VERIFY_OK(row);
    QCOMPARE(row.value().status, QStringLiteral("running"));
    QCOMPARE(row.value().startedAtMs, kT0 + 5);
    begun = m_store->begin(starting, &found);
    VERIFY_OK(begun);
    QVERIFY(!begun.value());
    QCOMPARE(found, QStringLiteral("running"));

    // Progress is written while running; a stop makes the next progress say no.
    LoadTestRunRow live = run(id, kT0 + 5, QStringLiteral("running"));
    live.requests = 777;
    auto progressed = m_store->saveProgress(live);
    VERIFY_OK(progressed);
    QVERIFY(progressed.value());
    QCOMPARE(m_store->get(id).value().requests, qint64(777));
    auto stopped = m_store->requestStop(id.left(8));
    VERIFY_OK(stopped);
    QCOMPARE(stopped.value(), id);
    QCOMPARE(m_store->get(id).value().status, QStringLiteral("stopping"));
    VERIFY_OK(m_store->requestStop(id)); // asked twice: the same answer
    live.requests = 800;
    progressed = m_store->saveProgress(live);
    VERIFY_OK(progressed);
    QVERIFY(!progressed.value());
    QCOMPARE(m_store->get(id).value().requests, qint64(777)); // not written

    // The final save keeps the job id it does not carry; an ended run refuses a stop.
    LoadTestRunRow done = run(id, kT0 + 5, QStringLiteral("stopped"));
    VERIFY_OK(m_store->save(done));
    QCOMPARE(m_store->get(id).value().jobId, qint64(41));
    const auto again = m_store->requestStop(id);
    QVERIFY(!again.ok());
    QCOMPARE(again.error().code, ErrorCode::Conflict);
    QVERIFY(again.error().message.contains(QStringLiteral("already ended (stopped)")));

    // A run stopped before it began is not begun; a run with no row gets one, running.
    const QString early = QStringLiteral("33333333-0000-0000-0000-000000000000");
    VERIFY_OK(m_store->save(run(early, kT0, QStringLiteral("queued"))));
    VERIFY_OK(m_store->requestStop(early));
    begun = m_store->begin(run(early, kT0, QStringLiteral("running")), &found);
    VERIFY_OK(begun);
    QVERIFY(!begun.value());
    QCOMPARE(found, QStringLiteral("stopping"));
    const QString fresh = QStringLiteral("44444444-0000-0000-0000-000000000000");
    LoadTestRunRow direct = run(fresh, kT0, QStringLiteral("running"));
    direct.jobId = 9;
    begun = m_store->begin(direct, &found);
    VERIFY_OK(begun);
    QVERIFY(begun.value());
    QCOMPARE(m_store->get(fresh).value().status, QStringLiteral("running"));
    QCOMPARE(m_store->get(fresh).value().jobId, qint64(9));
}

QTEST_GUILESS_MAIN(TestLoadTestRunStore)
#include "tst_loadtestrunstore.moc"
