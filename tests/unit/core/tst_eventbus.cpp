// SPDX-License-Identifier: GPL-3.0-or-later
// EventBus: events reach their handlers in emit order, with the time they were emitted;
// "*" sees every event and interleaves with named handlers by subscription order;
// unsubscribe() stops delivery and waits for a running handler; an emit nobody listens to
// is neither queued nor counted, also when other names have subscribers; events emitted
// before start() wait for it; a full queue drops and counts (the handler is held on a
// semaphore so that the queue fills deterministically); a throwing handler is counted and
// the others still run; handlers may emit, subscribe and unsubscribe; 4 threads x 10 000
// emits are each delivered once and in per-thread order, also while another thread keeps
// subscribing and unsubscribing; flush() waits, and returns at once without a dispatcher
// or inside a handler; stop() delivers what is queued and start() works again after it.
#include "EventBus.h"

#include <QDateTime>
#include <QRegularExpression>
#include <QTest>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <semaphore>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace bulwark;
using namespace std::chrono_literals;

namespace {

const QString kCreated = QStringLiteral("record.created");
const QString kUpdated = QStringLiteral("record.updated");
const QString kFailed = QStringLiteral("job.failed");
const QString kDead = QStringLiteral("job.dead");

QJsonObject numbered(int n)
{
    return QJsonObject{{QStringLiteral("n"), n}};
}

int numberOf(const Event &e)
{
    return e.payload.value(QStringLiteral("n")).toInt(-1);
}

} // namespace

class TestEventBus : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void orderPreserved();
    void wildcardAndNamedInterleave();
    void unsubscribeStopsDelivery();
    void unsubscribeWaitsForRunningHandler();
    void noSubscriberIsNotQueued();
    void emitBeforeStartIsDeliveredAfter();
    void fullQueueDropsAndCounts();
    void throwingHandlerIsIsolated();
    void handlersMayEmitAndSubscribe();
    void concurrentEmitsDeliveredOnce();
    void subscribeWhileEmitting();
    void flushWaitsAndNeverDeadlocks();
    void stopDeliversQueuedAndRestarts();
};

void TestEventBus::orderPreserved()
{
    std::vector<int> seen;
    std::vector<qint64> times;
    QStringList names;
    EventBus bus;
    bus.subscribe(kCreated, [&](const Event &e) {
        names << e.name;
        seen.push_back(numberOf(e));
        times.push_back(e.emittedAtMs);
    });
    bus.start();
    const qint64 before = QDateTime::currentMSecsSinceEpoch();
    for (int i = 0; i < 1000; ++i)
        bus.emitEvent(kCreated, numbered(i));
    const qint64 after = QDateTime::currentMSecsSinceEpoch();
    bus.flush();

    QCOMPARE(int(seen.size()), 1000);
    QCOMPARE(names.count(kCreated), 1000);
    for (int i = 0; i < 1000; ++i)
        QCOMPARE(seen[i], i);
    QVERIFY(times.front() >= before);
    QVERIFY(times.back() <= after);
    QVERIFY(std::is_sorted(times.begin(), times.end()));
    QCOMPARE(bus.emitted(), quint64(1000));
    QCOMPARE(bus.dropped(), quint64(0));
    QCOMPARE(bus.handlerErrors(), quint64(0));
}

void TestEventBus::wildcardAndNamedInterleave()
{
    QStringList log;
    EventBus bus;
    bus.subscribe(QStringLiteral("*"), [&](const Event &e) { log << "star1:" + e.name; });
    bus.subscribe(kFailed, [&](const Event &e) { log << "failed:" + e.name; });
    bus.subscribe(QStringLiteral("*"), [&](const Event &e) { log << "star2:" + e.name; });
    QVERIFY(bus.hasSubscribers(kFailed));
    QVERIFY(bus.hasSubscribers(kCreated)); // through "*"
    bus.start();
    bus.emitEvent(kFailed, {});
    bus.emitEvent(kCreated, {});
    bus.flush();

    const QStringList expected{"star1:job.failed", "failed:job.failed", "star2:job.failed",
                               "star1:record.created", "star2:record.created"};
    QCOMPARE(log, expected);
}

