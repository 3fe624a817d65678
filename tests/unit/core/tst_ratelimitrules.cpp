// SPDX-License-Identifier: GPL-3.0-or-later
// RateLimitRules, the one parser for ratelimit.rules and PUT /admin/api/ratelimit/rules:
// every error with its exact message ("[i].field: ..."; unknown keys, names, duplicates,
// routes, scopes, algorithms, limits, windows, bursts, methods, shadow, store), the
// accepted forms with their defaults and canonical values (scope order, GET adding HEAD,
// durations as strings or seconds), the JSON form rateLimitRulesToJson writes and its
// round trip through the parser, and that defaultRateLimitRules() is what ConfigLoader
// loads when nothing is configured.
#include "ConfigLoader.h"
#include "RateLimitRules.h"

#include <QJsonDocument>
#include <QTest>

using namespace bulwark;

Q_DECLARE_METATYPE(RateLimitRuleConfig)

namespace {

// The parsed array of `json`, or a failure naming the JSON error.
bool parseJson(const QByteArray &json, QJsonArray &out, QString &error)
{
    QJsonParseError e;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &e);
    if (e.error != QJsonParseError::NoError || !doc.isArray()) {
        error = QStringLiteral("bad test JSON: %1 in %2").arg(e.errorString(), QString(json));
        return false;
    }
    out = doc.array();
    return true;
}

QString describe(const RateLimitRuleConfig &r)
{
    return QString::fromUtf8(
        QJsonDocument(rateLimitRulesToJson({r}).at(0).toObject()).toJson(QJsonDocument::Compact));
}

RateLimitRuleConfig expected(const QString &name, qint64 limit, qint64 windowMs)
{
    RateLimitRuleConfig r;
    r.name = name;
    r.limit = limit;
    r.window = Milliseconds(windowMs);
    return r;
}

} // namespace

class TestRateLimitRules : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void names();
    void errors_data();
    void errors();
    void accepted_data();
    void accepted();
    void jsonForm();
    void roundTrip();
    void defaultsAreTheLoadersDefaults();
};

void TestRateLimitRules::names()
{
    QCOMPARE(rateLimitAlgorithmNames(), (QStringList{"token_bucket", "sliding_log",
                                                     "sliding_counter", "fixed_window", "gcra"}));
    QCOMPARE(rateLimitScopeNames(), (QStringList{"global", "endpoint", "ip", "user", "api_key"}));
    const auto empty = parseRateLimitRules(QJsonArray{});
    QVERIFY(empty.ok());
    QVERIFY(empty.value().isEmpty());
}

