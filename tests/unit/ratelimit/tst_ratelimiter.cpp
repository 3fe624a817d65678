// SPDX-License-Identifier: GPL-3.0-or-later
// RateLimiter with the memory store and a manual clock (which starts on a whole minute, so
// fixed windows of 1 s and 1 m begin at the first request). Requests are HttpRequest values
// with a peer address and headers, and an optional Principal. Covered: a rule allows
// exactly its limit, then refuses with its message, Retry-After and rule (each algorithm),
// and passes again when the time is up; the header values at known instants and the
// switches for both header sets; several rules (all must pass, the binding rule for
// X-RateLimit-*, the order of the walk); method and route filters; every scope (ip with
// IPv6 /64s and X-Forwarded-For through trusted proxies only, user, api_key, global,
// endpoint, a combination); shadow rules; admin and allowlist exemptions; batch requests
// (one per matching operation, the batch itself, more than the capacity); live rule
// replacement; statistics and the most refused keys; Redis rules without Redis; and one
// key checked from four threads at once.
#include "ManualClock.h"
#include "RateLimitRules.h"
#include "RateLimiter.h"

#include <QTest>
#include <atomic>
#include <ctime>
#include <thread>

using namespace bulwark;
using namespace bulwark::test;
using namespace std::chrono_literals;

namespace {

const char *const kPeerA = "203.0.113.7";
const char *const kPeerB = "198.51.100.23";
const char *const kPeerC = "192.0.2.200";

using Headers = QList<std::pair<QByteArray, QByteArray>>;

// A rule as JSON (fixed_window unless `extra` names another algorithm).
QJsonObject rule(const char *name, qint64 limit, const char *window = "1m", QJsonObject extra = {})
{
    extra.insert(QStringLiteral("name"), QString::fromLatin1(name));
    extra.insert(QStringLiteral("limit"), double(limit));
    extra.insert(QStringLiteral("window"), QString::fromLatin1(window));
    if (!extra.contains(QStringLiteral("algorithm")))
        extra.insert(QStringLiteral("algorithm"), QStringLiteral("fixed_window"));
    return extra;
}

// The rules through the parser, as configuration and the admin API give them.
QList<RateLimitRuleConfig> rules(const QList<QJsonObject> &items)
{
    QJsonArray array;
    for (const QJsonObject &o : items)
        array.append(o);
    auto parsed = parseRateLimitRules(array);
    if (!parsed.ok())
        qFatal("bad test rules: %s", qPrintable(parsed.error().message));
    return parsed.value();
}

struct Limiter
{
    explicit Limiter(RateLimiter::Options options = {})
        : limiter(std::move(options), clock, nullptr)
    {
    }
    bool apply(const QList<QJsonObject> &items) { return limiter.setRules(rules(items)).ok(); }

    ManualClock clock;
    RateLimiter limiter;
};

HttpRequest request(const char *method, const QString &path, const char *peer = kPeerA,
                    const Headers &headers = {})
{
    HttpRequest r;
    r.method = method;
    r.path = path;
    r.peer = QHostAddress(QString::fromLatin1(peer));
    r.setHeaders(headers);
    return r;
}

RateLimitVerdict check(RateLimiter &limiter, const HttpRequest &r,
                       const Principal *principal = nullptr,
                       const QList<RateLimitOperation> *operations = nullptr)
{
    return limiter.check(RateLimitQuery{r, principal, operations});
}

// How many of n identical requests pass.
int passes(RateLimiter &limiter, const HttpRequest &r, int n, const Principal *principal = nullptr)
{
    int allowed = 0;
    for (int i = 0; i < n; ++i)
        allowed += check(limiter, r, principal).allowed ? 1 : 0;
    return allowed;
}

// The value of a verdict's header, or a null array.
QByteArray header(const RateLimitVerdict &v, const char *name)
{
    for (const auto &[n, value] : v.headers())
        if (n == name)
            return value;
    return {};
}

QByteArrayList headerNames(const RateLimitVerdict &v)
{
    QByteArrayList names;
    for (const auto &[n, value] : v.headers())
        names.append(n);
    return names;
}

const RateLimiter::RuleStats *statsOf(const QList<RateLimiter::RuleStats> &all, const char *name)
{
    for (const RateLimiter::RuleStats &s : all)
        if (s.name == QLatin1String(name))
            return &s;
    return nullptr;
}

const QByteArrayList kAllHeaders{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
                                 "RateLimit-Policy", "RateLimit"};

} // namespace

class TestRateLimiter : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void algorithmNamesFollowTheEnum();
    void noRulesNoHeaders();
    void allowsLimitThenRefuses_data();
    void allowsLimitThenRefuses();
    void headerValues_data();
    void headerValues();
    void policyWithoutWholeSeconds();
    void burstIsTheLegacyLimit();
    void headerSwitches_data();
    void headerSwitches();
    void manyRulesInTheStandardHeaders();
    void severalRulesBindingRule_data();
    void severalRulesBindingRule();
    void allRulesMustPass();
    void methodAndRouteFilter();
    void scopeIp();
    void scopeIpv6Per64();
    void forwardedForOnlyThroughTrustedProxies();
    void scopeUser();
    void scopeApiKey();
    void scopeGlobal();
    void scopeEndpoint();
    void scopeCombination();
    void shadowRule();
    void exemptAdmins();
    void allowlist();
    void batchCountsOperations();
    void batchRuleMatchingBatchAndOperations();
    void batchAboveCapacity();
    void batchWithEndpointScope();
    void setRulesKeepsOrResets();
    void setRulesWithoutRedisFails();
    void stats();
    void topLimited();
    void windowPasses();
    void concurrentChecksOnOneKey();
};

void TestRateLimiter::algorithmNamesFollowTheEnum()
{
    // RateLimitRules lists the names "in its enum's order".
    const QStringList &names = rateLimitAlgorithmNames();
    QCOMPARE(names.size(), 5);
    for (int i = 0; i < names.size(); ++i) {
        QVERIFY(rateAlgorithmFromName(names.at(i)) == std::optional(RateAlgorithm(i)));
        QCOMPARE(rateAlgorithmName(RateAlgorithm(i)), names.at(i));
    }
}

void TestRateLimiter::noRulesNoHeaders()
{
    Limiter l;
    const RateLimitVerdict v = check(l.limiter, request("GET", "/api/v1/items"));
    QVERIFY(v.allowed);
    QVERIFY(v.headers().isEmpty());
    QVERIFY(l.apply({}));
    QCOMPARE(passes(l.limiter, request("GET", "/"), 100), 100);
    QCOMPARE(l.limiter.memoryKeys(), 0);
}

