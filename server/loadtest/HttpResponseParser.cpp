// SPDX-License-Identifier: GPL-3.0-or-later
// See HttpResponseParser.h.
#include "HttpResponseParser.h"

#include <cstring>

namespace bulwark {

namespace {

constexpr int kMaxHeaderBytes = 64 * 1024;
constexpr int kMaxLine = 16 * 1024;

bool equalsIgnoringCase(const QByteArray &a, const char *b)
{
    return a.compare(QByteArrayView(b), Qt::CaseInsensitive) == 0;
}

// Whether a comma-separated header value holds `token` (case-insensitive).
bool hasToken(const QByteArray &value, const char *token)
{
    for (const QByteArray &part : value.split(','))
        if (equalsIgnoringCase(part.trimmed(), token))
            return true;
    return false;
}

} // namespace

void HttpResponseParser::reset(bool head, bool keepBody)
{
    m_state = State::StatusLine;
    m_head = head;
    m_keepBody = keepBody;
    m_status = 0;
    m_http10 = false;
    m_keepAlive = true;
    m_chunked = false;
    m_connectionClose = false;
    m_connectionKeepAlive = false;
    m_contentLength = -1;
    m_remaining = 0;
    m_headerBytes = 0;
    m_bytes = 0;
    m_line.clear();
    m_body.clear();
    m_error.clear();
}

bool HttpResponseParser::fail(const char *why)
{
    m_state = State::Failed;
    m_error = QString::fromLatin1(why);
    m_keepAlive = false;
    return false;
}

// Takes one CRLF-terminated line (a bare LF is accepted, as most clients do). Returns
// true with *line set when a whole line is there; false when more bytes are needed (what
// there was is kept in m_line).
bool HttpResponseParser::takeLine(const char *data, qsizetype size, qsizetype *used,
                                  QByteArray *line)
{
    const void *nl = std::memchr(data + *used, '\n', size_t(size - *used));
    if (!nl) {
        m_line.append(data + *used, size - *used);
        *used = size;
        // The limit is on the line without its CRLF, whatever the reads: a trailing CR may
        // be the start of the line end.
        if (m_line.size() - (m_line.endsWith('\r') ? 1 : 0) > kMaxLine)
            fail("a line of the response is longer than 16 KiB");
        return false;
    }
    const qsizetype end = static_cast<const char *>(nl) - data;
    m_line.append(data + *used, end - *used);
    *used = end + 1;
    if (m_line.endsWith('\r'))
        m_line.chop(1);
    if (m_line.size() > kMaxLine) // a whole line in one read is held to the same limit
        return fail("a line of the response is longer than 16 KiB");
    *line = std::move(m_line);
    m_line = QByteArray();
    return true;
}

bool HttpResponseParser::parseStatusLine(const QByteArray &line)
{
    // HTTP/1.x SP 3DIGIT [SP reason]
    if (line.size() < 12 || !line.startsWith("HTTP/1.") || (line[7] != '0' && line[7] != '1') ||
        line[8] != ' ')
        return fail("the status line is not HTTP/1.0 or HTTP/1.1");
    int status = 0;
    for (int i = 9; i < 12; ++i) {
        if (line[i] < '0' || line[i] > '9')
            return fail("the status code is not three digits");
        status = status * 10 + (line[i] - '0');
    }
    if (status < 100 || (line.size() > 12 && line[12] != ' '))
        return fail("the status code is not three digits");
    m_status = status;
    m_http10 = line[7] == '0';
    m_state = State::Headers;
    return true;
}

bool HttpResponseParser::parseHeader(const QByteArray &line)
{
    const qsizetype colon = line.indexOf(':');
    if (colon <= 0)
        return fail("a header line has no name");
    const QByteArray name = line.left(colon);
    if (name.contains(' ') || name.contains('\t'))
        return fail("a header name contains white space");
    const QByteArray value = line.mid(colon + 1).trimmed();
    if (equalsIgnoringCase(name, "content-length")) {
        bool ok = false;
        const qint64 length = value.toLongLong(&ok);
        if (!ok || length < 0 || (m_contentLength >= 0 && m_contentLength != length))
            return fail("Content-Length is not a single non-negative number");
        m_contentLength = length;
    } else if (equalsIgnoringCase(name, "transfer-encoding")) {
        if (!value.isEmpty()) {
            // Only "chunked" as the last coding is something we can delimit.
            const QList<QByteArray> codings = value.split(',');
            if (!equalsIgnoringCase(codings.last().trimmed(), "chunked"))
                return fail("Transfer-Encoding does not end with chunked");
            m_chunked = true;
        }
    } else if (equalsIgnoringCase(name, "connection")) {
        m_connectionClose = m_connectionClose || hasToken(value, "close");
        m_connectionKeepAlive = m_connectionKeepAlive || hasToken(value, "keep-alive");
    }
    return true;
}

// Decides how the body is delimited once the blank line after the headers arrived.
bool HttpResponseParser::headersComplete()
{
    if (m_status < 200) { // interim response (100 Continue, 103 Early Hints): skip it
        const bool head = m_head;
        const bool keep = m_keepBody;
        const quint64 bytes = m_bytes;
        reset(head, keep);
        m_bytes = bytes;
        return true;
    }
    m_keepAlive = m_http10 ? m_connectionKeepAlive && !m_connectionClose : !m_connectionClose;
    if (m_head || m_status == 204 || m_status == 304) {
        m_state = State::Done;
        return true;
    }
    if (m_chunked) {
        m_state = State::ChunkSize;
        return true;
    }
    if (m_contentLength >= 0) {
        m_remaining = m_contentLength;
        m_state = m_remaining == 0 ? State::Done : State::Body;
        return true;
    }
    // Neither: the body runs to the end of the connection, which cannot be reused.
    m_keepAlive = false;
    m_state = State::BodyUntilClose;
    return true;
}

void HttpResponseParser::takeBody(const char *data, qsizetype n)
{
    if (m_keepBody)
        m_body.append(data, n);
}

qsizetype HttpResponseParser::feed(const char *data, qsizetype size)
{
    qsizetype used = 0;
    QByteArray line;
    while (used < size) {
        switch (m_state) {
        case State::StatusLine:
        case State::Headers:
        case State::ChunkSize:
        case State::ChunkDataEnd:
        case State::Trailers: {
            const qsizetype before = used;
            const bool whole = takeLine(data, size, &used, &line);
            m_bytes += quint64(used - before);
            if (m_state == State::StatusLine || m_state == State::Headers) {
                m_headerBytes += int(used - before);
                if (m_headerBytes > kMaxHeaderBytes)
                    fail("the response headers are larger than 64 KiB");
            }
            if (m_state == State::Failed)
                return used;
            if (!whole)
                return used;
            if (m_state == State::StatusLine) {
                if (!parseStatusLine(line))
                    return used;
            } else if (m_state == State::Headers) {
                if (line.isEmpty()) {
                    headersComplete();
                    if (m_state == State::Done)
                        return used;
                } else if (!parseHeader(line)) {
                    return used;
                }
            } else if (m_state == State::ChunkSize) {
                const qsizetype semicolon = line.indexOf(';');
                const QByteArray hex = (semicolon < 0 ? line : line.left(semicolon)).trimmed();
                bool ok = false;
                const qint64 chunk = hex.toLongLong(&ok, 16);
                if (!ok || chunk < 0 || hex.isEmpty() || hex.size() > 15) {
                    fail("a chunk size is not a hexadecimal number");
                    return used;
                }
                m_remaining = chunk;
                m_state = chunk == 0 ? State::Trailers : State::ChunkData;
            } else if (m_state == State::ChunkDataEnd) {
                if (!line.isEmpty()) {
                    fail("a chunk is longer than its size");
                    return used;
                }
                m_state = State::ChunkSize;
            } else { // Trailers: up to the blank line
                if (line.isEmpty()) {
                    m_state = State::Done;
                    return used;
                }
            }
            break;
        }
        case State::Body:
        case State::ChunkData: {
            const qsizetype n = qsizetype(qMin<qint64>(m_remaining, size - used));
            takeBody(data + used, n);
            used += n;
            m_bytes += quint64(n);
            m_remaining -= n;
            if (m_remaining == 0) {
                if (m_state == State::Body) {
                    m_state = State::Done;
                    return used;
                }
                m_state = State::ChunkDataEnd;
            }
            break;
        }
        case State::BodyUntilClose:
            takeBody(data + used, size - used);
            m_bytes += quint64(size - used);
            return size;
        case State::Done:
        case State::Failed: return used;
        }
    }
    return used;
}

bool HttpResponseParser::finishOnClose()
{
    if (m_state == State::BodyUntilClose)
        m_state = State::Done;
    return m_state == State::Done;
}

} // namespace bulwark
