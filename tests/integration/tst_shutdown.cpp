// SPDX-License-Identifier: GPL-3.0-or-later
// The real `bulwark` executable as a subprocess: graceful shutdown on SIGTERM (in-flight
// request completes with Connection: close, no new connections, exit 0), a second SIGTERM
// exits at once with 143, SIGHUP reloads the rate-limit rules (a broken file changes
// nothing), the CLI's exit codes and messages, and the admin token file.
#include "TestSupport.h"

#include <QFileInfo>
#include <QJsonDocument>
#include <QProcess>
#include <QRegularExpression>
#include <QTcpServer>
#include <QThread>
#include <QUrl>
#include <QtTest>

#include <csignal>
#include <sys/stat.h>
#include <sys/types.h>

using namespace bulwark;
using namespace bulwark::test;

namespace {

QString binary()
{
    return qEnvironmentVariable("BULWARK_BINARY");
}

QProcessEnvironment serverEnvironment()
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    // Only the variables the test means to set may configure the child.
    for (const QString &name : env.keys())
        if (name.startsWith(QStringLiteral("BULWARK_")) &&
            name != QStringLiteral("BULWARK_BINARY") &&
            name != QStringLiteral("BULWARK_SOURCE_DIR"))
            env.remove(name);
    env.insert(QStringLiteral("BULWARK_SERVER_DEBUG_ENDPOINTS"), QStringLiteral("true"));
    env.insert(QStringLiteral("BULWARK_LOG_ACCESS"), QStringLiteral("off"));
    return env;
}

// A running `bulwark --server`, its stderr collected line by line.
class ServerProcess
{
public:
    ~ServerProcess()
    {
        if (m_proc.state() != QProcess::NotRunning) {
            m_proc.kill();
            m_proc.waitForFinished(5000);
        }
    }

    void start(const QString &dataDir, const QStringList &moreArguments = {})
    {
        m_proc.setProgram(binary());
        m_proc.setArguments(QStringList{QStringLiteral("--server"), QStringLiteral("--listen"),
                                        QStringLiteral("127.0.0.1:0"), QStringLiteral("--data-dir"),
                                        dataDir, QStringLiteral("--threads"), QStringLiteral("2")} +
                            moreArguments);
        m_proc.setProcessEnvironment(serverEnvironment());
        m_proc.setStandardOutputFile(QProcess::nullDevice());
        m_proc.setReadChannel(QProcess::StandardError);
        m_proc.start();
        QVERIFY2(m_proc.waitForStarted(10000), qPrintable(m_proc.errorString()));
    }

    // Waits for the JSON log line whose msg starts with `prefix`; returns it parsed.
    QJsonObject waitForLog(const QString &prefix, int timeoutMs = 10000)
    {
        QElapsedTimer timer;
        timer.start();
        for (int i = 0; i < 10000; ++i) {
            for (; m_scanned < m_lines.size(); ++m_scanned) {
                const QJsonObject o = QJsonDocument::fromJson(m_lines[m_scanned]).object();
                if (o.value(QStringLiteral("msg")).toString().startsWith(prefix))
                    return o;
            }
            const qint64 left = timeoutMs - timer.elapsed();
            if (left <= 0 || !pump(int(qMin<qint64>(left, 100))))
                break;
        }
        return {};
    }

    // Reads what stderr has (waiting up to waitMs); false once the process is gone and
    // everything was read.
    bool pump(int waitMs)
    {
        if (m_proc.bytesAvailable() == 0 && m_proc.state() == QProcess::Running)
            m_proc.waitForReadyRead(waitMs);
        m_stderr.append(m_proc.readAllStandardError());
        qsizetype nl;
        while ((nl = m_stderr.indexOf('\n', m_consumed)) >= 0) {
            m_lines.append(m_stderr.mid(m_consumed, nl - m_consumed));
            m_consumed = nl + 1;
        }
        return m_proc.state() == QProcess::Running || m_proc.bytesAvailable() > 0;
    }

    quint16 waitForListening()
    {
        const QJsonObject line = waitForLog(QStringLiteral("listening on"));
        return quint16(QUrl(line.value(QStringLiteral("url")).toString()).port(0));
    }

    bool waitForExit(int timeoutMs)
    {
        const bool done = m_proc.waitForFinished(timeoutMs);
        pump(0);
        return done;
    }

    void signal(int signo) { ::kill(pid_t(m_proc.processId()), signo); }
    QProcess &process() { return m_proc; }
    QByteArray stderrText() const { return m_stderr; }

private:
    QProcess m_proc;
    QByteArray m_stderr;
    qsizetype m_consumed = 0;
    QList<QByteArray> m_lines;
    qsizetype m_scanned = 0;
};

struct RunResult
{
    bool finished = false;
    int exitCode = -1;
    QProcess::ExitStatus exitStatus = QProcess::CrashExit;
    QByteArray out;
    QByteArray err;
};

