// SPDX-License-Identifier: GPL-3.0-or-later
// Bulwark's configuration as plain value types. ConfigLoader builds one of these from the
// defaults, one JSON file, BULWARK_* environment variables and command-line flags, and
// validates every field; the rest of the program only ever sees a valid Config. Every key
// is documented in docs/configuration.md (a test checks that none is missing). The member
// initialisers below are the defaults for code that builds a Config directly (tests); a
// test checks they equal the defaults of ConfigLoader's key table.
#pragma once

#include <QHostAddress>
#include <QList>
#include <QString>
#include <QStringList>
#include <chrono>

namespace bulwark {

using Milliseconds = std::chrono::milliseconds;

struct TlsConfig
{
    QString certFile;
    QString keyFile;
    bool enabled() const { return !certFile.isEmpty() && !keyFile.isEmpty(); }
    bool operator==(const TlsConfig &) const = default;
};

struct ServerConfig
{
    QHostAddress address = QHostAddress::LocalHost;
    quint16 port = 8080;
    int threads = 0; // 0: one per core
    QString dataDir; // empty: the platform's app data location
    qint64 maxBody = 10 * 1024 * 1024;
    int maxRequestLine = 8 * 1024;
    int maxHeaderField = 8 * 1024;
    int maxHeaderTotal = 64 * 1024;
    int maxHeaderCount = 100;
    Milliseconds headerTimeout{10'000};
    Milliseconds bodyTimeout{30'000};
    Milliseconds idleTimeout{15'000};
    Milliseconds shutdownGrace{30'000};
    int maxConnections = 10'000;
    TlsConfig tls;
    bool debugEndpoints = false;
    bool operator==(const ServerConfig &) const = default;
};

struct HttpFeaturesConfig
{
    bool requestId = true;
    bool securityHeaders = true;
    bool metrics = true;
    bool compression = true;
    int compressionMinSize = 1024;
    int compressionLevel = 6;
    bool operator==(const HttpFeaturesConfig &) const = default;
};

enum class AccessLogMode
{
    Off,
    On,
    Sampled
};

struct LogConfig
{
    QString level = QStringLiteral("info");
    AccessLogMode access = AccessLogMode::On;
    double accessSampleRate = 0.01;
    QString accessFile; // empty: standard output
    bool operator==(const LogConfig &) const = default;
};

enum class DbDriver
{
    Sqlite,
    Postgres
};

struct DbConfig
{
    DbDriver driver = DbDriver::Sqlite;
    QString sqlitePath; // empty: <data_dir>/bulwark.db
    Milliseconds sqliteBusyTimeout{5000};
    QString postgresHost = QStringLiteral("127.0.0.1");
    int postgresPort = 5432;
    QString postgresName = QStringLiteral("bulwark");
    QString postgresUser = QStringLiteral("bulwark");
    QString postgresPassword;
    Milliseconds postgresConnectTimeout{5000};
    int poolMaxSize = 16;
    int poolMinIdle = 0;
    Milliseconds poolAcquireTimeout{5000};
    Milliseconds poolIdleTimeout{600'000};
    Milliseconds poolMaxLifetime{1'800'000};
    Milliseconds poolPingAfterIdle{30'000};
    Milliseconds poolLeakThreshold{60'000};
    QString schema;        // empty: the built-in demo schema
    int slowQueryMs = 100; // statements slower than this are logged with their plan
    bool operator==(const DbConfig &) const = default;
};

struct ApiConfig
{
    int defaultLimit = 20;
    int maxLimit = 1000;
    int batchMax = 1000;
    Milliseconds sessionTtl{24 * 3600 * 1000};
    Milliseconds keyCacheTtl{5000};
    bool openRegistration = false; // POST /api/v1/auth/register
    bool operator==(const ApiConfig &) const = default;
};

// A response-cache policy: GET/HEAD requests whose path matches `route` ({name} matches one
// path segment; the first matching policy wins) are cached for `ttl`. The key is always the
// path, plus the normalised query string (varyQuery), plus the user (always, for an
// authenticated request), plus the values of varyHeaders.
struct CacheRouteConfig
{
    QString route;
    Milliseconds ttl{300'000};
    bool varyQuery = true;
    QStringList varyHeaders; // lower case
    bool operator==(const CacheRouteConfig &) const = default;
};

// A response warmed into the cache at start: `path` (with its query) as `user` (an id or
// e-mail address) would ask for it.
struct CacheWarmConfig
{
    QString path;
    QString user;
    bool operator==(const CacheWarmConfig &) const = default;
};

struct CacheConfig
{
    bool enabled = true;
    bool memoryEnabled = true;
    qint64 memoryMaxBytes = 128 * 1024 * 1024;
    bool redisEnabled = true; // as the second tier, when redis.url is set
    Milliseconds staleWhileRevalidate{30'000};
    double ttlJitter = 0.1;
    qint64 maxEntrySize = 1024 * 1024;
    Milliseconds lockTimeout{10'000};
    QList<CacheRouteConfig> routes{
        {QStringLiteral("/api/v1/reports/nutrition_vs_body"),
         Milliseconds(24 * 3'600'000),
         true,
         {}},
        {QStringLiteral("/api/v1/reports/{name}"), Milliseconds(3'600'000), true, {}},
        {QStringLiteral("/api/v1/{collection}"), Milliseconds(300'000), true, {}},
        {QStringLiteral("/api/v1/{collection}/{id}"), Milliseconds(300'000), true, {}}};
    QList<CacheWarmConfig> warm;
    bool operator==(const CacheConfig &) const = default;
};

struct RedisConfig
{
    QString url; // empty: no Redis
    Milliseconds connectTimeout{250};
    Milliseconds commandTimeout{250};
    int breakerThreshold = 5;
    Milliseconds backoffMin{100};
    Milliseconds backoffMax{2000};
    QString keyPrefix = QStringLiteral("bulwark:");
    bool operator==(const RedisConfig &) const = default;
};

// A rate-limit rule (ratelimit.rules): requests whose method is in `methods` (all when
// empty) and whose path matches `route` ({name} matches one segment, a final ** the rest of
// the path) are counted per value of `scope` (global, ip, user, api_key, endpoint; several
// combine) and refused above `limit` per `window` (`burst`: the token bucket's and GCRA's
// capacity, 0 = limit). A shadow rule only counts what it would refuse. `store` overrides
// ratelimit.store for this rule ("" keeps it).
struct RateLimitRuleConfig
{
    QString name;
    QString route = QStringLiteral("/**");
    QStringList methods; // upper case; empty: every method
    QStringList scope{QStringLiteral("ip")};
    QString algorithm = QStringLiteral("sliding_counter");
    qint64 limit = 60;
    Milliseconds window{60'000};
    qint64 burst = 0;
    bool shadow = false;
    QString store;
    bool operator==(const RateLimitRuleConfig &) const = default;
};

// The defaults the sample configuration carries (ConfigLoader's table and these member
// initialisers read the same list).
QList<RateLimitRuleConfig> defaultRateLimitRules();

struct RateLimitConfig
{
    bool enabled = true;
    QString store = QStringLiteral("memory");          // memory | redis
    QString onRedisFailure = QStringLiteral("open");   // open | closed | local
    bool legacyHeaders = true;                         // X-RateLimit-Limit/-Remaining/-Reset
    bool standardHeaders = true;                       // RateLimit-Policy and RateLimit
    QStringList trustedProxies;                        // CIDRs whose X-Forwarded-For counts
    QStringList allowlist;                             // CIDRs never limited
    bool exemptAdmins = true;                          // users with the admin role
    qint64 maxKeys = 1'000'000;                        // memory store bound
    QList<RateLimitRuleConfig> rules = defaultRateLimitRules();
    bool operator==(const RateLimitConfig &) const = default;
};

// A named job queue and how many of its jobs one instance runs at once (jobs.queues).
struct JobQueueConfig
{
    QString name;
    int concurrency = 1;
    bool operator==(const JobQueueConfig &) const = default;
};

// Settings of one job type that override its handler's defaults (jobs.types). Fields left
// unset (empty, 0 or negative) keep what the handler registered.
struct JobTypeConfig
{
    QString type;
    QString queue;
    QString priority;        // critical | high | normal | low
    int maxAttempts = 0;     // attempts in all, the first run included
    Milliseconds backoffBase{-1};
    Milliseconds backoffMax{-1};
    double backoffMultiplier = 0; // 0: keep
    double backoffJitter = -1;    // -1: keep
    Milliseconds timeout{-1};
    bool operator==(const JobTypeConfig &) const = default;
};

// A periodic job (jobs.cron): `type` with `payload` (JSON object text) is enqueued at each
// time `schedule` (five-field cron, UTC) names, once per period across all instances.
struct CronJobConfig
{
    QString name;
    QString schedule;
    QString type;
    QString payload = QStringLiteral("{}");
    QString priority; // empty: the type's
    bool operator==(const CronJobConfig &) const = default;
};

struct JobsConfig
{
    bool enabled = true;
    int workers = 4;                  // handler threads of this instance
    int claimBatch = 64;              // jobs claimed per query at most
    Milliseconds pollInterval{200};   // how often an idle instance looks for new jobs
    Milliseconds lease{30'000};       // a running job is re-queued this long after its
                                      // instance stopped renewing it
    Milliseconds retention{7LL * 24 * 3'600'000};     // succeeded and cancelled jobs
    Milliseconds deadRetention{30LL * 24 * 3'600'000}; // dead jobs (the dead-letter queue)
    qint64 deadMax = 100'000;         // dead jobs kept at most (oldest pruned first)
    Milliseconds defaultTimeout{600'000};
    int defaultMaxAttempts = 5;
    Milliseconds backoffBase{1000};
    Milliseconds backoffMax{300'000};
    double backoffMultiplier = 2.0;
    double backoffJitter = 0.5;
    Milliseconds exportTtl{24LL * 3'600'000}; // a finished GDPR export waits this long for
                                               // its one download
    QList<JobQueueConfig> queues{{QStringLiteral("default"), 4},
                                 {QStringLiteral("webhooks"), 2},
                                 {QStringLiteral("maintenance"), 1},
                                 {QStringLiteral("loadtest"), 1}};
    QList<JobTypeConfig> types;
    QList<CronJobConfig> cron{
        {QStringLiteral("prune-jobs"), QStringLiteral("17 * * * *"), QStringLiteral("jobs.prune"),
         QStringLiteral("{}"), QString()},
        {QStringLiteral("db-maintenance"), QStringLiteral("30 3 * * *"),
         QStringLiteral("db.maintenance"), QStringLiteral("{}"), QString()}};
    bool operator==(const JobsConfig &) const = default;
};

// A webhook (webhooks.endpoints): events named in `events` ("*" for all) are POSTed to
// `url` as JSON, signed with HMAC-SHA256 of "<timestamp>.<body>" under `secret`.
struct WebhookConfig
{
    QString name;
    QString url;
    QStringList events;
    QString secret;
    bool operator==(const WebhookConfig &) const = default;
};

struct WebhooksConfig
{
    QList<WebhookConfig> endpoints;
    Milliseconds timeout{10'000};  // one delivery attempt
    int maxAttempts = 8;
    bool operator==(const WebhooksConfig &) const = default;
};

struct AdminConfig
{
    QString token; // empty: read or generate <data_dir>/admin.token
    bool operator==(const AdminConfig &) const = default;
};

struct Config
{
    ServerConfig server;
    HttpFeaturesConfig http;
    LogConfig log;
    DbConfig db;
    ApiConfig api;
    AdminConfig admin;
    CacheConfig cache;
    RedisConfig redis;
    RateLimitConfig ratelimit;
    JobsConfig jobs;
    WebhooksConfig webhooks;
    QString sourceFile; // the JSON file it came from, if any
    bool operator==(const Config &) const = default;
};

} // namespace bulwark
