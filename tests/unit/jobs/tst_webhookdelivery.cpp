// SPDX-License-Identifier: GPL-3.0-or-later
// Webhook signing and delivery. Signing: a known-answer HMAC vector computed with openssl
// (`printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret`), the header
// format, and verifyWebhookSignature() accepting valid headers (tolerance edges, spaces,
// unknown schemes, a second v1, upper-case hex) and refusing a wrong secret, a tampered
// body, stale and future timestamps and malformed headers. The body's exact JSON.
// Delivery against a receiver on 127.0.0.1 (a QTcpServer in its own QThread, so the
// blocking client runs in the test thread) that records each request: 200, 500, 302 (not
// followed: one request only) and 100-then-204, each with every header present and the
// signature verifying over the body received; a chunked body cut at 2048 bytes, and
// large bodies (by length, in one chunk) of which the client does not wait for the rest;
// path, query and basic auth from the URL; a receiver that never answers (timeout
// honoured, cancellation honoured, cancelled before start), one that closes the
// connection, a refused port, https against a plain-TCP peer, invalid URLs, header
// injection refused, a host name resolved (localhost); and the call from a plain
// std::thread and from a QThread that runs no event loop.
#include "LoopbackReceiver.h"
#include "WebhookDelivery.h"

#include <QElapsedTimer>
#include <QHostInfo>
#include <QJsonArray>
#include <QSslSocket>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QThread>
#include <QTimer>
#include <atomic>
#include <condition_variable>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>

using namespace bulwark;
using namespace bulwark::test;
using namespace std::chrono_literals;

namespace {

const QByteArray kSecret = "whsec_test_secret";
constexpr qint64 kT = 1700000000;

// What the receiver does with a request.
enum class Reply
{
    Ok,                   // 200 with a short body, then closes
    ServerError,          // 500
    Redirect,             // 302 to another path of the same receiver
    InterimThenNoContent, // 100 Continue, then 204; keeps the connection open
    Chunked,              // 200, 10 chunks of 1000 bytes
    Large,                // 200, Content-Length 100000, sends 3000 bytes and stalls
    LargeChunk,           // 200, chunked, a chunk of 5000 bytes of which 3000 come, stalls
    NoAnswer,             // reads the request, never answers
    Close,                // closes as soon as the request is in
    NotTls,               // writes plain HTTP at once on connect (for an https client)
};

QByteArray chunkedBody()
{
    QByteArray decoded;
    for (int i = 0; i < 10; ++i)
        decoded += QByteArray(1000, char('a' + i));
    return decoded;
}

// What each Reply writes, in the receiver's thread (LoopbackReceiver records the request).
void answer(Reply reply, QTcpSocket *socket)
{
    switch (reply) {
    case Reply::Ok:
        socket->write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n"
                      "Connection: close\r\n\r\nreceived");
        socket->disconnectFromHost();
        break;
    case Reply::ServerError:
        socket->write("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom");
        socket->disconnectFromHost();
        break;
    case Reply::Redirect:
        socket->write("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:" +
                      QByteArray::number(socket->localPort()) +
                      "/moved\r\nContent-Length: 0\r\n\r\n");
        break; // keeps the connection open: the client must not wait for a close
    case Reply::InterimThenNoContent:
        socket->write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n");
        break;
    case Reply::Chunked: {
        QByteArray response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        const QByteArray decoded = chunkedBody();
        for (int i = 0; i < 10; ++i)
            response += "3e8;ext=1\r\n" + decoded.mid(i * 1000, 1000) + "\r\n";
        response += "0\r\n\r\n";
        socket->write(response);
        break;
    }
    case Reply::Large:
        socket->write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + QByteArray(3000, 'x'));
        break; // and never the rest
    case Reply::LargeChunk:
        socket->write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1388\r\n" +
                      QByteArray(3000, 'x'));
        break;
    case Reply::NoAnswer: break;
    case Reply::Close: socket->close(); break;
    case Reply::NotTls: break;
    }
}

