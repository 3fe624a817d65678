// SPDX-License-Identifier: GPL-3.0-or-later
// The hiredis wrapper against real redis-server processes on free loopback ports (the test
// harness starts them; a server that cannot start is a failure, never a skip). Commands and
// replies of every type, binary safety, pipelining, one connection per thread, URL parsing,
// AUTH and SELECT, unix sockets; then the failure paths the wrapper exists for: a stopped
// server (SIGSTOP) costs one command timeout, a killed one opens the breaker so that calls
// fail in microseconds, and a restart on the same port is found again within backoffMax.
// The subscriber receives on two channels, resubscribes by itself after a crash and stops
// promptly. Tests that stop or kill a server start their own, so the others are undisturbed.
// Every wait is bounded; timings are printed with qInfo for the record.
#include "ExternalServers.h"
#include "RedisClient.h"
#include "RedisSubscriber.h"

#include <QElapsedTimer>
#include <QtTest>
#include <atomic>
#include <csignal>
#include <latch>
#include <mutex>
#include <thread>

using namespace bulwark;
using bulwark::test::RedisServer;
using namespace std::chrono_literals;

namespace {

RedisOptions optionsFor(const RedisServer &server,
                        std::chrono::milliseconds commandTimeout = 2000ms)
{
    RedisOptions options;
    options.host = server.host();
    options.port = server.port();
    options.connectTimeout = 2000ms;
    options.commandTimeout = commandTimeout;
    return options;
}

QByteArray show(const Result<RedisReply> &result)
{
    if (!result.ok())
        return "Unavailable/error: " + result.error().message.toUtf8();
    const RedisReply &r = result.value();
    switch (r.type) {
    case RedisReply::Type::Nil: return "nil";
    case RedisReply::Type::Status: return "status " + r.string;
    case RedisReply::Type::Error: return "error " + r.string;
    case RedisReply::Type::Integer: return "integer " + QByteArray::number(r.integer);
    case RedisReply::Type::String: return "string of " + QByteArray::number(r.string.size());
    case RedisReply::Type::Array: return "array of " + QByteArray::number(r.elements.size());
    }
    return "?";
}

bool isString(const Result<RedisReply> &r, const QByteArray &expected)
{
    return r.ok() && r.value().type == RedisReply::Type::String && r.value().string == expected;
}

bool isInteger(const Result<RedisReply> &r, qint64 expected)
{
    return r.ok() && r.value().type == RedisReply::Type::Integer && r.value().integer == expected;
}

bool isStatus(const Result<RedisReply> &r, const QByteArray &expected)
{
    return r.ok() && r.value().type == RedisReply::Type::Status && r.value().string == expected;
}

// The error message of a result, for QVERIFY2 (which evaluates it even when all is well).
template <typename T> QByteArray why(const Result<T> &result)
{
    return result.ok() ? QByteArray("ok") : result.error().message.toUtf8();
}

double elapsedMs(const QElapsedTimer &timer)
{
    return double(timer.nsecsElapsed()) / 1e6;
}

} // namespace

class TestRedisClient : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void basicCommands();
    void errorReplyIsAReply();
    void binarySafeValues();
    void pipelineKeepsOrder();
    void emptyCommandIsRejected();
    void connectionPerThread();
    void fromUrl_data();
    void fromUrl();
    void describeHidesPassword();
    void unixSocketAndSelect();
    void passwordProtectedServer();
    void pausedServerCostsOneTimeout();
    void killedServerOpensBreakerAndRecovers();
    void subscriberReceivesAndResubscribes();
    void subscriberStopsPromptlyWhileDisconnected();
    void harnessStopsPausedServer();

private:
    std::unique_ptr<RedisServer> m_server;
    SteadyClock m_clock;
};

void TestRedisClient::initTestCase()
{
#ifdef Q_OS_UNIX
    // hiredis 0.14 writes with write(2): a write to a connection the server reset raises
    // SIGPIPE. The application ignores it (SignalWatcher); so must this test.
    std::signal(SIGPIPE, SIG_IGN);
#endif
    m_server = std::make_unique<RedisServer>();
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
}

void TestRedisClient::cleanupTestCase()
{
    m_server.reset();
}

