// SPDX-License-Identifier: GPL-3.0-or-later
// Scenario: a full scenario read into its plain values (closed and open loads), every kind
// of error with its exact "file:line:column: path: message" (each row holds the scenario
// text, so the position can be checked by eye), CSV files (quotes, CRLF, blank lines, cell
// counts), the rendered request bytes, verify() for each check kind and extractInto().
#include "Scenario.h"

#include <QFile>
#include <QJsonDocument>
#include <QTemporaryDir>
#include <QTest>

using namespace bulwark;

using Rows = QList<QList<QByteArray>>;

namespace {

bool writeFile(const QString &path, const QByteArray &data)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(data) == data.size();
}

} // namespace

class TestScenario : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void parsesFullScenario();
    void loads_data();
    void loads();
    void defaults();
    void syntaxErrors_data();
    void syntaxErrors();
    void errors_data();
    void errors();
    void csv_data();
    void csv();
    void fromFile();
    void rendersRequests();
    void verify_data();
    void verify();
    void extractInto();
    void needsBody();
    void overrides_data();
    void overrides();

private:
    Result<Scenario> parse(const QByteArray &json)
    {
        return Scenario::parse(json, QStringLiteral("s.json"), m_dir->path());
    }
    std::unique_ptr<QTemporaryDir> m_dir;
};

// Defined after the class: moc does not read raw strings reliably.
namespace {
const QByteArray kFull = R"(// A scenario with every piece.
{
  "name": "demo", "description": "all the pieces",
  "target": "http://127.0.0.1:8080",
  "token": "secret",
  "timeout": "2s",
  "csv": {"accounts": "accounts.csv"},   // read from the scenario's folder
  "load": {"model": "closed", "shape": "ramp", "start_users": 1, "users": 50, "duration": "1m"},
  "thresholds": ["p95 < 200ms", "error_rate < 1%"],
  "user_classes": [
    {"name": "browser", "weight": 3,
     "wait": {"between": ["1s", 3]},
     "on_start": [{"method": "post", "path": "/login", "auth": false,
                   "body": {"email": "{{csv accounts.email}}", "n": "{{random 1 9}}"},
                   "extract": {"token": "token", "uid": "user.id"}}],
     "tasks": [
       {"name": "list", "weight": 5, "requests": [
          {"path": "/api/v1/activities?limit={{random 1 50}}",
           "headers": {"X-Trace": "{{uuid}}", "Accept": "application/json"},
           "checks": [{"status": [200, 304]}, {"body_contains": "data"},
                      {"json": "data.0.id", "exists": true}, {"json": "gone", "exists": false},
                      {"json": "slept_ms", "equals": 20}]},
          {"name": "second", "method": "DELETE", "path": "/x"}]},
       {"request": {"path": "/api/v1/me"}}
     ]},
    {"tasks": [{"request": {"path": "/health"}}], "wait": {"pacing": "500ms"}}
  ]
}
)";
} // namespace

void TestScenario::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
}