// The shared loopback receiver (tests/support), answering every request with `reply`.
class Receiver final : public LoopbackReceiver
{
public:
    explicit Receiver(Reply reply)
        : LoopbackReceiver([reply](QTcpSocket *socket, int, const RecordedRequest &) {
                               answer(reply, socket);
                           },
                           reply == Reply::NotTls ? OnConnect([](QTcpSocket *socket) {
                               // Plain HTTP at once, to an https client.
                               socket->write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
                               socket->disconnectFromHost();
                               return false;
                           })
                                                  : OnConnect())
    {
    }
};

WebhookAttempt deliver(const QUrl &url, std::chrono::milliseconds timeout = 5s,
                       const std::function<bool()> &cancelled = {},
                       const QByteArray &body = R"({"a":1})",
                       const QString &event = QStringLiteral("record.created"))
{
    return deliverWebhook(url, kSecret, event, QStringLiteral("dlv_42"), body, kT, timeout,
                          cancelled);
}

} // namespace

Q_DECLARE_METATYPE(Reply)

class TestWebhookDelivery : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void signatureKnownAnswer();
    void verifyAccepts_data();
    void verifyAccepts();
    void verifyRejects_data();
    void verifyRejects();
    void bodyJson();

    void responses_data();
    void responses();
    void chunkedBodySnippet();
    void largeBodyNotAwaited_data();
    void largeBodyNotAwaited();
    void urlPartsAndBasicAuth();
    void timeoutHonoured();
    void cancellationHonoured();
    void cancelledBeforeStart();
    void connectionClosed();
    void connectionRefused();
    void httpsAgainstPlainPeerFails();
    void invalidUrls_data();
    void invalidUrls();
    void headerInjectionRefused();
    void hostNameResolved();
    void fromThreadsWithoutEventLoop();
};

void TestWebhookDelivery::signatureKnownAnswer()
{
    // Computed with openssl, not with the code under test.
    QCOMPARE(webhookSignature("secret", 1700000000, R"({"a":1})"),
             QByteArray("49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"));
    QCOMPARE(webhookSignature("secret", 1700000000, QByteArray()),
             QByteArray("4bc5f74d868b97888288889c5d9d65df02526f94c1592a79fdf4fe8b26e311e5"));
    QCOMPARE(webhookSignatureHeader("secret", 1700000000, R"({"a":1})"),
             QByteArray("t=1700000000,"
                        "v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"));
}

void TestWebhookDelivery::verifyAccepts_data()
{
    QTest::addColumn<QByteArray>("header");
    QTest::addColumn<qint64>("now");

    const QByteArray body = R"({"a":1})";
    const QByteArray good = webhookSignature(kSecret, kT, body);
    const QByteArray other = webhookSignature("old secret", kT, body);
    QTest::newRow("exact") << webhookSignatureHeader(kSecret, kT, body) << kT;
    QTest::newRow("300 s later") << webhookSignatureHeader(kSecret, kT, body) << kT + 300;
    QTest::newRow("300 s earlier") << webhookSignatureHeader(kSecret, kT, body) << kT - 300;
    QTest::newRow("spaces, v1 first") << " v1=" + good + " , t=" + QByteArray::number(kT) << kT;
    QTest::newRow("unknown scheme ignored")
        << "t=" + QByteArray::number(kT) + ",v0=abc,v1=" + good << kT;
    QTest::newRow("second v1 matches")
        << "t=" + QByteArray::number(kT) + ",v1=" + other + ",v1=" + good << kT;
    QTest::newRow("upper-case hex")
        << "t=" + QByteArray::number(kT) + ",v1=" + good.toUpper() << kT;
}

void TestWebhookDelivery::verifyAccepts()
{
    QFETCH(QByteArray, header);
    QFETCH(qint64, now);
    QCOMPARE(verifyWebhookSignature(kSecret, header, R"({"a":1})", now), QString());
}

