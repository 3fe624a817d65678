// SPDX-License-Identifier: GPL-3.0-or-later
// RetryPolicy: the delay window for each retry (exact minimum and maximum) as the
// exponential grows and meets the cap, with no, equal, full and partial jitter, integer
// and fractional multipliers, and the normalisation of out-of-range values; attempt
// numbers up to INT_MAX, where the cap must win without overflow. Then delayBefore() with
// chosen random values (0 is the minimum, the window's width the maximum, the value wraps
// modulo width + 1), every value of a window reached exactly once, exhaustion, and the
// defaults.
#include "RetryPolicy.h"

#include <QTest>
#include <limits>

using namespace bulwark;
using namespace std::chrono_literals;

Q_DECLARE_METATYPE(RetryPolicy)

namespace {

constexpr int kMaxInt = std::numeric_limits<int>::max();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

RetryPolicy policy(qint64 baseMs, double multiplier, qint64 capMs, double jitter,
                   int maxAttempts = 5)
{
    return RetryPolicy::make(std::chrono::milliseconds(baseMs), multiplier,
                             std::chrono::milliseconds(capMs), maxAttempts, jitter);
}

} // namespace

class TestRetryPolicy : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void window_data()
    {
        QTest::addColumn<RetryPolicy>("policy");
        QTest::addColumn<int>("attempt");
        QTest::addColumn<qint64>("min");
        QTest::addColumn<qint64>("max");

        const auto row = [](const QByteArray &name, const RetryPolicy &p, int attempt, qint64 min,
                            qint64 max) {
            QTest::newRow(name.constData()) << p << attempt << min << max;
        };

        // Equal jitter, 1 s doubling to a 60 s cap: the schedule attempt by attempt.
        const RetryPolicy equal = policy(1000, 2, 60'000, 0.5);
        const qint64 schedule[][2] = {{500, 1000},    {1000, 2000},  {2000, 4000},
                                      {4000, 8000},   {8000, 16000}, {16000, 32000},
                                      {30000, 60000}, {30000, 60000}};
        for (int i = 0; i < 8; ++i)
            row("equal jitter, retry " + QByteArray::number(i + 1), equal, i + 1, schedule[i][0],
                schedule[i][1]);
        row("equal jitter, retry 64", equal, 64, 30'000, 60'000);
        row("equal jitter, retry 1100 (2^1099 is beyond double)", equal, 1100, 30'000, 60'000);
        row("equal jitter, retry INT_MAX", equal, kMaxInt, 30'000, 60'000);
        row("equal jitter, odd delay", policy(1001, 2, 60'000, 0.5), 1, 500, 1001);

        row("no jitter, retry 3", policy(1000, 2, 60'000, 0), 3, 4000, 4000);
        row("full jitter, retry 3", policy(1000, 2, 60'000, 1), 3, 0, 4000);
        row("full jitter, capped", policy(1000, 2, 60'000, 1), 40, 0, 60'000);
        row("quarter jitter, retry 2", policy(1000, 2, 60'000, 0.25), 2, 1500, 2000);

        // Multipliers: fractional ones round to the nearest millisecond.
        row("x1.5, retry 1", policy(100, 1.5, 60'000, 0), 1, 100, 100);
        row("x1.5, retry 2", policy(100, 1.5, 60'000, 0), 2, 150, 150);
        row("x1.5, retry 3", policy(100, 1.5, 60'000, 0), 3, 225, 225);
        row("x1.5, retry 4 (337.5)", policy(100, 1.5, 60'000, 0), 4, 338, 338);
        row("x3, retry 4", policy(10, 3, 60'000, 0), 4, 270, 270);
        row("x1 is constant", policy(700, 1, 60'000, 0), 50, 700, 700);
        row("x1 at INT_MAX", policy(700, 1, 60'000, 0), kMaxInt, 700, 700);

        // The cap: exactly reached, and just below.
        row("reaches the cap exactly", policy(1000, 2, 8000, 0), 4, 8000, 8000);
        row("just below the cap", policy(1000, 2, 8001, 0), 4, 8000, 8000);
        row("just above the cap", policy(1000, 2, 7999, 0), 4, 7999, 7999);
        row("cap below the base", policy(5000, 2, 1000, 0.5), 1, 500, 1000);

        // Normalised values.
        row("attempt 0 counts as 1", equal, 0, 500, 1000);
        row("negative attempt counts as 1", equal, -7, 500, 1000);
        row("attempt INT_MIN counts as 1", equal, std::numeric_limits<int>::min(), 500, 1000);
        row("base 0", policy(0, 2, 60'000, 0.5), kMaxInt, 0, 0);
        row("negative base", policy(-10, 2, 60'000, 0.5), 3, 0, 0);
        row("negative cap", policy(1000, 2, -1, 0.5), 3, 0, 0);
        row("multiplier below 1 counts as 1", policy(1000, 0.5, 60'000, 0), 5, 1000, 1000);
        row("negative multiplier counts as 1", policy(1000, -2, 60'000, 0), 5, 1000, 1000);
        row("NaN multiplier counts as 1", policy(1000, kNaN, 60'000, 0), 5, 1000, 1000);
        row("infinite multiplier, retry 1", policy(1000, kInf, 60'000, 0), 1, 1000, 1000);
        row("infinite multiplier, retry 2", policy(1000, kInf, 60'000, 0), 2, 60'000, 60'000);
        row("jitter above 1 counts as 1", policy(1000, 2, 60'000, 3), 2, 0, 2000);
        row("negative jitter counts as 0", policy(1000, 2, 60'000, -1), 2, 2000, 2000);
        row("NaN jitter counts as 0", policy(1000, 2, 60'000, kNaN), 2, 2000, 2000);
        // The largest cap is 2^53 ms, where doubles still hold whole milliseconds.
        const qint64 max = std::chrono::milliseconds::max().count();
        row("unbounded cap, 2^52", policy(1, 2, max, 0), 53, qint64(1) << 52, qint64(1) << 52);
        row("unbounded cap, 2^53", policy(1, 2, max, 0), 54, qint64(1) << 53, qint64(1) << 53);
        row("unbounded cap, INT_MAX", policy(1, 2, max, 0.5), kMaxInt, qint64(1) << 52,
            qint64(1) << 53);
        row("base beyond 2^53", policy(max, 2, max, 0), 1, qint64(1) << 53, qint64(1) << 53);
    }

    void window()
    {
        QFETCH(RetryPolicy, policy);
        QFETCH(int, attempt);
        QFETCH(qint64, min);
        QFETCH(qint64, max);
        const RetryPolicy::Window w = policy.window(attempt);
        QCOMPARE(w.min.count(), min);
        QCOMPARE(w.max.count(), max);
        // The ends of the window are what delayBefore() gives for 0 and for the width.
        QCOMPARE(policy.delayBefore(attempt, 0).count(), min);
        QCOMPARE(policy.delayBefore(attempt, quint64(max - min)).count(), max);
    }

    void delayBefore_data()
    {
        QTest::addColumn<RetryPolicy>("policy");
        QTest::addColumn<int>("attempt");
        QTest::addColumn<quint64>("randomValue");
        QTest::addColumn<qint64>("delay");

        const auto row = [](const char *name, const RetryPolicy &p, int attempt, quint64 random,
                            qint64 delay) {
            QTest::newRow(name) << p << attempt << random << delay;
        };
        const RetryPolicy equal = policy(1000, 2, 60'000, 0.5);
        const quint64 all = std::numeric_limits<quint64>::max();
        row("retry 1, random 0", equal, 1, 0, 500);
        row("retry 1, random 1", equal, 1, 1, 501);
        row("retry 1, random 250", equal, 1, 250, 750);
        row("retry 1, random 500 (the width)", equal, 1, 500, 1000);
        row("retry 1, random 501 wraps", equal, 1, 501, 500);
        row("retry 1, random 2^64-1", equal, 1, all, 500 + 48);   // (2^64 - 1) % 501 = 48
        row("retry 2, random 2^64-1", equal, 2, all, 1000 + 15);  // % 1001 = 15
        row("retry 3, random 2^64-1", equal, 3, all, 2000 + 603); // % 2001 = 603
        row("capped, random 12345", equal, 30, 12345, 30000 + 12345);
        row("full jitter, random 0", policy(1000, 2, 60'000, 1), 3, 0, 0);
        row("full jitter, random 4000", policy(1000, 2, 60'000, 1), 3, 4000, 4000);
        row("no jitter ignores the random value", policy(1000, 2, 60'000, 0), 3, all, 4000);
        row("huge attempt, random 2^64-1", equal, kMaxInt, all, 30000 + 17078); // % 30001
    }

    void delayBefore()
    {
        QFETCH(RetryPolicy, policy);
        QFETCH(int, attempt);
        QFETCH(quint64, randomValue);
        QFETCH(qint64, delay);
        QCOMPARE(policy.delayBefore(attempt, randomValue).count(), delay);
    }

    // Random values 0 .. width give every delay of the window once, in order.
    void delayBeforeCoversTheWindow()
    {
        const RetryPolicy p = policy(1000, 2, 60'000, 0.5);
        for (int attempt = 1; attempt <= 3; ++attempt) {
            const RetryPolicy::Window w = p.window(attempt);
            const qint64 width = (w.max - w.min).count();
            for (qint64 r = 0; r <= width; ++r)
                QCOMPARE(p.delayBefore(attempt, quint64(r)), w.min + std::chrono::milliseconds(r));
        }
    }

    void exhausted_data()
    {
        QTest::addColumn<int>("maxAttempts");
        QTest::addColumn<int>("attemptsMade");
        QTest::addColumn<bool>("exhausted");

        const auto row = [](const char *name, int maxAttempts, int made, bool exhausted) {
            QTest::newRow(name) << maxAttempts << made << exhausted;
        };
        row("5: none made", 5, 0, false);
        row("5: 1 made", 5, 1, false);
        row("5: 4 made", 5, 4, false);
        row("5: 5 made", 5, 5, true);
        row("5: 6 made", 5, 6, true);
        row("5: INT_MAX made", 5, kMaxInt, true);
        row("1: none made", 1, 0, false);
        row("1: 1 made, never retried", 1, 1, true);
        row("0 counts as 1", 0, 1, true);
        row("0 counts as 1, none made", 0, 0, false);
        row("negative counts as 1", -3, 1, true);
        row("INT_MAX: INT_MAX - 1 made", kMaxInt, kMaxInt - 1, false);
        row("INT_MAX: INT_MAX made", kMaxInt, kMaxInt, true);
    }

    void exhausted()
    {
        QFETCH(int, maxAttempts);
        QFETCH(int, attemptsMade);
        QFETCH(bool, exhausted);
        const RetryPolicy p = policy(1000, 2, 60'000, 0.5, maxAttempts);
        QCOMPARE(p.exhausted(attemptsMade), exhausted);
    }

    // The defaults: 1 s doubling, capped at 5 minutes, equal jitter, 5 attempts in all.
    void defaults()
    {
        const RetryPolicy p;
        QCOMPARE(p.window(1).min, 500ms);
        QCOMPARE(p.window(1).max, 1000ms);
        QCOMPARE(p.window(4).min, 4000ms);
        QCOMPARE(p.window(4).max, 8000ms);
        QCOMPARE(p.window(20).min, 150'000ms);
        QCOMPARE(p.window(20).max, 300'000ms);
        QVERIFY(!p.exhausted(4));
        QVERIFY(p.exhausted(5));
    }
};

QTEST_GUILESS_MAIN(TestRetryPolicy)
#include "tst_retrypolicy.moc"
