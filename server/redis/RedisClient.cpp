// SPDX-License-Identifier: GPL-3.0-or-later
// See RedisClient.h.
//
// Implementation notes.
//  - The map of connections is guarded by m_mutex, but a Connection is used without it:
//    only its own thread reaches it, and only that thread (or the destructor, when no
//    thread uses the client any more) removes it. Connecting happens outside the lock, so
//    one thread waiting for a connect timeout does not hold up the others. A thread that
//    exits without closeThreadConnection() leaves its connection in the map; a later
//    thread that gets the same id simply inherits it (never two users at once), and the
//    destructor frees the rest.
//  - A timed-out or broken connection is never reused: a reply that arrives late would be
//    read as the answer to the next command. Every transport error therefore drops the
//    thread's connection; the next call opens a new one (if the breaker allows).
//  - A Redis error reply (-ERR, -WRONGTYPE, -NOAUTH) proves the server is there, so it
//    counts as a breaker success and is returned as a reply. AUTH or SELECT failing while
//    a connection is set up is the exception: the connection is unusable, so that is an
//    Unavailable error and a breaker failure (a wrong password keeps the breaker open).
//  - hiredis 0.14 writes with write(2), so writing to a socket the server has reset raises
//    SIGPIPE; the application ignores SIGPIPE (app/SignalWatcher.cpp) and so must any other
//    program that uses this client.
#include "RedisClient.h"

#include "HiredisConnection.h"

#include <cerrno>
#include <hiredis.h>
#include <vector>