void TestScenario::parsesFullScenario()
{
    QVERIFY(
        writeFile(m_dir->filePath("accounts.csv"), "email,password\r\na@x.org,1\r\nb@x.org,2\r\n"));
    const auto parsed = parse(kFull);
    QVERIFY2(parsed.ok(), parsed.ok() ? "" : qPrintable(parsed.error().message));
    const Scenario &s = parsed.value();
    QCOMPARE(s.name, QStringLiteral("demo"));
    QCOMPARE(s.description, QStringLiteral("all the pieces"));
    QCOMPARE(s.target, QStringLiteral("http://127.0.0.1:8080"));
    QCOMPARE(s.token, QByteArray("secret"));
    QCOMPARE(s.timeoutMs, 2000);
    QCOMPARE(s.csv.size(), 1);
    const CsvTable &accounts = s.csv.value("accounts");
    QCOMPARE(accounts.name, QStringLiteral("accounts"));
    QCOMPARE(accounts.columns, (QStringList{"email", "password"}));
    QCOMPARE(accounts.rows, (Rows{{"a@x.org", "1"}, {"b@x.org", "2"}}));

    QCOMPARE(s.load.model, LoadSpec::Model::Closed);
    QCOMPARE(s.load.shape.kind, LoadShape::Kind::Ramp);
    QCOMPARE(s.load.shape.startUsers, 1);
    QCOMPARE(s.load.shape.users, 50);
    QCOMPARE(s.load.shape.durationMs, 60'000);
    QCOMPARE(s.load.maxConnections, 0);

    QCOMPARE(s.thresholds.size(), 2);
    QCOMPARE(s.thresholds.at(0).text, QStringLiteral("p95 < 200ms"));
    QCOMPARE(s.thresholds.at(1).metric, Threshold::Metric::ErrorRate);

    QCOMPARE(s.userClasses.size(), 2);
    QCOMPARE(s.userClassWeightTotal(), 4);
    const UserClassSpec &browser = s.userClasses.at(0);
    QCOMPARE(browser.name, QStringLiteral("browser"));
    QCOMPARE(browser.weight, 3);
    QCOMPARE(browser.wait.kind, WaitSpec::Kind::Between);
    QCOMPARE(browser.wait.minMs, 1000);
    QCOMPARE(browser.wait.maxMs, 3000);

    QCOMPARE(browser.onStart.size(), 1);
    const RequestSpec &login = browser.onStart.at(0);
    QCOMPARE(login.name, QStringLiteral("POST /login"));
    QCOMPARE(login.method, QByteArray("POST"));
    QCOMPARE(login.path.source(), QStringLiteral("/login"));
    QVERIFY(!login.auth);
    QVERIFY(login.body.has_value());
    QCOMPARE(login.body->source(),
             QString::fromUtf8(R"({"email":"{{csv accounts.email}}","n":"{{random 1 9}}"})"));
    QCOMPARE(login.extract,
             (QList<std::pair<QString, QString>>{{"token", "token"}, {"uid", "user.id"}}));

    QCOMPARE(browser.tasks.size(), 2);
    QCOMPARE(browser.taskWeightTotal(), 6);
    const TaskSpec &list = browser.tasks.at(0);
    QCOMPARE(list.name, QStringLiteral("list"));
    QCOMPARE(list.weight, 5);
    QCOMPARE(list.requests.size(), 2);
    const RequestSpec &activities = list.requests.at(0);
    QCOMPARE(activities.name, QStringLiteral("GET /api/v1/activities"));
    QCOMPARE(activities.method, QByteArray("GET"));
    QVERIFY(activities.auth);
    QVERIFY(!activities.body.has_value());
    QCOMPARE(activities.headers.size(), 2); // in file order, not sorted
    QCOMPARE(activities.headers.at(0).first, QByteArray("X-Trace"));
    QCOMPARE(activities.headers.at(1).first, QByteArray("Accept"));
    QCOMPARE(activities.headers.at(1).second.source(), QStringLiteral("application/json"));
    QCOMPARE(activities.checks.size(), 5);
    QCOMPARE(activities.checks.at(0).kind, CheckSpec::Kind::Status);
    QCOMPARE(activities.checks.at(0).statuses, (QList<int>{200, 304}));
    QCOMPARE(activities.checks.at(0).description, QStringLiteral("status in [200, 304]"));
    QCOMPARE(activities.checks.at(1).kind, CheckSpec::Kind::BodyContains);
    QCOMPARE(activities.checks.at(1).text, QByteArray("data"));
    QCOMPARE(activities.checks.at(1).description, QStringLiteral("body contains \"data\""));
    QCOMPARE(activities.checks.at(2).kind, CheckSpec::Kind::JsonExists);
    QCOMPARE(activities.checks.at(2).jsonPath, QStringLiteral("data.0.id"));
    QVERIFY(!activities.checks.at(2).negate);
    QCOMPARE(activities.checks.at(2).description, QStringLiteral("json data.0.id exists"));
    QVERIFY(activities.checks.at(3).negate);
    QCOMPARE(activities.checks.at(3).description, QStringLiteral("json gone does not exist"));
    QCOMPARE(activities.checks.at(4).kind, CheckSpec::Kind::JsonEquals);
    QCOMPARE(activities.checks.at(4).expected, QJsonValue(20));
    QCOMPARE(activities.checks.at(4).description, QStringLiteral("json slept_ms == 20"));
    QCOMPARE(list.requests.at(1).name, QStringLiteral("second"));
    QCOMPARE(list.requests.at(1).method, QByteArray("DELETE"));

    const TaskSpec &me = browser.tasks.at(1);
    QCOMPARE(me.name, QStringLiteral("GET /api/v1/me")); // a single request names its task
    QCOMPARE(me.weight, 1);
    QCOMPARE(me.requests.size(), 1);

    const UserClassSpec &second = s.userClasses.at(1);
    QCOMPARE(second.name, QStringLiteral("class 2"));
    QCOMPARE(second.weight, 1);
    QCOMPARE(second.wait.kind, WaitSpec::Kind::Pacing);
    QCOMPARE(second.wait.minMs, 500);
    QVERIFY(second.onStart.isEmpty());

    QCOMPARE(s.source.value("name").toString(), QStringLiteral("demo"));
    QCOMPARE(s.source.value("user_classes").toArray().size(), 2);
}

void TestScenario::loads_data()
{
    QTest::addColumn<QByteArray>("load");
    QTest::addColumn<int>("model");
    QTest::addColumn<QByteArray>("shape"); // LoadShape::toJson, compact
    QTest::addColumn<int>("maxConnections");
    const int closed = int(LoadSpec::Model::Closed);
    const int open = int(LoadSpec::Model::Open);
    QTest::newRow("closed default model, shape constant")
        << QByteArray(R"({"users": 5, "duration": 30})") << closed
        << QByteArray(R"({"duration":"30s","shape":"constant","users":5})") << 0;
    QTest::newRow("closed stages without shape")
        << QByteArray(R"({"stages": [{"target": 3, "duration": "1m"}]})") << closed
        << QByteArray(
               R"({"shape":"stages","stages":[{"duration":"1m","target":3}],"start_users":0})")
        << 0;
    QTest::newRow("open constant")
        << QByteArray(R"({"model": "open", "rate": 200, "duration": "1m", "max_connections": 100})")
        << open << QByteArray(R"({"duration":"1m","shape":"constant","users":200})") << 100;
    QTest::newRow("open stages")
        << QByteArray(
               R"({"model": "open", "start_rate": 10, "stages": [{"target": 200, "duration": "30s"}]})")
        << open
        << QByteArray(
               R"({"shape":"stages","stages":[{"duration":"30s","target":200}],"start_users":10})")
        << 0;
    QTest::newRow("open spike")
        << QByteArray(
               R"({"model": "open", "shape": "spike", "rate": 5, "spike_rate": 50, "spike_start": "10s", "spike_duration": "5s", "duration": "1m"})")
        << open
        << QByteArray(
               R"({"duration":"1m","shape":"spike","spike_duration":"5s","spike_start":"10s","spike_users":50,"users":5})")
        << 0;
    QTest::newRow("open double wave")
        << QByteArray(
               R"({"model": "open", "shape": "double_wave", "rate": 100, "min_rate": 5, "duration": "10m"})")
        << open
        << QByteArray(R"({"duration":"10m","min_users":5,"shape":"double_wave","users":100})") << 0;
    QTest::newRow("open step")
        << QByteArray(
               R"({"model": "open", "shape": "step", "step_rate": 10, "step_time": "10s", "rate": 50, "duration": "2m"})")
        << open
        << QByteArray(
               R"({"duration":"2m","shape":"step","step_time":"10s","step_users":10,"users":50})")
        << 0;
}

void TestScenario::loads()
{
    QFETCH(QByteArray, load);
    QFETCH(int, model);
    QFETCH(QByteArray, shape);
    QFETCH(int, maxConnections);
    const auto parsed = parse(R"({"load": )" + load +
                              R"(, "user_classes": [{"tasks": [{"request": {"path": "/"}}]}]})");
    QVERIFY2(parsed.ok(), parsed.ok() ? "" : qPrintable(parsed.error().message));
    QCOMPARE(int(parsed.value().load.model), model);
    QCOMPARE(QJsonDocument(parsed.value().load.shape.toJson()).toJson(QJsonDocument::Compact),
             shape);
    QCOMPARE(parsed.value().load.maxConnections, maxConnections);
}

void TestScenario::defaults()
{
    const auto parsed = parse(
        R"({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"requests": [{"path": "/a?b=1"}, {"path": "/c"}]}]}]})");
    QVERIFY2(parsed.ok(), parsed.ok() ? "" : qPrintable(parsed.error().message));
    const Scenario &s = parsed.value();
    QCOMPARE(s.name, QStringLiteral("s")); // the file's base name
    QVERIFY(s.target.isEmpty());
    QVERIFY(s.token.isEmpty());
    QCOMPARE(s.timeoutMs, 10'000);
    QVERIFY(s.thresholds.isEmpty());
    QCOMPARE(s.userClasses.at(0).name, QStringLiteral("class 1"));
    QCOMPARE(s.userClasses.at(0).wait.kind, WaitSpec::Kind::None);
    const TaskSpec &task = s.userClasses.at(0).tasks.at(0);
    QCOMPARE(task.name, QStringLiteral("task 1"));
    QCOMPARE(task.requests.at(0).name, QStringLiteral("GET /a")); // up to the '?'
    QVERIFY(task.requests.at(0).auth);
    QVERIFY(task.requests.at(0).checks.isEmpty());
}

void TestScenario::syntaxErrors_data()
{
    // Qt's own messages and offsets (just past the token it stopped at); columns count
    // characters, so the "é" in the comment is one.
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("message");
    QTest::newRow("missing value")
        << QByteArray("{\n  \"load\": }") << "s.json:2:12: object is missing after a comma";
    QTest::newRow("trailing comma")
        << QByteArray("{\"a\": 1,\n}") << "s.json:2:2: object is missing after a comma";
    QTest::newRow("unterminated") << QByteArray("// c\n{\"a\": \"x")
                                  << "s.json:2:9: unterminated string";
    QTest::newRow("after a comment")
        << QByteArray("/* \xC3\xA9 */ {\"a\" 1}") << "s.json:1:15: missing name separator";
}

void TestScenario::syntaxErrors()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, message);
    const auto parsed = parse(json);
    QVERIFY(!parsed.ok());
    QCOMPARE(parsed.error().message, message);
    QCOMPARE(parsed.error().code, ErrorCode::BadRequest);
}