void TestRedisClient::basicCommands()
{
    RedisClient client(optionsFor(*m_server), m_clock);
    auto r = client.command({"SET", "basic:key", "value", "PX", "60000"});
    QVERIFY2(isStatus(r, "OK"), show(r).constData());
    r = client.command({"GET", "basic:key"});
    QVERIFY2(isString(r, "value"), show(r).constData());
    r = client.command({"GET", "basic:missing"});
    QVERIFY2(r.ok() && r.value().isNil(), show(r).constData());
    r = client.command({"INCR", "basic:counter"});
    QVERIFY2(isInteger(r, 1), show(r).constData());
    r = client.command({"INCRBY", "basic:counter", "41"});
    QVERIFY2(isInteger(r, 42), show(r).constData());
    r = client.command({"DEL", "basic:key", "basic:counter", "basic:missing"});
    QVERIFY2(isInteger(r, 2), show(r).constData());
    r = client.command({"EXISTS", "basic:key"});
    QVERIFY2(isInteger(r, 0), show(r).constData());

    r = client.command({"RPUSH", "basic:list", "a", "b", "c"});
    QVERIFY2(isInteger(r, 3), show(r).constData());
    r = client.command({"LRANGE", "basic:list", "0", "-1"});
    QVERIFY2(r.ok() && r.value().type == RedisReply::Type::Array, show(r).constData());
    QCOMPARE(r.value().elements.size(), 3);
    QCOMPARE(r.value().elements.at(2).string, QByteArray("c"));
    r = client.command({"LRANGE", "basic:nolist", "0", "-1"});
    QVERIFY2(r.ok() && r.value().type == RedisReply::Type::Array && r.value().elements.isEmpty(),
             show(r).constData());
    // Nested arrays are converted recursively.
    r = client.command({"EVAL", "return {1, {'x', 2}, 'y'}", "0"});
    QVERIFY2(r.ok() && r.value().elements.size() == 3, show(r).constData());
    QCOMPARE(r.value().elements.at(1).type, RedisReply::Type::Array);
    QCOMPARE(r.value().elements.at(1).elements.at(0).string, QByteArray("x"));
    QCOMPARE(r.value().elements.at(1).elements.at(1).integer, qint64(2));

    const RedisClient::Stats stats = client.stats();
    QCOMPARE(stats.commands, quint64(11));
    QCOMPARE(stats.failures, quint64(0));
    QCOMPARE(stats.connects, quint64(1));
    QCOMPARE(stats.connections, 1);
    QCOMPARE(client.breakerState(), CircuitBreaker::State::Closed);
}

void TestRedisClient::errorReplyIsAReply()
{
    RedisOptions options = optionsFor(*m_server);
    options.breaker.threshold = 1; // one transport failure would open it
    RedisClient client(options, m_clock);
    QVERIFY(client.command({"SET", "err:string", "not a number"}).ok());
    for (int i = 0; i < 5; ++i) {
        const auto r = client.command({"INCR", "err:string"});
        QVERIFY2(r.ok() && r.value().isError(), show(r).constData());
        QVERIFY2(r.value().string.startsWith("ERR"), r.value().string.constData());
    }
    const auto wrongType = client.command({"LPUSH", "err:string", "x"});
    QVERIFY2(wrongType.ok() && wrongType.value().isError() &&
                 wrongType.value().string.startsWith("WRONGTYPE"),
             show(wrongType).constData());
    const auto unknown = client.command({"NOSUCHCOMMAND"});
    QVERIFY2(unknown.ok() && unknown.value().isError(), show(unknown).constData());
    // The connection survives error replies: still one connect, breaker closed.
    QCOMPARE(client.breakerState(), CircuitBreaker::State::Closed);
    QCOMPARE(client.stats().connects, quint64(1));
    QCOMPARE(client.stats().failures, quint64(0));
}

void TestRedisClient::binarySafeValues()
{
    RedisClient client(optionsFor(*m_server), m_clock);
    QByteArray all;
    for (int b = 0; b < 256; ++b)
        all.append(char(b));
    // Every byte value in the key and in the value, including NUL, CR and LF.
    auto r = client.command({"SET", "bin:" + all, all});
    QVERIFY2(isStatus(r, "OK"), show(r).constData());
    r = client.command({"GET", "bin:" + all});
    QVERIFY2(isString(r, all), show(r).constData());
    r = client.command({"SET", "bin:empty", QByteArray()});
    QVERIFY2(isStatus(r, "OK"), show(r).constData());
    r = client.command({"GET", "bin:empty"});
    QVERIFY2(r.ok() && r.value().type == RedisReply::Type::String && r.value().string.isEmpty(),
             show(r).constData());

    QByteArray big(1024 * 1024, Qt::Uninitialized);
    for (qsizetype i = 0; i < big.size(); ++i)
        big[i] = char((i * 131 + i / 256) & 0xff);
    QElapsedTimer timer;
    timer.start();
    r = client.command({"SET", "bin:big", big});
    QVERIFY2(isStatus(r, "OK"), show(r).constData());
    r = client.command({"GET", "bin:big"});
    QVERIFY2(isString(r, big), show(r).constData());
    qInfo("1 MiB SET + GET: %.1f ms", elapsedMs(timer));
    r = client.command({"STRLEN", "bin:big"});
    QVERIFY2(isInteger(r, big.size()), show(r).constData());
}

