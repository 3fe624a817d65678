// SPDX-License-Identifier: GPL-3.0-or-later
// The request as handlers and middleware see it: a plain value built from what the framer
// already found (method, target, version, header positions) plus the body Qt's parser
// decoded. Headers stay where they arrived: `head` holds the raw header block and
// `headerSpans` the offsets of each name and value, so a request costs no allocation per
// header; header() compares names case-insensitively and copies only the value asked for.
// The query string is parsed into a QUrlQuery only when a handler asks for it.
#pragma once

#include "Principal.h"

#include <QByteArray>
#include <QHash>
#include <QHostAddress>
#include <QList>
#include <QString>
#include <QUrlQuery>
#include <QVarLengthArray>
#include <chrono>
#include <optional>

namespace bulwark {

struct HeaderSpan
{
    qsizetype nameStart = 0;
    qsizetype nameLength = 0;
    qsizetype valueStart = 0; // trimmed value
    qsizetype valueLength = 0;
};
using HeaderSpans = QVarLengthArray<HeaderSpan, 16>;

struct HttpRequest
{
    QByteArray method;   // upper case as sent: GET, HEAD, POST, ...
    QString path;        // percent-decoded path, e.g. "/api/v1/items"
    QByteArray rawQuery; // after '?', still encoded
    QByteArray head;     // the bytes headerSpans point into
    HeaderSpans headerSpans;
    QByteArray body;
    QHostAddress peer;
    int version = 11; // 10 or 11
    bool tls = false;
    qintptr socketDescriptor = -1; // of the connection, for peerHasClosed()
    std::chrono::steady_clock::time_point received;

    // Value of the first header with this name (case-insensitive), or an empty array.
    QByteArray header(QByteArrayView name) const
    {
        for (const HeaderSpan &s : headerSpans) {
            if (s.nameLength == name.size() &&
                qstrnicmp(head.constData() + s.nameStart, s.nameLength, name.data(), name.size()) ==
                    0)
                return head.mid(s.valueStart, s.valueLength);
        }
        return {};
    }
    qsizetype headerCount() const { return headerSpans.size(); }
    QByteArrayView headerName(qsizetype i) const
    {
        return QByteArrayView(head.constData() + headerSpans[i].nameStart,
                              headerSpans[i].nameLength);
    }
    QByteArrayView headerValue(qsizetype i) const
    {
        return QByteArrayView(head.constData() + headerSpans[i].valueStart,
                              headerSpans[i].valueLength);
    }
    // For requests built in code (tests, internal calls): replaces all headers.
    void setHeaders(const QList<std::pair<QByteArray, QByteArray>> &headers)
    {
        head.clear();
        headerSpans.clear();
        for (const auto &[name, value] : headers) {
            HeaderSpan s;
            s.nameStart = head.size();
            s.nameLength = name.size();
            head.append(name).append(": ");
            s.valueStart = head.size();
            s.valueLength = value.size();
            head.append(value).append("\r\n");
            headerSpans.append(s);
        }
    }

    // Percent-decoded value of the first query parameter called `name` (a null QString when
    // absent). Scans the raw query without building a QUrlQuery; like QUrlQuery, '+' is
    // kept as '+'.
    QString queryValue(QByteArrayView name) const
    {
        QByteArrayView rest(rawQuery);
        while (!rest.isEmpty()) {
            const qsizetype amp = rest.indexOf('&');
            const QByteArrayView pair = amp < 0 ? rest : rest.first(amp);
            rest = amp < 0 ? QByteArrayView() : rest.sliced(amp + 1);
            const qsizetype eq = pair.indexOf('=');
            const QByteArrayView key = eq < 0 ? pair : pair.first(eq);
            const QByteArrayView value = eq < 0 ? QByteArrayView("") : pair.sliced(eq + 1);
            const bool match = key.contains('%')
                                   ? QByteArray::fromPercentEncoding(key.toByteArray()) == name
                                   : key == name;
            if (match)
                return value.contains('%')
                           ? QString::fromUtf8(QByteArray::fromPercentEncoding(value.toByteArray()))
                           : QString::fromUtf8(value);
        }
        return QString();
    }
    const QUrlQuery &query() const
    {
        if (!m_query)
            m_query.emplace(QString::fromUtf8(rawQuery));
        return *m_query;
    }
    bool isHead() const { return method == "HEAD"; }
    double secondsSinceReceived() const
    {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - received).count();
    }

private:
    mutable std::optional<QUrlQuery> m_query;
};

// What the pipeline passes from stage to stage.
struct RequestContext
{
    HttpRequest request;
    QByteArray requestId; // set by the request-id stage (empty when it is off)
    QString routePattern; // set by the router; "unmatched" when nothing matched
    QHash<QString, QString> pathParams;
    std::optional<Principal> principal; // set by the API auth stage
};

} // namespace bulwark