void TestScenario::errors_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QByteArray>("csv"); // written to data.csv next to the scenario
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("message");
    QTest::newRow("not an object")
        << QByteArray(R"j([1])j") << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(R"m(s.json:1:1: a scenario must be a JSON object)m");
    QTest::newRow("unknown top member")
        << QByteArray(
               R"j({"nmae": "x", "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:2: nmae: unknown member (name, description, target, token, timeout, csv, load, thresholds, user_classes))m");
    QTest::newRow("first unknown in file order")
        << QByteArray(
               R"j({"zz": 1, "aa": 2, "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:2: zz: unknown member (name, description, target, token, timeout, csv, load, thresholds, user_classes))m");
    QTest::newRow("comment before")
        << QByteArray(R"j(// a "comment" {
{
  "nmae": 1, "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:3:3: nmae: unknown member (name, description, target, token, timeout, csv, load, thresholds, user_classes))m");
    QTest::newRow("characters not bytes")
        << QByteArray(
               R"j({"name": "défi ✓", "x": 1, "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:20: x: unknown member (name, description, target, token, timeout, csv, load, thresholds, user_classes))m");
    QTest::newRow("name type")
        << QByteArray(
               R"j({"name": 5, "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(R"m(s.json:1:10: name: must be a string)m");
    QTest::newRow("load missing")
        << QByteArray(R"j({"user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(R"m(s.json:1:1: load: required)m");
    QTest::newRow("user_classes missing")
        << QByteArray(R"j({"load": {"users": 1, "duration": "1s"}})j") << QByteArray("")
        << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(R"m(s.json:1:1: user_classes: required)m");
    QTest::newRow("user_classes empty")
        << QByteArray(R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": []})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(R"m(s.json:1:58: user_classes: needs at least one user class)m");
    QTest::newRow("user_classes type")
        << QByteArray(R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": {}})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(R"m(s.json:1:58: user_classes: must be an array of user classes)m");
    QTest::newRow("target path")
        << QByteArray(
               R"j({"target": "http://h:1/api", "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:12: target: must be an http:// or https:// URL with a host and no path, like "http://127.0.0.1:8080")m");
    QTest::newRow("target scheme")
        << QByteArray(
               R"j({"target": "ftp://h", "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:12: target: must be an http:// or https:// URL with a host and no path, like "http://127.0.0.1:8080")m");
    QTest::newRow("token control")
        << QByteArray(
               R"j({"token": "a\tb", "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(R"m(s.json:1:11: token: must not contain control characters)m");
    QTest::newRow("timeout too long")
        << QByteArray(
               R"j({"timeout": "11m", "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:13: timeout: must be a duration from 1ms to 10m, like "1s" or "250ms")m");
    QTest::newRow("timeout zero")
        << QByteArray(
               R"j({"timeout": 0, "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:13: timeout: must be a duration from 1ms to 10m, like "1s" or "250ms")m");
    QTest::newRow("timeout type")
        << QByteArray(
               R"j({"timeout": true, "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:13: timeout: must be a string like "10s" or a number of seconds)m");
    QTest::newRow("threshold operator")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "thresholds": ["p95 < 200ms", "p95 = 3ms"], "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(R"m(s.json:1:77: thresholds[1]: expected <, <=, > or >=)m");
    QTest::newRow("threshold unit at end")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "thresholds": ["p95 < 200"], "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:67: thresholds[0]: a latency needs a unit: ns, us, ms or s ("200ms"))m");
    QTest::newRow("threshold with escape")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "thresholds": ["p95 \u003c 1"], "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:57: thresholds[0]: column 8: a latency needs a unit: ns, us, ms or s ("200ms"))m");
    QTest::newRow("threshold type")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "thresholds": [5], "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:57: thresholds[0]: must be a string like "p95 < 200ms")m");
    QTest::newRow("load type")
        << QByteArray(
               R"j({"load": [], "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(R"m(s.json:1:10: load: must be an object)m");
    QTest::newRow("load model")
        << QByteArray(
               R"j({"load": {"model": "half", "users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(R"m(s.json:1:20: load.model: must be "closed" or "open")m");
    QTest::newRow("load shape")
        << QByteArray(
               R"j({"load": {"shape": "zigzag", "users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:20: load.shape: "zigzag" is not one of constant, ramp, step, spike, double_wave, stages)m");
    QTest::newRow("load missing field")
        << QByteArray(
               R"j({"load": {"shape": "ramp", "users": 5}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(R"m(s.json:1:10: load.duration: required by the ramp shape)m");
    QTest::newRow("closed max_connections")
        << QByteArray(
               R"j({"load": {"max_connections": 5, "users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(R"m(s.json:1:11: load.max_connections: only for the open model)m");
    QTest::newRow("closed with rate")
        << QByteArray(
               R"j({"load": {"rate": 5, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:11: load.rate: unknown field (the constant shape has: shape, users, duration))m");
    QTest::newRow("open max_connections")
        << QByteArray(
               R"j({"load": {"model": "open", "rate": 1, "duration": "1s", "max_connections": 0}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:76: load.max_connections: must be an integer from 1 to 100000)m");
    QTest::newRow("open with users")
        << QByteArray(
               R"j({"load": {"model": "open", "users": 5, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:28: load.users: the open model counts arrivals per second: use "rate")m");
    QTest::newRow("open spike")
        << QByteArray(R"j({"load": {"model": "open", "shape": "spike", "rate": 1, "spike_rate": 5,
  "spike_start": "5s", "spike_duration": "1s", "duration": "5s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(R"m(s.json:2:18: load.spike_start: must be within duration)m");
    QTest::newRow("open missing rate")
        << QByteArray(
               R"j({"load": {"model": "open", "duration": "1m"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(R"m(s.json:1:10: load.rate: required by the constant shape)m");
    QTest::newRow("open stage target")
        << QByteArray(
               R"j({"load": {"model": "open", "stages": [{"target": 1, "duration": "1s"}, {"target": -1, "duration": "1s"}]}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:83: load.stages[1].target: must be an integer from 0 to 1000000)m");
    QTest::newRow("open field not used")
        << QByteArray(
               R"j({"load": {"model": "open", "shape": "ramp", "rate": 5, "duration": "1s", "min_rate": 1}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:74: load.min_rate: not used by the ramp shape (the ramp shape has: shape, start_rate, rate, duration))m");
    QTest::newRow("class unknown member")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"taks": []}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:60: user_classes[0].taks: unknown member (name, weight, wait, on_start, tasks))m");
    QTest::newRow("tasks missing")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"name": "a"}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(R"m(s.json:1:59: user_classes[0].tasks: required)m");
    QTest::newRow("tasks empty")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": []}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(R"m(s.json:1:69: user_classes[0].tasks: needs at least one task)m");
    QTest::newRow("weight zero")
        << QByteArray(R"j({"load": {"users": 1, "duration": "1s"},
 "user_classes": [{"weight": 1, "tasks": [{"request": {"path": "/x"}}]},
   {"tasks": [{"request": {"path": "/x"}}, {"weight": 0, "request": {"path": "/y"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:3:55: user_classes[1].tasks[1].weight: must be an integer from 1 to 1000000)m");
    QTest::newRow("weight fraction")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"weight": 2.5, "tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:70: user_classes[0].weight: must be an integer from 1 to 1000000)m");
    QTest::newRow("weight too big")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"weight": 1000001, "tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:70: user_classes[0].weight: must be an integer from 1 to 1000000)m");
    QTest::newRow("weight type")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"weight": "3", "tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:70: user_classes[0].weight: must be an integer from 1 to 1000000)m");
    QTest::newRow("wait empty")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"wait": {}, "tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:68: user_classes[0].wait: needs one of between, constant, pacing)m");
    QTest::newRow("wait two kinds")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"wait": {"constant": "1s", "pacing": "2s"}, "tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:87: user_classes[0].wait.pacing: between, constant and pacing exclude each other)m");
    QTest::newRow("wait between reversed")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"wait": {"between": ["3s", "1s"]}, "tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:87: user_classes[0].wait.between[1]: must not be shorter than the minimum)m");
    QTest::newRow("wait between shape")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"wait": {"between": ["3s"]}, "tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:80: user_classes[0].wait.between: must be [min, max], like ["1s", "3s"])m");
    QTest::newRow("wait pacing zero")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"wait": {"pacing": "0s"}, "tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:79: user_classes[0].wait.pacing: must be a duration from 1ms to 1h, like "1s" or "250ms")m");
    QTest::newRow("on_start type")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"on_start": {}, "tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:72: user_classes[0].on_start: must be an array of requests)m");
    QTest::newRow("task neither")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"weight": 2}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:70: user_classes[0].tasks[0].requests: required (or "request" for a single one))m");
    QTest::newRow("task both")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"requests": [{"path": "/a"}], "request": {"path": "/b"}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:101: user_classes[0].tasks[0].request: request and requests exclude each other)m");
    QTest::newRow("requests empty")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"requests": []}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:83: user_classes[0].tasks[0].requests: needs at least one request)m");
    QTest::newRow("request unknown member")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x", "methd": "GET"}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:97: user_classes[0].tasks[0].request.methd: unknown member (name, method, path, headers, body, auth, checks, extract))m");
    QTest::newRow("method")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"method": "FETCH", "path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:93: user_classes[0].tasks[0].request.method: must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)m");
    QTest::newRow("path missing")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"method": "GET"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(R"m(s.json:1:82: user_classes[0].tasks[0].request.path: required)m");
    QTest::newRow("path relative")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "api"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:91: user_classes[0].tasks[0].request.path: must start with /)m");
    QTest::newRow("path type")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": 5}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:91: user_classes[0].tasks[0].request.path: must be a string)m");
    QTest::newRow("path space")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/a b"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:94: user_classes[0].tasks[0].request.path: must not contain spaces or control characters (percent-encode them))m");
    QTest::newRow("path template")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/items/{{rnd}}"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:99: user_classes[0].tasks[0].request.path: unknown placeholder "rnd" (seq, random, choice, csv, token, var, vu, now, uuid))m");
    QTest::newRow("path template after escape")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/\u0061/{{rnd}}"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:91: user_classes[0].tasks[0].request.path: column 4: unknown placeholder "rnd" (seq, random, choice, csv, token, var, vu, now, uuid))m");
    QTest::newRow("header reserved")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x", "headers": {"Accept": "x", "host": "y"}}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:124: user_classes[0].tasks[0].request.headers.host: set by the load tester, not by a scenario)m");
    QTest::newRow("header name")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x", "headers": {"X Y": "1"}}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:109: user_classes[0].tasks[0].request.headers.X Y: not a valid header name)m");
    QTest::newRow("header value template")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x", "headers": {"X-N": "n={{random 2 1}}"}}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:119: user_classes[0].tasks[0].request.headers.X-N: random: 2 is greater than 1)m");
    QTest::newRow("header value type")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x", "headers": {"X-N": 5}}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:116: user_classes[0].tasks[0].request.headers.X-N: must be a string)m");
    QTest::newRow("header line break")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x", "headers": {"X-N": "a\nb"}}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:116: user_classes[0].tasks[0].request.headers.X-N: must not contain line breaks)m");
    QTest::newRow("body template")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x", "body": {"items": [{"a": 1}, {"name": "x{{csv nope.col}}"}]}}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:137: user_classes[0].tasks[0].request.body.items[1].name: csv: no table "nope" (tables: none))m");
    QTest::newRow("body key template")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x", "body": {"{{seq 1}}": 1}}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:107: user_classes[0].tasks[0].request.body.{{seq 1}}: seq takes no arguments)m");
    QTest::newRow("auth type")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x", "auth": "yes"}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:105: user_classes[0].tasks[0].request.auth: must be true or false)m");
    QTest::newRow("checks type")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x", "checks": {}}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:107: user_classes[0].tasks[0].request.checks: must be an array of checks)m");
    QTest::newRow("check without kind")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x", "checks": [{}]}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:108: user_classes[0].tasks[0].request.checks[0]: needs one of status, body_contains, json)m");
    QTest::newRow("check two kinds")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x", "checks": [{"status": 200, "body_contains": "x"}]}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:124: user_classes[0].tasks[0].request.checks[0].body_contains: status, body_contains and json exclude each other (one check per object))m");
    QTest::newRow("check status range")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x", "checks": [{"status": [200, 600]}]}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:125: user_classes[0].tasks[0].request.checks[0].status[1]: must be an integer from 100 to 599)m");
    QTest::newRow("check status type")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x", "checks": [{"status": "200"}]}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:119: user_classes[0].tasks[0].request.checks[0].status: must be a status or an array of statuses)m");
    QTest::newRow("check json alone")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x", "checks": [{"json": "a.b"}]}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:108: user_classes[0].tasks[0].request.checks[0]: a json check needs "exists" or "equals")m");
    QTest::newRow("check exists and equals")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x", "checks": [{"json": "a", "exists": true, "equals": 1}]}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:138: user_classes[0].tasks[0].request.checks[0].equals: exists and equals exclude each other)m");
    QTest::newRow("check exists without json")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x", "checks": [{"status": 200, "exists": true}]}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:124: user_classes[0].tasks[0].request.checks[0].exists: only with "json")m");
    QTest::newRow("check unknown member")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x", "checks": [{"status": 200, "stauts": 1}]}}]}]})j")
        << QByteArray("") << int(ErrorCode::BadRequest)
        << QString::fromUtf8(
               R"m(s.json:1:124: user_classes[0].tasks[0].request.checks[0].stauts: unknown member (status, body_contains, json, exists, equals))m");
    QTest::newRow("extract name")
        << QByteArray(
               R"j({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x", "extract": {"my var": "a"}}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:109: user_classes[0].tasks[0].request.extract.my var: a variable name is letters, digits, '_' and '-')m");
    QTest::newRow("csv missing file")
        << QByteArray(
               R"j({"csv": {"t": "missing.csv"}, "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:15: csv.t: cannot read missing.csv: No such file or directory)m");
    QTest::newRow("csv table name")
        << QByteArray(
               R"j({"csv": {"a.b": "data.csv"}, "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("a\n1\n") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:10: csv.a.b: a table name is letters, digits, '_' and '-')m");
    QTest::newRow("csv cell count")
        << QByteArray(
               R"j({"csv": {"t": "data.csv"}, "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("a,b\n1,2\n3\n") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(R"m(s.json:1:15: csv.t: data.csv:3: 1 cell, the header has 2)m");
    QTest::newRow("csv cell count after quoted newline")
        << QByteArray(
               R"j({"csv": {"t": "data.csv"}, "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("a,b\r\n\"x\r\ny\",2\r\n1,2,3\r\n") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(R"m(s.json:1:15: csv.t: data.csv:4: 3 cells, the header has 2)m");
    QTest::newRow("csv unclosed quote")
        << QByteArray(
               R"j({"csv": {"t": "data.csv"}, "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("a,b\n1,\"2\n") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(R"m(s.json:1:15: csv.t: data.csv:2: a quoted field is not closed)m");
    QTest::newRow("csv text after quote")
        << QByteArray(
               R"j({"csv": {"t": "data.csv"}, "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("a\n\"x\"y\n") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:15: csv.t: data.csv:2: a closing quote must end its field)m");
    QTest::newRow("csv header only")
        << QByteArray(
               R"j({"csv": {"t": "data.csv"}, "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("a,b\r\n") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:15: csv.t: data.csv: no data rows (the first row is the header))m");
    QTest::newRow("csv empty")
        << QByteArray(
               R"j({"csv": {"t": "data.csv"}, "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:15: csv.t: data.csv: empty: the first row must name the columns)m");
    QTest::newRow("csv duplicate column")
        << QByteArray(
               R"j({"csv": {"t": "data.csv"}, "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/x"}}]}]})j")
        << QByteArray("a,a\n1,2\n") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:1:15: csv.t: data.csv:1: column "a" appears twice in the header)m");
    QTest::newRow("csv unknown column")
        << QByteArray(R"j({"csv": {"t": "data.csv"}, "load": {"users": 1, "duration": "1s"},
 "user_classes": [{"tasks": [{"request": {"path": "/u/{{csv t.mail}}"}}]}]})j")
        << QByteArray("email\nx\n") << int(ErrorCode::Unprocessable)
        << QString::fromUtf8(
               R"m(s.json:2:55: user_classes[0].tasks[0].request.path: csv: table "t" has no column "mail" (columns: email))m");
}