void TestRedisClient::pipelineKeepsOrder()
{
    RedisClient client(optionsFor(*m_server), m_clock);
    QList<QList<QByteArray>> commands;
    for (int i = 0; i < 100; ++i)
        commands.append(QList<QByteArray>{"INCR", "pipe:counter"});
    QElapsedTimer timer;
    timer.start();
    auto replies = client.pipeline(commands);
    qInfo("pipeline of 100 INCR: %.2f ms", elapsedMs(timer));
    QVERIFY2(replies.ok(), why(replies).constData());
    QCOMPARE(replies.value().size(), 100);
    for (int i = 0; i < 100; ++i) {
        QCOMPARE(replies.value().at(i).type, RedisReply::Type::Integer);
        QCOMPARE(replies.value().at(i).integer, qint64(i + 1));
    }
    QCOMPARE(client.stats().commands, quint64(100));

    // An error reply in the middle takes its own slot; the others are unaffected.
    replies = client.pipeline(
        {{"SET", "pipe:s", "x"}, {"INCR", "pipe:s"}, {"GET", "pipe:s"}, {"GET", "pipe:none"}});
    QVERIFY(replies.ok());
    QCOMPARE(replies.value().size(), 4);
    QCOMPARE(replies.value().at(0).type, RedisReply::Type::Status);
    QCOMPARE(replies.value().at(1).type, RedisReply::Type::Error);
    QCOMPARE(replies.value().at(2).string, QByteArray("x"));
    QVERIFY(replies.value().at(3).isNil());

    // Nothing to send: no round trip, no error.
    replies = client.pipeline({});
    QVERIFY(replies.ok() && replies.value().isEmpty());
    QCOMPARE(client.stats().connects, quint64(1));
}

void TestRedisClient::emptyCommandIsRejected()
{
    RedisOptions options = optionsFor(*m_server);
    options.breaker.threshold = 1;
    RedisClient client(options, m_clock);
    QElapsedTimer timer;
    timer.start();
    const auto r = client.command({});
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::Internal);
    QVERIFY(timer.elapsed() < 100); // not a wait for an answer Redis never sends
    QCOMPARE(client.breakerState(), CircuitBreaker::State::Closed);
    QVERIFY2(client.command({"PING"}).ok(), "the client still works");
}

// Two threads, two connections: each sees its own CLIENT ID on every call, while a latch
// keeps both alive (a finished thread's id may be reused by the next thread).
void TestRedisClient::connectionPerThread()
{
    RedisClient client(optionsFor(*m_server), m_clock);
    std::latch connected(2);
    std::latch checked(1);
    std::latch closed(2);
    qint64 ids[2][2] = {{-1, -1}, {-1, -1}};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 2; ++i) {
                const auto r = client.command({"CLIENT", "ID"});
                if (r.ok() && r.value().type == RedisReply::Type::Integer)
                    ids[t][i] = r.value().integer;
            }
            connected.count_down();
            checked.wait();
            client.closeThreadConnection();
            closed.count_down();
        });
    }
    bool released = false;
    const auto release = qScopeGuard([&] { // also when a check below fails
        if (!released)
            checked.count_down();
        for (std::thread &t : threads)
            t.join();
    });
    connected.wait();
    QCOMPARE(client.stats().connections, 2);
    QCOMPARE(client.stats().connects, quint64(2));
    QVERIFY(ids[0][0] > 0 && ids[1][0] > 0);
    QCOMPARE(ids[0][1], ids[0][0]); // same thread, same connection
    QCOMPARE(ids[1][1], ids[1][0]);
    QVERIFY(ids[0][0] != ids[1][0]); // different threads, different connections
    released = true;
    checked.count_down();
    closed.wait();
    QCOMPARE(client.stats().connections, 0);

    // The main thread's connection is opened and closed the same way.
    QVERIFY(client.command({"PING"}).ok());
    QCOMPARE(client.stats().connections, 1);
    client.closeThreadConnection();
    QCOMPARE(client.stats().connections, 0);
    client.closeThreadConnection(); // nothing open: harmless
    QVERIFY(client.command({"PING"}).ok());
    QCOMPARE(client.stats().connects, quint64(4));
}

