// SPDX-License-Identifier: GPL-3.0-or-later
// RequestFramer: every accept/reject rule of the byte-level HTTP/1.x framing (limits,
// request line, headers, Content-Length, Transfer-Encoding, chunks), fed whole and one byte
// at a time; pipelining, keep-alive, 100-continue and the bytes handed to Qt's parser.

#include "RequestFramer.h"

#include <QTest>

using namespace bulwark;
using Status = RequestFramer::Status;

namespace {

// Small limits so that every limit is easy to cross in a test.
FramingLimits smallLimits()
{
    FramingLimits l;
    l.maxRequestLine = 64;
    l.maxHeaderField = 64;
    l.maxHeaderTotal = 256;
    l.maxHeaderCount = 8;
    l.maxBody = 32;
    return l;
}

struct Outcome
{
    Status status = Status::NeedMore;
    ErrorCode code = ErrorCode::Internal;
    QString message;
    FramedRequest request;
};

Outcome feedWhole(const QByteArray &bytes)
{
    RequestFramer framer(smallLimits());
    Outcome o;
    o.status = framer.advance(bytes);
    if (o.status == Status::Failed) {
        o.code = framer.failure().code;
        o.message = framer.failure().message;
    }
    o.request = framer.request();
    return o;
}

// Grows the buffer one byte per call, as a slow client would send it, and stops at the
// first answer that is not NeedMore.
Outcome feedByteByByte(const QByteArray &bytes)
{
    RequestFramer framer(smallLimits());
    Outcome o;
    QByteArray buffer;
    for (char c : bytes) {
        buffer.append(c);
        o.status = framer.advance(buffer);
        if (o.status != Status::NeedMore)
            break;
    }
    if (o.status == Status::Failed) {
        o.code = framer.failure().code;
        o.message = framer.failure().message;
    }
    o.request = framer.request();
    return o;
}

QByteArray repeat(char c, int n)
{
    return QByteArray(n, c);
}

const char *statusName(Status s)
{
    switch (s) {
    case Status::NeedMore: return "NeedMore";
    case Status::Complete: return "Complete";
    case Status::Failed: return "Failed";
    }
    return "?";
}

} // namespace

namespace QTest {
template <> char *toString(const Status &s)
{
    return qstrdup(statusName(s));
}
template <> char *toString(const ErrorCode &c)
{
    return qstrdup(qPrintable(errorCodeName(c)));
}
} // namespace QTest

class TestRequestFramer : public QObject
{
    Q_OBJECT

private:
    void check(const Outcome &o)
    {
        QFETCH(QByteArray, bytes);
        QFETCH(Status, status);
        QFETCH(ErrorCode, code);
        QFETCH(QString, message);
        QCOMPARE(o.status, status);
        if (status == Status::Failed) {
            QCOMPARE(o.code, code);
            QVERIFY2(
                o.message.contains(message),
                qPrintable(QStringLiteral("message \"%1\" lacks \"%2\"").arg(o.message, message)));
        }
        if (status == Status::Complete)
            QCOMPARE(o.request.totalLength, bytes.size());
    }

    // One row per framing rule; used by the whole-buffer and the byte-by-byte tests.
    static void framingRows()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<Status>("status");
        QTest::addColumn<ErrorCode>("code");  // when Failed
        QTest::addColumn<QString>("message"); // part of the failure message

        const auto ok = [](const char *name, const QByteArray &bytes) {
            QTest::newRow(name) << bytes << Status::Complete << ErrorCode::Internal << QString();
        };
        const auto more = [](const char *name, const QByteArray &bytes) {
            QTest::newRow(name) << bytes << Status::NeedMore << ErrorCode::Internal << QString();
        };
        const auto bad = [](const char *name, const QByteArray &bytes, ErrorCode code,
                            const char *message) {
            QTest::newRow(name) << bytes << Status::Failed << code << QString::fromLatin1(message);
        };
        const QByteArray get = "GET / HTTP/1.1\r\nHost: x\r\n";
        const QByteArray post = "POST /u HTTP/1.1\r\nHost: x\r\n";
        const QByteArray chunkedHead = post + "Transfer-Encoding: chunked\r\n\r\n";

