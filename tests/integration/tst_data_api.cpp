// SPDX-License-Identifier: GPL-3.0-or-later
// The data API under /api/v1/ end to end: the real server (TestServer) with the built-in demo
// schema, spoken to over HTTP, once on SQLite and once on a real PostgreSQL from the harness
// (the global data rows "sqlite" and "postgres"), because the same SQL builder serves both
// and the dialects differ exactly where bugs hide: LIKE vs ILIKE, datetimes as text vs
// TIMESTAMPTZ, NUMERIC from ROUND(), row-value comparisons of keyset cursors. Every test
// function gets a fresh server and a fresh database (a new SQLite file, a new PostgreSQL
// database), so no test sees another's rows; PostgreSQL itself starts once, and a PostgreSQL
// that cannot start is a failure, not a skip.
//
// Covered, with exact statuses, headers and bodies: create/read/update/replace/delete
// (Location, ETag, Prefer: return=minimal, ownership), conditional requests (If-None-Match ->
// 304 without a body, If-Match -> 412 leaving the row alone), offset and keyset pagination
// (every row exactly once and in order across equal sort values, cursors bound to their
// sort), sorting, every filter operator and connective, sparse fields and expansions in
// both directions, the number of SQL statements a list with an expansion costs (2, whatever
// the page size: no N+1), batches (all or nothing, api.batch_max), the demo reports with
// hand-computed numbers, validation errors (400/404/422 with per-field messages), API-key
// authentication (401 + WWW-Authenticate; a login's key works as its user), and injection
// attempts through every parameter, after which the tables must be intact.
#include "ExternalServers.h"
#include "TestSupport.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QUrl>
#include <QtTest>
#include <algorithm>
#include <functional>

using namespace bulwark;
using namespace bulwark::test;

namespace {

const QString kAdminConnection = QStringLiteral("tst_data_api_admin");

// `path?name=value&...`, every value percent-encoded (so quotes, commas, semicolons and
// spaces reach the server exactly as written here).
QByteArray withQuery(const QByteArray &path, const QList<std::pair<QByteArray, QString>> &params)
{
    QByteArray out = path;
    for (qsizetype i = 0; i < params.size(); ++i)
        out += (i == 0 ? '?' : '&') + params.at(i).first + '=' +
               QUrl::toPercentEncoding(params.at(i).second);
    return out;
}

QByteArray json(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

// One client of the API: a keep-alive connection and the caller's API key (none when empty).
// A request that gets no complete response is a test failure and comes back with status 0.
class Api
{
public:
    Api(quint16 port, QByteArray key) : m_port(port), m_key(std::move(key)) {}

    RawResponse send(const QByteArray &method, const QByteArray &target,
                     const QByteArray &body = {}, const QByteArray &headers = {})
    {
        QByteArray extra = headers;
        if (!m_key.isEmpty())
            extra += "Authorization: Bearer " + m_key + "\r\n";
        if (!body.isEmpty())
            extra += "Content-Type: application/json\r\n";
        const QByteArray bytes = request(method, target, extra, body);
        RawResponse r;
        // A reused connection may have been closed by the server while idle: then (nothing
        // was answered) try once more on a fresh one.
        for (int attempt = 0; attempt < 2; ++attempt) {
            const bool reused = m_client.isConnected();
            if (!reused && !m_client.connectTo(m_port))
                break;
            if (m_client.send(bytes) && m_client.readResponse(&r, 20000)) {
                if (r.header("Connection").toLower().contains("close"))
                    m_client.close();
                return r;
            }
            const bool nothing = m_client.pending().isEmpty();
            m_client.close();
            if (!reused || !nothing)
                break;
        }
        QTest::qFail(qPrintable(QStringLiteral("%1 %2: %3")
                                    .arg(QString::fromLatin1(method), QString::fromUtf8(target),
                                         m_client.errorString())),
                     __FILE__, __LINE__);
        return RawResponse{};
    }
    RawResponse get(const QByteArray &target, const QByteArray &headers = {})
    {
        return send("GET", target, {}, headers);
    }
    RawResponse post(const QByteArray &target, const QJsonObject &body,
                     const QByteArray &headers = {})
    {
        return send("POST", target, json(body), headers);
    }
    RawResponse patch(const QByteArray &target, const QJsonObject &body,
                      const QByteArray &headers = {})
    {
        return send("PATCH", target, json(body), headers);
    }
    RawResponse put(const QByteArray &target, const QJsonObject &body,
                    const QByteArray &headers = {})
    {
        return send("PUT", target, json(body), headers);
    }
    RawResponse del(const QByteArray &target, const QByteArray &headers = {})
    {
        return send("DELETE", target, {}, headers);
    }

    // One request with "Connection: close" on a fresh connection, then the bytes the server
    // sent after the response (must be none for a 204 or 304, which have no body).
    RawResponse sendAlone(const QByteArray &method, const QByteArray &target,
                          const QByteArray &body, const QByteArray &headers, QByteArray *trailing)
    {
        RawHttpClient client;
        RawResponse r;
        QByteArray extra = headers + "Connection: close\r\n";
        if (!m_key.isEmpty())
            extra += "Authorization: Bearer " + m_key + "\r\n";
        if (!body.isEmpty())
            extra += "Content-Type: application/json\r\n";
        if (!client.connectTo(m_port) || !client.send(request(method, target, extra, body)) ||
            !client.readResponse(&r, 20000)) {
            QTest::qFail(qPrintable(client.errorString()), __FILE__, __LINE__);
            return RawResponse{};
        }
        client.waitForClose(5000);
        *trailing = client.takePending();
        return r;
    }

private:
    quint16 m_port;
    QByteArray m_key;
    RawHttpClient m_client;
};

// Asserts an error response: status, JSON error shape and code, and (when given) text the
// message must contain.
void verifyError(const RawResponse &r, int status, const QString &code,
                 const QString &messagePart = {})
{
    QVERIFY2(r.status == status, qPrintable(QStringLiteral("expected %1, got %2: %3")
                                                .arg(status)
                                                .arg(r.status)
                                                .arg(QString::fromUtf8(r.body))));
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

// The message of a failed Result (QVERIFY2 evaluates its message even when the check passes).
template <typename R> QString failure(const R &result)
{
    return result.ok() ? QString() : result.error().message;
}

QJsonObject errorOf(const RawResponse &r)
{
    return r.json().value(QStringLiteral("error")).toObject();
}

QJsonArray dataOf(const RawResponse &r)
{
    return r.json().value(QStringLiteral("data")).toArray();
}

QJsonObject paginationOf(const RawResponse &r)
{
    return r.json().value(QStringLiteral("pagination")).toObject();
}

QList<qint64> idsOf(const QJsonArray &rows)
{
    QList<qint64> ids;
    for (const QJsonValue &v : rows)
        ids.append(qint64(v.toObject().value(QStringLiteral("id")).toDouble()));
    return ids;
}

QStringList keysOf(const QJsonObject &o)
{
    QStringList keys = o.keys();
    keys.sort();
    return keys;
}

QString idList(const QList<qint64> &ids)
{
    QStringList parts;
    for (qint64 id : ids)
        parts.append(QString::number(id));
    return parts.join(u',');
}

const QRegularExpression &timestampPattern()
{
    static const QRegularExpression re(
        QStringLiteral("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$"));
    return re;
}

const QRegularExpression &etagPattern()
{
    static const QRegularExpression re(QStringLiteral("^\"[0-9a-f]{16}\"$"));
    return re;
}

// An activity body with the required fields; `extra` adds or overrides.
QJsonObject activity(const QString &sport, const QString &startedAt, int durationS,
                     double distanceM, const QJsonObject &extra = {})
{
    QJsonObject o{{QStringLiteral("sport"), sport},
                  {QStringLiteral("started_at"), startedAt},
                  {QStringLiteral("duration_s"), durationS},
                  {QStringLiteral("distance_m"), distanceM}};
    for (auto it = extra.begin(); it != extra.end(); ++it)
        o.insert(it.key(), it.value());
    return o;
}

// Every field of an activity row as the API shows it, from the body it was created with
// (datetimes must already be in the normalised form), without id and timestamps.
QJsonObject activityRow(const QJsonObject &body, qint64 userId)
{
    QJsonObject row{{QStringLiteral("user_id"), double(userId)},
                    {QStringLiteral("title"), QJsonValue::Null},
                    {QStringLiteral("elevation_gain_m"), QJsonValue::Null},
                    {QStringLiteral("avg_heart_rate"), QJsonValue::Null},
                    {QStringLiteral("private"), false},
                    {QStringLiteral("notes"), QJsonValue::Null}};
    for (auto it = body.begin(); it != body.end(); ++it)
        row.insert(it.key(), it.value());
    return row;
}

QJsonObject withoutServerFields(QJsonObject row)
{
    row.remove(QStringLiteral("id"));
    row.remove(QStringLiteral("created_at"));
    row.remove(QStringLiteral("updated_at"));
    return row;
}

} // namespace

class TestDataApi : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase_data();
    void initTestCase();
    void cleanup();
    void cleanupTestCase();

    void crud();
    void conditionalRequests();
    void pagePagination();
    void keysetPagination();
    void sorting();
    void filters();
    void fieldsAndExpand();
    void statementCount();
    void batch();
    void reports();
    void badInput();
    void injectionAttempts();
    void loginKeyReachesData();

private:
    // Starts a fresh server on the current backend with users alice and bob, each with an
    // API key; `configure` edits the Config first.
    void startServer(const std::function<void(Config &)> &configure = {});
    // Creates the rows in one batch (all or nothing) and returns their ids in order.
    void createAll(Api &api, const QString &collection, const QList<QJsonObject> &rows,
                   QList<qint64> *ids);
    // The total of a list (page pagination), or -1 when the list failed.
    qint64 total(Api &api, const QByteArray &collection,
                 const QList<std::pair<QByteArray, QString>> &params = {});

    PostgresServer m_postgres;
    bool m_postgresUp = false;
    QString m_postgresError;
    int m_databaseCounter = 0;
    QString m_database; // the PostgreSQL database of the current test, when there is one
    std::unique_ptr<TestServer> m_server;
    qint64 m_alice = 0;
    qint64 m_bob = 0;
    std::unique_ptr<Api> m_api;   // alice
    std::unique_ptr<Api> m_other; // bob
};

void TestDataApi::initTestCase_data()
{
    QTest::addColumn<QString>("backend");
    QTest::newRow("sqlite") << QStringLiteral("sqlite");
    QTest::newRow("postgres") << QStringLiteral("postgres");
}

void TestDataApi::initTestCase()
{
    // Once for the whole case; the postgres rows fail (not skip) when it did not start.
    m_postgresUp = m_postgres.start();
    if (!m_postgresUp) {
        m_postgresError = m_postgres.errorString();
        return;
    }
    QSqlDatabase admin = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), kAdminConnection);
    admin.setHostName(m_postgres.host());
    admin.setPort(m_postgres.port());
    admin.setUserName(m_postgres.user());
    admin.setDatabaseName(m_postgres.database());
    if (!admin.open()) {
        m_postgresUp = false;
        m_postgresError = admin.lastError().text();
    }
}

void TestDataApi::cleanup()
{
    m_api.reset();
    m_other.reset();
    m_server.reset(); // joins the server's threads: its connections are gone after this
    if (!m_database.isEmpty()) {
        QSqlQuery drop(QSqlDatabase::database(kAdminConnection));
        if (!drop.exec(QStringLiteral("DROP DATABASE IF EXISTS %1 WITH (FORCE)").arg(m_database)))
            qWarning("cannot drop %s: %s", qPrintable(m_database),
                     qPrintable(drop.lastError().text()));
        m_database.clear();
    }
}

void TestDataApi::cleanupTestCase()
{
    if (QSqlDatabase::contains(kAdminConnection)) {
        QSqlDatabase::database(kAdminConnection).close();
        QSqlDatabase::removeDatabase(kAdminConnection);
    }
    m_postgres.stop();
}