void TestEventBus::unsubscribeStopsDelivery()
{
    int createdCalls = 0;
    int starCalls = 0;
    EventBus bus;
    const quint64 created = bus.subscribe(kCreated, [&](const Event &) { ++createdCalls; });
    const quint64 star = bus.subscribe(QStringLiteral("*"), [&](const Event &) { ++starCalls; });
    QVERIFY(created != 0 && star != 0 && created != star);
    bus.start();
    bus.emitEvent(kCreated, {});
    bus.flush();
    QCOMPARE(createdCalls, 1);
    QCOMPARE(starCalls, 1);

    bus.unsubscribe(created);
    QVERIFY(bus.hasSubscribers(kCreated)); // "*" still there
    bus.emitEvent(kCreated, {});
    bus.flush();
    QCOMPARE(createdCalls, 1);
    QCOMPARE(starCalls, 2);

    bus.unsubscribe(star);
    bus.unsubscribe(star);   // twice: ignored
    bus.unsubscribe(424242); // unknown: ignored
    QVERIFY(!bus.hasSubscribers(kCreated));
    bus.emitEvent(kCreated, {});
    bus.flush();
    QCOMPARE(createdCalls, 1);
    QCOMPARE(starCalls, 2);
    QCOMPARE(bus.emitted(), quint64(2));
}

void TestEventBus::unsubscribeWaitsForRunningHandler()
{
    std::binary_semaphore entered(0);
    std::binary_semaphore release(0);
    std::atomic<int> calls{0};
    EventBus bus;
    const quint64 id = bus.subscribe(kCreated, [&](const Event &) {
        ++calls;
        entered.release();
        release.acquire();
    });
    bus.start();
    bus.emitEvent(kCreated, {});
    entered.acquire(); // the handler is running now

    auto unsubscribed = std::async(std::launch::async, [&] { bus.unsubscribe(id); });
    // Still blocked while the handler runs.
    QCOMPARE(unsubscribed.wait_for(100ms), std::future_status::timeout);
    release.release();
    QCOMPARE(unsubscribed.wait_for(10s), std::future_status::ready);
    unsubscribed.get();

    bus.emitEvent(kCreated, {});
    bus.flush();
    QCOMPARE(calls.load(), 1);
}

void TestEventBus::noSubscriberIsNotQueued()
{
    EventBus bus; // not started: anything queued would stay visible in the counters
    QVERIFY(!bus.hasSubscribers(kCreated));
    for (int i = 0; i < 100; ++i)
        bus.emitEvent(kCreated, numbered(i));
    QCOMPARE(bus.emitted(), quint64(0));
    QCOMPARE(bus.dropped(), quint64(0));

    // Subscribers to other names do not make this one queue.
    int failedCalls = 0;
    bus.subscribe(kFailed, [&](const Event &) { ++failedCalls; });
    QVERIFY(!bus.hasSubscribers(kCreated));
    QVERIFY(!bus.hasSubscribers(kUpdated));
    for (int i = 0; i < 100; ++i) {
        bus.emitEvent(kCreated, numbered(i));
        bus.emitEvent(kUpdated, numbered(i));
    }
    QCOMPARE(bus.emitted(), quint64(0));

    bus.emitEvent(kFailed, {});
    QCOMPARE(bus.emitted(), quint64(1));
    bus.start();
    bus.flush();
    QCOMPARE(failedCalls, 1);
    QCOMPARE(bus.dropped(), quint64(0));
}

void TestEventBus::emitBeforeStartIsDeliveredAfter()
{
    std::vector<int> seen;
    EventBus bus;
    bus.subscribe(kDead, [&](const Event &e) { seen.push_back(numberOf(e)); });
    for (int i = 0; i < 5; ++i)
        bus.emitEvent(kDead, numbered(i));
    bus.flush(); // no dispatcher: returns at once
    QCOMPARE(bus.emitted(), quint64(5));
    bus.start();
    bus.flush();
    QCOMPARE(seen, (std::vector<int>{0, 1, 2, 3, 4}));
}