void TestRateLimiter::allowsLimitThenRefuses_data()
{
    QTest::addColumn<QString>("algorithm");
    QTest::addColumn<int>("retry"); // seconds after five requests at one instant

    QTest::newRow("fixed_window") << "fixed_window" << 60;
    QTest::newRow("sliding_log") << "sliding_log" << 60;
    // The next window, once the previous one's weight 5 * (60 - e) / 60 is at most 4.
    QTest::newRow("sliding_counter") << "sliding_counter" << 72;
    QTest::newRow("token_bucket") << "token_bucket" << 12; // one token per 12 s
    QTest::newRow("gcra") << "gcra" << 12;
}

void TestRateLimiter::allowsLimitThenRefuses()
{
    QFETCH(QString, algorithm);
    QFETCH(int, retry);
    Limiter l;
    QVERIFY(l.apply({rule("login", 5, "1m",
                          {{"route", "/api/v1/auth/login"},
                           {"methods", QJsonArray{"POST"}},
                           {"algorithm", algorithm}})}));
    const HttpRequest login = request("POST", "/api/v1/auth/login");
    for (int i = 0; i < 5; ++i) {
        const RateLimitVerdict v = check(l.limiter, login);
        QVERIFY2(v.allowed, qPrintable(QString::number(i)));
        QVERIFY(v.message.isEmpty());
        QCOMPARE(header(v, "X-RateLimit-Remaining"), QByteArray::number(4 - i));
    }
    for (int i = 0; i < 2; ++i) { // a refused request consumes nothing
        const RateLimitVerdict refused = check(l.limiter, login);
        QVERIFY(!refused.allowed);
        QCOMPARE(refused.rule, QStringLiteral("login"));
        QCOMPARE(refused.route, QStringLiteral("/api/v1/auth/login"));
        QCOMPARE(refused.retryAfterSeconds, retry);
        QCOMPARE(refused.message, QStringLiteral("rate limit exceeded: rule \"login\" allows 5 "
                                                 "requests per 1m per ip; retry in %1 s")
                                      .arg(retry));
        QCOMPARE(header(refused, "X-RateLimit-Limit"), QByteArray("5"));
        QCOMPARE(header(refused, "X-RateLimit-Remaining"), QByteArray("0"));
    }
    l.clock.advance(std::chrono::seconds(retry - 1));
    QVERIFY(!check(l.limiter, login).allowed);
    l.clock.advance(1s);
    QVERIFY(check(l.limiter, login).allowed);

    const auto s = l.limiter.stats();
    QCOMPARE(s.size(), 1);
    QCOMPARE(s.first().name, QStringLiteral("login"));
    QCOMPARE(s.first().allowed, 6u);
    QCOMPARE(s.first().limited, 3u);
    QCOMPARE(s.first().shadowLimited, 0u);
    QCOMPARE(s.first().storeErrors, 0u);
}

void TestRateLimiter::headerValues_data()
{
    QTest::addColumn<QString>("algorithm");
    // remaining and seconds to a full budget after the first request, and after a second
    // one 15 s later
    QTest::addColumn<int>("r1");
    QTest::addColumn<int>("t1");
    QTest::addColumn<int>("r2");
    QTest::addColumn<int>("t2");

    QTest::newRow("fixed_window") << "fixed_window" << 4 << 60 << 3 << 45;
    QTest::newRow("sliding_log") << "sliding_log" << 4 << 60 << 3 << 60;
    // Full again once the current window has become the previous one and passed too.
    QTest::newRow("sliding_counter") << "sliding_counter" << 4 << 120 << 3 << 105;
    // One token per 12 s: 15 s later the bucket was full again.
    QTest::newRow("token_bucket") << "token_bucket" << 4 << 12 << 4 << 12;
    QTest::newRow("gcra") << "gcra" << 4 << 12 << 4 << 12;
}

void TestRateLimiter::headerValues()
{
    QFETCH(QString, algorithm);
    QFETCH(int, r1);
    QFETCH(int, t1);
    QFETCH(int, r2);
    QFETCH(int, t2);
    Limiter l;
    QVERIFY(l.apply({rule("login", 5, "1m", {{"algorithm", algorithm}})}));
    const HttpRequest r = request("POST", "/api/v1/auth/login");

    for (const auto &[remaining, reset] : {std::pair{r1, t1}, std::pair{r2, t2}}) {
        const qint64 before = qint64(std::time(nullptr));
        const RateLimitVerdict v = check(l.limiter, r);
        const qint64 after = qint64(std::time(nullptr));
        QVERIFY(v.allowed);
        QCOMPARE(headerNames(v), kAllHeaders);
        QCOMPARE(header(v, "X-RateLimit-Limit"), QByteArray("5"));
        QCOMPARE(header(v, "X-RateLimit-Remaining"), QByteArray::number(remaining));
        const qint64 unixReset = header(v, "X-RateLimit-Reset").toLongLong();
        QVERIFY2(unixReset >= before + reset && unixReset <= after + reset,
                 qPrintable(QStringLiteral("%1 not in [%2, %3]")
                                .arg(unixReset)
                                .arg(before + reset)
                                .arg(after + reset)));
        QCOMPARE(header(v, "RateLimit-Policy"), QByteArray("\"login\";q=5;w=60"));
        QCOMPARE(header(v, "RateLimit"), "\"login\";r=" + QByteArray::number(remaining) +
                                             ";t=" + QByteArray::number(reset));
        l.clock.advance(15s);
    }
}

void TestRateLimiter::policyWithoutWholeSeconds()
{
    // A window that is not whole seconds has no w; t is rounded up.
    Limiter l;
    QVERIFY(l.apply({rule("fast", 3, "1500ms")}));
    const RateLimitVerdict v = check(l.limiter, request("GET", "/"));
    QCOMPARE(header(v, "RateLimit-Policy"), QByteArray("\"fast\";q=3"));
    // The clock starts at 3600 s, a multiple of 1.5 s: the window ends 1.5 s later.
    QCOMPARE(header(v, "RateLimit"), QByteArray("\"fast\";r=2;t=2"));
}

void TestRateLimiter::burstIsTheLegacyLimit()
{
    // A token bucket with a burst above its rate: X-RateLimit-Limit is what Remaining
    // counts down from (the burst), never below Remaining.
    Limiter l;
    QVERIFY(l.apply({rule("tb", 10, "1m", {{"algorithm", "token_bucket"}, {"burst", 20}})}));
    const RateLimitVerdict v = check(l.limiter, request("GET", "/"));
    QVERIFY(v.allowed);
    QCOMPARE(header(v, "X-RateLimit-Remaining"), QByteArray("19"));
    QCOMPARE(header(v, "X-RateLimit-Limit"), QByteArray("20"));
    QCOMPARE(passes(l.limiter, request("GET", "/"), 25), 19);
}

