// SPDX-License-Identifier: GPL-3.0-or-later
// See CachePolicies.h. Routes are RoutePatterns (matched segment by segment, no regexes).
#include "CachePolicies.h"

#include <QCryptographicHash>
#include <algorithm>
#include <charconv>

namespace bulwark {

CachePolicies::CachePolicies(QList<CacheRouteConfig> routes)
{
    for (CacheRouteConfig &route : routes) {
        // The configuration loader has checked every route already.
        auto pattern = RoutePattern::parse(route.route);
        if (pattern.ok())
            m_routes.append(Compiled{std::move(route), std::move(pattern.value())});
    }
}

const CacheRouteConfig *CachePolicies::match(const QString &path) const
{
    for (const Compiled &c : m_routes)
        if (c.pattern.matches(path))
            return &c.policy;
    return nullptr;
}

QByteArray CachePolicies::normalisedQuery(QByteArrayView rawQuery)
{
    QVarLengthArray<QByteArrayView, 16> params;
    while (!rawQuery.isEmpty()) {
        const qsizetype amp = rawQuery.indexOf('&');
        const QByteArrayView param = amp < 0 ? rawQuery : rawQuery.first(amp);
        rawQuery = amp < 0 ? QByteArrayView() : rawQuery.sliced(amp + 1);
        if (!param.isEmpty())
            params.append(param);
    }
    // A stable sort keeps repeated names (a=1&a=2) in their order, which may matter.
    std::stable_sort(params.begin(), params.end(), [](QByteArrayView a, QByteArrayView b) {
        const QByteArrayView na = a.first(a.indexOf('=') < 0 ? a.size() : a.indexOf('='));
        const QByteArrayView nb = b.first(b.indexOf('=') < 0 ? b.size() : b.indexOf('='));
        return na < nb;
    });
    QByteArray out;
    for (QByteArrayView p : params) {
        if (!out.isEmpty())
            out.append('&');
        out.append(p);
    }
    return out;
}

QByteArray CachePolicies::key(const CacheRouteConfig &policy, const HttpRequest &request,
                              const std::optional<qint64> &userId)
{
    QByteArray key;
    key.reserve(request.path.size() * 3 + request.rawQuery.size() + 32);
    // The usual ASCII path is narrowed in place, without a temporary UTF-8 copy.
    const qsizetype n = request.path.size();
    key.resize(n);
    char *out = key.data();
    const QChar *in = request.path.constData();
    char16_t high = 0;
    for (qsizetype i = 0; i < n; ++i) {
        high |= in[i].unicode();
        out[i] = char(in[i].unicode());
    }
    if (high >= 0x80)
        key = request.path.toUtf8();
    const qsizetype pathLength = key.size();
    // '|' separates the parts; escaped inside them, no query or header value can forge
    // another user's part.
    if (policy.varyQuery && !request.rawQuery.isEmpty()) {
        // One parameter: nothing to sort, and no copy.
        QByteArray query =
            request.rawQuery.contains('&') ? normalisedQuery(request.rawQuery) : request.rawQuery;
        if (query.contains('|'))
            query.replace('|', "%7C");
        key.append('?').append(query);
    }
    if (userId) {
        char digits[24];
        const auto end = std::to_chars(digits, digits + sizeof digits, *userId).ptr;
        key.append("|u=").append(digits, end - digits);
    }
    for (const QString &name : policy.varyHeaders)
        key.append('|')
            .append(name.toUtf8())
            .append('=')
            .append(request.header(name.toUtf8()).replace('|', "%7C"));
    if (key.size() > kMaxKeyLength) {
        const QByteArray path = key.left(qMin<qsizetype>(pathLength, kMaxKeyLength / 2));
        key = path + "|#" + QCryptographicHash::hash(key, QCryptographicHash::Sha256).toHex();
    }
    return key;
}

} // namespace bulwark
