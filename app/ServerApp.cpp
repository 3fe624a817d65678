// SPDX-License-Identifier: GPL-3.0-or-later
// See ServerApp.h.
#include "ServerApp.h"

#include "AdminToken.h"
#include "ApiAuthStage.h"
#include "DatabaseSetup.h"
#include "Stages.h"

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

    SystemController::Services services;
    services.health = &m_health;
    services.metrics = &m_metrics;
    services.series = &m_series;
    services.shuttingDown = &m_shuttingDown;
    services.debugEndpoints = m_config.server.debugEndpoints;
    m_system = std::make_unique<SystemController>(services);
    m_system->registerRoutes(m_router);
    m_database->registerRoutes(m_router);
    // Fixed paths and /api/v1/reports/{name} before /api/v1/{collection}/{id}: the first
    // pattern registered wins.
    m_auth->registerRoutes(m_router);
    m_gdpr->registerRoutes(m_router);
    m_reports->registerRoutes(m_router);
    m_collections->registerRoutes(m_router);
    buildPipeline();

    m_http = std::make_unique<HttpServer>(m_config.server, m_config.http.securityHeaders,
                                          m_pipeline, m_httpMetrics);
    ConnectionPool *pool = m_pool.get();
    m_http->setThreadFinalizer([pool] { pool->closeThreadConnections(); });
    if (m_accessLogStage) {
        std::shared_ptr<AccessLogStage> stage = m_accessLogStage;
        m_http->setRejectionLog([stage](const AccessRecord &record) { stage->record(record); });
    }
    if (!m_http->start(error))
        return false;
    m_sampler = std::make_unique<MetricsSampler>(m_httpMetrics, m_series);
    m_sampler->start();
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
    m_auth = std::make_unique<AuthController>(*m_users, m_config.api.sessionTtl);
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
        QStringLiteral("/api/"), QStringList{QStringLiteral("/api/v1/auth/login")}, *m_users));
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
    m_graceTimer.start(int(m_config.server.shutdownGrace.count()));
    m_drainPoll.start();
    checkDrained();
}

void ServerApp::checkDrained()
{
    if (m_finished || m_http->openConnections() > 0)
        return;
    m_drainPoll.stop();
    m_graceTimer.stop();
    m_http->stop();
    m_finished = true;
    m_drainedCleanly = true;
    qInfo("shutdown complete");
    Q_EMIT finished();
}

void ServerApp::reopenLogs()
{
    Logger::install(m_config.log.level);
    if (m_config.log.access != AccessLogMode::Off) {
        QString error;
        if (!m_accessLog.open(m_config.log.accessFile, &error))
            qWarning("cannot reopen the access log %s: %s", qPrintable(m_config.log.accessFile),
                     qPrintable(error));
    }
    qInfo("logs reopened");
}

} // namespace bulwark
