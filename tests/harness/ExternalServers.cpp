// SPDX-License-Identifier: GPL-3.0-or-later
// See ExternalServers.h.
#include "ExternalServers.h"

#include <QCollator>
#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>

#ifdef Q_OS_UNIX
#include <csignal>
#include <pwd.h>
#include <unistd.h>
#endif

namespace bulwark::test {

namespace {

bool runningAsRoot()
{
#ifdef Q_OS_UNIX
    return ::geteuid() == 0;
#else
    return false;
#endif
}

QString tail(const QString &path, int lines = 20)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return QString();
    const QList<QByteArray> all = file.readAll().split('\n');
    return QString::fromUtf8(all.mid(qMax<qsizetype>(0, all.size() - lines)).join('\n'));
}

// Newest /usr/lib/postgresql/<version>/bin that has initdb (Debian's layout).
QString postgresBinDir()
{
    QDir root(QStringLiteral("/usr/lib/postgresql"));
    QStringList versions = root.entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    QCollator collator;
    collator.setNumericMode(true);
    std::sort(versions.begin(), versions.end(),
              [&](const QString &a, const QString &b) { return collator.compare(a, b) > 0; });
    for (const QString &v : versions) {
        const QString bin = root.filePath(v + QStringLiteral("/bin"));
        if (QFile::exists(bin + QStringLiteral("/initdb")))
            return bin;
    }
    return QString();
}

bool waitForPort(quint16 port, int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        QTcpSocket probe;
        probe.connectToHost(QStringLiteral("127.0.0.1"), port);
        if (probe.waitForConnected(200))
            return true;
        QThread::msleep(50);
    }
    return false;
}

} // namespace

quint16 freeLoopbackPort()
{
    QTcpServer server;
    if (!server.listen(QHostAddress::LocalHost, 0))
        return 0;
    return server.serverPort();
}

PostgresServer::PostgresServer() : m_binDir(postgresBinDir()) {}

PostgresServer::~PostgresServer()
{
    stop();
}

bool PostgresServer::run(const QString &program, const QStringList &arguments, int timeoutMs)
{
    QProcess process;
    process.setProcessChannelMode(QProcess::MergedChannels);
    QStringList args = arguments;
    QString executable = m_binDir + QLatin1Char('/') + program;
    if (runningAsRoot()) {
        args.prepend(executable);
        args = QStringList{QStringLiteral("-u"), QStringLiteral("postgres"), QStringLiteral("--")} +
               args;
        executable = QStringLiteral("runuser");
    }
    process.start(executable, args);
    if (!process.waitForStarted(10000)) {
        m_error = QStringLiteral("cannot start %1: %2").arg(executable, process.errorString());
        return false;
    }
    if (!process.waitForFinished(timeoutMs)) {
        process.kill();
        process.waitForFinished(2000);
        m_error = QStringLiteral("%1 did not finish within %2 ms").arg(program).arg(timeoutMs);
        return false;
    }
    if (process.exitStatus() != QProcess::NormalExit || process.exitCode() != 0) {
        m_error = QStringLiteral("%1 failed (exit %2): %3")
                      .arg(program)
                      .arg(process.exitCode())
                      .arg(QString::fromUtf8(process.readAll()).right(2000));
        return false;
    }
    return true;
}

bool PostgresServer::start()
{
    if (m_running)
        return true;
    if (m_binDir.isEmpty()) {
        m_error = QStringLiteral("no PostgreSQL server binaries under /usr/lib/postgresql "
                                 "(Debian package postgresql; ./dev.sh test installs it)");
        return false;
    }
    if (!m_dir.isValid()) {
        m_error = QStringLiteral("cannot create a temporary directory");
        return false;
    }
    const QString data = m_dir.filePath(QStringLiteral("data"));
    const QString log = m_dir.filePath(QStringLiteral("postgres.log"));
#ifdef Q_OS_UNIX
    if (!m_initialized && runningAsRoot()) {
        const passwd *pw = ::getpwnam("postgres");
        if (!pw) {
            m_error = QStringLiteral(
                "running as root, but there is no postgres user to run PostgreSQL as");
            return false;
        }
        if (::chown(QFile::encodeName(m_dir.path()).constData(), pw->pw_uid, pw->pw_gid) != 0) {
            m_error = QStringLiteral("cannot hand %1 to the postgres user").arg(m_dir.path());
            return false;
        }
    }
#endif
    if (!m_initialized) {
        if (!run(QStringLiteral("initdb"),
                 {QStringLiteral("-D"), data, QStringLiteral("-U"), user(),
                  QStringLiteral("--auth=trust"), QStringLiteral("-E"), QStringLiteral("UTF8"),
                  QStringLiteral("--no-sync")},
                 120000))
            return false;
        m_initialized = true;
    }
    const bool restart = m_port != 0;
    // A new port can be taken between the probe and the bind: try a few.
    for (int attempt = 0; attempt < 3; ++attempt) {
        if (!restart || attempt > 0)
            m_port = freeLoopbackPort();
        const QString options =
            QStringLiteral("-p %1 -k %2 -c listen_addresses=127.0.0.1 -c fsync=off "
                           "-c synchronous_commit=off -c full_page_writes=off")
                .arg(m_port)
                .arg(m_dir.path());
        if (run(QStringLiteral("pg_ctl"),
                {QStringLiteral("-D"), data, QStringLiteral("-l"), log, QStringLiteral("-o"),
                 options, QStringLiteral("-w"), QStringLiteral("-t"), QStringLiteral("60"),
                 QStringLiteral("start")},
                90000)) {
            m_running = true;
            break;
        }
        m_error += QStringLiteral("\n") + tail(log);
    }
    if (!m_running)
        return false;
    if (!waitForPort(m_port, 10000)) {
        m_error =
            QStringLiteral("PostgreSQL started but does not accept connections on port %1\n%2")
                .arg(m_port)
                .arg(tail(log));
        return false;
    }
    m_error.clear();
    return true;
}