void TestScenario::errors()
{
    QFETCH(QByteArray, json);
    QFETCH(QByteArray, csv);
    QFETCH(int, code);
    QFETCH(QString, message);
    QVERIFY(writeFile(m_dir->filePath("data.csv"), csv));
    const auto parsed = parse(json);
    QVERIFY(!parsed.ok());
    QCOMPARE(parsed.error().message, message);
    QCOMPARE(int(parsed.error().code), code);
    // "s.json:LINE:COLUMN: path: message" and the same in the details.
    const QStringList parts = message.split(u':');
    QCOMPARE(parsed.error().details.value("line").toInt(), parts.at(1).toInt());
    QCOMPARE(parsed.error().details.value("column").toInt(), parts.at(2).toInt());
    const QString rest = message.section(u':', 3).mid(1);
    const QString path = parsed.error().details.value("path").toString();
    QVERIFY(path.isEmpty() || rest.startsWith(path + QStringLiteral(": ")));
}

void TestScenario::csv_data()
{
    QTest::addColumn<QByteArray>("data");
    QTest::addColumn<QStringList>("columns");
    QTest::addColumn<Rows>("rows");
    QTest::newRow("plain") << QByteArray("a,b\n1,2\n3,4\n") << QStringList{"a", "b"}
                           << Rows{{"1", "2"}, {"3", "4"}};
    QTest::newRow("crlf, no final line break")
        << QByteArray("a,b\r\n1,2\r\n3,4") << QStringList{"a", "b"} << Rows{{"1", "2"}, {"3", "4"}};
    QTest::newRow("quotes") << QByteArray("a,b\n\"x, y\",\"say \"\"hi\"\"\"\n")
                            << QStringList{"a", "b"} << Rows{{"x, y", "say \"hi\""}};
    QTest::newRow("line breaks in quotes") << QByteArray("a,b\r\n\"l1\r\nl2\",\"m1\nm2\"\r\n")
                                           << QStringList{"a", "b"} << Rows{{"l1\r\nl2", "m1\nm2"}};
    QTest::newRow("empty cells") << QByteArray("a,b,c\n,,\n1,,\"\"\n") << QStringList{"a", "b", "c"}
                                 << Rows{{"", "", ""}, {"1", "", ""}};
    QTest::newRow("blank lines skipped")
        << QByteArray("\na\n\n1\r\n\r\n2\n\n") << QStringList{"a"} << Rows{{"1"}, {"2"}};
    QTest::newRow("bom and trimmed header") << QByteArray("\xEF\xBB\xBF email , pw\nx@y, s p \n")
                                            << QStringList{"email", "pw"} << Rows{{"x@y", " s p "}};
    QTest::newRow("utf-8 cells") << QByteArray("n\nüñí\n") << QStringList{"n"} << Rows{{"üñí"}};
}