void TestRateLimitRules::errors_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("message");

    const QString limitMessage = QStringLiteral("must be an integer from 1 to 1000000000");
    const QString nameMessage =
        QStringLiteral("[0].name: 1 to 40 characters of a-z, 0-9, _, . and -, starting with a "
                       "letter or digit (it names the rule in headers and metrics)");
    const QString windowMessage =
        QStringLiteral("[0].window: must be a duration from 1ms to 7 days, like \"1m\" or \"1h\"");
    const QString scopes = QStringLiteral("global, endpoint, ip, user, api_key");

    QTest::newRow("not an object")
        << QByteArray("[5]") << "[0]: must be an object with name, limit and window";
    QTest::newRow("second item not an object")
        << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":\"1m\"},\"b\"]")
        << "[1]: must be an object with name, limit and window";
    QTest::newRow("unknown key")
        << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":\"1m\",\"rout\":\"/x\"}]")
        << "[0].rout: unknown key (name, route, methods, scope, algorithm, limit, window, "
           "burst, shadow, store)";

    // name
    QTest::newRow("name missing") << QByteArray("[{\"limit\":5,\"window\":\"1m\"}]") << nameMessage;
    QTest::newRow("name empty") << QByteArray("[{\"name\":\"\",\"limit\":5,\"window\":\"1m\"}]")
                                << nameMessage;
    QTest::newRow("name upper case")
        << QByteArray("[{\"name\":\"Login\",\"limit\":5,\"window\":\"1m\"}]") << nameMessage;
    QTest::newRow("name starts with dash")
        << QByteArray("[{\"name\":\"-a\",\"limit\":5,\"window\":\"1m\"}]") << nameMessage;
    QTest::newRow("name with space")
        << QByteArray("[{\"name\":\"a b\",\"limit\":5,\"window\":\"1m\"}]") << nameMessage;
    QTest::newRow("name with quote")
        << QByteArray("[{\"name\":\"a\\\"b\",\"limit\":5,\"window\":\"1m\"}]") << nameMessage;
    QTest::newRow("name ends with newline")
        << QByteArray("[{\"name\":\"login\\n\",\"limit\":5,\"window\":\"1m\"}]") << nameMessage;
    QTest::newRow("name 41 characters")
        << QByteArray("[{\"name\":\"" + QByteArray(41, 'a') + "\",\"limit\":5,\"window\":\"1m\"}]")
        << nameMessage;
    QTest::newRow("name not a string")
        << QByteArray("[{\"name\":7,\"limit\":5,\"window\":\"1m\"}]") << nameMessage;
    QTest::newRow("duplicate names")
        << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":\"1m\"},"
                      "{\"name\":\"b\",\"limit\":5,\"window\":\"1m\"},"
                      "{\"name\":\"a\",\"limit\":9,\"window\":\"1h\"}]")
        << "[2].name: \"a\" is already the name of another rule";

    // route
    QTest::newRow("route without slash")
        << QByteArray("[{\"name\":\"a\",\"route\":\"api\",\"limit\":5,\"window\":\"1m\"}]")
        << "[0].route: must be a path starting with /";
    QTest::newRow("route ** not last")
        << QByteArray("[{\"name\":\"a\",\"route\":\"/api/**/x\",\"limit\":5,\"window\":\"1m\"}]")
        << "[0].route: \"**\" may only be the last segment";
    QTest::newRow("route bad segment")
        << QByteArray("[{\"name\":\"a\",\"route\":\"/api/{x\",\"limit\":5,\"window\":\"1m\"}]")
        << "[0].route: \"{x\" is neither a plain segment nor a {name}";

    // methods
    QTest::newRow("methods not an array")
        << QByteArray("[{\"name\":\"a\",\"methods\":\"POST\",\"limit\":5,\"window\":\"1m\"}]")
        << "[0].methods: must be a non-empty array like [\"POST\"] (leave it out for every method)";
    QTest::newRow("methods empty")
        << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":\"1m\",\"methods\":[]}]")
        << "[0].methods: must be a non-empty array like [\"POST\"] (leave it out for every method)";
    QTest::newRow("method with space")
        << QByteArray("[{\"name\":\"a\",\"methods\":[\"PO ST\"],\"limit\":5,\"window\":\"1m\"}]")
        << "[0].methods: \"PO ST\" is not an HTTP method";
    QTest::newRow("method empty")
        << QByteArray("[{\"name\":\"a\",\"methods\":[\"GET\",\"\"],\"limit\":5,\"window\":\"1m\"}]")
        << "[0].methods: \"\" is not an HTTP method";
    QTest::newRow("method with newline")
        << QByteArray("[{\"name\":\"a\",\"methods\":[\"POST\\n\"],\"limit\":5,\"window\":\"1m\"}]")
        << "[0].methods: \"POST\n\" is not an HTTP method";
    QTest::newRow("method too long")
        << QByteArray("[{\"name\":\"a\",\"methods\":[\"ABCDEFGHIJKLMNOPQ\"],\"limit\":5,"
                      "\"window\":\"1m\"}]")
        << "[0].methods: \"ABCDEFGHIJKLMNOPQ\" is not an HTTP method";

    // scope
    QTest::newRow("scope global combined")
        << QByteArray("[{\"name\":\"a\",\"scope\":[\"ip\",\"global\"],\"limit\":5,"
                      "\"window\":\"1m\"}]")
        << "[0].scope: global is one counter for everybody; it does not combine with other "
           "scopes";
    QTest::newRow("scope unknown")
        << QByteArray("[{\"name\":\"a\",\"scope\":\"country\",\"limit\":5,\"window\":\"1m\"}]")
        << "[0].scope: \"country\" is not one of " + scopes;
    QTest::newRow("scope unknown in array")
        << QByteArray("[{\"name\":\"a\",\"scope\":[\"ip\",\"IP\"],\"limit\":5,\"window\":\"1m\"}]")
        << "[0].scope: \"IP\" is not one of " + scopes;
    QTest::newRow("scope empty array")
        << QByteArray("[{\"name\":\"a\",\"scope\":[],\"limit\":5,\"window\":\"1m\"}]")
        << "[0].scope: must be one of " + scopes + ", or an array of them";
    QTest::newRow("scope a number")
        << QByteArray("[{\"name\":\"a\",\"scope\":5,\"limit\":5,\"window\":\"1m\"}]")
        << "[0].scope: must be one of " + scopes + ", or an array of them";

    // algorithm
    QTest::newRow("algorithm unknown")
        << QByteArray("[{\"name\":\"a\",\"algorithm\":\"leaky_bucket\",\"limit\":5,"
                      "\"window\":\"1m\"}]")
        << "[0].algorithm: must be one of token_bucket, sliding_log, sliding_counter, "
           "fixed_window, gcra";

    // limit
    QTest::newRow("limit missing")
        << QByteArray("[{\"name\":\"a\",\"window\":\"1m\"}]") << "[0].limit: " + limitMessage;
    QTest::newRow("limit zero") << QByteArray("[{\"name\":\"a\",\"limit\":0,\"window\":\"1m\"}]")
                                << "[0].limit: " + limitMessage;
    QTest::newRow("limit negative")
        << QByteArray("[{\"name\":\"a\",\"limit\":-5,\"window\":\"1m\"}]")
        << "[0].limit: " + limitMessage;
    QTest::newRow("limit fraction")
        << QByteArray("[{\"name\":\"a\",\"limit\":1.5,\"window\":\"1m\"}]")
        << "[0].limit: " + limitMessage;
    QTest::newRow("limit as string")
        << QByteArray("[{\"name\":\"a\",\"limit\":\"5\",\"window\":\"1m\"}]")
        << "[0].limit: " + limitMessage;
    QTest::newRow("limit above maximum")
        << QByteArray("[{\"name\":\"a\",\"limit\":1000000001,\"window\":\"1m\"}]")
        << "[0].limit: " + limitMessage;
    QTest::newRow("sliding_log limit above 10000")
        << QByteArray("[{\"name\":\"a\",\"algorithm\":\"sliding_log\",\"limit\":10001,"
                      "\"window\":\"1m\"}]")
        << "[0].limit: must be an integer from 1 to 10000 for sliding_log (it keeps every "
           "request's time)";

    // window
    QTest::newRow("window missing")
        << QByteArray("[{\"name\":\"a\",\"limit\":5}]") << windowMessage;
    QTest::newRow("window zero string")
        << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":\"0s\"}]") << windowMessage;
    QTest::newRow("window zero number")
        << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":0}]") << windowMessage;
    QTest::newRow("window negative")
        << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":-1}]") << windowMessage;
    QTest::newRow("window below 1ms")
        << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":0.0004}]") << windowMessage;
    QTest::newRow("window above 7 days")
        << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":\"169h\"}]") << windowMessage;
    QTest::newRow("window 7 days and 1ms")
        << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":604800.001}]") << windowMessage;
    QTest::newRow("window garbage")
        << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":\"soon\"}]") << windowMessage;
    QTest::newRow("window days unit")
        << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":\"7d\"}]") << windowMessage;

    // burst
    QTest::newRow("burst on sliding_counter")
        << QByteArray("[{\"name\":\"a\",\"algorithm\":\"sliding_counter\",\"limit\":5,"
                      "\"window\":\"1m\",\"burst\":10}]")
        << "[0].burst: only token_bucket and gcra have a burst; sliding_counter allows `limit` "
           "per window";
    QTest::newRow("burst on the default algorithm")
        << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":\"1m\",\"burst\":10}]")
        << "[0].burst: only token_bucket and gcra have a burst; sliding_counter allows `limit` "
           "per window";
    QTest::newRow("burst on sliding_log")
        << QByteArray("[{\"name\":\"a\",\"algorithm\":\"sliding_log\",\"limit\":5,"
                      "\"window\":\"1m\",\"burst\":10}]")
        << "[0].burst: only token_bucket and gcra have a burst; sliding_log allows `limit` per "
           "window";
    QTest::newRow("burst negative")
        << QByteArray("[{\"name\":\"a\",\"algorithm\":\"token_bucket\",\"limit\":5,"
                      "\"window\":\"1m\",\"burst\":-1}]")
        << "[0].burst: must be an integer from 0 (the limit) to 1000000000";
    QTest::newRow("burst fraction")
        << QByteArray("[{\"name\":\"a\",\"algorithm\":\"gcra\",\"limit\":5,"
                      "\"window\":\"1m\",\"burst\":2.5}]")
        << "[0].burst: must be an integer from 0 (the limit) to 1000000000";
    QTest::newRow("burst refills too slowly")
        << QByteArray("[{\"name\":\"a\",\"algorithm\":\"token_bucket\",\"limit\":1,"
                      "\"window\":\"168h\",\"burst\":2}]")
        << "[0].burst: a burst of 2 at 1 per 168h takes longer than 13 days to refill; lower "
           "it";

    // shadow, store
    QTest::newRow("shadow not a bool")
        << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":\"1m\",\"shadow\":\"yes\"}]")
        << "[0].shadow: must be true or false";
    QTest::newRow("store unknown")
        << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":\"1m\",\"store\":\"disk\"}]")
        << "[0].store: must be memory or redis";

    // The first bad item is named, by index.
    QTest::newRow("index of the bad item")
        << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":\"1m\"},"
                      "{\"name\":\"b\",\"limit\":5,\"window\":\"1m\"},"
                      "{\"name\":\"c\",\"limit\":0,\"window\":\"1m\"},"
                      "{\"name\":\"d\",\"limit\":5,\"window\":0}]")
        << "[2].limit: " + limitMessage;
}

