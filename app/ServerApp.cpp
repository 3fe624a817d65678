// SPDX-License-Identifier: GPL-3.0-or-later
// See ServerApp.h.
#include "ServerApp.h"

#include "AdminToken.h"
#include "ApiAuthStage.h"
#include "CacheTagResolver.h"
#include "CronSchedule.h"
#include "DatabaseSetup.h"
#include "JobHandlers.h"
#include "LoadTestJob.h"
#include "RateLimitRules.h"
#include "RateLimitStage.h"
#include "Stages.h"
#include "ThreadRandom.h"

#include <QElapsedTimer>

#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>
#include <QTemporaryFile>

namespace bulwark {

ServerApp::ServerApp(Config config, QObject *parent)
    : QObject(parent), m_config(std::move(config)), m_httpMetrics(m_metrics),
      m_series(MetricsSampler::seriesNames(), 3600), m_pipeline(m_router)
{
    addProcessCollector(m_metrics);
    m_metrics.addCollector([this](QByteArray &out) {
        out += "# HELP bulwark_events_emitted_total Events queued for subscribers.\n"
               "# TYPE bulwark_events_emitted_total counter\nbulwark_events_emitted_total " +
               QByteArray::number(m_events.emitted()) +
               "\n# HELP bulwark_events_dropped_total Events dropped because the event queue "
               "was full (or at shutdown).\n# TYPE bulwark_events_dropped_total counter\n"
               "bulwark_events_dropped_total " +
               QByteArray::number(m_events.dropped()) +
               "\n# HELP bulwark_event_handler_errors_total Event handlers that threw.\n"
               "# TYPE bulwark_event_handler_errors_total counter\n"
               "bulwark_event_handler_errors_total " +
               QByteArray::number(m_events.handlerErrors()) + '\n';
    });
    m_drainPoll.setInterval(20);
    connect(&m_drainPoll, &QTimer::timeout, this, &ServerApp::checkDrained);
    m_graceTimer.setSingleShot(true);
    connect(&m_graceTimer, &QTimer::timeout, this, [this] {
        qWarning("shutdown grace period of %lld ms ran out with %d connection(s) open; exiting",
                 qlonglong(m_config.server.shutdownGrace.count()), m_http->openConnections());
        m_drainPoll.stop();
        m_finished = true;
        Q_EMIT finished();
    });
}

ServerApp::~ServerApp()
{
    if (m_http)
        m_http->stop();
    if (m_jobs) {
        m_jobs->stop(std::chrono::milliseconds(0));
        // A handler that ignored its token still runs on a thread that uses the queue:
        // leave the queue (and that thread) to the end of the process.
        if (!m_jobs->stoppedCleanly())
            (void)m_jobs.release();
    }
    m_events.stop();
    m_background.stop();
    if (m_cache)
        m_cache->stopSubscriber();
}

bool ServerApp::start(QString *error)
{
    const auto resolved = resolveDataDir(m_config.server);
    if (!resolved.ok()) {
        *error = resolved.error().message;
        return false;
    }
    m_dataDir = resolved.value();
    const AdminTokenResult token = loadOrCreateAdminToken(m_config.admin.token, m_dataDir);
    if (!token.error.isEmpty()) {
        *error = QStringLiteral("admin token: %1").arg(token.error);
        return false;
    }
    m_adminToken = token.token;
    m_adminTokenFile = token.file;
    m_adminTokenGenerated = token.generated;

    QString sinkError;
    if (m_config.log.access != AccessLogMode::Off &&
        !m_accessLog.open(m_config.log.accessFile, &sinkError)) {
        *error = QStringLiteral("log.access_file: cannot open %1: %2")
                     .arg(m_config.log.accessFile, sinkError);
        return false;
    }

    const QString dataDir = m_dataDir;
    m_health.add([dataDir] {
        // Writable means a file can really be created there (permissions, read-only
        // mounts and full disks all show up here).
        QTemporaryFile probe(QDir(dataDir).filePath(QStringLiteral(".health-XXXXXX")));
        const bool ok = probe.open() && probe.write("ok", 2) == 2;
        return ComponentHealth{QStringLiteral("data_dir"),
                               ok ? ComponentHealth::State::Up : ComponentHealth::State::Down,
                               ok ? QString() : QStringLiteral("%1 is not writable").arg(dataDir),
                               true};
    });
    m_health.add([this] {
        const bool accepting = m_http && m_http->isAccepting();
        return ComponentHealth{
            QStringLiteral("http"),
            accepting ? ComponentHealth::State::Up : ComponentHealth::State::Down,
            accepting ? QString() : QStringLiteral("not accepting connections"), true};
    });

    if (!openDatabase(error))
        return false;
    DatabaseController *database = m_database.get();
    m_health.add([database] { return database->check(); });
    if (!buildCache(error) || !buildRateLimiter(error) || !buildJobs(error))
        return false;

    SystemController::Services services;
    services.health = &m_health;
    services.metrics = &m_metrics;
    services.series = &m_series;
    services.shuttingDown = &m_shuttingDown;
    services.debugEndpoints = m_config.server.debugEndpoints;
    m_system = std::make_unique<SystemController>(services);
    m_system->registerRoutes(m_router);
    m_database->registerRoutes(m_router);
    if (m_cacheController)
        m_cacheController->registerRoutes(m_router);
    if (m_rateLimitController)
        m_rateLimitController->registerRoutes(m_router);
    // Fixed paths and /api/v1/reports/{name} before /api/v1/{collection}/{id}: the first
    // pattern registered wins.
    if (m_jobsController)
        m_jobsController->registerRoutes(m_router);
    if (m_loadTestsController)
        m_loadTestsController->registerRoutes(m_router);
    m_auth->registerRoutes(m_router);
    m_gdpr->registerRoutes(m_router);
    m_reports->registerRoutes(m_router);
    m_collections->registerRoutes(m_router);
    buildPipeline();

    m_http = std::make_unique<HttpServer>(m_config.server, m_config.http.securityHeaders,
                                          m_pipeline, m_httpMetrics);
    ConnectionPool *pool = m_pool.get();
    RedisClient *redis = m_redis.get();
    auto closeThreadConnections = [pool, redis] {
        pool->closeThreadConnections();
        if (redis)
            redis->closeThreadConnection();
    };
    m_http->setThreadFinalizer(closeThreadConnections);
    m_background.setFinalizer(closeThreadConnections);
    if (m_jobs)
        m_jobs->setThreadFinalizer(closeThreadConnections);
    m_events.setThreadFinalizer(closeThreadConnections);
    m_background.start();
    if (m_accessLogStage) {
        std::shared_ptr<AccessLogStage> stage = m_accessLogStage;
        m_http->setRejectionLog([stage](const AccessRecord &record) { stage->record(record); });
    }
    if (!m_http->start(error))
        return false;
    m_sampler = std::make_unique<MetricsSampler>(m_httpMetrics, m_series);
    if (m_cache) {
        TieredCache *cache = m_cache.get();
        m_sampler->setCacheCounters([cache] {
            const TieredCache::Stats s = cache->stats();
            const TieredCache::TierStats &first = s.memoryEnabled ? s.memoryTier : s.redisTier;
            return std::pair<double, double>(double(s.memoryTier.hits + s.memoryTier.stale +
                                                    s.redisTier.hits + s.redisTier.stale),
                                             double(first.hits + first.misses + first.stale));
        });
    }
    if (m_rateLimiter) {
        RateLimiter *limiter = m_rateLimiter.get();
        m_sampler->setRateLimitCounters([limiter] {
            return std::pair<double, double>(double(limiter->totalDecisions()),
                                             double(limiter->totalLimited()));
        });
    }
    if (m_jobs) {
        JobQueue *jobs = m_jobs.get();
        m_sampler->setJobCounters([jobs] {
            const JobQueue::LocalStats local = jobs->localStats();
            const JobQueue::DepthSnapshot depth = jobs->depth();
            MetricsSampler::JobCounters c;
            for (const JobStore::Depth &d : depth.depth)
                c.waiting += double(d.ready + d.scheduled + d.retrying);
            c.running = local.busy;
            c.succeeded = double(local.succeeded);
            c.failed = double(local.failed);
            return c;
        });
    }
    m_sampler->start();
    m_events.start();
    if (m_jobs)
        m_jobs->start();
    if (m_cache) {
        m_cache->startSubscriber();
        warmCache();
    }
    return true;
}

bool ServerApp::buildCache(QString *error)
{
    if (!m_config.redis.url.isEmpty()) {
        auto options = RedisOptions::fromUrl(m_config.redis.url);
        if (!options.ok()) {
            *error = QStringLiteral("redis.url: %1").arg(options.error().message);
            return false;
        }
        RedisOptions o = options.value();
        o.connectTimeout = m_config.redis.connectTimeout;
        o.commandTimeout = m_config.redis.commandTimeout;
        o.breaker.threshold = m_config.redis.breakerThreshold;
        o.breaker.backoffMin = m_config.redis.backoffMin;
        o.breaker.backoffMax = m_config.redis.backoffMax;
        m_redis = std::make_unique<RedisClient>(o, m_clock);
    }
    const CacheConfig &c = m_config.cache;
    if (!c.enabled)
        return true;
    QStringList collections;
    for (const CollectionDef &def : m_schema->collections())
        collections.append(def.name);
    m_tags = std::make_unique<TagVersions>(collections);
    TieredCacheOptions options;
    options.memory = c.memoryEnabled;
    options.memoryOptions.maxBytes = c.memoryMaxBytes;
    // Each shard gets max_bytes / shards and cannot hold a larger entry: keep room for at
    // least four of the largest cacheable responses per shard (64 shards at most).
    options.memoryOptions.shards =
        int(std::clamp<qint64>(c.memoryMaxBytes / (4 * c.maxEntrySize), 1, 64));
    options.keyPrefix = m_config.redis.keyPrefix.toUtf8();
    options.instanceId = QByteArray::number(quint64(threadRandom()()), 16);
    m_cache = std::make_unique<TieredCache>(options, m_cacheClock, *m_tags,
                                            c.redisEnabled ? m_redis.get() : nullptr);
    m_cache->addMetrics(m_metrics);

    // Every committed write invalidates the collections it changed (SqlSession::markChanged).
    TieredCache *cache = m_cache.get();
    TagVersions *tags = m_tags.get();
    EventBus *events = &m_events;
    m_pool->setChangeListener([cache, tags, events](const QStringList &tables) {
        QList<int> changed;
        QStringList names;
        for (const QString &table : tables)
            if (const int tag = tags->indexOf(table); tag >= 0) {
                changed.append(tag);
                names.append(table);
            }
        cache->invalidateTags(changed);
        if (!names.isEmpty() && events->hasSubscribers(QStringLiteral("cache.invalidated")))
            events->emitEvent(QStringLiteral("cache.invalidated"),
                              QJsonObject{{QStringLiteral("tags"), QJsonArray::fromStringList(names)},
                                          {QStringLiteral("reason"), QStringLiteral("write")}});
    });

    ResponseCacheOptions stageOptions;
    stageOptions.staleWhileRevalidate = c.staleWhileRevalidate;
    stageOptions.ttlJitter = c.ttlJitter;
    stageOptions.maxEntrySize = c.maxEntrySize;
    stageOptions.lockTimeout = c.lockTimeout;
    m_cacheStage = std::make_shared<ResponseCacheStage>(*m_cache, CachePolicies(c.routes),
                                                        cacheTagResolver(m_schema, *m_tags),
                                                        stageOptions, &m_background);
    m_cacheController =
        std::make_unique<CacheController>(*m_cache, *m_cacheStage, m_redis.get(), c.routes);
    m_cacheController->setEvents(&m_events);
    CacheController *controller = m_cacheController.get();
    m_health.add([controller] { return controller->check(); });
    return true;
}

bool ServerApp::buildRateLimiter(QString *error)
{
    const RateLimitConfig &c = m_config.ratelimit;
    if (!c.enabled)
        return true;
    RateLimiter::Options options =
        RateLimiter::optionsFrom(c, m_config.redis.keyPrefix.toUtf8());
    // The endpoint scope counts per route pattern, as the router will match it.
    const Router *router = &m_router;
    options.endpoint = [router](QByteArrayView method, QStringView path) {
        const Router::Match match = router->match(method.toByteArray(), path.toString());
        return match.kind == Router::Match::Kind::Found ? match.pattern : QStringLiteral("unmatched");
    };
    m_rateLimiter = std::make_unique<RateLimiter>(options, m_cacheClock, m_redis.get());
    if (auto set = m_rateLimiter->setRules(c.rules); !set.ok()) {
        *error = QStringLiteral("ratelimit.rules: %1").arg(set.error().message);
        return false;
    }
    m_rateLimiter->addMetrics(m_metrics);
    m_rateLimitController = std::make_unique<RateLimitController>(*m_rateLimiter);
    RateLimitController *controller = m_rateLimitController.get();
    m_health.add([controller] { return controller->check(); });
    RateLimiter *limiter = m_rateLimiter.get();
    m_rateLimitSweep.setInterval(10'000);
    connect(&m_rateLimitSweep, &QTimer::timeout, this, [limiter] { limiter->sweep(); });
    m_rateLimitSweep.start();
    return true;
}

void ServerApp::warmCache()
{
    if (m_config.cache.warm.isEmpty())
        return;
    // In the background thread: start-up is not held up, and the first requests for a
    // warmed path that arrive before it is done simply compute it themselves.
    m_background.post([this] { warmConfiguredResponses(); });
}

int ServerApp::warmConfiguredResponses()
{
    if (!m_cacheStage)
        return 0;
    QElapsedTimer timer;
    timer.start();
    const QList<CacheWarmConfig> &warm = m_config.cache.warm;
    const Next next = m_pipeline.nextAfter(m_cacheStage.get());
    int stored = 0;
    for (const CacheWarmConfig &w : warm) {
        auto user = m_users->findUser(w.user);
        if (!user.ok()) {
            qWarning("cache.warm: %s: user %s: %s", qPrintable(w.path), qPrintable(w.user),
                     qPrintable(user.error().message));
            continue;
        }
        RequestContext ctx;
        ctx.request.method = "GET";
        const qsizetype q = w.path.indexOf('?');
        ctx.request.path = q < 0 ? w.path : w.path.left(q);
        ctx.request.rawQuery = q < 0 ? QByteArray() : w.path.mid(q + 1).toUtf8();
        ctx.request.received = std::chrono::steady_clock::now();
        ctx.principal = Principal{user.value().id, user.value().role == "admin", 0};
        const int status = m_cacheStage->warm(ctx, next);
        if (status == 200)
            ++stored;
        else
            qWarning("cache.warm: %s as %s: status %d, not cached", qPrintable(w.path),
                     qPrintable(w.user), status);
    }
    qInfo("cache warmed: %d of %lld responses in %lld ms", stored, qlonglong(warm.size()),
          qlonglong(timer.elapsed()));
    return stored;
}

bool ServerApp::buildJobs(QString *error)
{
    const JobsConfig &c = m_config.jobs;
    m_collections->setEvents(&m_events);
    m_gdpr->setEvents(&m_events);
    m_gdpr->setExportDir(QDir(m_dataDir).filePath(QStringLiteral("exports")));
    if (!c.enabled)
        return true;
    m_jobStore = std::make_unique<JobStore>(*m_pool, m_insight.get());
    BuiltinJobServices services;
    services.jobs = c;
    services.webhooks = m_config.webhooks;
    services.exportDir = QDir(m_dataDir).filePath(QStringLiteral("exports"));
    services.store = m_jobStore.get();
    services.pool = m_pool.get();
    services.insight = m_insight.get();
    services.gdpr = m_gdpr.get();
    if (m_cache)
        services.warmCache = [this] { return warmConfiguredResponses(); };
    registerBuiltinJobs(m_jobRegistry, services);
    // Load tests run as jobs (their runs are rows in loadtest_runs).
    m_loadTestRuns = std::make_unique<LoadTestRunStore>(*m_pool, m_insight.get());
    registerLoadTestJob(m_jobRegistry, LoadTestJobServices{c, m_loadTestRuns.get(), m_redis.get()});
    if (auto applied = m_jobRegistry.applyConfig(c); !applied.ok()) {
        *error = applied.error().message;
        return false;
    }
    QList<JobQueue::CronEntry> cron;
    for (qsizetype i = 0; i < c.cron.size(); ++i) {
        const CronJobConfig &entry = c.cron.at(i);
        const JobRegistry::Entry *type = m_jobRegistry.find(entry.type);
        if (!type) {
            *error = QStringLiteral("jobs.cron[%1].type: no job type \"%2\" (known: %3)")
                         .arg(i)
                         .arg(entry.type, m_jobRegistry.types().join(QStringLiteral(", ")));
            return false;
        }
        auto schedule = CronSchedule::parse(entry.schedule);
        if (!schedule.ok()) {
            *error = QStringLiteral("jobs.cron[%1].schedule: %2").arg(i).arg(schedule.error().message);
            return false;
        }
        JobSpec spec;
        spec.type = entry.type;
        spec.payload = QJsonDocument::fromJson(entry.payload.toUtf8()).object();
        if (type->options.validate)
            if (const QString problem = type->options.validate(spec.payload); !problem.isEmpty()) {
                *error = QStringLiteral("jobs.cron[%1].payload: %2").arg(i).arg(problem);
                return false;
            }
        spec.queue = type->options.queue;
        spec.priority = entry.priority.isEmpty()
                            ? type->options.priority
                            : jobPriorityFromName(entry.priority).value_or(type->options.priority);
        spec.maxAttempts = type->options.retry.maxAttempts;
        cron.append(JobQueue::CronEntry{entry.name, schedule.value(), spec});
    }
    JobQueue::Options options;
    options.workers = c.workers;
    options.claimBatch = c.claimBatch;
    options.pollInterval = c.pollInterval;
    options.lease = c.lease;
    options.queues = c.queues;
    m_jobs = std::make_unique<JobQueue>(*m_jobStore, m_jobRegistry, options, &m_events, &m_metrics);
    m_jobs->setCron(cron);
    subscribeWebhooks(m_events, *m_jobs, m_config.webhooks.endpoints);
    m_jobsController = std::make_unique<JobsController>(*m_jobs, services.exportDir,
                                                        m_config.webhooks.endpoints);
    m_loadTestsController =
        std::make_unique<LoadTestsController>(*m_loadTestRuns, *m_jobs, m_redis != nullptr);
    JobQueue *jobs = m_jobs.get();
    m_health.add([jobs] {
        const bool stopped = jobs->isStopped();
        return ComponentHealth{QStringLiteral("jobs"),
                               stopped ? ComponentHealth::State::Down : ComponentHealth::State::Up,
                               stopped ? QStringLiteral("the job workers have stopped")
                                       : QString(),
                               false};
    });
    return true;
}

bool ServerApp::openDatabase(QString *error)
{
    auto setup = bulwark::openDatabase(m_config.db, m_dataDir, m_clock, &m_metrics,
                                       m_allowDestructiveSchema);
    if (!setup.ok()) {
        *error = setup.error().message;
        return false;
    }
    m_dialect = setup.value().dialect;
    m_pool = std::move(setup.value().pool);
    m_databaseDescription = setup.value().description;
    m_schema = setup.value().schema;
    m_insight = std::make_unique<QueryInsight>(double(m_config.db.slowQueryMs), &m_metrics);
    m_database = std::make_unique<DatabaseController>(
        *m_pool, *m_insight, setup.value().schemaVersion, m_config.db.poolMaxSize);
    UserStoreOptions userOptions;
    userOptions.insight = m_insight.get();
    userOptions.cacheTtl = m_config.api.keyCacheTtl;
    m_users = std::make_unique<UserStore>(*m_pool, m_clock, userOptions);
    StoreLimits limits;
    limits.maxLimit = m_config.api.maxLimit;
    limits.maxBatch = m_config.api.batchMax;
    m_store = std::make_unique<CollectionStore>(*m_schema, limits);
    m_collections = std::make_unique<CollectionsController>(*m_store, *m_pool, *m_insight,
                                                            m_config.api.defaultLimit);
    m_reports = std::make_unique<ReportsController>(*m_schema, *m_pool, *m_insight);
    m_auth = std::make_unique<AuthController>(*m_users, m_config.api.sessionTtl,
                                              m_config.api.openRegistration);
    m_gdpr = std::make_unique<GdprController>(*m_store, *m_users, *m_pool, *m_insight);
    return true;
}

void ServerApp::buildPipeline()
{
    // Outermost first. See Pipeline.h and DESIGN.md ("Request pipeline").
    const HttpFeaturesConfig &f = m_config.http;
    if (f.metrics)
        m_pipeline.append(std::make_shared<MetricsStage>(m_httpMetrics));
    if (m_config.log.access != AccessLogMode::Off) {
        m_accessLogStage = std::make_shared<AccessLogStage>(m_accessLog, m_config.log.access,
                                                            m_config.log.accessSampleRate);
        m_pipeline.append(m_accessLogStage);
    }
    if (f.securityHeaders)
        m_pipeline.append(std::make_shared<SecurityHeadersStage>(m_config.server.tls.enabled()));
    if (f.compression)
        m_pipeline.append(
            std::make_shared<CompressionStage>(f.compressionMinSize, f.compressionLevel));
    if (f.requestId)
        m_pipeline.append(std::make_shared<RequestIdStage>());
    m_pipeline.append(
        std::make_shared<BearerAuthStage>(QStringLiteral("/admin/api/"), m_adminToken));
    m_pipeline.append(std::make_shared<ApiAuthStage>(
        QStringLiteral("/api/"),
        QStringList{QStringLiteral("/api/v1/auth/login"), QStringLiteral("/api/v1/auth/register")},
        *m_users));
    if (m_rateLimiter)
        m_pipeline.append(std::make_shared<RateLimitStage>(
            *m_rateLimiter, &CollectionsController::batchOperations, &m_events));
    if (m_cacheStage)
        m_pipeline.append(m_cacheStage);
}

QString ServerApp::cacheDescription() const
{
    if (!m_cache)
        return QStringLiteral("off");
    QStringList tiers;
    if (m_cache->memoryEnabled())
        tiers.append(QStringLiteral("memory %1 MiB")
                         .arg(double(m_config.cache.memoryMaxBytes) / (1024 * 1024), 0, 'g', 4));
    if (m_cache->redisEnabled())
        tiers.append(QStringLiteral("redis %1").arg(m_redis->options().describe()));
    return tiers.isEmpty() ? QStringLiteral("no tier (memory off, no redis.url)")
                           : tiers.join(QStringLiteral(" + "));
}

quint16 ServerApp::port() const
{
    return m_http ? m_http->port() : 0;
}

QString ServerApp::baseUrl() const
{
    QHostAddress host = m_config.server.address;
    QString hostText = host.toString();
    if (host == QHostAddress::Any || host == QHostAddress::AnyIPv4)
        hostText = QStringLiteral("127.0.0.1");
    else if (host == QHostAddress::AnyIPv6)
        hostText = QStringLiteral("[::1]");
    else if (host.protocol() == QAbstractSocket::IPv6Protocol)
        hostText = QStringLiteral("[%1]").arg(hostText);
    return QStringLiteral("%1://%2:%3")
        .arg(m_http && m_http->isTls() ? QStringLiteral("https") : QStringLiteral("http"), hostText)
        .arg(port());
}

void ServerApp::shutdown()
{
    if (m_shuttingDown.exchange(true))
        return;
    qInfo("shutting down: readiness off, no new connections, waiting up to %lld ms for in-flight "
          "requests",
          qlonglong(m_config.server.shutdownGrace.count()));
    m_http->beginDrain();
    if (m_jobs) {
        // Jobs still running shortly before the grace period ends are released (their
        // attempt not counted), so the release is stored before the process exits.
        const auto grace = m_config.server.shutdownGrace;
        m_jobs->beginShutdown(grace - std::min(grace / 5, std::chrono::milliseconds(1000)));
    }
    m_graceTimer.start(int(m_config.server.shutdownGrace.count()));
    m_drainPoll.start();
    checkDrained();
}

void ServerApp::checkDrained()
{
    if (m_finished || m_http->openConnections() > 0 || (m_jobs && !m_jobs->isStopped()))
        return;
    m_drainPoll.stop();
    m_graceTimer.stop();
    m_http->stop();
    m_finished = true;
    // A job handler that ignored its cancellation still holds a thread: exit without it.
    m_drainedCleanly = !m_jobs || m_jobs->stoppedCleanly();
    qInfo("shutdown complete");
    Q_EMIT finished();
}

void ServerApp::reopenLogs()
{
    if (m_config.log.access != AccessLogMode::Off) {
        QString error;
        if (!m_accessLog.open(m_config.log.accessFile, &error))
            qWarning("cannot reopen the access log %s: %s", qPrintable(m_config.log.accessFile),
                     qPrintable(error));
    }
    qInfo("logs reopened");
}

void ServerApp::reload(const Config &config)
{
    if (config.log.level != m_config.log.level) {
        m_config.log.level = config.log.level;
        Logger::install(m_config.log.level);
    }
    reopenLogs();
    // Compared with the rules in force, so that rules set through the admin API are
    // replaced by the file's on a reload (the file is where rules last).
    const bool rulesDiffer = m_rateLimiter ? config.ratelimit.rules != m_rateLimiter->rules()
                                           : config.ratelimit.rules != m_config.ratelimit.rules;
    if (rulesDiffer) {
        if (!m_rateLimiter) {
            qWarning("reload: ratelimit.rules changed but rate limiting is off "
                     "(ratelimit.enabled); not applied");
        } else if (auto set = m_rateLimiter->setRules(config.ratelimit.rules); !set.ok()) {
            qWarning("reload: ratelimit.rules not applied: %s", qPrintable(set.error().message));
        } else {
            m_config.ratelimit.rules = config.ratelimit.rules;
            qInfo("reload: %lld rate-limit rule(s) applied", qlonglong(config.ratelimit.rules.size()));
        }
    }
    // Everything else is read once at start.
    Config rest = config;
    rest.log.level = m_config.log.level;
    rest.ratelimit.rules = m_config.ratelimit.rules;
    QStringList restart;
    if (rest.server != m_config.server)
        restart.append(QStringLiteral("server"));
    if (rest.http != m_config.http)
        restart.append(QStringLiteral("http"));
    if (rest.log != m_config.log)
        restart.append(QStringLiteral("log"));
    if (rest.db != m_config.db)
        restart.append(QStringLiteral("db"));
    if (rest.api != m_config.api)
        restart.append(QStringLiteral("api"));
    if (rest.admin != m_config.admin)
        restart.append(QStringLiteral("admin"));
    if (rest.cache != m_config.cache)
        restart.append(QStringLiteral("cache"));
    if (rest.redis != m_config.redis)
        restart.append(QStringLiteral("redis"));
    if (rest.ratelimit != m_config.ratelimit)
        restart.append(QStringLiteral("ratelimit (other than rules)"));
    if (rest.jobs != m_config.jobs)
        restart.append(QStringLiteral("jobs"));
    if (rest.webhooks != m_config.webhooks)
        restart.append(QStringLiteral("webhooks"));
    if (!restart.isEmpty())
        qWarning("reload: changes to %s take effect at the next restart",
                 qPrintable(restart.join(QStringLiteral(", "))));
    m_events.emitEvent(QStringLiteral("config.reloaded"),
                       QJsonObject{{QStringLiteral("file"), config.sourceFile},
                                   {QStringLiteral("rules_applied"), rulesDiffer},
                                   {QStringLiteral("needs_restart"),
                                    QJsonArray::fromStringList(restart)}});
}

} // namespace bulwark
