// SPDX-License-Identifier: GPL-3.0-or-later
// See RoutePattern.h.
#include "RoutePattern.h"

namespace bulwark {

namespace {

bool isParameter(const QString &segment)
{
    if (segment.size() < 3 || !segment.startsWith(u'{') || !segment.endsWith(u'}'))
        return false;
    for (qsizetype i = 1; i + 1 < segment.size(); ++i) {
        const QChar c = segment.at(i);
        const bool letter = (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || c == u'_';
        if (!letter && !(i > 1 && c >= u'0' && c <= u'9'))
            return false;
    }
    return true;
}

} // namespace

Result<RoutePattern> RoutePattern::parse(const QString &text, Rest rest)
{
    if (!text.startsWith(u'/'))
        return Error{ErrorCode::BadRequest, QStringLiteral("must be a path starting with /")};
    RoutePattern p;
    p.m_text = text;
    p.m_segments = text.split(u'/');
    if (p.m_segments.last() == QStringLiteral("**")) {
        if (rest == Rest::Forbidden)
            return Error{ErrorCode::BadRequest,
                         QStringLiteral("\"**\" is not allowed here; name the route")};
        p.m_rest = true;
        p.m_segments.removeLast();
    }
    for (qsizetype i = 0; i < p.m_segments.size(); ++i) {
        const QString &s = p.m_segments.at(i);
        if (s == QStringLiteral("**"))
            return Error{ErrorCode::BadRequest,
                         QStringLiteral("\"**\" may only be the last segment")};
        if ((s.contains(u'{') || s.contains(u'}') || s.contains(u'*')) && !isParameter(s))
            return Error{ErrorCode::BadRequest,
                         QStringLiteral("\"%1\" is neither a plain segment nor a {name}").arg(s)};
    }
    p.m_literalOnly = !text.contains(u'{');
    p.m_literal = p.m_segments.join(u'/');
    return p;
}

bool RoutePattern::matches(QStringView path) const
{
    if (m_segments.isEmpty())
        return false;
    if (m_literalOnly) {
        if (!m_rest)
            return path == m_literal;
        // "/**" (m_literal empty) matches every path; "/a/**" matches "/a" and "/a/...".
        return path.startsWith(m_literal) &&
               (path.size() == m_literal.size() || path.at(m_literal.size()) == u'/');
    }
    QStringView rest = path;
    for (qsizetype i = 0; i < m_segments.size(); ++i) {
        const qsizetype slash = rest.indexOf(u'/');
        const bool lastOfPattern = i + 1 == m_segments.size();
        const bool lastOfPath = slash < 0;
        if (lastOfPath && !lastOfPattern)
            return false; // the path is shorter than the pattern
        if (lastOfPattern && !lastOfPath && !m_rest)
            return false; // longer, and no "**" takes the rest
        const QStringView part = lastOfPath ? rest : rest.first(slash);
        const QString &segment = m_segments.at(i);
        if (segment.startsWith(u'{') ? part.isEmpty() : part != segment)
            return false;
        if (!lastOfPath)
            rest = rest.sliced(slash + 1);
    }
    return true;
}

} // namespace bulwark
