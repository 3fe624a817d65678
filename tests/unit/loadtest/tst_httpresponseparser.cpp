// SPDX-License-Identifier: GPL-3.0-or-later
// HttpResponseParser, the load tester's incremental HTTP/1.1 response parser. A socket can
// cut a response anywhere, so every row is fed three ways: in one piece, split in two at
// every byte offset, and one byte at a time; the outcome must not depend on the split:
// status, keepAlive, body (when kept), bytes() and the count of bytes feed() took (which
// stops at the end of the response, leaving what follows to the next one). Rows cover
// Content-Length (0, small, over 64 KiB), chunked coding (extensions, trailers, lowercase
// hex), bodies delimited by the end of the connection, responses without a body (HEAD,
// 204, 304), interim 1xx responses, keep-alive rules of HTTP/1.0 and 1.1, the 16 KiB line
// and 64 KiB header limits at their bounds, and every protocol error with its exact message.
// reset() is tested on one parser reused across pipelined, failed and HEAD responses.
#include "HttpResponseParser.h"

#include <QByteArrayView>
#include <QList>
#include <QTest>

using namespace bulwark;

namespace {

struct Outcome
{
    bool done = false;
    bool failed = false;
    bool stalled = false; // feed() took less than it was given without finishing: a bug
    QString error;
    int status = 0;
    bool keepAlive = false;
    QByteArray body;
    quint64 bytes = 0;
    qint64 consumed = 0;
};

// Feeds `pieces` in order as a socket would deliver them, stopping once the response is
// complete or failed; then, when `close`, tells the parser the connection closed.
Outcome run(HttpResponseParser &p, const QList<QByteArrayView> &pieces, bool head, bool keepBody,
            bool close)
{
    Outcome o;
    p.reset(head, keepBody);
    for (const QByteArrayView piece : pieces) {
        const qsizetype n = p.feed(piece.data(), piece.size());
        o.consumed += n;
        if (p.done() || p.failed())
            break;
        if (n != piece.size())
            o.stalled = true;
    }
    if (close && !p.done() && !p.failed()) {
        const bool finished = p.finishOnClose();
        if (finished != p.done())
            o.stalled = true;
    }
    o.done = p.done();
    o.failed = p.failed();
    o.error = p.error();
    o.status = p.status();
    o.keepAlive = p.keepAlive();
    o.body = p.body();
    o.bytes = p.bytes();
    return o;
}

// The ways a response is fed: whole, split in two at every offset, byte by byte. Each with
// a label for failure messages.
enum class Feeding
{
    Whole,
    SplitInTwo,
    ByteByByte
};

QList<std::pair<QString, QList<QByteArrayView>>> feedings(const QByteArray &input, Feeding mode)
{
    const QByteArrayView all(input);
    QList<std::pair<QString, QList<QByteArrayView>>> out;
    if (mode == Feeding::Whole) {
        out.append({QStringLiteral("whole"), {all}});
    } else if (mode == Feeding::SplitInTwo) {
        for (qsizetype k = 1; k < all.size(); ++k)
            out.append({QStringLiteral("split at %1").arg(k), {all.first(k), all.sliced(k)}});
    } else {
        QList<QByteArrayView> bytes;
        bytes.reserve(all.size());
        for (qsizetype i = 0; i < all.size(); ++i)
            bytes.append(all.sliced(i, 1));
        out.append({QStringLiteral("byte by byte"), bytes});
    }
    return out;
}

// What differs between two outcomes of a successful parse ("" when nothing).
QString differences(const Outcome &got, const Outcome &want)
{
    QStringList d;
    if (got.stalled)
        d << QStringLiteral("feed() stopped short of a piece before the end");
    if (got.failed)
        d << QStringLiteral("failed: %1").arg(got.error);
    if (got.done != want.done)
        d << QStringLiteral("done %1, expected %2").arg(got.done).arg(want.done);
    if (got.status != want.status)
        d << QStringLiteral("status %1, expected %2").arg(got.status).arg(want.status);
    if (got.keepAlive != want.keepAlive)
        d << QStringLiteral("keepAlive %1, expected %2").arg(got.keepAlive).arg(want.keepAlive);
    if (got.body != want.body)
        d << QStringLiteral("body of %1 bytes (%2), expected %3 bytes (%4)")
                 .arg(got.body.size())
                 .arg(QString::fromLatin1(got.body.left(40)))
                 .arg(want.body.size())
                 .arg(QString::fromLatin1(want.body.left(40)));
    if (got.consumed != want.consumed)
        d << QStringLiteral("consumed %1, expected %2").arg(got.consumed).arg(want.consumed);
    if (got.bytes != want.bytes)
        d << QStringLiteral("bytes() %1, expected %2").arg(got.bytes).arg(want.bytes);
    return d.join(QStringLiteral("; "));
}

QByteArray pattern(int size)
{
    QByteArray b(size, Qt::Uninitialized);
    for (int i = 0; i < size; ++i)
        b[i] = char('a' + i % 26);
    return b;
}

// A response with no body whose status line, headers and blank line take exactly `total`
// bytes (filler header lines of at most 16 000 bytes).
QByteArray withHeaderBytes(int total)
{
    const QByteArray start = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n";
    int filler = total - int(start.size()) - 2;
    QByteArray r = start;
    for (int i = 0; filler > 0; ++i) {
        const int line = std::min(filler, 16000);
        const QByteArray name = "X-F" + QByteArray::number(i) + ": ";
        r += name + QByteArray(line - int(name.size()) - 2, 'f') + "\r\n";
        filler -= line;
    }
    r += "\r\n";
    Q_ASSERT(r.size() == total);
    return r;
}

// A row of addResponseRows(): a complete 200 with keep-alive, body kept, unless said.
struct Row
{
    explicit Row(const QByteArray &bytes) : input(bytes) {}
    Row &body(const QByteArray &b)
    {
        bodyBytes = b;
        return *this;
    }
    Row &status(int s)
    {
        statusCode = s;
        return *this;
    }
    Row &closesConnection()
    {
        keepAlive = false;
        return *this;
    } // keepAlive() false
    Row &head()
    {
        isHead = true;
        return *this;
    } // the request was HEAD
    Row &bodyNotKept()
    {
        keepBody = false;
        return *this;
    }
    Row &closeAfter()
    {
        close = true;
        return *this;
    } // finishOnClose() after the input
    Row &incomplete()
    {
        done = false;
        return *this;
    }
    Row &then(const QByteArray &next)
    {
        after = next;
        return *this;
    } // fed, not consumed

