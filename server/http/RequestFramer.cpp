// SPDX-License-Identifier: GPL-3.0-or-later
// See RequestFramer.h for what is checked and why.
#include "RequestFramer.h"

#include <QByteArrayView>

namespace bulwark {

namespace {

bool isTchar(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return true;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~': return true;
    default: return false;
    }
}

bool isKnownMethod(QByteArrayView m)
{
    static const char *const known[] = {"GET",    "HEAD",  "POST",    "PUT",
                                        "DELETE", "PATCH", "OPTIONS", "TRACE"};
    for (const char *k : known)
        if (m == QByteArrayView(k))
            return true;
    return false;
}

QByteArray trimmedLower(QByteArrayView v)
{
    return v.trimmed().toByteArray().toLower();
}

bool hasToken(const QByteArray &list, const char *token)
{
    for (const QByteArray &part : list.split(','))
        if (part.trimmed().toLower() == token)
            return true;
    return false;
}

} // namespace

RequestFramer::Status RequestFramer::fail(ErrorCode code, QString message)
{
    m_phase = Phase::Failed;
    m_failure = Failure{code, std::move(message)};
    return Status::Failed;
}

void RequestFramer::reset()
{
    *this = RequestFramer(m_limits);
}

bool RequestFramer::takeContinueRequest()
{
    const bool pending = m_continuePending;
    m_continuePending = false;
    return pending;
}

RequestFramer::Status RequestFramer::advance(const QByteArray &buffer)
{
    switch (m_phase) {
    case Phase::Failed: return Status::Failed;
    case Phase::Done: return Status::Complete;
    case Phase::Body:
        if (buffer.size() - m_request.headLength >= m_request.contentLength) {
            m_request.totalLength = m_request.headLength + m_request.contentLength;
            m_phase = Phase::Done;
            return Status::Complete;
        }
        return Status::NeedMore;
    case Phase::Chunked: return advanceChunked(buffer);
    case Phase::Head: break;
    }

    const char *data = buffer.constData();
    const qsizetype size = buffer.size();
    while (m_pos < size) {
        const char *nl =
            static_cast<const char *>(memchr(data + m_pos, '\n', size_t(size - m_pos)));
        if (!nl) {
            m_pos = size;
            break;
        }
        const qsizetype nlPos = nl - data;
        m_pos = nlPos + 1;
        if (nlPos == m_lineStart || data[nlPos - 1] != '\r')
            return fail(ErrorCode::BadRequest, QStringLiteral("line not terminated by CRLF"));
        const qsizetype lineStart = m_lineStart;
        m_lineStart = m_pos;
        if (auto status = headLine(data + lineStart, nlPos - 1 - lineStart, lineStart))
            return *status;
        if (m_phase != Phase::Head)
            return advance(buffer); // head complete: look at the body bytes already here
    }

    // A line is still incomplete: enforce the limits on what has arrived so far.
    qsizetype partial = size - m_lineStart;
    if (partial > 0 && data[size - 1] == '\r')
        --partial; // the CR of a line whose LF is still on its way is not content
    if (m_lineIndex == 0 && partial > m_limits.maxRequestLine)
        return fail(
            ErrorCode::UriTooLong,
            QStringLiteral("request line longer than %1 bytes").arg(m_limits.maxRequestLine));
    if (m_lineIndex > 0 && partial > m_limits.maxHeaderField)
        return fail(
            ErrorCode::HeadersTooLarge,
            QStringLiteral("header field longer than %1 bytes").arg(m_limits.maxHeaderField));
    if (m_lineIndex > 0 && m_headerBytes + partial > m_limits.maxHeaderTotal)
        return fail(
            ErrorCode::HeadersTooLarge,
            QStringLiteral("header section larger than %1 bytes").arg(m_limits.maxHeaderTotal));
    return Status::NeedMore;
}

