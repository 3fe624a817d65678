// SPDX-License-Identifier: GPL-3.0-or-later
// Matching of If-Match / If-None-Match lists against an entity tag (RFC 9110 13.1): the
// data API checks both on writes and reads, and the response cache answers If-None-Match
// from a stored response without running the handler. One matcher for both.
#pragma once

#include <QByteArray>
#include <QByteArrayView>

namespace bulwark {

// True when `header` (a comma-separated list of tags, or "*") names `tag`. `weak` is the
// weak comparison of If-None-Match: a W/ prefix on a listed tag is ignored. If-Match uses
// the strong comparison (weak = false), under which W/"x" never matches "x".
inline bool entityTagListMatches(QByteArrayView header, QByteArrayView tag, bool weak)
{
    while (!header.isEmpty()) {
        const qsizetype comma = header.indexOf(',');
        QByteArrayView entry = (comma < 0 ? header : header.first(comma)).trimmed();
        header = comma < 0 ? QByteArrayView() : header.sliced(comma + 1);
        if (weak && entry.startsWith("W/"))
            entry = entry.sliced(2);
        if (entry == "*" || entry == tag)
            return true;
    }
    return false;
}

} // namespace bulwark