        // --- valid requests
        ok("GET", get + "\r\n");
        ok("GET with query and headers",
           "GET /a/b?c=d&e HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nX-Empty:\r\n\r\n");
        ok("HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n");
        ok("absolute-form target", "GET http://x/a HTTP/1.1\r\nHost: x\r\n\r\n");
        ok("OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
        ok("leading empty lines", "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
        ok("tab in header value", get + "X-A: a\tb\r\n\r\n");
        ok("POST with body", post + "Content-Length: 5\r\n\r\nhello");
        ok("Content-Length 0", post + "Content-Length: 0\r\n\r\n");
        ok("body at the limit", post + "Content-Length: 32\r\n\r\n" + repeat('b', 32));
        ok("identical Content-Length twice",
           post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello");
        ok("identical Content-Length in one field", post + "Content-Length: 5, 5\r\n\r\nhello");
        ok("request line at the limit",
           "GET /" + repeat('a', 64 - 14) + " HTTP/1.1\r\nHost: x\r\n\r\n");
        ok("header field at the limit", get + "X-A: " + repeat('v', 64 - 5) + "\r\n\r\n");
        ok("chunked", chunkedHead + "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        ok("chunked upper-case hex and extension",
           chunkedHead + "A;name=value\r\n0123456789\r\n0\r\n\r\n");
        ok("Transfer-Encoding is case-insensitive",
           post + "Transfer-Encoding: Chunked\r\n\r\n0\r\n\r\n");
        ok("chunked with trailers",
           chunkedHead + "3\r\nabc\r\n0\r\nX-Checksum: 1\r\nX-More: 2\r\n\r\n");
        ok("chunked body at the limit", chunkedHead + "20\r\n" + repeat('c', 32) + "\r\n0\r\n\r\n");

        // --- incomplete
        more("head without blank line", get);
        more("request line without CRLF", "GET / HTTP/1.1");
        more("body incomplete", post + "Content-Length: 5\r\n\r\nhel");
        more("chunked without last chunk", chunkedHead + "5\r\nhello\r\n");
        more("chunked without final CRLF", chunkedHead + "0\r\n");

        // --- limits
        bad("request line too long", "GET /" + repeat('a', 64) + " HTTP/1.1\r\nHost: x\r\n\r\n",
            ErrorCode::UriTooLong, "request line longer than 64 bytes");
        bad("request line too long, still incomplete", "GET /" + repeat('a', 70),
            ErrorCode::UriTooLong, "request line longer than 64 bytes");
        bad("header field too long", get + "X-A: " + repeat('v', 60) + "\r\n\r\n",
            ErrorCode::HeadersTooLarge, "header field longer than 64 bytes");
        bad("header field too long, still incomplete", get + "X-A: " + repeat('v', 70),
            ErrorCode::HeadersTooLarge, "header field longer than 64 bytes");
        {
            QByteArray big = get;
            for (int i = 0; i < 5; ++i)
                big += "X-" + QByteArray::number(i) + ": " + repeat('v', 53) +
                       "\r\n"; // 58 + 2 bytes each
            bad("header section too large", big + "\r\n", ErrorCode::HeadersTooLarge,
                "header section larger than 256 bytes");
        }
        {
            QByteArray many = get;
            for (int i = 0; i < 8; ++i)
                many += "X-" + QByteArray::number(i) + ": v\r\n";
            bad("too many headers", many + "\r\n", ErrorCode::HeadersTooLarge,
                "more than 8 header fields");
        }
        bad("body over the limit by Content-Length", post + "Content-Length: 33\r\n\r\n",
            ErrorCode::PayloadTooLarge, "body of 33 bytes exceeds the limit of 32 bytes");
        bad("chunked body over the limit", chunkedHead + "10\r\n" + repeat('c', 16) + "\r\n11\r\n",
            ErrorCode::PayloadTooLarge, "chunked body exceeds the limit of 32 bytes");
        bad("one chunk over the limit", chunkedHead + "21\r\n", ErrorCode::PayloadTooLarge,
            "chunked body exceeds the limit of 32 bytes");

        // --- request line
        bad("two spaces", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", ErrorCode::BadRequest,
            "malformed request line");
        bad("leading space", " GET / HTTP/1.1\r\nHost: x\r\n\r\n", ErrorCode::BadRequest,
            "malformed request line");
        bad("trailing space", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", ErrorCode::BadRequest,
            "malformed request line");
        bad("missing version", "GET /\r\nHost: x\r\n\r\n", ErrorCode::BadRequest,
            "malformed request line");
        bad("missing target", "GET HTTP/1.1\r\nHost: x\r\n\r\n", ErrorCode::BadRequest,
            "malformed request line");
        bad("lower-case garbage", "hello world again\r\n\r\n", ErrorCode::BadRequest,
            "malformed HTTP version");
        bad("lower-case version", "GET / http/1.1\r\nHost: x\r\n\r\n", ErrorCode::BadRequest,
            "malformed HTTP version");
        bad("short version", "GET / HTTP/1\r\nHost: x\r\n\r\n", ErrorCode::BadRequest,
            "malformed HTTP version");
        bad("bad method character", "GE(T / HTTP/1.1\r\nHost: x\r\n\r\n", ErrorCode::BadRequest,
            "malformed method");
        bad("control character in target", "GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
            ErrorCode::BadRequest, "invalid character in request target");
        bad("relative target", "GET a/b HTTP/1.1\r\nHost: x\r\n\r\n", ErrorCode::BadRequest,
            "malformed request target");
        bad("asterisk with GET", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", ErrorCode::BadRequest,
            "malformed request target");
        bad("too many empty lines first", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
            ErrorCode::BadRequest, "empty lines before the request line");
        bad("HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", ErrorCode::VersionNotSupported,
            "HTTP version 2.0 is not supported");
        bad("HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", ErrorCode::VersionNotSupported,
            "HTTP version 0.9 is not supported");
        bad("unknown method", "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", ErrorCode::NotImplemented,
            "method BREW is not supported");
        bad("methods are case-sensitive", "get / HTTP/1.1\r\nHost: x\r\n\r\n",
            ErrorCode::NotImplemented, "method get is not supported");

        // --- line endings and header syntax
        bad("bare LF everywhere", "GET / HTTP/1.1\nHost: x\n\n", ErrorCode::BadRequest,
            "line not terminated by CRLF");
        bad("bare LF in a header", "GET / HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n",
            ErrorCode::BadRequest, "line not terminated by CRLF");
        bad("bare LF as the blank line", get + "\n", ErrorCode::BadRequest,
            "line not terminated by CRLF");
        bad("obs-fold", get + "X-A: a\r\n b\r\n\r\n", ErrorCode::BadRequest,
            "obsolete line folding");
        bad("obs-fold with tab", get + "X-A: a\r\n\tb\r\n\r\n", ErrorCode::BadRequest,
            "obsolete line folding");
        bad("header without colon", get + "X-A b\r\n\r\n", ErrorCode::BadRequest,
            "malformed header field");
        bad("empty header name", get + ": b\r\n\r\n", ErrorCode::BadRequest,
            "malformed header field");
        bad("space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", ErrorCode::BadRequest,
            "invalid header field name");
        bad("control character in value", get + "X-A: a\x01z\r\n\r\n", ErrorCode::BadRequest,
            "invalid character in header value");
        bad("NUL in value", get + QByteArray("X-A: a\0z\r\n\r\n", 11), ErrorCode::BadRequest,
            "invalid character in header value");
        bad("DEL in value", get + "X-A: a\x7fz\r\n\r\n", ErrorCode::BadRequest,
            "invalid character in header value");
        bad("bare CR in value", get + "X-A: a\rz\r\n\r\n", ErrorCode::BadRequest,
            "invalid character in header value");
        bad("HTTP/1.1 without Host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", ErrorCode::BadRequest,
            "HTTP/1.1 request without Host");
        bad("two Hosts", get + "Host: y\r\n\r\n", ErrorCode::BadRequest,
            "more than one Host header");

        // --- Content-Length
        bad("Content-Length +5", post + "Content-Length: +5\r\n\r\nhello", ErrorCode::BadRequest,
            "Content-Length is not a plain decimal");
        bad("Content-Length -1", post + "Content-Length: -1\r\n\r\n", ErrorCode::BadRequest,
            "Content-Length is not a plain decimal");
        bad("Content-Length 0x10", post + "Content-Length: 0x10\r\n\r\n", ErrorCode::BadRequest,
            "Content-Length is not a plain decimal");
        bad("Content-Length ' 5 5'", post + "Content-Length:  5 5\r\n\r\nhello",
            ErrorCode::BadRequest, "Content-Length is not a plain decimal");
        bad("Content-Length empty", post + "Content-Length: \r\n\r\n", ErrorCode::BadRequest,
            "Content-Length is not a valid length");
        bad("Content-Length 19 digits", post + "Content-Length: 1000000000000000000\r\n\r\n",
            ErrorCode::BadRequest, "Content-Length is not a valid length");
        bad("Content-Length above 2^64", post + "Content-Length: 18446744073709551621\r\n\r\n",
            ErrorCode::BadRequest, "Content-Length is not a valid length");
        bad("two different Content-Lengths",
            post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", ErrorCode::BadRequest,
            "conflicting Content-Length values");
        bad("'5, 6' in one field", post + "Content-Length: 5, 6\r\n\r\nhello!",
            ErrorCode::BadRequest, "conflicting Content-Length values");
        bad("Content-Length with Transfer-Encoding",
            post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            ErrorCode::BadRequest, "Content-Length together with Transfer-Encoding");
        bad("empty Transfer-Encoding with Content-Length",
            post + "Transfer-Encoding: \r\nContent-Length: 5\r\n\r\nhello", ErrorCode::BadRequest,
            "Content-Length together with Transfer-Encoding");
        bad("Transfer-Encoding with Content-Length",
            post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
            ErrorCode::BadRequest, "Content-Length together with Transfer-Encoding");

        // --- Transfer-Encoding and chunks
        bad("Transfer-Encoding gzip", post + "Transfer-Encoding: gzip\r\n\r\n",
            ErrorCode::NotImplemented, "transfer coding \"gzip\" is not supported");
        bad("gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n",
            ErrorCode::NotImplemented, "transfer coding \"gzip\" is not supported");
        bad("chunked, chunked", post + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
            ErrorCode::BadRequest, "chunked applied more than once");
        bad("chunked in two fields",
            post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            ErrorCode::BadRequest, "chunked applied more than once");
        bad("chunked in HTTP/1.0",
            "POST /u HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            ErrorCode::BadRequest, "Transfer-Encoding in an HTTP/1.0 request");
        bad("invalid chunk size", chunkedHead + "zz\r\n", ErrorCode::BadRequest,
            "invalid chunk size");
        bad("negative chunk size", chunkedHead + "-5\r\nhello\r\n", ErrorCode::BadRequest,
            "invalid chunk size");
        bad("empty chunk size", chunkedHead + ";ext\r\n", ErrorCode::BadRequest,
            "invalid chunk size");
        bad("chunk size with 16 digits", chunkedHead + "0000000000000001\r\nx\r\n0\r\n\r\n",
            ErrorCode::BadRequest, "invalid chunk size");
        bad("chunk size with bare LF", chunkedHead + "5\nhello\r\n0\r\n\r\n", ErrorCode::BadRequest,
            "line not terminated by CRLF");
        bad("chunk data not followed by CRLF", chunkedHead + "5\r\nhelloXX0\r\n\r\n",
            ErrorCode::BadRequest, "chunk data not followed by CRLF");
        bad("chunk data longer than its size", chunkedHead + "3\r\nhello\r\n0\r\n\r\n",
            ErrorCode::BadRequest, "chunk data not followed by CRLF");
        {
            QByteArray trailers = chunkedHead + "0\r\n";
            for (int i = 0; i < 5; ++i)
                trailers += "X-T" + QByteArray::number(i) + ": " + repeat('t', 52) + "\r\n";
            bad("trailer section too large", trailers + "\r\n", ErrorCode::HeadersTooLarge,
                "trailer section too large");
        }
    }

private Q_SLOTS:
    void framingWhole_data() { framingRows(); }
    void framingWhole()
    {
        QFETCH(QByteArray, bytes);
        check(feedWhole(bytes));
    }

    // The same bytes sent one at a time must give the same answer.
    void framingByteByByte_data() { framingRows(); }
    void framingByteByByte()
    {
        QFETCH(QByteArray, bytes);
        check(feedByteByByte(bytes));
    }

    void requestFields()
    {
        const QByteArray bytes =
            "POST /items?x=1 HTTP/1.0\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc";
        for (const Outcome &o : {feedWhole(bytes), feedByteByByte(bytes)}) {
            QCOMPARE(o.status, Status::Complete);
            QCOMPARE(o.request.method, QByteArray("POST"));
            QCOMPARE(o.request.target, QByteArray("/items?x=1"));
            QCOMPARE(o.request.version, 10);
            QCOMPARE(o.request.keepAlive, true);
            QCOMPARE(o.request.chunked, false);
            QCOMPARE(o.request.contentLength, qint64(3));
            QCOMPARE(o.request.headLength, bytes.size() - 3);
            QCOMPARE(o.request.totalLength, bytes.size());
        }
        const QByteArray chunked =
            "PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n";
        for (const Outcome &o : {feedWhole(chunked), feedByteByByte(chunked)}) {
            QCOMPARE(o.status, Status::Complete);
            QCOMPARE(o.request.method, QByteArray("PUT"));
            QCOMPARE(o.request.version, 11);
            QCOMPARE(o.request.chunked, true);
            QCOMPARE(o.request.headLength, chunked.indexOf("\r\n\r\n") + 4);
            QCOMPARE(o.request.totalLength, chunked.size());
        }
    }

    // Body over the limit is refused as soon as the head is in: no body byte is needed.
    void payloadTooLargeBeforeBody()
    {
        RequestFramer framer(smallLimits());
        QByteArray buffer = "POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r";
        QCOMPARE(framer.advance(buffer), Status::NeedMore);
        QVERIFY(!framer.headersComplete());
        buffer += '\n';
        QCOMPARE(framer.advance(buffer), Status::Failed);
        QCOMPARE(framer.failure().code, ErrorCode::PayloadTooLarge);
        // Failed is final.
        buffer += "more bytes";
        QCOMPARE(framer.advance(buffer), Status::Failed);
        QCOMPARE(framer.failure().code, ErrorCode::PayloadTooLarge);
    }

    void progressFlags()
    {
        RequestFramer framer(smallLimits());
        QVERIFY(!framer.started());
        QByteArray buffer = "PO";
        QCOMPARE(framer.advance(buffer), Status::NeedMore);
        QVERIFY(framer.started());
        QVERIFY(!framer.headersComplete());
        buffer += "ST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab";
        QCOMPARE(framer.advance(buffer), Status::NeedMore);
        QVERIFY(framer.headersComplete());
        buffer += "cd";
        QCOMPARE(framer.advance(buffer), Status::Complete);
        QCOMPARE(framer.request().totalLength, buffer.size());
        framer.reset();
        QVERIFY(!framer.started());
        QVERIFY(!framer.headersComplete());
    }

    void pipelined_data()
    {
        QTest::addColumn<QByteArray>("first");
        QTest::addColumn<QByteArray>("second");
        QTest::addColumn<QByteArray>("secondMethod");
        QTest::newRow("GET, GET") << QByteArray("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
                                  << QByteArray("GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
                                  << QByteArray("GET");
        QTest::newRow("POST with body, DELETE")
            << QByteArray("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nGET ")
            << QByteArray("DELETE /b HTTP/1.1\r\nHost: x\r\n\r\n") << QByteArray("DELETE");
        QTest::newRow("chunked, HEAD")
            << QByteArray("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                          "chunked\r\n\r\n3\r\nGET\r\n0\r\n\r\n")
            << QByteArray("HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n") << QByteArray("HEAD");
    }
    void pipelined()
    {
        QFETCH(QByteArray, first);
        QFETCH(QByteArray, second);
        QFETCH(QByteArray, secondMethod);
        RequestFramer framer(smallLimits());
        QByteArray buffer = first + second;
        QCOMPARE(framer.advance(buffer), Status::Complete);
        QCOMPARE(framer.request().totalLength, first.size());
        QCOMPARE(framer.request().target, QByteArray("/a"));
        QCOMPARE(framer.bytesForParser(buffer), first);
        buffer.remove(0, framer.request().totalLength);
        framer.reset();
        QCOMPARE(framer.advance(buffer), Status::Complete);
        QCOMPARE(framer.request().method, secondMethod);
        QCOMPARE(framer.request().target, QByteArray("/b"));
        QCOMPARE(framer.request().totalLength, second.size());
        QCOMPARE(framer.bytesForParser(buffer), second);
    }

    void keepAlive_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<bool>("keepAlive");
        QTest::newRow("1.1 default") << QByteArray("GET / HTTP/1.1\r\nHost: x\r\n\r\n") << true;
        QTest::newRow("1.1 close")
            << QByteArray("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") << false;
        QTest::newRow("1.1 Close in a list")
            << QByteArray("GET / HTTP/1.1\r\nHost: x\r\nConnection: TE, Close\r\n\r\n") << false;
        QTest::newRow("1.1 keep-alive")
            << QByteArray("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n") << true;
        QTest::newRow("1.1 closed-ish token")
            << QByteArray("GET / HTTP/1.1\r\nHost: x\r\nConnection: closed\r\n\r\n") << true;
        QTest::newRow("1.0 default") << QByteArray("GET / HTTP/1.0\r\n\r\n") << false;
        QTest::newRow("1.0 keep-alive")
            << QByteArray("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") << true;
        QTest::newRow("1.0 Keep-Alive")
            << QByteArray("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") << true;
        QTest::newRow("1.0 keep-alive and close")
            << QByteArray("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n")
            << false;
    }
    void keepAlive()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(bool, keepAlive);
        const Outcome o = feedWhole(bytes);
        QCOMPARE(o.status, Status::Complete);
        QCOMPARE(o.request.keepAlive, keepAlive);
    }

    void continueRequest_data()
    {
        QTest::addColumn<QByteArray>("head");
        QTest::addColumn<bool>("expectContinue");
        QTest::addColumn<bool>("pending");
        QTest::newRow("with body") << QByteArray("POST /u HTTP/1.1\r\nHost: x\r\nExpect: "
                                                 "100-continue\r\nContent-Length: 5\r\n\r\n")
                                   << true << true;
        QTest::newRow("case-insensitive") << QByteArray("POST /u HTTP/1.1\r\nHost: x\r\nExpect: "
                                                        "100-Continue\r\nContent-Length: 5\r\n\r\n")
                                          << true << true;
        QTest::newRow("chunked") << QByteArray("POST /u HTTP/1.1\r\nHost: x\r\nExpect: "
                                               "100-continue\r\nTransfer-Encoding: chunked\r\n\r\n")
                                 << true << true;
        QTest::newRow("no body") << QByteArray("POST /u HTTP/1.1\r\nHost: x\r\nExpect: "
                                               "100-continue\r\nContent-Length: 0\r\n\r\n")
                                 << true << false;
        QTest::newRow("no Expect")
            << QByteArray("POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n") << false
            << false;
        QTest::newRow("other expectation")
            << QByteArray(
                   "POST /u HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 5\r\n\r\n")
            << false << false;
        QTest::newRow("HTTP/1.0")
            << QByteArray("POST /u HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
            << true << false;
    }
    void continueRequest()
    {
        QFETCH(QByteArray, head);
        QFETCH(bool, expectContinue);
        QFETCH(bool, pending);
        RequestFramer framer(smallLimits());
        QVERIFY(!framer.takeContinueRequest()); // nothing yet
        QByteArray buffer = head;
        QCOMPARE(framer.advance(buffer),
                 head.contains("Content-Length: 0") ? Status::Complete : Status::NeedMore);
        QCOMPARE(framer.request().expectContinue, expectContinue);
        QCOMPARE(framer.takeContinueRequest(), pending);
        QCOMPARE(framer.takeContinueRequest(), false); // only once
        buffer +=
            head.contains("chunked") ? QByteArray("5\r\nhello\r\n0\r\n\r\n") : QByteArray("hello");
        framer.advance(buffer);
        QCOMPARE(framer.takeContinueRequest(), false);
    }

    void bytesForParser_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QByteArray>("expected");
        QTest::newRow("nothing hidden")
            << QByteArray("GET / HTTP/1.1\r\nHost: x\r\nUpgrade-Insecure-Requests: 1\r\nX-Upgrade: "
                          "a\r\n\r\n")
            << QByteArray("GET / HTTP/1.1\r\nHost: x\r\nUpgrade-Insecure-Requests: 1\r\nX-Upgrade: "
                          "a\r\n\r\n");
        QTest::newRow("h2c upgrade")
            << QByteArray("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, "
                          "HTTP2-Settings\r\nUpgrade: h2c\r\n"
                          "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nAccept: */*\r\n\r\n")
            << QByteArray("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, "
                          "HTTP2-Settings\r\nAccept: */*\r\n\r\n");
        QTest::newRow("websocket, lower-case, with body")
            << QByteArray("POST /w HTTP/1.1\r\nupgrade: websocket\r\nHost: x\r\nContent-Length: "
                          "4\r\n\r\nbody")
            << QByteArray("POST /w HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody");
        QTest::newRow("last header")
            << QByteArray("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n\r\n")
            << QByteArray("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        QTest::newRow("chunked trailers")
            << QByteArray("POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "3\r\nabc\r\n0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n")
            << QByteArray("POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "3\r\nabc\r\n0\r\n\r\n");
    }
    void bytesForParser()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(QByteArray, expected);
        RequestFramer framer; // default limits
        const QByteArray next = "GET /next HTTP/1.1\r\nHost: x\r\n\r\n";
        const QByteArray buffer = bytes + next; // the next pipelined request must not leak in
        QCOMPARE(framer.advance(buffer), Status::Complete);
        QCOMPARE(framer.request().totalLength, bytes.size());
        QCOMPARE(framer.bytesForParser(buffer), expected);
    }
};

QTEST_GUILESS_MAIN(TestRequestFramer)
#include "tst_requestframer.moc"