std::optional<RequestFramer::Status> RequestFramer::headLine(const char *line, qsizetype length,
                                                             qsizetype lineStart)
{
    if (m_lineIndex == 0) {
        if (length == 0) {
            // RFC 9112 2.2: ignore empty lines before the request line (a few, not forever).
            if (lineStart >= 8)
                return fail(ErrorCode::BadRequest,
                            QStringLiteral("empty lines before the request line"));
            return std::nullopt;
        }
        if (length > m_limits.maxRequestLine)
            return fail(
                ErrorCode::UriTooLong,
                QStringLiteral("request line longer than %1 bytes").arg(m_limits.maxRequestLine));
        const QByteArrayView view(line, length);
        const qsizetype sp1 = view.indexOf(' ');
        const qsizetype sp2 = sp1 < 0 ? -1 : view.indexOf(' ', sp1 + 1);
        if (sp1 <= 0 || sp2 < 0 || sp2 == sp1 + 1 || view.indexOf(' ', sp2 + 1) >= 0)
            return fail(ErrorCode::BadRequest, QStringLiteral("malformed request line"));
        const QByteArrayView method = view.first(sp1);
        const QByteArrayView target = view.sliced(sp1 + 1, sp2 - sp1 - 1);
        const QByteArrayView version = view.sliced(sp2 + 1);
        for (char c : method)
            if (!isTchar(uchar(c)))
                return fail(ErrorCode::BadRequest, QStringLiteral("malformed method"));
        for (char c : target)
            if (uchar(c) <= 0x20 || uchar(c) >= 0x7f)
                return fail(ErrorCode::BadRequest,
                            QStringLiteral("invalid character in request target"));
        if (version.size() != 8 || !version.startsWith("HTTP/") || !isdigit(uchar(version[5])) ||
            version[6] != '.' || !isdigit(uchar(version[7])))
            return fail(ErrorCode::BadRequest, QStringLiteral("malformed HTTP version"));
        if (version == "HTTP/1.1")
            m_request.version = 11;
        else if (version == "HTTP/1.0")
            m_request.version = 10;
        else
            return fail(ErrorCode::VersionNotSupported,
                        QStringLiteral("HTTP version %1 is not supported")
                            .arg(QLatin1String(version.sliced(5))));
        if (!isKnownMethod(method))
            return fail(ErrorCode::NotImplemented,
                        QStringLiteral("method %1 is not supported").arg(QLatin1String(method)));
        const bool originForm = target.startsWith('/');
        const bool absoluteForm = target.startsWith("http://") || target.startsWith("https://");
        const bool asterisk = target == "*" && method == "OPTIONS";
        if (!originForm && !absoluteForm && !asterisk)
            return fail(ErrorCode::BadRequest, QStringLiteral("malformed request target"));
        m_request.method = method.toByteArray();
        m_request.target = target.toByteArray();
        ++m_lineIndex;
        return std::nullopt;
    }

    if (length == 0)
        return finishHead(lineStart + 2);

    ++m_lineIndex;
    if (length > m_limits.maxHeaderField)
        return fail(
            ErrorCode::HeadersTooLarge,
            QStringLiteral("header field longer than %1 bytes").arg(m_limits.maxHeaderField));
    m_headerBytes += length + 2;
    if (m_headerBytes > m_limits.maxHeaderTotal)
        return fail(
            ErrorCode::HeadersTooLarge,
            QStringLiteral("header section larger than %1 bytes").arg(m_limits.maxHeaderTotal));
    if (++m_headerCount > m_limits.maxHeaderCount)
        return fail(ErrorCode::HeadersTooLarge,
                    QStringLiteral("more than %1 header fields").arg(m_limits.maxHeaderCount));
    if (line[0] == ' ' || line[0] == '\t')
        return fail(ErrorCode::BadRequest, QStringLiteral("obsolete line folding is not accepted"));

    const QByteArrayView view(line, length);
    const qsizetype colon = view.indexOf(':');
    if (colon <= 0)
        return fail(ErrorCode::BadRequest, QStringLiteral("malformed header field"));
    const QByteArrayView name = view.first(colon);
    for (char c : name)
        if (!isTchar(uchar(c)))
            return fail(ErrorCode::BadRequest, QStringLiteral("invalid header field name"));
    const QByteArrayView value = view.sliced(colon + 1);
    for (char c : value) {
        const uchar u = uchar(c);
        if ((u < 0x20 && u != '\t') || u == 0x7f)
            return fail(ErrorCode::BadRequest, QStringLiteral("invalid character in header value"));
    }
    qsizetype valueStart = colon + 1;
    qsizetype valueEnd = length;
    while (valueStart < valueEnd && (line[valueStart] == ' ' || line[valueStart] == '\t'))
        ++valueStart;
    while (valueEnd > valueStart && (line[valueEnd - 1] == ' ' || line[valueEnd - 1] == '\t'))
        --valueEnd;
    m_request.headers.append(
        HeaderSpan{lineStart, colon, lineStart + valueStart, valueEnd - valueStart});

    auto is = [name](QByteArrayView field) {
        return name.compare(field, Qt::CaseInsensitive) == 0;
    };
    if (is("content-length")) {
        for (const QByteArray &part : value.toByteArray().split(','))
            m_contentLengths.append(part.trimmed());
    } else if (is("transfer-encoding")) {
        m_sawTransferEncoding = true;
        if (!m_transferEncoding.isEmpty())
            m_transferEncoding.append(',');
        m_transferEncoding.append(trimmedLower(value));
    } else if (is("host")) {
        ++m_hostCount;
    } else if (is("connection")) {
        const QByteArray v = value.toByteArray();
        m_connectionClose |= hasToken(v, "close");
        m_connectionKeepAlive |= hasToken(v, "keep-alive");
    } else if (is("expect")) {
        m_request.expectContinue = trimmedLower(value) == "100-continue";
        // We answer 100-continue ourselves (after the limits passed); Qt's parser would send
        // a second one when it reads the already complete request.
        m_request.hiddenRanges.append({lineStart, length + 2});
    } else if (is("upgrade") || is("http2-settings")) {
        m_request.hiddenRanges.append({lineStart, length + 2});
    }
    return std::nullopt;
}