void TestRateLimiter::headerSwitches_data()
{
    QTest::addColumn<bool>("legacy");
    QTest::addColumn<bool>("standard");
    QTest::addColumn<QByteArrayList>("names");

    QTest::newRow("both") << true << true << kAllHeaders;
    QTest::newRow("legacy only") << true << false
                                 << QByteArrayList{"X-RateLimit-Limit", "X-RateLimit-Remaining",
                                                   "X-RateLimit-Reset"};
    QTest::newRow("standard only")
        << false << true << QByteArrayList{"RateLimit-Policy", "RateLimit"};
    QTest::newRow("none") << false << false << QByteArrayList{};
}

void TestRateLimiter::headerSwitches()
{
    QFETCH(bool, legacy);
    QFETCH(bool, standard);
    QFETCH(QByteArrayList, names);
    RateLimiter::Options options;
    options.legacyHeaders = legacy;
    options.standardHeaders = standard;
    Limiter l(options);
    QVERIFY(l.apply({rule("a", 1)}));
    const RateLimitVerdict allowed = check(l.limiter, request("GET", "/"));
    QVERIFY(allowed.allowed);
    QCOMPARE(headerNames(allowed), names);
    const RateLimitVerdict refused = check(l.limiter, request("GET", "/"));
    QVERIFY(!refused.allowed);
    QCOMPARE(headerNames(refused), names);
}

void TestRateLimiter::manyRulesInTheStandardHeaders()
{
    // Ten rules with 40-character names are all reported; beyond what fits, both headers
    // stop after the same whole item.
    for (const int count : {10, 16}) {
        Limiter l;
        QList<QJsonObject> items;
        QByteArrayList policies;
        QByteArrayList states;
        for (int i = 0; i < count; ++i) {
            const QByteArray name = QByteArray(38, 'r') + QByteArray::number(10 + i);
            items.append(rule(name.constData(), 60));
            policies.append('"' + name + "\";q=60;w=60");
            states.append('"' + name + "\";r=59;t=60");
        }
        QVERIFY(l.apply(items));
        const RateLimitVerdict v = check(l.limiter, request("GET", "/"));
        QVERIFY(v.allowed);
        const QByteArrayList policy = header(v, "RateLimit-Policy").split(',');
        const QByteArrayList state = header(v, "RateLimit").split(',');
        QCOMPARE(policy.size(), state.size());
        if (count == 10)
            QCOMPARE(state.size(), 10);
        QVERIFY(state.size() >= 10);
        QVERIFY(state.size() <= count);
        for (qsizetype i = 0; i < state.size(); ++i) {
            QCOMPARE(policy.at(i).trimmed(), policies.at(i));
            QCOMPARE(state.at(i).trimmed(), states.at(i));
        }
    }
}

void TestRateLimiter::severalRulesBindingRule_data()
{
    QTest::addColumn<bool>("smallFirst");
    QTest::newRow("small rule first") << true;
    QTest::newRow("small rule last") << false;
}

void TestRateLimiter::severalRulesBindingRule()
{
    QFETCH(bool, smallFirst);
    Limiter l;
    const QJsonObject small = rule("small", 2);
    const QJsonObject large = rule("large", 5);
    QVERIFY(l.apply(smallFirst ? QList{small, large} : QList{large, small}));
    const HttpRequest r = request("GET", "/api/v1/items");
    const QByteArray smallPolicy = "\"small\";q=2;w=60";
    const QByteArray largePolicy = "\"large\";q=5;w=60";

    RateLimitVerdict v = check(l.limiter, r);
    QVERIFY(v.allowed);
    // X-RateLimit-* describe the rule with the fewest requests left, wherever it is.
    QCOMPARE(header(v, "X-RateLimit-Limit"), QByteArray("2"));
    QCOMPARE(header(v, "X-RateLimit-Remaining"), QByteArray("1"));
    // The standard headers list every rule, in the rules' order.
    QCOMPARE(header(v, "RateLimit-Policy"),
             smallFirst ? smallPolicy + ", " + largePolicy : largePolicy + ", " + smallPolicy);
    QCOMPARE(header(v, "RateLimit"), smallFirst
                                         ? QByteArray("\"small\";r=1;t=60, \"large\";r=4;t=60")
                                         : QByteArray("\"large\";r=4;t=60, \"small\";r=1;t=60"));
    v = check(l.limiter, r);
    QVERIFY(v.allowed);
    QCOMPARE(header(v, "X-RateLimit-Remaining"), QByteArray("0"));
    v = check(l.limiter, r);
    QVERIFY(!v.allowed);
    QCOMPARE(v.rule, QStringLiteral("small"));
    QCOMPARE(header(v, "X-RateLimit-Limit"), QByteArray("2"));
    QCOMPARE(header(v, "X-RateLimit-Remaining"), QByteArray("0"));

    // The walk stops at the refusal: a rule before the refusing one has counted the
    // request, a rule after it has not.
    const auto stats = l.limiter.stats();
    QCOMPARE(statsOf(stats, "small")->allowed, 2u);
    QCOMPARE(statsOf(stats, "small")->limited, 1u);
    QCOMPARE(statsOf(stats, "large")->allowed, smallFirst ? 2u : 3u);
    QCOMPARE(statsOf(stats, "large")->limited, 0u);
}

void TestRateLimiter::allRulesMustPass()
{
    // 2 per second and 3 per minute: the second rule refuses first, then the minute rule.
    Limiter l;
    QVERIFY(l.apply({rule("second", 2, "1s"), rule("minute", 3, "1m")}));
    const HttpRequest r = request("GET", "/");
    QCOMPARE(passes(l.limiter, r, 2), 2);
    RateLimitVerdict v = check(l.limiter, r);
    QVERIFY(!v.allowed);
    QCOMPARE(v.rule, QStringLiteral("second"));
    QCOMPARE(v.retryAfterSeconds, 1);
    l.clock.advance(1s);
    v = check(l.limiter, r); // second: 1 left; minute: 0 left
    QVERIFY(v.allowed);
    QCOMPARE(header(v, "X-RateLimit-Limit"), QByteArray("3"));
    QCOMPARE(header(v, "X-RateLimit-Remaining"), QByteArray("0"));
    QCOMPARE(header(v, "RateLimit"), QByteArray("\"second\";r=1;t=1, \"minute\";r=0;t=59"));
    v = check(l.limiter, r);
    QVERIFY(!v.allowed);
    QCOMPARE(v.rule, QStringLiteral("minute"));
    QCOMPARE(v.retryAfterSeconds, 59);
    QCOMPARE(header(v, "X-RateLimit-Limit"), QByteArray("3"));
    l.clock.advance(1s); // the second rule would pass again, the minute rule not
    QVERIFY(!check(l.limiter, r).allowed);
}

