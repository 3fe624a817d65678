// SPDX-License-Identifier: GPL-3.0-or-later
// Serialises an HttpResponse into HTTP/1.x bytes in one buffer, written with one call.
// This is where Qt 6.4's responder gaps are closed: the status line carries the request's
// version (HTTP/1.0 gets HTTP/1.0), HEAD gets the headers of GET without a body, Date and
// Server are always present, and Connection says what the server will really do.
#pragma once

#include "HttpResponse.h"

namespace bulwark {

struct WriteOptions
{
    int version = 11; // of the request
    bool headRequest = false;
    bool close = false;           // the server closes after this response
    bool keepAliveHeader = false; // HTTP/1.0 keep-alive must be confirmed explicitly
};

class ResponseWriter
{
public:
    static QByteArray serialize(const HttpResponse &response, const WriteOptions &options);
    // RFC 9110 IMF-fixdate of the current second, cached per thread.
    static QByteArray httpDate();
    static const QByteArray &serverHeader();
};

} // namespace bulwark
