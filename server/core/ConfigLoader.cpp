// SPDX-License-Identifier: GPL-3.0-or-later
// See ConfigLoader.h for the layering and the one-table design.
#include "ConfigLoader.h"

#include "ClientAddress.h"
#include "CronSchedule.h"
#include "EventNames.h"
#include "JsonSourceMap.h"
#include "RateLimitRules.h"
#include "RedisEndpoint.h"
#include "RoutePattern.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QUrl>
#include <algorithm>
#include <cmath>

namespace bulwark {

namespace {

using Kind = ConfigKey::Kind;
constexpr double kMaxInt = 2147483647.0;

constexpr double kSecondMs = 1000;
constexpr double kMinuteMs = 60 * kSecondMs;
constexpr double kHourMs = 60 * kMinuteMs;
constexpr double kDayMs = 24 * kHourMs;

// Bounds a jobs.* key shares with the jobs.types field that overrides it for one type.
struct Bounds
{
    double min;
    double max;
};
constexpr Bounds kMaxAttempts{1, 100};
constexpr Bounds kBackoffBase{0, kDayMs};
constexpr Bounds kBackoffMax{0, 7 * kDayMs};
constexpr Bounds kBackoffMultiplier{1, 10};
constexpr Bounds kBackoffJitter{0, 1};
constexpr Bounds kJobTimeout{kSecondMs, 7 * kDayMs};

std::optional<QJsonValue> normalise(const ConfigKey &key, const QJsonValue &v, QString *error);

QString kindName(Kind kind)
{
    switch (kind) {
    case Kind::String: return QStringLiteral("a string");
    case Kind::Bool: return QStringLiteral("true or false");
    case Kind::Integer: return QStringLiteral("an integer");
    case Kind::Real: return QStringLiteral("a number");
    case Kind::Size: return QStringLiteral("a size (bytes, or a string like \"10MiB\")");
    case Kind::Duration:
        return QStringLiteral("a duration (seconds, or a string like \"10s\" or \"250ms\")");
    case Kind::Enum: return QStringLiteral("one of the listed values");
    case Kind::Listen: return QStringLiteral("an ADDRESS:PORT string");
    case Kind::List: return QStringLiteral("a JSON array");
    }
    return {};
}

QString formatBound(Kind kind, double v)
{
    if (kind == Kind::Duration)
        return QStringLiteral("%1ms").arg(qint64(v));
    if (kind == Kind::Size)
        return QStringLiteral("%1 bytes").arg(qint64(v));
    return QString::number(v, 'g', 16);
}

// cache.routes: [{"route": "/api/v1/{collection}", "ttl": "5m", "vary": ["query",
// "user", "header:accept-language"]}, ...]. Fills `out` when given; returns the first error.
QString parseCacheRoutes(const QJsonArray &items, QList<CacheRouteConfig> *out)
{
    for (qsizetype i = 0; i < items.size(); ++i) {
        const QString at = QStringLiteral("[%1]").arg(i);
        if (!items.at(i).isObject())
            return at + QStringLiteral(": must be an object with route and ttl");
        const QJsonObject o = items.at(i).toObject();
        for (auto it = o.begin(); it != o.end(); ++it)
            if (it.key() != "route" && it.key() != "ttl" && it.key() != "vary")
                return QStringLiteral("%1.%2: unknown key (route, ttl, vary)").arg(at, it.key());
        CacheRouteConfig route;
        route.route = o.value(QStringLiteral("route")).toString();
        if (auto pattern = RoutePattern::parse(route.route); !pattern.ok())
            return QStringLiteral("%1.route: %2").arg(at, pattern.error().message);
        const QJsonValue ttl = o.value(QStringLiteral("ttl"));
        std::optional<qint64> ms;
        if (ttl.isDouble() && ttl.toDouble() > 0)
            ms = qint64(std::llround(ttl.toDouble() * 1000));
        else if (ttl.isString())
            ms = ConfigLoader::parseDurationMs(ttl.toString());
        if (!ms || *ms <= 0 || *ms > 30LL * 24 * 3'600'000)
            return at + QStringLiteral(".ttl: must be a duration between 1ms and 30 days, like "
                                       "\"5m\"");
        route.ttl = Milliseconds(*ms);
        if (o.contains(QStringLiteral("vary"))) {
            if (!o.value(QStringLiteral("vary")).isArray())
                return at + QStringLiteral(".vary: must be an array");
            route.varyQuery = false;
            for (const QJsonValue &v : o.value(QStringLiteral("vary")).toArray()) {
                const QString s = v.toString();
                if (s == "query")
                    route.varyQuery = true;
                else if (s == "user" || s == "path")
                    ; // always part of the key
                else if (s.startsWith(QStringLiteral("header:")) && s.size() > 7)
                    route.varyHeaders.append(s.mid(7).toLower());
                else
                    return QStringLiteral("%1.vary: \"%2\" is not query, path, user or "
                                          "header:NAME")
                        .arg(at, s);
            }
        }
        if (out)
            out->append(route);
    }
    return {};
}

// ratelimit.trusted_proxies / allowlist: ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"].
QString checkCidrList(const QJsonArray &items)
{
    for (qsizetype i = 0; i < items.size(); ++i)
        if (!items.at(i).isString())
            return QStringLiteral("[%1]: must be a string like \"10.0.0.0/8\"").arg(i);
    const auto set = CidrSet::parse(QJsonValue(items).toVariant().toStringList());
    return set.ok() ? QString() : set.error().message;
}

// cache.warm: [{"path": "/api/v1/reports/weekly_distance", "user": "alice@example.com"}]
QString parseCacheWarm(const QJsonArray &items, QList<CacheWarmConfig> *out)
{
    for (qsizetype i = 0; i < items.size(); ++i) {
        const QString at = QStringLiteral("[%1]").arg(i);
        const QJsonObject o = items.at(i).toObject();
        if (!items.at(i).isObject() || !o.value(QStringLiteral("path")).toString().startsWith('/'))
            return at +
                   QStringLiteral(": must be an object with a path starting with / and a user");
        if (o.value(QStringLiteral("user")).toString().isEmpty())
            return at + QStringLiteral(".user: the user (id or e-mail) to warm the response for");
        for (auto it = o.begin(); it != o.end(); ++it)
            if (it.key() != "path" && it.key() != "user")
                return QStringLiteral("%1.%2: unknown key (path, user)").arg(at, it.key());
        if (out)
            out->append({o.value(QStringLiteral("path")).toString(),
                         o.value(QStringLiteral("user")).toString()});
    }
    return {};
}

// The fields of one list item below: unknown names are errors, and every typed field is
// checked by normalise() with the kind and bounds of the key it corresponds to, so that an
// item says "must be between 1 and 100" exactly as the key would.
QString unknownItemKey(const QJsonObject &o, const QString &at, const QStringList &known)
{
    for (auto it = o.begin(); it != o.end(); ++it)
        if (!known.contains(it.key()))
            return QStringLiteral("%1.%2: unknown key (%3)").arg(at, it.key(), known.join(u", "));
    return {};
}

// The normalised value of o[field] (milliseconds for a duration), or nullopt with *error
// set to "[i].field: ...".
std::optional<QJsonValue> itemField(const QJsonObject &o, const QString &at, const QString &field,
                                    Kind kind, Bounds bounds, QString *error,
                                    const QStringList &choices = {})
{
    ConfigKey key{};
    key.kind = kind;
    key.min = bounds.min;
    key.max = bounds.max;
    key.choices = choices;
    QString message;
    auto value = normalise(key, o.value(field), &message);
    if (!value)
        *error = QStringLiteral("%1.%2: %3").arg(at, field, message);
    return value;
}

const QStringList &jobPriorityNames()
{
    static const QStringList names{"critical", "high", "normal", "low"};
    return names;
}

// Queue, cron job and webhook names.
bool isName(const QJsonValue &v)
{
    static const QRegularExpression re(QStringLiteral("^[a-z][a-z0-9_-]{0,62}\\z"));
    return v.isString() && re.match(v.toString()).hasMatch();
}
const QString kNameRule =
    QStringLiteral("must be 1 to 63 characters of a-z, 0-9, _ and -, starting with a letter");

// Job type names ("webhook.deliver").
bool isJobType(const QJsonValue &v)
{
    static const QRegularExpression re(QStringLiteral("^[a-z][a-z0-9_.-]{0,62}\\z"));
    return v.isString() && re.match(v.toString()).hasMatch();
}
const QString kJobTypeRule =
    QStringLiteral("must be 1 to 63 characters of a-z, 0-9, _, . and -, starting with a letter");

// "[i].field: "name" is already used by [j]" when `value` was seen before; records it.
QString duplicate(QHash<QString, qsizetype> &seen, const QString &value, qsizetype i,
                  const QString &at, const QString &field)
{
    if (const auto it = seen.constFind(value); it != seen.constEnd())
        return QStringLiteral("%1.%2: \"%3\" is already used by [%4]")
            .arg(at, field, value)
            .arg(*it);
    seen.insert(value, i);
    return {};
}

// jobs.queues: [{"name": "default", "concurrency": 4}, ...]; must name "default".
QString parseJobQueues(const QJsonArray &items, QList<JobQueueConfig> *out)
{
    QHash<QString, qsizetype> seen;
    for (qsizetype i = 0; i < items.size(); ++i) {
        const QString at = QStringLiteral("[%1]").arg(i);
        if (!items.at(i).isObject())
            return at + QStringLiteral(": must be an object with name and concurrency");
        const QJsonObject o = items.at(i).toObject();
        if (QString e = unknownItemKey(o, at, {"name", "concurrency"}); !e.isEmpty())
            return e;
        JobQueueConfig queue;
        if (!isName(o.value(QStringLiteral("name"))))
            return at + QStringLiteral(".name: ") + kNameRule;
        queue.name = o.value(QStringLiteral("name")).toString();
        if (QString e = duplicate(seen, queue.name, i, at, QStringLiteral("name")); !e.isEmpty())
            return e;
        if (o.contains(QStringLiteral("concurrency"))) {
            QString error;
            const auto v =
                itemField(o, at, QStringLiteral("concurrency"), Kind::Integer, {1, 256}, &error);
            if (!v)
                return error;
            queue.concurrency = v->toInt();
        }
        if (out)
            out->append(queue);
    }
    if (!seen.contains(QStringLiteral("default")))
        return QStringLiteral("must contain a queue named \"default\" (jobs go there unless "
                              "their type names another)");
    return {};
}

// jobs.types: [{"type": "webhook.deliver", "queue": "webhooks", "max_attempts": 8, ...}].
// Fields left out keep JobTypeConfig's "keep the handler's" values.
QString parseJobTypes(const QJsonArray &items, QList<JobTypeConfig> *out)
{
    static const QStringList known{
        "type",         "queue",       "priority",           "max_attempts",
        "backoff_base", "backoff_max", "backoff_multiplier", "backoff_jitter",
        "timeout"};
    QHash<QString, qsizetype> seen;
    for (qsizetype i = 0; i < items.size(); ++i) {
        const QString at = QStringLiteral("[%1]").arg(i);
        if (!items.at(i).isObject())
            return at + QStringLiteral(": must be an object with a type and the settings to "
                                       "override");
        const QJsonObject o = items.at(i).toObject();
        if (QString e = unknownItemKey(o, at, known); !e.isEmpty())
            return e;
        JobTypeConfig type;
        if (!isJobType(o.value(QStringLiteral("type"))))
            return at + QStringLiteral(".type: ") + kJobTypeRule;
        type.type = o.value(QStringLiteral("type")).toString();
        if (QString e = duplicate(seen, type.type, i, at, QStringLiteral("type")); !e.isEmpty())
            return e;
        if (o.contains(QStringLiteral("queue"))) {
            if (!isName(o.value(QStringLiteral("queue"))))
                return at + QStringLiteral(".queue: must name a queue of jobs.queues");
            type.queue = o.value(QStringLiteral("queue")).toString();
        }
        QString error; // the first bad field's; the fields after it are not read
        const auto read = [&](const char *name, Kind kind, Bounds bounds,
                              const QStringList &choices = {}) -> std::optional<QJsonValue> {
            if (!error.isEmpty() || !o.contains(QLatin1StringView(name)))
                return std::nullopt;
            return itemField(o, at, QString::fromLatin1(name), kind, bounds, &error, choices);
        };
        const auto ms = [](const QJsonValue &v) { return Milliseconds(qint64(v.toDouble())); };
        if (const auto v = read("priority", Kind::Enum, {}, jobPriorityNames()))
            type.priority = v->toString();
        if (const auto v = read("max_attempts", Kind::Integer, kMaxAttempts))
            type.maxAttempts = v->toInt();
        if (const auto v = read("backoff_base", Kind::Duration, kBackoffBase))
            type.backoffBase = ms(*v);
        if (const auto v = read("backoff_max", Kind::Duration, kBackoffMax))
            type.backoffMax = ms(*v);
        if (const auto v = read("backoff_multiplier", Kind::Real, kBackoffMultiplier))
            type.backoffMultiplier = v->toDouble();
        if (const auto v = read("backoff_jitter", Kind::Real, kBackoffJitter))
            type.backoffJitter = v->toDouble();
        if (const auto v = read("timeout", Kind::Duration, kJobTimeout))
            type.timeout = ms(*v);
        if (!error.isEmpty())
            return error;
        if (type.backoffBase.count() >= 0 && type.backoffMax.count() >= 0 &&
            type.backoffBase > type.backoffMax)
            return at + QStringLiteral(".backoff_base: must not exceed backoff_max");
        if (out)
            out->append(type);
    }
    return {};
}

// jobs.cron: [{"name": "nightly", "schedule": "30 3 * * *", "type": "db.maintenance",
// "payload": {...}, "priority": "low"}].
QString parseCronJobs(const QJsonArray &items, QList<CronJobConfig> *out)
{
    QHash<QString, qsizetype> seen;
    for (qsizetype i = 0; i < items.size(); ++i) {
        const QString at = QStringLiteral("[%1]").arg(i);
        if (!items.at(i).isObject())
            return at + QStringLiteral(": must be an object with name, schedule and type");
        const QJsonObject o = items.at(i).toObject();
        if (QString e = unknownItemKey(o, at, {"name", "schedule", "type", "payload", "priority"});
            !e.isEmpty())
            return e;
        CronJobConfig job;
        if (!isName(o.value(QStringLiteral("name"))))
            return at + QStringLiteral(".name: ") + kNameRule;
        job.name = o.value(QStringLiteral("name")).toString();
        if (QString e = duplicate(seen, job.name, i, at, QStringLiteral("name")); !e.isEmpty())
            return e;
        const QJsonValue scheduleText = o.value(QStringLiteral("schedule"));
        if (!scheduleText.isString())
            return at + QStringLiteral(".schedule: must be a five-field cron expression like "
                                       "\"30 3 * * *\" (UTC)");
        const auto schedule = CronSchedule::parse(scheduleText.toString());
        if (!schedule.ok())
            return QStringLiteral("%1.schedule: %2").arg(at, schedule.error().message);
        if (!schedule.value().next(QDateTime::fromSecsSinceEpoch(0, Qt::UTC)).isValid())
            return QStringLiteral("%1.schedule: \"%2\" matches no date, so it would never fire")
                .arg(at, schedule.value().text());
        job.schedule = schedule.value().text();
        if (!isJobType(o.value(QStringLiteral("type"))))
            return at + QStringLiteral(".type: ") + kJobTypeRule;
        job.type = o.value(QStringLiteral("type")).toString();
        if (o.contains(QStringLiteral("payload"))) {
            if (!o.value(QStringLiteral("payload")).isObject())
                return at + QStringLiteral(".payload: must be a JSON object");
            job.payload =
                QString::fromUtf8(QJsonDocument(o.value(QStringLiteral("payload")).toObject())
                                      .toJson(QJsonDocument::Compact));
        }
        if (o.contains(QStringLiteral("priority"))) {
            QString error;
            const auto v = itemField(o, at, QStringLiteral("priority"), Kind::Enum, {}, &error,
                                     jobPriorityNames());
            if (!v)
                return error;
            job.priority = v->toString();
        }
        if (out)
            out->append(job);
    }
    return {};
}

// webhooks.endpoints: [{"name": "crm", "url": "https://example.com/hook", "events":
// ["record.created"], "secret": "..."}]. Neither the secret nor the URL (which may carry a
// password) is repeated in an error.
QString parseWebhooks(const QJsonArray &items, QList<WebhookConfig> *out)
{
    QHash<QString, qsizetype> seen;
    for (qsizetype i = 0; i < items.size(); ++i) {
        const QString at = QStringLiteral("[%1]").arg(i);
        if (!items.at(i).isObject())
            return at + QStringLiteral(": must be an object with name, url, events and secret");
        const QJsonObject o = items.at(i).toObject();
        if (QString e = unknownItemKey(o, at, {"name", "url", "events", "secret"}); !e.isEmpty())
            return e;
        WebhookConfig hook;
        if (!isName(o.value(QStringLiteral("name"))))
            return at + QStringLiteral(".name: ") + kNameRule;
        hook.name = o.value(QStringLiteral("name")).toString();
        if (QString e = duplicate(seen, hook.name, i, at, QStringLiteral("name")); !e.isEmpty())
            return e;
        hook.url = o.value(QStringLiteral("url")).toString();
        const QUrl url(hook.url, QUrl::StrictMode);
        if (!o.value(QStringLiteral("url")).isString() || !url.isValid() ||
            (url.scheme() != QStringLiteral("http") && url.scheme() != QStringLiteral("https")) ||
            url.host().isEmpty())
            return at + QStringLiteral(".url: must be an http:// or https:// URL with a host");
        const QJsonValue events = o.value(QStringLiteral("events"));
        const QString eventsRule = at + QStringLiteral(".events: must be a non-empty array of "
                                                       "event names, like [\"record.created\"], "
                                                       "or [\"*\"] for all");
        if (!events.isArray() || events.toArray().isEmpty())
            return eventsRule;
        for (const QJsonValue &event : events.toArray()) {
            const QString name = event.toString();
            if (!event.isString())
                return eventsRule;
            if (name != QStringLiteral("*") && !knownEventNames().contains(name))
                return QStringLiteral("%1.events: \"%2\" is not an event name (%3, or \"*\" for "
                                      "all)")
                    .arg(at, name, knownEventNames().join(u", "));
            hook.events.append(name);
        }
        const QJsonValue secret = o.value(QStringLiteral("secret"));
        if (!secret.isString() || secret.toString().size() < 16)
            return at + QStringLiteral(".secret: must be a string of at least 16 characters");
        hook.secret = secret.toString();
        if (out)
            out->append(hook);
    }
    return {};
}

QList<ConfigKey> buildKeys()
{
    QList<ConfigKey> k;
    auto add = [&k](QString path, Kind kind, QJsonValue def, double min, double max, QString help,
                    std::function<void(Config &, const QJsonValue &)> apply,
                    QStringList choices = {}) {
        k.append(ConfigKey{std::move(path), kind, std::move(def), min, max, std::move(choices),
                           std::move(help), std::move(apply)});
    };
    auto addList = [&k](QString path, QJsonArray def, QString help,
                        std::function<QString(const QJsonArray &)> check,
                        std::function<void(Config &, const QJsonValue &)> apply) {
        k.append(ConfigKey{std::move(path),
                           Kind::List,
                           std::move(def),
                           0,
                           0,
                           {},
                           std::move(help),
                           std::move(apply),
                           std::move(check)});
    };
    auto ms = [](const QJsonValue &v) { return Milliseconds(qint64(v.toDouble())); };

    add("server.listen", Kind::Listen, "127.0.0.1:8080", 0, 0,
        "Address and port to listen on; [::1]:8080 for IPv6, 0.0.0.0:8080 for all IPv4.",
        [](Config &c, const QJsonValue &v) {
            auto l = ConfigLoader::parseListen(v.toString());
            c.server.address = l->first;
            c.server.port = l->second;
        });
    add("server.threads", Kind::Integer, 0, 0, 256,
        "HTTP worker threads; 0 means one per CPU core.",
        [](Config &c, const QJsonValue &v) { c.server.threads = v.toInt(); });
    add("server.data_dir", Kind::String, "", 0, 0,
        "Directory for the database, the admin token and job files; empty means the "
        "platform's application data location.",
        [](Config &c, const QJsonValue &v) { c.server.dataDir = v.toString(); });
    add("server.max_body", Kind::Size, 10 * 1024 * 1024, 0, 4.0 * 1024 * 1024 * 1024,
        "Largest request body accepted; larger ones get 413 before they are read.",
        [](Config &c, const QJsonValue &v) { c.server.maxBody = qint64(v.toDouble()); });
    add("server.max_request_line", Kind::Size, 8 * 1024, 64, 1024 * 1024,
        "Longest request line (method, target, version); longer ones get 414.",
        [](Config &c, const QJsonValue &v) { c.server.maxRequestLine = int(v.toDouble()); });
    add("server.max_header_field", Kind::Size, 8 * 1024, 64, 1024 * 1024,
        "Longest single header line; longer ones get 431.",
        [](Config &c, const QJsonValue &v) { c.server.maxHeaderField = int(v.toDouble()); });
    add("server.max_headers_total", Kind::Size, 64 * 1024, 256, 16 * 1024 * 1024,
        "Largest header section in total; larger ones get 431.",
        [](Config &c, const QJsonValue &v) { c.server.maxHeaderTotal = int(v.toDouble()); });
    add("server.max_header_count", Kind::Integer, 100, 1, 10000,
        "Most header fields in one request; more get 431.",
        [](Config &c, const QJsonValue &v) { c.server.maxHeaderCount = v.toInt(); });
    add("server.header_timeout", Kind::Duration, "10s", 10, 3600 * 1000.0,
        "Time allowed from the first byte of a request to the end of its headers (slowloris "
        "guard); then 408 and close.",
        [ms](Config &c, const QJsonValue &v) { c.server.headerTimeout = ms(v); });
    add("server.body_timeout", Kind::Duration, "30s", 10, 3600 * 1000.0,
        "Time allowed to receive a request body once its headers are in; then 408 and close.",
        [ms](Config &c, const QJsonValue &v) { c.server.bodyTimeout = ms(v); });
    add("server.idle_timeout", Kind::Duration, "15s", 10, 3600 * 1000.0,
        "How long an idle keep-alive connection stays open.",
        [ms](Config &c, const QJsonValue &v) { c.server.idleTimeout = ms(v); });
    add("server.shutdown_grace", Kind::Duration, "30s", 0, 3600 * 1000.0,
        "On SIGTERM/SIGINT, how long in-flight requests may take to finish before exit.",
        [ms](Config &c, const QJsonValue &v) { c.server.shutdownGrace = ms(v); });
    add("server.max_connections", Kind::Integer, 10000, 1, 1000000,
        "Open connections at most; beyond it new connections get 503 and are closed.",
        [](Config &c, const QJsonValue &v) { c.server.maxConnections = v.toInt(); });
    add("server.tls.cert", Kind::String, "", 0, 0,
        "PEM certificate (chain) file; with server.tls.key, serve HTTPS only.",
        [](Config &c, const QJsonValue &v) { c.server.tls.certFile = v.toString(); });
    add("server.tls.key", Kind::String, "", 0, 0, "PEM private key file for server.tls.cert.",
        [](Config &c, const QJsonValue &v) { c.server.tls.keyFile = v.toString(); });
    add("server.debug_endpoints", Kind::Bool, false, 0, 0,
        "Serve GET /debug/sleep?ms=N (a deliberately slow request, for shutdown and timeout "
        "drills) and GET /debug/bytes?n=N (N bytes of text, for benchmarks). Keep off in "
        "production.",
        [](Config &c, const QJsonValue &v) { c.server.debugEndpoints = v.toBool(); });

    add("http.request_id", Kind::Bool, true, 0, 0,
        "Accept a well-formed X-Request-Id or generate one, and echo it in the response.",
        [](Config &c, const QJsonValue &v) { c.http.requestId = v.toBool(); });
    add("http.security_headers", Kind::Bool, true, 0, 0,
        "Add nosniff, frame-deny, referrer-policy and CSP headers (and HSTS under TLS).",
        [](Config &c, const QJsonValue &v) { c.http.securityHeaders = v.toBool(); });
    add("http.metrics", Kind::Bool, true, 0, 0,
        "Count requests and latencies per route for /metrics and the console.",
        [](Config &c, const QJsonValue &v) { c.http.metrics = v.toBool(); });
    add("http.compression", Kind::Bool, true, 0, 0,
        "gzip compressible responses when the client accepts it.",
        [](Config &c, const QJsonValue &v) { c.http.compression = v.toBool(); });
    add("http.compression_min_size", Kind::Size, 1024, 0, 1024 * 1024 * 1024.0,
        "Smallest body that is compressed.",
        [](Config &c, const QJsonValue &v) { c.http.compressionMinSize = int(v.toDouble()); });
    add("http.compression_level", Kind::Integer, 6, 1, 9, "zlib level, 1 (fast) to 9 (small).",
        [](Config &c, const QJsonValue &v) { c.http.compressionLevel = v.toInt(); });

    add("log.level", Kind::Enum, "info", 0, 0, "Least severe application log level written.",
        [](Config &c, const QJsonValue &v) { c.log.level = v.toString(); },
        {"debug", "info", "warning", "error"});
    add("log.access", Kind::Enum, "on", 0, 0,
        "Access log: one JSON line per request (on), none (off), or a random sample (sampled).",
        [](Config &c, const QJsonValue &v) {
            const QString s = v.toString();
            c.log.access = s == "off"       ? AccessLogMode::Off
                           : s == "sampled" ? AccessLogMode::Sampled
                                            : AccessLogMode::On;
        },
        {"on", "off", "sampled"});
    add("log.access_sample_rate", Kind::Real, 0.01, 0, 1,
        "Fraction of requests logged when log.access is \"sampled\"; errors (status >= 500) "
        "are always logged.",
        [](Config &c, const QJsonValue &v) { c.log.accessSampleRate = v.toDouble(); });
    add("log.access_file", Kind::String, "", 0, 0,
        "File the access log is appended to; empty means standard output.",
        [](Config &c, const QJsonValue &v) { c.log.accessFile = v.toString(); });

    add("db.driver", Kind::Enum, "sqlite", 0, 0,
        "Database: the embedded SQLite file, or PostgreSQL (for several instances sharing one "
        "database).",
        [](Config &c, const QJsonValue &v) {
            c.db.driver = v.toString() == "postgres" ? DbDriver::Postgres : DbDriver::Sqlite;
        },
        {"sqlite", "postgres"});
    add("db.sqlite.path", Kind::String, "", 0, 0,
        "SQLite database file; empty means <data_dir>/bulwark.db.",
        [](Config &c, const QJsonValue &v) { c.db.sqlitePath = v.toString(); });
    add("db.sqlite.busy_timeout", Kind::Duration, "5s", 0, 600 * 1000.0,
        "How long a statement waits for SQLite's write lock before failing.",
        [ms](Config &c, const QJsonValue &v) { c.db.sqliteBusyTimeout = ms(v); });
    add("db.postgres.host", Kind::String, "127.0.0.1", 0, 0, "PostgreSQL host name or address.",
        [](Config &c, const QJsonValue &v) { c.db.postgresHost = v.toString(); });
    add("db.postgres.port", Kind::Integer, 5432, 1, 65535, "PostgreSQL port.",
        [](Config &c, const QJsonValue &v) { c.db.postgresPort = v.toInt(); });
    add("db.postgres.name", Kind::String, "bulwark", 0, 0, "PostgreSQL database name.",
        [](Config &c, const QJsonValue &v) { c.db.postgresName = v.toString(); });
    add("db.postgres.user", Kind::String, "bulwark", 0, 0, "PostgreSQL user.",
        [](Config &c, const QJsonValue &v) { c.db.postgresUser = v.toString(); });
    add("db.postgres.password", Kind::String, "", 0, 0,
        "PostgreSQL password; prefer BULWARK_DB_POSTGRES_PASSWORD over writing it here.",
        [](Config &c, const QJsonValue &v) { c.db.postgresPassword = v.toString(); });
    add("db.postgres.connect_timeout", Kind::Duration, "5s", 1000, 600 * 1000.0,
        "How long opening a PostgreSQL connection may take (whole seconds).",
        [ms](Config &c, const QJsonValue &v) { c.db.postgresConnectTimeout = ms(v); });
    add("db.pool.max_size", Kind::Integer, 16, 1, 1000,
        "Open database connections at most, across all threads.",
        [](Config &c, const QJsonValue &v) { c.db.poolMaxSize = v.toInt(); });
    add("db.pool.min_idle", Kind::Integer, 0, 0, 1000,
        "Idle connections kept open even past db.pool.idle_timeout.",
        [](Config &c, const QJsonValue &v) { c.db.poolMinIdle = v.toInt(); });
    add("db.pool.acquire_timeout", Kind::Duration, "5s", 1, 600 * 1000.0,
        "How long a request waits for a free connection; then 503 with Retry-After.",
        [ms](Config &c, const QJsonValue &v) { c.db.poolAcquireTimeout = ms(v); });
    add("db.pool.idle_timeout", Kind::Duration, "10m", 1000, 24 * 3600 * 1000.0,
        "Idle connections beyond db.pool.min_idle are closed after this long.",
        [ms](Config &c, const QJsonValue &v) { c.db.poolIdleTimeout = ms(v); });
    add("db.pool.max_lifetime", Kind::Duration, "30m", 1000, 24 * 3600 * 1000.0,
        "A connection is replaced after this long, idle or not (at its next use).",
        [ms](Config &c, const QJsonValue &v) { c.db.poolMaxLifetime = ms(v); });
    add("db.pool.ping_after_idle", Kind::Duration, "30s", 0, 24 * 3600 * 1000.0,
        "A connection idle this long is checked with a cheap query before use, and reopened "
        "once if the database restarted meanwhile.",
        [ms](Config &c, const QJsonValue &v) { c.db.poolPingAfterIdle = ms(v); });
    add("db.pool.leak_threshold", Kind::Duration, "60s", 1000, 24 * 3600 * 1000.0,
        "A connection held longer than this is reported in the log as a possible leak.",
        [ms](Config &c, const QJsonValue &v) { c.db.poolLeakThreshold = ms(v); });
    add("db.schema", Kind::String, "", 0, 0,
        "Schema file declaring the collections and reports the data API serves; empty means "
        "the built-in fitness demo schema (resources/demo-schema.json).",
        [](Config &c, const QJsonValue &v) { c.db.schema = v.toString(); });
    add("db.slow_query_ms", Kind::Integer, 100, 1, 3600 * 1000.0,
        "Statements slower than this many milliseconds are logged with their plan and kept "
        "in the slow-query list of /admin/api/db.",
        [](Config &c, const QJsonValue &v) { c.db.slowQueryMs = v.toInt(); });

    add("api.default_limit", Kind::Integer, 20, 1, 10000,
        "Rows per page when a list request gives no limit.",
        [](Config &c, const QJsonValue &v) { c.api.defaultLimit = v.toInt(); });
    add("api.max_limit", Kind::Integer, 1000, 1, 10000,
        "Largest limit a list request may ask for (400 above it).",
        [](Config &c, const QJsonValue &v) { c.api.maxLimit = v.toInt(); });
    add("api.batch_max", Kind::Integer, 1000, 1, 100000,
        "Operations one POST /api/v1/batch may carry (413 above it).",
        [](Config &c, const QJsonValue &v) { c.api.batchMax = v.toInt(); });
    add("api.session_ttl", Kind::Duration, "24h", 60 * 1000.0, 365 * 24 * 3600 * 1000.0,
        "How long an API key issued by POST /api/v1/auth/login stays valid.",
        [ms](Config &c, const QJsonValue &v) { c.api.sessionTtl = ms(v); });
    add("api.open_registration", Kind::Bool, false, 0, 0,
        "Let anyone create a user account with POST /api/v1/auth/register.",
        [](Config &c, const QJsonValue &v) { c.api.openRegistration = v.toBool(); });
    add("api.key_cache_ttl", Kind::Duration, "5s", 0, 3600 * 1000.0,
        "How long a checked API key is remembered; a key revoked or a user disabled by another "
        "instance or by `bulwark user` stops working within this time (0: check every request).",
        [ms](Config &c, const QJsonValue &v) { c.api.keyCacheTtl = ms(v); });

    add("cache.enabled", Kind::Bool, true, 0, 0,
        "Cache GET/HEAD responses of the routes in cache.routes.",
        [](Config &c, const QJsonValue &v) { c.cache.enabled = v.toBool(); });
    add("cache.memory.enabled", Kind::Bool, true, 0, 0,
        "Keep cached responses in this process (the first tier). Off leaves only Redis.",
        [](Config &c, const QJsonValue &v) { c.cache.memoryEnabled = v.toBool(); });
    add("cache.memory.max_bytes", Kind::Size, 128 * 1024 * 1024, 64 * 1024,
        1024.0 * 1024 * 1024 * 1024,
        "Bytes the in-process cache may hold (keys, responses and bookkeeping); never exceeded.",
        [](Config &c, const QJsonValue &v) { c.cache.memoryMaxBytes = qint64(v.toDouble()); });
    add("cache.redis.enabled", Kind::Bool, true, 0, 0,
        "Use Redis (redis.url) as the second tier shared by all instances, and for invalidating "
        "the other instances' first tier.",
        [](Config &c, const QJsonValue &v) { c.cache.redisEnabled = v.toBool(); });
    add("cache.stale_while_revalidate", Kind::Duration, "30s", 0, 24 * 3600 * 1000.0,
        "How long after its TTL a response may still be served (X-Cache: STALE) while one "
        "background refresh fetches a fresh one; 0 turns this off.",
        [ms](Config &c, const QJsonValue &v) { c.cache.staleWhileRevalidate = ms(v); });
    add("cache.ttl_jitter", Kind::Real, 0.1, 0, 0.5,
        "Each entry's TTL is shortened by a random fraction up to this, so entries stored "
        "together do not all expire together.",
        [](Config &c, const QJsonValue &v) { c.cache.ttlJitter = v.toDouble(); });
    add("cache.max_entry_size", Kind::Size, 1024 * 1024, 1024, 1024.0 * 1024 * 1024,
        "Larger responses are not cached.",
        [](Config &c, const QJsonValue &v) { c.cache.maxEntrySize = qint64(v.toDouble()); });
    add("cache.lock_timeout", Kind::Duration, "10s", 1, 600 * 1000.0,
        "How long concurrent misses of one key wait for the request computing it before "
        "computing it themselves.",
        [ms](Config &c, const QJsonValue &v) { c.cache.lockTimeout = ms(v); });
    addList(
        "cache.routes",
        QJsonArray{QJsonObject{{"route", "/api/v1/reports/nutrition_vs_body"}, {"ttl", "24h"}},
                   QJsonObject{{"route", "/api/v1/reports/{name}"}, {"ttl", "1h"}},
                   QJsonObject{{"route", "/api/v1/{collection}"}, {"ttl", "5m"}},
                   QJsonObject{{"route", "/api/v1/{collection}/{id}"}, {"ttl", "5m"}}},
        "Response-cache policies, first match wins: {\"route\": \"/api/v1/{collection}\", "
        "\"ttl\": \"5m\", \"vary\": [\"query\", \"header:accept-language\"]}. The key "
        "is the path, the sorted query (unless vary leaves \"query\" out), the user of an "
        "authenticated request (always) and the listed headers.",
        [](const QJsonArray &a) { return parseCacheRoutes(a, nullptr); },
        [](Config &c, const QJsonValue &v) {
            c.cache.routes.clear();
            parseCacheRoutes(v.toArray(), &c.cache.routes);
        });
    addList(
        "cache.warm", QJsonArray{},
        "Responses computed into the cache at start: [{\"path\": "
        "\"/api/v1/reports/weekly_distance\", \"user\": \"alice@example.com\"}].",
        [](const QJsonArray &a) { return parseCacheWarm(a, nullptr); },
        [](Config &c, const QJsonValue &v) {
            c.cache.warm.clear();
            parseCacheWarm(v.toArray(), &c.cache.warm);
        });

    add("redis.url", Kind::String, "", 0, 0,
        "Redis server shared by the instances: redis://[:PASSWORD@]HOST[:PORT][/DB] or "
        "unix:///PATH[?db=N]; empty means no Redis (one instance, memory only).",
        [](Config &c, const QJsonValue &v) { c.redis.url = v.toString(); });
    add("redis.connect_timeout", Kind::Duration, "250ms", 1, 60 * 1000.0,
        "How long opening a Redis connection may take.",
        [ms](Config &c, const QJsonValue &v) { c.redis.connectTimeout = ms(v); });
    add("redis.command_timeout", Kind::Duration, "250ms", 1, 60 * 1000.0,
        "How long one Redis command may take before it counts as failed.",
        [ms](Config &c, const QJsonValue &v) { c.redis.commandTimeout = ms(v); });
    add("redis.breaker_threshold", Kind::Integer, 5, 1, 1000,
        "Consecutive Redis failures that open the circuit breaker: then Redis is skipped "
        "(requests are served without it) until a probe succeeds.",
        [](Config &c, const QJsonValue &v) { c.redis.breakerThreshold = v.toInt(); });
    add("redis.backoff_min", Kind::Duration, "100ms", 1, 60 * 1000.0,
        "First wait before probing Redis again after the breaker opened; doubles per failed "
        "probe.",
        [ms](Config &c, const QJsonValue &v) { c.redis.backoffMin = ms(v); });
    add("redis.backoff_max", Kind::Duration, "2s", 1, 600 * 1000.0,
        "Longest wait between probes; Redis is used again at most this long after it returns.",
        [ms](Config &c, const QJsonValue &v) { c.redis.backoffMax = ms(v); });
    add("redis.key_prefix", Kind::String, "bulwark:", 0, 0,
        "Prefix of every Redis key and channel Bulwark uses, so that several deployments can "
        "share one Redis.",
        [](Config &c, const QJsonValue &v) { c.redis.keyPrefix = v.toString(); });

    add("ratelimit.enabled", Kind::Bool, true, 0, 0,
        "Apply the rate-limit rules (ratelimit.rules).",
        [](Config &c, const QJsonValue &v) { c.ratelimit.enabled = v.toBool(); });
    add("ratelimit.store", Kind::Enum, "memory", 0, 0,
        "Where counters live: memory (per instance) or redis (shared by every instance; needs "
        "redis.url). A rule's own \"store\" overrides it.",
        [](Config &c, const QJsonValue &v) { c.ratelimit.store = v.toString(); },
        {"memory", "redis"});
    add("ratelimit.on_redis_failure", Kind::Enum, "open", 0, 0,
        "When Redis cannot decide: open (let the request through), closed (refuse it with "
        "429) or local (decide it with this instance's memory counters).",
        [](Config &c, const QJsonValue &v) { c.ratelimit.onRedisFailure = v.toString(); },
        {"open", "closed", "local"});
    add("ratelimit.headers.legacy", Kind::Bool, true, 0, 0,
        "Send X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (Unix time).",
        [](Config &c, const QJsonValue &v) { c.ratelimit.legacyHeaders = v.toBool(); });
    add("ratelimit.headers.standard", Kind::Bool, true, 0, 0,
        "Send RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers-10).",
        [](Config &c, const QJsonValue &v) { c.ratelimit.standardHeaders = v.toBool(); });
    addList(
        "ratelimit.trusted_proxies", QJsonArray{},
        "Proxies (addresses or CIDRs) whose X-Forwarded-For names the client for the ip "
        "scope; from any other peer the header is ignored.",
        [](const QJsonArray &a) { return checkCidrList(a); },
        [](Config &c, const QJsonValue &v) {
            c.ratelimit.trustedProxies = v.toVariant().toStringList();
        });
    addList(
        "ratelimit.allowlist", QJsonArray{},
        "Clients (addresses or CIDRs) no rule limits.",
        [](const QJsonArray &a) { return checkCidrList(a); },
        [](Config &c, const QJsonValue &v) {
            c.ratelimit.allowlist = v.toVariant().toStringList();
        });
    add("ratelimit.exempt_admins", Kind::Bool, true, 0, 0,
        "Requests by users with the admin role are not limited.",
        [](Config &c, const QJsonValue &v) { c.ratelimit.exemptAdmins = v.toBool(); });
    add("ratelimit.max_keys", Kind::Integer, 1'000'000, 1000, 100'000'000,
        "Counters the memory store keeps at most; idle ones go first.",
        [](Config &c, const QJsonValue &v) { c.ratelimit.maxKeys = qint64(v.toDouble()); });
    addList(
        "ratelimit.rules", rateLimitRulesToJson(defaultRateLimitRules()),
        "Rules; every rule that matches a request applies and all must pass: {\"name\": "
        "\"login\", \"route\": \"/api/v1/auth/login\", \"methods\": [\"POST\"], "
        "\"scope\": [\"ip\"], \"algorithm\": \"sliding_log\", \"limit\": 5, \"window\": "
        "\"1h\"}. See docs/ratelimit.md.",
        [](const QJsonArray &a) {
            const auto rules = parseRateLimitRules(a);
            return rules.ok() ? QString() : rules.error().message;
        },
        [](Config &c, const QJsonValue &v) {
            c.ratelimit.rules = parseRateLimitRules(v.toArray()).value();
        });

    add("jobs.enabled", Kind::Bool, true, 0, 0,
        "Run the job queue in this instance: its workers claim and run queued jobs, and it "
        "enqueues the jobs.cron schedules.",
        [](Config &c, const QJsonValue &v) { c.jobs.enabled = v.toBool(); });
    add("jobs.workers", Kind::Integer, 4, 1, 256,
        "Threads that run job handlers in this instance, each with its own database "
        "connection.",
        [](Config &c, const QJsonValue &v) { c.jobs.workers = v.toInt(); });
    add("jobs.claim_batch", Kind::Integer, 64, 1, 1000,
        "Jobs claimed from the database in one query at most, and how many jobs of a queue of "
        "short jobs (under 5 ms) an instance claims ahead of its concurrency.",
        [](Config &c, const QJsonValue &v) { c.jobs.claimBatch = v.toInt(); });
    add("jobs.poll_interval", Kind::Duration, "200ms", 10, 60 * kSecondMs,
        "How often an idle instance looks for new jobs.",
        [ms](Config &c, const QJsonValue &v) { c.jobs.pollInterval = ms(v); });
    add("jobs.lease", Kind::Duration, "30s", kSecondMs, kHourMs,
        "A running job is queued again this long after its instance stopped renewing its lease "
        "(the instance died or lost the database).",
        [ms](Config &c, const QJsonValue &v) { c.jobs.lease = ms(v); });
    add("jobs.retention", Kind::Duration, "168h", kMinuteMs, 3650 * kDayMs,
        "How long succeeded and cancelled jobs are kept before they are pruned.",
        [ms](Config &c, const QJsonValue &v) { c.jobs.retention = ms(v); });
    add("jobs.dead_retention", Kind::Duration, "720h", kMinuteMs, 3650 * kDayMs,
        "How long dead jobs (out of attempts: the dead-letter queue) are kept.",
        [ms](Config &c, const QJsonValue &v) { c.jobs.deadRetention = ms(v); });
    add("jobs.dead_max", Kind::Integer, 100'000, 0, 1e9,
        "Dead jobs kept at most; the oldest are pruned first.",
        [](Config &c, const QJsonValue &v) { c.jobs.deadMax = qint64(v.toDouble()); });
    add("jobs.default_timeout", Kind::Duration, "10m", kJobTimeout.min, kJobTimeout.max,
        "How long one attempt of a job may run unless its type sets a timeout; then the "
        "attempt fails.",
        [ms](Config &c, const QJsonValue &v) { c.jobs.defaultTimeout = ms(v); });
    add("jobs.default_max_attempts", Kind::Integer, 5, kMaxAttempts.min, kMaxAttempts.max,
        "Attempts a job gets in all, the first run included, unless its type says otherwise; "
        "then it is dead.",
        [](Config &c, const QJsonValue &v) { c.jobs.defaultMaxAttempts = v.toInt(); });
    add("jobs.backoff.base", Kind::Duration, "1s", kBackoffBase.min, kBackoffBase.max,
        "Wait before the first retry of a failed job; each further retry waits "
        "jobs.backoff.multiplier times longer.",
        [ms](Config &c, const QJsonValue &v) { c.jobs.backoffBase = ms(v); });
    add("jobs.backoff.max", Kind::Duration, "5m", kBackoffMax.min, kBackoffMax.max,
        "Longest wait before a retry.",
        [ms](Config &c, const QJsonValue &v) { c.jobs.backoffMax = ms(v); });
    add("jobs.backoff.multiplier", Kind::Real, 2, kBackoffMultiplier.min, kBackoffMultiplier.max,
        "Factor the wait grows by with each retry.",
        [](Config &c, const QJsonValue &v) { c.jobs.backoffMultiplier = v.toDouble(); });
    add("jobs.backoff.jitter", Kind::Real, 0.5, kBackoffJitter.min, kBackoffJitter.max,
        "Fraction of each wait that is random (0: none, 0.5: at least half the wait, 1: "
        "anywhere from 0), so that jobs failing together do not retry together.",
        [](Config &c, const QJsonValue &v) { c.jobs.backoffJitter = v.toDouble(); });
    add("jobs.export_ttl", Kind::Duration, "24h", kMinuteMs, 30 * kDayMs,
        "How long a finished personal-data export waits for its one download.",
        [ms](Config &c, const QJsonValue &v) { c.jobs.exportTtl = ms(v); });
    addList(
        "jobs.queues",
        QJsonArray{QJsonObject{{"name", "default"}, {"concurrency", 4}},
                   QJsonObject{{"name", "webhooks"}, {"concurrency", 2}},
                   QJsonObject{{"name", "maintenance"}, {"concurrency", 1}},
                   QJsonObject{{"name", "loadtest"}, {"concurrency", 1}}},
        "Named queues and how many of each one's jobs an instance runs at once: {\"name\": "
        "\"default\", \"concurrency\": 4}. Must contain \"default\", where jobs go unless "
        "their type names another queue.",
        [](const QJsonArray &a) { return parseJobQueues(a, nullptr); },
        [](Config &c, const QJsonValue &v) {
            c.jobs.queues.clear();
            parseJobQueues(v.toArray(), &c.jobs.queues);
        });
    addList(
        "jobs.types", QJsonArray{},
        "Per-type settings that override the handler's: {\"type\": \"webhook.deliver\", "
        "\"queue\": \"webhooks\", \"priority\": \"high\", \"max_attempts\": 8, "
        "\"backoff_base\": \"10s\", \"backoff_max\": \"1h\", \"backoff_multiplier\": 2, "
        "\"backoff_jitter\": 0.5, \"timeout\": \"30s\"}; only \"type\" is required.",
        [](const QJsonArray &a) { return parseJobTypes(a, nullptr); },
        [](Config &c, const QJsonValue &v) {
            c.jobs.types.clear();
            parseJobTypes(v.toArray(), &c.jobs.types);
        });
    addList(
        "jobs.cron",
        QJsonArray{
            QJsonObject{{"name", "prune-jobs"}, {"schedule", "17 * * * *"}, {"type", "jobs.prune"}},
            QJsonObject{{"name", "db-maintenance"},
                        {"schedule", "30 3 * * *"},
                        {"type", "db.maintenance"}}},
        "Periodic jobs, enqueued once per period across all instances: {\"name\": "
        "\"nightly\", \"schedule\": \"30 3 * * *\" (five-field cron, UTC), \"type\": "
        "\"db.maintenance\", \"payload\": {}, \"priority\": \"low\"}.",
        [](const QJsonArray &a) { return parseCronJobs(a, nullptr); },
        [](Config &c, const QJsonValue &v) {
            c.jobs.cron.clear();
            parseCronJobs(v.toArray(), &c.jobs.cron);
        });

    addList(
        "webhooks.endpoints", QJsonArray{},
        "Webhooks: {\"name\": \"crm\", \"url\": \"https://example.com/hook\", \"events\": "
        "[\"record.created\", \"job.dead\"], \"secret\": \"at least 16 characters\"}; each "
        "event is POSTed as JSON, signed with HMAC-SHA256 under the secret. [\"*\"] is every "
        "event.",
        [](const QJsonArray &a) { return parseWebhooks(a, nullptr); },
        [](Config &c, const QJsonValue &v) {
            c.webhooks.endpoints.clear();
            parseWebhooks(v.toArray(), &c.webhooks.endpoints);
        });
    add("webhooks.timeout", Kind::Duration, "10s", 100, 5 * kMinuteMs,
        "How long one delivery attempt may take.",
        [ms](Config &c, const QJsonValue &v) { c.webhooks.timeout = ms(v); });
    add("webhooks.max_attempts", Kind::Integer, 8, kMaxAttempts.min, kMaxAttempts.max,
        "Delivery attempts in all, the first included, before a delivery is given up (it is "
        "then a dead job).",
        [](Config &c, const QJsonValue &v) { c.webhooks.maxAttempts = v.toInt(); });

    add("admin.token", Kind::String, "", 0, 0,
        "Bearer token for /admin/api/ (at least 32 characters); empty means read or generate "
        "<data_dir>/admin.token (mode 0600).",
        [](Config &c, const QJsonValue &v) { c.admin.token = v.toString(); });
    return k;
}

// Converts a raw string (environment or flag) to the JSON type the key takes, so that the
// same validation applies to every layer.
QJsonValue fromRawString(const ConfigKey &key, const QString &raw)
{
    switch (key.kind) {
    case Kind::Bool: {
        const QString s = raw.trimmed().toLower();
        if (s == "true" || s == "1" || s == "yes" || s == "on")
            return true;
        if (s == "false" || s == "0" || s == "no" || s == "off")
            return false;
        return raw;
    }
    case Kind::Integer:
    case Kind::Real: {
        bool ok = false;
        const double d = raw.trimmed().toDouble(&ok);
        return ok ? QJsonValue(d) : QJsonValue(raw);
    }
    case Kind::List: {
        const QJsonDocument doc = QJsonDocument::fromJson(raw.toUtf8());
        return doc.isArray() ? QJsonValue(doc.array()) : QJsonValue(raw);
    }
    default: return raw;
    }
}

// Validates one value against its key; returns the normalised value (sizes in bytes,
// durations in milliseconds) or an error message without the key path.
std::optional<QJsonValue> normalise(const ConfigKey &key, const QJsonValue &v, QString *error)
{
    auto inBounds = [&](double d) -> bool {
        if (d < key.min || d > key.max) {
            *error = QStringLiteral("must be between %1 and %2")
                         .arg(formatBound(key.kind, key.min), formatBound(key.kind, key.max));
            return false;
        }
        return true;
    };
    switch (key.kind) {
    case Kind::String:
        if (!v.isString())
            break;
        return v;
    case Kind::Bool:
        if (!v.isBool())
            break;
        return v;
    case Kind::Integer:
        if (!v.isDouble() || std::floor(v.toDouble()) != v.toDouble() || v.toDouble() > kMaxInt)
            break;
        if (!inBounds(v.toDouble()))
            return std::nullopt;
        return v;
    case Kind::Real:
        if (!v.isDouble())
            break;
        if (!inBounds(v.toDouble()))
            return std::nullopt;
        return v;
    case Kind::Size: {
        std::optional<qint64> bytes;
        if (v.isDouble() && v.toDouble() >= 0 && std::floor(v.toDouble()) == v.toDouble()) {
            if (!inBounds(v.toDouble())) // before the cast: 1e30 does not fit in 64 bits
                return std::nullopt;
            bytes = qint64(v.toDouble());
        } else if (v.isString())
            bytes = ConfigLoader::parseSize(v.toString());
        if (!bytes)
            break;
        if (!inBounds(double(*bytes)))
            return std::nullopt;
        return QJsonValue(double(*bytes));
    }
    case Kind::Duration: {
        std::optional<qint64> msec;
        if (v.isDouble() && v.toDouble() >= 0 && v.toDouble() <= 9e12)
            msec = qint64(std::llround(v.toDouble() * 1000));
        else if (v.isString())
            msec = ConfigLoader::parseDurationMs(v.toString());
        if (!msec)
            break;
        if (!inBounds(double(*msec)))
            return std::nullopt;
        return QJsonValue(double(*msec));
    }
    case Kind::Enum:
        if (!v.isString())
            break;
        if (!key.choices.contains(v.toString())) {
            *error = QStringLiteral("must be one of %1, not \"%2\"")
                         .arg(key.choices.join(QStringLiteral(", ")), v.toString());
            return std::nullopt;
        }
        return v;
    case Kind::Listen:
        if (!v.isString())
            break;
        if (!ConfigLoader::parseListen(v.toString())) {
            *error = QStringLiteral("\"%1\" is not ADDRESS:PORT (for example 127.0.0.1:8080 "
                                    "or [::1]:8080)")
                         .arg(v.toString());
            return std::nullopt;
        }
        return v;
    case Kind::List:
        if (!v.isArray())
            break;
        if (const QString problem = key.check(v.toArray()); !problem.isEmpty()) {
            *error = problem;
            return std::nullopt;
        }
        return v;
    }
    *error = QStringLiteral("must be %1").arg(kindName(key.kind));
    return std::nullopt;
}

// Flattens nested objects to dotted paths; objects that are not a known prefix are errors.
void flatten(const QJsonObject &obj, const QString &prefix, const QHash<QString, int> &index,
             const QSet<QString> &prefixes, QHash<QString, QJsonValue> *out, QStringList *errors,
             const QString &origin)
{
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        const QString path = prefix.isEmpty() ? it.key() : prefix + '.' + it.key();
        if (index.contains(path)) {
            out->insert(path, it.value());
        } else if (prefixes.contains(path)) {
            if (!it.value().isObject()) {
                errors->append(QStringLiteral("%1: %2: must be an object").arg(origin, path));
                continue;
            }
            flatten(it.value().toObject(), path, index, prefixes, out, errors, origin);
        } else {
            errors->append(QStringLiteral("%1: %2: unknown key").arg(origin, path));
        }
    }
}

} // namespace

