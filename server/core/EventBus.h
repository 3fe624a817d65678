// SPDX-License-Identifier: GPL-3.0-or-later
// An in-process publish/subscribe bus: services announce what happened (a record was
// created, a job died, a request was rate limited) by name and payload, and whoever cares
// (webhooks, the audit log, the console's live feed) subscribes to those names, without the
// publishers knowing them. The names are listed in EventNames.h.
//
// Publishers are on hot paths (an HTTP worker emits ratelimit.exceeded for every refused
// request), so emitEvent() never runs a handler and never waits for one:
//  - When nobody subscribed to the name (nor to "*"), it returns after reading two atomic
//    counters: a 256-slot filter of subscribed names (by hash) and the number of "*"
//    subscriptions. No lock, no allocation, no shared write.
//  - Otherwise it checks the exact name under the queue's mutex and appends the event to a
//    bounded FIFO. A full queue drops the event: it is counted (dropped()) and reported by
//    a qWarning at most once a second, with the number dropped since the last one. Losing
//    events under overload is the price of never slowing down the publisher; a consumer
//    that must not lose anything (durable webhooks) has to make its handler fast (enqueue a
//    job) rather than rely on the bus.
// One dispatcher thread (a std::thread, so ThreadSanitizer sees every hand-off) takes the
// queue in batches and calls the matching handlers of each event in emit order; for one
// event, handlers run in the order they subscribed, "*" ones interleaved by that order. A
// handler that throws is caught, counted (handlerErrors()) and logged (rate limited like
// drops); the others still run. Handlers run on the dispatcher thread and should be short:
// a slow handler delays every later event and lets the queue fill.
//
// Subscriptions are copy-on-write: subscribe()/unsubscribe() build a new immutable list
// and swap a shared_ptr to it under the mutex, and the dispatcher re-reads it only when a
// generation counter says it changed, so subscribing while events flow is safe and costs
// the publishers nothing. After unsubscribe() returns (when called from outside a handler)
// the handler is not running and will not be called again: it waits for the event being
// dispatched to finish, so an object may unsubscribe in its destructor.
//
// emitEvent() before start() (or after stop()) queues; the events are delivered once the
// dispatcher runs. stop() delivers what is queued, for at most 2 seconds; whatever is
// left then is dropped and counted. Counters: emitted() is the number of events accepted
// into the queue (an emit with no subscriber is not counted: counting it would put a
// shared write on the hot path), dropped() those refused by a full queue or left at stop.
#pragma once

#include <QJsonObject>
#include <QString>
#include <QtGlobal>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace bulwark {

struct Event
{
    QString name;
    QJsonObject payload;
    qint64 emittedAtMs = 0; // milliseconds since the epoch (UTC), taken by emitEvent()
};

class EventBus
{
public:
    using Handler = std::function<void(const Event &)>;

    // At most maxQueued events wait for the dispatcher (values below 1 count as 1).
    explicit EventBus(int maxQueued = 10000);
    ~EventBus(); // stop()
    Q_DISABLE_COPY_MOVE(EventBus)

    // Calls handler (on the dispatcher thread) for every later event named `event`, or for
    // every event when `event` is "*". Returns the id for unsubscribe(), never 0. Callable
    // from any thread, handlers included.
    quint64 subscribe(const QString &event, Handler handler);
    // Removes the subscription (an unknown id is ignored). Outside a handler it waits until
    // the handler is not running; from inside a handler it does not wait (the current
    // event may still reach the handler if it comes later in this event's list).
    void unsubscribe(quint64 id);
    // True when a subscription matches `event` (exactly or by "*"). No lock when the
    // answer is no; a short one to rule out a filter collision when it may be yes.
    bool hasSubscribers(const QString &event) const;

    // Queues the event for the matching handlers and returns; never runs or waits for a
    // handler. Callable from any thread, handlers included.
    void emitEvent(const QString &event, QJsonObject payload);

    // Run in the dispatcher thread before it ends: handlers may use thread-bound resources
    // (a handler that enqueues a job opens a database connection there). Set before start().
    void setThreadFinalizer(std::function<void()> finalizer) { m_finalizer = std::move(finalizer); }
    // Starts the dispatcher thread (no-op when running). start() after stop() is allowed.
    void start();
    // Delivers what is queued (for at most 2 s, then drops and counts the rest) and joins
    // the dispatcher. No-op when not running. Never call it from a handler.
    void stop();
    // Waits until every event emitted before the call has been handled (or dropped by
    // stop). Returns at once when the dispatcher is not running, and when called from a
    // handler (it would wait for itself).
    void flush();

    quint64 emitted() const { return m_emitted.load(std::memory_order_relaxed); }
    quint64 dropped() const { return m_dropped.load(std::memory_order_relaxed); }
    quint64 handlerErrors() const { return m_handlerErrors.load(std::memory_order_relaxed); }

private:
    struct Subscribers;
    static constexpr int kFilterSlots = 256;

    static int filterSlot(const QString &event);
    bool mayHaveSubscribers(const QString &event) const;
    void run();
    void deliver(const Event &event, const Subscribers &subscribers);
    bool onDispatcherThread() const;

    const std::size_t m_maxQueued;

    // The lock-free pre-check: subscriptions per name-hash slot, and "*" subscriptions.
    std::array<std::atomic<int>, kFilterSlots> m_filter{};
    std::atomic<int> m_wildcards{0};

    // m_mutex guards the queue, the subscriber snapshot pointer and the sequence numbers.
    mutable std::mutex m_mutex;
    std::condition_variable m_wake;    // the dispatcher waits for events or stop
    std::condition_variable m_handled; // flush() waits for m_handledSeq
    std::deque<Event> m_queue;
    std::shared_ptr<const Subscribers> m_subscribers;
    quint64 m_nextId = 1;
    quint64 m_enqueuedSeq = 0; // events ever queued
    quint64 m_handledSeq = 0;  // of those, handled or dropped by the dispatcher
    bool m_running = false;    // the dispatcher thread is running
    qint64 m_lastDropWarningMs = 0;
    quint64 m_dropsSinceWarning = 0;

    std::atomic<quint64> m_generation{0}; // bumped whenever m_subscribers changes
    std::atomic<bool> m_stopping{false};
    std::chrono::steady_clock::time_point m_stopDeadline; // written before m_stopping

    // Held by the dispatcher while it delivers one event; unsubscribe() takes it once to
    // wait for a running handler.
    std::mutex m_dispatchMutex;

    std::mutex m_controlMutex; // start()/stop()
    std::thread m_thread;
    std::function<void()> m_finalizer;
    std::atomic<std::thread::id> m_dispatcherId{};

    // Dispatcher thread only.
    qint64 m_lastErrorWarningMs = 0;
    quint64 m_errorsSinceWarning = 0;

    std::atomic<quint64> m_emitted{0};
    std::atomic<quint64> m_dropped{0};
    std::atomic<quint64> m_handlerErrors{0};
};

} // namespace bulwark
