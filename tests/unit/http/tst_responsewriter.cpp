// SPDX-License-Identifier: GPL-3.0-or-later
// ResponseWriter: exact HTTP/1.x bytes for status line (1.0 vs 1.1), HEAD, bodyless
// statuses, Connection headers, Date (IMF-fixdate) and Server.

#include "ErrorMapping.h"
#include "ResponseWriter.h"
#include "Version.h"

#include <QDateTime>
#include <QLocale>
#include <QRegularExpression>
#include <QTest>
#include <ctime>

using namespace bulwark;

namespace {

const QRegularExpression
    kImfFixdate(QStringLiteral("^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (0[1-9]|[12][0-9]|3[01]) "
                               "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
                               "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] GMT$"));

// Replaces the value of the Date line with "X" after checking its format, so that the rest
// of the output can be compared byte for byte.
QByteArray normaliseDate(const QByteArray &bytes, bool *dateOk)
{
    *dateOk = false;
    const qsizetype start = bytes.indexOf("\r\nDate: ");
    if (start < 0)
        return bytes;
    const qsizetype valueStart = start + 8;
    const qsizetype end = bytes.indexOf("\r\n", valueStart);
    if (end < 0)
        return bytes;
    const QByteArray value = bytes.mid(valueStart, end - valueStart);
    *dateOk = kImfFixdate.match(QString::fromLatin1(value)).hasMatch();
    QByteArray out = bytes;
    out.replace(valueStart, end - valueStart, "X");
    return out;
}

HttpResponse text(int status, const QByteArray &body)
{
    return HttpResponse::bytes(body, "text/plain", status);
}

} // namespace