void TestWebhookDelivery::verifyRejects_data()
{
    QTest::addColumn<QByteArray>("secret");
    QTest::addColumn<QByteArray>("header");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<qint64>("now");
    QTest::addColumn<QString>("reason"); // a part of the expected reason

    const QByteArray body = R"({"a":1})";
    const QByteArray header = webhookSignatureHeader(kSecret, kT, body);
    const QByteArray sig = webhookSignature(kSecret, kT, body);
    const QByteArray t = "t=" + QByteArray::number(kT);
    QTest::newRow("wrong secret") << QByteArray("other") << header << body << kT << "mismatch";
    QTest::newRow("tampered body")
        << kSecret << header << QByteArray(R"({"a":2})") << kT << "mismatch";
    QTest::newRow("body with a trailing newline")
        << kSecret << header << QByteArray(body + '\n') << kT << "mismatch";
    QTest::newRow("stale") << kSecret << header << body << kT + 301 << "tolerance";
    QTest::newRow("from the future") << kSecret << header << body << kT - 301 << "tolerance";
    QTest::newRow("timestamp changed")
        << kSecret << "t=" + QByteArray::number(kT + 1) + ",v1=" + sig << body << kT << "mismatch";
    QTest::newRow("empty") << kSecret << QByteArray() << body << kT << "malformed";
    QTest::newRow("garbage") << kSecret << QByteArray("garbage") << body << kT << "malformed";
    QTest::newRow("no timestamp") << kSecret << "v1=" + sig << body << kT << "no timestamp";
    QTest::newRow("no v1") << kSecret << t << body << kT << "no v1";
    QTest::newRow("timestamp not a number")
        << kSecret << "t=17e8,v1=" + sig << body << kT << "malformed";
    QTest::newRow("negative timestamp") << kSecret << "t=-5,v1=" + sig << body << kT << "malformed";
    QTest::newRow("two timestamps")
        << kSecret << t + "," + t + ",v1=" + sig << body << kT << "malformed";
    QTest::newRow("short v1") << kSecret << t + ",v1=" + sig.left(63) << body << kT << "malformed";
    QTest::newRow("non-hex v1") << kSecret << t + ",v1=" + sig.left(63) + "g" << body << kT
                                << "malformed";
    QTest::newRow("empty element") << kSecret << t + ",,v1=" + sig << body << kT << "malformed";
    QTest::newRow("huge timestamp") << kSecret << "t=999999999999999999,v1=" + sig << body
                                    << std::numeric_limits<qint64>::min() << "tolerance";
    QTest::newRow("empty secret") << QByteArray() << header << body << kT << "secret";
}

void TestWebhookDelivery::verifyRejects()
{
    QFETCH(QByteArray, secret);
    QFETCH(QByteArray, header);
    QFETCH(QByteArray, body);
    QFETCH(qint64, now);
    QFETCH(QString, reason);
    const QString result = verifyWebhookSignature(secret, header, body, now);
    QVERIFY2(result.contains(reason), qPrintable(result));
}

void TestWebhookDelivery::bodyJson()
{
    const QJsonObject payload{{QStringLiteral("b"), QStringLiteral("x\"y")},
                              {QStringLiteral("a"), 1},
                              {QStringLiteral("list"), QJsonArray{1, 2}}};
    QCOMPARE(webhookBody(QStringLiteral("dlv_1"), QStringLiteral("record.created"), 1700000000123,
                         payload),
             QByteArray(R"({"id":"dlv_1","event":"record.created",)"
                        R"("created_at":"2023-11-14T22:13:20.123Z",)"
                        R"("data":{"a":1,"b":"x\"y","list":[1,2]}})"));
    QCOMPARE(webhookBody(QStringLiteral("d"), QStringLiteral("job.dead"), 0, {}),
             QByteArray(R"({"id":"d","event":"job.dead","created_at":)"
                        R"("1970-01-01T00:00:00.000Z","data":{}})"));
}