void TestRedisClient::fromUrl_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<bool>("valid");
    QTest::addColumn<QString>("host");
    QTest::addColumn<int>("port");
    QTest::addColumn<QString>("unixSocket");
    QTest::addColumn<QByteArray>("password");
    QTest::addColumn<int>("database");
    QTest::addColumn<QString>("described");

    const QString noSocket;
    QTest::newRow("host and port") << "redis://127.0.0.1:6380" << true << "127.0.0.1" << 6380
                                   << noSocket << QByteArray() << 0 << "127.0.0.1:6380/0";
    QTest::newRow("default port") << "redis://cache.internal" << true << "cache.internal" << 6379
                                  << noSocket << QByteArray() << 0 << "cache.internal:6379/0";
    QTest::newRow("trailing slash") << "redis://localhost:7000/" << true << "localhost" << 7000
                                    << noSocket << QByteArray() << 0 << "localhost:7000/0";
    QTest::newRow("password and db")
        << "redis://:s3cret@10.0.0.5:7000/3" << true << "10.0.0.5" << 7000 << noSocket
        << QByteArray("s3cret") << 3 << "10.0.0.5:7000/3";
    QTest::newRow("default user, encoded password")
        << "redis://default:p%40ss%3Aw0rd@host/15" << true << "host" << 6379 << noSocket
        << QByteArray("p@ss:w0rd") << 15 << "host:6379/15";
    QTest::newRow("ipv6") << "redis://[::1]:6390/2" << true << "::1" << 6390 << noSocket
                          << QByteArray() << 2 << "[::1]:6390/2";
    QTest::newRow("unix socket") << "unix:///run/redis/redis.sock" << true << "127.0.0.1" << 6379
                                 << "/run/redis/redis.sock" << QByteArray() << 0
                                 << "unix:/run/redis/redis.sock/0";
    QTest::newRow("unix socket with db")
        << "unix:///tmp/r.sock?db=4" << true << "127.0.0.1" << 6379 << "/tmp/r.sock" << QByteArray()
        << 4 << "unix:/tmp/r.sock/4";
    QTest::newRow("unix socket with db and password")
        << "unix:///tmp/r.sock?db=1&password=pw" << true << "127.0.0.1" << 6379 << "/tmp/r.sock"
        << QByteArray("pw") << 1 << "unix:/tmp/r.sock/1";

    const auto invalid = [&](const char *name, const char *url) {
        QTest::newRow(name) << QString::fromUtf8(url) << false << QString() << 0 << noSocket
                            << QByteArray() << 0 << QString();
    };
    invalid("empty", "");
    invalid("blank", "   ");
    invalid("no scheme", "127.0.0.1:6379");
    invalid("http scheme", "http://127.0.0.1:6379");
    invalid("tls scheme", "rediss://127.0.0.1:6379");
    invalid("no host", "redis://");
    invalid("no host with port", "redis://:6379");
    invalid("port zero", "redis://h:0");
    invalid("port too large", "redis://h:70000");
    invalid("port not a number", "redis://h:abc");
    invalid("db not a number", "redis://h/abc");
    invalid("db negative", "redis://h/-1");
    invalid("db with sign", "redis://h/+1");
    invalid("two path segments", "redis://h/1/2");
    invalid("query on tcp", "redis://h/1?db=2");
    invalid("acl user", "redis://alice:pw@h");
    invalid("unix without path", "unix://");
    invalid("unix with host", "unix://host/tmp/r.sock");
    invalid("unix db not a number", "unix:///tmp/r.sock?db=x");
    invalid("unix db empty", "unix:///tmp/r.sock?db=");
    invalid("unix unknown parameter", "unix:///tmp/r.sock?timeout=5");
}

