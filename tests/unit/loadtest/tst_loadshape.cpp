// SPDX-License-Identifier: GPL-3.0-or-later
// LoadShape, the load tester's users-over-time curves: for every kind the user count at
// chosen times (start, middle, each boundary and the millisecond before it, the end and
// after it, and before the start), round-half-up rounding on interpolations and on the
// double wave, maxUsers (exact, also where the peak falls between whole milliseconds) and
// totalDurationMs, the canonical JSON form and its round trip, and every parse error with
// its exact message and error code.
#include "LoadShape.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QTest>

using namespace bulwark;

namespace {

// The shape `json` describes; fails the test when the JSON or the shape is bad.
LoadShape parse(const QByteArray &json, bool *ok)
{
    *ok = false;
    QJsonParseError e;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &e);
    if (e.error != QJsonParseError::NoError || !doc.isObject()) {
        qWarning("bad test JSON: %s in %s", qPrintable(e.errorString()), json.constData());
        return {};
    }
    const auto r = LoadShape::fromJson(doc.object());
    if (!r.ok()) {
        qWarning("rejected: %s", qPrintable(r.error().message));
        return {};
    }
    *ok = true;
    return r.value();
}

QByteArray compact(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

const QByteArray kConstant = R"({"shape":"constant","users":50,"duration":"10s"})";
const QByteArray kRamp = R"({"shape":"ramp","start_users":10,"users":110,"duration":"10s"})";
const QByteArray kRampTo5 = R"({"shape":"ramp","users":5,"duration":"10s"})";
const QByteArray kRampFrom5 = R"({"shape":"ramp","start_users":5,"users":0,"duration":"10s"})";
const QByteArray kStep =
    R"({"shape":"step","step_users":10,"step_time":"30s","users":35,"duration":"2m"})";
const QByteArray kSpike = R"({"shape":"spike","users":20,"spike_users":200,"spike_start":"1m",
                              "spike_duration":"30s","duration":"5m"})";
const QByteArray kWave = R"({"shape":"double_wave","users":100,"duration":"8s"})";
const QByteArray kWave5 = R"({"shape":"double_wave","users":5,"duration":"8s"})";
const QByteArray kWaveMin = R"({"shape":"double_wave","users":100,"min_users":10,
                                "duration":"8s"})";
const QByteArray kStages = R"({"shape":"stages","stages":[{"target":10,"duration":"10s"},
                              {"target":10,"duration":"5s"},{"target":0,"duration":"10s"}]})";
const QByteArray kStagesFrom20 = R"({"shape":"stages","start_users":20,"stages":[
                              {"target":100,"duration":"1m"},{"target":50,"duration":"30s"}]})";

} // namespace

class TestLoadShape : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void usersAt_data();
    void usersAt();
    void maxAndTotal_data();
    void maxAndTotal();
    void roundTrip_data();
    void roundTrip();
    void errors_data();
    void errors();
    void defaultIsEmpty();
};

