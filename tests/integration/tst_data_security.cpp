// SPDX-License-Identifier: GPL-3.0-or-later
// The data API's promises about people's data, checked black-box over HTTP against the real
// server (TestServer) with the demo schema, on SQLite and on a real PostgreSQL from the
// harness (each test's data rows; a missing PostgreSQL is a failure, never a skip):
//
//   - owner isolation: a user never reads, lists, filters, expands into, references,
//     changes or deletes another user's rows, nor takes a row over or writes one in another
//     user's name, and reports show only the caller's data; an admin sees every row;
//   - GDPR: the export holds every row the user owns and nothing of anyone else; erasure
//     (by the user, or by an admin; not by another user) leaves no row with their id in any
//     collection, no key, no account (checked with direct SQL on the same database), their
//     keys stop working, other users' data stays, and the audit record of the erasure holds
//     neither their email nor their id;
//   - overload and outage: with the only pool connection held, an API request gets 503 with
//     Retry-After and the JSON error shape after about acquire_timeout, and 200 once it is
//     free; with PostgreSQL stopped under a running server, requests get 503 + Retry-After
//     quickly (no crash, no hang) and succeed again within seconds of its restart on the
//     same port.
#include "ExternalServers.h"
#include "TestSupport.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QTemporaryDir>
#include <QThread>
#include <QUrl>
#include <QtTest>
#include <atomic>

using namespace bulwark;
using namespace bulwark::test;

namespace {

using Account = TestAccount;

RawResponse api(quint16 port, const QByteArray &method, const QString &target,
                const QByteArray &token, const QJsonObject &body = {}, int timeoutMs = 10000)
{
    return apiRequest(port, method, target, token, body, timeoutMs);
}

QString describe(const QByteArray &method, const QString &target, const RawResponse &r)
{
    return QStringLiteral("%1 %2 -> %3 %4")
        .arg(QString::fromLatin1(method), target)
        .arg(r.status)
        .arg(QString::fromUtf8(r.body.left(600)));
}

QString filterQuery(const QString &filter)
{
    return QStringLiteral("filter=") + QString::fromLatin1(QUrl::toPercentEncoding(filter));
}

QList<qint64> idsOf(const QJsonArray &rows)
{
    QList<qint64> ids;
    for (const QJsonValue &row : rows)
        ids.append(row.toObject().value(QStringLiteral("id")).toInteger());
    std::sort(ids.begin(), ids.end());
    return ids;
}

QList<qint64> sorted(QList<qint64> ids)
{
    std::sort(ids.begin(), ids.end());
    return ids;
}

QJsonObject activity(const QString &sport, const QString &startedAt)
{
    return QJsonObject{
        {"sport", sport}, {"started_at", startedAt}, {"duration_s", 1800}, {"distance_m", 5000.0}};
}

QJsonObject split(qint64 activityId, int km)
{
    return QJsonObject{{"activity_id", double(activityId)}, {"km", km}, {"duration_s", 300.5}};
}

QJsonObject nutrition(const QString &food)
{
    return QJsonObject{
        {"eaten_at", "2024-03-04T12:00:00Z"}, {"meal", "lunch"}, {"food", food}, {"kcal", 650}};
}

QJsonObject measurement(double kg)
{
    return QJsonObject{{"measured_at", "2024-03-04T06:30:00Z"}, {"weight_kg", kg}};
}

const QStringList kCollections{QStringLiteral("activities"), QStringLiteral("splits"),
                               QStringLiteral("nutrition_entries"),
                               QStringLiteral("body_measurements")};

// A connection of the test's own to the server's database, for checks behind the API's
// back: the SQLite file in the data directory, or the PostgreSQL database.
class DirectDb
{
public:
    DirectDb(const QString &backend, const QString &dataDir, const PostgresServer &pg)
        : m_name(QStringLiteral("direct-%1").arg(++s_serial)),
          m_postgres(backend == QLatin1String("postgres"))
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(
            m_postgres ? QStringLiteral("QPSQL") : QStringLiteral("QSQLITE"), m_name);
        if (m_postgres) {
            db.setHostName(pg.host());
            db.setPort(pg.port());
            db.setDatabaseName(pg.database());
            db.setUserName(pg.user());
            db.setConnectOptions(QStringLiteral("connect_timeout=3"));
        } else {
            db.setDatabaseName(dataDir + QStringLiteral("/bulwark.db"));
            db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=5000"));
        }
        if (!db.open())
            QTest::qFail(
                qPrintable(QStringLiteral("direct database connection: ") + db.lastError().text()),
                __FILE__, __LINE__);
    }
    ~DirectDb()
    {
        {
            QSqlDatabase db = QSqlDatabase::database(m_name, false);
            db.close();
        }
        QSqlDatabase::removeDatabase(m_name);
    }
    Q_DISABLE_COPY_MOVE(DirectDb)

    QVariant scalar(const QString &sql, const QVariantList &binds = {})
    {
        QSqlQuery q(QSqlDatabase::database(m_name, false));
        q.prepare(sql);
        for (const QVariant &b : binds)
            q.addBindValue(b);
        if (!q.exec() || !q.next()) {
            QTest::qFail(qPrintable(sql + QStringLiteral(": ") + q.lastError().text()), __FILE__,
                         __LINE__);
            return {};
        }
        return q.value(0);
    }
    int count(const QString &table, const QString &where, const QVariantList &binds = {})
    {
        return scalar(QStringLiteral("SELECT COUNT(*) FROM %1 WHERE %2").arg(table, where), binds)
            .toInt();
    }
    QList<QStringList> rows(const QString &sql)
    {
        QList<QStringList> out;
        QSqlQuery q(QSqlDatabase::database(m_name, false));
        if (!q.exec(sql))
            QTest::qFail(qPrintable(sql + QStringLiteral(": ") + q.lastError().text()), __FILE__,
                         __LINE__);
        while (q.next()) {
            QStringList row;
            for (int i = 0; i < q.record().count(); ++i)
                row.append(q.value(i).toString());
            out.append(row);
        }
        return out;
    }
    // The next user gets id `next` (so that a test can look for a distinctive id).
    void setNextUserId(qint64 next)
    {
        QSqlQuery q(QSqlDatabase::database(m_name, false));
        const bool ok =
            m_postgres
                ? q.exec(QStringLiteral("SELECT setval('users_id_seq', %1)").arg(next - 1))
                : q.exec(QStringLiteral("UPDATE sqlite_sequence SET seq = %1 WHERE name = 'users'")
                             .arg(next - 1)) &&
                      q.numRowsAffected() == 1;
        if (!ok)
            QTest::qFail(
                qPrintable(QStringLiteral("setting the next user id: ") + q.lastError().text()),
                __FILE__, __LINE__);
    }

private:
    static inline std::atomic<int> s_serial{0};
    QString m_name;
    bool m_postgres;
};

} // namespace

class TestDataSecurity : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanupTestCase();

    void ownerIsolation_data();
    void ownerIsolation();
    void adminSeesEveryone_data();
    void adminSeesEveryone();
    void exportHoldsOwnRowsOnly_data();
    void exportHoldsOwnRowsOnly();
    void eraseOwnAccount_data();
    void eraseOwnAccount();
    void adminErasesAccount_data();
    void adminErasesAccount();
    void poolExhaustionIs503_data();
    void poolExhaustionIs503();
    void smallPoolServesEveryWorker_data();
    void smallPoolServesEveryWorker();
    void postgresStoppedUnderRequests();
    void reportsCannotWrite_data();
    void reportsCannotWrite();
    void logoutAndKeyRevocation_data();
    void logoutAndKeyRevocation();
    void abandonedRequestsAreNotRun();