void TestRedisClient::fromUrl()
{
    QFETCH(QString, url);
    QFETCH(bool, valid);
    const Result<RedisOptions> parsed = RedisOptions::fromUrl(url);
    if (!valid) {
        QVERIFY2(!parsed.ok(), qPrintable(QStringLiteral("accepted: ") + url));
        QCOMPARE(parsed.error().code, ErrorCode::BadRequest);
        QVERIFY(!parsed.error().message.isEmpty());
        return;
    }
    QVERIFY2(parsed.ok(), why(parsed).constData());
    QFETCH(QString, host);
    QFETCH(int, port);
    QFETCH(QString, unixSocket);
    QFETCH(QByteArray, password);
    QFETCH(int, database);
    QFETCH(QString, described);
    const RedisOptions &o = parsed.value();
    QCOMPARE(o.host, host);
    QCOMPARE(int(o.port), port);
    QCOMPARE(o.unixSocket, unixSocket);
    QCOMPARE(o.password, password);
    QCOMPARE(o.database, database);
    QCOMPARE(o.describe(), described);
    // The URL sets where to connect, not how long to wait.
    QCOMPARE(o.commandTimeout, RedisOptions().commandTimeout);
}

void TestRedisClient::describeHidesPassword()
{
    RedisOptions options;
    options.password = "hunter2-secret";
    QVERIFY(!options.describe().contains(QLatin1String("hunter2")));
    options.unixSocket = QStringLiteral("/tmp/r.sock");
    QVERIFY(!options.describe().contains(QLatin1String("hunter2")));
    // Error messages about a URL do not quote its password either.
    for (const char *url :
         {"redis://:hunter2-secret@h:99999", "redis://:hunter2-secret@h/x",
          "redis://alice:hunter2-secret@h", "unix:///s?password=hunter2-secret&x=1"}) {
        const auto parsed = RedisOptions::fromUrl(QString::fromUtf8(url));
        QVERIFY2(!parsed.ok(), url);
        QVERIFY2(!parsed.error().message.contains(QLatin1String("hunter2")),
                 why(parsed).constData());
    }
    // Nor do the Unavailable errors of a client.
    RedisOptions unreachable;
    unreachable.port = bulwark::test::freeLoopbackPort();
    unreachable.password = "hunter2-secret";
    RedisClient client(unreachable, m_clock);
    const auto r = client.command({"PING"});
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::Unavailable);
    QVERIFY2(r.error().message.contains(unreachable.describe()), qPrintable(r.error().message));
    QVERIFY(!r.error().message.contains(QLatin1String("hunter2")));
}

void TestRedisClient::unixSocketAndSelect()
{
    const Result<RedisOptions> parsed =
        RedisOptions::fromUrl(QStringLiteral("unix://%1?db=2").arg(m_server->unixSocket()));
    QVERIFY2(parsed.ok(), why(parsed).constData());
    RedisClient overSocket(parsed.value(), m_clock);
    auto r = overSocket.command({"SET", "unix:key", "in db 2"});
    QVERIFY2(isStatus(r, "OK"), show(r).constData());
    r = overSocket.command({"CLIENT", "INFO"});
    QVERIFY2(r.ok() && r.value().string.contains("db=2"), show(r).constData());

    // SELECT took effect: database 0 over TCP does not have the key, database 2 has.
    RedisClient db0(optionsFor(*m_server), m_clock);
    r = db0.command({"GET", "unix:key"});
    QVERIFY2(r.ok() && r.value().isNil(), show(r).constData());
    RedisOptions options2 = optionsFor(*m_server);
    options2.database = 2;
    RedisClient db2(options2, m_clock);
    r = db2.command({"GET", "unix:key"});
    QVERIFY2(isString(r, "in db 2"), show(r).constData());

    // A database Redis does not have: SELECT fails, the connection is not used.
    RedisOptions bad = optionsFor(*m_server);
    bad.database = 100000;
    RedisClient badClient(bad, m_clock);
    r = badClient.command({"PING"});
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::Unavailable);
    QVERIFY2(r.error().message.contains(QLatin1String("SELECT")), qPrintable(r.error().message));
    QCOMPARE(badClient.stats().connections, 0);
}

