// SPDX-License-Identifier: GPL-3.0-or-later
// The Redis client every module shares (cache, rate limiter, jobs, load-test workers),
// built on hiredis's synchronous API (Debian ships hiredis 0.14.1).
//
// One connection per thread: HTTP workers run handlers synchronously, so a blocking call on
// the worker's own connection is the simplest correct model and needs no locking around
// the socket. A connection is opened on a thread's first call (connect timeout), every
// command has a timeout (SO_RCVTIMEO/SO_SNDTIMEO through redisSetTimeout), and a connection
// that failed is dropped and reopened on the next call. Failures feed one CircuitBreaker
// shared by all threads, so when Redis is down callers fail fast instead of each waiting
// for a timeout, and one probe at a time finds out when it is back.
//
// Pipelining: pipeline() sends several commands in one write and reads the replies in
// order, one round trip for all of them. The async API (and hiredis's bundled Qt adapter,
// which frees its context under a pending notifier on disconnect) is not used.
//
// Every call either returns the reply (which may itself be a Redis error reply, e.g.
// WRONGTYPE) or an Error with code Unavailable (breaker open, connect failure, timeout,
// connection lost). It never throws and never blocks longer than the timeouts.
#pragma once

#include "CircuitBreaker.h"
#include "Clock.h"
#include "Error.h"
#include "RedisEndpoint.h"

#include <QByteArray>
#include <QList>
#include <QString>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace bulwark {

// Where (RedisEndpoint: host, port or socket, password, database) and how long to wait.
struct RedisOptions : RedisEndpoint
{
    std::chrono::milliseconds connectTimeout{250};
    std::chrono::milliseconds commandTimeout{250};
    CircuitBreaker::Options breaker;

    // RedisEndpoint::parse, with the default timeouts and breaker.
    static Result<RedisOptions> fromUrl(const QString &url);
};

struct RedisReply
{
    enum class Type
    {
        Nil,
        Status, // +OK
        Error,  // -ERR ... (a reply, not a transport failure)
        Integer,
        String,
        Array
    };
    Type type = Type::Nil;
    qint64 integer = 0;
    QByteArray string; // Status, Error and String
    QList<RedisReply> elements;

    bool isNil() const { return type == Type::Nil; }
    bool isError() const { return type == Type::Error; }
};

class RedisClient
{
public:
    struct Stats
    {
        quint64 commands = 0; // commands sent (a pipeline counts each)
        quint64 failures = 0; // calls that returned Unavailable (breaker open included)
        quint64 connects = 0; // connections opened
        quint64 breakerOpens = 0;
        int connections = 0; // open now, one per thread that used Redis
    };

    RedisClient(RedisOptions options, const Clock &clock);
    ~RedisClient();
    Q_DISABLE_COPY_MOVE(RedisClient)

    // One command, e.g. command({"SET", key, value, "PX", "5000"}).
    Result<RedisReply> command(const QList<QByteArray> &args);
    // Several commands in one round trip; the replies in the same order.
    Result<QList<RedisReply>> pipeline(const QList<QList<QByteArray>> &commands);

    CircuitBreaker::State breakerState() const { return m_breaker.state(); }
    const CircuitBreaker &breaker() const { return m_breaker; }
    Stats stats() const;
    const RedisOptions &options() const { return m_options; }

    // Closes the calling thread's connection (HTTP worker threads call this as they exit).
    void closeThreadConnection();

private:
    struct Connection;
    Connection *connectionForThisThread(QString *error);
    void dropThreadConnection();

    RedisOptions m_options;
    const Clock &m_clock;
    CircuitBreaker m_breaker;
    mutable std::mutex m_mutex;
    std::unordered_map<std::thread::id, std::unique_ptr<Connection>> m_connections;
    std::atomic<quint64> m_commands{0};
    std::atomic<quint64> m_failures{0};
    std::atomic<quint64> m_connects{0};
};

} // namespace bulwark
