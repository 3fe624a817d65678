// SPDX-License-Identifier: GPL-3.0-or-later
// The load tester's HTTP/1.1 response parser: incremental (fed whatever the socket read,
// any split), no allocation per response when the body is not kept, and strict enough to
// say "protocol error" instead of guessing. It understands what a server may send back to
// the requests the engine writes: a status line, headers, and a body delimited by
// Content-Length, chunked transfer coding or the end of the connection; no body for HEAD,
// 1xx, 204 and 304; interim 1xx responses are skipped. Keep-alive follows RFC 9112:
// HTTP/1.1 unless "Connection: close", HTTP/1.0 only with "Connection: keep-alive".
//
// The body is kept only when asked (checks and extractions need it); otherwise its bytes
// are only counted, so a benchmark against a large static file costs no copies.
#pragma once

#include <QByteArray>
#include <QString>
#include <QtGlobal>

namespace bulwark {

class HttpResponseParser
{
public:
    // Prepares for the next response. `head`: the request was HEAD (no body follows).
    // `keepBody`: collect the body for body().
    void reset(bool head, bool keepBody);

    // Consumes bytes of the response; returns how many it took (fewer than `size` once the
    // response is complete: the rest belongs to whatever follows). Check done() and
    // failed() after each call.
    qsizetype feed(const char *data, qsizetype size);
    // The connection closed: completes a body delimited by the end of the connection.
    // Returns whether the response is now complete.
    bool finishOnClose();

    bool done() const { return m_state == State::Done; }
    bool failed() const { return m_state == State::Failed; }
    bool started() const { return m_bytes > 0; }
    const QString &error() const { return m_error; }
    int status() const { return m_status; }
    bool keepAlive() const { return m_keepAlive; }
    const QByteArray &body() const { return m_body; }
    quint64 bytes() const { return m_bytes; } // of the whole response, headers included

private:
    enum class State
    {
        StatusLine,
        Headers,
        Body,          // Content-Length
        BodyUntilClose,
        ChunkSize,
        ChunkData,
        ChunkDataEnd,  // the CRLF after a chunk's data
        Trailers,
        Done,
        Failed
    };
    bool fail(const char *why);
    bool takeLine(const char *data, qsizetype size, qsizetype *used, QByteArray *line);
    bool parseStatusLine(const QByteArray &line);
    bool parseHeader(const QByteArray &line);
    bool headersComplete();
    void takeBody(const char *data, qsizetype n);

    State m_state = State::StatusLine;
    bool m_head = false;
    bool m_keepBody = false;
    int m_status = 0;
    bool m_http10 = false;
    bool m_keepAlive = true;
    bool m_chunked = false;
    bool m_connectionClose = false;
    bool m_connectionKeepAlive = false;
    qint64 m_contentLength = -1;
    qint64 m_remaining = 0;
    int m_headerBytes = 0;
    quint64 m_bytes = 0;
    QByteArray m_line; // a line split across reads
    QByteArray m_body;
    QString m_error;
};

} // namespace bulwark