void TestRedisClient::passwordProtectedServer()
{
    RedisServer server;
    server.setExtraArguments({QStringLiteral("--requirepass"), QStringLiteral("s3cret-pw")});
    QVERIFY2(server.start(), qPrintable(server.errorString()));

    // No password: Redis answers, with an error reply.
    RedisClient anonymous(optionsFor(server), m_clock);
    auto r = anonymous.command({"GET", "k"});
    QVERIFY2(r.ok() && r.value().isError() && r.value().string.startsWith("NOAUTH"),
             show(r).constData());

    // Wrong password: the connection is unusable, an Unavailable error that says why.
    RedisOptions wrong = optionsFor(server);
    wrong.password = "wrong-pw";
    RedisClient wrongClient(wrong, m_clock);
    r = wrongClient.command({"GET", "k"});
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::Unavailable);
    QVERIFY2(r.error().message.contains(QLatin1String("AUTH failed")),
             qPrintable(r.error().message));
    QVERIFY(!r.error().message.contains(QLatin1String("wrong-pw")));

    // Right password, from a URL.
    const auto parsed = RedisOptions::fromUrl(
        QStringLiteral("redis://:s3cret-pw@127.0.0.1:%1/1").arg(server.port()));
    QVERIFY2(parsed.ok(), why(parsed).constData());
    RedisClient client(parsed.value(), m_clock);
    r = client.command({"SET", "k", "v"});
    QVERIFY2(isStatus(r, "OK"), show(r).constData());
    r = client.command({"GET", "k"});
    QVERIFY2(isString(r, "v"), show(r).constData());

    // The subscriber authenticates too.
    std::atomic<int> received{0};
    RedisSubscriber subscriber(parsed.value(), {"auth:channel"},
                               [&](const QByteArray &, const QByteArray &) { ++received; });
    subscriber.start();
    QTRY_VERIFY_WITH_TIMEOUT(subscriber.isSubscribed(), 5000);
    r = client.command({"PUBLISH", "auth:channel", "hello"});
    QVERIFY2(isInteger(r, 1), show(r).constData());
    QTRY_COMPARE_WITH_TIMEOUT(received.load(), 1, 5000);
}

// SIGSTOP: the connection stays open and nothing answers. A command must come back with
// Unavailable after about commandTimeout, not hang; after SIGCONT the client recovers on a
// new connection (the old one would deliver the late reply to the next command).
void TestRedisClient::pausedServerCostsOneTimeout()
{
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    QVERIFY(server.pid() > 0);
    RedisClient client(optionsFor(server, 200ms), m_clock);
    QVERIFY(client.command({"SET", "pause:k", "before"}).ok());

    server.pause();
    QElapsedTimer timer;
    timer.start();
    auto r = client.command({"GET", "pause:k"});
    const double ms = elapsedMs(timer);
    qInfo("command against a paused server returned after %.1f ms (commandTimeout 200 ms)", ms);
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::Unavailable);
    QVERIFY2(r.error().message.contains(QLatin1String("timed out")), qPrintable(r.error().message));
    QVERIFY2(ms >= 150 && ms < 200 + 800, qPrintable(QString::number(ms)));
    QCOMPARE(client.stats().connections, 0);                        // dropped
    QCOMPARE(client.breakerState(), CircuitBreaker::State::Closed); // one failure < threshold

    // A pipeline is bounded the same way.
    timer.restart();
    const auto replies = client.pipeline({{"GET", "pause:k"}, {"GET", "pause:k"}});
    QVERIFY(!replies.ok());
    QVERIFY2(elapsedMs(timer) < 200 + 800, qPrintable(QString::number(elapsedMs(timer))));

    server.resume();
    r = client.command({"GET", "pause:k"});
    QVERIFY2(isString(r, "before"), show(r).constData());
    QCOMPARE(client.breakerState(), CircuitBreaker::State::Closed);
    QCOMPARE(client.stats().connects, quint64(3));
}

