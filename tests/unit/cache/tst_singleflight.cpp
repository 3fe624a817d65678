// SPDX-License-Identifier: GPL-3.0-or-later
// SingleFlight: 1000 callers started together on one key run the loader once and share its
// value; different keys do not wait for each other; a result marked not shareable, a
// waiter's maxWait running out and an exception in the leader's loader each make the
// waiters compute their own value.

#include "SingleFlight.h"

#include <QTest>
#include <atomic>
#include <chrono>
#include <latch>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace bulwark;
using namespace std::chrono_literals;
using SteadyTime = std::chrono::steady_clock;

namespace {

// Waits (bounded) until counter reaches at least n.
bool waitFor(const std::atomic<int> &counter, int n, std::chrono::milliseconds timeout = 10s)
{
    const auto deadline = SteadyTime::now() + timeout;
    while (counter.load() < n) {
        if (SteadyTime::now() > deadline)
            return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

} // namespace

class TestSingleFlight : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void thousandCallersOneLoad()
    {
        constexpr int kCallers = 1000;
        SingleFlight<int> flight;
        std::atomic<int> loads{0};
        std::atomic<int> arrived{0};
        std::latch start(kCallers);
        std::vector<SingleFlight<int>::Outcome> outcomes(kCallers);
        std::vector<std::thread> threads;
        threads.reserve(kCallers);
        for (int i = 0; i < kCallers; ++i) {
            threads.emplace_back([&, i] {
                start.arrive_and_wait();
                arrived.fetch_add(1);
                outcomes[size_t(i)] = flight.run("report:42", [&] {
                    loads.fetch_add(1);
                    std::this_thread::sleep_for(200ms);
                    return std::pair<int, bool>(4242, true);
                });
            });
        }
        for (auto &t : threads)
            t.join();

        QCOMPARE(arrived.load(), kCallers);
        QCOMPARE(loads.load(), 1);
        int shared = 0;
        for (const auto &o : outcomes) {
            QCOMPARE(o.value, 4242);
            shared += o.shared;
        }
        QCOMPARE(shared, kCallers - 1);
        QCOMPARE(flight.sharedCount(), quint64(kCallers - 1));
        QCOMPARE(flight.inFlight(), 0); // forgotten once done: not a cache
    }

    void differentKeysRunIndependently()
    {
        SingleFlight<QByteArray> flight;
        std::atomic<int> started{0};
        std::atomic<bool> sawOtherRunning[2] = {false, false};
        std::vector<std::thread> threads;
        QByteArray results[2];
        for (int i = 0; i < 2; ++i) {
            threads.emplace_back([&, i] {
                const QByteArray key = i == 0 ? "a" : "b";
                results[i] = flight
                                 .run(key,
                                      [&, i, key] {
                                          started.fetch_add(1);
                                          // Both loaders must be running at the same time;
                                          // if one key waited for the other this times out.
                                          sawOtherRunning[i] = waitFor(started, 2, 2s);
                                          return std::pair<QByteArray, bool>(key + "!", true);
                                      })
                                 .value;
            });
        }
        for (auto &t : threads)
            t.join();
        QVERIFY(sawOtherRunning[0]);
        QVERIFY(sawOtherRunning[1]);
        QCOMPARE(results[0], QByteArray("a!"));
        QCOMPARE(results[1], QByteArray("b!"));
        QCOMPARE(flight.sharedCount(), quint64(0));

        // A later call on a finished key runs its loader again.
        int again = 0;
        const auto outcome = flight.run("a", [&] {
            ++again;
            return std::pair<QByteArray, bool>("a2", true);
        });
        QCOMPARE(again, 1);
        QCOMPARE(outcome.value, QByteArray("a2"));
        QVERIFY(!outcome.shared);
    }

    void notShareableResultMakesWaitersComputeTheirOwn()
    {
        constexpr int kWaiters = 8;
        SingleFlight<int> flight;
        std::atomic<int> leaderStarted{0};
        std::atomic<int> waitersArrived{0};
        std::atomic<int> waiterLoads{0};
        SingleFlight<int>::Outcome leaderOutcome;
        std::thread leader([&] {
            leaderOutcome = flight.run("k", [&] {
                leaderStarted.store(1);
                waitFor(waitersArrived, kWaiters);
                std::this_thread::sleep_for(100ms);     // the waiters are inside run() by now
                return std::pair<int, bool>(-1, false); // e.g. a per-user answer
            });
        });
        QVERIFY(waitFor(leaderStarted, 1));
        QCOMPARE(flight.inFlight(), 1);
        std::vector<SingleFlight<int>::Outcome> outcomes(kWaiters);
        std::vector<std::thread> waiters;
        for (int i = 0; i < kWaiters; ++i) {
            waiters.emplace_back([&, i] {
                waitersArrived.fetch_add(1);
                outcomes[size_t(i)] = flight.run("k", [&, i] {
                    waiterLoads.fetch_add(1);
                    return std::pair<int, bool>(i, false);
                });
            });
        }
        leader.join();
        for (auto &t : waiters)
            t.join();
        QCOMPARE(leaderOutcome.value, -1);
        QVERIFY(!leaderOutcome.shared);
        QCOMPARE(waiterLoads.load(), kWaiters);
        for (int i = 0; i < kWaiters; ++i) {
            QCOMPARE(outcomes[size_t(i)].value, i);
            QVERIFY(!outcomes[size_t(i)].shared);
        }
        QCOMPARE(flight.sharedCount(), quint64(0));
    }

    void waiterGivesUpAfterMaxWait()
    {
        SingleFlight<int> flight;
        std::atomic<int> leaderStarted{0};
        std::atomic<int> release{0};
        SingleFlight<int>::Outcome leaderOutcome;
        std::thread leader([&] {
            leaderOutcome = flight.run("slow", [&] {
                leaderStarted.store(1);
                waitFor(release, 1); // stuck until the test lets it go
                return std::pair<int, bool>(1, true);
            });
        });
        QVERIFY(waitFor(leaderStarted, 1));

        const auto begin = SteadyTime::now();
        int ownLoads = 0;
        const auto outcome = flight.run(
            "slow",
            [&] {
                ++ownLoads;
                return std::pair<int, bool>(2, true);
            },
            100ms);
        const auto waited = SteadyTime::now() - begin;
        const bool leaderStillRunning = release.load() == 0 && flight.inFlight() == 1;
        release.store(1);
        leader.join();

        QVERIFY(leaderStillRunning); // the waiter did not wait for the leader to finish
        QCOMPARE(ownLoads, 1);
        QCOMPARE(outcome.value, 2);
        QVERIFY(!outcome.shared);
        QVERIFY(waited >= 100ms);
        QVERIFY(waited < 5s);
        QCOMPARE(leaderOutcome.value, 1);
        QCOMPARE(flight.sharedCount(), quint64(0));
    }

    void leaderExceptionPropagatesAndWaitersComputeTheirOwn()
    {
        constexpr int kWaiters = 5;
        SingleFlight<int> flight;
        std::atomic<int> leaderStarted{0};
        std::atomic<int> waitersArrived{0};
        std::atomic<int> waiterLoads{0};
        std::atomic<bool> leaderCaught{false};
        std::thread leader([&] {
            try {
                flight.run("boom", [&]() -> std::pair<int, bool> {
                    leaderStarted.store(1);
                    waitFor(waitersArrived, kWaiters);
                    std::this_thread::sleep_for(100ms);
                    throw std::runtime_error("database gone");
                });
            } catch (const std::runtime_error &e) {
                leaderCaught = QByteArray(e.what()) == "database gone";
            }
        });
        QVERIFY(waitFor(leaderStarted, 1));
        std::vector<SingleFlight<int>::Outcome> outcomes(kWaiters);
        std::vector<std::thread> waiters;
        for (int i = 0; i < kWaiters; ++i) {
            waiters.emplace_back([&, i] {
                waitersArrived.fetch_add(1);
                outcomes[size_t(i)] = flight.run("boom", [&, i] {
                    waiterLoads.fetch_add(1);
                    return std::pair<int, bool>(100 + i, true);
                });
            });
        }
        leader.join();
        for (auto &t : waiters)
            t.join();
        QVERIFY(leaderCaught);
        QCOMPARE(waiterLoads.load(), kWaiters);
        for (int i = 0; i < kWaiters; ++i) {
            QCOMPARE(outcomes[size_t(i)].value, 100 + i);
            QVERIFY(!outcomes[size_t(i)].shared);
        }
        QCOMPARE(flight.inFlight(), 0);
    }
};

QTEST_GUILESS_MAIN(TestSingleFlight)
#include "tst_singleflight.moc"