void TestRateLimiter::methodAndRouteFilter()
{
    Limiter l;
    QVERIFY(l.apply(
        {rule("post", 1, "1m", {{"route", "/api/v1/items"}, {"methods", QJsonArray{"POST"}}}),
         rule("get", 1, "1m", {{"route", "/api/v1/reports/**"}, {"methods", QJsonArray{"GET"}}})}));
    // Neither method nor route of another rule counts against it.
    for (int i = 0; i < 3; ++i) {
        const RateLimitVerdict v = check(l.limiter, request("GET", "/api/v1/items"));
        QVERIFY(v.allowed);
        QVERIFY(v.headers().isEmpty());
        QVERIFY(check(l.limiter, request("DELETE", "/api/v1/items")).allowed);
        QVERIFY(check(l.limiter, request("POST", "/api/v1/items/1")).allowed);
        QVERIFY(check(l.limiter, request("GET", "/api/v1/reportsx")).allowed);
    }
    QVERIFY(check(l.limiter, request("POST", "/api/v1/items")).allowed);
    QVERIFY(!check(l.limiter, request("POST", "/api/v1/items")).allowed);
    // GET in a rule counts HEAD too (the parser adds it).
    QVERIFY(check(l.limiter, request("GET", "/api/v1/reports/weekly")).allowed);
    const RateLimitVerdict head = check(l.limiter, request("HEAD", "/api/v1/reports"));
    QVERIFY(!head.allowed);
    QCOMPARE(head.rule, QStringLiteral("get"));
    QCOMPARE(head.route, QStringLiteral("/api/v1/reports/**"));
    QVERIFY(check(l.limiter, request("POST", "/api/v1/reports/weekly")).allowed);
}

void TestRateLimiter::scopeIp()
{
    Limiter l;
    QVERIFY(l.apply({rule("ip", 2, "1m", {{"scope", "ip"}})}));
    QCOMPARE(passes(l.limiter, request("GET", "/", kPeerA), 3), 2);
    QCOMPARE(passes(l.limiter, request("GET", "/", kPeerB), 3), 2);
    // An IPv4-mapped IPv6 peer (a dual-stack socket) is the same client.
    QCOMPARE(passes(l.limiter, request("GET", "/", "::ffff:203.0.113.7"), 1), 0);
    const auto top = l.limiter.topLimited(10);
    QCOMPARE(top.size(), 2);
    QCOMPARE(top.at(0).key, QByteArray("ip|i203.0.113.7"));
    QCOMPARE(top.at(0).count, 2u);
    QCOMPARE(top.at(1).key, QByteArray("ip|i198.51.100.23"));
    QCOMPARE(top.at(1).count, 1u);
}

void TestRateLimiter::scopeIpv6Per64()
{
    Limiter l;
    QVERIFY(l.apply({rule("v6", 2)}));
    QVERIFY(check(l.limiter, request("GET", "/", "2001:db8:1:2::1")).allowed);
    QVERIFY(check(l.limiter, request("GET", "/", "2001:db8:1:2:ffff:ffff:ffff:fffe")).allowed);
    const RateLimitVerdict refused = check(l.limiter, request("GET", "/", "2001:db8:1:2:abcd::9"));
    QVERIFY(!refused.allowed); // one /64, one counter
    QVERIFY(check(l.limiter, request("GET", "/", "2001:db8:1:3::1")).allowed); // the next /64
    QVERIFY(check(l.limiter, request("GET", "/", "2001:db8:1:3::2")).allowed);
    QVERIFY(!check(l.limiter, request("GET", "/", "2001:db8:1:3::3")).allowed);
    QCOMPARE(l.limiter.topLimited(1).value(0).key, QByteArray("v6|i2001:db8:1:2::/64"));
}

void TestRateLimiter::forwardedForOnlyThroughTrustedProxies()
{
    RateLimiter::Options options;
    options.trustedProxies = CidrSet::parse({"10.0.0.0/8"}).value();
    Limiter l(options);
    QVERIFY(l.apply({rule("xff", 1)}));
    auto via = [](const char *peer, const QByteArray &xff) {
        return request("GET", "/", peer, {{"X-Forwarded-For", xff}});
    };
    // Through a trusted proxy: the forwarded client counts, whichever proxy it came through.
    QVERIFY(check(l.limiter, via("10.0.0.1", "198.51.100.1")).allowed);
    QVERIFY(!check(l.limiter, via("10.0.0.2", "198.51.100.1")).allowed);
    QVERIFY(!check(l.limiter, via("10.0.0.2", "203.0.113.99, 198.51.100.1")).allowed);
    QVERIFY(check(l.limiter, via("10.0.0.1", "198.51.100.2")).allowed);
    // Several header lines are one list.
    QVERIFY(!check(l.limiter,
                   request("GET", "/", "10.0.0.3",
                           {{"X-Forwarded-For", "198.51.100.2"}, {"x-forwarded-for", "10.0.0.7"}}))
                 .allowed);
    // From any other peer the header is ignored: the peer counts.
    QVERIFY(check(l.limiter, via("192.0.2.1", "198.51.100.3")).allowed);
    QVERIFY(!check(l.limiter, via("192.0.2.1", "198.51.100.4")).allowed);
    QVERIFY(check(l.limiter, via("192.0.2.2", "198.51.100.1")).allowed);
    QList<QByteArray> keys;
    for (const LimitedKeys::Entry &e : l.limiter.topLimited(10))
        keys.append(e.key);
    QCOMPARE(keys, (QList<QByteArray>{"xff|i198.51.100.1", "xff|i192.0.2.1", "xff|i198.51.100.2"}));

    // Without trusted proxies nobody's header counts.
    Limiter plain;
    QVERIFY(plain.apply({rule("xff", 1)}));
    QVERIFY(check(plain.limiter, via("10.0.0.1", "198.51.100.1")).allowed);
    QVERIFY(!check(plain.limiter, via("10.0.0.1", "198.51.100.2")).allowed);
}