// SIGKILL: the open connection is reset and new ones are refused. After `threshold`
// failures the breaker opens and calls fail without touching the network; once the server
// is back on the same port, a probe finds it within backoffMax.
void TestRedisClient::killedServerOpensBreakerAndRecovers()
{
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const quint16 port = server.port();
    RedisOptions options = optionsFor(server, 500ms);
    options.breaker.threshold = 3;
    options.breaker.backoffMin = 50ms;
    options.breaker.backoffMax = 400ms;
    RedisClient client(options, m_clock);
    QVERIFY(client.command({"SET", "kill:k", "v"}).ok());

    server.kill();
    int calls = 0;
    QElapsedTimer timer;
    timer.start();
    while (client.breakerState() != CircuitBreaker::State::Open && calls < 10) {
        QElapsedTimer one;
        one.start();
        const auto r = client.command({"GET", "kill:k"});
        QVERIFY(!r.ok());
        QCOMPARE(r.error().code, ErrorCode::Unavailable);
        QVERIFY2(one.elapsed() < 400, "a dead local server must fail fast, not time out");
        ++calls;
    }
    qInfo("breaker opened after %d failed calls in %.2f ms", calls, elapsedMs(timer));
    QCOMPARE(calls, options.breaker.threshold);
    QCOMPARE(client.stats().breakerOpens, quint64(1));

    // Open: immediate refusals, no connection attempts.
    const quint64 connectsBefore = client.stats().connects;
    double worst = 0;
    timer.restart();
    const int refusals = 1000;
    int circuitOpenErrors = 0;
    for (int i = 0; i < refusals; ++i) {
        QElapsedTimer one;
        one.start();
        const auto r = client.command({"GET", "kill:k"});
        worst = std::max(worst, elapsedMs(one));
        QVERIFY(!r.ok());
        if (r.error().message == QLatin1String("redis unavailable (circuit open)"))
            ++circuitOpenErrors;
    }
    const double average = elapsedMs(timer) / refusals;
    qInfo("open breaker: %d calls, average %.4f ms, worst %.3f ms", refusals, average, worst);
    QVERIFY2(average < 1.0, qPrintable(QString::number(average)));
    QVERIFY(circuitOpenErrors >= refusals - 5); // at most a probe or two in that time
    QCOMPARE(client.stats().connects, connectsBefore);

    // Stay down long enough for failed probes to push the backoff to its cap.
    QDeadlineTimer down(1500);
    while (!down.hasExpired()) {
        (void)client.command({"GET", "kill:k"});
        QThread::msleep(5);
    }
    QCOMPARE(client.breaker().currentBackoff(), 400ms);
    QVERIFY(client.stats().breakerOpens > 2);

    // Timed from the restart's beginning: start() itself waits until the port answers.
    timer.restart();
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const qint64 startMs = timer.elapsed();
    QCOMPARE(server.port(), port);
    bool recovered = false;
    while (timer.elapsed() < startMs + 400 + 2000) {
        const auto r = client.command({"SET", "kill:k", "again"});
        if (r.ok()) {
            recovered = true;
            break;
        }
        QThread::msleep(5);
    }
    qInfo("recovered %.1f ms after the restart began (start() took %lld ms, backoffMax 400 ms)",
          elapsedMs(timer), startMs);
    QVERIFY2(recovered, "no successful command within backoffMax + 2 s of the restart");
    QVERIFY2(timer.elapsed() <= startMs + 400 + 500, qPrintable(QString::number(timer.elapsed())));
    QCOMPARE(client.breakerState(), CircuitBreaker::State::Closed);
    QCOMPARE(client.breaker().currentBackoff(), 50ms);
    QVERIFY(isString(client.command({"GET", "kill:k"}), "again"));
}

