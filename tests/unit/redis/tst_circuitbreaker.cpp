// SPDX-License-Identifier: GPL-3.0-or-later
// The circuit breaker as a state machine, on a ManualClock (no sleeping). Each data row is
// a script of events and expectations, read left to right:
//   F / S       recordFailure() / recordSuccess()
//   +N          advance the clock by N ms
//   Y / N       allow() must return true / false
//   =closed =open =half_open   state() must be this
//   b=N         currentBackoff() must be N ms
//   o=N         opens() must be N
// Then the concurrency promises: of many threads calling allow() when the backoff is over,
// exactly one gets the probe; many failures reported at once double the backoff once.
#include "CircuitBreaker.h"
#include "ManualClock.h"

#include <QtTest>
#include <atomic>
#include <thread>
#include <vector>

using namespace bulwark;
using bulwark::test::ManualClock;
using namespace std::chrono_literals;

class TestCircuitBreaker : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void script_data();
    void script();
    void stateNames();
    void exactlyOneProbeAmongManyThreads();
    void simultaneousProbeFailuresDoubleOnce();
};

void TestCircuitBreaker::script_data()
{
    QTest::addColumn<int>("threshold");
    QTest::addColumn<int>("backoffMin");
    QTest::addColumn<int>("backoffMax");
    QTest::addColumn<QString>("script");

    QTest::newRow("starts closed") << 5 << 100 << 2000 << "=closed Y Y b=100 o=0";
    QTest::newRow("below threshold stays closed") << 3 << 100 << 2000 << "F F =closed Y Y";
    QTest::newRow("threshold consecutive failures open")
        << 3 << 100 << 2000 << "F F F =open N N o=1 b=100";
    QTest::newRow("success resets the failure count")
        << 3 << 100 << 2000 << "F F S F F =closed Y F =open o=1";
    QTest::newRow("open refuses until the backoff is over")
        << 1 << 100 << 2000 << "F =open N +50 N +49 N +1 Y =half_open";
    QTest::newRow("one probe, however often allow() is asked")
        << 1 << 100 << 2000 << "F +100 Y N N N N =half_open +5000 N N =half_open";
    QTest::newRow("probe success closes and resets the backoff")
        << 1 << 100 << 2000
        << "F +100 Y F =open b=200 +200 Y S =closed b=100 Y Y F =open +99 N +1 Y";
    QTest::newRow("failed probes double the backoff up to the cap")
        << 1 << 100 << 350
        << "F b=100 +100 Y F b=200 +199 N +1 Y F b=350 +349 N +1 Y F b=350 o=4 +350 Y =half_open";
    QTest::newRow("backoff counts from the failed probe")
        << 1 << 100 << 2000 << "F +500 Y +300 F =open +199 N +1 Y";
    QTest::newRow("late failures while open are ignored")
        << 2 << 100 << 2000 << "F F =open o=1 F F F F b=100 o=1 +100 Y =half_open";
    QTest::newRow("any failure while half-open reopens")
        << 1 << 100 << 2000 << "F +100 Y F F F =open o=2 b=200 +199 N +1 Y";
    QTest::newRow("success while open closes")
        << 1 << 100 << 2000 << "F +100 Y F b=200 S =closed b=100 Y";
    QTest::newRow("after closing, opening again starts at backoffMin")
        << 2 << 100 << 800 << "F F +100 Y F b=200 +200 Y S F =closed F =open b=100 +100 Y";
    QTest::newRow("long success streak keeps it closed")
        << 2 << 100 << 800 << "S S S F S F S F S =closed o=0";
    QTest::newRow("nonsense options are clamped")
        << 0 << 50 << 10 << "F =open b=50 +50 Y F b=50 +50 Y S =closed";
}

