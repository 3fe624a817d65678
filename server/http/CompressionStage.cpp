// SPDX-License-Identifier: GPL-3.0-or-later
// See CompressionStage.h.
#include "CompressionStage.h"

#include <zlib.h>

namespace bulwark {

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
    return (type.size() > 5 && type.first(5).compare("text/", Qt::CaseInsensitive) == 0) ||
           is("application/json") || endsWith("+json") || is("application/javascript") ||
           is("application/xml") || endsWith("+xml") || is("application/x-ndjson");
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
    if (response.body.size() < m_minSize || !isCompressible(response.contentType) ||
        !response.header("Content-Encoding").isEmpty())
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

} // namespace bulwark