std::optional<RequestFramer::Status> RequestFramer::finishHead(qsizetype headEnd)
{
    FramedRequest &r = m_request;
    r.headLength = headEnd;
    if (r.version == 11 && m_hostCount != 1)
        return fail(ErrorCode::BadRequest, m_hostCount == 0
                                               ? QStringLiteral("HTTP/1.1 request without Host")
                                               : QStringLiteral("more than one Host header"));
    if (m_sawTransferEncoding) {
        if (!m_contentLengths.isEmpty())
            return fail(ErrorCode::BadRequest,
                        QStringLiteral("Content-Length together with Transfer-Encoding"));
        if (r.version == 10)
            return fail(ErrorCode::BadRequest,
                        QStringLiteral("Transfer-Encoding in an HTTP/1.0 request"));
        const QList<QByteArray> codings = m_transferEncoding.split(',');
        if (m_transferEncoding.trimmed().isEmpty())
            return fail(ErrorCode::BadRequest, QStringLiteral("empty Transfer-Encoding"));
        for (const QByteArray &c : codings)
            if (c.trimmed() != "chunked")
                return fail(ErrorCode::NotImplemented,
                            QStringLiteral("transfer coding \"%1\" is not supported")
                                .arg(QString::fromLatin1(c.trimmed())));
        if (codings.size() != 1)
            return fail(ErrorCode::BadRequest, QStringLiteral("chunked applied more than once"));
        r.chunked = true;
    }
    if (!m_contentLengths.isEmpty()) {
        const QByteArray &first = m_contentLengths.first();
        for (const QByteArray &v : m_contentLengths) {
            if (v != first)
                return fail(ErrorCode::BadRequest,
                            QStringLiteral("conflicting Content-Length values"));
        }
        if (first.isEmpty() || first.size() > 18)
            return fail(ErrorCode::BadRequest,
                        QStringLiteral("Content-Length is not a valid length"));
        for (char c : first)
            if (c < '0' || c > '9')
                return fail(ErrorCode::BadRequest,
                            QStringLiteral("Content-Length is not a plain decimal"));
        r.contentLength = first.toLongLong();
        if (r.contentLength > m_limits.maxBody)
            return fail(ErrorCode::PayloadTooLarge,
                        QStringLiteral("body of %1 bytes exceeds the limit of %2 bytes")
                            .arg(r.contentLength)
                            .arg(m_limits.maxBody));
    }
    r.keepAlive =
        r.version == 11 ? !m_connectionClose : (m_connectionKeepAlive && !m_connectionClose);
    m_continuePending = r.expectContinue && r.version == 11 && (r.chunked || r.contentLength > 0);
    if (r.chunked) {
        m_phase = Phase::Chunked;
        m_pos = headEnd;
        m_lineStart = headEnd;
    } else {
        m_phase = Phase::Body;
    }
    return std::nullopt;
}