const QList<ConfigKey> &ConfigLoader::keys()
{
    static const QList<ConfigKey> table = buildKeys();
    return table;
}

QString ConfigLoader::environmentName(const QString &path)
{
    QString name = path.toUpper();
    name.replace('.', '_');
    return QStringLiteral("BULWARK_") + name;
}

std::optional<qint64> ConfigLoader::parseSize(const QString &text)
{
    static const QRegularExpression re(
        QStringLiteral("^\\s*(\\d+)\\s*(B|KB|KiB|MB|MiB|GB|GiB)?\\s*$"));
    const auto m = re.match(text);
    if (!m.hasMatch())
        return std::nullopt;
    bool ok = false;
    const qint64 n = m.captured(1).toLongLong(&ok);
    if (!ok)
        return std::nullopt;
    const QString unit = m.captured(2);
    qint64 mul = 1;
    if (unit == "KB")
        mul = 1000;
    else if (unit == "KiB")
        mul = 1024;
    else if (unit == "MB")
        mul = 1000 * 1000;
    else if (unit == "MiB")
        mul = 1024 * 1024;
    else if (unit == "GB")
        mul = 1000LL * 1000 * 1000;
    else if (unit == "GiB")
        mul = 1024LL * 1024 * 1024;
    if (n > std::numeric_limits<qint64>::max() / mul)
        return std::nullopt;
    return n * mul;
}

