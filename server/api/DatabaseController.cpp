// SPDX-License-Identifier: GPL-3.0-or-later
// See DatabaseController.h.
#include "DatabaseController.h"

#include "ErrorMapping.h"
#include "SqlSession.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSqlError>
#include <QSqlQuery>

namespace bulwark {

void DatabaseController::registerRoutes(Router &router) const
{
    router.add("GET", QStringLiteral("/admin/api/db"),
               [this](RequestContext &) { return HttpResponse::json(status()).noStore(); });
    router.add("POST", QStringLiteral("/admin/api/db/maintenance"),
               [this](RequestContext &ctx) { return maintenance(ctx); });
    router.add("POST", QStringLiteral("/admin/api/db/stats/reset"), [this](RequestContext &) {
        m_insight.reset();
        HttpResponse response;
        response.status = 204;
        return response.noStore();
    });
}

QJsonArray DatabaseController::indexUsage() const
{
    QJsonArray out;
    SqlSession sql(m_pool, &m_insight);
    const bool postgres = m_pool.dialect().name() == QLatin1String("postgres");
    const QString text =
        postgres ? QStringLiteral("SELECT relname, indexrelname, idx_scan, idx_tup_read FROM "
                                  "pg_stat_user_indexes ORDER BY relname, indexrelname")
                 : QStringLiteral("SELECT m.tbl_name, m.name, NULL, "
                                  "(SELECT s.stat FROM sqlite_stat1 s WHERE s.idx = m.name) "
                                  "FROM sqlite_master m WHERE m.type = 'index' ORDER BY 1, 2");
    auto q = sql.exec(text);
    if (!q.ok() && !postgres) // no sqlite_stat1 before the first ANALYZE
        q = sql.exec(QStringLiteral("SELECT tbl_name, name, NULL, NULL FROM sqlite_master WHERE "
                                    "type = 'index' ORDER BY 1, 2"));
    if (!q.ok())
        return out;
    while (q.value()->next()) {
        QSqlQuery *r = q.value();
        QJsonObject index{{QStringLiteral("table"), r->value(0).toString()},
                          {QStringLiteral("index"), r->value(1).toString()},
                          {QStringLiteral("scans"), r->value(2).isNull()
                                                        ? QJsonValue()
                                                        : QJsonValue(r->value(2).toDouble())}};
        if (postgres)
            index.insert(QStringLiteral("tuples_read"), r->value(3).toDouble());
        else
            index.insert(QStringLiteral("stat"),
                         r->value(3).isNull() ? QJsonValue() : QJsonValue(r->value(3).toString()));
        out.append(index);
    }
    q.value()->finish();
    return out;
}

HttpResponse DatabaseController::maintenance(RequestContext &ctx) const
{
    QJsonParseError parseError{};
    const QJsonObject body = QJsonDocument::fromJson(ctx.request.body, &parseError).object();
    const QString action = body.value(QStringLiteral("action")).toString();
    const bool postgres = m_pool.dialect().name() == QLatin1String("postgres");
    QString statement;
    if (action == QLatin1String("analyze"))
        statement = QStringLiteral("ANALYZE");
    else if (action == QLatin1String("vacuum"))
        statement = postgres ? QStringLiteral("VACUUM ANALYZE") : QStringLiteral("VACUUM");
    else
        return errorResponse(ErrorCode::BadRequest,
                             QStringLiteral("body: expected {\"action\": \"analyze\"} or "
                                            "{\"action\": \"vacuum\"}"),
                             ctx.requestId);
    SqlSession sql(m_pool, &m_insight);
    QElapsedTimer timer;
    timer.start();
    // VACUUM cannot run inside a transaction, and SQLite's VACUUM needs the write lock.
    std::unique_lock<std::mutex> writeLock;
    if (m_pool.dialect().serializesWrites())
        writeLock = std::unique_lock(m_pool.writeMutex());
    auto done = sql.execUnprepared(statement);
    if (!done.ok())
        return errorResponse(done.error(), ctx.requestId);
    return HttpResponse::json(QJsonObject{{QStringLiteral("action"), action},
                                          {QStringLiteral("statement"), statement},
                                          {QStringLiteral("ms"), double(timer.elapsed())}})
        .noStore();
}

QJsonObject DatabaseController::status() const
{
    const PoolStats s = m_pool.stats();
    return QJsonObject{
        {QStringLiteral("driver"), m_pool.dialect().name()},
        {QStringLiteral("schema_version"), m_schemaVersion},
        {QStringLiteral("pool"), QJsonObject{{QStringLiteral("max_size"), m_maxSize},
                                             {QStringLiteral("total"), s.total},
                                             {QStringLiteral("idle"), s.idle},
                                             {QStringLiteral("active"), s.active},
                                             {QStringLiteral("pending"), s.pending},
                                             {QStringLiteral("created"), double(s.created)},
                                             {QStringLiteral("closed"), double(s.closed)},
                                             {QStringLiteral("acquired"), double(s.acquired)},
                                             {QStringLiteral("timeouts"), double(s.timeouts)},
                                             {QStringLiteral("failures"), double(s.failures)},
                                             {QStringLiteral("reconnects"), double(s.reconnects)},
                                             {QStringLiteral("pings"), double(s.pings)},
                                             {QStringLiteral("leaks"), double(s.leaks)}}},
        {QStringLiteral("acquire_wait"), acquireWait()},
        {QStringLiteral("statements"), statements()},
        {QStringLiteral("slow_query_ms"), m_insight.slowQueryMs()},
        {QStringLiteral("slow_queries"), slowQueries()},
        {QStringLiteral("indexes"), indexUsage()},
    };
}

QJsonObject DatabaseController::acquireWait() const
{
    // The pool's acquire-wait histogram (also bulwark_db_pool_acquire_seconds in /metrics).
    const auto wait = m_pool.acquireWait();
    if (!wait)
        return {};
    return QJsonObject{
        {QStringLiteral("count"), double(wait->count)},
        {QStringLiteral("mean_ms"), wait->count ? wait->sum / double(wait->count) * 1000.0 : 0.0},
        {QStringLiteral("p50_ms"), wait->quantile(0.5) * 1000.0},
        {QStringLiteral("p99_ms"), wait->quantile(0.99) * 1000.0}};
}

QJsonObject DatabaseController::statements() const
{
    QJsonArray top;
    for (const StatementStats &s : m_insight.top(20))
        top.append(
            QJsonObject{{QStringLiteral("sql"), s.sql},
                        {QStringLiteral("calls"), double(s.calls)},
                        {QStringLiteral("errors"), double(s.errors)},
                        {QStringLiteral("rows"), double(s.rows)},
                        {QStringLiteral("total_ms"), s.totalMs},
                        {QStringLiteral("mean_ms"), s.calls ? s.totalMs / double(s.calls) : 0.0},
                        {QStringLiteral("max_ms"), s.maxMs}});
    return QJsonObject{{QStringLiteral("total"), double(m_insight.statementCount())},
                       {QStringLiteral("top"), top}};
}

QJsonArray DatabaseController::slowQueries() const
{
    QJsonArray out;
    for (const SlowQuery &q : m_insight.slowQueries())
        out.append(QJsonObject{{QStringLiteral("sql"), q.sql},
                               {QStringLiteral("ms"), q.ms},
                               {QStringLiteral("at"), q.at.toString(Qt::ISODateWithMs)},
                               {QStringLiteral("plan"), q.plan}});
    return out;
}

ComponentHealth DatabaseController::check() const
{
    ComponentHealth health{QStringLiteral("database"), ComponentHealth::State::Up, QString(), true};
    auto lease = m_pool.acquire();
    if (!lease.ok()) {
        // /health needs no token: the driver's message (hosts, users) goes to the log only.
        qWarning("health: %s", qPrintable(lease.error().message));
        health.state = ComponentHealth::State::Down;
        health.detail =
            lease.error().message.startsWith(QLatin1String("the database is unreachable"))
                ? QStringLiteral("the database is unreachable")
                : lease.error().message;
        return health;
    }
    bool alive = false;
    {
        QSqlQuery query(lease.value().database());
        alive = query.exec(m_pool.dialect().pingStatement());
        if (!alive) {
            qWarning("health: %s", qPrintable(query.lastError().text()));
            health.detail = QStringLiteral("the database does not answer");
        }
    }
    if (!alive) {
        health.state = ComponentHealth::State::Down;
        lease.value().discard(); // broken: the next check opens a fresh connection
    }
    return health;
}

} // namespace bulwark
