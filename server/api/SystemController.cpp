// SPDX-License-Identifier: GPL-3.0-or-later
// See SystemController.h.
#include "SystemController.h"

#include "ErrorMapping.h"
#include "Version.h"

#include <QDateTime>
#include <QJsonArray>
#include <QThread>

namespace bulwark {

void SystemController::registerRoutes(Router &router) const
{
    router.add("GET", QStringLiteral("/health/live"), [this](RequestContext &) { return live(); });
    router.add("GET", QStringLiteral("/health/ready"),
               [this](RequestContext &) { return ready(); });
    router.add("GET", QStringLiteral("/health"), [this](RequestContext &) { return summary(); });
    router.add("GET", QStringLiteral("/metrics"), [this](RequestContext &) {
        return HttpResponse::bytes(m_s.metrics->exposition(),
                                   "text/plain; version=0.0.4; charset=utf-8")
            .noStore();
    });
    router.add("GET", QStringLiteral("/admin/api/metrics/series"), [this](RequestContext &ctx) {
        bool ok = true;
        const QString raw = ctx.request.queryValue("seconds");
        const int seconds = raw.isEmpty() ? 300 : raw.toInt(&ok);
        if (!ok || seconds < 1 || seconds > m_s.series->capacity())
            return errorResponse(ErrorCode::BadRequest,
                                 QStringLiteral("seconds must be an integer from 1 to %1")
                                     .arg(m_s.series->capacity()),
                                 ctx.requestId);
        return HttpResponse::json(m_s.series->toJson(seconds)).noStore();
    });
    if (m_s.debugEndpoints) {
        router.add("GET", QStringLiteral("/debug/sleep"), [](RequestContext &ctx) {
            bool ok = false;
            const int ms = ctx.request.queryValue("ms").toInt(&ok);
            if (!ok || ms < 0 || ms > 600000)
                return errorResponse(ErrorCode::BadRequest,
                                     QStringLiteral("ms must be an integer from 0 to 600000"),
                                     ctx.requestId);
            QThread::msleep(ulong(ms));
            return HttpResponse::json(QJsonObject{{QStringLiteral("slept_ms"), ms}});
        });
        // A fixed body of n bytes: the benchmark's "same 1 KiB body" and a size probe.
        router.add("GET", QStringLiteral("/debug/bytes"), [](RequestContext &ctx) {
            bool ok = false;
            const int n = ctx.request.queryValue("n").toInt(&ok);
            if (!ok || n < 0 || n > 16 * 1024 * 1024)
                return errorResponse(ErrorCode::BadRequest,
                                     QStringLiteral("n must be an integer from 0 to 16777216"),
                                     ctx.requestId);
            // Cached per thread, like the prebuilt body of the bare-Qt benchmark server.
            thread_local QByteArray body;
            if (body.size() != n)
                body = QByteArray(n, 'x');
            return HttpResponse::bytes(body, QByteArrayLiteral("text/plain"));
        });
    }
}

HttpResponse SystemController::live() const
{
    return HttpResponse::json(QJsonObject{{QStringLiteral("status"), QStringLiteral("live")}})
        .noStore();
}

HttpResponse SystemController::ready() const
{
    QJsonObject components;
    QStringList down;
    for (const ComponentHealth &c : m_s.health->evaluate()) {
        components.insert(c.name, healthStateName(c.state));
        if (c.required && c.state == ComponentHealth::State::Down)
            down.append(c.name);
    }
    const bool shuttingDown = m_s.shuttingDown && m_s.shuttingDown->load();
    if (shuttingDown)
        down.prepend(QStringLiteral("shutdown"));
    QJsonObject body{{QStringLiteral("status"),
                      down.isEmpty() ? QStringLiteral("ready") : QStringLiteral("not_ready")},
                     {QStringLiteral("components"), components}};
    if (!down.isEmpty())
        body.insert(QStringLiteral("down"), QJsonArray::fromStringList(down));
    return HttpResponse::json(body, down.isEmpty() ? 200 : 503).noStore();
}

HttpResponse SystemController::summary() const
{
    QJsonArray components;
    QString overall = QStringLiteral("up");
    for (const ComponentHealth &c : m_s.health->evaluate()) {
        QJsonObject o{{QStringLiteral("name"), c.name},
                      {QStringLiteral("state"), healthStateName(c.state)},
                      {QStringLiteral("required"), c.required}};
        if (!c.detail.isEmpty())
            o.insert(QStringLiteral("detail"), c.detail);
        components.append(o);
        if (c.state == ComponentHealth::State::Down && c.required)
            overall = QStringLiteral("down");
        else if (c.state != ComponentHealth::State::Up && overall == QLatin1String("up"))
            overall = QStringLiteral("degraded");
    }
    if (m_s.shuttingDown && m_s.shuttingDown->load())
        overall = QStringLiteral("shutting_down");
    return HttpResponse::json(
               QJsonObject{
                   {QStringLiteral("status"), overall},
                   {QStringLiteral("version"), QStringLiteral(BULWARK_VERSION)},
                   {QStringLiteral("versions"),
                    QJsonObject{{QStringLiteral("bulwark"), QStringLiteral(BULWARK_VERSION)},
                                {QStringLiteral("qt"), QString::fromLatin1(qVersion())}}},
                   {QStringLiteral("time"), QDateTime::currentDateTimeUtc().toString(Qt::ISODate)},
                   {QStringLiteral("components"), components},
               })
        .noStore();
}

} // namespace bulwark
