// SPDX-License-Identifier: GPL-3.0-or-later
// MemoryRateStore with a manual clock: keys are independent, one key's decisions are
// exact under concurrent threads, the key bound holds (idle keys go first, then new keys are
// decided untracked), a changed rule starts its keys afresh, and sweep() drops idle keys.
#include "ManualClock.h"
#include "MemoryRateStore.h"

#include <QtTest>
#include <atomic>
#include <thread>

using namespace bulwark;
using namespace bulwark::test;
using namespace std::chrono_literals;

namespace {

MemoryRateStore::AlgorithmPtr fixedWindow(qint64 limit, std::chrono::milliseconds window)
{
    LimitSpec spec;
    spec.algorithm = RateAlgorithm::FixedWindow;
    spec.limit = limit;
    spec.window = window;
    return RateLimitAlgorithm::create(spec);
}

} // namespace

class TestMemoryRateStore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void keysAreIndependent()
    {
        ManualClock clock;
        MemoryRateStore store({}, clock);
        const auto rule = fixedWindow(2, 1000ms);
        QVERIFY(store.decide(rule, "a").allowed);
        QVERIFY(store.decide(rule, "a").allowed);
        QVERIFY(!store.decide(rule, "a").allowed);
        QVERIFY(store.decide(rule, "b").allowed);
        QCOMPARE(store.size(), 2);
    }

    void oneKeyIsExactUnderConcurrency()
    {
        ManualClock clock; // time stands still: one window
        MemoryRateStore store({}, clock);
        const auto rule = fixedWindow(100, std::chrono::hours(1));
        std::atomic<int> allowed{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 8; ++t)
            threads.emplace_back([&] {
                for (int i = 0; i < 1000; ++i)
                    if (store.decide(rule, "shared").allowed)
                        ++allowed;
            });
        for (auto &t : threads)
            t.join();
        QCOMPARE(allowed.load(), 100);
    }

    void boundDropsIdleKeysFirst()
    {
        ManualClock clock;
        MemoryRateStore store({1, 10}, clock);
        const auto rule = fixedWindow(5, 1000ms);
        for (int i = 0; i < 10; ++i)
            store.decide(rule, QByteArray::number(i));
        QCOMPARE(store.size(), 10);
        clock.advance(2000ms); // every key's window is over: all idle
        store.decide(rule, "new");
        QCOMPARE(store.size(), 1);
        QCOMPARE(store.untracked(), 0u);
    }

    void boundKeepsLiveKeysAndLeavesNewOnesUntracked()
    {
        ManualClock clock;
        MemoryRateStore store({1, 10}, clock);
        const auto rule = fixedWindow(5, std::chrono::hours(1));
        for (int i = 0; i < 25; ++i)
            store.decide(rule, QByteArray::number(i));
        QCOMPARE(store.size(), 10);
        QCOMPARE(store.untracked(), 15u);
        // A key held keeps its count: four more pass, the fifth after the first is refused.
        for (int i = 0; i < 4; ++i)
            QVERIFY(store.decide(rule, "0").allowed);
        QVERIFY(!store.decide(rule, "0").allowed);
        // A new key finds the store full: decided on a fresh state each time, never kept.
        for (int i = 0; i < 10; ++i) {
            const RateDecision d = store.decide(rule, "newcomer");
            QVERIFY(d.allowed);
            QCOMPARE(d.remaining, 4);
        }
        QCOMPARE(store.size(), 10);
        QCOMPARE(store.untracked(), 25u);
    }

    void changedRuleStartsAfresh()
    {
        ManualClock clock;
        MemoryRateStore store({}, clock);
        const auto strict = fixedWindow(1, std::chrono::hours(1));
        QVERIFY(store.decide(strict, "k").allowed);
        QVERIFY(!store.decide(strict, "k").allowed);
        const auto relaxed = fixedWindow(3, std::chrono::hours(1));
        const RateDecision d = store.decide(relaxed, "k");
        QVERIFY(d.allowed);
        QCOMPARE(d.limit, 3);
        QCOMPARE(d.remaining, 2);
    }

    void sweepDropsIdleKeys()
    {
        ManualClock clock;
        MemoryRateStore store({}, clock);
        const auto shortRule = fixedWindow(5, 1000ms);
        const auto longRule = fixedWindow(5, std::chrono::hours(1));
        store.decide(shortRule, "short");
        store.decide(longRule, "long");
        QCOMPARE(store.sweep(), 0);
        clock.advance(1500ms);
        QCOMPARE(store.sweep(), 1);
        QCOMPARE(store.size(), 1);
    }
};

QTEST_GUILESS_MAIN(TestMemoryRateStore)
#include "tst_memoryratestore.moc"