void TestDataApi::startServer(const std::function<void(Config &)> &configure)
{
    QFETCH_GLOBAL(QString, backend);
    m_server = std::make_unique<TestServer>();
    if (backend == QLatin1String("postgres")) {
        QVERIFY2(m_postgresUp,
                 qPrintable(QStringLiteral("PostgreSQL did not start: ") + m_postgresError));
        m_database = QStringLiteral("data_api_%1").arg(++m_databaseCounter);
        QSqlQuery create(QSqlDatabase::database(kAdminConnection));
        QVERIFY2(create.exec(QStringLiteral("CREATE DATABASE %1").arg(m_database)),
                 qPrintable(create.lastError().text()));
        Config &c = m_server->config;
        c.db.driver = DbDriver::Postgres;
        c.db.postgresHost = m_postgres.host();
        c.db.postgresPort = m_postgres.port();
        c.db.postgresName = m_database;
        c.db.postgresUser = m_postgres.user();
    }
    // Statements are not slow in these tests; a loaded CI host must not make them log plans.
    m_server->config.db.slowQueryMs = 60'000;
    if (configure)
        configure(m_server->config);
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    UserStore *users = m_server->app()->users();
    auto alice =
        users->addUser(QStringLiteral("alice@example.com"), QStringLiteral("Alice"), std::nullopt);
    QVERIFY2(alice.ok(), qPrintable(failure(alice)));
    auto bob =
        users->addUser(QStringLiteral("bob@example.com"), QStringLiteral("Bob"), std::nullopt);
    QVERIFY2(bob.ok(), qPrintable(failure(bob)));
    m_alice = alice.value();
    m_bob = bob.value();
    auto aliceKey = users->createApiKey(m_alice, QStringLiteral("test"));
    QVERIFY2(aliceKey.ok(), qPrintable(failure(aliceKey)));
    auto bobKey = users->createApiKey(m_bob, QStringLiteral("test"));
    QVERIFY2(bobKey.ok(), qPrintable(failure(bobKey)));
    m_api = std::make_unique<Api>(m_server->port(), aliceKey.value().token);
    m_other = std::make_unique<Api>(m_server->port(), bobKey.value().token);
}

void TestDataApi::createAll(Api &api, const QString &collection, const QList<QJsonObject> &rows,
                            QList<qint64> *ids)
{
    QJsonArray operations;
    for (const QJsonObject &row : rows)
        operations.append(QJsonObject{{QStringLiteral("op"), QStringLiteral("create")},
                                      {QStringLiteral("collection"), collection},
                                      {QStringLiteral("data"), row}});
    const RawResponse r =
        api.post("/api/v1/batch", QJsonObject{{QStringLiteral("operations"), operations}});
    QVERIFY2(r.status == 200, r.body.constData());
    const QJsonArray results = r.json().value(QStringLiteral("results")).toArray();
    QCOMPARE(results.size(), rows.size());
    ids->clear();
    for (const QJsonValue &v : results) {
        QCOMPARE(v.toObject().value(QStringLiteral("status")).toInt(), 201);
        ids->append(qint64(v.toObject().value(QStringLiteral("id")).toDouble()));
    }
}

qint64 TestDataApi::total(Api &api, const QByteArray &collection,
                          const QList<std::pair<QByteArray, QString>> &params)
{
    QList<std::pair<QByteArray, QString>> all = params;
    all.append({"limit", QStringLiteral("1")});
    const RawResponse r = api.get(withQuery("/api/v1/" + collection, all));
    if (r.status != 200)
        return -1;
    return qint64(paginationOf(r).value(QStringLiteral("total")).toDouble(-1));
}

// POST -> 201 + Location + ETag + the row; Prefer: return=minimal; GET; PATCH changes only
// what it names; PUT replaces (optional fields become NULL or their default); DELETE -> 204
// and then 404; another user sees none of it.
void TestDataApi::crud()
{
    BULWARK_CHECK(startServer());
    Api &api = *m_api;

    const QJsonObject body =
        activity(QStringLiteral("run"), QStringLiteral("2026-03-02T07:30:00+01:00"), 1800, 5000.5,
                 {{QStringLiteral("title"), QStringLiteral("Morning run")},
                  {QStringLiteral("avg_heart_rate"), 150}});
    RawResponse created = api.post("/api/v1/activities", body);
    QVERIFY2(created.status == 201, created.body.constData());
    QCOMPARE(created.reason, QByteArray("Created"));
    QCOMPARE(created.header("Content-Type"), QByteArray("application/json"));
    QVERIFY2(etagPattern().match(QString::fromLatin1(created.header("ETag"))).hasMatch(),
             created.header("ETag").constData());
    QVERIFY2(created.header("Cache-Control").contains("no-store"),
             created.header("Cache-Control").constData());
    const QJsonObject row = created.json();
    const qint64 id = qint64(row.value(QStringLiteral("id")).toDouble());
    QVERIFY(id > 0);
    const QByteArray location = "/api/v1/activities/" + QByteArray::number(id);
    QCOMPARE(created.header("Location"), location);
    QCOMPARE(keysOf(row), (QStringList{"avg_heart_rate", "created_at", "distance_m", "duration_s",
                                       "elevation_gain_m", "id", "notes", "private", "sport",
                                       "started_at", "title", "updated_at", "user_id"}));
    QVERIFY2(
        timestampPattern().match(row.value(QStringLiteral("created_at")).toString()).hasMatch(),
        created.body.constData());
    QCOMPARE(row.value(QStringLiteral("updated_at")), row.value(QStringLiteral("created_at")));
    QJsonObject expected = body;
    expected.insert(QStringLiteral("started_at"), QStringLiteral("2026-03-02T06:30:00.000Z"));
    expected = activityRow(expected, m_alice);
    QVERIFY2(withoutServerFields(row) == expected,
             qPrintable(compact(row) + QStringLiteral(" != ") + compact(expected)));

    // GET: the same bytes and the same ETag as the create answered.
    RawResponse fetched = api.get(location);
    QCOMPARE(fetched.status, 200);
    QCOMPARE(fetched.body, created.body);
    QCOMPARE(fetched.header("ETag"), created.header("ETag"));
    QCOMPARE(fetched.header("Cache-Control"), QByteArray("private, no-cache"));
    QCOMPARE(fetched.header("Vary"), QByteArray("Authorization"));

    // Prefer: return=minimal: 201 with Location and ETag but no body.
    RawResponse minimal =
        api.post("/api/v1/activities",
                 activity(QStringLiteral("walk"), QStringLiteral("2026-03-03T12:00:00Z"), 600, 800),
                 "Prefer: return=minimal\r\n");
    QCOMPARE(minimal.status, 201);
    QCOMPARE(minimal.body, QByteArray());
    QCOMPARE(minimal.header("Content-Length"), QByteArray("0"));
    QCOMPARE(minimal.header("Preference-Applied"), QByteArray("return=minimal"));
    QVERIFY(minimal.header("Location").startsWith("/api/v1/activities/"));
    const qint64 minimalId = minimal.header("Location").mid(19).toLongLong();
    QVERIFY(minimalId > 0 && minimalId != id);
    RawResponse minimalRow = api.get(minimal.header("Location"));
    QCOMPARE(minimalRow.status, 200);
    QCOMPARE(minimal.header("ETag"), minimalRow.header("ETag"));

    // PATCH: only title (and updated_at) change.
    RawResponse patched =
        api.patch(location, {{QStringLiteral("title"), QStringLiteral("Evening run")}});
    QVERIFY2(patched.status == 200, patched.body.constData());
    QJsonObject afterPatch = row;
    afterPatch.insert(QStringLiteral("title"), QStringLiteral("Evening run"));
    afterPatch.insert(QStringLiteral("updated_at"),
                      patched.json().value(QStringLiteral("updated_at")));
    QVERIFY2(patched.json() == afterPatch,
             qPrintable(compact(patched.json()) + QStringLiteral(" != ") + compact(afterPatch)));
    QVERIFY(patched.json().value(QStringLiteral("updated_at")).toString() >=
            row.value(QStringLiteral("updated_at")).toString());
    QCOMPARE(api.get(location).body, patched.body);
    QCOMPARE(patched.header("ETag"), api.get(location).header("ETag"));

    // PATCH with return=minimal: 204, no body, the new ETag.
    QByteArray trailing;
    RawResponse patchedMinimal =
        api.sendAlone("PATCH", location, json({{QStringLiteral("notes"), QStringLiteral("easy")}}),
                      "Prefer: return=minimal\r\n", &trailing);
    QCOMPARE(patchedMinimal.status, 204);
    QCOMPARE(patchedMinimal.body, QByteArray());
    QVERIFY2(trailing.isEmpty(), trailing.constData());
    QVERIFY(!patchedMinimal.hasHeader("Content-Length"));
    QCOMPARE(patchedMinimal.header("Preference-Applied"), QByteArray("return=minimal"));
    RawResponse afterMinimal = api.get(location);
    QCOMPARE(afterMinimal.json().value(QStringLiteral("notes")).toString(), QStringLiteral("easy"));
    QCOMPARE(patchedMinimal.header("ETag"), afterMinimal.header("ETag"));

    // PUT: a full replacement; optional fields not given become NULL, private its default.
    const QJsonObject replacement =
        activity(QStringLiteral("ride"), QStringLiteral("2026-03-04T08:00:00.000Z"), 3600, 20000);
    RawResponse replaced = api.put(location, replacement);
    QVERIFY2(replaced.status == 200, replaced.body.constData());
    const QJsonObject expectedReplaced = activityRow(replacement, m_alice);
    QVERIFY2(
        withoutServerFields(replaced.json()) == expectedReplaced,
        qPrintable(compact(replaced.json()) + QStringLiteral(" != ") + compact(expectedReplaced)));
    QCOMPARE(replaced.json().value(QStringLiteral("id")).toDouble(), double(id));
    QCOMPARE(replaced.json().value(QStringLiteral("created_at")),
             row.value(QStringLiteral("created_at")));
    QCOMPARE(api.get(location).body, replaced.body);

    // Another user sees and changes none of it.
    verifyError(m_other->get(location), 404, QStringLiteral("not_found"));
    verifyError(m_other->patch(location, {{QStringLiteral("title"), QStringLiteral("mine")}}), 404,
                QStringLiteral("not_found"));
    verifyError(m_other->put(location, replacement), 404, QStringLiteral("not_found"));
    verifyError(m_other->del(location), 404, QStringLiteral("not_found"));
    QCOMPARE(total(*m_other, "activities"), qint64(0));
    QCOMPARE(api.get(location).body, replaced.body);

    // DELETE: 204 without a body, then 404, and a second DELETE is 404 as well.
    RawResponse deleted = api.sendAlone("DELETE", location, {}, {}, &trailing);
    QCOMPARE(deleted.status, 204);
    QVERIFY2(trailing.isEmpty(), trailing.constData());
    QVERIFY(!deleted.hasHeader("Content-Length"));
    verifyError(api.get(location), 404, QStringLiteral("not_found"),
                QStringLiteral("activities has no row with id %1").arg(id));
    verifyError(api.del(location), 404, QStringLiteral("not_found"));
    verifyError(api.patch(location, {{QStringLiteral("title"), QStringLiteral("x")}}), 404,
                QStringLiteral("not_found"));
    QCOMPARE(total(api, "activities"), qint64(1));

    // Ids are positive integers.
    verifyError(api.get("/api/v1/activities/abc"), 404, QStringLiteral("not_found"));
    verifyError(api.get("/api/v1/activities/0"), 404, QStringLiteral("not_found"));
    verifyError(api.get("/api/v1/activities/-1"), 404, QStringLiteral("not_found"));
}

