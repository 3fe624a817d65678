// SPDX-License-Identifier: GPL-3.0-or-later
// Byte-level HTTP/1.x request framing and validation, run on every byte a client sends
// before Qt's parser sees it (Qt 6.4's parser has no limits and frames some requests
// wrongly; see DESIGN.md). The framer finds where one request ends and the next begins, so
// GuardedSocket can hand Qt exactly one complete request at a time (that is what makes
// keep-alive and pipelining correct), and rejects with a specific status:
//   414 request line too long; 431 header line / header section too large or too many
//   fields; 413 body above the limit (decided from Content-Length or the running chunk
//   total, before the body is buffered); 400 malformed request line, bare LF, obs-fold,
//   bad header name or value, missing/duplicate Host in HTTP/1.1, Content-Length that is
//   not a plain decimal or overflows, conflicting Content-Lengths, Content-Length with
//   Transfer-Encoding, chunked in HTTP/1.0, bad chunk framing; 501 unknown method or
//   transfer coding; 505 HTTP versions other than 1.0 and 1.1.
// It is a pure state machine over a byte buffer (no Qt networking), so it is unit-tested
// byte by byte. Scanning is incremental: each byte is looked at once even when a slow
// client sends one byte per packet.
#pragma once

#include "Error.h"
#include "HttpRequest.h"

#include <QByteArray>
#include <QList>
#include <optional>

namespace bulwark {

struct FramingLimits
{
    int maxRequestLine = 8 * 1024;
    int maxHeaderField = 8 * 1024;
    int maxHeaderTotal = 64 * 1024;
    int maxHeaderCount = 100;
    qint64 maxBody = 10 * 1024 * 1024;
};

struct FramedRequest
{
    QByteArray method;
    QByteArray target;
    int version = 11; // 10 or 11
    bool keepAlive = true;
    bool expectContinue = false;
    bool chunked = false;
    qint64 contentLength = 0;
    HeaderSpans headers;       // offsets from the start of the request
    qsizetype headLength = 0;  // request line + headers + blank line
    qsizetype totalLength = 0; // whole request, set when complete
    QByteArray raw;            // the request's bytes; set by the connection, not the framer
    // Byte ranges (start, length) that Qt's parser must not see: Upgrade and
    // HTTP2-Settings lines (we never switch protocols, and Qt 6.4 drops the connection when
    // it sees one), Expect (answered by the connection, not by Qt) and chunked trailer lines
    // (Qt 6.4 answers a trailer as a second, empty request; RFC 9112 7.1.2 lets a server discard
    // trailers).
    QList<std::pair<qsizetype, qsizetype>> hiddenRanges;
};

class RequestFramer
{
public:
    enum class Status
    {
        NeedMore,
        Complete,
        Failed
    };
    struct Failure
    {
        ErrorCode code;
        QString message;
    };

    explicit RequestFramer(FramingLimits limits = {}) : m_limits(limits) {}

    // `buffer` holds the unconsumed bytes of the connection, starting at the current
    // request; it only ever grows between calls until reset(). Complete means bytes
    // [0, request().totalLength) are one request.
    Status advance(const QByteArray &buffer);
    const FramedRequest &request() const { return m_request; }
    const Failure &failure() const { return m_failure; }
    // Bytes of the complete request as Qt's parser should see them.
    QByteArray bytesForParser(const QByteArray &buffer) const;
    // Starts on the next request (call after removing totalLength bytes).
    void reset();

    bool started() const { return m_phase != Phase::Head || m_pos > 0; }
    bool headersComplete() const
    {
        return m_phase == Phase::Body || m_phase == Phase::Chunked || m_phase == Phase::Done;
    }
    // True once, right after the head of a request with "Expect: 100-continue" and a body.
    bool takeContinueRequest();

private:
    enum class Phase
    {
        Head,
        Body,
        Chunked,
        Done,
        Failed
    };
    enum class ChunkState
    {
        Size,
        Data,
        DataEnd,
        Trailer
    };

    Status fail(ErrorCode code, QString message);
    std::optional<Status> headLine(const char *line, qsizetype length, qsizetype lineStart);
    std::optional<Status> finishHead(qsizetype headEnd);
    Status advanceChunked(const QByteArray &buffer);

    FramingLimits m_limits;
    FramedRequest m_request;
    Failure m_failure{ErrorCode::BadRequest, {}};
    Phase m_phase = Phase::Head;
    qsizetype m_pos = 0;       // next byte to scan
    qsizetype m_lineStart = 0; // start of the line being scanned
    int m_lineIndex = 0;       // 0: request line
    int m_headerCount = 0;
    qsizetype m_headerBytes = 0;
    int m_hostCount = 0;
    QList<QByteArray> m_contentLengths;
    QByteArray m_transferEncoding;
    bool m_sawTransferEncoding = false;
    bool m_connectionClose = false;
    bool m_connectionKeepAlive = false;
    bool m_continuePending = false;
    // chunked body
    ChunkState m_chunkState = ChunkState::Size;
    qint64 m_chunkRemaining = 0;
    qint64 m_bodyTotal = 0;
};

} // namespace bulwark