void TestRateLimiter::scopeUser()
{
    Limiter l;
    QVERIFY(l.apply({rule("user", 1, "1m", {{"scope", "user"}})}));
    const Principal u1{1, false, 0};
    const Principal u2{2, false, 0};
    const Principal u1Key{1, false, 77}; // the same user with an API key
    QVERIFY(check(l.limiter, request("GET", "/", kPeerA), &u1).allowed);
    QVERIFY(!check(l.limiter, request("GET", "/", kPeerB), &u1).allowed); // any address
    QVERIFY(!check(l.limiter, request("GET", "/", kPeerB), &u1Key).allowed);
    QVERIFY(check(l.limiter, request("GET", "/", kPeerA), &u2).allowed);
    // Without a principal the address counts, apart from any user's counter.
    QVERIFY(check(l.limiter, request("GET", "/", kPeerA)).allowed);
    QVERIFY(!check(l.limiter, request("GET", "/", kPeerA)).allowed);
    QVERIFY(check(l.limiter, request("GET", "/", kPeerB)).allowed);
    QList<QByteArray> keys;
    for (const LimitedKeys::Entry &e : l.limiter.topLimited(10))
        keys.append(e.key);
    QCOMPARE(keys, (QList<QByteArray>{"user|u1", "user|i203.0.113.7"}));
}

void TestRateLimiter::scopeApiKey()
{
    Limiter l;
    QVERIFY(l.apply({rule("key", 1, "1m", {{"scope", "api_key"}})}));
    const Principal key7{1, false, 7};
    const Principal key8{1, false, 8};    // same user, another key
    const Principal session{1, false, 0}; // no key: counted by address
    QVERIFY(check(l.limiter, request("GET", "/", kPeerA), &key7).allowed);
    QVERIFY(!check(l.limiter, request("GET", "/", kPeerB), &key7).allowed);
    QVERIFY(check(l.limiter, request("GET", "/", kPeerA), &key8).allowed);
    QVERIFY(check(l.limiter, request("GET", "/", kPeerA), &session).allowed);
    QVERIFY(!check(l.limiter, request("GET", "/", kPeerA)).allowed); // the same address
    QVERIFY(check(l.limiter, request("GET", "/", kPeerB), &session).allowed);
    QList<QByteArray> keys;
    for (const LimitedKeys::Entry &e : l.limiter.topLimited(10))
        keys.append(e.key);
    QCOMPARE(keys, (QList<QByteArray>{"key|i203.0.113.7", "key|k7"}));
}

void TestRateLimiter::scopeGlobal()
{
    Limiter l;
    QVERIFY(l.apply({rule("all", 2, "1m", {{"scope", "global"}})}));
    const Principal u1{1, false, 0};
    QVERIFY(check(l.limiter, request("GET", "/a", kPeerA)).allowed);
    QVERIFY(check(l.limiter, request("POST", "/b", kPeerB), &u1).allowed);
    QVERIFY(!check(l.limiter, request("GET", "/c", kPeerC)).allowed);
    QVERIFY(!check(l.limiter, request("GET", "/", "2001:db8::1"), &u1).allowed);
    QCOMPARE(l.limiter.topLimited(10).size(), 1);
    QCOMPARE(l.limiter.topLimited(10).first().key, QByteArray("all|*"));
    QCOMPARE(l.limiter.topLimited(10).first().count, 2u);
}

void TestRateLimiter::scopeEndpoint()
{
    QList<std::pair<QByteArray, QString>> calls;
    RateLimiter::Options options;
    options.endpoint = [&calls](QByteArrayView method, QStringView path) {
        calls.append({method.toByteArray(), path.toString()});
        return path.startsWith(u"/api/v1/items/") ? QStringLiteral("/api/v1/items/{id}")
                                                  : path.toString();
    };
    Limiter l(options);
    QVERIFY(l.apply({rule("ep", 1, "1m", {{"scope", "endpoint"}})}));
    // One endpoint, whoever calls it.
    QVERIFY(check(l.limiter, request("GET", "/api/v1/items/1", kPeerA)).allowed);
    QCOMPARE(calls.size(), 1);
    QCOMPARE(calls.first().first, QByteArray("GET"));
    QCOMPARE(calls.first().second, QStringLiteral("/api/v1/items/1"));
    const RateLimitVerdict refused = check(l.limiter, request("GET", "/api/v1/items/2", kPeerB));
    QVERIFY(!refused.allowed);
    // Another endpoint, or the same pattern with another method, is another counter.
    QVERIFY(check(l.limiter, request("GET", "/api/v1/other", kPeerA)).allowed);
    QVERIFY(check(l.limiter, request("DELETE", "/api/v1/items/1", kPeerA)).allowed);
    QVERIFY(!check(l.limiter, request("DELETE", "/api/v1/items/3", kPeerC)).allowed);
    QList<QByteArray> keys;
    for (const LimitedKeys::Entry &e : l.limiter.topLimited(10))
        keys.append(e.key);
    QCOMPARE(keys,
             (QList<QByteArray>{"ep|eDELETE /api/v1/items/{id}", "ep|eGET /api/v1/items/{id}"}));

    // Without the router's lambda the path is the endpoint.
    Limiter plain;
    QVERIFY(plain.apply({rule("ep", 1, "1m", {{"scope", "endpoint"}})}));
    QVERIFY(check(plain.limiter, request("GET", "/api/v1/items/1", kPeerA)).allowed);
    QVERIFY(check(plain.limiter, request("GET", "/api/v1/items/2", kPeerA)).allowed);
    QVERIFY(!check(plain.limiter, request("GET", "/api/v1/items/2", kPeerB)).allowed);
}

void TestRateLimiter::scopeCombination()
{
    Limiter l;
    QVERIFY(l.apply({rule("both", 1, "1m", {{"scope", QJsonArray{"user", "ip"}}})}));
    const Principal u1{1, false, 0};
    const Principal u2{2, false, 0};
    QVERIFY(check(l.limiter, request("GET", "/", kPeerA), &u1).allowed);
    QVERIFY(!check(l.limiter, request("GET", "/", kPeerA), &u1).allowed);
    QVERIFY(check(l.limiter, request("GET", "/", kPeerB), &u1).allowed);
    QVERIFY(check(l.limiter, request("GET", "/", kPeerA), &u2).allowed);
    QCOMPARE(l.limiter.topLimited(1).value(0).key, QByteArray("both|i203.0.113.7|u1"));
}

