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
    if (m_mode == AccessLogMode::Sampled && response.status < 500 &&
        std::uniform_real_distribution<double>(0, 1)(threadRandom()) >= m_sampleRate)
        return response;
    const HttpRequest &r = ctx.request;
    QJsonObject line{
        {QStringLiteral("ts"), QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs)},
        {QStringLiteral("type"), QStringLiteral("access")},
        {QStringLiteral("method"), QString::fromLatin1(r.method)},
        {QStringLiteral("path"), r.path},
        {QStringLiteral("route"), ctx.routePattern},
        {QStringLiteral("status"), response.status},
        {QStringLiteral("bytes"), response.body.size()},
        {QStringLiteral("duration_ms"), r.secondsSinceReceived() * 1000.0},
        {QStringLiteral("remote"), r.peer.toString()},
        {QStringLiteral("http"), r.version == 10 ? QStringLiteral("1.0") : QStringLiteral("1.1")},
    };
    if (!ctx.requestId.isEmpty())
        line.insert(QStringLiteral("request_id"), QString::fromLatin1(ctx.requestId));
    const QByteArray agent = r.header("user-agent");
    if (!agent.isEmpty())
        line.insert(QStringLiteral("user_agent"), QString::fromUtf8(agent.left(256)));
    m_sink.write(QJsonDocument(line).toJson(QJsonDocument::Compact));
    return response;
}

} // namespace bulwark