private:
    static void addBackends();
    // Starts `server` on the backend (a fresh PostgreSQL database for "postgres").
    void startServer(TestServer &server, const QString &backend);
    void ensurePostgres();
    void resetPostgres();
    Account addAccount(TestServer &server, const QString &email,
                       const QString &role = QStringLiteral("user"));
    QByteArray newKey(TestServer &server, qint64 userId);
    qint64 create(TestServer &server, const Account &who, const QString &collection,
                  const QJsonObject &body);
    QJsonObject getJson(TestServer &server, const Account &who, const QString &target,
                        int expectStatus = 200);

    PostgresServer m_pg;
    bool m_pgStarted = false;
};

void TestDataSecurity::cleanupTestCase()
{
    if (m_pgStarted)
        m_pg.stop();
}

void TestDataSecurity::addBackends()
{
    QTest::addColumn<QString>("backend");
    QTest::newRow("sqlite") << QStringLiteral("sqlite");
    QTest::newRow("postgres") << QStringLiteral("postgres");
}

void TestDataSecurity::ensurePostgres()
{
    if (m_pgStarted)
        return;
    QVERIFY2(m_pg.start(), qPrintable(m_pg.errorString()));
    m_pgStarted = true;
}

void TestDataSecurity::resetPostgres()
{
    const QString name = QStringLiteral("reset");
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), name);
        db.setHostName(m_pg.host());
        db.setPort(m_pg.port());
        db.setDatabaseName(m_pg.database());
        db.setUserName(m_pg.user());
        QVERIFY2(db.open(), qPrintable(db.lastError().text()));
        QSqlQuery q(db);
        QVERIFY(q.exec(QStringLiteral("SET client_min_messages = warning")));
        QVERIFY2(q.exec(QStringLiteral("DROP SCHEMA public CASCADE")),
                 qPrintable(q.lastError().text()));
        QVERIFY2(q.exec(QStringLiteral("CREATE SCHEMA public")), qPrintable(q.lastError().text()));
        db.close();
    }
    QSqlDatabase::removeDatabase(name);
}

void TestDataSecurity::startServer(TestServer &server, const QString &backend)
{
    if (backend == QLatin1String("postgres")) {
        BULWARK_CHECK(ensurePostgres());
        BULWARK_CHECK(resetPostgres());
        server.config.db.driver = DbDriver::Postgres;
        server.config.db.postgresHost = m_pg.host();
        server.config.db.postgresPort = m_pg.port();
        server.config.db.postgresName = m_pg.database();
        server.config.db.postgresUser = m_pg.user();
        // Small: an unreachable database must cost a request little time.
        server.config.db.postgresConnectTimeout = Milliseconds(1000);
    }
    QVERIFY2(server.start(), qPrintable(server.errorString()));
}

Account TestDataSecurity::addAccount(TestServer &server, const QString &email, const QString &role)
{
    return addTestAccount(*server.app(), email, role);
}

QByteArray TestDataSecurity::newKey(TestServer &server, qint64 userId)
{
    return newTestKey(*server.app(), userId);
}

qint64 TestDataSecurity::create(TestServer &server, const Account &who, const QString &collection,
                                const QJsonObject &body)
{
    const QString target = QStringLiteral("/api/v1/") + collection;
    const RawResponse r = api(server.port(), "POST", target, who.token, body);
    if (r.status != 201) {
        QTest::qFail(qPrintable(describe("POST", target, r)), __FILE__, __LINE__);
        return 0;
    }
    return r.json().value(QStringLiteral("id")).toInteger();
}

QJsonObject TestDataSecurity::getJson(TestServer &server, const Account &who, const QString &target,
                                      int expectStatus)
{
    const RawResponse r = api(server.port(), "GET", target, who.token);
    if (r.status != expectStatus) {
        QTest::qFail(qPrintable(QStringLiteral("expected %1: ").arg(expectStatus) +
                                describe("GET", target, r)),
                     __FILE__, __LINE__);
        return {};
    }
    return r.json();
}

// Asserts status and, for errors, the JSON error shape with `code`.
#define EXPECT_STATUS(method_, target_, response_, expected_)                                      \
    QVERIFY2((response_).status == (expected_),                                                    \
             qPrintable(QStringLiteral("expected %1: ").arg(expected_) +                           \
                        describe((method_), (target_), (response_))))

void TestDataSecurity::ownerIsolation_data()
{
    addBackends();
}