void TestWebhookDelivery::responses_data()
{
    QTest::addColumn<Reply>("reply");
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("snippet");
    QTest::addColumn<bool>("success");

    QTest::newRow("200") << Reply::Ok << 200 << QByteArray("received") << true;
    QTest::newRow("500") << Reply::ServerError << 500 << QByteArray("boom") << false;
    QTest::newRow("302 not followed") << Reply::Redirect << 302 << QByteArray() << false;
    QTest::newRow("100 then 204") << Reply::InterimThenNoContent << 204 << QByteArray() << true;
}

void TestWebhookDelivery::responses()
{
    QFETCH(Reply, reply);
    QFETCH(int, status);
    QFETCH(QByteArray, snippet);
    QFETCH(bool, success);

    Receiver receiver(reply);
    QVERIFY(receiver.port() != 0);
    const QByteArray body = webhookBody(QStringLiteral("dlv_42"), QStringLiteral("record.created"),
                                        kT * 1000, {{QStringLiteral("id"), 7}});
    const WebhookAttempt attempt = deliver(receiver.url(), 5s, {}, body);
    QCOMPARE(attempt.error, QString());
    QCOMPARE(attempt.status, status);
    QCOMPARE(attempt.success(), success);
    QCOMPARE(attempt.responseSnippet, snippet);
    QVERIFY(attempt.durationMs < 4000);

    const QList<RecordedRequest> requests = receiver.requests();
    QCOMPARE(requests.size(), 1); // a redirect is not followed
    const RecordedRequest &r = requests.first();
    QCOMPARE(r.method, QByteArray("POST"));
    QCOMPARE(r.target, QByteArray("/hooks/in"));
    QCOMPARE(r.body, body);
    QCOMPARE(r.headers.value("content-type"), QByteArray("application/json"));
    QVERIFY(r.headers.value("user-agent").startsWith("Bulwark-Webhooks/"));
    QCOMPARE(r.headers.value("host"), "127.0.0.1:" + QByteArray::number(receiver.port()));
    QCOMPARE(r.headers.value("bulwark-event"), QByteArray("record.created"));
    QCOMPARE(r.headers.value("bulwark-delivery"), QByteArray("dlv_42"));
    QCOMPARE(r.headers.value("bulwark-timestamp"), QByteArray::number(kT));
    QVERIFY(r.headers.contains("bulwark-signature"));
    QCOMPARE(verifyWebhookSignature(kSecret, r.headers.value("bulwark-signature"), r.body, kT + 5),
             QString());
    QVERIFY(!verifyWebhookSignature("wrong", r.headers.value("bulwark-signature"), r.body, kT)
                 .isEmpty());
    QVERIFY(!r.headers.contains("authorization"));
}

void TestWebhookDelivery::chunkedBodySnippet()
{
    Receiver receiver(Reply::Chunked);
    const WebhookAttempt attempt = deliver(receiver.url());
    QCOMPARE(attempt.error, QString());
    QCOMPARE(attempt.status, 200);
    QCOMPARE(attempt.responseSnippet.size(), 2048);
    QCOMPARE(attempt.responseSnippet, chunkedBody().left(2048));
}

void TestWebhookDelivery::largeBodyNotAwaited_data()
{
    QTest::addColumn<Reply>("reply");
    QTest::newRow("content-length") << Reply::Large;
    QTest::newRow("chunked") << Reply::LargeChunk;
}