void TestRateLimiter::shadowRule()
{
    Limiter l;
    QVERIFY(l.apply({rule("shadow", 2, "1m", {{"shadow", true}})}));
    for (int i = 0; i < 5; ++i) {
        const RateLimitVerdict v = check(l.limiter, request("GET", "/"));
        QVERIFY(v.allowed);
        QVERIFY(v.headers().isEmpty());
        QVERIFY(v.message.isEmpty());
    }
    auto s = l.limiter.stats();
    QCOMPARE(s.first().allowed, 2u);
    QCOMPARE(s.first().shadowLimited, 3u);
    QCOMPARE(s.first().limited, 0u);
    QVERIFY(l.limiter.topLimited(10).isEmpty());
    QCOMPARE(l.limiter.totalLimited(), 0u);

    // Next to an enforcing rule: only the enforcing one appears in the headers and refuses.
    Limiter both;
    QVERIFY(both.apply({rule("shadow", 1, "1m", {{"shadow", true}}), rule("real", 3)}));
    for (int i = 0; i < 3; ++i) {
        const RateLimitVerdict v = check(both.limiter, request("GET", "/"));
        QVERIFY(v.allowed);
        QCOMPARE(header(v, "RateLimit-Policy"), QByteArray("\"real\";q=3;w=60"));
        QCOMPARE(header(v, "RateLimit"), "\"real\";r=" + QByteArray::number(2 - i) + ";t=60");
        QCOMPARE(header(v, "X-RateLimit-Limit"), QByteArray("3"));
    }
    const RateLimitVerdict refused = check(both.limiter, request("GET", "/"));
    QVERIFY(!refused.allowed);
    QCOMPARE(refused.rule, QStringLiteral("real"));
    s = both.limiter.stats();
    QCOMPARE(statsOf(s, "shadow")->shadowLimited, 3u);
    QCOMPARE(statsOf(s, "real")->limited, 1u);
}

void TestRateLimiter::exemptAdmins()
{
    const Principal admin{1, true, 0};
    const Principal user{2, false, 0};
    {
        Limiter l;
        QVERIFY(l.apply({rule("a", 1, "1m", {{"scope", "user"}})}));
        for (int i = 0; i < 3; ++i) {
            const RateLimitVerdict v = check(l.limiter, request("GET", "/"), &admin);
            QVERIFY(v.allowed);
            QVERIFY(v.headers().isEmpty());
        }
        QCOMPARE(l.limiter.stats().first().allowed, 0u); // not even counted
        QCOMPARE(passes(l.limiter, request("GET", "/"), 2, &user), 1);
    }
    {
        RateLimiter::Options options;
        options.exemptAdmins = false;
        Limiter l(options);
        QVERIFY(l.apply({rule("a", 1, "1m", {{"scope", "user"}})}));
        QVERIFY(check(l.limiter, request("GET", "/"), &admin).allowed);
        const RateLimitVerdict v = check(l.limiter, request("GET", "/"), &admin);
        QVERIFY(!v.allowed);
        QCOMPARE(v.rule, QStringLiteral("a"));
    }
}

void TestRateLimiter::allowlist()
{
    RateLimiter::Options options;
    options.allowlist = CidrSet::parse({"192.0.2.0/24", "2001:db8:aa::/48"}).value();
    options.trustedProxies = CidrSet::parse({"10.0.0.0/8"}).value();
    Limiter l(options);
    QVERIFY(l.apply({rule("a", 1)}));
    for (const char *peer : {"192.0.2.5", "192.0.2.6", "2001:db8:aa:1::5"}) {
        for (int i = 0; i < 3; ++i) {
            const RateLimitVerdict v = check(l.limiter, request("GET", "/", peer));
            QVERIFY2(v.allowed, peer);
            QVERIFY(v.headers().isEmpty());
        }
    }
    QCOMPARE(passes(l.limiter, request("GET", "/", kPeerB), 3), 1);
    QCOMPARE(passes(l.limiter, request("GET", "/", "2001:db8:ab::5"), 3), 1);
    // Through a trusted proxy the forwarded client is what the allowlist sees...
    auto via = [](const char *peer, const QByteArray &xff) {
        return request("GET", "/", peer, {{"X-Forwarded-For", xff}});
    };
    QCOMPARE(passes(l.limiter, via("10.0.0.1", "192.0.2.9"), 3), 3);
    QCOMPARE(passes(l.limiter, via("10.0.0.1", "198.51.100.9"), 3), 1);
    // ...and from an untrusted peer the header is not.
    QCOMPARE(passes(l.limiter, via("198.51.100.50", "192.0.2.9"), 3), 1);
    QCOMPARE(l.limiter.stats().first().allowed, 4u);
}

void TestRateLimiter::batchCountsOperations()
{
    Limiter l;
    QVERIFY(l.apply(
        {rule("activities", 5, "1m",
              {{"route", "/api/v1/activities"}, {"methods", QJsonArray{"POST"}}}),
         rule("batch", 2, "1m", {{"route", "/api/v1/batch"}, {"methods", QJsonArray{"POST"}}})}));
    const HttpRequest batch = request("POST", "/api/v1/batch");
    const RateLimitOperation post{"POST", "/api/v1/activities"};
    const QList<RateLimitOperation> ops{
        post, post, post, {"GET", "/api/v1/activities"}, {"POST", "/api/v1/splits"}};
    // activities: one per matching operation (3); batch: the batch itself (1).
    RateLimitVerdict v = check(l.limiter, batch, nullptr, &ops);
    QVERIFY(v.allowed);
    QCOMPARE(header(v, "RateLimit"), QByteArray("\"activities\";r=2;t=60, \"batch\";r=1;t=60"));
    QCOMPARE(header(v, "X-RateLimit-Remaining"), QByteArray("1"));
    QCOMPARE(header(v, "X-RateLimit-Limit"), QByteArray("2"));
    // Three more do not fit in the two left: refused as a whole, nothing spent.
    v = check(l.limiter, batch, nullptr, &ops);
    QVERIFY(!v.allowed);
    QCOMPARE(v.rule, QStringLiteral("activities"));
    QCOMPARE(v.route, QStringLiteral("/api/v1/activities"));
    QCOMPARE(v.message, QStringLiteral("rate limit exceeded: rule \"activities\" allows 5 "
                                       "requests per 1m per ip; retry in 60 s"));
    const QList<RateLimitOperation> two{post, post};
    v = check(l.limiter, batch, nullptr, &two);
    QVERIFY(v.allowed);
    QCOMPARE(header(v, "RateLimit"), QByteArray("\"activities\";r=0;t=60, \"batch\";r=0;t=60"));
    QVERIFY(!check(l.limiter, request("POST", "/api/v1/activities")).allowed);
    // A batch without operations is only the batch.
    const QList<RateLimitOperation> none;
    v = check(l.limiter, batch, nullptr, &none);
    QVERIFY(!v.allowed);
    QCOMPARE(v.rule, QStringLiteral("batch"));
    const auto s = l.limiter.stats();
    QCOMPARE(statsOf(s, "activities")->allowed, 2u);
    QCOMPARE(statsOf(s, "activities")->limited, 2u);
    QCOMPARE(statsOf(s, "batch")->allowed, 2u);
    QCOMPARE(statsOf(s, "batch")->limited, 1u);
}

