// SPDX-License-Identifier: GPL-3.0-or-later
// See EventBus.h. Every hand-off between threads goes through std::mutex, std::atomic or
// std::condition_variable (no Qt event queue), so ThreadSanitizer sees all of it.
#include "EventBus.h"

#include <QCoreApplication>

#include "EventNames.h"

#include <QDateTime>
#include <QHash>
#include <QSet>
#include <algorithm>
#include <exception>
#include <limits>
#include <vector>
#if defined(Q_OS_LINUX)
#include <pthread.h>
#endif

namespace bulwark {

namespace {

using namespace std::chrono_literals;

constexpr auto kStopDrainLimit = 2s;
constexpr qint64 kWarningIntervalMs = 1000;
constexpr qint64 kNeverWarned = std::numeric_limits<qint64>::min() / 2;

const QString &wildcard()
{
    static const QString star = QStringLiteral("*");
    return star;
}

qint64 steadyMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

} // namespace

// One immutable generation of the subscriptions. byName has, for every name somebody
// subscribed to, that name's handlers and the "*" handlers merged in subscription order;
// an event nobody named gets wildcardOnly.
struct EventBus::Subscribers
{
    using HandlerList = std::vector<std::shared_ptr<const Handler>>;
    struct Entry
    {
        quint64 id;
        QString event;
        std::shared_ptr<const Handler> handler;
    };

    std::vector<Entry> all; // in subscription (= id) order
    QHash<QString, HandlerList> byName;
    HandlerList wildcardOnly;

    const HandlerList &handlersFor(const QString &event) const
    {
        const auto it = byName.constFind(event);
        return it == byName.cend() ? wildcardOnly : *it;
    }
    bool matches(const QString &event) const
    {
        return !wildcardOnly.empty() || byName.contains(event);
    }