void TestCircuitBreaker::script()
{
    QFETCH(int, threshold);
    QFETCH(int, backoffMin);
    QFETCH(int, backoffMax);
    QFETCH(QString, script);

    ManualClock clock;
    CircuitBreaker breaker(
        {threshold, std::chrono::milliseconds(backoffMin), std::chrono::milliseconds(backoffMax)},
        clock);
    const QStringList steps = script.split(QLatin1Char(' '), Qt::SkipEmptyParts);
    for (qsizetype i = 0; i < steps.size(); ++i) {
        const QString &step = steps.at(i);
        const QByteArray where =
            QStringLiteral("step %1 (\"%2\") of \"%3\"").arg(i + 1).arg(step, script).toUtf8();
        if (step == QLatin1String("F")) {
            breaker.recordFailure();
        } else if (step == QLatin1String("S")) {
            breaker.recordSuccess();
        } else if (step == QLatin1String("Y")) {
            QVERIFY2(breaker.allow(), where.constData());
        } else if (step == QLatin1String("N")) {
            QVERIFY2(!breaker.allow(), where.constData());
        } else if (step.startsWith(QLatin1Char('+'))) {
            clock.advance(std::chrono::milliseconds(step.mid(1).toInt()));
        } else if (step.startsWith(QLatin1Char('='))) {
            QVERIFY2(
                breakerStateName(breaker.state()) == step.mid(1),
                (where + " state is " + breakerStateName(breaker.state()).toUtf8()).constData());
        } else if (step.startsWith(QLatin1String("b="))) {
            QVERIFY2(breaker.currentBackoff().count() == step.mid(2).toInt(),
                     (where + " backoff is " + QByteArray::number(breaker.currentBackoff().count()))
                         .constData());
        } else if (step.startsWith(QLatin1String("o="))) {
            QVERIFY2(breaker.opens() == step.mid(2).toULongLong(),
                     (where + " opens is " + QByteArray::number(breaker.opens())).constData());
        } else {
            QFAIL(("unknown " + where).constData());
        }
    }
}

void TestCircuitBreaker::stateNames()
{
    QCOMPARE(breakerStateName(CircuitBreaker::State::Closed), QStringLiteral("closed"));
    QCOMPARE(breakerStateName(CircuitBreaker::State::Open), QStringLiteral("open"));
    QCOMPARE(breakerStateName(CircuitBreaker::State::HalfOpen), QStringLiteral("half_open"));
}

// Several rounds: open, let the backoff pass, then 8 threads race through allow(). Exactly
// one call in the whole race may return true; its failure reopens for the next round.
void TestCircuitBreaker::exactlyOneProbeAmongManyThreads()
{
    ManualClock clock;
    CircuitBreaker breaker({1, 10ms, 10000ms}, clock);
    breaker.recordFailure();
    for (int round = 0; round < 20; ++round) {
        QCOMPARE(breaker.state(), CircuitBreaker::State::Open);
        clock.advance(breaker.currentBackoff()); // no thread runs while the clock moves
        std::atomic<int> granted{0};
        std::atomic<bool> go{false};
        std::vector<std::thread> threads;
        for (int t = 0; t < 8; ++t) {
            threads.emplace_back([&] {
                while (!go.load())
                    std::this_thread::yield();
                for (int i = 0; i < 2000; ++i) {
                    if (breaker.allow())
                        granted.fetch_add(1);
                }
            });
        }
        go.store(true);
        for (std::thread &t : threads)
            t.join();
        QCOMPARE(granted.load(), 1);
        QCOMPARE(breaker.state(), CircuitBreaker::State::HalfOpen);
        breaker.recordFailure();
    }
    QCOMPARE(breaker.opens(), quint64(21));
}

// A failed probe reported by many threads at once (the probe and stale callers) reopens the
// breaker once: one doubling, one more opening.
void TestCircuitBreaker::simultaneousProbeFailuresDoubleOnce()
{
    ManualClock clock;
    CircuitBreaker breaker({1, 100ms, 100000ms}, clock);
    breaker.recordFailure();
    clock.advance(100ms);
    QVERIFY(breaker.allow());
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            while (!go.load())
                std::this_thread::yield();
            for (int i = 0; i < 100; ++i)
                breaker.recordFailure();
        });
    }
    go.store(true);
    for (std::thread &t : threads)
        t.join();
    QCOMPARE(breaker.state(), CircuitBreaker::State::Open);
    QCOMPARE(breaker.currentBackoff(), 200ms);
    QCOMPARE(breaker.opens(), quint64(2));
    clock.advance(199ms);
    QVERIFY(!breaker.allow());
    clock.advance(1ms);
    QVERIFY(breaker.allow());
}

QTEST_GUILESS_MAIN(TestCircuitBreaker)
#include "tst_circuitbreaker.moc"