void TestScenario::csv()
{
    QFETCH(QByteArray, data);
    QFETCH(QStringList, columns);
    QFETCH(Rows, rows);
    QVERIFY(writeFile(m_dir->filePath("t.csv"), data));
    const auto parsed = parse(
        R"({"csv": {"t": "t.csv"}, "load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/"}}]}]})");
    QVERIFY2(parsed.ok(), parsed.ok() ? "" : qPrintable(parsed.error().message));
    const CsvTable table = parsed.value().csv.value("t");
    QCOMPARE(table.name, QStringLiteral("t"));
    QCOMPARE(table.columns, columns);
    QCOMPARE(table.rows, rows);
}

void TestScenario::fromFile()
{
    QVERIFY(m_dir->path() != QDir::currentPath());
    QVERIFY(QDir(m_dir->path()).mkdir("sub"));
    QVERIFY(writeFile(m_dir->filePath("sub/users.csv"), "id\n1\n"));
    const QString file = m_dir->filePath("sub/load.json");
    QVERIFY(writeFile(file,
                      R"({"csv": {"u": "users.csv"}, "load": {"users": 1, "duration": "1s"},
 "user_classes": [{"tasks": [{"request": {"path": "/u/{{csv u.id}}"}}]}]})"));
    const auto loaded = Scenario::fromFile(file);
    QVERIFY2(loaded.ok(), loaded.ok() ? "" : qPrintable(loaded.error().message));
    QCOMPARE(loaded.value().name, QStringLiteral("load"));
    QCOMPARE(loaded.value().csv.value("u").rows, (Rows{{"1"}}));

    QVERIFY(writeFile(file, R"({"load": {"users": 1, "duration": "1s"}, "user_classes": []})"));
    const auto invalid = Scenario::fromFile(file);
    QVERIFY(!invalid.ok());
    QCOMPARE(invalid.error().message,
             file + QStringLiteral(":1:58: user_classes: needs at least one user class"));

    const QString missing = m_dir->filePath("nope.json");
    const auto absent = Scenario::fromFile(missing);
    QVERIFY(!absent.ok());
    QCOMPARE(absent.error().message,
             missing + QStringLiteral(": cannot read: No such file or directory"));
}

