// SPDX-License-Identifier: GPL-3.0-or-later
// See Stages.h.
#include "Stages.h"

#include "ErrorMapping.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <random>
#include <zlib.h>

namespace bulwark {

namespace {
double secondsSince(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::mt19937_64 &threadRng()
{
    // Seeded once per thread from the system CSPRNG; request ids need uniqueness, not secrecy.
    thread_local std::mt19937_64 rng(QRandomGenerator::system()->generate64());
    return rng;
}
} // namespace

bool RequestIdStage::isWellFormed(const QByteArray &id)
{
    if (id.isEmpty() || id.size() > 128)
        return false;
    for (char c : id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                     || c == '-' || c == '_' || c == '.' || c == ':';
        if (!ok)
            return false;
    }
    return true;
}

QByteArray RequestIdStage::generate()
{
    const quint64 words[2] = {threadRng()(), threadRng()()};
    return QByteArray(reinterpret_cast<const char *>(words), sizeof words).toHex();
}

HttpResponse RequestIdStage::handle(RequestContext &ctx, const Next &next)
{
    const QByteArray given = ctx.request.header("x-request-id");
    ctx.requestId = isWellFormed(given) ? given : generate();
    HttpResponse response = next(ctx);
    response.setHeader(QByteArrayLiteral("X-Request-Id"), ctx.requestId);
    return response;
}

HttpResponse SecurityHeadersStage::handle(RequestContext &ctx, const Next &next)
{
    HttpResponse response = next(ctx);
    apply(response, m_tls);
    return response;
}

void SecurityHeadersStage::apply(HttpResponse &response, bool tls)
{
    response.setHeader(QByteArrayLiteral("X-Content-Type-Options"), QByteArrayLiteral("nosniff"));
    response.setHeader(QByteArrayLiteral("X-Frame-Options"), QByteArrayLiteral("DENY"));
    response.setHeader(QByteArrayLiteral("Referrer-Policy"), QByteArrayLiteral("no-referrer"));
    if (response.header("Content-Security-Policy").isEmpty())
        response.setHeader(QByteArrayLiteral("Content-Security-Policy"), QByteArrayLiteral("default-src 'none'; frame-ancestors 'none'"));
    if (tls)
        response.setHeader(QByteArrayLiteral("Strict-Transport-Security"), QByteArrayLiteral("max-age=31536000; includeSubDomains"));
}

bool CompressionStage::acceptsGzip(const QByteArray &acceptEncoding)
{
    bool wildcard = false;
    for (const QByteArray &item : acceptEncoding.split(',')) {
        const QList<QByteArray> parts = item.split(';');
        const QByteArray coding = parts.first().trimmed().toLower();
        double q = 1.0;
        for (qsizetype i = 1; i < parts.size(); ++i) {
            const QByteArray p = parts[i].trimmed().toLower();
            if (p.startsWith("q="))
                q = p.mid(2).toDouble();
        }
        if (coding == "gzip" || coding == "x-gzip")
            return q > 0;
        if (coding == "*")
            wildcard = q > 0;
    }
    return wildcard;
}

bool CompressionStage::isCompressible(const QByteArray &contentType)
{
    // Runs for every response above the size threshold: views only, no allocation.
    QByteArrayView type(contentType);
    const qsizetype semicolon = type.indexOf(';');
    if (semicolon >= 0)
        type = type.first(semicolon);
    type = type.trimmed();
    auto is = [&type](QByteArrayView v) { return type.compare(v, Qt::CaseInsensitive) == 0; };
    auto endsWith = [&type](QByteArrayView v) {
        return type.size() >= v.size() && type.last(v.size()).compare(v, Qt::CaseInsensitive) == 0;
    };
    return (type.size() > 5 && type.first(5).compare("text/", Qt::CaseInsensitive) == 0)
        || is("application/json") || endsWith("+json") || is("application/javascript")
        || is("application/xml") || endsWith("+xml") || is("application/x-ndjson");
}

QByteArray CompressionStage::gzip(const QByteArray &data, int level)
{
    z_stream zs{};
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return {};
    QByteArray out;
    out.resize(qsizetype(deflateBound(&zs, uLong(data.size()))) + 32);
    zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.constData()));
    zs.avail_in = uInt(data.size());
    zs.next_out = reinterpret_cast<Bytef *>(out.data());
    zs.avail_out = uInt(out.size());
    const int rc = deflate(&zs, Z_FINISH);
    const qsizetype written = qsizetype(zs.total_out);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END)
        return {};
    out.resize(written);
    return out;
}

HttpResponse CompressionStage::handle(RequestContext &ctx, const Next &next)
{
    HttpResponse response = next(ctx);
    if (response.body.size() < m_minSize || !isCompressible(response.contentType)
        || !response.header("Content-Encoding").isEmpty())
        return response;
    response.addHeader(QByteArrayLiteral("Vary"), QByteArrayLiteral("Accept-Encoding"));
    const QByteArray acceptEncoding = ctx.request.header("accept-encoding");
    if (acceptEncoding.isEmpty() || !acceptsGzip(acceptEncoding))
        return response;
    QByteArray compressed = gzip(response.body, m_level);
    if (compressed.isEmpty() || compressed.size() >= response.body.size())
        return response;
    response.body = std::move(compressed);
    response.setHeader(QByteArrayLiteral("Content-Encoding"), QByteArrayLiteral("gzip"));
    return response;
}

HttpResponse MetricsStage::handle(RequestContext &ctx, const Next &next)
{
    m_metrics.inFlight.inc();
    HttpResponse response = next(ctx);
    m_metrics.inFlight.dec();
    m_metrics.recordRequest(ctx.request.method, ctx.routePattern, response.status,
                            secondsSince(ctx.request.received));
    return response;
}

HttpResponse AccessLogStage::handle(RequestContext &ctx, const Next &next)
{
    HttpResponse response = next(ctx);
    if (m_mode == AccessLogMode::Off)
        return response;
    if (m_mode == AccessLogMode::Sampled && response.status < 500
        && std::uniform_real_distribution<double>(0, 1)(threadRng()) >= m_sampleRate)
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
        {QStringLiteral("duration_ms"), secondsSince(r.received) * 1000.0},
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

bool BearerAuthStage::constantTimeEquals(QByteArrayView a, QByteArrayView b)
{
    // The length is not secret (the token format is public); the content is.
    if (a.size() != b.size())
        return false;
    unsigned char diff = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        diff |= uchar(a[i]) ^ uchar(b[i]);
    return diff == 0;
}

HttpResponse BearerAuthStage::handle(RequestContext &ctx, const Next &next)
{
    if (!ctx.request.path.startsWith(m_prefix))
        return next(ctx);
    const QByteArray auth = ctx.request.header("authorization");
    const bool bearer = auth.size() > 7 && auth.first(7).compare("bearer ", Qt::CaseInsensitive) == 0;
    if (bearer && constantTimeEquals(QByteArrayView(auth).sliced(7).trimmed(), m_token))
        return next(ctx);
    ctx.routePattern = m_prefix + QStringLiteral("*");
    HttpResponse response = errorResponse(
        ErrorCode::Unauthorized,
        bearer ? QStringLiteral("invalid admin token")
               : QStringLiteral("this endpoint needs Authorization: Bearer <admin token>"),
        ctx.requestId);
    response.setHeader(QByteArrayLiteral("WWW-Authenticate"), QByteArrayLiteral("Bearer realm=\"bulwark-admin\""));
    return response;
}

} // namespace bulwark
