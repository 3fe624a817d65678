// SPDX-License-Identifier: GPL-3.0-or-later
// See AccessLogStage.h.
#include "AccessLogStage.h"

#include "ThreadRandom.h"
#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>
#include <random>

namespace bulwark {

HttpResponse AccessLogStage::handle(RequestContext &ctx, const Next &next)
{
    HttpResponse response = next(ctx);
    if (m_mode == AccessLogMode::Off)
        return response;
    const HttpRequest &r = ctx.request;
    AccessRecord record;
    record.method = r.method;
    record.path = r.path;
    record.route = ctx.routePattern;
    record.status = response.status;
    record.bytes = response.body.size();
    record.durationMs = r.secondsSinceReceived() * 1000.0;
    record.remote = r.peer.toString();
    record.version = r.version;
    record.requestId = ctx.requestId;
    record.userAgent = r.header("user-agent");
    this->record(record);
    return response;
}

void AccessLogStage::record(const AccessRecord &r)
{
    if (m_mode == AccessLogMode::Off)
        return;
    if (m_mode == AccessLogMode::Sampled && r.status < 500 &&
        std::uniform_real_distribution<double>(0, 1)(threadRandom()) >= m_sampleRate)
        return;
    QJsonObject line{
        {QStringLiteral("ts"), QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs)},
        {QStringLiteral("type"), QStringLiteral("access")},
        {QStringLiteral("method"), QString::fromLatin1(r.method)},
        {QStringLiteral("path"), r.path},
        {QStringLiteral("status"), r.status},
        {QStringLiteral("bytes"), r.bytes},
        {QStringLiteral("duration_ms"), r.durationMs},
        {QStringLiteral("remote"), r.remote},
        {QStringLiteral("http"), r.version == 10 ? QStringLiteral("1.0") : QStringLiteral("1.1")},
    };
    if (!r.route.isEmpty())
        line.insert(QStringLiteral("route"), r.route);
    if (!r.rejected.isEmpty())
        line.insert(QStringLiteral("rejected"), QString::fromLatin1(r.rejected));
    if (!r.requestId.isEmpty())
        line.insert(QStringLiteral("request_id"), QString::fromLatin1(r.requestId));
    if (!r.userAgent.isEmpty())
        line.insert(QStringLiteral("user_agent"), QString::fromUtf8(r.userAgent.left(256)));
    m_sink.write(QJsonDocument(line).toJson(QJsonDocument::Compact));
}

} // namespace bulwark
