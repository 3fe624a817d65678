// SPDX-License-Identifier: GPL-3.0-or-later
// The request as handlers and middleware see it: a plain value built from Qt's parsed
// QHttpServerRequest plus what the framer learned (HTTP version, keep-alive). Header names
// are lower-case so lookups need no case folding on the hot path.
#pragma once

#include <QByteArray>
#include <QHash>
#include <QHostAddress>
#include <QList>
#include <QString>
#include <QUrlQuery>
#include <chrono>

namespace bulwark {

struct HttpRequest
{
    QByteArray method; // upper case as sent: GET, HEAD, POST, ...
    QString path;      // decoded path, e.g. "/api/v1/items"
    QUrlQuery query;
    QList<std::pair<QByteArray, QByteArray>> headers; // names lower-cased
    QByteArray body;
    QHostAddress peer;
    int version = 11; // 10 or 11
    bool tls = false;
    std::chrono::steady_clock::time_point received;

    QByteArray header(QByteArrayView lowerName) const
    {
        for (const auto &[name, value] : headers)
            if (name == lowerName)
                return value;
        return {};
    }
    bool isHead() const { return method == "HEAD"; }
};

// What the pipeline passes from stage to stage.
struct RequestContext
{
    HttpRequest request;
    QByteArray requestId;  // set by the request-id stage (empty when it is off)
    QString routePattern;  // set by the router; "unmatched" when nothing matched
    QHash<QString, QString> pathParams;
};

} // namespace bulwark