void TestScenario::rendersRequests()
{
    const auto parsed = parse(R"({"load": {"users": 1, "duration": "1s"}, "token": "T",
 "user_classes": [{"tasks": [{"requests": [
   {"method": "post", "path": "/api/items?x={{var q}}", "headers": {"X-B": "b", "X-A": "{{vu}}"},
    "body": {"n": "{{seq}}", "s": "{{var q}}"}},
   {"path": "/plain", "auth": false},
   {"path": "/auth"},
   {"method": "PUT", "path": "/s", "body": "{{vu}}", "auth": false}
 ]}]}]})");
    QVERIFY2(parsed.ok(), parsed.ok() ? "" : qPrintable(parsed.error().message));
    const QList<RequestSpec> &requests = parsed.value().userClasses.at(0).tasks.at(0).requests;

    quint64 seq = 5;
    std::mt19937_64 rng(1);
    QHash<QString, QByteArray> vars{{QStringLiteral("q"), "a b\""}};
    TemplateContext ctx;
    ctx.vu = 3;
    ctx.seqNext = &seq;
    ctx.rng = &rng;
    ctx.vars = &vars;
    ctx.runToken = parsed.value().token;
    const QByteArray host = "h:1";

    QByteArray out = "previous|";
    requests.at(0).render(ctx, host, &out);
    QCOMPARE(out, QByteArray("previous|POST /api/items?x=a%20b%22 HTTP/1.1\r\n"
                             "Host: h:1\r\n"
                             "X-B: b\r\n"
                             "X-A: 3\r\n"
                             "Authorization: Bearer T\r\n"
                             "Content-Type: application/json\r\n"
                             "Content-Length: 19\r\n"
                             "\r\n"
                             "{\"n\":5,\"s\":\"a b\\\"\"}"));
    QCOMPARE(seq, quint64(6));

    out.clear();
    requests.at(1).render(ctx, host, &out);
    QCOMPARE(out, QByteArray("GET /plain HTTP/1.1\r\nHost: h:1\r\n\r\n"));

    vars.insert(QStringLiteral("token"), "V"); // an extracted token wins
    out.clear();
    requests.at(2).render(ctx, host, &out);
    QCOMPARE(out, QByteArray("GET /auth HTTP/1.1\r\nHost: h:1\r\nAuthorization: Bearer V\r\n\r\n"));

    vars.remove(QStringLiteral("token"));
    ctx.runToken.clear(); // no token anywhere: no Authorization header
    out.clear();
    requests.at(2).render(ctx, host, &out);
    QCOMPARE(out, QByteArray("GET /auth HTTP/1.1\r\nHost: h:1\r\n\r\n"));

    out.clear();
    requests.at(3).render(ctx, host, &out);
    QCOMPARE(out, QByteArray("PUT /s HTTP/1.1\r\nHost: h:1\r\n"
                             "Content-Type: application/json\r\nContent-Length: 1\r\n\r\n3"));
}