void TestDataSecurity::ownerIsolation()
{
    QFETCH(QString, backend);
    TestServer server;
    BULWARK_CHECK(startServer(server, backend));
    const quint16 port = server.port();
    Account a, b, admin;
    BULWARK_CHECK(a = addAccount(server, QStringLiteral("a@example.org")));
    BULWARK_CHECK(b = addAccount(server, QStringLiteral("b@example.org")));
    BULWARK_CHECK(admin = addAccount(server, QStringLiteral("root@example.org"), "admin"));

    // B's data: a swim with two splits, a meal, a measurement.
    qint64 bAct = 0, bSplit1 = 0, bSplit2 = 0, bMeal = 0, bBody = 0;
    BULWARK_CHECK(bAct = create(server, b, "activities",
                                activity(QStringLiteral("swim"), "2024-03-05T07:00:00Z")));
    BULWARK_CHECK(bSplit1 = create(server, b, "splits", split(bAct, 1)));
    BULWARK_CHECK(bSplit2 = create(server, b, "splits", split(bAct, 2)));
    BULWARK_CHECK(bMeal = create(server, b, "nutrition_entries", nutrition("B's secret soup")));
    BULWARK_CHECK(bBody = create(server, b, "body_measurements", measurement(81.5)));
    // A's: a run with one split.
    qint64 aAct = 0, aSplit = 0;
    BULWARK_CHECK(aAct = create(server, a, "activities",
                                activity(QStringLiteral("run"), "2024-03-04T07:00:00Z")));
    BULWARK_CHECK(aSplit = create(server, a, "splits", split(aAct, 1)));
    // Rows that point across owners (only an admin can write them): B's split of A's
    // activity, A's split of B's activity. Expansions must still stop at the owner.
    QJsonObject crossB = split(aAct, 5);
    crossB.insert("user_id", double(b.id));
    QJsonObject crossA = split(bAct, 6);
    crossA.insert("user_id", double(a.id));
    qint64 bSplitOfA = 0, aSplitOfB = 0;
    BULWARK_CHECK(bSplitOfA = create(server, admin, "splits", crossB));
    BULWARK_CHECK(aSplitOfB = create(server, admin, "splits", crossA));
    {
        const QJsonObject row =
            getJson(server, b, QStringLiteral("/api/v1/splits/%1").arg(bSplitOfA));
        QCOMPARE(row.value("user_id").toInteger(), b.id);
    }

    // B's rows as B sees them, to compare after A's attempts.
    QMap<QString, QByteArray> before;
    const QList<std::pair<QString, qint64>> bRows{{"activities", bAct},
                                                  {"splits", bSplit1},
                                                  {"splits", bSplit2},
                                                  {"nutrition_entries", bMeal},
                                                  {"body_measurements", bBody}};
    for (const auto &[collection, id] : bRows) {
        const QString target = QStringLiteral("/api/v1/%1/%2").arg(collection).arg(id);
        const RawResponse r = api(port, "GET", target, b.token);
        EXPECT_STATUS("GET", target, r, 200);
        before.insert(target, r.body);
    }

    // A cannot read B's rows by id: 404, as if they did not exist (not 403).
    for (const auto &[collection, id] : bRows) {
        const QString target = QStringLiteral("/api/v1/%1/%2").arg(collection).arg(id);
        const RawResponse r = api(port, "GET", target, a.token);
        EXPECT_STATUS("GET", target, r, 404);
        BULWARK_CHECK(verifyJsonError(r, 404, QStringLiteral("not_found")));
        QVERIFY2(!r.body.contains("secret") && !r.body.contains("swim"), r.body.constData());
    }

    // Nor in lists, whatever the filter, sort, pagination or fields.
    struct ListCase
    {
        QString target;
        QList<qint64> expected;
    };
    const QList<ListCase> lists{
        {"/api/v1/activities", {aAct}},
        {"/api/v1/activities?skip_total=true", {aAct}},
        {"/api/v1/activities?cursor=", {aAct}},
        {"/api/v1/activities?sort=-id&limit=1000", {aAct}},
        {"/api/v1/activities?fields=id,user_id,sport", {aAct}},
        {"/api/v1/activities?" + filterQuery(QStringLiteral("id eq %1").arg(bAct)), {}},
        {"/api/v1/activities?" + filterQuery(QStringLiteral("user_id eq %1").arg(b.id)), {}},
        {"/api/v1/activities?" + filterQuery(QStringLiteral("id in (%1, %2)").arg(aAct).arg(bAct)),
         {aAct}},
        {"/api/v1/activities?" + filterQuery(QStringLiteral("sport eq 'swim'")), {}},
        {"/api/v1/activities?" +
             filterQuery(QStringLiteral("user_id eq %1 or id eq %2").arg(b.id).arg(bAct)),
         {}},
        {"/api/v1/activities?" + filterQuery(QStringLiteral("not (user_id eq %1)").arg(a.id)), {}},
        {"/api/v1/splits", {aSplit, aSplitOfB}},
        {"/api/v1/splits?" + filterQuery(QStringLiteral("activity_id eq %1").arg(bAct)),
         {aSplitOfB}},
        {"/api/v1/nutrition_entries", {}},
        {"/api/v1/nutrition_entries?" + filterQuery(QStringLiteral("food like '%secret%'")), {}},
        {"/api/v1/body_measurements", {}},
    };
    for (const ListCase &c : lists) {
        const RawResponse r = api(port, "GET", c.target, a.token);
        EXPECT_STATUS("GET", c.target, r, 200);
        const QJsonObject body = r.json();
        QVERIFY2(idsOf(body.value("data").toArray()) == sorted(c.expected),
                 qPrintable(describe("GET", c.target, r)));
        const QJsonValue total = body.value("pagination").toObject().value("total");
        if (total.isDouble())
            QVERIFY2(total.toInteger() == c.expected.size(),
                     qPrintable(describe("GET", c.target, r)));
        QVERIFY2(!r.body.contains("secret"), qPrintable(describe("GET", c.target, r)));
    }

    // Nor through expansions: A's activities expanded to their splits show only A's splits
    // (not B's split that points at A's activity); A's splits expanded to their activity
    // show no activity of B's.
    {
        const QString target = QStringLiteral("/api/v1/activities?expand=splits");
        const RawResponse r = api(port, "GET", target, a.token);
        EXPECT_STATUS("GET", target, r, 200);
        const QJsonArray data = r.json().value("data").toArray();
        QCOMPARE(data.size(), 1);
        QCOMPARE(idsOf(data.first().toObject().value("splits").toArray()), QList<qint64>{aSplit});
    }
    {
        const QString target = QStringLiteral("/api/v1/activities/%1?expand=splits").arg(aAct);
        const QJsonObject row = getJson(server, a, target);
        QCOMPARE(idsOf(row.value("splits").toArray()), QList<qint64>{aSplit});
    }
    {
        const QString target = QStringLiteral("/api/v1/splits?expand=activity");
        const RawResponse r = api(port, "GET", target, a.token);
        EXPECT_STATUS("GET", target, r, 200);
        QVERIFY2(!r.body.contains("swim"), r.body.constData());
        for (const QJsonValue &v : r.json().value("data").toArray()) {
            const QJsonObject row = v.toObject();
            const qint64 id = row.value("id").toInteger();
            if (id == aSplitOfB)
                QVERIFY2(row.value("activity").isNull(), r.body.constData());
            else
                QCOMPARE(row.value("activity").toObject().value("id").toInteger(), aAct);
        }
    }
    {
        const QString target = QStringLiteral("/api/v1/splits/%1?expand=activity").arg(aSplitOfB);
        const QJsonObject row = getJson(server, a, target);
        QVERIFY2(row.value("activity").isNull(),
                 QJsonDocument(row).toJson(QJsonDocument::Compact).constData());
    }
    {
        const QString target = QStringLiteral(
            "/api/v1/splits?expand=activity&fields=id,activity.sport,activity.user_id");
        const RawResponse r = api(port, "GET", target, a.token);
        EXPECT_STATUS("GET", target, r, 200);
        QVERIFY2(!r.body.contains("swim"), r.body.constData());
    }

    // Nor reference B's rows in writes: a split of B's activity is refused, naming the field.
    for (const QByteArray &method : {QByteArray("POST"), QByteArray("PATCH"), QByteArray("PUT")}) {
        const QString target = method == "POST" ? QStringLiteral("/api/v1/splits")
                                                : QStringLiteral("/api/v1/splits/%1").arg(aSplit);
        const RawResponse r = api(port, method, target, a.token, split(bAct, 9));
        EXPECT_STATUS(method, target, r, 422);
        BULWARK_CHECK(verifyJsonError(r, 422, QStringLiteral("validation_failed")));
        QVERIFY2(r.json().value("error").toObject().value("fields").toObject().contains(
                     QStringLiteral("activity_id")),
                 qPrintable(describe(method, target, r)));
    }
    // Nor write rows in B's name, or hand a row over to B.
    {
        QJsonObject mine = activity(QStringLiteral("run"), "2024-03-06T07:00:00Z");
        mine.insert("user_id", double(b.id));
        const QString target = QStringLiteral("/api/v1/activities");
        const RawResponse r = api(port, "POST", target, a.token, mine);
        EXPECT_STATUS("POST", target, r, 422);
        QVERIFY2(r.json().value("error").toObject().value("fields").toObject().contains("user_id"),
                 qPrintable(describe("POST", target, r)));
        const QString own = QStringLiteral("/api/v1/activities/%1").arg(aAct);
        const RawResponse patched =
            api(port, "PATCH", own, a.token, QJsonObject{{"user_id", double(b.id)}});
        EXPECT_STATUS("PATCH", own, patched, 422);
        QJsonObject replaced = activity(QStringLiteral("run"), "2024-03-04T07:00:00Z");
        replaced.insert("user_id", double(b.id));
        const RawResponse put = api(port, "PUT", own, a.token, replaced);
        EXPECT_STATUS("PUT", own, put, 422);
        QCOMPARE(getJson(server, a, own).value("user_id").toInteger(), a.id);
        // Stating one's own id is fine.
        const RawResponse self =
            api(port, "PATCH", own, a.token, QJsonObject{{"user_id", double(a.id)}});
        EXPECT_STATUS("PATCH", own, self, 200);
    }

    // Nor change or delete B's rows: 404, and the rows are unchanged.
    for (const auto &[collection, id] : bRows) {
        const QString target = QStringLiteral("/api/v1/%1/%2").arg(collection).arg(id);
        QJsonObject full;
        if (collection == QLatin1String("activities"))
            full = activity(QStringLiteral("run"), "2024-01-01T00:00:00Z");
        else if (collection == QLatin1String("splits"))
            full = split(aAct, 7);
        else if (collection == QLatin1String("nutrition_entries"))
            full = nutrition(QStringLiteral("replaced"));
        else
            full = measurement(50);
        // A valid change of each collection, so that only ownership can refuse it.
        const QJsonObject change =
            collection == QLatin1String("activities")          ? QJsonObject{{"notes", "pwned"}}
            : collection == QLatin1String("splits")            ? QJsonObject{{"km", 99}}
            : collection == QLatin1String("nutrition_entries") ? QJsonObject{{"food", "pwned"}}
                                                               : QJsonObject{{"weight_kg", 50}};
        const RawResponse patched = api(port, "PATCH", target, a.token, change);
        EXPECT_STATUS("PATCH", target, patched, 404);
        BULWARK_CHECK(verifyJsonError(patched, 404, QStringLiteral("not_found")));
        const RawResponse put = api(port, "PUT", target, a.token, full);
        EXPECT_STATUS("PUT", target, put, 404);
        const RawResponse deleted = api(port, "DELETE", target, a.token);
        EXPECT_STATUS("DELETE", target, deleted, 404);
        BULWARK_CHECK(verifyJsonError(deleted, 404, QStringLiteral("not_found")));
        RawHttpClient client;
        QVERIFY(client.connectTo(port));
        QVERIFY(client.send(request("DELETE", target.toUtf8(),
                                    "Connection: close\r\nIf-Match: *\r\nAuthorization: Bearer " +
                                        a.token + "\r\n")));
        RawResponse matched;
        QVERIFY2(client.readResponse(&matched), qPrintable(client.errorString()));
        EXPECT_STATUS("DELETE (If-Match: *)", target, matched, 404);
    }
    // Nor in a batch.
    {
        const QString target = QStringLiteral("/api/v1/batch");
        const QJsonObject update{
            {"operations", QJsonArray{QJsonObject{{"op", "update"},
                                                  {"collection", "activities"},
                                                  {"id", double(bAct)},
                                                  {"data", QJsonObject{{"title", "pwned"}}}}}}};
        const RawResponse r = api(port, "POST", target, a.token, update);
        EXPECT_STATUS("POST", target, r, 404);
        const QJsonObject remove{
            {"operations",
             QJsonArray{QJsonObject{
                 {"op", "delete"}, {"collection", "nutrition_entries"}, {"id", double(bMeal)}}}}};
        const RawResponse removed = api(port, "POST", target, a.token, remove);
        EXPECT_STATUS("POST", target, removed, 404);
        const QJsonObject reference{
            {"operations",
             QJsonArray{QJsonObject{
                 {"op", "create"}, {"collection", "splits"}, {"data", split(bAct, 8)}}}}};
        const RawResponse referenced = api(port, "POST", target, a.token, reference);
        EXPECT_STATUS("POST", target, referenced, 422);
    }
    for (auto it = before.begin(); it != before.end(); ++it) {
        const RawResponse r = api(port, "GET", it.key(), b.token);
        EXPECT_STATUS("GET", it.key(), r, 200);
        QVERIFY2(r.body == it.value(), qPrintable(QStringLiteral("%1 changed:\n%2\n%3")
                                                      .arg(it.key(), QString::fromUtf8(it.value()),
                                                           QString::fromUtf8(r.body))));
    }

    // Reports are computed over the caller's rows only.
    for (const QString &report :
         {QStringLiteral("weekly_distance"), QStringLiteral("pace_trend")}) {
        const QString target = QStringLiteral("/api/v1/reports/") + report;
        const RawResponse r = api(port, "GET", target, a.token);
        EXPECT_STATUS("GET", target, r, 200);
        int activities = 0;
        for (const QJsonValue &row : r.json().value("data").toArray()) {
            activities += row.toObject().value("activities").toInt();
            if (row.toObject().contains("sport"))
                QCOMPARE(row.toObject().value("sport").toString(), QStringLiteral("run"));
        }
        QVERIFY2(activities == 1, qPrintable(describe("GET", target, r)));
    }
    {
        const QString target = QStringLiteral("/api/v1/reports/weekly_distance");
        const RawResponse r = api(port, "GET", target, b.token);
        EXPECT_STATUS("GET", target, r, 200);
        const QJsonArray data = r.json().value("data").toArray();
        QVERIFY2(data.size() == 1 && data.first().toObject().value("sport").toString() == "swim",
                 qPrintable(describe("GET", target, r)));
        const QString other = QStringLiteral("/api/v1/reports/nutrition_vs_body");
        const RawResponse n = api(port, "GET", other, a.token);
        EXPECT_STATUS("GET", other, n, 200);
        const QJsonArray rows = n.json().value("data").toArray();
        QVERIFY2(rows.size() == 1 && rows.first().toObject().value("days").toInt() == 0,
                 qPrintable(describe("GET", other, n)));
    }
}

