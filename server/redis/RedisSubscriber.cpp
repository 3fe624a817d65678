// SPDX-License-Identifier: GPL-3.0-or-later
// See RedisSubscriber.h.
//
// Implementation notes.
//  - The socket is read only after poll() says it is readable, with redisBufferRead (one
//    read(2) of what is there) and redisGetReplyFromReader (parse what is buffered, never
//    touch the socket). hiredis's blocking redisGetReply would wait for SO_RCVTIMEO and
//    then mark the context failed, which a quiet channel would trigger every few seconds.
//  - poll() waits at most 100 ms, so the thread sees m_stop within about 100 ms. Connect,
//    AUTH and the SUBSCRIBE write are bounded by connectTimeout and commandTimeout; a stop()
//    that lands in one of them waits for it.
//  - A server that vanishes without closing the connection (host down, network cut, or a
//    stopped process) sends no EOF. After kIdlePing of silence the thread sends PING (legal
//    in subscribed mode, answered with ["pong", ""]); no byte within another kIdlePing means
//    the connection is dead and it reconnects.
//  - Reconnect backoff starts at options.breaker.backoffMin after every drop, doubles up to
//    backoffMax while attempts fail, and is slept in slices of at most 100 ms.
//  - Only the first failure of an outage is logged, and the recovery, not every attempt.
#include "RedisSubscriber.h"

#include "HiredisConnection.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <hiredis.h>
#include <vector>

#ifdef _WIN32
#include <winsock2.h>
#else
#include <poll.h>
#endif

namespace bulwark {

namespace {

using namespace std::chrono_literals;
using SteadyTime = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kPollSlice = 100ms;
constexpr std::chrono::milliseconds kIdlePing = 5000ms;

QString contextError(const redisContext *ctx)
{
    if (!ctx)
        return QStringLiteral("out of memory");
    return ctx->err ? QString::fromLocal8Bit(ctx->errstr) : QStringLiteral("no reply");
}

QByteArray bytes(const redisReply *reply)
{
    return QByteArray(reply->str, qsizetype(reply->len));
}

// Queues a command in hiredis's output buffer.
bool append(redisContext *ctx, const QList<QByteArray> &args)
{
    hiredis::Argv argv(args);
    return redisAppendCommandArgv(ctx, argv.count(), argv.pointers.data(), argv.lengths.data()) ==
           REDIS_OK;
}

// Writes the output buffer; blocking, bounded by SO_SNDTIMEO (commandTimeout).
bool flush(redisContext *ctx)
{
    int done = 0;
    while (!done) {
        if (redisBufferWrite(ctx, &done) != REDIS_OK)
            return false;
    }
    return true;
}

} // namespace

RedisSubscriber::RedisSubscriber(RedisOptions options, QByteArrayList channels,
                                 MessageHandler onMessage, SubscribedHandler onSubscribed)
    : m_options(std::move(options)), m_channels(std::move(channels)),
      m_onMessage(std::move(onMessage)), m_onSubscribed(std::move(onSubscribed))
{
}

RedisSubscriber::~RedisSubscriber()
{
    stop();
}

void RedisSubscriber::start()
{
    // Nothing to subscribe to: SUBSCRIBE without channels is an error reply, so do not try.
    if (m_thread.joinable() || m_channels.isEmpty())
        return;
    m_stop.store(false, std::memory_order_release);
    m_thread = std::thread([this] { run(); });
}

void RedisSubscriber::stop()
{
    m_stop.store(true, std::memory_order_release);
    if (m_thread.joinable())
        m_thread.join();
}

void RedisSubscriber::run()
{
    const auto backoffMin = std::max(std::chrono::milliseconds(1), m_options.breaker.backoffMin);
    const auto backoffMax = std::max(backoffMin, m_options.breaker.backoffMax);
    auto backoff = backoffMin;
    m_outage = false;
    while (!m_stop.load(std::memory_order_acquire)) {
        const QString why = session();
        const bool wasSubscribed = m_subscribed.exchange(false, std::memory_order_acq_rel);
        if (m_stop.load(std::memory_order_acquire))
            break;
        if (wasSubscribed)
            backoff = backoffMin; // a working connection ended: start the backoff afresh
        if (!m_outage) {
            qWarning("redis subscriber %s: %s; reconnecting", qPrintable(m_options.describe()),
                     qPrintable(why));
            m_outage = true;
        }
        sleepUnlessStopped(backoff);
        backoff = std::min(backoff * 2, backoffMax);
        if (!m_stop.load(std::memory_order_acquire))
            m_reconnects.fetch_add(1, std::memory_order_relaxed);
    }
    m_subscribed.store(false, std::memory_order_release);
}

void RedisSubscriber::sleepUnlessStopped(std::chrono::milliseconds duration)
{
    const auto until = SteadyTime::now() + duration;
    while (!m_stop.load(std::memory_order_acquire)) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyTime::now());
        if (left <= 0ms)
            return;
        std::this_thread::sleep_for(std::min(left, kPollSlice));
    }
}