RunResult run(const QStringList &args, int timeoutMs = 15000)
{
    QProcess proc;
    proc.setProcessEnvironment(serverEnvironment());
    proc.start(binary(), args);
    RunResult r;
    if (!proc.waitForStarted(10000))
        return r;
    r.finished = proc.waitForFinished(timeoutMs);
    if (!r.finished) {
        proc.kill();
        proc.waitForFinished(5000);
    }
    r.exitCode = proc.exitCode();
    r.exitStatus = proc.exitStatus();
    r.out = proc.readAllStandardOutput();
    r.err = proc.readAllStandardError();
    return r;
}

// Tries to connect until the listener is gone (refused) or the deadline passes; the
// shutdown closes the listening socket asynchronously after the signal.
bool connectionsRefused(quint16 port, int timeoutMs)
{
    QElapsedTimer timer;
    timer.start();
    for (int i = 0; i < 200 && timer.elapsed() < timeoutMs; ++i) {
        QTcpSocket s;
        s.connectToHost(QHostAddress::LocalHost, port);
        if (!s.waitForConnected(1000) && s.error() == QAbstractSocket::ConnectionRefusedError)
            return true;
        s.abort();
        QThread::msleep(20); // a short pause between bounded attempts
    }
    return false;
}

} // namespace

class TestShutdown : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void gracefulShutdownOnSigterm();
    void secondSigtermExitsAtOnce();
    void sighupReloadsRateLimitRules();
    void adminTokenFileAndFirstStartNotice();
    void checkConfig_data();
    void checkConfig();
    void noModeIsUsageError();
    void unknownOptionIsUsageError();
    void helpListsOptions();
    void listenAddressInUse();
};

void TestShutdown::initTestCase()
{
    QVERIFY2(!binary().isEmpty(), "BULWARK_BINARY is not set (run through ctest)");
    QVERIFY2(QFileInfo(binary()).isExecutable(), qPrintable(binary()));
}

void TestShutdown::gracefulShutdownOnSigterm()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    ServerProcess server;
    BULWARK_CHECK(server.start(dir.path()));
    const quint16 port = server.waitForListening();
    QVERIFY2(port != 0, server.stderrText().constData());

    RawHttpClient client;
    QVERIFY2(client.connectTo(port), qPrintable(client.errorString()));
    QElapsedTimer sinceRequest;
    sinceRequest.start();
    QVERIFY2(client.send(request("GET", "/debug/sleep?ms=1500")), qPrintable(client.errorString()));
    // This test is about time: let the handler start sleeping, then ask for shutdown.
    QVERIFY(!client.waitForBytes(300));
    QElapsedTimer sinceSignal;
    sinceSignal.start();
    server.signal(SIGTERM);
    QVERIFY2(!server.waitForLog(QStringLiteral("shutting down")).isEmpty(),
             server.stderrText().constData());
    QVERIFY2(connectionsRefused(port, 2000), "new connections are still accepted after SIGTERM");

    RawResponse r;
    QVERIFY2(client.readResponse(&r, 5000), qPrintable(client.errorString()));
    QVERIFY2(sinceRequest.elapsed() >= 1500 - 5,
             qPrintable(QString::number(sinceRequest.elapsed())));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("Connection"), QByteArray("close"));
    QCOMPARE(r.json().value(QStringLiteral("slept_ms")).toInt(), 1500);
    QVERIFY2(client.waitForClose(3000), qPrintable(client.errorString()));

    QVERIFY2(server.waitForExit(5000), server.stderrText().constData());
    QCOMPARE(server.process().exitStatus(), QProcess::NormalExit);
    QCOMPARE(server.process().exitCode(), 0);
    QVERIFY2(sinceSignal.elapsed() < 5000, qPrintable(QString::number(sinceSignal.elapsed())));
    QVERIFY2(server.stderrText().contains("shutdown complete"), server.stderrText().constData());
}