namespace bulwark {

struct RedisClient::Connection
{
    explicit Connection(redisContext *context) : ctx(context) {}
    ~Connection() { redisFree(ctx); }
    Q_DISABLE_COPY_MOVE(Connection)
    redisContext *ctx;
};

namespace {

RedisReply convert(const redisReply *reply)
{
    RedisReply out;
    switch (reply->type) {
    case REDIS_REPLY_STRING:
        out.type = RedisReply::Type::String;
        out.string = QByteArray(reply->str, qsizetype(reply->len));
        break;
    case REDIS_REPLY_STATUS:
        out.type = RedisReply::Type::Status;
        out.string = QByteArray(reply->str, qsizetype(reply->len));
        break;
    case REDIS_REPLY_ERROR:
        out.type = RedisReply::Type::Error;
        out.string = QByteArray(reply->str, qsizetype(reply->len));
        break;
    case REDIS_REPLY_INTEGER:
        out.type = RedisReply::Type::Integer;
        out.integer = reply->integer;
        break;
    case REDIS_REPLY_ARRAY:
        out.type = RedisReply::Type::Array;
        out.elements.reserve(qsizetype(reply->elements));
        for (size_t i = 0; i < reply->elements; ++i)
            out.elements.append(convert(reply->element[i]));
        break;
    case REDIS_REPLY_NIL:
    default: out.type = RedisReply::Type::Nil; break;
    }
    return out;
}

} // namespace

Result<RedisOptions> RedisOptions::fromUrl(const QString &url)
{
    auto endpoint = RedisEndpoint::parse(url);
    if (!endpoint.ok())
        return endpoint.error();
    RedisOptions options;
    static_cast<RedisEndpoint &>(options) = endpoint.value();
    return options;
}

RedisClient::RedisClient(RedisOptions options, const Clock &clock)
    : m_options(std::move(options)), m_clock(clock), m_breaker(m_options.breaker, clock)
{
}

RedisClient::~RedisClient()
{
    // No thread uses the client any more (the owner guarantees it); free every context.
    std::lock_guard lock(m_mutex);
    m_connections.clear();
}

RedisClient::Connection *RedisClient::connectionForThisThread(QString *error)
{
    const std::thread::id self = std::this_thread::get_id();
    {
        std::lock_guard lock(m_mutex);
        const auto it = m_connections.find(self);
        if (it != m_connections.end())
            return it->second.get();
    }

    // Outside the lock: one thread waiting for a connect timeout holds up no other.
    redisContext *ctx = hiredis::openContext(m_options, error);
    if (!ctx)
        return nullptr;
    auto connection = std::make_unique<Connection>(ctx);
    m_connects.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(m_mutex);
    return m_connections.emplace(self, std::move(connection)).first->second.get();
}

void RedisClient::dropThreadConnection()
{
    std::unique_ptr<Connection> dropped;
    {
        std::lock_guard lock(m_mutex);
        const auto it = m_connections.find(std::this_thread::get_id());
        if (it == m_connections.end())
            return;
        dropped = std::move(it->second);
        m_connections.erase(it);
    }
    // redisFree (closing the socket) happens outside the lock.
}

void RedisClient::closeThreadConnection()
{
    dropThreadConnection();
}

Result<RedisReply> RedisClient::command(const QList<QByteArray> &args)
{
    Result<QList<RedisReply>> replies = pipeline({args});
    if (!replies.ok())
        return replies.error();
    return std::move(replies.value().first());
}

Result<QList<RedisReply>> RedisClient::pipeline(const QList<QList<QByteArray>> &commands)
{
    if (commands.isEmpty())
        return QList<RedisReply>();
    for (const QList<QByteArray> &args : commands) {
        // Redis ignores an empty multi-bulk request without answering: the read would wait
        // for the whole timeout. A programming error, not an outage: no breaker involved.
        if (args.isEmpty())
            return Error{ErrorCode::Internal, QStringLiteral("empty Redis command")};
    }
    if (!m_breaker.allow()) {
        m_failures.fetch_add(1, std::memory_order_relaxed);
        return Error{ErrorCode::Unavailable, QStringLiteral("redis unavailable (circuit open)")};
    }

    const auto fail = [this](const QString &what) {
        dropThreadConnection();
        const bool wasClosed = m_breaker.state() == CircuitBreaker::State::Closed;
        m_breaker.recordFailure();
        m_failures.fetch_add(1, std::memory_order_relaxed);
        const QString message = QStringLiteral("redis %1: %2").arg(m_options.describe(), what);
        // One warning per outage: when the breaker opens, not on every failed probe.
        if (wasClosed && m_breaker.state() != CircuitBreaker::State::Closed)
            qWarning("%s; circuit open, probing every %lld..%lld ms", qPrintable(message),
                     qlonglong(m_breaker.currentBackoff().count()),
                     qlonglong(m_options.breaker.backoffMax.count()));
        return Error{ErrorCode::Unavailable, message};
    };

    QString error;
    Connection *connection = connectionForThisThread(&error);
    if (!connection)
        return fail(error);
    redisContext *ctx = connection->ctx;

    for (const QList<QByteArray> &args : commands) {
        hiredis::Argv argv(args);
        // Appends to hiredis's output buffer only; fails only when out of memory.
        if (redisAppendCommandArgv(ctx, argv.count(), argv.pointers.data(), argv.lengths.data()) !=
            REDIS_OK)
            return fail(QStringLiteral("cannot queue a command: %1")
                            .arg(hiredis::contextError(ctx, errno, m_options.commandTimeout)));
    }
    m_commands.fetch_add(quint64(commands.size()), std::memory_order_relaxed);

    // The first redisGetReply writes the whole buffer (one write for the pipeline), then
    // each call reads one reply. Every call is bounded by the socket timeouts.
    QList<RedisReply> replies;
    replies.reserve(commands.size());
    for (qsizetype i = 0; i < commands.size(); ++i) {
        void *raw = nullptr;
        errno = 0;
        const int rc = redisGetReply(ctx, &raw);
        const int savedErrno = errno;
        if (rc != REDIS_OK || !raw || ctx->err) {
            if (raw)
                freeReplyObject(raw);
            return fail(hiredis::contextError(ctx, savedErrno, m_options.commandTimeout));
        }
        replies.append(convert(static_cast<redisReply *>(raw)));
        freeReplyObject(raw);
    }

    const CircuitBreaker::State before = m_breaker.state();
    m_breaker.recordSuccess();
    if (before != CircuitBreaker::State::Closed)
        qInfo("redis %s: reachable again, circuit closed", qPrintable(m_options.describe()));
    return replies;
}

RedisClient::Stats RedisClient::stats() const
{
    Stats stats;
    stats.commands = m_commands.load(std::memory_order_relaxed);
    stats.failures = m_failures.load(std::memory_order_relaxed);
    stats.connects = m_connects.load(std::memory_order_relaxed);
    stats.breakerOpens = m_breaker.opens();
    std::lock_guard lock(m_mutex);
    stats.connections = int(m_connections.size());
    return stats;
}

} // namespace bulwark