void TestRateLimitRules::errors()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, message);
    QJsonArray items;
    QString jsonError;
    QVERIFY2(parseJson(json, items, jsonError), qPrintable(jsonError));
    const auto rules = parseRateLimitRules(items);
    QVERIFY2(!rules.ok(), qPrintable(QStringLiteral("accepted: ") + QString(json)));
    QCOMPARE(rules.error().code, ErrorCode::BadRequest);
    QCOMPARE(rules.error().message, message);
}

void TestRateLimitRules::accepted_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<RateLimitRuleConfig>("rule");

    QTest::newRow("defaults") << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":\"1m\"}]")
                              << expected("a", 5, 60'000);
    {
        RateLimitRuleConfig r = expected("login", 5, 3'600'000);
        r.route = "/api/v1/auth/login";
        r.methods = {"POST"};
        r.scope = {"ip"};
        r.algorithm = "sliding_log";
        r.store = "redis";
        QTest::newRow("everything given")
            << QByteArray("[{\"name\":\"login\",\"route\":\"/api/v1/auth/login\","
                          "\"methods\":[\"POST\"],\"scope\":[\"ip\"],\"algorithm\":"
                          "\"sliding_log\",\"limit\":5,\"window\":\"1h\",\"burst\":0,"
                          "\"shadow\":false,\"store\":\"redis\"}]")
            << r;
    }
    {
        RateLimitRuleConfig r = expected("a", 5, 60'000);
        r.scope = {"user"};
        QTest::newRow("scope as a string")
            << QByteArray("[{\"name\":\"a\",\"scope\":\"user\",\"limit\":5,\"window\":\"1m\"}]")
            << r;
    }
    {
        RateLimitRuleConfig r = expected("a", 5, 60'000);
        r.scope = {"endpoint", "ip", "user", "api_key"};
        QTest::newRow("scope array in canonical order")
            << QByteArray("[{\"name\":\"a\",\"scope\":[\"api_key\",\"user\",\"ip\",\"endpoint\"],"
                          "\"limit\":5,\"window\":\"1m\"}]")
            << r;
    }
    {
        RateLimitRuleConfig r = expected("a", 5, 60'000);
        r.scope = {"ip", "user"};
        QTest::newRow("scope duplicates dropped")
            << QByteArray("[{\"name\":\"a\",\"scope\":[\"user\",\"ip\",\"user\"],\"limit\":5,"
                          "\"window\":\"1m\"}]")
            << r;
    }
    {
        RateLimitRuleConfig r = expected("a", 5, 60'000);
        r.scope = {"global"};
        QTest::newRow("scope global alone")
            << QByteArray("[{\"name\":\"a\",\"scope\":[\"global\"],\"limit\":5,\"window\":\"1m\"}]")
            << r;
    }
    {
        RateLimitRuleConfig r = expected("a", 5, 60'000);
        r.methods = {"GET", "HEAD"};
        QTest::newRow("GET adds HEAD")
            << QByteArray("[{\"name\":\"a\",\"methods\":[\"GET\"],\"limit\":5,\"window\":\"1m\"}]")
            << r;
    }
    {
        RateLimitRuleConfig r = expected("a", 5, 60'000);
        r.methods = {"POST", "GET", "HEAD"};
        QTest::newRow("methods upper-cased, deduplicated")
            << QByteArray("[{\"name\":\"a\",\"methods\":[\"post\",\"Get\",\"POST\"],\"limit\":5,"
                          "\"window\":\"1m\"}]")
            << r;
    }
    {
        RateLimitRuleConfig r = expected("a", 5, 60'000);
        r.methods = {"HEAD", "GET"};
        QTest::newRow("HEAD already there")
            << QByteArray("[{\"name\":\"a\",\"methods\":[\"HEAD\",\"GET\"],\"limit\":5,"
                          "\"window\":\"1m\"}]")
            << r;
    }
    {
        RateLimitRuleConfig r = expected("a.b_c-9", 5, 60'000);
        r.route = "/api/v1/{collection}/**";
        QTest::newRow("route with name and rest, name with punctuation")
            << QByteArray("[{\"name\":\"a.b_c-9\",\"route\":\"/api/v1/{collection}/**\","
                          "\"limit\":5,\"window\":\"1m\"}]")
            << r;
    }
    QTest::newRow("name 40 characters")
        << QByteArray("[{\"name\":\"" + QByteArray(40, 'z') + "\",\"limit\":5,\"window\":\"1m\"}]")
        << expected(QString(40, u'z'), 5, 60'000);
    QTest::newRow("name starts with a digit")
        << QByteArray("[{\"name\":\"9a\",\"limit\":5,\"window\":\"1m\"}]")
        << expected("9a", 5, 60'000);
    QTest::newRow("window in seconds")
        << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":90}]") << expected("a", 5, 90'000);
    QTest::newRow("window fraction of a second")
        << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":0.25}]") << expected("a", 5, 250);
    QTest::newRow("window 1ms") << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":\"1ms\"}]")
                                << expected("a", 5, 1);
    QTest::newRow("window 1500ms")
        << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":\"1500ms\"}]")
        << expected("a", 5, 1500);
    QTest::newRow("window 7 days")
        << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":\"168h\"}]")
        << expected("a", 5, 604'800'000);
    QTest::newRow("limit written as 5.0")
        << QByteArray("[{\"name\":\"a\",\"limit\":5.0,\"window\":\"1m\"}]")
        << expected("a", 5, 60'000);
    QTest::newRow("limit maximum")
        << QByteArray("[{\"name\":\"a\",\"limit\":1000000000,\"window\":\"1s\"}]")
        << expected("a", 1'000'000'000, 1000);
    {
        RateLimitRuleConfig r = expected("a", 10'000, 60'000);
        r.algorithm = "sliding_log";
        QTest::newRow("sliding_log limit 10000")
            << QByteArray("[{\"name\":\"a\",\"algorithm\":\"sliding_log\",\"limit\":10000,"
                          "\"window\":\"1m\"}]")
            << r;
    }
    {
        RateLimitRuleConfig r = expected("a", 10, 60'000);
        r.algorithm = "token_bucket";
        r.burst = 20;
        QTest::newRow("token_bucket burst")
            << QByteArray("[{\"name\":\"a\",\"algorithm\":\"token_bucket\",\"limit\":10,"
                          "\"window\":\"1m\",\"burst\":20}]")
            << r;
    }
    {
        RateLimitRuleConfig r = expected("a", 10, 60'000);
        r.algorithm = "gcra";
        r.burst = 3;
        QTest::newRow("gcra burst")
            << QByteArray("[{\"name\":\"a\",\"algorithm\":\"gcra\",\"limit\":10,"
                          "\"window\":\"1m\",\"burst\":3}]")
            << r;
    }
    {
        RateLimitRuleConfig r = expected("a", 5, 60'000);
        r.algorithm = "fixed_window";
        QTest::newRow("burst 0 on fixed_window")
            << QByteArray("[{\"name\":\"a\",\"algorithm\":\"fixed_window\",\"limit\":5,"
                          "\"window\":\"1m\",\"burst\":0}]")
            << r;
    }
    {
        RateLimitRuleConfig r = expected("a", 5, 60'000);
        r.shadow = true;
        r.store = "memory";
        QTest::newRow("shadow, memory store")
            << QByteArray("[{\"name\":\"a\",\"limit\":5,\"window\":\"1m\",\"shadow\":true,"
                          "\"store\":\"memory\"}]")
            << r;
    }
}

void TestRateLimitRules::accepted()
{
    QFETCH(QByteArray, json);
    QFETCH(RateLimitRuleConfig, rule);
    QJsonArray items;
    QString jsonError;
    QVERIFY2(parseJson(json, items, jsonError), qPrintable(jsonError));
    const auto rules = parseRateLimitRules(items);
    QVERIFY2(rules.ok(), qPrintable(rules.ok() ? QString() : rules.error().message));
    QCOMPARE(rules.value().size(), 1);
    const RateLimitRuleConfig &r = rules.value().first();
    QCOMPARE(r.name, rule.name);
    QCOMPARE(r.route, rule.route);
    QCOMPARE(r.methods, rule.methods);
    QCOMPARE(r.scope, rule.scope);
    QCOMPARE(r.algorithm, rule.algorithm);
    QCOMPARE(r.limit, rule.limit);
    QCOMPARE(r.window.count(), rule.window.count());
    QCOMPARE(r.burst, rule.burst);
    QCOMPARE(r.shadow, rule.shadow);
    QCOMPARE(r.store, rule.store);
    QVERIFY(r == rule);
}

void TestRateLimitRules::jsonForm()
{
    // Defaults are left out where the parser would put them back (methods, burst, shadow,
    // store); name, route, scope, algorithm, limit and window are always there.
    RateLimitRuleConfig minimal = expected("a", 5, 60'000);
    QCOMPARE(describe(minimal), QStringLiteral("{\"algorithm\":\"sliding_counter\",\"limit\":5,"
                                               "\"name\":\"a\",\"route\":\"/**\",\"scope\":"
                                               "[\"ip\"],\"window\":\"1m\"}"));
    RateLimitRuleConfig full = expected("b", 10, 1500);
    full.route = "/api/v1/batch";
    full.methods = {"POST"};
    full.scope = {"ip", "user"};
    full.algorithm = "token_bucket";
    full.burst = 20;
    full.shadow = true;
    full.store = "redis";
    QCOMPARE(describe(full),
             QStringLiteral("{\"algorithm\":\"token_bucket\",\"burst\":20,\"limit\":10,"
                            "\"methods\":[\"POST\"],\"name\":\"b\",\"route\":\"/api/v1/batch\","
                            "\"scope\":[\"ip\",\"user\"],\"shadow\":true,\"store\":\"redis\","
                            "\"window\":\"1500ms\"}"));
    // Windows are written in the largest unit that divides them.
    const QList<std::pair<qint64, QString>> windows{
        {1, "1ms"},      {999, "999ms"},     {1000, "1s"},      {90'000, "90s"},
        {120'000, "2m"}, {5'400'000, "90m"}, {7'200'000, "2h"}, {604'800'000, "168h"}};
    for (const auto &[ms, text] : windows) {
        const QJsonArray out = rateLimitRulesToJson({expected("w", 1, ms)});
        QCOMPARE(out.at(0).toObject().value("window").toString(), text);
    }
}

void TestRateLimitRules::roundTrip()
{
    QList<RateLimitRuleConfig> rules = defaultRateLimitRules();
    RateLimitRuleConfig a = expected("tb", 10, 1500);
    a.route = "/api/v1/{collection}/**";
    a.methods = {"PUT", "PATCH", "DELETE"};
    a.scope = {"endpoint", "user", "api_key"};
    a.algorithm = "token_bucket";
    a.burst = 25;
    a.store = "memory";
    rules.append(a);
    RateLimitRuleConfig b = expected("g", 1'000'000'000, 90'000);
    b.scope = {"global"};
    b.algorithm = "gcra";
    b.shadow = true;
    b.store = "redis";
    rules.append(b);
    RateLimitRuleConfig c = expected("fw", 3, 1);
    c.algorithm = "fixed_window";
    c.methods = {"GET", "HEAD"};
    rules.append(c);
    RateLimitRuleConfig d = expected("sl", 10'000, 604'800'000);
    d.algorithm = "sliding_log";
    rules.append(d);

    const QJsonArray json = rateLimitRulesToJson(rules);
    QCOMPARE(json.size(), rules.size());
    const auto back = parseRateLimitRules(json);
    QVERIFY2(back.ok(), qPrintable(back.ok() ? QString() : back.error().message));
    QCOMPARE(back.value().size(), rules.size());
    for (qsizetype i = 0; i < rules.size(); ++i)
        QVERIFY2(back.value().at(i) == rules.at(i),
                 qPrintable(describe(back.value().at(i)) + " != " + describe(rules.at(i))));
    // And the JSON of the parsed rules is the JSON they came from.
    QCOMPARE(rateLimitRulesToJson(back.value()), json);
}

void TestRateLimitRules::defaultsAreTheLoadersDefaults()
{
    const QList<RateLimitRuleConfig> defaults = defaultRateLimitRules();
    QCOMPARE(defaults.size(), 7);
    QStringList names;
    for (const RateLimitRuleConfig &r : defaults)
        names.append(r.name);
    QCOMPARE(names,
             (QStringList{"api", "login", "registration", "batch", "export", "jobs", "admin"}));
    QVERIFY(Config{}.ratelimit.rules == defaults);

    const auto loaded = ConfigLoader::load(ConfigLoader::Sources{});
    QVERIFY2(loaded.ok(), qPrintable(loaded.ok() ? QString() : loaded.error().join('\n')));
    const QList<RateLimitRuleConfig> &rules = loaded.value().ratelimit.rules;
    QCOMPARE(rules.size(), defaults.size());
    for (qsizetype i = 0; i < rules.size(); ++i)
        QVERIFY2(rules.at(i) == defaults.at(i),
                 qPrintable(describe(rules.at(i)) + " != " + describe(defaults.at(i))));
    QVERIFY(rules == Config{}.ratelimit.rules);

    // The key table's default is the JSON form of the same rules.
    bool found = false;
    for (const ConfigKey &key : ConfigLoader::keys()) {
        if (key.path != QStringLiteral("ratelimit.rules"))
            continue;
        found = true;
        QCOMPARE(key.defaultValue.toArray(), rateLimitRulesToJson(defaults));
    }
    QVERIFY(found);
}

QTEST_GUILESS_MAIN(TestRateLimitRules)
#include "tst_ratelimitrules.moc"