void TestDataSecurity::adminSeesEveryone_data()
{
    addBackends();
}

void TestDataSecurity::adminSeesEveryone()
{
    QFETCH(QString, backend);
    TestServer server;
    BULWARK_CHECK(startServer(server, backend));
    const quint16 port = server.port();
    Account a, b, admin;
    BULWARK_CHECK(a = addAccount(server, QStringLiteral("a@example.org")));
    BULWARK_CHECK(b = addAccount(server, QStringLiteral("b@example.org")));
    BULWARK_CHECK(admin = addAccount(server, QStringLiteral("root@example.org"), "admin"));
    qint64 aAct = 0, bAct = 0, bSplit = 0;
    BULWARK_CHECK(aAct = create(server, a, "activities",
                                activity(QStringLiteral("run"), "2024-03-04T07:00:00Z")));
    BULWARK_CHECK(bAct = create(server, b, "activities",
                                activity(QStringLiteral("swim"), "2024-03-05T07:00:00Z")));
    BULWARK_CHECK(bSplit = create(server, b, "splits", split(bAct, 1)));

    const QJsonObject row =
        getJson(server, admin, QStringLiteral("/api/v1/activities/%1").arg(bAct));
    QCOMPARE(row.value("user_id").toInteger(), b.id);
    const QJsonObject all = getJson(server, admin, QStringLiteral("/api/v1/activities"));
    QCOMPARE(idsOf(all.value("data").toArray()), sorted({aAct, bAct}));
    const QJsonObject filtered =
        getJson(server, admin,
                "/api/v1/activities?" + filterQuery(QStringLiteral("user_id eq %1").arg(b.id)));
    QCOMPARE(idsOf(filtered.value("data").toArray()), QList<qint64>{bAct});
    const QJsonObject expanded =
        getJson(server, admin, QStringLiteral("/api/v1/activities/%1?expand=splits").arg(bAct));
    QCOMPARE(idsOf(expanded.value("splits").toArray()), QList<qint64>{bSplit});
    // An admin may correct another user's row; it stays theirs.
    const QString target = QStringLiteral("/api/v1/activities/%1").arg(bAct);
    const RawResponse patched =
        api(port, "PATCH", target, admin.token, QJsonObject{{"title", "fixed by support"}});
    EXPECT_STATUS("PATCH", target, patched, 200);
    const QJsonObject seenByB = getJson(server, b, target);
    QCOMPARE(seenByB.value("title").toString(), QStringLiteral("fixed by support"));
    QCOMPARE(seenByB.value("user_id").toInteger(), b.id);
}