void TestRateLimiter::batchRuleMatchingBatchAndOperations()
{
    // A rule that matches the batch path and its operations counts the operations only.
    Limiter l;
    QVERIFY(l.apply({rule("api", 10, "1m", {{"route", "/api/**"}})}));
    const QList<RateLimitOperation> ops{{"POST", "/api/v1/activities"},
                                        {"GET", "/api/v1/splits/3"},
                                        {"DELETE", "/api/v1/activities/9"}};
    const RateLimitVerdict v = check(l.limiter, request("POST", "/api/v1/batch"), nullptr, &ops);
    QVERIFY(v.allowed);
    QCOMPARE(header(v, "X-RateLimit-Remaining"), QByteArray("7"));
    QCOMPARE(l.limiter.stats().first().allowed, 1u); // one decision
}

void TestRateLimiter::batchAboveCapacity()
{
    Limiter l;
    QVERIFY(l.apply({rule("activities", 5, "1m", {{"route", "/api/v1/activities"}})}));
    const QList<RateLimitOperation> six(6, RateLimitOperation{"POST", "/api/v1/activities"});
    const RateLimitVerdict v = check(l.limiter, request("POST", "/api/v1/batch"), nullptr, &six);
    QVERIFY(!v.allowed);
    QCOMPARE(v.rule, QStringLiteral("activities"));
    QCOMPARE(v.message, QStringLiteral("rule \"activities\" allows 5 requests per 1m per ip; this "
                                       "request counts 6 (one per batch operation) and can never "
                                       "pass: split it"));
    QCOMPARE(v.retryAfterSeconds, 0); // waiting would not help: no Retry-After
    QCOMPARE(v.code, ErrorCode::PayloadTooLarge);
    // Nothing was spent.
    const RateLimitVerdict single = check(l.limiter, request("POST", "/api/v1/activities"));
    QVERIFY(single.allowed);
    QCOMPARE(header(single, "X-RateLimit-Remaining"), QByteArray("4"));
    const QList<RateLimitOperation> four(4, RateLimitOperation{"POST", "/api/v1/activities"});
    QVERIFY(check(l.limiter, request("POST", "/api/v1/batch"), nullptr, &four).allowed);
}

void TestRateLimiter::batchWithEndpointScope()
{
    // Endpoint scope: each operation counts against its own endpoint.
    Limiter l;
    QVERIFY(l.apply({rule("ep", 1, "1m", {{"route", "/api/v1/**"}, {"scope", "endpoint"}})}));
    const HttpRequest batch = request("POST", "/api/v1/batch");
    const QList<RateLimitOperation> ops{{"POST", "/api/v1/activities"}, {"POST", "/api/v1/splits"}};
    QVERIFY(check(l.limiter, batch, nullptr, &ops).allowed);
    const QList<RateLimitOperation> again{{"POST", "/api/v1/activities"}};
    const RateLimitVerdict v = check(l.limiter, batch, nullptr, &again);
    QVERIFY(!v.allowed);
    QCOMPARE(l.limiter.topLimited(1).value(0).key, QByteArray("ep|ePOST /api/v1/activities"));
    QVERIFY(!check(l.limiter, request("POST", "/api/v1/splits")).allowed);
    // The batch endpoint itself was not counted.
    QVERIFY(check(l.limiter, batch).allowed);
}

void TestRateLimiter::setRulesKeepsOrResets()
{
    Limiter l;
    const QList<RateLimitRuleConfig> first = rules({rule("login", 2)});
    QVERIFY(l.limiter.setRules(first).ok());
    QCOMPARE(l.limiter.rules(), first);
    const HttpRequest r = request("POST", "/api/v1/auth/login");
    QCOMPARE(passes(l.limiter, r, 3), 2);

    // The same rule again: counters and statistics carry on.
    QVERIFY(l.limiter.setRules(first).ok());
    QVERIFY(!check(l.limiter, r).allowed);
    QCOMPARE(l.limiter.stats().first().allowed, 2u);
    QCOMPARE(l.limiter.stats().first().limited, 2u);

    // Another route, the same name and limits: still the same counter.
    QVERIFY(l.apply({rule("login", 2, "1m", {{"route", "/api/**"}})}));
    QVERIFY(!check(l.limiter, r).allowed);
    QVERIFY(check(l.limiter, request("GET", "/health")).allowed); // no longer matches

    // A changed limit starts afresh, from the next check on.
    const QList<RateLimitRuleConfig> raised = rules({rule("login", 3)});
    QVERIFY(l.limiter.setRules(raised).ok());
    QCOMPARE(l.limiter.rules(), raised);
    const RateLimitVerdict v = check(l.limiter, r);
    QVERIFY(v.allowed);
    QCOMPARE(header(v, "X-RateLimit-Limit"), QByteArray("3"));
    QCOMPARE(header(v, "X-RateLimit-Remaining"), QByteArray("2"));
    QCOMPARE(passes(l.limiter, r, 3), 2);

    // A changed algorithm with the same numbers starts afresh too.
    QVERIFY(l.apply({rule("login", 3, "1m", {{"algorithm", "sliding_log"}})}));
    QCOMPARE(passes(l.limiter, r, 4), 3);

    // A renamed rule is a new rule.
    QVERIFY(l.apply({rule("signin", 3, "1m", {{"algorithm", "sliding_log"}})}));
    QCOMPARE(passes(l.limiter, r, 4), 3);
    QCOMPARE(l.limiter.stats().size(), 1);
    QCOMPARE(l.limiter.stats().first().name, QStringLiteral("signin"));
    QCOMPARE(l.limiter.stats().first().allowed, 3u);

    // No rules: nothing is limited.
    QVERIFY(l.limiter.setRules({}).ok());
    QCOMPARE(passes(l.limiter, r, 5), 5);
    QVERIFY(l.limiter.stats().isEmpty());
}