std::optional<qint64> ConfigLoader::parseDurationMs(const QJsonValue &value)
{
    if (value.isDouble()) {
        const double seconds = value.toDouble();
        if (seconds >= 0 && seconds <= 1e12)
            return qint64(std::llround(seconds * 1000));
        return std::nullopt;
    }
    if (value.isString())
        return parseDurationMs(value.toString());
    return std::nullopt;
}

QString ConfigLoader::formatDurationMs(qint64 ms)
{
    if (ms > 0 && ms % 3'600'000 == 0)
        return QStringLiteral("%1h").arg(ms / 3'600'000);
    if (ms > 0 && ms % 60'000 == 0)
        return QStringLiteral("%1m").arg(ms / 60'000);
    if (ms > 0 && ms % 1000 == 0)
        return QStringLiteral("%1s").arg(ms / 1000);
    return QStringLiteral("%1ms").arg(ms);
}

std::optional<qint64> ConfigLoader::parseDurationMs(const QString &text)
{
    static const QRegularExpression re(
        QStringLiteral("^\\s*(\\d+(?:\\.\\d+)?)\\s*(ms|s|m|h)?\\s*$"));
    const auto m = re.match(text);
    if (!m.hasMatch())
        return std::nullopt;
    const double n = m.captured(1).toDouble();
    const QString unit = m.captured(2);
    double factor = 1000; // bare numbers are seconds, as in the JSON form
    if (unit == "ms")
        factor = 1;
    else if (unit == "m")
        factor = 60'000;
    else if (unit == "h")
        factor = 3'600'000;
    const double msec = n * factor;
    if (msec > 1e15)
        return std::nullopt;
    return qint64(std::llround(msec));
}

std::optional<std::pair<QHostAddress, quint16>> ConfigLoader::parseListen(const QString &text)
{
    const int colon = text.lastIndexOf(':');
    if (colon <= 0)
        return std::nullopt;
    QString host = text.left(colon);
    const QString portText = text.mid(colon + 1);
    bool ok = false;
    const uint port = portText.toUInt(&ok);
    if (!ok || port > 65535 || portText.isEmpty() || !portText.at(0).isDigit())
        return std::nullopt;
    if (host.startsWith('[') && host.endsWith(']'))
        host = host.mid(1, host.size() - 2);
    else if (host.contains(':'))
        return std::nullopt; // IPv6 needs brackets, otherwise the port is ambiguous
    if (host == "localhost")
        host = QStringLiteral("127.0.0.1");
    QHostAddress address;
    if (!address.setAddress(host))
        return std::nullopt;
    return std::pair{address, quint16(port)};
}

QByteArray ConfigLoader::blankComments(const QByteArray &json)
{
    QByteArray out = json;
    bool inString = false;
    for (qsizetype i = 0; i < out.size(); ++i) {
        const char c = out[i];
        if (inString) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                inString = false;
            continue;
        }
        if (c == '"') {
            inString = true;
        } else if (c == '/' && i + 1 < out.size() && out[i + 1] == '/') {
            while (i < out.size() && out[i] != '\n')
                out[i++] = ' ';
        } else if (c == '/' && i + 1 < out.size() && out[i + 1] == '*') {
            qsizetype j = i;
            while (j < out.size() &&
                   !(out[j] == '*' && j + 1 < out.size() && out[j + 1] == '/' && j > i + 1))
                ++j;
            const qsizetype end = qMin(j + 2, out.size());
            for (; i < end; ++i)
                if (out[i] != '\n')
                    out[i] = ' ';
            --i;
        }
    }
    return out;
}

Result<Config, QStringList> ConfigLoader::load(const Sources &sources)
{
    const auto &table = keys();
    QHash<QString, int> index;
    QSet<QString> prefixes;
    for (int i = 0; i < table.size(); ++i) {
        index.insert(table[i].path, i);
        const QStringList parts = table[i].path.split('.');
        for (int n = 1; n < parts.size(); ++n)
            prefixes.insert(parts.mid(0, n).join('.'));
    }

    QStringList errors;
    QHash<QString, QJsonValue> fromFile;
    if (!sources.file.isEmpty()) {
        QFile file(sources.file);
        if (!file.open(QIODevice::ReadOnly))
            return QStringList{
                QStringLiteral("%1: cannot read: %2").arg(sources.file, file.errorString())};
        const QByteArray raw = file.readAll();
        QJsonParseError parseError;
        const QJsonDocument doc = QJsonDocument::fromJson(blankComments(raw), &parseError);
        if (parseError.error != QJsonParseError::NoError) {
            const auto [line, column] = JsonSourceMap::lineColumn(raw, parseError.offset);
            return QStringList{QStringLiteral("%1:%2:%3: %4")
                                   .arg(sources.file)
                                   .arg(line)
                                   .arg(column)
                                   .arg(parseError.errorString())};
        }
        if (!doc.isObject())
            return QStringList{
                QStringLiteral("%1:1:1: the top level must be a JSON object").arg(sources.file)};
        flatten(doc.object(), QString(), index, prefixes, &fromFile, &errors, sources.file);
    }

    Config config;
    config.sourceFile = sources.file;
    for (const ConfigKey &key : table) {
        QJsonValue value = key.defaultValue;
        QString origin = QStringLiteral("default");
        if (fromFile.contains(key.path)) {
            value = fromFile.value(key.path);
            origin = sources.file;
        }
        const QString envName = environmentName(key.path);
        if (sources.environment.contains(envName)) {
            value = fromRawString(key, sources.environment.value(envName));
            origin = QStringLiteral("environment %1").arg(envName);
        }
        if (sources.flags.contains(key.path)) {
            value = fromRawString(key, sources.flags.value(key.path));
            origin = QStringLiteral("command line");
        }
        QString message;
        const auto normalised = normalise(key, value, &message);
        if (!normalised) {
            errors.append(QStringLiteral("%1: %2: %3").arg(origin, key.path, message));
            continue;
        }
        key.apply(config, *normalised);
    }

    // Rules that span keys.
    if (config.server.tls.certFile.isEmpty() != config.server.tls.keyFile.isEmpty())
        errors.append(QStringLiteral("server.tls: cert and key must be given together"));
    if (!config.admin.token.isEmpty() && config.admin.token.size() < 32)
        errors.append(QStringLiteral("admin.token: must be at least 32 characters"));
    if (!config.redis.url.isEmpty()) {
        if (const auto endpoint = RedisEndpoint::parse(config.redis.url); !endpoint.ok())
            errors.append(QStringLiteral("redis.url: ") + endpoint.error().message);
    }
    if (config.cache.enabled && !config.cache.memoryEnabled &&
        (config.redis.url.isEmpty() || !config.cache.redisEnabled))
        errors.append(QStringLiteral("cache.memory.enabled: with the memory tier off the cache "
                                     "needs Redis (redis.url and cache.redis.enabled); or set "
                                     "cache.enabled to false"));
    if (config.redis.backoffMin > config.redis.backoffMax)
        errors.append(QStringLiteral("redis.backoff_min: must not exceed redis.backoff_max"));
    if (config.redis.url.isEmpty()) {
        if (config.ratelimit.store == QStringLiteral("redis"))
            errors.append(QStringLiteral("ratelimit.store: redis needs redis.url"));
        for (const RateLimitRuleConfig &rule : config.ratelimit.rules)
            if (rule.store == QStringLiteral("redis"))
                errors.append(QStringLiteral("ratelimit.rules: rule \"%1\" keeps its counters in "
                                             "redis, which needs redis.url")
                                  .arg(rule.name));
    }
    if (config.server.maxHeaderField > config.server.maxHeaderTotal)
        errors.append(
            QStringLiteral("server.max_header_field: must not exceed server.max_headers_total"));
    if (config.jobs.backoffBase > config.jobs.backoffMax)
        errors.append(QStringLiteral("jobs.backoff.base: must not exceed jobs.backoff.max"));
    for (const JobTypeConfig &type : config.jobs.types) {
        const auto named = [&](const JobQueueConfig &q) { return q.name == type.queue; };
        if (!type.queue.isEmpty() &&
            std::none_of(config.jobs.queues.begin(), config.jobs.queues.end(), named))
            errors.append(QStringLiteral("jobs.types: type \"%1\" names queue \"%2\", which is "
                                         "not in jobs.queues")
                              .arg(type.type, type.queue));
    }

    if (!errors.isEmpty())
        return errors;
    return config;
}

} // namespace bulwark