    QByteArray input;
    QByteArray bodyBytes;
    QByteArray after;
    int statusCode = 200;
    bool keepAlive = true;
    bool isHead = false;
    bool keepBody = true;
    bool close = false;
    bool done = true;
};

const QByteArray kNext = "HTTP/1.1 200 OK\r\nContent-Le"; // the start of a pipelined response

} // namespace

class TestHttpResponseParser : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void whole_data() { addResponseRows(); }
    void whole() { checkResponse(Feeding::Whole); }
    void splitInTwo_data() { addResponseRows(); }
    void splitInTwo() { checkResponse(Feeding::SplitInTwo); }
    void byteByByte_data() { addResponseRows(); }
    void byteByByte() { checkResponse(Feeding::ByteByByte); }
    void errors_data();
    void errors();
    void resetReusesTheParser();

private:
    static void addResponseRows();
    static void checkResponse(Feeding mode);
};

void TestHttpResponseParser::addResponseRows()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<bool>("head");     // the request was HEAD
    QTest::addColumn<bool>("keepBody"); // reset(head, keepBody)
    QTest::addColumn<bool>("close");    // finishOnClose() after the input
    QTest::addColumn<bool>("done");
    QTest::addColumn<int>("status");
    QTest::addColumn<bool>("keepAlive");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<qint64>("consumed"); // also bytes()

    auto add = [](const char *name, const Row &r) {
        QTest::newRow(name) << r.input + r.after << r.isHead << r.keepBody << r.close << r.done
                            << r.statusCode << r.keepAlive << r.bodyBytes << qint64(r.input.size());
    };
    const QByteArray ok = "HTTP/1.1 200 OK\r\n";
    const QByteArray chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    const QByteArray big = pattern(70000);

    // Content-Length.
    add("length 0", Row(ok + "Content-Length: 0\r\n\r\n"));
    add("length 5", Row(ok + "Content-Length: 5\r\nServer: x\r\n\r\nhello").body("hello"));
    add("length case-insensitive, spaces around the value",
        Row("HTTP/1.1 201 Created\r\ncontent-LENGTH:   3  \r\n\r\nabc").body("abc").status(201));
    add("length repeated with the same value",
        Row(ok + "Content-Length: 2\r\nContent-Length: 2\r\n\r\nok").body("ok"));
    add("body with CRLF and a status line inside",
        Row(ok + "Content-Length: 21\r\n\r\nHTTP/1.1 500 Oops\r\n\r\n")
            .body("HTTP/1.1 500 Oops\r\n\r\n"));
    add("length over 64 KiB", Row(ok + "Content-Length: 70000\r\n\r\n" + big).body(big));
    add("length over 64 KiB, body not kept",
        Row(ok + "Content-Length: 70000\r\n\r\n" + big).bodyNotKept());
    add("status line without reason",
        Row("HTTP/1.1 404\r\nContent-Length: 1\r\n\r\nx").body("x").status(404));
    add("bare LF line ends", Row("HTTP/1.1 200 OK\nContent-Length: 2\n\nhi").body("hi"));
    add("error status with body",
        Row("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy")
            .body("busy")
            .status(503));

    // Chunked.
    add("chunked, several chunks",
        Row(chunked + "4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n")
            .body("Wikipedia in\r\n\r\nchunks."));
    add("chunked, extensions",
        Row(chunked + "5;name=value\r\nhello\r\n6 ; a=\"b;c\"\r\n world\r\n0;last\r\n\r\n")
            .body("hello world"));
    add("chunked, trailers",
        Row(chunked + "3\r\nabc\r\n0\r\nX-Checksum: 12\r\nX-Other: a b\r\n\r\n").body("abc"));
    add("chunked, lowercase and uppercase hex",
        Row(chunked + "a\r\n0123456789\r\n1f\r\n" + pattern(31) + "\r\n1F\r\n" + pattern(31) +
            "\r\n0\r\n\r\n")
            .body("0123456789" + pattern(31) + pattern(31)));
    add("chunked, only the last chunk", Row(chunked + "0\r\n\r\n"));
    add("chunked after another coding",
        Row(ok + "Transfer-Encoding: gzip, Chunked\r\n\r\n2\r\n\x1f\x8b\r\n0\r\n\r\n")
            .body("\x1f\x8b"));
    add("chunked wins over Content-Length",
        Row(ok + "Content-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "2\r\nok\r\n0\r\n\r\n")
            .body("ok"));
    add("chunked over 64 KiB, body not kept", // 0x11170 = 70000
        Row(chunked + "11170\r\n" + big + "\r\n0\r\n\r\n").bodyNotKept());

    // Delimited by the end of the connection.
    add("until close, completed by finishOnClose",
        Row(ok + "Content-Type: text/plain\r\n\r\nall of this\r\nand this")
            .body("all of this\r\nand this")
            .closesConnection()
            .closeAfter());
    add("until close, empty body", Row(ok + "\r\n").closesConnection().closeAfter());
    add("until close, not complete without the close",
        Row(ok + "\r\npartial").body("partial").closesConnection().incomplete());
    add("length cut short by the close",
        Row(ok + "Content-Length: 10\r\n\r\nabc").body("abc").closeAfter().incomplete());

    // No body, whatever the headers say.
    add("HEAD with Content-Length", Row(ok + "Content-Length: 1234\r\n\r\n").head().then(kNext));
    add("HEAD with chunked", Row(chunked).head().then(kNext));
    add("204", Row("HTTP/1.1 204 No Content\r\n\r\n").status(204).then(kNext));
    add("304 with Content-Length",
        Row("HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n").status(304).then(kNext));

    // Interim responses are skipped; their bytes count.
    add("100 Continue then 200",
        Row("HTTP/1.1 100 Continue\r\n\r\n" + ok + "Content-Length: 2\r\n\r\nok").body("ok"));
    add("two interim responses then 201",
        Row("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
            "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
            .status(201));
    add("100 Continue then HTTP/1.0 200",
        Row("HTTP/1.1 100 Continue\r\nConnection: keep-alive\r\n\r\n"
            "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx")
            .body("x")
            .closesConnection());

    // Keep-alive.
    add("HTTP/1.0 closes by default",
        Row("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc").body("abc").closesConnection());
    add("HTTP/1.0 with keep-alive",
        Row("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc")
            .body("abc"));
    add("HTTP/1.0 with Keep-Alive among tokens",
        Row("HTTP/1.0 200 OK\r\nConnection: Upgrade, Keep-Alive\r\nContent-Length: 3\r\n\r\n"
            "abc")
            .body("abc"));
    add("HTTP/1.0 with keep-alive and close",
        Row("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\n"
            "Content-Length: 3\r\n\r\nabc")
            .body("abc")
            .closesConnection());
    add("HTTP/1.0 with keep-alive and no length ends with the close",
        Row("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nabc")
            .body("abc")
            .closesConnection()
            .closeAfter());
    add("HTTP/1.1 with close", Row(ok + "Connection: close\r\nContent-Length: 3\r\n\r\nabc")
                                   .body("abc")
                                   .closesConnection());
    add("HTTP/1.1 with Close among tokens",
        Row(ok + "Connection: TE, Close\r\nContent-Length: 3\r\n\r\nabc")
            .body("abc")
            .closesConnection());

    // What follows a response is left for the next one.
    add("length, then the next response",
        Row(ok + "Content-Length: 5\r\n\r\nhello").body("hello").then(kNext));
    add("length 0, then the next response", Row(ok + "Content-Length: 0\r\n\r\n").then(kNext));
    add("chunked, then the next response",
        Row(chunked + "2\r\nok\r\n0\r\n\r\n").body("ok").then(kNext));
    add("chunked with trailers, then the next response",
        Row(chunked + "2\r\nok\r\n0\r\nX-T: 1\r\n\r\n").body("ok").then(kNext));
    add("100 Continue then 200, then the next response",
        Row("HTTP/1.1 100 Continue\r\n\r\n" + ok + "Content-Length: 2\r\n\r\nok")
            .body("ok")
            .then(kNext));

    // Limits at their bounds: a line of 16 KiB (its CRLF not counted), 64 KiB of headers.
    add("header line of exactly 16 KiB",
        Row(ok + "X-Long: " + QByteArray(16384 - 8, 'l') + "\r\nContent-Length: 0\r\n\r\n"));
    add("chunk line of exactly 16 KiB",
        Row(chunked + "2;" + QByteArray(16384 - 2, 'e') + "\r\nok\r\n0\r\n\r\n").body("ok"));
    add("headers of exactly 64 KiB", Row(withHeaderBytes(65536)));
}

void TestHttpResponseParser::checkResponse(Feeding mode)
{
    QFETCH(QByteArray, input);
    QFETCH(bool, head);
    QFETCH(bool, keepBody);
    QFETCH(bool, close);
    Outcome want;
    QFETCH(bool, done);
    QFETCH(int, status);
    QFETCH(bool, keepAlive);
    QFETCH(QByteArray, body);
    QFETCH(qint64, consumed);
    want.done = done;
    want.status = status;
    want.keepAlive = keepAlive;
    want.body = body;
    want.consumed = consumed;
    want.bytes = quint64(consumed);

    HttpResponseParser parser;
    int failures = 0;
    QString first;
    for (const auto &[label, pieces] : feedings(input, mode)) {
        const QString d = differences(run(parser, pieces, head, keepBody, close), want);
        if (!d.isEmpty() && failures++ == 0)
            first = label + QStringLiteral(": ") + d;
    }
    QVERIFY2(failures == 0,
             qPrintable(QStringLiteral("%1 feeding(s) wrong; first: %2").arg(failures).arg(first)));
}

void TestHttpResponseParser::errors_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<QString>("error");

    const QString statusLine = QStringLiteral("the status line is not HTTP/1.0 or HTTP/1.1");
    const QString digits = QStringLiteral("the status code is not three digits");
    const QString length = QStringLiteral("Content-Length is not a single non-negative number");
    const QString chunkSize = QStringLiteral("a chunk size is not a hexadecimal number");
    const QString longLine = QStringLiteral("a line of the response is longer than 16 KiB");
    const QString chunked = QStringLiteral("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    const QByteArray chunkedHead = chunked.toLatin1();

    QTest::newRow("HTTP/2") << QByteArray("HTTP/2 200 OK\r\n\r\n") << statusLine;
    QTest::newRow("HTTP/1.2") << QByteArray("HTTP/1.2 200 OK\r\n\r\n") << statusLine;
    QTest::newRow("not HTTP") << QByteArray("ICY 200 OK\r\n\r\n") << statusLine;
    QTest::newRow("lowercase http") << QByteArray("http/1.1 200 OK\r\n\r\n") << statusLine;
    QTest::newRow("status line too short") << QByteArray("HTTP/1.1 20\r\n\r\n") << statusLine;
    QTest::newRow("two spaces") << QByteArray("HTTP/1.1  200 OK\r\n\r\n") << digits;
    QTest::newRow("empty status line") << QByteArray("\r\nHTTP/1.1 200 OK\r\n\r\n") << statusLine;
    QTest::newRow("non-digit status") << QByteArray("HTTP/1.1 2x0 OK\r\n\r\n") << digits;
    QTest::newRow("four-digit status") << QByteArray("HTTP/1.1 2000 OK\r\n\r\n") << digits;
    QTest::newRow("status below 100") << QByteArray("HTTP/1.1 099 Low\r\n\r\n") << digits;

    QTest::newRow("two different lengths")
        << QByteArray("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")
        << length;
    QTest::newRow("negative length")
        << QByteArray("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n") << length;
    QTest::newRow("length not a number")
        << QByteArray("HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello") << length;
    QTest::newRow("length list") << QByteArray("HTTP/1.1 200 OK\r\nContent-Length: 5, "
                                               "5\r\n\r\nhello")
                                 << length;

    QTest::newRow("chunk size not hex") << chunkedHead + "zz\r\nhello\r\n0\r\n\r\n" << chunkSize;
    QTest::newRow("chunk size empty") << chunkedHead + "\r\nhello\r\n0\r\n\r\n" << chunkSize;
    QTest::newRow("chunk size negative") << chunkedHead + "-5\r\nhello\r\n0\r\n\r\n" << chunkSize;
    QTest::newRow("chunk size over 15 digits") << chunkedHead + "1000000000000000\r\nx\r\n"
                                               << chunkSize;
    QTest::newRow("chunk longer than its size")
        << chunkedHead + "3\r\nabcdef\r\n0\r\n\r\n"
        << QStringLiteral("a chunk is longer than its size");

    QTest::newRow("Transfer-Encoding not ending in chunked")
        << QByteArray("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")
        << QStringLiteral("Transfer-Encoding does not end with chunked");
    QTest::newRow("Transfer-Encoding gzip only")
        << QByteArray("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc")
        << QStringLiteral("Transfer-Encoding does not end with chunked");

    QTest::newRow("header line without colon")
        << QByteArray("HTTP/1.1 200 OK\r\nContent-Length 5\r\n\r\nhello")
        << QStringLiteral("a header line has no name");
    QTest::newRow("header line starting with a colon")
        << QByteArray("HTTP/1.1 200 OK\r\n: 5\r\n\r\nhello")
        << QStringLiteral("a header line has no name");
    QTest::newRow("header name with a space")
        << QByteArray("HTTP/1.1 200 OK\r\nContent Length: 5\r\n\r\nhello")
        << QStringLiteral("a header name contains white space");
    QTest::newRow("space before the colon")
        << QByteArray("HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello")
        << QStringLiteral("a header name contains white space");
    QTest::newRow("tab in a header name") << QByteArray("HTTP/1.1 200 OK\r\nX-A\tB: 1\r\n\r\n")
                                          << QStringLiteral("a header name contains white space");

    QTest::newRow("header line over 16 KiB")
        << "HTTP/1.1 200 OK\r\nX-Long: " + QByteArray(16385 - 8, 'l') +
               "\r\nContent-Length: 0\r\n\r\n"
        << longLine;
    QTest::newRow("status line over 16 KiB")
        << "HTTP/1.1 200 " + QByteArray(17000, 'r') + "\r\nContent-Length: 0\r\n\r\n"
        << longLine;
    QTest::newRow("chunk line over 16 KiB")
        << chunkedHead + "2;" + QByteArray(16385 - 2, 'e') + "\r\nok\r\n0\r\n\r\n"
        << longLine;
    QTest::newRow("trailer line over 16 KiB")
        << chunkedHead + "2\r\nok\r\n0\r\nX-T: " + QByteArray(17000, 't') + "\r\n\r\n"
        << longLine;
    QTest::newRow("headers over 64 KiB")
        << withHeaderBytes(65537) << QStringLiteral("the response headers are larger than 64 KiB");
    QTest::newRow("headers far over 64 KiB")
        << withHeaderBytes(100000) << QStringLiteral("the response headers are larger than 64 KiB");
}

void TestHttpResponseParser::errors()
{
    QFETCH(QByteArray, input);
    QFETCH(QString, error);
    HttpResponseParser parser;
    for (const Feeding mode : {Feeding::Whole, Feeding::SplitInTwo, Feeding::ByteByByte}) {
        int failures = 0;
        QString first;
        for (const auto &[label, pieces] : feedings(input, mode)) {
            const Outcome o = run(parser, pieces, false, true, false);
            QString d;
            if (!o.failed || o.done)
                d = QStringLiteral("not failed (done %1, status %2)").arg(o.done).arg(o.status);
            else if (o.error != error)
                d = QStringLiteral("error \"%1\"").arg(o.error);
            else if (o.keepAlive)
                d = QStringLiteral("keepAlive after a failure");
            if (!d.isEmpty() && failures++ == 0)
                first = label + QStringLiteral(": ") + d;
        }
        QVERIFY2(
            failures == 0,
            qPrintable(QStringLiteral("%1 feeding(s) wrong; first: %2").arg(failures).arg(first)));
    }
}

void TestHttpResponseParser::resetReusesTheParser()
{
    HttpResponseParser p;
    QVERIFY(!p.started());

    // Two pipelined responses in one read: the first stops at its end, the rest is fed after
    // reset().
    const QByteArray first = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    const QByteArray second = "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "3\r\nnot\r\n0\r\n\r\n";
    const QByteArray both = first + second;
    p.reset(false, true);
    qsizetype n = p.feed(both.constData(), both.size());
    QCOMPARE(n, first.size());
    QVERIFY(p.done());
    QVERIFY(p.started());
    QCOMPARE(p.status(), 200);
    QCOMPARE(p.body(), QByteArray("hello"));
    QCOMPARE(p.bytes(), quint64(first.size()));
    // Fed again without reset(), a done parser takes nothing.
    QCOMPARE(p.feed(both.constData() + n, both.size() - n), 0);

    p.reset(false, true);
    QVERIFY(!p.done());
    QVERIFY(!p.started());
    QCOMPARE(p.bytes(), quint64(0));
    QVERIFY(p.body().isEmpty());
    QCOMPARE(p.feed(both.constData() + n, both.size() - n), second.size());
    QVERIFY(p.done());
    QCOMPARE(p.status(), 404);
    QCOMPARE(p.body(), QByteArray("not"));
    QCOMPARE(p.bytes(), quint64(second.size()));

    // A failure, then a clean response on the same parser.
    const QByteArray bad = "HTTP/1.1 200 OK\r\nBad Header: 1\r\n\r\n";
    p.reset(false, true);
    p.feed(bad.constData(), bad.size());
    QVERIFY(p.failed());
    QVERIFY(!p.keepAlive());
    QCOMPARE(p.feed("more", 4), 0); // a failed parser takes nothing either
    QVERIFY(!p.finishOnClose());

    p.reset(true, false); // HEAD, body not kept
    QVERIFY(!p.failed());
    QVERIFY(p.error().isEmpty());
    QCOMPARE(p.status(), 0);
    QVERIFY(p.keepAlive());
    const QByteArray headReply = "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
    QCOMPARE(p.feed(headReply.constData(), headReply.size()), headReply.size());
    QVERIFY(p.done());
    QVERIFY(p.body().isEmpty());
    QVERIFY(p.keepAlive());

    // HEAD is per response: the next one has its body again, and keepBody is honoured.
    const QByteArray third = "HTTP/1.0 200 OK\r\n\r\nto the end";
    p.reset(false, false);
    QCOMPARE(p.feed(third.constData(), third.size()), third.size());
    QVERIFY(!p.done());
    QVERIFY(p.finishOnClose());
    QVERIFY(p.done());
    QVERIFY(p.body().isEmpty());
    QVERIFY(!p.keepAlive());
    QCOMPARE(p.bytes(), quint64(third.size()));

    p.reset(false, true);
    QCOMPARE(p.feed(third.constData(), third.size()), third.size());
    QVERIFY(p.finishOnClose());
    QCOMPARE(p.body(), QByteArray("to the end"));
    // finishOnClose() on a response that is already complete keeps it complete.
    QVERIFY(p.finishOnClose());
}

QTEST_GUILESS_MAIN(TestHttpResponseParser)
#include "tst_httpresponseparser.moc"
