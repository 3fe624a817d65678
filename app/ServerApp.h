// SPDX-License-Identifier: GPL-3.0-or-later
// The composition root of `bulwark --server`: builds every service from a valid Config,
// wires the pipeline in the order of DESIGN.md, starts the listener, and runs the
// shutdown sequence on SIGTERM/SIGINT (not ready -> stop accepting -> in-flight requests
// finish within server.shutdown_grace -> exit 0). Tests embed it in-process on port 0.
#pragma once

#include "AccessLogStage.h"
#include "AuthController.h"
#include "BackgroundThread.h"
#include "CacheController.h"
#include "CollectionsController.h"
#include "Config.h"
#include "ConnectionPool.h"
#include "DatabaseController.h"
#include "EventBus.h"
#include "GdprController.h"
#include "HealthRegistry.h"
#include "HttpMetrics.h"
#include "HttpServer.h"
#include "JobQueue.h"
#include "JobsController.h"
#include "LoadTestRunStore.h"
#include "LoadTestsController.h"
#include "Logger.h"
#include "Metrics.h"
#include "MetricsSampler.h"
#include "Pipeline.h"
#include "RateLimitController.h"
#include "RateLimiter.h"
#include "RedisClient.h"
#include "ReportsController.h"
#include "ResponseCacheStage.h"
#include "Router.h"
#include "SystemController.h"
#include "TagVersions.h"
#include "TieredCache.h"
#include "TimeSeries.h"
#include "UserStore.h"

#include <QObject>
#include <QTimer>
#include <atomic>
#include <memory>

namespace bulwark {

class ServerApp final : public QObject
{
    Q_OBJECT

public:
    explicit ServerApp(Config config, QObject *parent = nullptr);
    // Apply schema changes that lose data (dropped fields and collections); set before
    // start(), from --allow-destructive-schema.
    void setAllowDestructiveSchema(bool allow) { m_allowDestructiveSchema = allow; }
    ~ServerApp() override;
    Q_DISABLE_COPY_MOVE(ServerApp)

    // Prepares the data directory and admin token and starts listening.
    bool start(QString *error);
    quint16 port() const;
    QString baseUrl() const;
    QString dataDir() const { return m_dataDir; }
    QByteArray adminToken() const { return m_adminToken; }
    QString adminTokenFile() const { return m_adminTokenFile; }
    // "sqlite <file>" or "postgres <host>:<port>/<name>", for the start-up message.
    QString databaseDescription() const { return m_databaseDescription; }
    bool adminTokenGenerated() const { return m_adminTokenGenerated; }
    // "off", "memory 128 MiB", "memory 128 MiB + redis 127.0.0.1:6379/0", "redis ...".
    QString cacheDescription() const;
    const Config &config() const { return m_config; }
    // For the commands and tests that embed the server (valid after start()).
    UserStore *users() const { return m_users.get(); }
    QueryInsight *queryInsight() const { return m_insight.get(); }
    ConnectionPool *pool() const { return m_pool.get(); }

    // Graceful shutdown; emits finished() when every connection is closed, or when the
    // grace period ran out (then drainedCleanly() is false and worker threads may still be
    // inside a handler: the process should exit without joining them).
    void shutdown();
    bool drainedCleanly() const { return m_drainedCleanly; }
    // Reopens the access log file (for log rotation); part of every SIGHUP.
    void reopenLogs();
    // SIGHUP with the configuration loaded again: applies what can change while running
    // (log.level, ratelimit.rules), reopens the access log, and logs every other changed
    // section as needing a restart.
    void reload(const Config &config);
    RateLimiter *rateLimiter() const { return m_rateLimiter.get(); }
    EventBus &events() { return m_events; }
    JobQueue *jobs() const { return m_jobs.get(); }
    // Handlers an embedding program adds to the built-in job types (before start()).
    JobRegistry &jobRegistry() { return m_jobRegistry; }

Q_SIGNALS:
    void finished();

private:
    void buildPipeline();
    bool buildCache(QString *error);
    bool buildRateLimiter(QString *error);
    void warmCache();
    // Computes the cache.warm responses into the cache (any thread); returns how many.
    int warmConfiguredResponses();
    bool buildJobs(QString *error);
    bool openDatabase(QString *error);
    void checkDrained();

    Config m_config;
    QString m_dataDir;
    QByteArray m_adminToken;
    QString m_adminTokenFile;
    bool m_adminTokenGenerated = false;
    QString m_databaseDescription;

    MetricsRegistry m_metrics;
    HttpMetrics m_httpMetrics;
    HealthRegistry m_health;
    TimeSeries m_series;
    LineSink m_accessLog;
    Router m_router;
    Pipeline m_pipeline;
    SteadyClock m_clock;
    CoarseClock m_cacheClock; // read on every cache lookup; deadlines are in seconds
    std::shared_ptr<const Dialect> m_dialect;
    std::unique_ptr<ConnectionPool> m_pool; // destroyed after m_http, whose threads use it
    std::unique_ptr<DatabaseController> m_database;
    std::shared_ptr<const CollectionSchema> m_schema;
    std::unique_ptr<QueryInsight> m_insight;
    std::unique_ptr<UserStore> m_users;
    std::unique_ptr<CollectionStore> m_store;
    std::unique_ptr<CollectionsController> m_collections;
    std::unique_ptr<ReportsController> m_reports;
    std::unique_ptr<AuthController> m_auth;
    std::unique_ptr<GdprController> m_gdpr;
    bool m_allowDestructiveSchema = false;
    std::shared_ptr<AccessLogStage> m_accessLogStage; // also logs requests rejected early
    std::unique_ptr<RedisClient> m_redis;
    std::unique_ptr<TagVersions> m_tags;
    std::unique_ptr<TieredCache> m_cache;
    std::shared_ptr<ResponseCacheStage> m_cacheStage;
    std::unique_ptr<CacheController> m_cacheController;
    std::unique_ptr<RateLimiter> m_rateLimiter;
    std::unique_ptr<RateLimitController> m_rateLimitController;
    QTimer m_rateLimitSweep;
    BackgroundThread m_background{QStringLiteral("bulwark-background")}; // cache refresh, warming
    EventBus m_events;
    JobRegistry m_jobRegistry;
    std::unique_ptr<JobStore> m_jobStore;
    std::unique_ptr<JobQueue> m_jobs;
    std::unique_ptr<JobsController> m_jobsController;
    std::unique_ptr<LoadTestRunStore> m_loadTestRuns;
    std::unique_ptr<LoadTestsController> m_loadTestsController;
    std::unique_ptr<SystemController> m_system;
    std::unique_ptr<HttpServer> m_http;
    std::unique_ptr<MetricsSampler> m_sampler;
    std::atomic<bool> m_shuttingDown{false};
    QTimer m_drainPoll;
    QTimer m_graceTimer;
    bool m_finished = false;
    bool m_drainedCleanly = false;
};

} // namespace bulwark