class TestResponseWriter : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void serialize_data()
    {
        QTest::addColumn<HttpResponse>("response");
        QTest::addColumn<int>("version");
        QTest::addColumn<bool>("head");
        QTest::addColumn<bool>("close");
        QTest::addColumn<bool>("keepAliveHeader");
        QTest::addColumn<QByteArray>("expected"); // with "Date: X"

        const QByteArray server = "Server: Bulwark/" BULWARK_VERSION "\r\n";
        QTest::newRow("200 HTTP/1.1")
            << text(200, "hello") << 11 << false << false << false
            << "HTTP/1.1 200 OK\r\nDate: X\r\n" + server +
                   "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
        QTest::newRow("200 HTTP/1.0")
            << text(200, "hello") << 10 << false << false << false
            << "HTTP/1.0 200 OK\r\nDate: X\r\n" + server +
                   "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
        QTest::newRow("HTTP/1.0 keep-alive confirmed")
            << text(200, "hi") << 10 << false << false << true
            << "HTTP/1.0 200 OK\r\nDate: X\r\n" + server +
                   "Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: "
                   "keep-alive\r\n\r\nhi";
        QTest::newRow("close")
            << text(200, "hi") << 11 << false << true << false
            << "HTTP/1.1 200 OK\r\nDate: X\r\n" + server +
                   "Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi";
        QTest::newRow("close wins over keep-alive")
            << text(200, "hi") << 10 << false << true << true
            << "HTTP/1.0 200 OK\r\nDate: X\r\n" + server +
                   "Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi";
        QTest::newRow("HEAD keeps Content-Length, no body")
            << text(200, "hello world") << 11 << true << false << false
            << "HTTP/1.1 200 OK\r\nDate: X\r\n" + server +
                   "Content-Type: text/plain\r\nContent-Length: 11\r\n\r\n";
        QTest::newRow("HEAD HTTP/1.0 close")
            << text(404, "gone") << 10 << true << true << false
            << "HTTP/1.0 404 Not Found\r\nDate: X\r\n" + server +
                   "Content-Type: text/plain\r\nContent-Length: 4\r\nConnection: close\r\n\r\n";
        QTest::newRow("204 has no Content-Length and no body")
            << HttpResponse{204, {}, {{"Allow", "GET, HEAD, OPTIONS"}}, "ignored"} << 11 << false
            << false << false
            << "HTTP/1.1 204 No Content\r\nDate: X\r\n" + server +
                   "Allow: GET, HEAD, OPTIONS\r\n\r\n";
        QTest::newRow("304 has no Content-Length and no body")
            << HttpResponse{304, {}, {{"ETag", "\"v1\""}}, {}} << 11 << false << false << false
            << "HTTP/1.1 304 Not Modified\r\nDate: X\r\n" + server + "ETag: \"v1\"\r\n\r\n";
        QTest::newRow("100 has no Content-Length")
            << HttpResponse{100, {}, {}, {}} << 11 << false << false << false
            << "HTTP/1.1 100 Continue\r\nDate: X\r\n" + server + "\r\n";
        QTest::newRow("empty 200 has Content-Length 0")
            << HttpResponse{200, {}, {}, {}} << 11 << false << false << false
            << "HTTP/1.1 200 OK\r\nDate: X\r\n" + server + "Content-Length: 0\r\n\r\n";
        QTest::newRow("extra headers in order, after Connection")
            << HttpResponse{201,
                            "application/json",
                            {{"Location", "/items/1"}, {"X-A", "1"}, {"X-A", "2"}},
                            "{}"}
            << 11 << false << true << false
            << "HTTP/1.1 201 Created\r\nDate: X\r\n" + server +
                   "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n"
                   "Location: /items/1\r\nX-A: 1\r\nX-A: 2\r\n\r\n{}";
        QTest::newRow("error response")
            << errorResponse(ErrorCode::PayloadTooLarge, QStringLiteral("too big")) << 11 << false
            << true << false
            << "HTTP/1.1 413 Content Too Large\r\nDate: X\r\n" + server +
                   "Content-Type: application/json\r\nContent-Length: 58\r\nConnection: close\r\n"
                   "Cache-Control: no-store\r\n\r\n"
                   R"({"error":{"code":"payload_too_large","message":"too big"}})";
        QTest::newRow("unknown status")
            << text(299, "") << 11 << false << false << false
            << "HTTP/1.1 299 Status\r\nDate: X\r\n" + server +
                   "Content-Type: text/plain\r\nContent-Length: 0\r\n\r\n";
        QTest::newRow("binary body kept")
            << HttpResponse::bytes(QByteArray("\0\r\n\xff", 4), "application/octet-stream") << 11
            << false << false << false
            << "HTTP/1.1 200 OK\r\nDate: X\r\n" + server +
                   "Content-Type: application/octet-stream\r\nContent-Length: 4\r\n\r\n" +
                   QByteArray("\0\r\n\xff", 4);
    }
    void serialize()
    {
        QFETCH(HttpResponse, response);
        QFETCH(int, version);
        QFETCH(bool, head);
        QFETCH(bool, close);
        QFETCH(bool, keepAliveHeader);
        QFETCH(QByteArray, expected);

        WriteOptions options;
        options.version = version;
        options.headRequest = head;
        options.close = close;
        options.keepAliveHeader = keepAliveHeader;
        bool dateOk = false;
        const QByteArray bytes = ResponseWriter::serialize(response, options);
        QCOMPARE(normaliseDate(bytes, &dateOk), expected);
        QVERIFY2(dateOk, bytes.constData());
    }

    void serverHeader()
    {
        QCOMPARE(ResponseWriter::serverHeader(), QByteArray("Bulwark/" BULWARK_VERSION));
        QVERIFY(QByteArray(BULWARK_VERSION).count('.') == 2);
    }

    void httpDate()
    {
        const QDateTime before = QDateTime::currentDateTimeUtc();
        const QByteArray date = ResponseWriter::httpDate();
        const QDateTime after = QDateTime::currentDateTimeUtc();
        QVERIFY2(kImfFixdate.match(QString::fromLatin1(date)).hasMatch(), date.constData());
        // It is the current time in GMT (parsed with English names, whatever the locale).
        QDateTime parsed = QLocale::c().toDateTime(QString::fromLatin1(date).chopped(4),
                                                   QStringLiteral("ddd, dd MMM yyyy HH:mm:ss"));
        QVERIFY2(parsed.isValid(), date.constData());
        parsed.setTimeSpec(Qt::UTC);
        QVERIFY(parsed >= before.addSecs(-1));
        QVERIFY(parsed <= after.addSecs(1));
        // Cached per second: two calls within the same second agree.
        const std::time_t s1 = std::time(nullptr);
        const QByteArray a = ResponseWriter::httpDate();
        const QByteArray b = ResponseWriter::httpDate();
        const std::time_t s2 = std::time(nullptr);
        if (s1 == s2)
            QCOMPARE(a, b);
    }
};

QTEST_GUILESS_MAIN(TestResponseWriter)
#include "tst_responsewriter.moc"