// ETag / If-None-Match -> 304 (no body, same ETag); If-Match on writes -> 412 when stale,
// leaving the row as it was.
void TestDataApi::conditionalRequests()
{
    BULWARK_CHECK(startServer());
    Api &api = *m_api;
    RawResponse created = api.post(
        "/api/v1/activities",
        activity(QStringLiteral("run"), QStringLiteral("2026-03-02T07:30:00Z"), 1800, 5000));
    QCOMPARE(created.status, 201);
    const QByteArray location = created.header("Location");

    RawResponse first = api.get(location);
    QCOMPARE(first.status, 200);
    const QByteArray tag = first.header("ETag");
    QVERIFY(etagPattern().match(QString::fromLatin1(tag)).hasMatch());

    QByteArray trailing;
    RawResponse notModified =
        api.sendAlone("GET", location, {}, "If-None-Match: " + tag + "\r\n", &trailing);
    QCOMPARE(notModified.status, 304);
    QCOMPARE(notModified.body, QByteArray());
    QVERIFY2(trailing.isEmpty(), trailing.constData());
    QVERIFY(!notModified.hasHeader("Content-Length"));
    QCOMPARE(notModified.header("ETag"), tag);
    QCOMPARE(notModified.header("Cache-Control"), QByteArray("private, no-cache"));

    // Also in a list of tags, and on the keep-alive connection (which must stay in sync).
    RawResponse inList = api.get(location, "If-None-Match: \"0123456789abcdef\", " + tag + "\r\n");
    QCOMPARE(inList.status, 304);
    // If-None-Match compares weakly (RFC 9110): W/"tag" matches "tag".
    QCOMPARE(api.get(location, "If-None-Match: W/" + tag + "\r\n").status, 304);
    RawResponse different = api.get(location, "If-None-Match: \"0123456789abcdef\"\r\n");
    QCOMPARE(different.status, 200);
    QCOMPARE(different.body, first.body);
    QCOMPARE(different.header("ETag"), tag);

    // Lists have validators too.
    RawResponse list = api.get("/api/v1/activities");
    QCOMPARE(list.status, 200);
    QVERIFY(!list.header("ETag").isEmpty());
    QCOMPARE(api.get("/api/v1/activities", "If-None-Match: " + list.header("ETag") + "\r\n").status,
             304);

    // Someone changes the row: the tag read before is stale now.
    RawResponse changed = api.patch(location, {{QStringLiteral("title"), QStringLiteral("one")}},
                                    "If-Match: " + tag + "\r\n");
    QVERIFY2(changed.status == 200, changed.body.constData());
    const QByteArray current = changed.header("ETag");
    QVERIFY(current != tag);
    QCOMPARE(api.get(location).header("ETag"), current);
    QCOMPARE(api.get(location, "If-None-Match: " + tag + "\r\n").status, 200);

    RawResponse stale = api.patch(location, {{QStringLiteral("title"), QStringLiteral("two")}},
                                  "If-Match: " + tag + "\r\n");
    verifyError(stale, 412, QStringLiteral("precondition_failed"));
    // If-Match compares strongly: a weak tag never matches, not even the current one.
    verifyError(api.patch(location, {{QStringLiteral("title"), QStringLiteral("two")}},
                          "If-Match: W/" + current + "\r\n"),
                412, QStringLiteral("precondition_failed"));
    RawResponse unchanged = api.get(location);
    QCOMPARE(unchanged.body, changed.body);
    QCOMPARE(unchanged.header("ETag"), current);
    verifyError(
        api.put(location,
                activity(QStringLiteral("ride"), QStringLiteral("2026-03-02T07:30:00Z"), 100, 100),
                "If-Match: " + tag + "\r\n"),
        412, QStringLiteral("precondition_failed"));
    verifyError(api.del(location, "If-Match: " + tag + "\r\n"), 412,
                QStringLiteral("precondition_failed"));
    QCOMPARE(api.get(location).body, changed.body);

    RawResponse withCurrent =
        api.patch(location, {{QStringLiteral("title"), QStringLiteral("two")}},
                  "If-Match: " + current + "\r\n");
    QVERIFY2(withCurrent.status == 200, withCurrent.body.constData());
    QCOMPARE(withCurrent.json().value(QStringLiteral("title")).toString(), QStringLiteral("two"));
    RawResponse any = api.patch(location, {{QStringLiteral("title"), QStringLiteral("three")}},
                                "If-Match: *\r\n");
    QCOMPARE(any.status, 200);
    QCOMPARE(api.del(location, "If-Match: " + any.header("ETag") + "\r\n").status, 204);
    QCOMPARE(api.get(location).status, 404);
}

// page/limit: the body shape, totals, hasNext/hasPrev, skip_total, limits.
void TestDataApi::pagePagination()
{
    BULWARK_CHECK(startServer());
    Api &api = *m_api;
    QList<QJsonObject> rows;
    for (int i = 0; i < 25; ++i)
        rows.append(activity(QStringLiteral("run"),
                             QDateTime(QDate(2026, 3, 1), QTime(6, 0), QTimeZone::utc())
                                 .addSecs(qint64(i) * 3600)
                                 .toString(Qt::ISODateWithMs),
                             600 + i, 1000 + i));
    QList<qint64> ids;
    BULWARK_CHECK(createAll(api, QStringLiteral("activities"), rows, &ids));
    // Default order: -started_at (then id): the newest first.
    QList<qint64> newestFirst = ids;
    std::reverse(newestFirst.begin(), newestFirst.end());

    auto page = [](int p, int limit, int total, int totalPages, bool next, bool prev) {
        return QJsonObject{
            {QStringLiteral("page"), p},       {QStringLiteral("limit"), limit},
            {QStringLiteral("total"), total},  {QStringLiteral("totalPages"), totalPages},
            {QStringLiteral("hasNext"), next}, {QStringLiteral("hasPrev"), prev}};
    };
    QList<qint64> seen;
    const QList<QJsonObject> expectedPages{
        page(1, 10, 25, 3, true, false), page(2, 10, 25, 3, true, true),
        page(3, 10, 25, 3, false, true), page(4, 10, 25, 3, false, true)};
    for (int p = 1; p <= 4; ++p) {
        RawResponse r = api.get("/api/v1/activities?limit=10&page=" + QByteArray::number(p));
        QCOMPARE(r.status, 200);
        QCOMPARE(keysOf(r.json()), (QStringList{"data", "pagination"}));
        QVERIFY2(paginationOf(r) == expectedPages.at(p - 1), qPrintable(compact(paginationOf(r))));
        QCOMPARE(dataOf(r).size(), p <= 2 ? 10 : p == 3 ? 5 : 0);
        seen += idsOf(dataOf(r));
    }
    QCOMPARE(seen, newestFirst);

    // The default limit (api.default_limit = 20).
    RawResponse byDefault = api.get("/api/v1/activities");
    QVERIFY2(paginationOf(byDefault) == page(1, 20, 25, 2, true, false),
             qPrintable(compact(paginationOf(byDefault))));
    QCOMPARE(idsOf(dataOf(byDefault)), newestFirst.first(20));

    // skip_total: no COUNT, total and totalPages null; hasNext still exact.
    for (const QByteArray &flag : {QByteArray("true"), QByteArray("1")}) {
        RawResponse skipped = api.get("/api/v1/activities?limit=10&page=3&skip_total=" + flag);
        QCOMPARE(skipped.status, 200);
        const QJsonObject expected{{QStringLiteral("page"), 3},
                                   {QStringLiteral("limit"), 10},
                                   {QStringLiteral("total"), QJsonValue::Null},
                                   {QStringLiteral("totalPages"), QJsonValue::Null},
                                   {QStringLiteral("hasNext"), false},
                                   {QStringLiteral("hasPrev"), true}};
        QVERIFY2(paginationOf(skipped) == expected, qPrintable(compact(paginationOf(skipped))));
        QCOMPARE(idsOf(dataOf(skipped)), newestFirst.mid(20));
    }
    RawResponse exact = api.get("/api/v1/activities?limit=25&skip_total=true");
    QCOMPARE(paginationOf(exact).value(QStringLiteral("hasNext")), QJsonValue(false));
    RawResponse oneLess = api.get("/api/v1/activities?limit=24&skip_total=true");
    QCOMPARE(paginationOf(oneLess).value(QStringLiteral("hasNext")), QJsonValue(true));

    // The largest limit is api.max_limit (1000).
    QCOMPARE(api.get("/api/v1/activities?limit=1000").status, 200);
    for (const QByteArray &bad :
         {QByteArray("limit=1001"), QByteArray("limit=0"), QByteArray("limit=-5"),
          QByteArray("limit=ten"), QByteArray("page=0"), QByteArray("page=x")}) {
        RawResponse r = api.get("/api/v1/activities?" + bad);
        BULWARK_CHECK(verifyError(r, 400, QStringLiteral("bad_request")));
        QCOMPARE(errorOf(r).value(QStringLiteral("parameter")).toString(),
                 QString::fromLatin1(bad.left(bad.indexOf('='))));
    }
    verifyError(api.get("/api/v1/activities?limit=1001"), 400, QStringLiteral("bad_request"),
                QStringLiteral("1000"));
}

// Keyset pagination: cursor= starts, next_cursor until null visits every row exactly once in
// order, also across equal sort values (the id tie-break) and with mixed directions; a
// cursor is bound to its sort; garbage is a 400.
void TestDataApi::keysetPagination()
{
    BULWARK_CHECK(startServer());
    Api &api = *m_api;
    // 57 rows, 19 distinct start times (three rows each, created far apart so that id order
    // and time order disagree), five sports.
    const QStringList sports{"run", "ride", "swim", "walk", "hike"};
    const QDateTime base(QDate(2026, 4, 1), QTime(6, 0), QTimeZone::utc());
    struct Row
    {
        qint64 id;
        QString sport;
        QString startedAt;
    };
    QList<QJsonObject> bodies;
    QList<Row> rows;
    for (int i = 0; i < 57; ++i) {
        const QString started =
            base.addSecs(qint64((i * 7) % 19) * 3600).toString(Qt::ISODateWithMs);
        const QString sport = sports.at((i * 3) % 5);
        bodies.append(activity(sport, started, 600 + i, 1000 + i));
        rows.append({0, sport, started});
    }
    QList<qint64> ids;
    BULWARK_CHECK(createAll(api, QStringLiteral("activities"), bodies, &ids));
    for (int i = 0; i < rows.size(); ++i)
        rows[i].id = ids.at(i);

    // Follows next_cursor from `cursor=` to the end; every page but the last is full.
    auto walk = [&](const QList<std::pair<QByteArray, QString>> &params, int limit,
                    QList<qint64> *out, int *pages) {
        QString cursor; // empty: the first page
        out->clear();
        *pages = 0;
        for (int guard = 0; guard < 100; ++guard) {
            QList<std::pair<QByteArray, QString>> all = params;
            all.append({"limit", QString::number(limit)});
            all.append({"cursor", cursor});
            RawResponse r = api.get(withQuery("/api/v1/activities", all));
            QVERIFY2(r.status == 200, r.body.constData());
            ++*pages;
            const QJsonObject p = paginationOf(r);
            QCOMPARE(keysOf(p), (QStringList{"hasNext", "limit", "next_cursor"}));
            QCOMPARE(p.value(QStringLiteral("limit")).toInt(), limit);
            const QJsonArray data = dataOf(r);
            *out += idsOf(data);
            if (p.value(QStringLiteral("next_cursor")).isNull()) {
                QCOMPARE(p.value(QStringLiteral("hasNext")), QJsonValue(false));
                QVERIFY(data.size() <= limit);
                return;
            }
            QCOMPARE(p.value(QStringLiteral("hasNext")), QJsonValue(true));
            QCOMPARE(data.size(), limit);
            cursor = p.value(QStringLiteral("next_cursor")).toString();
            QVERIFY(!cursor.isEmpty());
        }
        QFAIL("next_cursor never became null");
    };

    struct Case
    {
        const char *name;
        QList<std::pair<QByteArray, QString>> params;
        int limit;
        std::function<bool(const Row &, const Row &)> less;
        std::function<bool(const Row &)> keep = {}; // the filter's rows; empty: all
    };
    const QList<Case> cases{
        {"default sort (-started_at, -id)",
         {},
         10,
         [](const Row &a, const Row &b) {
             return a.startedAt != b.startedAt ? a.startedAt > b.startedAt : a.id > b.id;
         }},
        {"started_at ascending (id ascending)",
         {{"sort", QStringLiteral("started_at")}},
         7,
         [](const Row &a, const Row &b) {
             return a.startedAt != b.startedAt ? a.startedAt < b.startedAt : a.id < b.id;
         }},
        {"mixed directions: sport, -started_at (id ascending)",
         {{"sort", QStringLiteral("sport,-started_at")}},
         8,
         [](const Row &a, const Row &b) {
             if (a.sport != b.sport)
                 return a.sport < b.sport;
             return a.startedAt != b.startedAt ? a.startedAt > b.startedAt : a.id < b.id;
         }},
        {"filtered, page size 1",
         {{"filter", QStringLiteral("sport eq 'swim'")}},
         1,
         [](const Row &a, const Row &b) {
             return a.startedAt != b.startedAt ? a.startedAt > b.startedAt : a.id > b.id;
         },
         [](const Row &r) { return r.sport == QLatin1String("swim"); }},
    };
    for (const Case &c : cases) {
        QList<Row> expectedRows = rows;
        if (c.keep)
            expectedRows.removeIf([&](const Row &r) { return !c.keep(r); });
        std::sort(expectedRows.begin(), expectedRows.end(), c.less);
        QList<qint64> expected;
        for (const Row &r : expectedRows)
            expected.append(r.id);
        QList<qint64> seen;
        int pages = 0;
        walk(c.params, c.limit, &seen, &pages);
        if (QTest::currentTestFailed())
            qWarning("in case: %s", c.name);
        BULWARK_CHECK((void)0);
        QSet<qint64> unique(seen.begin(), seen.end());
        QVERIFY2(unique.size() == seen.size(), c.name);
        QVERIFY2(seen == expected,
                 qPrintable(QStringLiteral("%1: got %2, expected %3")
                                .arg(QLatin1String(c.name), idList(seen), idList(expected))));
        // A full last page is followed by... nothing: the server knows there is no next.
        QCOMPARE(pages, int(expected.size() + c.limit - 1) / c.limit);
    }

    // A cursor belongs to its sort (and says so), cannot be combined with page, and must be
    // one the server gave out.
    RawResponse first = api.get("/api/v1/activities?limit=5&cursor=");
    QCOMPARE(first.status, 200);
    const QString cursor = paginationOf(first).value(QStringLiteral("next_cursor")).toString();
    QVERIFY(!cursor.isEmpty());
    RawResponse second = api.get(
        withQuery("/api/v1/activities", {{"limit", QStringLiteral("5")}, {"cursor", cursor}}));
    QCOMPARE(second.status, 200);
    QCOMPARE(idsOf(dataOf(second)), idsOf(dataOf(api.get("/api/v1/activities?limit=5&page=2"))));

    auto verifyBadCursor = [&](const QList<std::pair<QByteArray, QString>> &params,
                               const QString &parameter) {
        RawResponse r = api.get(withQuery("/api/v1/activities", params));
        BULWARK_CHECK(verifyError(r, 400, QStringLiteral("bad_request")));
        QCOMPARE(errorOf(r).value(QStringLiteral("parameter")).toString(), parameter);
    };
    BULWARK_CHECK(verifyBadCursor({{"sort", QStringLiteral("started_at")}, {"cursor", cursor}},
                                  QStringLiteral("cursor")));
    BULWARK_CHECK(
        verifyBadCursor({{"sort", QStringLiteral("-started_at,sport")}, {"cursor", cursor}},
                        QStringLiteral("cursor")));
    BULWARK_CHECK(verifyBadCursor({{"cursor", QStringLiteral("!!!not a cursor!!!")}},
                                  QStringLiteral("cursor")));
    BULWARK_CHECK(verifyBadCursor({{"cursor", QStringLiteral("eyJub3QiOiJ0aGlzIn0")}},
                                  QStringLiteral("cursor"))); // {"not":"this"}
    const QByteArray shortValues =
        QByteArray(R"({"s":"-started_at,-id","v":[1]})")
            .toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
    BULWARK_CHECK(
        verifyBadCursor({{"cursor", QString::fromLatin1(shortValues)}}, QStringLiteral("cursor")));
    const QByteArray wrongTypes =
        QByteArray(R"({"s":"-started_at,-id","v":[true,"x"]})")
            .toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
    BULWARK_CHECK(
        verifyBadCursor({{"cursor", QString::fromLatin1(wrongTypes)}}, QStringLiteral("cursor")));
    // Keyset order needs fields that cannot be NULL; title is optional.
    BULWARK_CHECK(verifyBadCursor({{"sort", QStringLiteral("title")}, {"cursor", QString()}},
                                  QStringLiteral("sort")));
    RawResponse both = api.get(
        withQuery("/api/v1/activities", {{"page", QStringLiteral("2")}, {"cursor", cursor}}));
    verifyError(both, 400, QStringLiteral("bad_request"));
}