void TestWebhookDelivery::largeBodyNotAwaited()
{
    // The receiver announces 100 000 bytes (or a 5000-byte chunk), sends 3000 and stalls:
    // the client has what it keeps after 2048 and must not wait for the rest (nor for the
    // 10 s timeout).
    QFETCH(Reply, reply);
    Receiver receiver(reply);
    const WebhookAttempt attempt = deliver(receiver.url(), 10s);
    QCOMPARE(attempt.error, QString());
    QCOMPARE(attempt.status, 200);
    QCOMPARE(attempt.responseSnippet, QByteArray(2048, 'x'));
    QVERIFY2(attempt.durationMs < 5000, QByteArray::number(attempt.durationMs));
}

void TestWebhookDelivery::urlPartsAndBasicAuth()
{
    Receiver receiver(Reply::Ok);
    const QUrl url(QStringLiteral("http://hook%40user:p%3Ass@127.0.0.1:%1/a%20b/in?x=1&y=%2F")
                       .arg(receiver.port()));
    const WebhookAttempt attempt = deliver(url);
    QCOMPARE(attempt.status, 200);
    const QList<RecordedRequest> requests = receiver.requests();
    QCOMPARE(requests.size(), 1);
    QCOMPARE(requests[0].target, QByteArray("/a%20b/in?x=1&y=%2F"));
    QCOMPARE(requests[0].headers.value("authorization"),
             "Basic " + QByteArray("hook@user:p:ss").toBase64());
}

void TestWebhookDelivery::timeoutHonoured()
{
    Receiver receiver(Reply::NoAnswer);
    QElapsedTimer timer;
    timer.start();
    const WebhookAttempt attempt = deliver(receiver.url(), 300ms);
    const qint64 took = timer.elapsed();
    QCOMPARE(attempt.status, 0);
    QVERIFY2(attempt.error.contains(QStringLiteral("timeout")), qPrintable(attempt.error));
    QVERIFY(!attempt.success());
    QVERIFY2(took >= 250 && took < 5000, QByteArray::number(took));
    QVERIFY(attempt.durationMs >= 250 && attempt.durationMs <= took);
    QCOMPARE(receiver.requests().size(), 1); // it did arrive; nobody answered
}

void TestWebhookDelivery::cancellationHonoured()
{
    Receiver receiver(Reply::NoAnswer);
    std::atomic<bool> cancel{false};
    std::thread canceller([&] {
        std::this_thread::sleep_for(200ms);
        cancel.store(true);
    });
    QElapsedTimer timer;
    timer.start();
    const WebhookAttempt attempt = deliver(receiver.url(), 30s, [&] { return cancel.load(); });
    const qint64 took = timer.elapsed();
    canceller.join();
    QCOMPARE(attempt.status, 0);
    QCOMPARE(attempt.error, QStringLiteral("cancelled"));
    QVERIFY2(took >= 150 && took < 5000, QByteArray::number(took));
}

void TestWebhookDelivery::cancelledBeforeStart()
{
    Receiver receiver(Reply::Ok);
    const WebhookAttempt attempt = deliver(receiver.url(), 5s, [] { return true; });
    QCOMPARE(attempt.status, 0);
    QCOMPARE(attempt.error, QStringLiteral("cancelled"));
    QCOMPARE(receiver.connections(), 0);
}

void TestWebhookDelivery::connectionClosed()
{
    Receiver receiver(Reply::Close);
    const WebhookAttempt attempt = deliver(receiver.url());
    QCOMPARE(attempt.status, 0);
    QVERIFY2(attempt.error.contains(QStringLiteral("closed")), qPrintable(attempt.error));
    QVERIFY(attempt.durationMs < 4000);
}

void TestWebhookDelivery::connectionRefused()
{
    quint16 port = 0;
    {
        QTcpServer server;
        QVERIFY(server.listen(QHostAddress::LocalHost, 0));
        port = server.serverPort();
    } // closed: nothing listens there now
    const WebhookAttempt attempt = deliver(QUrl(QStringLiteral("http://127.0.0.1:%1/").arg(port)));
    QCOMPARE(attempt.status, 0);
    QVERIFY2(attempt.error.startsWith(QStringLiteral("cannot connect")), qPrintable(attempt.error));
    QVERIFY(attempt.durationMs < 4000);
}