void TestDataSecurity::exportHoldsOwnRowsOnly_data()
{
    addBackends();
}

void TestDataSecurity::exportHoldsOwnRowsOnly()
{
    QFETCH(QString, backend);
    TestServer server;
    BULWARK_CHECK(startServer(server, backend));
    const quint16 port = server.port();
    Account a, b;
    BULWARK_CHECK(a = addAccount(server, QStringLiteral("a@example.org")));
    BULWARK_CHECK(b = addAccount(server, QStringLiteral("b@example.org")));
    QByteArray bSecondKey;
    BULWARK_CHECK(bSecondKey = newKey(server, b.id));

    QMap<QString, QList<qint64>> owned[2]; // [0]: A, [1]: B
    for (int who = 0; who < 2; ++who) {
        const Account &u = who == 0 ? a : b;
        const int n = who == 0 ? 1 : 2; // B has more of everything
        for (int i = 0; i < n; ++i) {
            qint64 act = 0;
            BULWARK_CHECK(act =
                              create(server, u, "activities",
                                     activity(who == 0 ? "run" : "ride",
                                              QStringLiteral("2024-03-0%1T07:00:00Z").arg(i + 1))));
            owned[who]["activities"].append(act);
            for (int km = 1; km <= n; ++km) {
                qint64 s = 0;
                BULWARK_CHECK(s = create(server, u, "splits", split(act, km)));
                owned[who]["splits"].append(s);
            }
            qint64 meal = 0, body = 0;
            BULWARK_CHECK(meal = create(server, u, "nutrition_entries",
                                        nutrition(who == 0 ? "A's toast" : "B's porridge")));
            owned[who]["nutrition_entries"].append(meal);
            BULWARK_CHECK(body = create(server, u, "body_measurements", measurement(60 + i)));
            owned[who]["body_measurements"].append(body);
        }
    }

    for (int who = 0; who < 2; ++who) {
        const Account &u = who == 0 ? a : b;
        const Account &other = who == 0 ? b : a;
        const QString target = QStringLiteral("/api/v1/me/export");
        const RawResponse r = api(port, "GET", target, u.token);
        EXPECT_STATUS("GET", target, r, 200);
        QVERIFY(r.header("Content-Type").startsWith("application/json"));
        QVERIFY2(r.header("Content-Disposition").startsWith("attachment"),
                 r.header("Content-Disposition").constData());
        QVERIFY2(r.header("Cache-Control").contains("no-store"),
                 r.header("Cache-Control").constData());
        const QJsonObject doc = r.json();
        const QJsonObject account = doc.value("account").toObject();
        QCOMPARE(account.value("id").toInteger(), u.id);
        QCOMPARE(account.value("email").toString(), u.email);
        QCOMPARE(doc.value("api_keys").toArray().size(), who == 0 ? 1 : 2);
        for (const QJsonValue &key : doc.value("api_keys").toArray())
            QVERIFY2(!key.toObject().contains("key_hash") && !key.toObject().contains("token"),
                     r.body.constData());
        const QJsonObject collections = doc.value("collections").toObject();
        QStringList names = collections.keys();
        names.sort();
        QStringList expectedNames = kCollections;
        expectedNames.sort();
        QCOMPARE(names, expectedNames);
        for (const QString &c : kCollections) {
            const QJsonArray rows = collections.value(c).toArray();
            QVERIFY2(idsOf(rows) == sorted(owned[who].value(c)),
                     qPrintable(c + QStringLiteral(": ") + QString::fromUtf8(r.body)));
            for (const QJsonValue &row : rows)
                QCOMPARE(row.toObject().value("user_id").toInteger(), u.id);
        }
        QVERIFY(!r.body.contains(other.email.toUtf8()));
        QVERIFY(!r.body.contains(who == 0 ? "B's porridge" : "A's toast"));
        // Tokens are never part of an export.
        QVERIFY(!r.body.contains(u.token));
    }
}

void TestDataSecurity::eraseOwnAccount_data()
{
    addBackends();
}