// sort: several keys with directions; unknown and unsortable fields are 400s naming them.
void TestDataApi::sorting()
{
    BULWARK_CHECK(startServer());
    Api &api = *m_api;
    struct Row
    {
        QString sport;
        double distance;
    };
    const QList<Row> rows{{"swim", 1500},  {"run", 5000},  {"ride", 20000}, {"run", 10000},
                          {"ride", 20000}, {"walk", 3000}, {"run", 5000},   {"hike", 12000}};
    QList<QJsonObject> bodies;
    for (int i = 0; i < rows.size(); ++i)
        bodies.append(
            activity(rows.at(i).sport,
                     QStringLiteral("2026-03-%1T10:00:00Z").arg(i + 1, 2, 10, QLatin1Char('0')),
                     1000, rows.at(i).distance));
    QList<qint64> ids;
    BULWARK_CHECK(createAll(api, QStringLiteral("activities"), bodies, &ids));

    auto expectedOrder = [&](const std::function<bool(int, int)> &less) {
        QList<int> order;
        for (int i = 0; i < rows.size(); ++i)
            order.append(i);
        std::stable_sort(order.begin(), order.end(), less);
        QList<qint64> out;
        for (int i : order)
            out.append(ids.at(i));
        return out;
    };
    struct Case
    {
        QString sort;
        std::function<bool(int, int)> less;
    };
    const QList<Case> cases{
        // Ties in both keys fall back to id, ascending like the first key.
        {QStringLiteral("sport,-distance_m"),
         [&](int a, int b) {
             if (rows[a].sport != rows[b].sport)
                 return rows[a].sport < rows[b].sport;
             if (rows[a].distance != rows[b].distance)
                 return rows[a].distance > rows[b].distance;
             return ids[a] < ids[b];
         }},
        {QStringLiteral("-distance_m"),
         [&](int a, int b) {
             if (rows[a].distance != rows[b].distance)
                 return rows[a].distance > rows[b].distance;
             return ids[a] > ids[b];
         }},
        {QStringLiteral("+distance_m,-id"),
         [&](int a, int b) {
             if (rows[a].distance != rows[b].distance)
                 return rows[a].distance < rows[b].distance;
             return ids[a] > ids[b];
         }},
        {QStringLiteral("-sport, distance_m , started_at"),
         [&](int a, int b) {
             if (rows[a].sport != rows[b].sport)
                 return rows[a].sport > rows[b].sport;
             if (rows[a].distance != rows[b].distance)
                 return rows[a].distance < rows[b].distance;
             return a < b; // started_at grows with the index
         }},
        {QStringLiteral("id"), [&](int a, int b) { return ids[a] < ids[b]; }},
        {QStringLiteral("-id"), [&](int a, int b) { return ids[a] > ids[b]; }},
    };
    for (const Case &c : cases) {
        RawResponse r = api.get(withQuery("/api/v1/activities", {{"sort", c.sort}}));
        QVERIFY2(r.status == 200, r.body.constData());
        const QList<qint64> expected = expectedOrder(c.less);
        QVERIFY2(idsOf(dataOf(r)) == expected,
                 qPrintable(QStringLiteral("sort=%1: got %2, expected %3")
                                .arg(c.sort, idList(idsOf(dataOf(r))), idList(expected))));
    }

    RawResponse unknown = api.get(withQuery("/api/v1/activities", {{"sort", "sport,-speed"}}));
    BULWARK_CHECK(
        verifyError(unknown, 400, QStringLiteral("bad_request"), QStringLiteral("\"speed\"")));
    QCOMPARE(errorOf(unknown).value(QStringLiteral("parameter")).toString(),
             QStringLiteral("sort"));
    verifyError(api.get(withQuery("/api/v1/activities", {{"sort", "Sport"}})), 400,
                QStringLiteral("bad_request"), QStringLiteral("\"Sport\""));
    // json fields have no order.
    verifyError(api.get(withQuery("/api/v1/body_measurements", {{"sort", "source"}})), 400,
                QStringLiteral("bad_request"), QStringLiteral("\"source\""));
}

// Every filter operator, the connectives with their precedence, datetimes, and the errors:
// syntax (with the position), unknown field (named), value of the wrong type.
void TestDataApi::filters()
{
    BULWARK_CHECK(startServer());
    Api &api = *m_api;
    const QList<QJsonObject> bodies{
        activity("run", "2026-03-02T07:00:00Z", 1800, 5000,
                 {{"title", "Morning Run"}, {"avg_heart_rate", 150}, {"elevation_gain_m", 50}}),
        activity("run", "2026-03-03T18:00:00Z", 3600, 10000,
                 {{"title", "Evening run"}, {"private", true}}),
        activity("ride", "2026-03-04T08:00:00Z", 2400, 15000,
                 {{"title", "Commute"}, {"avg_heart_rate", 130}, {"elevation_gain_m", 120}}),
        activity("swim", "2026-03-05T06:30:00Z", 1500, 1500,
                 {{"avg_heart_rate", 140}, {"elevation_gain_m", 0}}),
        activity("hike", "2026-03-07T09:00:00Z", 7200, 12000,
                 {{"title", "Hill hike"},
                  {"avg_heart_rate", 120},
                  {"private", true},
                  {"elevation_gain_m", 800}}),
        activity("walk", "2026-03-08T12:00:00Z", 3000, 4000.5, {{"title", "Walk to 100%"}}),
    };
    QList<qint64> ids;
    BULWARK_CHECK(createAll(api, QStringLiteral("activities"), bodies, &ids));
    // Bob's rows never show up in Alice's lists, whatever the filter.
    QList<qint64> bobIds;
    BULWARK_CHECK(
        createAll(*m_other, QStringLiteral("activities"),
                  {activity("run", "2026-03-02T07:00:00Z", 1800, 5000, {{"title", "Morning Run"}})},
                  &bobIds));

    struct Case
    {
        QString filter;
        QList<int> rows; // 1-based indexes into bodies
    };
    const QList<Case> cases{
        {"sport eq 'run'", {1, 2}},
        {"sport EQ 'run'", {1, 2}},
        {"sport ne 'run'", {3, 4, 5, 6}},
        {"distance_m gt 10000", {3, 5}},
        {"distance_m gte 10000", {2, 3, 5}},
        {"distance_m lt 4000.5", {4}},
        {"distance_m lte 4000.5", {4, 6}},
        {"distance_m gt 4e3", {1, 2, 3, 5, 6}},
        {"duration_s eq 3600", {2}},
        {"avg_heart_rate gte 140", {1, 4}},
        {"elevation_gain_m eq 0", {4}},
        {"id eq " + QString::number(ids.at(2)), {3}},
        {"id in (" + QString::number(ids.at(0)) + ", " + QString::number(ids.at(5)) + ", 999999)",
         {1, 6}},
        // like: case-insensitive on both databases (ASCII), % and _ wildcards.
        {"title like '%run%'", {1, 2}},
        {"title like 'MORNING%'", {1}},
        {"title like '_ommute'", {3}},
        {"title like '%100%'", {6}},
        {"sport in ('swim', 'hike')", {4, 5}},
        {"sport in ('swim')", {4}},
        {"sport in ('nothing')", {}},
        {"avg_heart_rate is_null", {2, 6}},
        {"avg_heart_rate is_null true", {2, 6}},
        {"avg_heart_rate is_null false", {1, 3, 4, 5}},
        {"title is_null", {4}},
        {"elevation_gain_m is_null", {2, 6}},
        {"private eq true", {2, 5}},
        {"private eq false", {1, 3, 4, 6}},
        {"sport eq 'run' and private eq false", {1}},
        {"sport eq 'run' or sport eq 'swim'", {1, 2, 4}},
        {"not sport eq 'run'", {3, 4, 5, 6}},
        {"not (sport eq 'run' or distance_m lt 5000)", {3, 5}},
        {"not not sport eq 'swim'", {4}},
        {"(sport eq 'run' or sport eq 'ride') and distance_m gte 10000", {2, 3}},
        // and binds tighter than or.
        {"sport eq 'run' or sport eq 'ride' and distance_m gte 20000", {1, 2}},
        {"sport eq 'ride' and distance_m gte 20000 or sport eq 'run'", {1, 2}},
        {"((sport eq 'hike'))", {5}},
        {"title is_null or title like '%hike%' and not private eq false", {4, 5}},
        // Datetimes compare as instants, whatever offset the value is written with.
        {"started_at gte '2026-03-04T08:00:00Z'", {3, 4, 5, 6}},
        {"started_at gt '2026-03-04T08:00:00.000Z'", {4, 5, 6}},
        {"started_at lt '2026-03-04T09:00:00+01:00'", {1, 2}},
        {"started_at lte '2026-03-04T09:00:00+01:00'", {1, 2, 3}},
        {"started_at eq '2026-03-05T07:30:00+01:00'", {4}},
        {"started_at gt '2026-03-05T06:30:00Z' and started_at lte '2026-03-07T09:00:00Z'", {5}},
        {"created_at lt '2100-01-01T00:00:00Z' and updated_at gt '2000-01-01T00:00:00Z'",
         {1, 2, 3, 4, 5, 6}},
        {"sport eq 'run' or user_id ne 0", {1, 2, 3, 4, 5, 6}},
    };
    for (const Case &c : cases) {
        RawResponse r = api.get(withQuery("/api/v1/activities",
                                          {{"filter", c.filter}, {"sort", QStringLiteral("id")}}));
        QVERIFY2(r.status == 200,
                 qPrintable(c.filter + QStringLiteral(": ") + QString::fromUtf8(r.body)));
        QList<qint64> expected;
        for (int i : c.rows)
            expected.append(ids.at(i - 1));
        QVERIFY2(idsOf(dataOf(r)) == expected,
                 qPrintable(QStringLiteral("%1: got %2, expected %3")
                                .arg(c.filter, idList(idsOf(dataOf(r))), idList(expected))));
        QCOMPARE(paginationOf(r).value(QStringLiteral("total")).toInt(), int(expected.size()));
    }

    struct Bad
    {
        QString filter;
        int position;        // in the error body
        QString messagePart; // in the message
    };
    const QList<Bad> bad{
        // Syntax errors.
        {"sport eq", 9, {}},
        {"sport eq 'run' and and distance_m gt 1", 20, {}},
        {"sport eq 'run", 10, {}},
        {"(sport eq 'run'", 16, {}},
        {"sport eq 'run')", 15, {}},
        {"sport equals 'run'", 7, {}},
        {"distance_m eq null", 15, QStringLiteral("is_null")},
        {"sport in 'run'", 10, {}},
        {"sport eq 'run' sport eq 'ride'", 16, {}},
        // Unknown fields, named (field names are case-sensitive).
        {"speed gt 3", 1, QStringLiteral("\"speed\"")},
        {"sport eq 'run' and Sport eq 'run'", 20, QStringLiteral("\"Sport\"")},
        {"splits eq 1", 1, QStringLiteral("\"splits\"")},
        // Values of the wrong type.
        {"duration_s eq 'long'", 15, QStringLiteral("duration_s")},
        {"duration_s eq 1.5", 15, QStringLiteral("duration_s")},
        {"private eq 1", 12, QStringLiteral("private")},
        {"sport eq 5", 10, QStringLiteral("sport")},
        {"started_at gt 'yesterday'", 15, QStringLiteral("started_at")},
        {"started_at gt 20260301", 15, QStringLiteral("started_at")},
        {"distance_m gt true", 15, QStringLiteral("distance_m")},
        {"distance_m like '5%'", 1, QStringLiteral("like")},
        {"sport in ('run', 3)", 18, QStringLiteral("sport")},
    };
    for (const Bad &b : bad) {
        RawResponse r = api.get(withQuery("/api/v1/activities", {{"filter", b.filter}}));
        verifyError(r, 400, QStringLiteral("bad_request"), b.messagePart);
        if (QTest::currentTestFailed())
            qWarning("filter: %s", qPrintable(b.filter));
        BULWARK_CHECK((void)0);
        const QJsonObject e = errorOf(r);
        QCOMPARE(e.value(QStringLiteral("parameter")).toString(), QStringLiteral("filter"));
        QVERIFY2(e.value(QStringLiteral("position")).toInt() == b.position,
                 qPrintable(QStringLiteral("%1: position %2, expected %3 (%4)")
                                .arg(b.filter)
                                .arg(e.value(QStringLiteral("position")).toInt())
                                .arg(b.position)
                                .arg(e.value(QStringLiteral("message")).toString())));
    }
}