void TestEventBus::fullQueueDropsAndCounts()
{
    std::binary_semaphore entered(0);
    std::binary_semaphore release(0);
    std::vector<int> seen;
    EventBus bus(10);
    bus.subscribe(kCreated, [&](const Event &e) {
        if (seen.empty()) {
            entered.release();
            release.acquire();
        }
        seen.push_back(numberOf(e));
    });
    bus.start();
    bus.emitEvent(kCreated, numbered(0));
    entered.acquire(); // the dispatcher holds event 0; the queue is empty again

    for (int i = 1; i <= 10; ++i)
        bus.emitEvent(kCreated, numbered(i)); // fills the queue
    QCOMPARE(bus.emitted(), quint64(11));
    QCOMPARE(bus.dropped(), quint64(0));

    // Only the first drop within the second is reported.
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression("event bus: queue full \\(10 events\\); "
                                                          "dropped 1 event\\(s\\).*record\\."
                                                          "created"));
    for (int i = 11; i <= 15; ++i)
        bus.emitEvent(kCreated, numbered(i));
    QCOMPARE(bus.emitted(), quint64(11));
    QCOMPARE(bus.dropped(), quint64(5));

    release.release();
    bus.flush();
    std::vector<int> expected;
    for (int i = 0; i <= 10; ++i)
        expected.push_back(i);
    QCOMPARE(seen, expected);

    // Room again once the dispatcher caught up.
    bus.emitEvent(kCreated, numbered(99));
    bus.flush();
    QCOMPARE(seen.back(), 99);
    QCOMPARE(bus.dropped(), quint64(5));
}

void TestEventBus::throwingHandlerIsIsolated()
{
    int before = 0;
    int after = 0;
    EventBus bus;
    bus.subscribe(kFailed, [&](const Event &) { ++before; });
    bus.subscribe(kFailed, [](const Event &) { throw std::runtime_error("handler broke"); });
    bus.subscribe(QStringLiteral("*"), [](const Event &) { throw 42; });
    bus.subscribe(kFailed, [&](const Event &) { ++after; });
    bus.start();
    for (int i = 0; i < 3; ++i)
        bus.emitEvent(kFailed, numbered(i));
    bus.flush();
    QCOMPARE(before, 3);
    QCOMPARE(after, 3);
    QCOMPARE(bus.handlerErrors(), quint64(6));

    // The dispatcher is still alive.
    bus.emitEvent(kFailed, {});
    bus.flush();
    QCOMPARE(after, 4);
}

void TestEventBus::handlersMayEmitAndSubscribe()
{
    QStringList log;
    EventBus bus;
    quint64 self = 0;
    bus.subscribe(kCreated, [&](const Event &e) {
        log << "created:" + QString::number(numberOf(e));
        bus.emitEvent(kUpdated, numbered(numberOf(e)));
        bus.flush(); // inside a handler: returns at once
    });
    self = bus.subscribe(kUpdated, [&](const Event &e) {
        log << "updated:" + QString::number(numberOf(e));
        if (numberOf(e) == 1) {
            bus.unsubscribe(self); // from inside: does not wait for itself
            bus.subscribe(kDead, [&](const Event &) { log << QStringLiteral("dead"); });
        }
    });
    bus.start();
    bus.emitEvent(kCreated, numbered(1));
    bus.flush();
    bus.flush(); // the event the handler emitted
    bus.emitEvent(kCreated, numbered(2));
    bus.emitEvent(kDead, {});
    bus.flush();
    bus.flush();
    const QStringList expected{"created:1", "updated:1", "created:2", "dead"};
    QCOMPARE(log, expected);
}