void TestScenario::verify_data()
{
    QTest::addColumn<QByteArray>("checks"); // the "checks" array of the request
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<bool>("statusFailed");
    QTest::addColumn<QString>("failedCheck");

    QTest::newRow("none 200") << QByteArray("[]") << 200 << QByteArray() << false << "";
    QTest::newRow("none 399") << QByteArray("[]") << 399 << QByteArray() << false << "";
    QTest::newRow("none 404") << QByteArray("[]") << 404 << QByteArray() << true << "status < 400";
    const QByteArray statuses = R"([{"status": [200, 304]}])";
    QTest::newRow("status listed") << statuses << 304 << QByteArray() << false << "";
    QTest::newRow("status not listed")
        << statuses << 201 << QByteArray() << true << "status in [200, 304]";
    QTest::newRow("status may be 404")
        << QByteArray(R"([{"status": 404}])") << 404 << QByteArray() << false << "";
    const QByteArray contains = R"([{"body_contains": "data"}])";
    QTest::newRow("contains") << contains << 200 << QByteArray("{\"data\":1}") << false << "";
    QTest::newRow("does not contain")
        << contains << 200 << QByteArray("nothing") << false << "body contains \"data\"";
    QTest::newRow("default status before body check")
        << contains << 500 << QByteArray("data") << true << "status < 400";
    QTest::newRow("explicit status first")
        << QByteArray(R"([{"body_contains": "x"}, {"status": 200}])") << 500 << QByteArray() << true
        << "status in [200]";
    const QByteArray exists = R"([{"json": "data.0.id", "exists": true}])";
    QTest::newRow("exists") << exists << 200 << QByteArray(R"({"data":[{"id":null}]})") << false
                            << "";
    QTest::newRow("does not exist")
        << exists << 200 << QByteArray(R"({"data":[]})") << false << "json data.0.id exists";
    QTest::newRow("not json") << exists << 200 << QByteArray("<html>") << false
                              << "json data.0.id exists";
    const QByteArray absent = R"([{"json": "gone", "exists": false}])";
    QTest::newRow("absent") << absent << 200 << QByteArray(R"({"here":1})") << false << "";
    QTest::newRow("present") << absent << 200 << QByteArray(R"({"gone":1})") << false
                             << "json gone does not exist";
    const QByteArray equals = R"([{"json": "slept_ms", "equals": 20}])";
    QTest::newRow("equals") << equals << 200 << QByteArray(R"({"slept_ms":20})") << false << "";
    QTest::newRow("equals as double")
        << equals << 200 << QByteArray(R"({"slept_ms":20.0})") << false << "";
    QTest::newRow("not equal") << equals << 200 << QByteArray(R"({"slept_ms":21})") << false
                               << "json slept_ms == 20";
    QTest::newRow("string is not a number")
        << equals << 200 << QByteArray(R"({"slept_ms":"20"})") << false << "json slept_ms == 20";
    QTest::newRow("equals missing")
        << equals << 200 << QByteArray("{}") << false << "json slept_ms == 20";
    QTest::newRow("equals string") << QByteArray(R"([{"json": "a.b", "equals": "x"}])") << 200
                                   << QByteArray(R"({"a":{"b":"x"}})") << false << "";
    QTest::newRow("equals object") << QByteArray(R"([{"json": "o", "equals": {"a": [1, true]}}])")
                                   << 200 << QByteArray(R"({"o":{"a":[1,true]}})") << false << "";
    QTest::newRow("equals object differs")
        << QByteArray(R"([{"json": "o", "equals": {"a": [1, true]}}])") << 200
        << QByteArray(R"({"o":{"a":[1,false]}})") << false << "json o == {\"a\":[1,true]}";
    QTest::newRow("array root") << QByteArray(R"([{"json": "1", "equals": 6}])") << 200
                                << QByteArray("[5,6]") << false << "";
    QTest::newRow("first failure reported")
        << QByteArray(R"([{"body_contains": "zz"}, {"json": "a", "exists": true}])") << 200
        << QByteArray("{}") << false << "body contains \"zz\"";
}

void TestScenario::verify()
{
    QFETCH(QByteArray, checks);
    QFETCH(int, status);
    QFETCH(QByteArray, body);
    QFETCH(bool, statusFailed);
    QFETCH(QString, failedCheck);
    const auto parsed = parse(
        R"({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/", "checks": )" +
        checks + "}}]}]}");
    QVERIFY2(parsed.ok(), parsed.ok() ? "" : qPrintable(parsed.error().message));
    const RequestSpec &request = parsed.value().userClasses.at(0).tasks.at(0).requests.at(0);
    const RequestSpec::Verdict verdict = request.verify(ResponseView{status, body});
    QCOMPARE(verdict.statusFailed, statusFailed);
    QCOMPARE(verdict.failedCheck, failedCheck);
}

void TestScenario::extractInto()
{
    const auto parsed = parse(
        R"({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"request": {"path": "/",
 "extract": {"token": "token", "uid": "user.id", "tags": "user.tags", "missing": "nope.x", "n": "n", "first": "user.tags.0"}}}]}]})");
    QVERIFY2(parsed.ok(), parsed.ok() ? "" : qPrintable(parsed.error().message));
    const RequestSpec &request = parsed.value().userClasses.at(0).tasks.at(0).requests.at(0);
    QHash<QString, QByteArray> vars{{QStringLiteral("missing"), "kept"}};
    request.extractInto(R"({"token":"abc","user":{"id":7,"tags":["x","y"]},"n":null})", &vars);
    QCOMPARE(vars.value("token"), QByteArray("abc"));
    QCOMPARE(vars.value("uid"), QByteArray("7"));
    QCOMPARE(vars.value("tags"), QByteArray(R"(["x","y"])"));
    QCOMPARE(vars.value("first"), QByteArray("x"));
    QCOMPARE(vars.value("n"), QByteArray("null"));
    QCOMPARE(vars.value("missing"), QByteArray("kept")); // a missing path sets nothing
    QCOMPARE(vars.size(), 6);

    QHash<QString, QByteArray> none;
    request.extractInto("not json", &none);
    QVERIFY(none.isEmpty());
}