// fields (sparse, also inside an expansion), expand in both directions, and their errors.
void TestDataApi::fieldsAndExpand()
{
    BULWARK_CHECK(startServer());
    Api &api = *m_api;
    QList<qint64> activities;
    BULWARK_CHECK(createAll(api, QStringLiteral("activities"),
                            {activity("run", "2026-03-02T07:00:00Z", 1800, 3000),
                             activity("ride", "2026-03-03T07:00:00Z", 1200, 2000),
                             activity("swim", "2026-03-04T07:00:00Z", 900, 750)},
                            &activities));
    const qint64 a = activities.at(0), b = activities.at(1), c = activities.at(2);
    // Created out of km order: expansions follow the child's default sort (km).
    QList<qint64> splits;
    BULWARK_CHECK(createAll(
        api, QStringLiteral("splits"),
        {QJsonObject{{"activity_id", a}, {"km", 2}, {"duration_s", 610.5}},
         QJsonObject{{"activity_id", a}, {"km", 1}, {"duration_s", 590.0}, {"avg_heart_rate", 140}},
         QJsonObject{{"activity_id", b}, {"km", 1}, {"duration_s", 600.0}},
         QJsonObject{{"activity_id", a}, {"km", 3}, {"duration_s", 599.5}},
         QJsonObject{{"activity_id", b}, {"km", 2}, {"duration_s", 601.0}}},
        &splits));

    // fields + expand with a relation's fields.
    RawResponse r =
        api.get(withQuery("/api/v1/activities",
                          {{"fields", "sport,splits.km"}, {"expand", "splits"}, {"sort", "id"}}));
    QVERIFY2(r.status == 200, r.body.constData());
    const QJsonArray expected{
        QJsonObject{{"id", a},
                    {"sport", "run"},
                    {"splits", QJsonArray{QJsonObject{{"id", splits.at(1)}, {"km", 1}},
                                          QJsonObject{{"id", splits.at(0)}, {"km", 2}},
                                          QJsonObject{{"id", splits.at(3)}, {"km", 3}}}}},
        QJsonObject{{"id", b},
                    {"sport", "ride"},
                    {"splits", QJsonArray{QJsonObject{{"id", splits.at(2)}, {"km", 1}},
                                          QJsonObject{{"id", splits.at(4)}, {"km", 2}}}}},
        QJsonObject{{"id", c}, {"sport", "swim"}, {"splits", QJsonArray{}}},
    };
    QVERIFY2(dataOf(r) == expected,
             qPrintable(compact(dataOf(r)) + QStringLiteral(" != ") + compact(expected)));

    // Sparse fields alone: id always comes along.
    r = api.get(withQuery("/api/v1/activities", {{"fields", "sport, distance_m"}, {"sort", "id"}}));
    QCOMPARE(r.status, 200);
    QCOMPARE(dataOf(r).size(), 3);
    for (const QJsonValue &v : dataOf(r))
        QCOMPARE(keysOf(v.toObject()), (QStringList{"distance_m", "id", "sport"}));
    QCOMPARE(dataOf(r).at(2).toObject().value("distance_m").toDouble(), 750.0);
    r = api.get("/api/v1/activities/" + QByteArray::number(a) + "?fields=title,id");
    QCOMPARE(r.status, 200);
    QVERIFY2(r.json() == (QJsonObject{{"id", a}, {"title", QJsonValue::Null}}), r.body.constData());

    // One row with its splits in full.
    r = api.get("/api/v1/activities/" + QByteArray::number(b) + "?expand=splits");
    QCOMPARE(r.status, 200);
    const QJsonArray bSplits = r.json().value("splits").toArray();
    QCOMPARE(idsOf(bSplits), (QList<qint64>{splits.at(2), splits.at(4)}));
    const QJsonObject firstSplit = bSplits.at(0).toObject();
    QCOMPARE(keysOf(firstSplit),
             (QStringList{"activity_id", "avg_heart_rate", "created_at", "duration_s",
                          "elevation_change_m", "id", "km", "updated_at", "user_id"}));
    QCOMPARE(firstSplit.value("activity_id").toDouble(), double(b));
    QCOMPARE(firstSplit.value("duration_s").toDouble(), 600.0);
    QCOMPARE(firstSplit.value("user_id").toDouble(), double(m_alice));
    QVERIFY(firstSplit.value("elevation_change_m").isNull());
    QCOMPARE(r.json().value("sport").toString(), QStringLiteral("ride"));

    // Forward: each split with its activity, exactly as GET /activities/{id} shows it.
    r = api.get("/api/v1/splits?expand=activity&sort=id");
    QCOMPARE(r.status, 200);
    QCOMPARE(dataOf(r).size(), 5);
    QHash<qint64, QJsonObject> activityRows;
    for (qint64 id : activities)
        activityRows.insert(id, api.get("/api/v1/activities/" + QByteArray::number(id)).json());
    for (const QJsonValue &v : dataOf(r)) {
        const QJsonObject split = v.toObject();
        const qint64 parent = qint64(split.value("activity_id").toDouble());
        QVERIFY2(split.value("activity").toObject() == activityRows.value(parent),
                 qPrintable(compact(split)));
    }
    r = api.get("/api/v1/splits?expand=activity&fields=km,activity.sport&sort=km,id");
    QCOMPARE(r.status, 200);
    QVERIFY2(dataOf(r).at(0).toObject() ==
                 (QJsonObject{{"id", splits.at(1)},
                              {"km", 1},
                              {"activity", QJsonObject{{"id", a}, {"sport", "run"}}}}),
             qPrintable(compact(dataOf(r).at(0))));
    r = api.get("/api/v1/splits/" + QByteArray::number(splits.at(4)) +
                "?expand=activity&fields=activity.distance_m");
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json().value("activity").toObject(), (QJsonObject{{"id", b}, {"distance_m", 2000}}));
    QCOMPARE(r.json().value("km").toInt(), 2);

    // Errors: unknown expansions list what can be expanded; fields must exist and name
    // relations that are expanded.
    r = api.get("/api/v1/activities?expand=laps");
    BULWARK_CHECK(verifyError(r, 400, QStringLiteral("bad_request"),
                              QStringLiteral("\"laps\" is not a relation of activities "
                                             "(expandable: splits)")));
    QCOMPARE(errorOf(r).value("parameter").toString(), QStringLiteral("expand"));
    verifyError(api.get("/api/v1/splits?expand=laps"), 400, QStringLiteral("bad_request"),
                QStringLiteral("(expandable: activity)"));
    verifyError(api.get("/api/v1/splits/1?expand=activities"), 400, QStringLiteral("bad_request"),
                QStringLiteral("(expandable: activity)"));
    verifyError(api.get("/api/v1/activities?expand=user"), 400, QStringLiteral("bad_request"),
                QStringLiteral("\"user\""));
    verifyError(api.get("/api/v1/nutrition_entries?expand=splits"), 400,
                QStringLiteral("bad_request"), QStringLiteral("(expandable: none)"));
    r = api.get("/api/v1/activities?fields=sport,pace");
    BULWARK_CHECK(verifyError(r, 400, QStringLiteral("bad_request"), QStringLiteral("\"pace\"")));
    QCOMPARE(errorOf(r).value("parameter").toString(), QStringLiteral("fields"));
    verifyError(api.get("/api/v1/activities?fields=splits.km"), 400, QStringLiteral("bad_request"),
                QStringLiteral("splits.km"));
    verifyError(api.get("/api/v1/activities?fields=splits.pace&expand=splits"), 400,
                QStringLiteral("bad_request"), QStringLiteral("\"pace\""));
}