void TestDataSecurity::eraseOwnAccount()
{
    QFETCH(QString, backend);
    TestServer server;
    BULWARK_CHECK(startServer(server, backend));
    const quint16 port = server.port();
    Account a, b, admin;
    BULWARK_CHECK(a = addAccount(server, QStringLiteral("a@example.org")));
    BULWARK_CHECK(admin = addAccount(server, QStringLiteral("root@example.org"), "admin"));
    {
        // B gets an id that cannot be mistaken for a row count in the audit record.
        DirectDb direct(backend, server.dataDir(), m_pg);
        BULWARK_CHECK(direct.setNextUserId(987654321));
    }
    BULWARK_CHECK(b = addAccount(server, QStringLiteral("erase.me@example.org")));
    QCOMPARE(b.id, qint64(987654321));
    QByteArray bSecondKey;
    BULWARK_CHECK(bSecondKey = newKey(server, b.id));

    // Both have data; B's split of A's activity (written by an admin) is B's data too.
    qint64 aAct = 0, bAct = 0;
    BULWARK_CHECK(aAct = create(server, a, "activities",
                                activity(QStringLiteral("run"), "2024-03-04T07:00:00Z")));
    BULWARK_CHECK(create(server, a, "splits", split(aAct, 1)));
    BULWARK_CHECK(create(server, a, "nutrition_entries", nutrition("A's toast")));
    BULWARK_CHECK(create(server, a, "body_measurements", measurement(70)));
    BULWARK_CHECK(bAct = create(server, b, "activities",
                                activity(QStringLiteral("hike"), "2024-03-05T07:00:00Z")));
    BULWARK_CHECK(
        create(server, b, "activities", activity(QStringLiteral("walk"), "2024-03-06T07:00:00Z")));
    BULWARK_CHECK(create(server, b, "splits", split(bAct, 1)));
    BULWARK_CHECK(create(server, b, "splits", split(bAct, 2)));
    BULWARK_CHECK(create(server, b, "nutrition_entries", nutrition("B's porridge")));
    BULWARK_CHECK(create(server, b, "body_measurements", measurement(90)));
    QJsonObject bSplitOfA = split(aAct, 9);
    bSplitOfA.insert("user_id", double(b.id));
    BULWARK_CHECK(create(server, admin, "splits", bSplitOfA));
    const QByteArray aBefore =
        api(port, "GET", QStringLiteral("/api/v1/activities?expand=splits"), a.token).body;

    DirectDb direct(backend, server.dataDir(), m_pg);
    if (QTest::currentTestFailed())
        return;
    QMap<QString, int> aCounts;
    for (const QString &c : kCollections) {
        aCounts.insert(c, direct.count(c, "user_id = ?", {a.id}));
        QVERIFY2(direct.count(c, "user_id = ?", {b.id}) > 0, qPrintable(c));
    }

    // A cannot erase B through the admin route.
    {
        const QString target = QStringLiteral("/api/v1/users/%1").arg(b.id);
        const RawResponse r = api(port, "DELETE", target, a.token);
        EXPECT_STATUS("DELETE", target, r, 403);
        BULWARK_CHECK(verifyJsonError(r, 403, QStringLiteral("forbidden")));
        QCOMPARE(direct.count("users", "id = ?", {b.id}), 1);
    }

    const QString target = QStringLiteral("/api/v1/me");
    const RawResponse erased = api(port, "DELETE", target, b.token);
    EXPECT_STATUS("DELETE", target, erased, 200);
    const QJsonObject deleted = erased.json().value("rows_deleted").toObject();
    QCOMPARE(deleted.value("activities").toInt(), 2);
    QCOMPARE(deleted.value("splits").toInt(), 3);
    QCOMPARE(deleted.value("nutrition_entries").toInt(), 1);
    QCOMPARE(deleted.value("body_measurements").toInt(), 1);

    // Nothing of B is left, anywhere; A's rows are all there.
    for (const QString &c : kCollections) {
        QVERIFY2(direct.count(c, "user_id = ?", {b.id}) == 0, qPrintable(c));
        QVERIFY2(direct.count(c, "user_id = ?", {a.id}) == aCounts.value(c), qPrintable(c));
    }
    QCOMPARE(direct.count("api_keys", "user_id = ?", {b.id}), 0);
    QCOMPARE(direct.count("users", "id = ?", {b.id}), 0);
    QCOMPARE(direct.count("users", "email = ?", {b.email}), 0);
    QCOMPARE(direct.count("users", "id = ?", {a.id}), 1);
    QCOMPARE(direct.count("api_keys", "user_id = ?", {a.id}), 1);

    // B's keys are dead at once; A's work.
    for (const QByteArray &token : {b.token, bSecondKey}) {
        const RawResponse r = api(port, "GET", QStringLiteral("/api/v1/me"), token);
        EXPECT_STATUS("GET", QStringLiteral("/api/v1/me"), r, 401);
        BULWARK_CHECK(verifyJsonError(r, 401, QStringLiteral("unauthorized")));
        const RawResponse list = api(port, "GET", QStringLiteral("/api/v1/activities"), token);
        EXPECT_STATUS("GET", QStringLiteral("/api/v1/activities"), list, 401);
    }
    const RawResponse again = api(port, "DELETE", target, b.token);
    EXPECT_STATUS("DELETE", target, again, 401);
    const RawResponse aNow =
        api(port, "GET", QStringLiteral("/api/v1/activities?expand=splits"), a.token);
    EXPECT_STATUS("GET", QStringLiteral("/api/v1/activities?expand=splits"), aNow, 200);
    QCOMPARE(aNow.body, aBefore);

    // The audit log says that an account was erased, not whose.
    const auto audit = direct.rows(
        QStringLiteral("SELECT actor, action, CAST(detail AS TEXT) FROM audit_log ORDER BY id"));
    int erasures = 0;
    for (const QStringList &row : audit) {
        const QString text = row.join(u'|');
        QVERIFY2(!text.contains(b.email, Qt::CaseInsensitive), qPrintable(text));
        QVERIFY2(!text.contains(QLatin1String("erase.me")), qPrintable(text));
        QVERIFY2(!text.contains(QString::number(b.id)), qPrintable(text));
        if (row.value(1) == QLatin1String("account.erased")) {
            ++erasures;
            QCOMPARE(row.value(0), QStringLiteral("self"));
            const QJsonObject detail = QJsonDocument::fromJson(row.value(2).toUtf8()).object();
            QVERIFY2(detail.value("rows_deleted").isObject(), qPrintable(text));
        }
    }
    QCOMPARE(erasures, 1);
}

void TestDataSecurity::adminErasesAccount_data()
{
    addBackends();
}

void TestDataSecurity::adminErasesAccount()
{
    QFETCH(QString, backend);
    TestServer server;
    BULWARK_CHECK(startServer(server, backend));
    const quint16 port = server.port();
    Account a, admin, c;
    BULWARK_CHECK(a = addAccount(server, QStringLiteral("a@example.org")));
    BULWARK_CHECK(admin = addAccount(server, QStringLiteral("root@example.org"), "admin"));
    {
        DirectDb direct(backend, server.dataDir(), m_pg);
        BULWARK_CHECK(direct.setNextUserId(555444333));
    }
    BULWARK_CHECK(c = addAccount(server, QStringLiteral("leaving@example.org")));
    QCOMPARE(c.id, qint64(555444333));
    qint64 aAct = 0, cAct = 0;
    BULWARK_CHECK(aAct = create(server, a, "activities",
                                activity(QStringLiteral("run"), "2024-03-04T07:00:00Z")));
    BULWARK_CHECK(cAct = create(server, c, "activities",
                                activity(QStringLiteral("ride"), "2024-03-05T07:00:00Z")));
    BULWARK_CHECK(create(server, c, "splits", split(cAct, 1)));
    BULWARK_CHECK(create(server, c, "nutrition_entries", nutrition("C's lunch")));

    DirectDb direct(backend, server.dataDir(), m_pg);
    if (QTest::currentTestFailed())
        return;
    const QString target = QStringLiteral("/api/v1/users/%1").arg(c.id);

    // A user, even for their own id through this route, is not an admin.
    for (const Account &who : {a, c}) {
        const RawResponse r = api(port, "DELETE", target, who.token);
        EXPECT_STATUS("DELETE", target, r, 403);
        BULWARK_CHECK(verifyJsonError(r, 403, QStringLiteral("forbidden")));
    }
    QCOMPARE(direct.count("users", "id = ?", {c.id}), 1);
    QCOMPARE(direct.count("activities", "user_id = ?", {c.id}), 1);

    const RawResponse erased = api(port, "DELETE", target, admin.token);
    EXPECT_STATUS("DELETE", target, erased, 200);
    for (const QString &collection : kCollections)
        QVERIFY2(direct.count(collection, "user_id = ?", {c.id}) == 0, qPrintable(collection));
    QCOMPARE(direct.count("api_keys", "user_id = ?", {c.id}), 0);
    QCOMPARE(direct.count("users", "id = ?", {c.id}), 0);
    QCOMPARE(direct.count("activities", "user_id = ?", {a.id}), 1);
    QCOMPARE(direct.count("users", "id = ?", {a.id}), 1);
    const RawResponse cNow = api(port, "GET", QStringLiteral("/api/v1/me"), c.token);
    EXPECT_STATUS("GET", QStringLiteral("/api/v1/me"), cNow, 401);
    const QJsonObject aRow = getJson(server, a, QStringLiteral("/api/v1/activities/%1").arg(aAct));
    QCOMPARE(aRow.value("id").toInteger(), aAct);

    const RawResponse gone = api(port, "DELETE", target, admin.token);
    EXPECT_STATUS("DELETE", target, gone, 404);
    BULWARK_CHECK(verifyJsonError(gone, 404, QStringLiteral("not_found")));

    const auto audit = direct.rows(
        QStringLiteral("SELECT actor, action, CAST(detail AS TEXT) FROM audit_log ORDER BY id"));
    int erasures = 0;
    for (const QStringList &row : audit) {
        const QString text = row.join(u'|');
        QVERIFY2(!text.contains(QLatin1String("leaving")), qPrintable(text));
        QVERIFY2(!text.contains(QString::number(c.id)), qPrintable(text));
        if (row.value(1) == QLatin1String("account.erased")) {
            ++erasures;
            QCOMPARE(row.value(0), QStringLiteral("admin"));
        }
    }
    QCOMPARE(erasures, 1);
}