void PostgresServer::stop()
{
    if (!m_running)
        return;
    m_running = false;
    run(QStringLiteral("pg_ctl"),
        {QStringLiteral("-D"), m_dir.filePath(QStringLiteral("data")), QStringLiteral("-m"),
         QStringLiteral("fast"), QStringLiteral("-w"), QStringLiteral("stop")},
        60000);
}

RedisServer::RedisServer() = default;

RedisServer::~RedisServer()
{
    stop();
}

QString RedisServer::unixSocket() const
{
    return m_dir.filePath(QStringLiteral("redis.sock"));
}

qint64 RedisServer::pid() const
{
    return m_process ? m_process->processId() : 0;
}

bool RedisServer::start()
{
    if (m_process)
        return true;
    if (!m_dir.isValid()) {
        m_error = QStringLiteral("cannot create a temporary directory");
        return false;
    }
    const QString log = m_dir.filePath(QStringLiteral("redis.log"));
    // A restart keeps the port (clients reconnect to the address they know). Redis binds
    // with SO_REUSEADDR, so connections of a killed instance in TIME_WAIT do not block it.
    const bool restart = m_port != 0;
    for (int attempt = 0; attempt < 3; ++attempt) {
        if (!restart)
            m_port = freeLoopbackPort();
        auto process = std::make_unique<QProcess>();
        process->setProcessChannelMode(QProcess::MergedChannels);
        process->setWorkingDirectory(m_dir.path());
        // The log goes to a file: nobody reads the process's pipe while tests run, and a
        // full pipe would block the server.
        process->start(
            QStringLiteral("redis-server"),
            QStringList{QStringLiteral("--port"), QString::number(m_port), QStringLiteral("--bind"),
                        QStringLiteral("127.0.0.1"), QStringLiteral("--unixsocket"), unixSocket(),
                        QStringLiteral("--unixsocketperm"), QStringLiteral("700"),
                        QStringLiteral("--save"), QString(), QStringLiteral("--appendonly"),
                        QStringLiteral("no"), QStringLiteral("--dir"), m_dir.path(),
                        QStringLiteral("--logfile"), log, QStringLiteral("--daemonize"),
                        QStringLiteral("no")} +
                m_extraArguments);
        if (!process->waitForStarted(10000)) {
            m_error = QStringLiteral("cannot start redis-server (Debian package redis-server; "
                                     "./dev.sh test installs it): %1")
                          .arg(process->errorString());
            return false;
        }
        // Still running after the port answers: the listener is this server, not another
        // process that took the port.
        if (waitForPort(m_port, 10000) && process->state() == QProcess::Running) {
            m_process = std::move(process);
            m_paused = false;
            m_error.clear();
            return true;
        }
        process->kill();
        process->waitForFinished(2000);
        m_error = QStringLiteral("redis-server did not listen on port %1: %2\n%3")
                      .arg(m_port)
                      .arg(QString::fromUtf8(process->readAll()).right(2000), tail(log));
        if (restart)
            QThread::msleep(200); // same port: give whoever holds it a moment
    }
    return false;
}

void RedisServer::stop()
{
    if (!m_process)
        return;
    resume(); // a stopped process would not act on SIGTERM
    m_process->terminate();
    if (!m_process->waitForFinished(10000)) {
        m_process->kill();
        m_process->waitForFinished(2000);
    }
    m_process.reset();
}

void RedisServer::kill()
{
    if (!m_process)
        return;
    m_process->kill(); // SIGKILL on Unix; also ends a stopped process
    m_process->waitForFinished(5000);
    m_process.reset();
    m_paused = false;
}

void RedisServer::pause()
{
#ifdef Q_OS_UNIX
    if (!m_process || m_paused)
        return;
    const pid_t pid = pid_t(m_process->processId());
    ::kill(pid, SIGSTOP);
    m_paused = true;
#ifdef Q_OS_LINUX
    // SIGSTOP is delivered asynchronously: wait until the kernel reports the process as
    // stopped ("T" in /proc/<pid>/stat), so nothing sent after pause() gets an answer.
    QDeadlineTimer deadline(2000);
    while (!deadline.hasExpired()) {
        QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
        if (!stat.open(QIODevice::ReadOnly))
            break;
        const QByteArray line = stat.readAll();
        const qsizetype paren = line.lastIndexOf(')');
        if (paren >= 0 && paren + 2 < line.size() && line.at(paren + 2) == 'T')
            break;
        QThread::msleep(5);
    }
#endif
#endif
}

void RedisServer::resume()
{
#ifdef Q_OS_UNIX
    if (!m_process || !m_paused)
        return;
    ::kill(pid_t(m_process->processId()), SIGCONT);
    m_paused = false;
#endif
}

} // namespace bulwark::test