// A page with an expansion costs two statements, whatever its size: the rows, then every
// child of the page in one IN query (no N+1); with the total it is three.
void TestDataApi::statementCount()
{
    // API keys are looked up (and counted) once per key_cache_ttl: keep them cached for the
    // whole test, so that only the list's own statements are counted.
    BULWARK_CHECK(startServer([](Config &c) { c.api.keyCacheTtl = Milliseconds(600'000); }));
    Api &api = *m_api;
    QList<QJsonObject> bodies;
    for (int i = 0; i < 50; ++i)
        bodies.append(activity("run",
                               QDateTime(QDate(2026, 5, 1), QTime(6, 0), QTimeZone::utc())
                                   .addSecs(qint64(i) * 86400)
                                   .toString(Qt::ISODateWithMs),
                               1800, 5000));
    QList<qint64> activities;
    BULWARK_CHECK(createAll(api, QStringLiteral("activities"), bodies, &activities));
    QList<QJsonObject> splitBodies;
    for (qint64 id : activities)
        for (int km = 1; km <= 3; ++km)
            splitBodies.append(QJsonObject{{"activity_id", id}, {"km", km}, {"duration_s", 600}});
    QList<qint64> splits;
    BULWARK_CHECK(createAll(api, QStringLiteral("splits"), splitBodies, &splits));

    QueryInsight *insight = m_server->app()->queryInsight();
    QCOMPARE(api.get("/api/v1/activities?limit=1").status, 200); // warms up the key cache

    auto count = [&](const QByteArray &target, int rows, quint64 *statements) {
        const quint64 before = insight->statementCount();
        RawResponse r = api.get(target);
        *statements = insight->statementCount() - before;
        QVERIFY2(r.status == 200, r.body.constData());
        const QJsonArray data = dataOf(r);
        QCOMPARE(data.size(), rows);
        for (const QJsonValue &v : data) {
            const QJsonArray children = v.toObject().value("splits").toArray();
            QCOMPARE(children.size(), 3);
            for (int km = 0; km < 3; ++km) {
                QCOMPARE(children.at(km).toObject().value("km").toInt(), km + 1);
                QCOMPARE(children.at(km).toObject().value("activity_id").toDouble(),
                         v.toObject().value("id").toDouble());
            }
        }
    };
    quint64 statements = 0;
    BULWARK_CHECK(
        count("/api/v1/activities?limit=50&expand=splits&skip_total=true", 50, &statements));
    QCOMPARE(statements, quint64(2));
    BULWARK_CHECK(
        count("/api/v1/activities?limit=5&expand=splits&skip_total=true", 5, &statements));
    QCOMPARE(statements, quint64(2));
    BULWARK_CHECK(count("/api/v1/activities?limit=50&expand=splits", 50, &statements));
    QCOMPARE(statements, quint64(3)); // + COUNT(*)
    BULWARK_CHECK(count("/api/v1/activities?limit=20&cursor=&expand=splits", 20, &statements));
    QCOMPARE(statements, quint64(2));

    // One row with its children: two as well.
    const quint64 before = insight->statementCount();
    QCOMPARE(
        api.get("/api/v1/activities/" + QByteArray::number(activities.at(7)) + "?expand=splits")
            .status,
        200);
    QCOMPARE(insight->statementCount() - before, quint64(2));
}

// POST /api/v1/batch: per-operation results; all or nothing; at most api.batch_max.
void TestDataApi::batch()
{
    BULWARK_CHECK(startServer([](Config &c) { c.api.batchMax = 5; }));
    Api &api = *m_api;
    RawResponse one = api.post("/api/v1/activities", activity("run", "2026-03-02T07:00:00Z", 1800,
                                                              5000, {{"title", "one"}}));
    RawResponse two = api.post("/api/v1/activities", activity("ride", "2026-03-03T07:00:00Z", 1800,
                                                              15000, {{"title", "two"}}));
    QCOMPARE(one.status, 201);
    QCOMPARE(two.status, 201);
    const qint64 idOne = qint64(one.json().value("id").toDouble());
    const qint64 idTwo = qint64(two.json().value("id").toDouble());

    auto operations = [](const QJsonArray &ops) { return QJsonObject{{"operations", ops}}; };
    const QJsonObject createThree{
        {"op", "create"},
        {"collection", "activities"},
        {"data", activity("swim", "2026-03-04T07:00:00Z", 900, 750, {{"title", "three"}})}};
    RawResponse r = api.post(
        "/api/v1/batch",
        operations({createThree,
                    QJsonObject{{"op", "update"},
                                {"collection", "activities"},
                                {"id", idOne},
                                {"data", QJsonObject{{"title", "one, updated"}}}},
                    QJsonObject{{"op", "delete"}, {"collection", "activities"}, {"id", idTwo}}}));
    QVERIFY2(r.status == 200, r.body.constData());
    QCOMPARE(r.header("Content-Type"), QByteArray("application/json"));
    const QJsonArray results = r.json().value("results").toArray();
    QCOMPARE(results.size(), 3);
    const qint64 idThree = qint64(results.at(0).toObject().value("id").toDouble());
    QVERIFY(idThree > idTwo);
    const QJsonObject expected{
        {"results", QJsonArray{QJsonObject{{"status", 201}, {"id", idThree}},
                               QJsonObject{{"status", 200}, {"id", idOne}},
                               QJsonObject{{"status", 204}, {"id", idTwo}}}}};
    QVERIFY2(r.json() == expected, r.body.constData());
    QCOMPARE(api.get("/api/v1/activities/" + QByteArray::number(idThree)).json().value("title"),
             QJsonValue("three"));
    QCOMPARE(api.get("/api/v1/activities/" + QByteArray::number(idOne)).json().value("title"),
             QJsonValue("one, updated"));
    QCOMPARE(api.get("/api/v1/activities/" + QByteArray::number(idTwo)).status, 404);

    // Invalid third operation: its status, the index, its details; ops 1-2 rolled back.
    const QByteArray before = api.get("/api/v1/activities?sort=id").body;
    auto failing = [&](const QJsonObject &third) {
        return operations({QJsonObject{{"op", "create"},
                                       {"collection", "activities"},
                                       {"data", activity("walk", "2026-03-05T07:00:00Z", 600, 800,
                                                         {{"title", "must not exist"}})}},
                           QJsonObject{{"op", "update"},
                                       {"collection", "activities"},
                                       {"id", idOne},
                                       {"data", QJsonObject{{"title", "must not change"}}}},
                           third});
    };
    r = api.post("/api/v1/batch",
                 failing(QJsonObject{{"op", "create"},
                                     {"collection", "activities"},
                                     {"data", activity("curling", "2026-03-05T07:00:00Z", 600, 800,
                                                       {{"avg_heart_rate", 400}})}}));
    BULWARK_CHECK(verifyError(r, 422, QStringLiteral("validation_failed"),
                              QStringLiteral("operation 2 failed, nothing was applied")));
    QJsonObject e = errorOf(r);
    QCOMPARE(e.value("index").toInt(), 2);
    const QJsonObject op = e.value("operation").toObject();
    QCOMPARE(op.value("code").toString(), QStringLiteral("validation_failed"));
    QVERIFY(!op.value("message").toString().isEmpty());
    QVERIFY2(op.value("fields").toObject() ==
                 (QJsonObject{{"sport", "must be one of: run, ride, swim, walk, hike"},
                              {"avg_heart_rate", "must be at most 250"}}),
             r.body.constData());
    QCOMPARE(api.get("/api/v1/activities?sort=id").body, before);
    QCOMPARE(total(api, "activities", {{"filter", "title eq 'must not exist'"}}), qint64(0));

    // Other failures of the third operation: an unknown collection, a missing row, a bad op.
    struct Bad
    {
        QJsonObject op;
        int status;
        QString code;
    };
    const QList<Bad> bad{
        {QJsonObject{{"op", "create"}, {"collection", "laps"}, {"data", QJsonObject{}}}, 404,
         "not_found"},
        {QJsonObject{{"op", "delete"}, {"collection", "activities"}, {"id", 999999}}, 404,
         "not_found"},
        {QJsonObject{{"op", "update"},
                     {"collection", "activities"},
                     {"id", 999999},
                     {"data", QJsonObject{{"title", "x"}}}},
         404, "not_found"},
        {QJsonObject{{"op", "delete"}, {"collection", "activities"}}, 400, "bad_request"},
        {QJsonObject{{"op", "update"}, {"collection", "activities"}, {"id", idOne}}, 400,
         "bad_request"},
        {QJsonObject{{"op", "upsert"}, {"collection", "activities"}, {"id", idOne}}, 400,
         "bad_request"},
    };
    for (const Bad &b : bad) {
        r = api.post("/api/v1/batch", failing(b.op));
        verifyError(r, b.status, b.code);
        if (QTest::currentTestFailed())
            qWarning("third operation: %s", qPrintable(compact(b.op)));
        BULWARK_CHECK((void)0);
        QCOMPARE(errorOf(r).value("index").toInt(), 2);
        QCOMPARE(errorOf(r).value("operation").toObject().value("code").toString(), b.code);
        QCOMPARE(api.get("/api/v1/activities?sort=id").body, before);
    }

    // api.batch_max = 5: five pass, six are 413 and change nothing.
    QJsonArray five;
    for (int i = 0; i < 5; ++i)
        five.append(QJsonObject{{"op", "create"},
                                {"collection", "activities"},
                                {"data", activity("walk", "2026-03-06T07:00:00Z", 600, 800 + i)}});
    r = api.post("/api/v1/batch", operations(five));
    QVERIFY2(r.status == 200, r.body.constData());
    QCOMPARE(r.json().value("results").toArray().size(), 5);
    const qint64 count = total(api, "activities");
    QCOMPARE(count, qint64(7));
    QJsonArray six = five;
    six.append(five.at(0));
    r = api.post("/api/v1/batch", operations(six));
    verifyError(r, 413, QStringLiteral("payload_too_large"), QStringLiteral("at most 5"));
    QCOMPARE(total(api, "activities"), count);

    // The envelope itself.
    verifyError(api.send("POST", "/api/v1/batch", "[]"), 400, QStringLiteral("bad_request"));
    verifyError(api.post("/api/v1/batch", {{"operations", 5}}), 400, QStringLiteral("bad_request"));
    verifyError(api.post("/api/v1/batch", {{"ops", QJsonArray{}}}), 400,
                QStringLiteral("bad_request"));
    verifyError(api.send("POST", "/api/v1/batch", "{\"operations\": ["), 400,
                QStringLiteral("bad_request"));
    r = api.post("/api/v1/batch", operations({}));
    QCOMPARE(r.status, 200);
    QVERIFY2(r.json() == (QJsonObject{{"results", QJsonArray{}}}), r.body.constData());
}

// The demo reports on hand-made data spanning two weeks (weeks start on Monday; 2026-03-08
// is a Sunday and belongs to the week of 2026-03-02), numbers computed by hand; another
// user's rows never count.
void TestDataApi::reports()
{
    BULWARK_CHECK(startServer());
    Api &api = *m_api;
    QList<qint64> ids;
    BULWARK_CHECK(createAll(api, QStringLiteral("activities"),
                            {activity("run", "2026-03-02T12:00:00Z", 1500, 5123),
                             activity("run", "2026-03-04T12:00:00Z", 3000, 10000),
                             activity("ride", "2026-03-08T12:00:00Z", 2400, 20000),
                             activity("run", "2026-03-09T12:00:00Z", 2640, 8000),
                             activity("swim", "2026-03-10T12:00:00Z", 1800, 1500)},
                            &ids));
    BULWARK_CHECK(createAll(*m_other, QStringLiteral("activities"),
                            {activity("run", "2026-03-03T12:00:00Z", 100, 42195)}, &ids));
    auto meal = [](const char *at, const char *meal, int kcal) {
        return QJsonObject{{"eaten_at", at}, {"meal", meal}, {"food", "food"}, {"kcal", kcal}};
    };
    BULWARK_CHECK(createAll(
        api, QStringLiteral("nutrition_entries"),
        {meal("2026-03-02T08:00:00Z", "breakfast", 500),
         meal("2026-03-02T19:00:00Z", "dinner", 1500), meal("2026-03-03T12:00:00Z", "lunch", 2500),
         meal("2026-03-04T12:00:00Z", "lunch", 2200), meal("2026-03-05T12:00:00Z", "lunch", 1800)},
        &ids));
    auto weight = [](const char *at, double kg) {
        return QJsonObject{{"measured_at", at}, {"weight_kg", kg}};
    };
    BULWARK_CHECK(
        createAll(api, QStringLiteral("body_measurements"),
                  {weight("2026-03-02T07:00:00Z", 70.0), weight("2026-03-03T07:00:00Z", 71.0),
                   weight("2026-03-03T20:00:00Z", 70.6), weight("2026-03-04T07:00:00Z", 70.2),
                   weight("2026-03-06T07:00:00Z", 69.0)},
                  &ids));
    BULWARK_CHECK(createAll(*m_other, QStringLiteral("body_measurements"),
                            {weight("2026-03-02T07:00:00Z", 120.0)}, &ids));
    BULWARK_CHECK(createAll(*m_other, QStringLiteral("nutrition_entries"),
                            {meal("2026-03-02T08:00:00Z", "breakfast", 9000)}, &ids));

    // Compares a report's data row by row: text exactly, numbers to 1e-9.
    auto verifyData = [](const RawResponse &r, const QJsonArray &expected) {
        QVERIFY2(r.status == 200, r.body.constData());
        const QJsonArray data = dataOf(r);
        QVERIFY2(data.size() == expected.size(), r.body.constData());
        for (int i = 0; i < data.size(); ++i) {
            const QJsonObject got = data.at(i).toObject();
            const QJsonObject want = expected.at(i).toObject();
            QVERIFY2(keysOf(got) == keysOf(want), r.body.constData());
            for (auto it = want.begin(); it != want.end(); ++it) {
                const QJsonValue v = got.value(it.key());
                const bool same =
                    it.value().isDouble()
                        ? v.isDouble() && qAbs(v.toDouble() - it.value().toDouble()) < 1e-9
                        : v == it.value();
                QVERIFY2(same, qPrintable(QStringLiteral("row %1, %2: got %3, expected %4 in %5")
                                              .arg(i)
                                              .arg(it.key(), compact(v), compact(it.value()),
                                                   QString::fromUtf8(r.body))));
            }
        }
    };
    auto row = [](const QString &week, const char *sport, int count, double km) {
        return QJsonObject{
            {"week", week}, {"sport", sport}, {"activities", count}, {"distance_km", km}};
    };

    RawResponse r = api.get("/api/v1/reports/weekly_distance");
    BULWARK_CHECK(
        verifyData(r, {row("2026-03-02", "ride", 1, 20.0), row("2026-03-02", "run", 2, 15.12),
                       row("2026-03-09", "run", 1, 8.0), row("2026-03-09", "swim", 1, 1.5)}));
    QCOMPARE(r.json().value("report").toString(), QStringLiteral("weekly_distance"));
    QVERIFY2(
        r.json().value("params").toObject() ==
            (QJsonObject{{"from", "1970-01-01T00:00:00.000Z"}, {"to", "9999-12-31T00:00:00.000Z"}}),
        r.body.constData());
    QVERIFY(!r.header("ETag").isEmpty());
    r = api.get(withQuery("/api/v1/reports/weekly_distance", {{"from", "2026-03-09T00:00:00Z"}}));
    BULWARK_CHECK(
        verifyData(r, {row("2026-03-09", "run", 1, 8.0), row("2026-03-09", "swim", 1, 1.5)}));
    QCOMPARE(r.json().value("params").toObject().value("from").toString(),
             QStringLiteral("2026-03-09T00:00:00.000Z"));
    r = api.get(
        withQuery("/api/v1/reports/weekly_distance",
                  {{"from", "2026-03-02T12:00:00.001Z"}, {"to", "2026-03-09T13:00:00+01:00"}}));
    BULWARK_CHECK(
        verifyData(r, {row("2026-03-02", "ride", 1, 20.0), row("2026-03-02", "run", 1, 10.0)}));

    // pace_trend: seconds per km per week, run by default.
    r = api.get("/api/v1/reports/pace_trend");
    BULWARK_CHECK(verifyData(
        r, {QJsonObject{{"week", "2026-03-02"}, {"activities", 2}, {"pace_s_per_km", 297.6}},
            QJsonObject{{"week", "2026-03-09"}, {"activities", 1}, {"pace_s_per_km", 330.0}}}));
    r = api.get("/api/v1/reports/pace_trend?sport=ride");
    BULWARK_CHECK(verifyData(
        r, {QJsonObject{{"week", "2026-03-02"}, {"activities", 1}, {"pace_s_per_km", 120.0}}}));
    r = api.get("/api/v1/reports/pace_trend?sport=hike");
    BULWARK_CHECK(verifyData(r, {}));

    // nutrition_vs_body: days with both an intake and a weight (Mar 2, 3, 4): kcal 2000,
    // 2500, 2200 against 70.0, 70.8 (mean of that day), 70.2 -> r = 0.986.
    r = api.get("/api/v1/reports/nutrition_vs_body");
    BULWARK_CHECK(verifyData(
        r,
        {QJsonObject{
            {"days", 3}, {"avg_kcal", 2233.3}, {"avg_weight_kg", 70.33}, {"correlation", 0.986}}}));
    // One paired day: no correlation.
    r = api.get(withQuery("/api/v1/reports/nutrition_vs_body", {{"from", "2026-03-04T00:00:00Z"}}));
    BULWARK_CHECK(verifyData(r, {QJsonObject{{"days", 1},
                                             {"avg_kcal", 2200.0},
                                             {"avg_weight_kg", 70.2},
                                             {"correlation", QJsonValue::Null}}}));
    r = api.get(withQuery("/api/v1/reports/nutrition_vs_body", {{"from", "2027-01-01T00:00:00Z"}}));
    BULWARK_CHECK(verifyData(r, {QJsonObject{{"days", 0},
                                             {"avg_kcal", QJsonValue::Null},
                                             {"avg_weight_kg", QJsonValue::Null},
                                             {"correlation", QJsonValue::Null}}}));

    // The index, and the errors.
    r = api.get("/api/v1/reports");
    QCOMPARE(r.status, 200);
    QStringList names;
    for (const QJsonValue &v : dataOf(r))
        names.append(v.toObject().value("name").toString());
    names.sort();
    QCOMPARE(names, (QStringList{"nutrition_vs_body", "pace_trend", "weekly_distance"}));
    verifyError(api.get("/api/v1/reports/monthly_distance"), 404, QStringLiteral("not_found"),
                QStringLiteral("\"monthly_distance\""));
    r = api.get("/api/v1/reports/weekly_distance?from=yesterday");
    BULWARK_CHECK(verifyError(r, 400, QStringLiteral("bad_request"), QStringLiteral("from")));
    QCOMPARE(errorOf(r).value("parameter").toString(), QStringLiteral("from"));
    r = api.get("/api/v1/reports/weekly_distance?sport=run");
    BULWARK_CHECK(verifyError(r, 400, QStringLiteral("bad_request"), QStringLiteral("\"sport\"")));
    QCOMPARE(errorOf(r).value("parameter").toString(), QStringLiteral("sport"));
    verifyError(Api(m_server->port(), {}).get("/api/v1/reports/weekly_distance"), 401,
                QStringLiteral("unauthorized"));
}

// Unknown collections, bodies that are not JSON objects, 422 with a message per field,
// references that point nowhere (or at another user's row), and API-key authentication.
void TestDataApi::badInput()
{
    BULWARK_CHECK(startServer());
    Api &api = *m_api;

    RawResponse r = api.get("/api/v1/workouts");
    BULWARK_CHECK(verifyError(r, 404, QStringLiteral("not_found"), QStringLiteral("\"workouts\"")));
    QVERIFY(errorOf(r).value("message").toString().contains("activities"));
    verifyError(api.post("/api/v1/workouts", {{"a", 1}}), 404, QStringLiteral("not_found"),
                QStringLiteral("\"workouts\""));
    verifyError(api.get("/api/v1/workouts/1"), 404, QStringLiteral("not_found"),
                QStringLiteral("\"workouts\""));
    verifyError(api.del("/api/v1/workouts/1"), 404, QStringLiteral("not_found"));

    // Bodies.
    r = api.send("POST", "/api/v1/activities", "sport=run");
    BULWARK_CHECK(
        verifyError(r, 400, QStringLiteral("bad_request"), QStringLiteral("invalid JSON")));
    QVERIFY(errorOf(r).contains("position"));
    verifyError(api.send("POST", "/api/v1/activities", "{\"sport\": \"run\""), 400,
                QStringLiteral("bad_request"), QStringLiteral("invalid JSON"));
    verifyError(api.send("POST", "/api/v1/activities", "[{\"sport\": \"run\"}]"), 400,
                QStringLiteral("bad_request"), QStringLiteral("expected a JSON object"));
    verifyError(api.send("POST", "/api/v1/activities", {}, "Content-Length: 0\r\n"), 400,
                QStringLiteral("bad_request"));
    verifyError(api.send("PATCH", "/api/v1/activities/1", "null"), 400,
                QStringLiteral("bad_request"));

    // 422: every invalid field at once, each with its own message.
    QJsonObject invalid{{"sport", "curling"},
                        {"title", QString(201, u'x')},
                        {"duration_s", "long"},
                        {"distance_m", -1},
                        {"avg_heart_rate", 300},
                        {"elevation_gain_m", "high"},
                        {"private", "yes"},
                        {"colour", "red"},
                        {"id", 5}};
    r = api.post("/api/v1/activities", invalid);
    BULWARK_CHECK(verifyError(r, 422, QStringLiteral("validation_failed"),
                              QStringLiteral("10 invalid field(s) in the activities row")));
    const QJsonObject expectedFields{
        {"sport", "must be one of: run, ride, swim, walk, hike"},
        {"title", "must be at most 200 characters long"},
        {"duration_s", "must be an integer"},
        {"distance_m", "must be at least 0"},
        {"avg_heart_rate", "must be at most 250"},
        {"elevation_gain_m", "must be a number"},
        {"private", "must be true or false"},
        {"colour", "unknown field"},
        {"id", "is set by the server"},
        {"started_at", "is required"},
    };
    QVERIFY2(errorOf(r).value("fields").toObject() == expectedFields, r.body.constData());

    struct Case
    {
        const char *name;
        QJsonObject body;
        QJsonObject fields;
    };
    const QList<Case> cases{
        {"fraction for an integer",
         activity("run", "2026-03-02T07:00:00Z", 1, 1, {{"duration_s", 1.5}}),
         {{"duration_s", "must be an integer"}}},
        {"below min",
         activity("run", "2026-03-02T07:00:00Z", 0, 1),
         {{"duration_s", "must be at least 1"}}},
        {"above max",
         activity("run", "2026-03-02T07:00:00Z", 604801, 1),
         {{"duration_s", "must be at most 604800"}}},
        {"not a datetime",
         activity("run", "2026-13-02T07:00:00Z", 1, 1),
         {{"started_at", "must be an ISO 8601 date and time, e.g. 2026-11-28T07:30:00Z"}}},
        {"number for a datetime",
         activity("run", "x", 1, 1, {{"started_at", 20260302}}),
         {{"started_at", "must be an ISO 8601 date and time, e.g. 2026-11-28T07:30:00Z"}}},
        {"null for a required field",
         activity("run", "2026-03-02T07:00:00Z", 1, 1, {{"sport", QJsonValue::Null}}),
         {{"sport", "is required"}}},
        {"number for text",
         activity("run", "2026-03-02T07:00:00Z", 1, 1, {{"title", 5}}),
         {{"title", "must be a string"}}},
        {"choices are case-sensitive",
         activity("Run", "2026-03-02T07:00:00Z", 1, 1),
         {{"sport", "must be one of: run, ride, swim, walk, hike"}}},
        {"someone else's user id",
         activity("run", "2026-03-02T07:00:00Z", 1, 1, {{"user_id", m_bob}}),
         {{"user_id", "is set by the server to your user id"}}},
        {"server timestamps",
         activity("run", "2026-03-02T07:00:00Z", 1, 1,
                  {{"created_at", "2026-03-02T07:00:00Z"}, {"updated_at", "x"}}),
         {{"created_at", "is set by the server"}, {"updated_at", "is set by the server"}}},
    };
    for (const Case &c : cases) {
        r = api.post("/api/v1/activities", c.body);
        verifyError(r, 422, QStringLiteral("validation_failed"));
        QVERIFY2(errorOf(r).value("fields").toObject() == c.fields,
                 qPrintable(QStringLiteral("%1: %2").arg(QLatin1String(c.name),
                                                         QString::fromUtf8(r.body))));
    }
    QCOMPARE(total(api, "activities"), qint64(0));

    // Updates validate too: PATCH may not null a required field, PUT needs every one.
    r = api.post("/api/v1/activities", activity("run", "2026-03-02T07:00:00Z", 1800, 5000));
    QCOMPARE(r.status, 201);
    const QByteArray location = r.header("Location");
    const QByteArray row = api.get(location).body;
    r = api.patch(location, {{"sport", QJsonValue::Null}, {"distance_m", "far"}});
    BULWARK_CHECK(verifyError(r, 422, QStringLiteral("validation_failed")));
    QVERIFY2(errorOf(r).value("fields").toObject() ==
                 (QJsonObject{{"sport", "is required"}, {"distance_m", "must be a number"}}),
             r.body.constData());
    r = api.put(location, {{"sport", "ride"}});
    BULWARK_CHECK(verifyError(r, 422, QStringLiteral("validation_failed")));
    QVERIFY2(errorOf(r).value("fields").toObject() == (QJsonObject{{"started_at", "is required"},
                                                                   {"duration_s", "is required"},
                                                                   {"distance_m", "is required"}}),
             r.body.constData());
    QCOMPARE(api.get(location).body, row);

    // References must point at a row the caller may see.
    const qint64 mine = location.mid(19).toLongLong();
    r = m_other->post("/api/v1/activities", activity("run", "2026-03-02T07:00:00Z", 1800, 5000));
    QCOMPARE(r.status, 201);
    const qint64 bobs = qint64(r.json().value("id").toDouble());
    r = api.post("/api/v1/splits", {{"activity_id", 999999}, {"km", 1}, {"duration_s", 300}});
    BULWARK_CHECK(verifyError(r, 422, QStringLiteral("validation_failed")));
    QVERIFY2(errorOf(r).value("fields").toObject() ==
                 (QJsonObject{{"activity_id", "activities has no row with id 999999"}}),
             r.body.constData());
    r = api.post("/api/v1/splits", {{"activity_id", bobs}, {"km", 1}, {"duration_s", 300}});
    BULWARK_CHECK(verifyError(r, 422, QStringLiteral("validation_failed")));
    QVERIFY2(errorOf(r).value("fields").toObject() ==
                 (QJsonObject{{"activity_id",
                               QStringLiteral("activities has no row with id %1").arg(bobs)}}),
             r.body.constData());
    r = api.post("/api/v1/splits", {{"activity_id", mine}, {"km", 1}, {"duration_s", 300}});
    QVERIFY2(r.status == 201, r.body.constData());
    const QByteArray split = r.header("Location");
    // A unique index: (activity_id, km) twice is a conflict.
    verifyError(api.post("/api/v1/splits", {{"activity_id", mine}, {"km", 1}, {"duration_s", 301}}),
                409, QStringLiteral("conflict"));
    r = api.patch(split, {{"activity_id", bobs}});
    BULWARK_CHECK(verifyError(r, 422, QStringLiteral("validation_failed")));
    // Deleting the activity cascades to its splits (on_delete: cascade).
    QCOMPARE(api.del(location).status, 204);
    QCOMPARE(api.get(split).status, 404);

    // Authentication: no key, a wrong key, another scheme -> 401 with a challenge.
    const QList<QByteArray> noAccess{{},
                                     "Authorization: Bearer bwk_not_a_key\r\n",
                                     "Authorization: Basic YWxpY2U6c2VjcmV0\r\n",
                                     "Authorization: Bearer\r\n"};
    for (const QByteArray &header : noAccess) {
        RawHttpClient client;
        RawResponse denied;
        QVERIFY(client.connectTo(m_server->port()));
        QVERIFY(client.send(request("GET", "/api/v1/activities", header)));
        QVERIFY2(client.readResponse(&denied), qPrintable(client.errorString()));
        verifyError(denied, 401, QStringLiteral("unauthorized"));
        QCOMPARE(denied.header("WWW-Authenticate"), QByteArray("Bearer realm=\"bulwark\""));
        QVERIFY(!denied.body.contains("bwk_not_a_key"));
    }
    Api anonymous(m_server->port(), {});
    verifyError(anonymous.post("/api/v1/activities", activity("run", "2026-03-02T07:00:00Z", 1, 1)),
                401, QStringLiteral("unauthorized"));
    verifyError(Api(m_server->port(), "bwk_wrong").del(location), 401,
                QStringLiteral("unauthorized"));
    QCOMPARE(api.get("/api/v1/activities").status, 200);
}

// SQL in every parameter: rejected with 400, or harmless (a bound value matching nothing, or
// the caller's own rows only); afterwards every table still has its rows and the key works.
void TestDataApi::injectionAttempts()
{
    BULWARK_CHECK(startServer());
    Api &api = *m_api;
    QList<qint64> activities;
    BULWARK_CHECK(createAll(api, QStringLiteral("activities"),
                            {activity("run", "2026-03-02T07:00:00Z", 1800, 5000),
                             activity("ride", "2026-03-03T07:00:00Z", 1800, 15000),
                             activity("swim", "2026-03-04T07:00:00Z", 900, 750)},
                            &activities));
    QList<qint64> ids;
    BULWARK_CHECK(
        createAll(api, QStringLiteral("splits"),
                  {QJsonObject{{"activity_id", activities.at(0)}, {"km", 1}, {"duration_s", 300}},
                   QJsonObject{{"activity_id", activities.at(0)}, {"km", 2}, {"duration_s", 300}}},
                  &ids));
    BULWARK_CHECK(createAll(*m_other, QStringLiteral("activities"),
                            {activity("run", "2026-03-02T07:00:00Z", 1800, 5000)}, &ids));
    auto users = m_server->app()->users()->listUsers();
    QVERIFY(users.ok());
    QCOMPARE(users.value().size(), 2);

    const QByteArray cursor =
        QByteArray(R"({"s":"-started_at,-id","v":["x' OR '1'='1",1]})")
            .toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
    struct Attempt
    {
        QByteArray collection;
        QByteArray parameter;
        QString value;
        bool harmless200; // a 200 is acceptable (the text is a bound value)
    };
    const QList<Attempt> attempts{
        {"activities", "filter", "sport eq 'x'; DROP TABLE activities; --'", false},
        {"activities", "filter", "1=1", false},
        {"activities", "filter", "sport eq 'x' or 1 eq 1", false},
        {"activities", "filter", "sport eq 'x' or 1=1 --", false},
        {"activities", "filter", "sport eq 'x'' OR ''1''=''1'", true},
        {"activities", "filter", "sport eq 'x'' OR 1=1; DROP TABLE splits; --'", true},
        {"activities", "filter", "\"sport\" eq 'run'", false},
        {"activities", "filter", "sport) or (1 eq 1", false},
        {"activities", "filter", "user_id gt 0 or user_id lt 0", true},
        {"activities", "sort", "id;DROP TABLE activities", false},
        {"activities", "sort", "(SELECT 1)", false},
        {"activities", "sort", "id DESC; DELETE FROM activities", false},
        {"activities", "sort", "\"id\"", false},
        {"activities", "fields", "id,(SELECT password_hash FROM users)", false},
        {"activities", "fields", "id FROM users --", false},
        {"activities", "fields", "*", false},
        {"activities", "expand", "splits;DELETE FROM splits", false},
        {"activities", "expand", "users", false},
        {"splits", "expand", "activity) OR 1=1 --", false},
        {"activities", "cursor", QString::fromLatin1(cursor), true},
        {"activities", "limit", "1; DROP TABLE activities", false},
        {"activities", "page", "1 OR 1=1", false},
    };
    for (const Attempt &a : attempts) {
        RawResponse r = api.get(withQuery("/api/v1/" + a.collection, {{a.parameter, a.value}}));
        const QString what = QStringLiteral("%1=%2: %3 %4")
                                 .arg(QString::fromLatin1(a.parameter), a.value)
                                 .arg(r.status)
                                 .arg(QString::fromUtf8(r.body.left(300)));
        if (r.status == 200 && a.harmless200) {
            // Only the caller's own rows, never more.
            for (const QJsonValue &v : dataOf(r))
                QVERIFY2(v.toObject().value("user_id").toDouble() == double(m_alice),
                         qPrintable(what));
            QVERIFY2(dataOf(r).size() <= 3, qPrintable(what));
            continue;
        }
        QVERIFY2(r.status == 400, qPrintable(what));
        BULWARK_CHECK(verifyJsonError(r, 400, QStringLiteral("bad_request")));
    }
    verifyError(api.get("/api/v1/activities;DROP%20TABLE%20activities"), 404,
                QStringLiteral("not_found"));
    verifyError(api.get("/api/v1/activities/1%20OR%201=1"), 404, QStringLiteral("not_found"));
    verifyError(
        api.get(
            "/api/v1/reports/weekly_distance?from=2026-01-01'%3B%20DROP%20TABLE%20activities%3B--"),
        400, QStringLiteral("bad_request"));
    // A text parameter of a report is a bound value: matches nothing, breaks nothing.
    RawResponse report =
        api.get(withQuery("/api/v1/reports/pace_trend", {{"sport", "run' OR '1'='1"}}));
    QCOMPARE(report.status, 200);
    QCOMPARE(dataOf(report).size(), 0);
    // A body value is a bound value as well.
    RawResponse stored = api.post(
        "/api/v1/activities",
        activity("run", "2026-03-05T07:00:00Z", 1, 1,
                 {{"title", "'); DROP TABLE activities; --"}, {"notes", "\" OR \"\"=\""}}));
    QCOMPARE(stored.status, 201);
    QCOMPARE(stored.json().value("title").toString(),
             QStringLiteral("'); DROP TABLE activities; --"));

    // Everything is still there.
    QCOMPARE(total(api, "activities"), qint64(4));
    QCOMPARE(total(api, "splits"), qint64(2));
    QCOMPARE(total(*m_other, "activities"), qint64(1));
    users = m_server->app()->users()->listUsers();
    QVERIFY(users.ok());
    QCOMPARE(users.value().size(), 2);
    QCOMPARE(total(api, "activities", {{"filter", "title eq '''); DROP TABLE activities; --'"}}),
             qint64(1));
}

// POST /api/v1/auth/login (the one route without a key) gives a key that works on the data
// API as that user; wrong passwords and unknown emails get the same 401. Pays the real
// PBKDF2 cost (ServerApp's UserStore options are fixed) three times per backend.
void TestDataApi::loginKeyReachesData()
{
    BULWARK_CHECK(startServer());
    auto carol =
        m_server->app()->users()->addUser(QStringLiteral("carol@example.com"),
                                          QStringLiteral("Carol"), QStringLiteral("correct horse"));
    QVERIFY2(carol.ok(), qPrintable(failure(carol)));
    Api anonymous(m_server->port(), {});

    RawResponse r = anonymous.post("/api/v1/auth/login",
                                   {{"email", "Carol@Example.com"}, {"password", "correct horse"}});
    QVERIFY2(r.status == 200, r.body.constData());
    QVERIFY2(r.header("Cache-Control").contains("no-store"), r.header("Cache-Control").constData());
    const QJsonObject login = r.json();
    QCOMPARE(keysOf(login), (QStringList{"expires_at", "key_id", "token"}));
    const QByteArray token = login.value("token").toString().toLatin1();
    QVERIFY2(token.startsWith("bwk_"), token.constData());
    const QDateTime expires =
        QDateTime::fromString(login.value("expires_at").toString(), Qt::ISODateWithMs);
    QVERIFY(expires.isValid());
    QVERIFY(qAbs(QDateTime::currentDateTimeUtc().secsTo(expires) - 24 * 3600) < 60);

    Api api(m_server->port(), token);
    r = api.get("/api/v1/me");
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json().value("email").toString(), QStringLiteral("carol@example.com"));
    QCOMPARE(r.json().value("id").toDouble(), double(carol.value()));
    r = api.post("/api/v1/activities", activity("hike", "2026-03-02T07:00:00Z", 3600, 8000));
    QVERIFY2(r.status == 201, r.body.constData());
    QCOMPARE(r.json().value("user_id").toDouble(), double(carol.value()));
    QCOMPARE(total(api, "activities"), qint64(1));
    QCOMPARE(total(*m_api, "activities"), qint64(0));

    for (const QJsonObject &wrong :
         {QJsonObject{{"email", "carol@example.com"}, {"password", "Correct horse"}},
          QJsonObject{{"email", "nobody@example.com"}, {"password", "correct horse"}}}) {
        r = anonymous.post("/api/v1/auth/login", wrong);
        verifyError(r, 401, QStringLiteral("unauthorized"),
                    QStringLiteral("invalid email or password"));
        BULWARK_CHECK((void)0);
    }
    verifyError(anonymous.post("/api/v1/auth/login", {{"email", "carol@example.com"}}), 400,
                QStringLiteral("bad_request"));
}

QTEST_GUILESS_MAIN(TestDataApi)
#include "tst_data_api.moc"