void TestEventBus::concurrentEmitsDeliveredOnce()
{
    constexpr int kThreads = 4;
    constexpr int kPerThread = 10'000;
    std::vector<int> count(kThreads * kPerThread, 0);
    std::vector<int> lastOfThread(kThreads, -1);
    bool ordered = true;
    EventBus bus(kThreads * kPerThread); // room for all: this test is about delivery
    bus.subscribe(kCreated, [&](const Event &e) {
        const int t = e.payload.value(QStringLiteral("t")).toInt();
        const int i = e.payload.value(QStringLiteral("i")).toInt();
        ++count[t * kPerThread + i];
        if (i <= lastOfThread[t])
            ordered = false;
        lastOfThread[t] = i;
    });
    bus.start();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&bus, t] {
            for (int i = 0; i < kPerThread; ++i)
                bus.emitEvent(kCreated,
                              QJsonObject{{QStringLiteral("t"), t}, {QStringLiteral("i"), i}});
        });
    }
    for (std::thread &thread : threads)
        thread.join();
    bus.flush();

    QVERIFY(ordered);
    for (int k = 0; k < kThreads * kPerThread; ++k)
        QCOMPARE(count[k], 1);
    QCOMPARE(bus.emitted(), quint64(kThreads * kPerThread));
    QCOMPARE(bus.dropped(), quint64(0));
}

void TestEventBus::subscribeWhileEmitting()
{
    constexpr int kEmits = 20'000;
    std::atomic<int> steady{0};
    std::atomic<int> churned{0};
    std::atomic<bool> done{false};
    EventBus bus(kEmits);
    bus.subscribe(kUpdated, [&](const Event &) { steady.fetch_add(1); });
    bus.start();

    std::thread churn([&] {
        while (!done.load()) {
            const quint64 a =
                bus.subscribe(QStringLiteral("*"), [&](const Event &) { churned.fetch_add(1); });
            const quint64 b = bus.subscribe(kUpdated, [&](const Event &) { churned.fetch_add(1); });
            bus.unsubscribe(a);
            bus.unsubscribe(b);
        }
    });
    std::thread emitter([&] {
        for (int i = 0; i < kEmits; ++i)
            bus.emitEvent(kUpdated, {});
    });
    emitter.join();
    done.store(true);
    churn.join();
    bus.flush();

    QCOMPARE(steady.load(), kEmits);
    QCOMPARE(bus.emitted(), quint64(kEmits));
    // Nothing left subscribed by the churn thread: later events reach only the steady one.
    const int churnedBefore = churned.load();
    bus.emitEvent(kUpdated, {});
    bus.flush();
    QCOMPARE(churned.load(), churnedBefore);
    QCOMPARE(steady.load(), kEmits + 1);
}

void TestEventBus::flushWaitsAndNeverDeadlocks()
{
    std::atomic<int> handled{0};
    EventBus bus;
    bus.flush(); // nothing emitted, no dispatcher
    bus.subscribe(kCreated, [&](const Event &) {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
        handled.fetch_add(1);
    });
    bus.start();
    bus.flush(); // nothing emitted
    for (int i = 0; i < 500; ++i)
        bus.emitEvent(kCreated, {});
    bus.flush();
    QCOMPARE(handled.load(), 500);
    bus.stop();
    bus.flush(); // stopped: returns at once
}

void TestEventBus::stopDeliversQueuedAndRestarts()
{
    std::atomic<int> handled{0};
    EventBus bus;
    bus.subscribe(kCreated, [&](const Event &) { handled.fetch_add(1); });
    bus.start();
    for (int i = 0; i < 300; ++i)
        bus.emitEvent(kCreated, {});
    bus.stop(); // no flush: stop delivers what is queued
    QCOMPARE(handled.load(), 300);
    bus.stop(); // twice: no-op

    bus.emitEvent(kCreated, {}); // queued while stopped
    QCOMPARE(handled.load(), 300);
    bus.start();
    bus.start(); // twice: no-op
    bus.flush();
    QCOMPARE(handled.load(), 301);
    QCOMPARE(bus.dropped(), quint64(0));
}

QTEST_GUILESS_MAIN(TestEventBus)
#include "tst_eventbus.moc"
