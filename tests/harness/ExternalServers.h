// SPDX-License-Identifier: GPL-3.0-or-later
// The test harness for real services: PostgreSQL and Redis from Debian's packages, each
// started on a free loopback port in its own temporary directory and stopped (and the
// directory removed) when the object goes away. Integration tests of the database, cache
// and rate-limit modules use these instead of mocks. PostgreSQL refuses to run as root, so
// as root its commands run as the `postgres` user through runuser(1).
//
// A service that cannot be started is a test failure with the reason in errorString()
// (missing binary, initdb error, log tail): CI installs both through ./dev.sh test.
#pragma once

#include <QString>
#include <QStringList>
#include <QTemporaryDir>
#include <memory>

class QProcess;

namespace bulwark::test {

class PostgresServer
{
public:
    PostgresServer();
    ~PostgresServer();
    Q_DISABLE_COPY_MOVE(PostgresServer)

    // The first start() creates the cluster and picks a port; later ones (after stop())
    // restart the same cluster on the same port, as a database restart would.
    bool start();
    void stop();
    QString errorString() const { return m_error; }
    quint16 port() const { return m_port; }
    QString host() const { return QStringLiteral("127.0.0.1"); }
    QString user() const { return QStringLiteral("bulwark"); }
    QString database() const { return QStringLiteral("postgres"); }

private:
    bool run(const QString &program, const QStringList &arguments, int timeoutMs);
    QString m_binDir;
    QTemporaryDir m_dir;
    quint16 m_port = 0;
    bool m_initialized = false;
    bool m_running = false;
    QString m_error;
};

class RedisServer
{
public:
    RedisServer();
    ~RedisServer();
    Q_DISABLE_COPY_MOVE(RedisServer)

    // The first start() picks a port; later ones (after stop() or kill()) restart on the
    // same port, as a Redis restart would, so clients reconnect to the address they know.
    // The server also listens on unixSocket(). Data is not kept across restarts.
    bool start();
    void stop();   // graceful (SIGTERM); resumes a paused server first
    void kill();   // SIGKILL: a crash, no shutdown, connections reset
    void pause();  // SIGSTOP: connections stay open, nothing is answered (timeout tests)
    void resume(); // SIGCONT
    // Extra redis-server arguments for every later start(), e.g. {"--requirepass", "pw"}.
    void setExtraArguments(const QStringList &arguments) { m_extraArguments = arguments; }
    QString errorString() const { return m_error; }
    quint16 port() const { return m_port; }
    QString host() const { return QStringLiteral("127.0.0.1"); }
    QString unixSocket() const;
    qint64 pid() const; // 0 when not running

private:
    QTemporaryDir m_dir;
    std::unique_ptr<QProcess> m_process;
    QStringList m_extraArguments;
    quint16 m_port = 0;
    bool m_paused = false;
    QString m_error;
};

// A port that was free a moment ago on 127.0.0.1 (the service binds it right after).
quint16 freeLoopbackPort();

} // namespace bulwark::test