void TestLoadShape::usersAt_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<qint64>("t");
    QTest::addColumn<int>("users");

    auto row = [](const char *name, const QByteArray &json, qint64 t, int users) {
        QTest::newRow(name) << json << t << users;
    };
    row("constant before start", kConstant, -1, 0);
    row("constant start", kConstant, 0, 50);
    row("constant middle", kConstant, 5000, 50);
    row("constant last ms", kConstant, 9999, 50);
    row("constant end", kConstant, 10000, 0);
    row("constant after end", kConstant, 20000, 0);

    row("ramp before start", kRamp, -1, 0);
    row("ramp start", kRamp, 0, 10);
    row("ramp quarter", kRamp, 2500, 35);
    row("ramp middle", kRamp, 5000, 60);
    row("ramp last ms rounds to target", kRamp, 9999, 110); // 109.99
    row("ramp end", kRamp, 10000, 0);
    row("ramp after end", kRamp, 10001, 0);
    row("ramp up 0.4995 rounds down", kRampTo5, 999, 0);
    row("ramp up 0.5 rounds up", kRampTo5, 1000, 1);
    row("ramp up 2.5 rounds up", kRampTo5, 5000, 3);
    row("ramp down 2.5 rounds up", kRampFrom5, 5000, 3);
    row("ramp down 0.5 rounds up", kRampFrom5, 9000, 1);
    row("ramp down 0.4995 rounds down", kRampFrom5, 9001, 0);

    row("step start", kStep, 0, 10);
    row("step before first step", kStep, 29999, 10);
    row("step first step", kStep, 30000, 20);
    row("step second step", kStep, 60000, 30);
    row("step capped at users", kStep, 90000, 35);
    row("step last ms", kStep, 119999, 35);
    row("step end", kStep, 120000, 0);
    row("step before start", kStep, -30000, 0);

    row("spike start is baseline", kSpike, 0, 20);
    row("spike ms before spike", kSpike, 59999, 20);
    row("spike begins", kSpike, 60000, 200);
    row("spike last ms", kSpike, 89999, 200);
    row("spike over", kSpike, 90000, 20);
    row("spike run last ms", kSpike, 299999, 20);
    row("spike run end", kSpike, 300000, 0);

    row("wave start", kWave, 0, 0);
    row("wave eighth", kWave, 1000, 50);
    row("wave sixteenth", kWave, 500, 15); // 14.64
    row("wave first peak", kWave, 2000, 100);
    row("wave middle", kWave, 4000, 0);
    row("wave second peak", kWave, 6000, 100);
    row("wave seven eighths", kWave, 7000, 50);
    row("wave last ms", kWave, 7999, 0);
    row("wave end", kWave, 8000, 0);
    row("wave 2.5 rounds up", kWave5, 1000, 3);
    row("wave min at start", kWaveMin, 0, 10);
    row("wave min at middle", kWaveMin, 4000, 10);
    row("wave min below wave", kWaveMin, 500, 15);
    row("wave min peak", kWaveMin, 2000, 100);
    row("wave min after end", kWaveMin, 8000, 0);

    row("stages start", kStages, 0, 0);
    row("stages first middle", kStages, 5000, 5);
    row("stages first last ms", kStages, 9999, 10);
    row("stages hold start", kStages, 10000, 10);
    row("stages hold last ms", kStages, 14999, 10);
    row("stages down start", kStages, 15000, 10);
    row("stages down middle", kStages, 20000, 5);
    row("stages down last ms", kStages, 24999, 0);
    row("stages end", kStages, 25000, 0);
    row("stages from start_users", kStagesFrom20, 0, 20);
    row("stages from start_users middle", kStagesFrom20, 30000, 60);
    row("stages second starts at first target", kStagesFrom20, 60000, 100);
    row("stages second middle", kStagesFrom20, 75000, 75);
    row("stages second last ms", kStagesFrom20, 89999, 50);
    row("stages from start_users end", kStagesFrom20, 90000, 0);
}

void TestLoadShape::usersAt()
{
    QFETCH(QByteArray, json);
    QFETCH(qint64, t);
    QFETCH(int, users);
    bool ok = false;
    const LoadShape shape = parse(json, &ok);
    QVERIFY(ok);
    QCOMPARE(shape.usersAt(t), users);
}

