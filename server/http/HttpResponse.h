// SPDX-License-Identifier: GPL-3.0-or-later
// The response as a value. Handlers return one; stages adjust headers or body on the way
// out; ResponseWriter turns it into bytes once, at the end. Keeping it a value (not a
// socket writer) is what lets the cache and compression stages work on whole responses
// and keeps handlers away from sockets (DESIGN.md).
#pragma once

#include <QByteArray>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QList>

namespace bulwark {

// The value of the first header called `name` (case-insensitive) in a list of name/value
// pairs, or an empty array; for HttpResponse and what is built from it (cached responses).
inline QByteArray headerValue(const QList<std::pair<QByteArray, QByteArray>> &headers,
                              QByteArrayView name)
{
    for (const auto &[n, v] : headers)
        if (QByteArrayView(n).compare(name, Qt::CaseInsensitive) == 0)
            return v;
    return {};
}

struct HttpResponse
{
    int status = 200;
    QByteArray contentType; // empty: no Content-Type (e.g. 204)
    QList<std::pair<QByteArray, QByteArray>>
        headers; // without Date, Server, Content-Length, Connection
    QByteArray body;
    // Header lines ("Name: value\r\n") written as they are after `headers`, for a stage that
    // adds several per request and nothing reads again (the rate limiter's: one allocation
    // for five headers). header() does not see them. Last, so that {status, type, headers,
    // body} still initialises the others.
    QByteArray headerLines = {};

    void setHeader(const QByteArray &name, const QByteArray &value)
    {
        for (auto &[n, v] : headers) {
            if (n.compare(name, Qt::CaseInsensitive) == 0) {
                v = value;
                return;
            }
        }
        headers.append({name, value});
    }
    void addHeader(const QByteArray &name, const QByteArray &value)
    {
        headers.append({name, value});
    }
    // For answers that must never be cached (errors, health, metrics, admin data).
    HttpResponse &noStore()
    {
        setHeader(QByteArrayLiteral("Cache-Control"), QByteArrayLiteral("no-store"));
        return *this;
    }
    QByteArray header(QByteArrayView name) const { return headerValue(headers, name); }

    static HttpResponse json(const QJsonObject &object, int status = 200)
    {
        return HttpResponse{status,
                            QByteArrayLiteral("application/json"),
                            {},
                            QJsonDocument(object).toJson(QJsonDocument::Compact)};
    }
    static HttpResponse bytes(QByteArray body, QByteArray contentType, int status = 200)
    {
        return HttpResponse{status, std::move(contentType), {}, std::move(body)};
    }
};

} // namespace bulwark