void TestShutdown::sighupReloadsRateLimitRules()
{
    // A rule on /health/live, one request per minute per address; after SIGHUP three.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString file = dir.filePath(QStringLiteral("bulwark.json"));
    auto writeConfig = [&file](const QByteArray &text) {
        QFile f(file);
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        QVERIFY(f.write(text) == text.size());
    };
    auto config = [](int limit) {
        return QByteArray("{\"ratelimit\": {\"rules\": [{\"name\": \"live\", \"route\": "
                          "\"/health/live\", \"scope\": \"ip\", \"limit\": ") +
               QByteArray::number(limit) + ", \"window\": \"1m\"}]}}";
    };
    BULWARK_CHECK(writeConfig(config(1)));
    ServerProcess server;
    BULWARK_CHECK(server.start(dir.filePath(QStringLiteral("data")),
                               {QStringLiteral("--config"), file}));
    const quint16 port = server.waitForListening();
    QVERIFY2(port != 0, server.stderrText().constData());
    auto live = [port] {
        RawResponse r;
        fetch(port, "/health/live", &r);
        return r.status;
    };
    QCOMPARE(live(), 200);
    QCOMPARE(live(), 429);

    BULWARK_CHECK(writeConfig(config(3)));
    server.signal(SIGHUP);
    QVERIFY2(!server.waitForLog(QStringLiteral("reload: 1 rate-limit rule(s) applied")).isEmpty(),
             server.stderrText().constData());
    // A changed rule starts afresh: three pass, the fourth is refused.
    QCOMPARE(live(), 200);
    QCOMPARE(live(), 200);
    QCOMPARE(live(), 200);
    QCOMPARE(live(), 429);

    // A broken file changes nothing.
    BULWARK_CHECK(writeConfig("{\"ratelimit\": {\"rules\": [{\"name\": \"live\", \"limit\": 0}]}}"));
    server.signal(SIGHUP);
    QVERIFY2(!server.waitForLog(QStringLiteral("reload: configuration not applied")).isEmpty(),
             server.stderrText().constData());
    QCOMPARE(live(), 429);
    server.signal(SIGTERM);
    QVERIFY2(server.waitForExit(10000), server.stderrText().constData());
}

void TestShutdown::secondSigtermExitsAtOnce()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    ServerProcess server;
    BULWARK_CHECK(server.start(dir.path()));
    const quint16 port = server.waitForListening();
    QVERIFY2(port != 0, server.stderrText().constData());

    RawHttpClient client;
    QVERIFY2(client.connectTo(port), qPrintable(client.errorString()));
    QVERIFY2(client.send(request("GET", "/debug/sleep?ms=10000")),
             qPrintable(client.errorString()));
    QVERIFY(!client.waitForBytes(300)); // about time: the handler is asleep now
    QElapsedTimer sinceSignal;
    sinceSignal.start();
    server.signal(SIGTERM);
    // The first signal must have been taken before the second is sent, or the kernel
    // merges the two into one pending signal.
    QVERIFY2(!server.waitForLog(QStringLiteral("shutting down")).isEmpty(),
             server.stderrText().constData());
    server.signal(SIGTERM);
    QVERIFY2(server.waitForExit(3000), "a second SIGTERM did not end the process");
    QVERIFY2(sinceSignal.elapsed() < 3000, qPrintable(QString::number(sinceSignal.elapsed())));
    QCOMPARE(server.process().exitStatus(), QProcess::NormalExit);
    QCOMPARE(server.process().exitCode(), 143);
    // The sleeping request never got an answer.
    RawResponse r;
    QVERIFY(!client.readResponse(&r, 2000));
}

void TestShutdown::adminTokenFileAndFirstStartNotice()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString tokenFile = QDir(dir.path()).filePath(QStringLiteral("admin.token"));
    QByteArray token;
    {
        ServerProcess first;
        BULWARK_CHECK(first.start(dir.path()));
        const QJsonObject listening = first.waitForLog(QStringLiteral("listening on"));
        QVERIFY2(!listening.isEmpty(), first.stderrText().constData());
        QCOMPARE(listening.value(QStringLiteral("admin_token_file")).toString(), tokenFile);
        QVERIFY2(first.stderrText().contains("generated the admin token"),
                 first.stderrText().constData());

        const QFileInfo info(tokenFile);
        QVERIFY(info.exists());
        const QFileDevice::Permissions others = QFileDevice::ReadGroup | QFileDevice::WriteGroup |
                                                QFileDevice::ExeGroup | QFileDevice::ReadOther |
                                                QFileDevice::WriteOther | QFileDevice::ExeOther;
        QCOMPARE(info.permissions() & others, QFileDevice::Permissions());
        QVERIFY(info.permissions().testFlag(QFileDevice::ReadOwner));
        QVERIFY(info.permissions().testFlag(QFileDevice::WriteOwner));
        QVERIFY(!info.permissions().testFlag(QFileDevice::ExeOwner));
        struct stat st
        {
        };
        QCOMPARE(::stat(QFile::encodeName(tokenFile).constData(), &st), 0);
        QCOMPARE(st.st_mode & 07777, mode_t(0600));

        QFile f(tokenFile);
        QVERIFY(f.open(QIODevice::ReadOnly));
        token = f.readAll().trimmed();
        QVERIFY(token.size() >= 32);
        // Printed exactly once, and it is the token in the file.
        QCOMPARE(first.stderrText().count(token), 1);

        first.signal(SIGTERM);
        QVERIFY2(first.waitForExit(5000), first.stderrText().constData());
        QCOMPARE(first.process().exitCode(), 0);
    }
    {
        ServerProcess second;
        BULWARK_CHECK(second.start(dir.path()));
        const quint16 port = second.waitForListening();
        QVERIFY2(port != 0, second.stderrText().constData());
        QVERIFY2(!second.stderrText().contains("generated the admin token"),
                 second.stderrText().constData());
        QVERIFY2(!second.stderrText().contains(token), "the token must not be printed again");
        // The same token still opens the admin API.
        RawResponse r;
        BULWARK_CHECK(fetch(port, "/admin/api/metrics/series?seconds=1", &r,
                            "Authorization: Bearer " + token + "\r\n"));
        QCOMPARE(r.status, 200);
        second.signal(SIGTERM);
        QVERIFY2(second.waitForExit(5000), second.stderrText().constData());
        QCOMPARE(second.process().exitCode(), 0);
    }
    QFile f(tokenFile);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QCOMPARE(f.readAll().trimmed(), token);
}