void TestLoadShape::maxAndTotal_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<int>("maxUsers");
    QTest::addColumn<qint64>("totalMs");

    QTest::newRow("constant") << kConstant << 50 << qint64(10000);
    QTest::newRow("ramp up") << kRamp << 110 << qint64(10000);
    QTest::newRow("ramp down") << kRampFrom5 << 5 << qint64(10000);
    QTest::newRow("ramp over 1 ms never leaves its start")
        << QByteArray(R"({"shape":"ramp","start_users":3,"users":100,"duration":"1ms"})") << 3
        << qint64(1);
    QTest::newRow("step") << kStep << 35 << qint64(120000);
    QTest::newRow("step never reaching users")
        << QByteArray(
               R"({"shape":"step","step_users":10,"step_time":"1m","users":100,"duration":"3m"})")
        << 30 << qint64(180000);
    QTest::newRow("spike") << kSpike << 200 << qint64(300000);
    QTest::newRow("spike below baseline")
        << QByteArray(R"({"shape":"spike","users":20,"spike_users":5,"spike_start":0,
                          "spike_duration":"10s","duration":"1m"})")
        << 20 << qint64(60000);
    QTest::newRow("wave") << kWave << 100 << qint64(8000);
    QTest::newRow("wave of 0 users")
        << QByteArray(R"({"shape":"double_wave","users":0,"duration":"1m"})") << 0 << qint64(60000);
    // Peaks at 1.75 ms and 5.25 ms; the whole milliseconds 2 and 5 give 95.05.
    QTest::newRow("wave peak between milliseconds")
        << QByteArray(R"({"shape":"double_wave","users":100,"duration":"7ms"})") << 95 << qint64(7);
    QTest::newRow("stages") << kStages << 10 << qint64(25000);
    QTest::newRow("stages from start_users") << kStagesFrom20 << 100 << qint64(90000);
    QTest::newRow("stages going down only")
        << QByteArray(R"({"shape":"stages","start_users":40,"stages":[{"target":0,
                          "duration":"1s"}]})")
        << 40 << qint64(1000);
    QTest::newRow("duration as seconds")
        << QByteArray(R"({"shape":"constant","users":1,"duration":1.5})") << 1 << qint64(1500);
    QTest::newRow("upper bounds")
        << QByteArray(R"({"shape":"constant","users":1000000,"duration":"168h"})") << 1000000
        << qint64(604800000);
    QTest::newRow("lower bounds") << QByteArray(
                                         R"({"shape":"constant","users":0,"duration":0.001})")
                                  << 0 << qint64(1);
    QTest::newRow("stages total of 7 days")
        << QByteArray(R"({"shape":"stages","stages":[{"target":7,"duration":"84h"},
                          {"target":7,"duration":"84h"}]})")
        << 7 << qint64(604800000);
}

void TestLoadShape::maxAndTotal()
{
    QFETCH(QByteArray, json);
    QFETCH(int, maxUsers);
    QFETCH(qint64, totalMs);
    bool ok = false;
    const LoadShape shape = parse(json, &ok);
    QVERIFY(ok);
    QCOMPARE(shape.maxUsers(), maxUsers);
    QCOMPARE(shape.totalDurationMs(), totalMs);
}

void TestLoadShape::roundTrip_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QByteArray>("canonical");

    QTest::newRow("constant") << kConstant
                              << QByteArray(R"({"duration":"10s","shape":"constant","users":50})");
    QTest::newRow("ramp default start")
        << QByteArray(R"({"shape":"ramp","users":5,"duration":90})")
        << QByteArray(R"({"duration":"90s","shape":"ramp","start_users":0,"users":5})");
    QTest::newRow("step")
        << kStep
        << QByteArray(R"({"duration":"2m","shape":"step","step_time":"30s","step_users":10,)"
                      R"("users":35})");
    QTest::newRow("spike at start")
        << QByteArray(R"({"shape":"spike","users":1,"spike_users":9,"spike_start":0,
                          "spike_duration":"1500ms","duration":"7200s"})")
        << QByteArray(R"({"duration":"2h","shape":"spike","spike_duration":"1500ms",)"
                      R"("spike_start":"0ms","spike_users":9,"users":1})");
    QTest::newRow("double wave")
        << kWaveMin
        << QByteArray(R"({"duration":"8s","min_users":10,"shape":"double_wave","users":100})");
    QTest::newRow("stages") << kStagesFrom20
                            << QByteArray(
                                   R"({"shape":"stages","stages":[{"duration":"1m","target":100},)"
                                   R"({"duration":"30s","target":50}],"start_users":20})");
}

void TestLoadShape::roundTrip()
{
    QFETCH(QByteArray, json);
    QFETCH(QByteArray, canonical);
    bool ok = false;
    const LoadShape shape = parse(json, &ok);
    QVERIFY(ok);
    QCOMPARE(compact(shape.toJson()), canonical);
    const auto again = LoadShape::fromJson(shape.toJson());
    QVERIFY2(again.ok(), qPrintable(again.ok() ? QString() : again.error().message));
    QVERIFY(again.value() == shape);
}