RequestFramer::Status RequestFramer::advanceChunked(const QByteArray &buffer)
{
    const char *data = buffer.constData();
    const qsizetype size = buffer.size();
    constexpr qsizetype kMaxChunkLine = 4096;
    while (m_pos < size) {
        switch (m_chunkState) {
        case ChunkState::Data: {
            const qint64 take = qMin<qint64>(m_chunkRemaining, size - m_pos);
            m_pos += take;
            m_chunkRemaining -= take;
            if (m_chunkRemaining == 0)
                m_chunkState = ChunkState::DataEnd;
            break;
        }
        case ChunkState::DataEnd:
            if (size - m_pos < 2)
                return Status::NeedMore;
            if (data[m_pos] != '\r' || data[m_pos + 1] != '\n')
                return fail(ErrorCode::BadRequest,
                            QStringLiteral("chunk data not followed by CRLF"));
            m_pos += 2;
            m_lineStart = m_pos;
            m_chunkState = ChunkState::Size;
            break;
        case ChunkState::Size:
        case ChunkState::Trailer: {
            const char *nl =
                static_cast<const char *>(memchr(data + m_pos, '\n', size_t(size - m_pos)));
            if (!nl) {
                m_pos = size;
                const qsizetype partial = size - m_lineStart;
                if (m_chunkState == ChunkState::Size && partial > kMaxChunkLine)
                    return fail(ErrorCode::BadRequest, QStringLiteral("chunk size line too long"));
                if (m_chunkState == ChunkState::Trailer &&
                    m_headerBytes + partial > m_limits.maxHeaderTotal)
                    return fail(ErrorCode::HeadersTooLarge,
                                QStringLiteral("trailer section too large"));
                return Status::NeedMore;
            }
            const qsizetype nlPos = nl - data;
            if (nlPos == m_lineStart || data[nlPos - 1] != '\r')
                return fail(ErrorCode::BadRequest, QStringLiteral("line not terminated by CRLF"));
            const QByteArrayView line(data + m_lineStart, nlPos - 1 - m_lineStart);
            m_pos = nlPos + 1;
            m_lineStart = m_pos;
            if (m_chunkState == ChunkState::Trailer) {
                if (line.isEmpty()) {
                    m_request.totalLength = m_pos;
                    m_phase = Phase::Done;
                    return Status::Complete;
                }
                m_headerBytes += line.size() + 2;
                if (m_headerBytes > m_limits.maxHeaderTotal ||
                    ++m_headerCount > m_limits.maxHeaderCount)
                    return fail(ErrorCode::HeadersTooLarge,
                                QStringLiteral("trailer section too large"));
                m_request.hiddenRanges.append({nlPos + 1 - (line.size() + 2), line.size() + 2});
                break;
            }
            qsizetype end = line.indexOf(';');
            QByteArrayView hex = (end < 0 ? line : line.first(end)).trimmed();
            if (hex.isEmpty() || hex.size() > 15)
                return fail(ErrorCode::BadRequest, QStringLiteral("invalid chunk size"));
            qint64 chunk = 0;
            for (char c : hex) {
                const int d = (c >= '0' && c <= '9')                     ? c - '0'
                              : ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') ? (c | 0x20) - 'a' + 10
                                                                         : -1;
                if (d < 0)
                    return fail(ErrorCode::BadRequest, QStringLiteral("invalid chunk size"));
                chunk = chunk * 16 + d;
            }
            m_bodyTotal += chunk;
            if (m_bodyTotal > m_limits.maxBody)
                return fail(ErrorCode::PayloadTooLarge,
                            QStringLiteral("chunked body exceeds the limit of %1 bytes")
                                .arg(m_limits.maxBody));
            if (chunk == 0) {
                m_chunkState = ChunkState::Trailer;
            } else {
                m_chunkRemaining = chunk;
                m_chunkState = ChunkState::Data;
            }
            break;
        }
        }
    }
    return Status::NeedMore;
}

QByteArray RequestFramer::bytesForParser(const QByteArray &buffer) const
{
    const qsizetype total = m_request.totalLength;
    if (m_request.hiddenRanges.isEmpty())
        return total == buffer.size() ? buffer : buffer.first(total); // shared, not copied
    QByteArray out;
    out.reserve(total);
    qsizetype from = 0;
    for (const auto &[start, length] : m_request.hiddenRanges) {
        out.append(buffer.constData() + from, start - from);
        from = start + length;
    }
    out.append(buffer.constData() + from, total - from);
    return out;
}

} // namespace bulwark
