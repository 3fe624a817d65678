// SPDX-License-Identifier: GPL-3.0-or-later
// A path pattern as configuration writes it, for the response-cache policies and the
// rate-limit rules: "/api/v1/{collection}/{id}" where a {name} segment matches any one
// non-empty segment, and, where the caller allows it, a final "**" that matches the rest of
// the path (any number of segments, none included: "/admin/api/**" matches "/admin/api"
// and everything below it). Literal segments compare exactly.
//
// Matching walks the path once, segment by segment, without building a list (it runs for
// every request); patterns are few. No regular expressions on the request path.
#pragma once

#include "Error.h"

#include <QString>
#include <QStringList>
#include <QStringView>

namespace bulwark {

class RoutePattern
{
public:
    enum class Rest
    {
        Forbidden, // "**" is refused (cache policies name whole routes)
        Allowed
    };
    RoutePattern() = default;

    // The error (BadRequest) says what is wrong with the text, e.g. "must be a path starting
    // with /" or "\"{x\" is neither a plain segment nor a {name}".
    static Result<RoutePattern> parse(const QString &text, Rest rest = Rest::Forbidden);

    bool matches(QStringView path) const;
    const QString &text() const { return m_text; }

private:
    QString m_text;
    QStringList m_segments; // literal or "{name}"; without the final "**"
    bool m_rest = false;
    // A pattern without {name} is compared as a whole: the path equals m_literal, or with
    // a final "**" starts with it followed by "/" (one comparison instead of a walk).
    bool m_literalOnly = false;
    QString m_literal;
};

} // namespace bulwark