void TestDataSecurity::poolExhaustionIs503_data()
{
    addBackends();
}

void TestDataSecurity::poolExhaustionIs503()
{
    QFETCH(QString, backend);
    TestServer server;
    server.config.db.poolMaxSize = 1;
    server.config.server.threads = 2;
    server.config.db.poolAcquireTimeout = Milliseconds(300);
    server.config.server.debugEndpoints = true;
    BULWARK_CHECK(startServer(server, backend));
    const quint16 port = server.port();
    Account a;
    BULWARK_CHECK(a = addAccount(server, QStringLiteral("a@example.org"))); // closes its lease
    ConnectionPool *pool = server.app()->pool();
    QCOMPARE(pool->stats().total, 0);

    // The cap is global: a lease taken here holds the only connection.
    auto lease = pool->acquire();
    QVERIFY2(lease.ok(), qPrintable(lease.ok() ? QString() : lease.error().message));
    const QString target = QStringLiteral("/api/v1/activities");
    for (int i = 0; i < 2; ++i) { // both worker threads
        QElapsedTimer timer;
        timer.start();
        const RawResponse r = api(port, "GET", target, a.token);
        const qint64 elapsed = timer.elapsed();
        EXPECT_STATUS("GET", target, r, 503);
        BULWARK_CHECK(verifyJsonError(r, 503, QStringLiteral("unavailable")));
        QVERIFY2(!r.header("Retry-After").isEmpty(), "no Retry-After on a 503");
        bool numeric = false;
        QVERIFY2(r.header("Retry-After").toInt(&numeric) >= 1 && numeric,
                 r.header("Retry-After").constData());
        // About acquire_timeout: it waited, but not much longer.
        QVERIFY2(elapsed >= 250 && elapsed < 1500, qPrintable(QString::number(elapsed)));
    }
    // What does not need the database is still served.
    RawResponse live;
    BULWARK_CHECK(fetch(port, "/health/live", &live));
    QCOMPARE(live.status, 200);
    QVERIFY(pool->stats().timeouts >= 1);

    // Let go (and, as any thread that is done with the pool, close its idle connection).
    lease.value().release();
    pool->closeThreadConnections();
    const RawResponse next = api(port, "GET", target, a.token);
    EXPECT_STATUS("GET", target, next, 200);
}

void TestDataSecurity::smallPoolServesEveryWorker_data()
{
    addBackends();
}

void TestDataSecurity::smallPoolServesEveryWorker()
{
    // db.pool.max_size below server.threads is a valid configuration (a small database
    // plan). With nothing else going on, every request must then be served: a connection
    // idle in one worker thread must not leave the other worker waiting out
    // acquire_timeout (and answering 503) for as long as it stays idle.
    QFETCH(QString, backend);
    TestServer server;
    server.config.db.poolMaxSize = 1;
    server.config.server.threads = 2;
    server.config.db.poolAcquireTimeout = Milliseconds(300);
    BULWARK_CHECK(startServer(server, backend));
    const quint16 port = server.port();
    Account a;
    BULWARK_CHECK(a = addAccount(server, QStringLiteral("a@example.org")));
    const QString target = QStringLiteral("/api/v1/activities");
    for (int i = 0; i < 6; ++i) { // sequential, on fresh connections: both workers in turn
        const RawResponse r = api(port, "GET", target, a.token);
        QVERIFY2(r.status == 200,
                 qPrintable(QStringLiteral("request %1: ").arg(i) + describe("GET", target, r)));
    }
}

void TestDataSecurity::postgresStoppedUnderRequests()
{
    TestServer server;
    server.config.db.poolAcquireTimeout = Milliseconds(2000);
    // The database outage itself is under test: cached answers would hide it.
    server.config.cache.enabled = false;
    BULWARK_CHECK(startServer(server, QStringLiteral("postgres")));
    const quint16 port = server.port();
    Account a;
    BULWARK_CHECK(a = addAccount(server, QStringLiteral("a@example.org")));
    qint64 first = 0, second = 0;
    BULWARK_CHECK(first = create(server, a, "activities",
                                 activity(QStringLiteral("run"), "2024-03-04T07:00:00Z")));
    BULWARK_CHECK(second = create(server, a, "activities",
                                  activity(QStringLiteral("ride"), "2024-03-05T07:00:00Z")));
    const QString target = QStringLiteral("/api/v1/activities");
    // Warm both worker threads' connections, so that the outage hits live connections too.
    for (int i = 0; i < 4; ++i) {
        const RawResponse r = api(port, "GET", target, a.token);
        EXPECT_STATUS("GET", target, r, 200);
    }

    m_pg.stop();
    // Every request is answered, quickly, with a 503 the client may retry.
    const QList<std::pair<QByteArray, QString>> requests{
        {"GET", target},
        {"GET", target},
        {"GET", QStringLiteral("/api/v1/activities/%1").arg(first)},
        {"POST", target},
        {"GET", target + QStringLiteral("?expand=splits")},
        {"GET", QStringLiteral("/api/v1/reports/weekly_distance")},
        {"GET", QStringLiteral("/api/v1/me/export")},
        {"GET", target}};
    for (const auto &[method, path] : requests) {
        QElapsedTimer timer;
        timer.start();
        const RawResponse r =
            api(port, method, path, a.token,
                activity(QStringLiteral("walk"), QStringLiteral("2024-03-06T07:00:00Z")), 15000);
        const qint64 elapsed = timer.elapsed();
        EXPECT_STATUS(method, path, r, 503);
        BULWARK_CHECK(verifyJsonError(r, 503, QStringLiteral("unavailable")));
        QVERIFY2(!r.header("Retry-After").isEmpty(), qPrintable(describe(method, path, r)));
        // Bounded by the connect timeout (2 s here) and the acquire timeout, not a hang.
        QVERIFY2(elapsed < 5000,
                 qPrintable(QStringLiteral("%1 ms: ").arg(elapsed) + describe(method, path, r)));
    }
    RawResponse live;
    BULWARK_CHECK(fetch(port, "/health/live", &live));
    QCOMPARE(live.status, 200);

    QVERIFY2(m_pg.start(), qPrintable(m_pg.errorString()));
    // Back within a few seconds: several requests in a row succeed (both worker threads
    // have replaced their dead connections), and the data is all there.
    QElapsedTimer timer;
    timer.start();
    int inARow = 0;
    RawResponse last;
    for (int i = 0; i < 200 && inARow < 4 && timer.elapsed() < 10000; ++i) {
        last = api(port, "GET", target, a.token);
        inARow = last.status == 200 ? inARow + 1 : 0;
        if (last.status != 200) {
            QVERIFY2(last.status == 503, qPrintable(describe("GET", target, last)));
            QThread::msleep(100);
        }
    }
    QVERIFY2(inARow >= 4, qPrintable(QStringLiteral("not back after %1 ms: ").arg(timer.elapsed()) +
                                     describe("GET", target, last)));
    QCOMPARE(idsOf(last.json().value("data").toArray()), sorted({first, second}));
    qint64 third = 0;
    BULWARK_CHECK(third = create(server, a, "activities",
                                 activity(QStringLiteral("swim"), "2024-03-07T07:00:00Z")));
    QVERIFY(third > second);
}