void TestScenario::needsBody()
{
    const auto parsed =
        parse(R"({"load": {"users": 1, "duration": "1s"}, "user_classes": [{"tasks": [{"requests": [
   {"path": "/"},
   {"path": "/", "checks": [{"status": 200}]},
   {"path": "/", "checks": [{"status": 200}, {"body_contains": "x"}]},
   {"path": "/", "checks": [{"json": "a", "equals": 1}]},
   {"path": "/", "extract": {"v": "a"}}]}]}]})");
    QVERIFY2(parsed.ok(), parsed.ok() ? "" : qPrintable(parsed.error().message));
    const QList<RequestSpec> &requests = parsed.value().userClasses.at(0).tasks.at(0).requests;
    QCOMPARE(requests.at(0).needsBody(), false);
    QCOMPARE(requests.at(1).needsBody(), false);
    QCOMPARE(requests.at(2).needsBody(), true);
    QCOMPARE(requests.at(3).needsBody(), true);
    QCOMPARE(requests.at(4).needsBody(), true);
}

// --duration, --users and --rate (and the API's duration, users, rate): each shape with
// what it becomes, or the error; the result must hold by the file's own rules.
void TestScenario::overrides_data()
{
    QTest::addColumn<QByteArray>("load");
    QTest::addColumn<qint64>("durationMs"); // 0: not given
    QTest::addColumn<int>("users");         // 0: not given
    QTest::addColumn<int>("rate");          // 0: not given
    QTest::addColumn<QByteArray>("shape");  // expected, compact JSON; empty when an error
    QTest::addColumn<QString>("error");

    QTest::newRow("constant duration")
        << QByteArray(R"({"users": 5, "duration": "1m"})") << qint64(30'000) << 0 << 0
        << QByteArray(R"({"duration":"30s","shape":"constant","users":5})") << QString();
    QTest::newRow("constant users")
        << QByteArray(R"({"users": 5, "duration": "1m"})") << qint64(0) << 64 << 0
        << QByteArray(R"({"duration":"1m","shape":"constant","users":64})") << QString();
    QTest::newRow("ramp keeps the start's share")
        << QByteArray(R"({"shape": "ramp", "start_users": 10, "users": 40, "duration": "1m"})")
        << qint64(0) << 80 << 0
        << QByteArray(R"({"duration":"1m","shape":"ramp","start_users":20,"users":80})") << QString();
    QTest::newRow("spike: the peak is the spike, the baseline keeps its share")
        << QByteArray(R"({"shape": "spike", "users": 10, "spike_users": 100, "spike_start": "10s", "spike_duration": "5s", "duration": "1m"})")
        << qint64(0) << 50 << 0
        << QByteArray(R"({"duration":"1m","shape":"spike","spike_duration":"5s","spike_start":"10s","spike_users":50,"users":5})")
        << QString();
    QTest::newRow("spike outside a shorter run")
        << QByteArray(R"({"shape": "spike", "users": 10, "spike_users": 100, "spike_start": "50s", "spike_duration": "5s", "duration": "1m"})")
        << qint64(20'000) << 0 << 0 << QByteArray()
        << QStringLiteral("duration: the shape would not hold: spike_start");
    QTest::newRow("double wave keeps its minimum's share")
        << QByteArray(R"({"shape": "double_wave", "users": 100, "min_users": 10, "duration": "1m"})")
        << qint64(0) << 20 << 0
        << QByteArray(R"({"duration":"1m","min_users":2,"shape":"double_wave","users":20})") << QString();
    QTest::newRow("step no shorter than a step")
        << QByteArray(R"({"shape": "step", "step_users": 10, "step_time": "30s", "users": 100, "duration": "5m"})")
        << qint64(30'000) << 0 << 0 << QByteArray()
        << QStringLiteral("duration: the shape would not hold: ");
    QTest::newRow("stages: shares of the duration and of the peak")
        << QByteArray(R"({"shape": "stages", "start_users": 0, "stages": [{"target": 20, "duration": "30s"}, {"target": 20, "duration": "60s"}, {"target": 0, "duration": "15s"}]})")
        << qint64(7'000) << 6 << 0
        << QByteArray(R"({"shape":"stages","stages":[{"duration":"2s","target":6},{"duration":"4s","target":6},{"duration":"1s","target":0}],"start_users":0})")
        << QString();
    QTest::newRow("open: rate")
        << QByteArray(R"({"model": "open", "rate": 100, "duration": "1m"})") << qint64(0) << 0 << 250
        << QByteArray(R"({"duration":"1m","shape":"constant","users":250})") << QString();
    QTest::newRow("open: users refused")
        << QByteArray(R"({"model": "open", "rate": 100, "duration": "1m"})") << qint64(0) << 5 << 0
        << QByteArray() << QStringLiteral("users: the scenario uses the open model; give rate");
    QTest::newRow("closed: rate refused")
        << QByteArray(R"({"users": 5, "duration": "1m"})") << qint64(0) << 0 << 5 << QByteArray()
        << QStringLiteral("rate: the scenario uses the closed model; give users");
    QTest::newRow("duration out of range")
        << QByteArray(R"({"users": 5, "duration": "1m"})") << qint64(8LL * 24 * 3'600'000) << 0 << 0
        << QByteArray() << QStringLiteral("duration: must be from 1ms to 7d");
    QTest::newRow("users out of range")
        << QByteArray(R"({"users": 5, "duration": "1m"})") << qint64(0) << 2'000'000 << 0
        << QByteArray() << QStringLiteral("users: must be an integer from 1 to 1000000");
}

void TestScenario::overrides()
{
    QFETCH(QByteArray, load);
    QFETCH(qint64, durationMs);
    QFETCH(int, users);
    QFETCH(int, rate);
    QFETCH(QByteArray, shape);
    QFETCH(QString, error);
    auto parsed = parse(R"({"load": )" + load +
                        R"(, "user_classes": [{"tasks": [{"request": {"path": "/"}}]}]})");
    QVERIFY2(parsed.ok(), parsed.ok() ? "" : qPrintable(parsed.error().message));
    Scenario scenario = parsed.value();
    LoadOverrides o;
    if (durationMs)
        o.durationMs = durationMs;
    if (users)
        o.users = users;
    if (rate)
        o.rate = rate;
    const LoadShape before = scenario.load.shape;
    const auto applied = scenario.applyOverrides(o);
    if (!error.isEmpty()) {
        QVERIFY(!applied.ok());
        QVERIFY2(applied.error().message.startsWith(error), qPrintable(applied.error().message));
        QVERIFY(scenario.load.shape == before); // nothing changed
        return;
    }
    QVERIFY2(applied.ok(), applied.ok() ? "" : qPrintable(applied.error().message));
    QCOMPARE(QJsonDocument(scenario.load.shape.toJson()).toJson(QJsonDocument::Compact), shape);
}


QTEST_GUILESS_MAIN(TestScenario)
#include "tst_scenario.moc"