void TestRateLimiter::setRulesWithoutRedisFails()
{
    Limiter l;
    const QList<RateLimitRuleConfig> memory = rules({rule("a", 1)});
    QVERIFY(l.limiter.setRules(memory).ok());
    QVERIFY(check(l.limiter, request("GET", "/")).allowed);

    const auto failed =
        l.limiter.setRules(rules({rule("b", 100), rule("a", 100, "1m", {{"store", "redis"}})}));
    QVERIFY(!failed.ok());
    QCOMPARE(failed.error().code, ErrorCode::BadRequest);
    QCOMPARE(failed.error().message,
             QStringLiteral("rule \"a\" keeps its counters in redis, which needs redis.url"));
    // Nothing changed: the old rule, with its counter.
    QCOMPARE(l.limiter.rules(), memory);
    QVERIFY(!l.limiter.usesRedis());
    const RateLimitVerdict v = check(l.limiter, request("GET", "/"));
    QVERIFY(!v.allowed);
    QCOMPARE(v.rule, QStringLiteral("a"));

    // With redis as the default store, a rule without a store needs it too.
    RateLimiter::Options options;
    options.defaultStore = QStringLiteral("redis");
    Limiter redisDefault(options);
    const auto noStore = redisDefault.limiter.setRules(rules({rule("c", 1)}));
    QVERIFY(!noStore.ok());
    QCOMPARE(noStore.error().message,
             QStringLiteral("rule \"c\" keeps its counters in redis, which needs redis.url"));
    QVERIFY(redisDefault.limiter.rules().isEmpty());
    QVERIFY(redisDefault.apply({rule("c", 1, "1m", {{"store", "memory"}})}));
    QCOMPARE(passes(redisDefault.limiter, request("GET", "/"), 2), 1);
}

void TestRateLimiter::stats()
{
    Limiter l;
    QVERIFY(l.apply({rule("shadow", 4, "1m", {{"shadow", true}}), rule("api", 10)}));
    const HttpRequest r = request("GET", "/api/v1/items");
    QCOMPARE(passes(l.limiter, r, 12), 10);
    auto s = l.limiter.stats();
    QCOMPARE(s.size(), 2);
    QCOMPARE(s.at(0).name, QStringLiteral("shadow"));
    QCOMPARE(s.at(1).name, QStringLiteral("api"));
    // shadow: 4 allowed (the 4th with nothing left: near), 8 it would have refused
    QCOMPARE(s.at(0).allowed, 4u);
    QCOMPARE(s.at(0).nearLimit, 1u);
    QCOMPARE(s.at(0).shadowLimited, 8u);
    QCOMPARE(s.at(0).limited, 0u);
    // api: 10 allowed, of which the 8th, 9th and 10th had used 80 % or more
    QCOMPARE(s.at(1).allowed, 10u);
    QCOMPARE(s.at(1).nearLimit, 3u);
    QCOMPARE(s.at(1).limited, 2u);
    QCOMPARE(s.at(1).shadowLimited, 0u);
    QCOMPARE(l.limiter.totalLimited(), 2u);
    QCOMPARE(l.limiter.totalDecisions(), 24u);
    QCOMPARE(l.limiter.memoryKeys(), 2);

    l.limiter.resetStats();
    s = l.limiter.stats();
    for (const RateLimiter::RuleStats &rs : s) {
        QCOMPARE(rs.allowed, 0u);
        QCOMPARE(rs.limited, 0u);
        QCOMPARE(rs.nearLimit, 0u);
        QCOMPARE(rs.shadowLimited, 0u);
    }
    QVERIFY(l.limiter.topLimited(10).isEmpty());
    QCOMPARE(l.limiter.totalDecisions(), 0u);
    // The counters themselves are not reset.
    QVERIFY(!check(l.limiter, r).allowed);
}

void TestRateLimiter::topLimited()
{
    Limiter l;
    QVERIFY(l.apply({rule("api", 1)}));
    QCOMPARE(passes(l.limiter, request("GET", "/", kPeerB), 2), 1); // 1 refused
    QCOMPARE(passes(l.limiter, request("GET", "/", kPeerA), 4), 1); // 3 refused
    QCOMPARE(passes(l.limiter, request("GET", "/", kPeerC), 3), 1); // 2 refused
    const auto top = l.limiter.topLimited(10);
    QCOMPARE(top.size(), 3);
    QCOMPARE(top.at(0).key, QByteArray("api|i203.0.113.7"));
    QCOMPARE(top.at(0).count, 3u);
    QCOMPARE(top.at(0).error, 0u);
    QCOMPARE(top.at(1).key, QByteArray("api|i192.0.2.200"));
    QCOMPARE(top.at(1).count, 2u);
    QCOMPARE(top.at(2).key, QByteArray("api|i198.51.100.23"));
    QCOMPARE(top.at(2).count, 1u);
    QCOMPARE(l.limiter.topLimited(2).size(), 2);
    QCOMPARE(l.limiter.totalLimited(), 6u);
}

void TestRateLimiter::windowPasses()
{
    Limiter l;
    QVERIFY(l.apply({rule("fw", 2, "1m"), rule("sl", 3, "1h", {{"algorithm", "sliding_log"}})}));
    const HttpRequest r = request("GET", "/");
    QCOMPARE(passes(l.limiter, r, 3), 2);
    l.clock.advance(59'999ms);
    QVERIFY(!check(l.limiter, r).allowed);
    l.clock.advance(1ms); // the minute is over
    QVERIFY(check(l.limiter, r).allowed);
    const RateLimitVerdict v = check(l.limiter, r);
    QVERIFY(!v.allowed); // the hour's three are spent now
    QCOMPARE(v.rule, QStringLiteral("sl"));
    QCOMPARE(v.retryAfterSeconds, 3600 - 60);
    l.clock.advance(std::chrono::minutes(59)); // the first two are an hour old
    QCOMPARE(passes(l.limiter, r, 3), 2);
}

void TestRateLimiter::concurrentChecksOnOneKey()
{
    Limiter l;
    QVERIFY(l.apply({rule("shared", 100, "1h")}));
    const HttpRequest r = request("GET", "/api/v1/items");
    std::atomic<int> allowed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 1000; ++i)
                if (check(l.limiter, r).allowed)
                    allowed.fetch_add(1, std::memory_order_relaxed);
        });
    for (std::thread &t : threads)
        t.join();
    QCOMPARE(allowed.load(), 100);
    const auto s = l.limiter.stats();
    QCOMPARE(s.first().allowed, 100u);
    QCOMPARE(s.first().limited, 3900u);
    QCOMPARE(l.limiter.topLimited(1).value(0).count, 3900u);
}

QTEST_GUILESS_MAIN(TestRateLimiter)
#include "tst_ratelimiter.moc"
