// SPDX-License-Identifier: GPL-3.0-or-later
// One cached HTTP response: what the handler returned (status 200, content type, its
// headers, body), when it was stored, how long it is fresh and then servable as stale, and
// the versions of the tags it depends on (TagVersions), and the router's route pattern. Immutable
// once stored; the memory tier shares it by pointer, the Redis tier stores serialize()'s bytes.
//
// Times are wall-clock milliseconds since the epoch so that an entry written to Redis by
// one instance has a meaningful Age on another. The binary form is versioned ("BWC1") and
// carries tag names rather than indexes, so instances with different schemas never
// misread each other's entries; anything malformed or unknown deserialises to null (a miss).
#pragma once

#include "CacheValue.h"
#include "HttpResponse.h"
#include "TagVersions.h"

#include <QByteArray>
#include <QList>

namespace bulwark {

struct CachedResponse final : public CacheValue
{
    int status = 200;
    QByteArray contentType;
    QList<std::pair<QByteArray, QByteArray>> headers;
    QByteArray body;
    qint64 storedAtMs = 0; // wall clock
    qint64 freshMs = 0;    // fresh until storedAtMs + freshMs
    qint64 staleMs = 0;    // then servable as stale for this long
    QString route;         // the router's pattern, for metrics and logs of hits
    TagSnapshot tags;

    qint64 byteSize() const override;
    qint64 expiresAtMs() const { return storedAtMs + freshMs + staleMs; }
    QByteArray header(QByteArrayView name) const { return headerValue(headers, name); }

    QByteArray serialize(const TagVersions &tagNames) const;
    static std::shared_ptr<CachedResponse> deserialize(QByteArrayView bytes,
                                                       const TagVersions &tagNames);
};

} // namespace bulwark