QTEST_GUILESS_MAIN(TestDataSecurity)
void TestDataSecurity::reportsCannotWrite_data()
{
    addBackends();
}

// A report's SQL passes a textual check (one SELECT or WITH statement), but PostgreSQL lets
// a WITH hold a DELETE. Reports run in a read-only transaction, so such a report fails and
// deletes nothing. SQLite has no data-modifying WITH; its query_only pragma is checked by
// running a harmless report and then a normal write on the same server (the pragma must
// not stick to the pooled connection).
void TestDataSecurity::reportsCannotWrite()
{
    QFETCH(QString, backend);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString schemaFile = dir.filePath(QStringLiteral("schema.json"));
    QFile file(schemaFile);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(R"({
      "collections": {
        "notes": { "owner": "user_id", "fields": { "text": { "type": "text" } } }
      },
      "reports": {
        "sneaky": {
          "depends_on": ["notes"],
          "sql": {
            "postgres": "WITH gone AS (DELETE FROM notes WHERE user_id = :owner RETURNING id) SELECT COUNT(*) AS n FROM gone",
            "sqlite": "SELECT COUNT(*) AS n FROM notes WHERE user_id = :owner"
          }
        }
      }
    })");
    file.close();
    TestServer server;
    server.config.db.schema = schemaFile;
    server.config.server.threads = 1; // one connection: the pragma check below meets it again
    BULWARK_CHECK(startServer(server, backend));
    const Account a = addAccount(server, QStringLiteral("a@example.org"));
    BULWARK_CHECK(create(server, a, QStringLiteral("notes"), QJsonObject{{"text", "keep me"}}));

    const RawResponse report =
        api(server.port(), "GET", QStringLiteral("/api/v1/reports/sneaky"), a.token);
    if (backend == QLatin1String("postgres")) {
        EXPECT_STATUS("GET", "/api/v1/reports/sneaky", report, 500);
    } else {
        EXPECT_STATUS("GET", "/api/v1/reports/sneaky", report, 200);
        QCOMPARE(report.json().value("data").toArray().at(0).toObject().value("n").toInt(), 1);
    }
    // The note is still there, and writes still work on the same connection.
    const QJsonObject notes = getJson(server, a, QStringLiteral("/api/v1/notes"));
    QCOMPARE(notes.value("data").toArray().size(), 1);
    BULWARK_CHECK(create(server, a, QStringLiteral("notes"), QJsonObject{{"text", "second"}}));
    QCOMPARE(getJson(server, a, QStringLiteral("/api/v1/notes")).value("data").toArray().size(), 2);
}

void TestDataSecurity::logoutAndKeyRevocation_data()
{
    addBackends();
}

void TestDataSecurity::logoutAndKeyRevocation()
{
    QFETCH(QString, backend);
    TestServer server;
    BULWARK_CHECK(startServer(server, backend));
    const Account a = addAccount(server, QStringLiteral("a@example.org"));
    const Account b = addAccount(server, QStringLiteral("b@example.org"));
    const QByteArray second = newKey(server, a.id);
    BULWARK_CHECK(getJson(server, a, QStringLiteral("/api/v1/me")));

    // B cannot revoke A's key: 404, and A's key still works.
    const auto keyId = server.app()->users()->authenticateKey(second);
    QVERIFY(keyId.ok());
    const QString target = QStringLiteral("/api/v1/auth/keys/%1").arg(keyId.value().keyId);
    EXPECT_STATUS("DELETE", target, api(server.port(), "DELETE", target, b.token), 404);
    Account withSecond = a;
    withSecond.token = second;
    BULWARK_CHECK(getJson(server, withSecond, QStringLiteral("/api/v1/me")));

    // A revokes the second key with the first; then logs the first out.
    EXPECT_STATUS("DELETE", target, api(server.port(), "DELETE", target, a.token), 204);
    EXPECT_STATUS("GET", "/api/v1/me",
                  api(server.port(), "GET", QStringLiteral("/api/v1/me"), second), 401);
    const QString logout = QStringLiteral("/api/v1/auth/logout");
    EXPECT_STATUS("POST", logout, api(server.port(), "POST", logout, a.token), 204);
    EXPECT_STATUS("GET", "/api/v1/me",
                  api(server.port(), "GET", QStringLiteral("/api/v1/me"), a.token), 401);
    // B is unaffected.
    BULWARK_CHECK(getJson(server, b, QStringLiteral("/api/v1/me")));
}

// A client that gives up while the worker is busy (a load tester's timeout, a user who
// closes the tab) leaves its request behind in the socket. Running it would spend database
// time on nobody, and under overload such a backlog starves the live clients: the API
// stage drops requests whose client has closed the connection.
void TestDataSecurity::abandonedRequestsAreNotRun()
{
    TestServer server;
    server.config.server.threads = 1; // the sleeping request holds the only worker
    server.config.server.debugEndpoints = true;
    BULWARK_CHECK(startServer(server, QStringLiteral("sqlite")));
    const Account a = addAccount(server, QStringLiteral("a@example.org"));
    BULWARK_CHECK(getJson(server, a, QStringLiteral("/api/v1/activities"))); // key now cached

    RawHttpClient busy;
    QVERIFY(busy.connectTo(server.port()));
    QVERIFY(busy.send("GET /debug/sleep?ms=600 HTTP/1.1\r\nHost: t\r\n\r\n"));
    QTest::qWait(100); // the worker is asleep now
    const quint64 before = server.app()->queryInsight()->statementCount();
    {
        RawHttpClient quitter;
        QVERIFY(quitter.connectTo(server.port()));
        QVERIFY(quitter.send("GET /api/v1/activities?limit=50 HTTP/1.1\r\nHost: t\r\n"
                             "Authorization: Bearer " +
                             a.token + "\r\n\r\n"));
        quitter.close(); // gone before the worker gets to it
    }
    RawResponse slept;
    QVERIFY2(busy.readResponse(&slept, 5000), qPrintable(busy.errorString()));
    QCOMPARE(slept.status, 200);
    // The worker is free again and has seen the abandoned request: it ran no statement.
    BULWARK_CHECK(getJson(server, a, QStringLiteral("/health/live")));
    QCOMPARE(server.app()->queryInsight()->statementCount(), before);
    // A live client is served as usual (and that does run statements: a query not cached).
    BULWARK_CHECK(getJson(server, a, QStringLiteral("/api/v1/activities?limit=7")));
    QVERIFY(server.app()->queryInsight()->statementCount() > before);
}

#include "tst_data_security.moc"