void TestWebhookDelivery::httpsAgainstPlainPeerFails()
{
    // Webhooks to https URLs need a TLS backend: without one, that is a failure here.
    QVERIFY2(QSslSocket::supportsSsl(), "Qt has no TLS backend (Debian: libssl3)");
    Receiver receiver(Reply::NotTls);
    const WebhookAttempt attempt =
        deliver(QUrl(QStringLiteral("https://127.0.0.1:%1/hook").arg(receiver.port())));
    QCOMPARE(attempt.status, 0);
    QVERIFY(!attempt.error.isEmpty());
    QVERIFY(!attempt.success());
    QVERIFY(attempt.durationMs < 4000);
}

void TestWebhookDelivery::invalidUrls_data()
{
    QTest::addColumn<QUrl>("url");
    QTest::newRow("ftp") << QUrl(QStringLiteral("ftp://127.0.0.1/x"));
    QTest::newRow("no scheme") << QUrl(QStringLiteral("127.0.0.1/x"));
    QTest::newRow("empty") << QUrl();
    QTest::newRow("no host") << QUrl(QStringLiteral("http:///path"));
}

void TestWebhookDelivery::invalidUrls()
{
    QFETCH(QUrl, url);
    const WebhookAttempt attempt = deliver(url);
    QCOMPARE(attempt.status, 0);
    QVERIFY(!attempt.error.isEmpty());
}

void TestWebhookDelivery::headerInjectionRefused()
{
    Receiver receiver(Reply::Ok);
    const WebhookAttempt attempt =
        deliver(receiver.url(), 5s, {}, "{}", QStringLiteral("record.created\r\nX-Injected: 1"));
    QCOMPARE(attempt.status, 0);
    QVERIFY(!attempt.error.isEmpty());
    QCOMPARE(receiver.connections(), 0);
}

void TestWebhookDelivery::hostNameResolved()
{
    QVERIFY2(!QHostInfo::fromName(QStringLiteral("localhost")).addresses().isEmpty(),
             "localhost does not resolve (/etc/hosts)");
    // The receiver listens on 127.0.0.1 only; if localhost resolves to ::1 first, the
    // client must go on to the next address.
    Receiver receiver(Reply::Ok);
    const WebhookAttempt attempt =
        deliver(QUrl(QStringLiteral("http://localhost:%1/hook").arg(receiver.port())));
    QCOMPARE(attempt.error, QString());
    QCOMPARE(attempt.status, 200);
    QCOMPARE(receiver.requests().value(0).headers.value("host"),
             "localhost:" + QByteArray::number(receiver.port()));
}

void TestWebhookDelivery::fromThreadsWithoutEventLoop()
{
    Receiver receiver(Reply::Ok);
    const QUrl url = receiver.url();

    WebhookAttempt fromStdThread;
    std::thread plain([&] { fromStdThread = deliver(url); });
    plain.join();
    QCOMPARE(fromStdThread.error, QString());
    QCOMPARE(fromStdThread.status, 200);

    // A QThread whose run() is the call itself (no exec()). The result crosses back through
    // a std::mutex, which ThreadSanitizer sees.
    std::mutex mutex;
    WebhookAttempt fromQThread;
    std::unique_ptr<QThread> thread(QThread::create([&] {
        const WebhookAttempt attempt = deliver(url);
        std::lock_guard lock(mutex);
        fromQThread = attempt;
    }));
    thread->start();
    QVERIFY(thread->wait(10'000));
    std::lock_guard lock(mutex);
    QCOMPARE(fromQThread.error, QString());
    QCOMPARE(fromQThread.status, 200);
    QCOMPARE(receiver.requests().size(), 2);
}

QTEST_GUILESS_MAIN(TestWebhookDelivery)
#include "tst_webhookdelivery.moc"