QString RedisSubscriber::session()
{
    // Connect, the command timeout (it bounds AUTH's read and every write; reads in the
    // receive loop go through poll() and never wait on SO_RCVTIMEO) and AUTH.
    QString failure;
    redisContext *ctx = hiredis::openContext(m_options, &failure);
    if (!ctx)
        return failure;
    const auto freeContext = qScopeGuard([ctx] { redisFree(ctx); });

    const QString why = subscribe(ctx);
    if (!why.isEmpty() || m_stop.load(std::memory_order_acquire))
        return why;
    // onSubscribed first: an owner that resynchronises there must not be seen as in step
    // (isSubscribed()) before it has done so.
    if (m_onSubscribed)
        m_onSubscribed();
    m_subscribed.store(true, std::memory_order_release);
    if (m_outage) {
        qInfo("redis subscriber %s: subscribed again", qPrintable(m_options.describe()));
        m_outage = false;
    }
    return receive(ctx);
}

QString RedisSubscriber::subscribe(redisContext *ctx)
{
    QList<QByteArray> args{QByteArrayLiteral("SUBSCRIBE")};
    args += m_channels;
    if (!append(ctx, args) || !flush(ctx))
        return QStringLiteral("SUBSCRIBE failed: %1").arg(contextError(ctx));

    // One confirmation per channel: ["subscribe", channel, count].
    int pending = int(m_channels.size());
    const auto deadline = SteadyTime::now() + std::max(m_options.commandTimeout, kPollSlice);
    QString error;
    while (pending > 0) {
        if (m_stop.load(std::memory_order_acquire))
            return QString();
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyTime::now());
        if (left <= 0ms)
            return QStringLiteral("no SUBSCRIBE confirmation within %1 ms")
                .arg(std::max(m_options.commandTimeout, kPollSlice).count());
        const int readable = waitReadable(ctx, std::min(left, kPollSlice), &error);
        if (readable < 0)
            return error;
        if (readable > 0 && !readReplies(ctx, &pending, &error))
            return error;
    }
    return QString();
}

QString RedisSubscriber::receive(redisContext *ctx)
{
    auto lastActivity = SteadyTime::now();
    bool pingSent = false;
    QString error;
    int pending = 0;
    while (!m_stop.load(std::memory_order_acquire)) {
        const int readable = waitReadable(ctx, kPollSlice, &error);
        if (readable < 0)
            return error;
        if (readable > 0) {
            if (!readReplies(ctx, &pending, &error))
                return error;
            lastActivity = SteadyTime::now();
            pingSent = false;
            continue;
        }
        const auto idle = SteadyTime::now() - lastActivity;
        if (!pingSent && idle >= kIdlePing) {
            if (!append(ctx, {QByteArrayLiteral("PING")}) || !flush(ctx))
                return QStringLiteral("PING failed: %1").arg(contextError(ctx));
            pingSent = true;
        } else if (pingSent && idle >= 2 * kIdlePing) {
            return QStringLiteral("no answer to PING within %1 ms").arg(kIdlePing.count());
        }
    }
    return QString();
}

int RedisSubscriber::waitReadable(redisContext *ctx, std::chrono::milliseconds timeout,
                                  QString *error)
{
#ifdef _WIN32
    WSAPOLLFD pfd{};
    pfd.fd = SOCKET(ctx->fd);
    pfd.events = POLLIN;
    const int n = WSAPoll(&pfd, 1, int(timeout.count()));
#else
    pollfd pfd{};
    pfd.fd = ctx->fd;
    pfd.events = POLLIN;
    const int n = ::poll(&pfd, 1, int(timeout.count()));
#endif
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        *error =
            QStringLiteral("poll failed: %1").arg(QString::fromLocal8Bit(std::strerror(errno)));
        return -1;
    }
    if (n == 0)
        return 0;
    if (pfd.revents & POLLNVAL) {
        *error = QStringLiteral("socket closed");
        return -1;
    }
    // POLLIN, POLLHUP or POLLERR: the read reports EOF or the error.
    return 1;
}

bool RedisSubscriber::readReplies(redisContext *ctx, int *pendingConfirmations, QString *error)
{
    if (redisBufferRead(ctx) != REDIS_OK) {
        *error = contextError(ctx);
        return false;
    }
    for (;;) {
        void *raw = nullptr;
        if (redisGetReplyFromReader(ctx, &raw) != REDIS_OK) {
            *error = contextError(ctx);
            return false;
        }
        if (!raw)
            return true; // no complete reply buffered
        const auto *reply = static_cast<redisReply *>(raw);
        const auto freeReply = qScopeGuard([raw] { freeReplyObject(raw); });
        if (reply->type == REDIS_REPLY_ERROR) {
            *error = QStringLiteral("error reply: %1").arg(QString::fromUtf8(bytes(reply)));
            return false;
        }
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
            reply->element[0]->type != REDIS_REPLY_STRING)
            continue;
        const QByteArray kind = bytes(reply->element[0]);
        if (kind == "message" && reply->elements == 3) {
            m_messages.fetch_add(1, std::memory_order_relaxed);
            if (m_onMessage)
                m_onMessage(bytes(reply->element[1]), bytes(reply->element[2]));
        } else if (kind == "subscribe") {
            --*pendingConfirmations;
        }
        // "pong" (the health check) and anything else: activity only.
    }
}

} // namespace bulwark