void TestShutdown::checkConfig_data()
{
    QTest::addColumn<QByteArray>("content");
    QTest::addColumn<int>("exitCode");
    QTest::addColumn<QString>("pattern"); // regex on stdout+stderr; %1 is the file path
    QTest::newRow("valid") << QByteArray("{\n  // comment\n  \"server\": {\"threads\": 2}\n}\n")
                           << 0 << QStringLiteral("^%1: OK$");
    QTest::newRow("trailing comma")
        << QByteArray("{\n  \"server\": {\n    \"threads\": 2,\n  }\n}\n") << 2
        << QStringLiteral("^bulwark: %1:4:\\d+: .+$");
    QTest::newRow("missing brace") << QByteArray("{\n  \"server\": {\"threads\": 2}\n") << 2
                                   << QStringLiteral("^bulwark: %1:\\d+:\\d+: .+$");
    QTest::newRow("unknown key") << QByteArray("{\"server\": {\"thread\": 2}}") << 2
                                 << QStringLiteral("server.thread: unknown key");
    QTest::newRow("out of range") << QByteArray("{\"server\": {\"threads\": 100000}}") << 2
                                  << QStringLiteral("server.threads: must be between");
}

void TestShutdown::checkConfig()
{
    QFETCH(QByteArray, content);
    QFETCH(int, exitCode);
    QFETCH(QString, pattern);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("bulwark.json"));
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(content);
    f.close();
    const RunResult r = run({QStringLiteral("--check-config"), path});
    QVERIFY(r.finished);
    QCOMPARE(r.exitStatus, QProcess::NormalExit);
    QCOMPARE(r.exitCode, exitCode);
    const QString expanded = pattern.contains(QStringLiteral("%1"))
                                 ? pattern.arg(QRegularExpression::escape(path))
                                 : pattern;
    const QRegularExpression re(expanded, QRegularExpression::MultilineOption);
    const QString all = QString::fromUtf8(r.out + r.err);
    QVERIFY2(re.match(all).hasMatch(), qPrintable(all));
}

void TestShutdown::noModeIsUsageError()
{
    const RunResult r = run({});
    QVERIFY(r.finished);
    QCOMPARE(r.exitStatus, QProcess::NormalExit);
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains("--server"), r.err.constData());
}

void TestShutdown::unknownOptionIsUsageError()
{
    const RunResult r = run({QStringLiteral("--no-such-option")});
    QVERIFY(r.finished);
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains("no-such-option"), r.err.constData());
}

void TestShutdown::helpListsOptions()
{
    const RunResult r = run({QStringLiteral("--help")});
    QVERIFY(r.finished);
    QCOMPARE(r.exitStatus, QProcess::NormalExit);
    QCOMPARE(r.exitCode, 0);
    for (const char *option :
         {"--server", "--config", "--listen", "--data-dir", "--threads", "--check-config"})
        QVERIFY2(r.out.contains(option),
                 qPrintable(QStringLiteral("%1 missing from:\n%2")
                                .arg(QLatin1String(option), QString::fromUtf8(r.out))));
}

void TestShutdown::listenAddressInUse()
{
    QTcpServer occupier;
    QVERIFY(occupier.listen(QHostAddress::LocalHost, 0));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString listen = QStringLiteral("127.0.0.1:%1").arg(occupier.serverPort());
    const RunResult r = run({QStringLiteral("--server"), QStringLiteral("--listen"), listen,
                             QStringLiteral("--data-dir"), dir.path(), QStringLiteral("--threads"),
                             QStringLiteral("1")});
    QVERIFY2(r.finished, "bulwark kept running on an address in use");
    QCOMPARE(r.exitStatus, QProcess::NormalExit);
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.contains("server.listen"), r.err.constData());
    QVERIFY2(r.err.contains(listen.toLatin1()), r.err.constData());
}

QTEST_GUILESS_MAIN(TestShutdown)
#include "tst_shutdown.moc"