void TestRedisClient::subscriberReceivesAndResubscribes()
{
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    RedisOptions options = optionsFor(server, 500ms);
    options.breaker.backoffMin = 50ms;
    options.breaker.backoffMax = 400ms;

    std::mutex mutex;
    QList<QPair<QByteArray, QByteArray>> received;
    std::atomic<int> subscribedCalls{0};
    const auto messageCount = [&] {
        std::lock_guard lock(mutex);
        return received.size();
    };
    RedisSubscriber subscriber(
        options, {"bulwark:a", "bulwark:b"},
        [&](const QByteArray &channel, const QByteArray &message) {
            std::lock_guard lock(mutex);
            received.append({channel, message});
        },
        [&] { ++subscribedCalls; });
    subscriber.start();
    QTRY_VERIFY_WITH_TIMEOUT(subscriber.isSubscribed(), 5000);
    QCOMPARE(subscribedCalls.load(), 1);

    RedisClient publisher(options, m_clock);
    QByteArray binary("\0\r\n\xff payload", 12);
    QVERIFY(isInteger(publisher.command({"PUBLISH", "bulwark:a", "one"}), 1));
    QVERIFY(isInteger(publisher.command({"PUBLISH", "bulwark:b", binary}), 1));
    QVERIFY(isInteger(publisher.command({"PUBLISH", "bulwark:other", "ignored"}), 0));
    QVERIFY(isInteger(publisher.command({"PUBLISH", "bulwark:a", "three"}), 1));
    QTRY_COMPARE_WITH_TIMEOUT(messageCount(), 3, 5000);
    {
        std::lock_guard lock(mutex);
        QCOMPARE(received.at(0), qMakePair(QByteArray("bulwark:a"), QByteArray("one")));
        QCOMPARE(received.at(1), qMakePair(QByteArray("bulwark:b"), binary));
        QCOMPARE(received.at(2), qMakePair(QByteArray("bulwark:a"), QByteArray("three")));
    }
    QCOMPARE(subscriber.messages(), quint64(3));
    QCOMPARE(subscriber.reconnects(), quint64(0));

    // A crash: the subscriber notices at once (EOF) and retries with backoff.
    server.kill();
    QTRY_VERIFY_WITH_TIMEOUT(!subscriber.isSubscribed(), 3000);
    QThread::msleep(300); // a few failed attempts while the server is down
    QElapsedTimer timer;
    timer.start();
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const qint64 startMs = timer.elapsed();
    QTRY_VERIFY_WITH_TIMEOUT(subscribedCalls.load() == 2, 400 + 3000);
    qInfo("subscriber resubscribed %lld ms after the restart began (start() took %lld ms, "
          "backoffMax 400 ms), %llu reconnect attempts",
          timer.elapsed(), startMs, subscriber.reconnects());
    QVERIFY2(timer.elapsed() <= startMs + 400 + 1000, qPrintable(QString::number(timer.elapsed())));
    QVERIFY(subscriber.isSubscribed());
    QVERIFY(subscriber.reconnects() >= 1);

    // New messages arrive (the publisher's connection died too; it reconnects by itself).
    QDeadlineTimer deadline(5000);
    Result<RedisReply> r = publisher.command({"PUBLISH", "bulwark:b", "after restart"});
    while (!isInteger(r, 1) && !deadline.hasExpired()) {
        QThread::msleep(20);
        r = publisher.command({"PUBLISH", "bulwark:b", "after restart"});
    }
    QVERIFY2(isInteger(r, 1), show(r).constData());
    QTRY_COMPARE_WITH_TIMEOUT(messageCount(), 4, 5000);
    {
        std::lock_guard lock(mutex);
        QCOMPARE(received.at(3), qMakePair(QByteArray("bulwark:b"), QByteArray("after restart")));
    }

    timer.restart();
    subscriber.stop();
    qInfo("subscriber stop() while subscribed took %lld ms", timer.elapsed());
    QVERIFY2(timer.elapsed() < 500, qPrintable(QString::number(timer.elapsed())));
    QVERIFY(!subscriber.isSubscribed());
    QVERIFY(isInteger(publisher.command({"PUBLISH", "bulwark:a", "nobody"}), 0));
}

void TestRedisClient::subscriberStopsPromptlyWhileDisconnected()
{
    RedisOptions options;
    options.port = bulwark::test::freeLoopbackPort(); // nothing listens there
    options.breaker.backoffMin = 5000ms;              // a long sleep to interrupt
    options.breaker.backoffMax = 5000ms;
    std::atomic<int> subscribedCalls{0};
    RedisSubscriber subscriber(
        options, {"nowhere"}, [](const QByteArray &, const QByteArray &) {},
        [&] { ++subscribedCalls; });
    subscriber.start();
    QThread::msleep(200); // first attempt refused; now in the backoff sleep
    QVERIFY(!subscriber.isSubscribed());
    QElapsedTimer timer;
    timer.start();
    subscriber.stop();
    qInfo("subscriber stop() during backoff took %lld ms", timer.elapsed());
    QVERIFY2(timer.elapsed() < 500, qPrintable(QString::number(timer.elapsed())));
    QCOMPARE(subscribedCalls.load(), 0);
    subscriber.stop(); // twice is harmless
}

// The harness resumes a paused server before terminating it (SIGTERM would wait for SIGCONT).
void TestRedisClient::harnessStopsPausedServer()
{
    RedisServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    RedisOptions options = optionsFor(server, 200ms);
    server.pause();
    QElapsedTimer timer;
    timer.start();
    server.stop();
    QVERIFY2(timer.elapsed() < 5000, qPrintable(QString::number(timer.elapsed())));
    QCOMPARE(server.pid(), qint64(0));
    RedisClient client(options, m_clock);
    const auto r = client.command({"PING"});
    QVERIFY(!r.ok());
    QVERIFY2(r.error().message.contains(QLatin1String("refused")), qPrintable(r.error().message));
}

QTEST_GUILESS_MAIN(TestRedisClient)
#include "tst_redis_client.moc"
