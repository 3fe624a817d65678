// SPDX-License-Identifier: GPL-3.0-or-later
// A Redis pub/sub subscription on its own thread, for cross-instance messages (cache
// invalidation now; config reloads and load-test coordination later).
//
// A subscribed connection can do nothing but receive, so it is separate from the
// per-thread command connections of RedisClient. The thread polls the socket with a short
// timeout (so stop() returns promptly) and reads whatever replies hiredis has buffered,
// without hiredis's blocking read (a read timeout would make the context unusable). When
// the connection drops it reconnects with exponential backoff (backoffMin .. backoffMax of
// the options' breaker settings) and calls onSubscribed again, before isSubscribed() turns
// true: the owner uses that moment to resynchronise, because messages published while it
// was disconnected are lost (Redis pub/sub is fire-and-forget).
//
// Callbacks run on the subscriber thread; they must be thread-safe and quick (onSubscribed
// may take a few round trips: messages wait in the socket meanwhile).
#pragma once

#include "RedisClient.h"

#include <QByteArrayList>
#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

struct redisContext;

namespace bulwark {

class RedisSubscriber
{
public:
    using MessageHandler =
        std::function<void(const QByteArray &channel, const QByteArray &message)>;
    using SubscribedHandler = std::function<void()>;

    RedisSubscriber(RedisOptions options, QByteArrayList channels, MessageHandler onMessage,
                    SubscribedHandler onSubscribed = {});
    ~RedisSubscriber(); // stops
    Q_DISABLE_COPY_MOVE(RedisSubscriber)

    void start();
    void stop(); // returns within about 100 ms
    bool isSubscribed() const { return m_subscribed.load(std::memory_order_acquire); }
    quint64 messages() const { return m_messages.load(std::memory_order_relaxed); }
    quint64 reconnects() const { return m_reconnects.load(std::memory_order_relaxed); }

private:
    void run();
    // One connection from connect to loss: returns why it ended (empty when stopped).
    QString session();
    QString subscribe(redisContext *ctx);
    QString receive(redisContext *ctx);
    // Reads what the socket has and handles every complete reply; false on error.
    bool readReplies(redisContext *ctx, int *pendingConfirmations, QString *error);
    // Waits up to `timeout` for the socket to become readable: 1 readable, 0 not, -1 error.
    int waitReadable(redisContext *ctx, std::chrono::milliseconds timeout, QString *error);
    void sleepUnlessStopped(std::chrono::milliseconds duration);

    RedisOptions m_options;
    QByteArrayList m_channels;
    MessageHandler m_onMessage;
    SubscribedHandler m_onSubscribed;
    std::thread m_thread;
    std::atomic<bool> m_stop{false};
    std::atomic<bool> m_subscribed{false};
    std::atomic<quint64> m_messages{0};
    std::atomic<quint64> m_reconnects{0};
    bool m_outage = false; // subscriber thread only: an outage is being logged
};

} // namespace bulwark
