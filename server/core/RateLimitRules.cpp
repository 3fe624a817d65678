// SPDX-License-Identifier: GPL-3.0-or-later
// See RateLimitRules.h.
#include "RateLimitRules.h"

#include "ConfigLoader.h"
#include "RoutePattern.h"

#include <QJsonObject>
#include <QRegularExpression>
#include <cmath>

namespace bulwark {

namespace {

constexpr qint64 kMaxLimit = 1'000'000'000;
constexpr qint64 kMaxSlidingLogLimit = 10'000; // it keeps one timestamp per request
constexpr qint64 kMaxWindowMs = 7LL * 24 * 3'600'000;
// The Redis scripts keep nanoseconds exact below 2^50 (RedisRateStore.h); the capacity
// times the emission interval must stay below it whatever store a rule moves to.
constexpr double kMaxSpanNs = double(qint64(1) << 50);

RateLimitRuleConfig rule(const char *name, const char *route, QStringList methods,
                         const char *scope, const char *algorithm, qint64 limit, qint64 windowMs)
{
    RateLimitRuleConfig r;
    r.name = QString::fromLatin1(name);
    r.route = QString::fromLatin1(route);
    r.methods = std::move(methods);
    r.scope = QStringList{QString::fromLatin1(scope)};
    r.algorithm = QString::fromLatin1(algorithm);
    r.limit = limit;
    r.window = Milliseconds(windowMs);
    return r;
}

std::optional<qint64> durationMs(const QJsonValue &v)
{
    if (v.isDouble() && v.toDouble() > 0)
        return qint64(std::llround(v.toDouble() * 1000));
    if (v.isString())
        return ConfigLoader::parseDurationMs(v.toString());
    return std::nullopt;
}

Result<RateLimitRuleConfig> parseRule(const QJsonValue &item)
{
    auto fail = [](const QString &field, const QString &message) {
        return Error{ErrorCode::BadRequest,
                     field.isEmpty() ? message : QStringLiteral(".%1: %2").arg(field, message)};
    };
    if (!item.isObject())
        return fail({}, QStringLiteral(": must be an object with name, limit and window"));
    const QJsonObject o = item.toObject();
    static const QStringList known{"name",  "route", "methods", "scope",  "algorithm",
                                   "limit", "window", "burst",  "shadow", "store"};
    for (auto it = o.begin(); it != o.end(); ++it)
        if (!known.contains(it.key()))
            return fail(it.key(), QStringLiteral("unknown key (%1)").arg(known.join(u", ")));

    RateLimitRuleConfig r;
    static const QRegularExpression namePattern(QStringLiteral("^[a-z0-9][a-z0-9_.-]{0,39}\\z"));
    r.name = o.value(QStringLiteral("name")).toString();
    if (!namePattern.match(r.name).hasMatch())
        return fail(QStringLiteral("name"),
                    QStringLiteral("1 to 40 characters of a-z, 0-9, _, . and -, starting with a "
                                   "letter or digit (it names the rule in headers and metrics)"));
    if (o.contains(QStringLiteral("route"))) {
        r.route = o.value(QStringLiteral("route")).toString();
        if (auto p = RoutePattern::parse(r.route, RoutePattern::Rest::Allowed); !p.ok())
            return fail(QStringLiteral("route"), p.error().message);
    }
    if (o.contains(QStringLiteral("methods"))) {
        const QJsonValue m = o.value(QStringLiteral("methods"));
        if (!m.isArray() || m.toArray().isEmpty())
            return fail(QStringLiteral("methods"),
                        QStringLiteral("must be a non-empty array like [\"POST\"] (leave it "
                                       "out for every method)"));
        static const QRegularExpression token(QStringLiteral("^[A-Z]{1,16}\\z"));
        for (const QJsonValue &v : m.toArray()) {
            const QString method = v.toString().toUpper();
            if (!token.match(method).hasMatch())
                return fail(QStringLiteral("methods"),
                            QStringLiteral("\"%1\" is not an HTTP method").arg(v.toString()));
            if (!r.methods.contains(method))
                r.methods.append(method);
        }
        // HEAD is a GET without the body: a rule on GET counts HEAD too.
        if (r.methods.contains(QStringLiteral("GET")) && !r.methods.contains(QStringLiteral("HEAD")))
            r.methods.append(QStringLiteral("HEAD"));
    }
    if (o.contains(QStringLiteral("scope"))) {
        const QJsonValue s = o.value(QStringLiteral("scope"));
        const QStringList given = s.isString() ? QStringList{s.toString()}
                                  : s.isArray() ? s.toVariant().toStringList()
                                                : QStringList{};
        if (given.isEmpty())
            return fail(QStringLiteral("scope"),
                        QStringLiteral("must be one of %1, or an array of them")
                            .arg(rateLimitScopeNames().join(u", ")));
        for (const QString &g : given)
            if (!rateLimitScopeNames().contains(g))
                return fail(QStringLiteral("scope"),
                            QStringLiteral("\"%1\" is not one of %2")
                                .arg(g, rateLimitScopeNames().join(u", ")));
        if (given.contains(QStringLiteral("global")) && given.size() > 1)
            return fail(QStringLiteral("scope"),
                        QStringLiteral("global is one counter for everybody; it does not "
                                       "combine with other scopes"));
        r.scope.clear();
        for (const QString &name : rateLimitScopeNames()) // canonical order, no duplicates
            if (given.contains(name))
                r.scope.append(name);
    }
    if (o.contains(QStringLiteral("algorithm"))) {
        r.algorithm = o.value(QStringLiteral("algorithm")).toString();
        if (!rateLimitAlgorithmNames().contains(r.algorithm))
            return fail(QStringLiteral("algorithm"),
                        QStringLiteral("must be one of %1")
                            .arg(rateLimitAlgorithmNames().join(u", ")));
    }
    const qint64 maxLimit = r.algorithm == QStringLiteral("sliding_log") ? kMaxSlidingLogLimit
                                                                          : kMaxLimit;
    const QJsonValue limit = o.value(QStringLiteral("limit"));
    if (!limit.isDouble() || limit.toDouble() != std::floor(limit.toDouble()) ||
        limit.toDouble() < 1 || limit.toDouble() > double(maxLimit))
        return fail(QStringLiteral("limit"),
                    QStringLiteral("must be an integer from 1 to %1%2")
                        .arg(maxLimit)
                        .arg(r.algorithm == QStringLiteral("sliding_log")
                                 ? QStringLiteral(" for sliding_log (it keeps every request's "
                                                  "time)")
                                 : QString()));
    r.limit = qint64(limit.toDouble());
    const auto window = durationMs(o.value(QStringLiteral("window")));
    if (!window || *window < 1 || *window > kMaxWindowMs)
        return fail(QStringLiteral("window"),
                    QStringLiteral("must be a duration from 1ms to 7 days, like \"1m\" or \"1h\""));
    r.window = Milliseconds(*window);
    if (o.contains(QStringLiteral("burst"))) {
        const QJsonValue b = o.value(QStringLiteral("burst"));
        if (!b.isDouble() || b.toDouble() != std::floor(b.toDouble()) || b.toDouble() < 0 ||
            b.toDouble() > double(kMaxLimit))
            return fail(QStringLiteral("burst"),
                        QStringLiteral("must be an integer from 0 (the limit) to %1").arg(kMaxLimit));
        r.burst = qint64(b.toDouble());
        if (r.burst > 0 && r.algorithm != QStringLiteral("token_bucket") &&
            r.algorithm != QStringLiteral("gcra"))
            return fail(QStringLiteral("burst"),
                        QStringLiteral("only token_bucket and gcra have a burst; %1 allows "
                                       "`limit` per window")
                            .arg(r.algorithm));
    }
    const double interval = std::ceil(double(r.window.count()) * 1e6 / double(r.limit));
    if (double(r.burst > 0 ? r.burst : r.limit) * interval >= kMaxSpanNs)
        return fail(QStringLiteral("burst"),
                    QStringLiteral("a burst of %1 at %2 per %3 takes longer than 13 days to "
                                   "refill; lower it")
                        .arg(r.burst)
                        .arg(r.limit)
                        .arg(rateLimitWindowText(r.window)));
    if (o.contains(QStringLiteral("shadow"))) {
        if (!o.value(QStringLiteral("shadow")).isBool())
            return fail(QStringLiteral("shadow"), QStringLiteral("must be true or false"));
        r.shadow = o.value(QStringLiteral("shadow")).toBool();
    }
    if (o.contains(QStringLiteral("store"))) {
        r.store = o.value(QStringLiteral("store")).toString();
        if (r.store != QStringLiteral("memory") && r.store != QStringLiteral("redis"))
            return fail(QStringLiteral("store"), QStringLiteral("must be memory or redis"));
    }
    return r;
}

} // namespace

const QStringList &rateLimitAlgorithmNames()
{
    static const QStringList names{"token_bucket", "sliding_log", "sliding_counter",
                                   "fixed_window", "gcra"};
    return names;
}

const QStringList &rateLimitScopeNames()
{
    static const QStringList names{"global", "endpoint", "ip", "user", "api_key"};
    return names;
}

QList<RateLimitRuleConfig> defaultRateLimitRules()
{
    const QStringList post{QStringLiteral("POST")};
    return {
        rule("api", "/api/**", {}, "user", "sliding_counter", 60, 60'000),
        rule("login", "/api/v1/auth/login", post, "ip", "sliding_log", 5, 3'600'000),
        rule("registration", "/api/v1/auth/register", post, "ip", "sliding_log", 3, 3'600'000),
        rule("batch", "/api/v1/batch", post, "user", "sliding_log", 10, 3'600'000),
        // Every method: GET exports inline, POST queues a gdpr.export job.
        rule("export", "/api/v1/me/export", {}, "user", "sliding_log", 10, 3'600'000),
        // Jobs users submit themselves (an export through POST /api/v1/jobs among them):
        // each can be heavy work and leave a file behind.
        rule("jobs", "/api/v1/jobs", post, "user", "sliding_log", 10, 3'600'000),
        rule("admin", "/admin/api/**", {}, "ip", "sliding_counter", 50, 60'000),
    };
}

Result<QList<RateLimitRuleConfig>> parseRateLimitRules(const QJsonArray &items)
{
    QList<RateLimitRuleConfig> rules;
    for (qsizetype i = 0; i < items.size(); ++i) {
        auto r = parseRule(items.at(i));
        if (!r.ok())
            return Error{ErrorCode::BadRequest,
                         QStringLiteral("[%1]%2").arg(i).arg(r.error().message)};
        for (const RateLimitRuleConfig &earlier : rules)
            if (earlier.name == r.value().name)
                return Error{ErrorCode::BadRequest,
                             QStringLiteral("[%1].name: \"%2\" is already the name of another "
                                            "rule")
                                 .arg(i)
                                 .arg(earlier.name)};
        rules.append(r.value());
    }
    return rules;
}

QString rateLimitWindowText(Milliseconds window)
{
    const qint64 ms = window.count();
    if (ms % 3'600'000 == 0)
        return QStringLiteral("%1h").arg(ms / 3'600'000);
    if (ms % 60'000 == 0)
        return QStringLiteral("%1m").arg(ms / 60'000);
    if (ms % 1000 == 0)
        return QStringLiteral("%1s").arg(ms / 1000);
    return QStringLiteral("%1ms").arg(ms);
}

QJsonArray rateLimitRulesToJson(const QList<RateLimitRuleConfig> &rules)
{
    QJsonArray out;
    for (const RateLimitRuleConfig &r : rules) {
        QJsonObject o{{QStringLiteral("name"), r.name},
                      {QStringLiteral("route"), r.route},
                      {QStringLiteral("scope"), QJsonArray::fromStringList(r.scope)},
                      {QStringLiteral("algorithm"), r.algorithm},
                      {QStringLiteral("limit"), double(r.limit)},
                      {QStringLiteral("window"), rateLimitWindowText(r.window)}};
        if (!r.methods.isEmpty())
            o.insert(QStringLiteral("methods"), QJsonArray::fromStringList(r.methods));
        if (r.burst > 0)
            o.insert(QStringLiteral("burst"), double(r.burst));
        if (r.shadow)
            o.insert(QStringLiteral("shadow"), true);
        if (!r.store.isEmpty())
            o.insert(QStringLiteral("store"), r.store);
        out.append(o);
    }
    return out;
}

} // namespace bulwark