void TestLoadShape::errors_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("message");

    const int bad = int(ErrorCode::BadRequest);
    const int invalid = int(ErrorCode::Unprocessable);
    const QString kinds = QStringLiteral("constant, ramp, step, spike, double_wave, stages");
    const QString users = QStringLiteral("users: must be an integer from 0 to 1000000");
    const QString duration =
        QStringLiteral("duration: must be a duration from 1ms to 7 days, like \"30s\" or \"5m\"");
    auto constant = [](const char *users, const char *duration) {
        return QByteArray(R"({"shape":"constant","users":)") + users + R"(,"duration":)" +
               duration + "}";
    };
    auto stages = [](const char *items) {
        return QByteArray(R"({"shape":"stages","stages":)") + items + "}";
    };

    QTest::newRow("shape missing")
        << QByteArray("{}") << invalid << "shape: required, one of " + kinds;
    QTest::newRow("shape not a string")
        << QByteArray(R"({"shape":5})") << bad << "shape: must be a string, one of " + kinds;
    QTest::newRow("shape unknown") << QByteArray(R"({"shape":"sawtooth"})") << invalid
                                   << "shape: \"sawtooth\" is not one of " + kinds;
    QTest::newRow("unknown field")
        << QByteArray(R"({"shape":"constant","users":5,"duration":"1m","usres":3})") << bad
        << "usres: unknown field (the constant shape has: shape, users, duration)";
    QTest::newRow("field of another shape")
        << QByteArray(R"({"shape":"ramp","users":5,"duration":"1m","spike_users":3})") << bad
        << "spike_users: not used by the ramp shape (the ramp shape has: shape, start_users, "
           "users, duration)";
    QTest::newRow("duration in stages")
        << QByteArray(R"({"shape":"stages","duration":"1m","stages":[]})") << bad
        << "duration: not used by the stages shape (the stages shape has: shape, start_users, "
           "stages)";

    QTest::newRow("users missing") << QByteArray(R"({"shape":"constant","duration":"1m"})")
                                   << invalid << "users: required by the constant shape";
    QTest::newRow("users a string")
        << constant("\"5\"", "\"1m\"") << bad << "users: must be a number";
    QTest::newRow("users fractional") << constant("2.5", "\"1m\"") << invalid << users;
    QTest::newRow("users negative") << constant("-1", "\"1m\"") << invalid << users;
    QTest::newRow("users above 1000000") << constant("1000001", "\"1m\"") << invalid << users;
    QTest::newRow("start_users negative")
        << QByteArray(R"({"shape":"ramp","start_users":-3,"users":5,"duration":"1m"})") << invalid
        << "start_users: must be an integer from 0 to 1000000";

    QTest::newRow("duration missing") << QByteArray(R"({"shape":"constant","users":5})") << invalid
                                      << "duration: required by the constant shape";
    QTest::newRow("duration zero") << constant("5", "\"0s\"") << invalid << duration;
    QTest::newRow("duration above 7 days") << constant("5", "\"169h\"") << invalid << duration;
    QTest::newRow("duration not a duration") << constant("5", "\"soon\"") << invalid << duration;
    QTest::newRow("duration negative seconds") << constant("5", "-5") << invalid << duration;
    QTest::newRow("duration below 1 ms") << constant("5", "0.0004") << invalid << duration;
    QTest::newRow("duration a boolean")
        << constant("5", "true") << bad
        << "duration: must be a string like \"30s\" or a number of seconds";

    QTest::newRow("step_users zero")
        << QByteArray(
               R"({"shape":"step","step_users":0,"step_time":"1s","users":5,"duration":"1m"})")
        << invalid << "step_users: must be an integer from 1 to 1000000";
    QTest::newRow("step_time missing")
        << QByteArray(R"({"shape":"step","step_users":1,"users":5,"duration":"1m"})") << invalid
        << "step_time: required by the step shape";
    QTest::newRow("step_time not shorter than duration")
        << QByteArray(
               R"({"shape":"step","step_users":1,"step_time":"2m","users":5,"duration":"2m"})")
        << invalid << "step_time: must be shorter than duration";

    QTest::newRow("spike_users missing")
        << QByteArray(R"({"shape":"spike","users":1,"spike_start":"1s","spike_duration":"1s",
                          "duration":"1m"})")
        << invalid << "spike_users: required by the spike shape";
    QTest::newRow("spike_start at duration")
        << QByteArray(R"({"shape":"spike","users":1,"spike_users":9,"spike_start":"5m",
                          "spike_duration":"1s","duration":"5m"})")
        << invalid << "spike_start: must be within duration";
    QTest::newRow("spike_start negative")
        << QByteArray(R"({"shape":"spike","users":1,"spike_users":9,"spike_start":"-1s",
                          "spike_duration":"1s","duration":"5m"})")
        << invalid << "spike_start: must be a duration from 0ms to 7 days, like \"30s\" or \"5m\"";
    QTest::newRow("spike ends after duration")
        << QByteArray(R"({"shape":"spike","users":1,"spike_users":9,"spike_start":"4m",
                          "spike_duration":"61s","duration":"5m"})")
        << invalid
        << "spike_duration: must end within duration (spike_start + spike_duration <= duration)";

    QTest::newRow("min_users above users")
        << QByteArray(R"({"shape":"double_wave","users":100,"min_users":101,"duration":"1m"})")
        << invalid << "min_users: must not exceed users";

    QTest::newRow("stages missing")
        << QByteArray(R"({"shape":"stages"})") << invalid << "stages: required by the stages shape";
    QTest::newRow("stages not an array")
        << stages("{}") << bad
        << "stages: must be an array of {\"target\": users, \"duration\": \"1m\"} objects";
    QTest::newRow("stages empty") << stages("[]") << invalid
                                  << "stages: must have 1 to 1000 stages";
    QByteArray many = "[";
    for (int i = 0; i < 1001; ++i)
        many += QByteArray(i ? "," : "") + R"({"target":1,"duration":"1s"})";
    many += "]";
    QTest::newRow("1001 stages") << stages(many.constData()) << invalid
                                 << "stages: must have 1 to 1000 stages";
    QTest::newRow("stage not an object") << stages(R"([{"target":1,"duration":"1s"},5])") << bad
                                         << "stages[1]: must be an object with target and duration";
    QTest::newRow("stage unknown field")
        << stages(R"([{"target":1,"duration":"1s","ramp":true}])") << bad
        << "stages[0].ramp: unknown field (target, duration)";
    QTest::newRow("stage target missing")
        << stages(R"([{"target":1,"duration":"1s"},{"duration":"1s"}])") << invalid
        << "stages[1].target: required";
    QTest::newRow("stage duration missing")
        << stages(R"([{"target":1}])") << invalid << "stages[0].duration: required";
    QTest::newRow("stage target negative")
        << stages(R"([{"target":-1,"duration":"1s"}])") << invalid
        << "stages[0].target: must be an integer from 0 to 1000000";
    QTest::newRow("stage duration zero")
        << stages(R"([{"target":1,"duration":"0ms"}])") << invalid
        << "stages[0].duration: must be a duration from 1ms to 7 days, like \"30s\" or \"5m\"";
    QTest::newRow("stages above 7 days")
        << stages(R"([{"target":1,"duration":"100h"},{"target":1,"duration":"100h"}])") << invalid
        << "stages: the total duration must be at most 7 days";
}

void TestLoadShape::errors()
{
    QFETCH(QByteArray, json);
    QFETCH(int, code);
    QFETCH(QString, message);
    QJsonParseError e;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &e);
    QVERIFY2(e.error == QJsonParseError::NoError && doc.isObject(),
             qPrintable(e.errorString() + u' ' + QString::fromUtf8(json)));
    const auto r = LoadShape::fromJson(doc.object());
    QVERIFY(!r.ok());
    QCOMPARE(r.error().message, message);
    QCOMPARE(int(r.error().code), code);
}

void TestLoadShape::defaultIsEmpty()
{
    const LoadShape shape;
    QCOMPARE(shape.totalDurationMs(), qint64(0));
    QCOMPARE(shape.maxUsers(), 0);
    QCOMPARE(shape.usersAt(0), 0);
}

QTEST_GUILESS_MAIN(TestLoadShape)
#include "tst_loadshape.moc"