    static std::shared_ptr<const Subscribers> build(std::vector<Entry> entries)
    {
        auto s = std::make_shared<Subscribers>();
        s->all = std::move(entries);
        QSet<QString> names;
        for (const Entry &e : s->all) {
            if (e.event == wildcard())
                s->wildcardOnly.push_back(e.handler);
            else
                names.insert(e.event);
        }
        for (const QString &name : std::as_const(names)) {
            HandlerList &list = s->byName[name];
            for (const Entry &e : s->all) {
                if (e.event == name || e.event == wildcard())
                    list.push_back(e.handler);
            }
        }
        return s;
    }
};

EventBus::EventBus(int maxQueued)
    : m_maxQueued(std::size_t(qMax(1, maxQueued))), m_subscribers(Subscribers::build({})),
      m_lastDropWarningMs(kNeverWarned), m_lastErrorWarningMs(kNeverWarned)
{
}

EventBus::~EventBus()
{
    stop();
}

int EventBus::filterSlot(const QString &event)
{
    return int(qHash(event) & (kFilterSlots - 1));
}

bool EventBus::mayHaveSubscribers(const QString &event) const
{
    return m_wildcards.load(std::memory_order_acquire) > 0 ||
           m_filter[filterSlot(event)].load(std::memory_order_acquire) > 0;
}

bool EventBus::hasSubscribers(const QString &event) const
{
    if (!mayHaveSubscribers(event))
        return false;
    std::lock_guard lock(m_mutex);
    return m_subscribers->matches(event);
}

bool EventBus::onDispatcherThread() const
{
    return m_dispatcherId.load(std::memory_order_acquire) == std::this_thread::get_id();
}

quint64 EventBus::subscribe(const QString &event, Handler handler)
{
    if (!handler) {
        qWarning("event bus: subscription to %s without a handler ignored", qPrintable(event));
        return 0;
    }
#ifndef QT_NO_DEBUG
    // A typo here would subscribe to nothing, silently. Not refused: tests and new
    // publishers may use names that are not (yet) in the list.
    if (event != wildcard() && !knownEventNames().contains(event))
        qDebug("event bus: subscription to \"%s\", which is not in EventNames.h",
               qPrintable(event));
#endif
    auto shared = std::make_shared<const Handler>(std::move(handler));
    std::lock_guard lock(m_mutex);
    const quint64 id = m_nextId++;
    std::vector<Subscribers::Entry> entries = m_subscribers->all;
    entries.push_back({id, event, std::move(shared)});
    m_subscribers = Subscribers::build(std::move(entries));
    if (event == wildcard())
        m_wildcards.fetch_add(1, std::memory_order_release);
    else
        m_filter[filterSlot(event)].fetch_add(1, std::memory_order_release);
    m_generation.fetch_add(1, std::memory_order_release);
    return id;
}

void EventBus::unsubscribe(quint64 id)
{
    {
        std::lock_guard lock(m_mutex);
        std::vector<Subscribers::Entry> entries = m_subscribers->all;
        const auto it = std::find_if(entries.begin(), entries.end(),
                                     [id](const Subscribers::Entry &e) { return e.id == id; });
        if (it == entries.end())
            return;
        const QString event = it->event;
        entries.erase(it);
        m_subscribers = Subscribers::build(std::move(entries));
        if (event == wildcard())
            m_wildcards.fetch_sub(1, std::memory_order_release);
        else
            m_filter[filterSlot(event)].fetch_sub(1, std::memory_order_release);
        m_generation.fetch_add(1, std::memory_order_release);
    }
    // Wait out the event being delivered (it may hold the old list). Any event the
    // dispatcher starts after this takes m_dispatchMutex after us and sees the new
    // generation.
    if (!onDispatcherThread()) {
        std::lock_guard wait(m_dispatchMutex);
    }
}

void EventBus::emitEvent(const QString &event, QJsonObject payload)
{
    if (!mayHaveSubscribers(event))
        return; // the hot path: a hash and two atomic loads, nothing written

    Event e{event, std::move(payload), QDateTime::currentMSecsSinceEpoch()};
    bool queued = false;
    quint64 warnDropped = 0;
    std::size_t queueSize = 0;
    {
        std::lock_guard lock(m_mutex);
        if (!m_subscribers->matches(event))
            return; // a filter collision
        if (m_queue.size() < m_maxQueued) {
            m_queue.push_back(std::move(e));
            ++m_enqueuedSeq;
            m_emitted.fetch_add(1, std::memory_order_relaxed);
            queued = true;
        } else {
            m_dropped.fetch_add(1, std::memory_order_relaxed);
            ++m_dropsSinceWarning;
            const qint64 now = steadyMs();
            if (now - m_lastDropWarningMs >= kWarningIntervalMs) {
                m_lastDropWarningMs = now;
                warnDropped = m_dropsSinceWarning;
                m_dropsSinceWarning = 0;
                queueSize = m_queue.size();
            }
        }
    }
    if (queued)
        m_wake.notify_one();
    else if (warnDropped > 0)
        qWarning("event bus: queue full (%zu events); dropped %llu event(s) since the last "
                 "warning, the latest %s",
                 queueSize, static_cast<unsigned long long>(warnDropped), qPrintable(event));
}

void EventBus::start()
{
    std::lock_guard control(m_controlMutex);
    if (m_thread.joinable())
        return;
    {
        std::lock_guard lock(m_mutex);
        m_running = true;
        m_stopping.store(false, std::memory_order_release);
    }
    m_thread = std::thread([this] { run(); });
}

void EventBus::stop()
{
    std::lock_guard control(m_controlMutex);
    if (!m_thread.joinable())
        return;
    if (onDispatcherThread()) {
        Q_ASSERT_X(false, "EventBus::stop", "called from a handler");
        qWarning("event bus: stop() called from a handler; ignored");
        return;
    }
    {
        std::lock_guard lock(m_mutex);
        m_stopDeadline = std::chrono::steady_clock::now() + kStopDrainLimit;
        m_stopping.store(true, std::memory_order_release);
    }
    m_wake.notify_all();
    m_thread.join();
    m_thread = std::thread();
}

void EventBus::flush()
{
    if (onDispatcherThread())
        return;
    std::unique_lock lock(m_mutex);
    const quint64 target = m_enqueuedSeq;
    m_handled.wait(lock, [&] { return m_handledSeq >= target || !m_running; });
}

void EventBus::run()
{
#if defined(Q_OS_LINUX)
    pthread_setname_np(pthread_self(), "bulwark-events");
#endif
    m_dispatcherId.store(std::this_thread::get_id(), std::memory_order_release);

    std::shared_ptr<const Subscribers> subscribers;
    quint64 generation = std::numeric_limits<quint64>::max();
    std::deque<Event> batch;
    for (;;) {
        {
            std::unique_lock lock(m_mutex);
            m_wake.wait(lock, [this] {
                return !m_queue.empty() || m_stopping.load(std::memory_order_relaxed);
            });
            if (m_queue.empty())
                break; // stopping, and everything was delivered
            batch.swap(m_queue);
        }

        std::size_t done = 0;
        for (; done < batch.size(); ++done) {
            if (m_stopping.load(std::memory_order_acquire) &&
                std::chrono::steady_clock::now() > m_stopDeadline)
                break;
            std::lock_guard dispatching(m_dispatchMutex);
            if (m_generation.load(std::memory_order_acquire) != generation) {
                std::lock_guard lock(m_mutex);
                subscribers = m_subscribers;
                generation = m_generation.load(std::memory_order_relaxed);
            }
            deliver(batch[done], *subscribers);
        }

        const std::size_t batchSize = batch.size();
        const std::size_t abandoned = batchSize - done;
        batch.clear();
        std::size_t droppedAtStop = 0;
        {
            std::lock_guard lock(m_mutex);
            m_handledSeq += batchSize;
            if (abandoned > 0) {
                // The stop deadline passed: give up on this batch and on what is queued.
                droppedAtStop = abandoned + m_queue.size();
                m_handledSeq += m_queue.size();
                m_queue.clear();
                m_dropped.fetch_add(droppedAtStop, std::memory_order_relaxed);
            }
        }
        m_handled.notify_all();
        // Requests other threads posted here (the connection pool asking for an idle
        // connection back) are served between batches.
        QCoreApplication::sendPostedEvents();
        if (droppedAtStop > 0) {
            qWarning("event bus: stopping took longer than %lld ms; %zu event(s) dropped",
                     static_cast<long long>(std::chrono::milliseconds(kStopDrainLimit).count()),
                     droppedAtStop);
            break;
        }
    }

    // Release the handlers (and what they capture) here, not in whichever thread drops
    // the last snapshot later.
    subscribers.reset();
    if (m_finalizer)
        m_finalizer();
    m_dispatcherId.store(std::thread::id(), std::memory_order_release);
    {
        std::lock_guard lock(m_mutex);
        m_running = false;
    }
    m_handled.notify_all();
}

void EventBus::deliver(const Event &event, const Subscribers &subscribers)
{
    for (const auto &handler : subscribers.handlersFor(event.name)) {
        QString failure;
        try {
            (*handler)(event);
            continue;
        } catch (const std::exception &e) {
            failure = QString::fromLocal8Bit(e.what());
        } catch (...) {
            failure = QStringLiteral("unknown exception");
        }
        m_handlerErrors.fetch_add(1, std::memory_order_relaxed);
        ++m_errorsSinceWarning;
        const qint64 now = steadyMs();
        if (now - m_lastErrorWarningMs >= kWarningIntervalMs) {
            qWarning("event bus: a handler of %s threw: %s (%llu handler error(s) since the "
                     "last warning)",
                     qPrintable(event.name), qPrintable(failure),
                     static_cast<unsigned long long>(m_errorsSinceWarning));
            m_lastErrorWarningMs = now;
            m_errorsSinceWarning = 0;
        }
    }
}

} // namespace bulwark
