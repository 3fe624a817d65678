// SPDX-License-Identifier: GPL-3.0-or-later
// The five rate-limit algorithms driven with explicit times from a fixed base (aligned to
// every window used here). Each decide() row is a sequence of requests (offset in ms,
// cost) with the exact decision expected for each: allowed, remaining, retryAfter and
// resetAfter. The rows cover a full burst then denial, the instants 1 ms before and
// exactly at a window edge or refill point, denied requests not consuming, partial
// refills, the 2L-in-2ms burst that a fixed window lets through and a sliding log does
// not, the sliding counter's weighting, costs above one and above the limit. Then idle(),
// the names, and randomised checks: the token bucket decides exactly like GCRA, the
// sliding log like a brute-force model, and a state idle() calls forgettable decides like
// a fresh one.
#include "RateLimitAlgorithm.h"

#include <QTest>
#include <deque>
#include <random>

using namespace bulwark;
using namespace std::chrono_literals;

namespace {

const RateTime kBase{std::chrono::hours(1)};
constexpr qint64 kAny = -1; // resetAfter not checked

struct Step
{
    qint64 atMs = 0;
    qint64 cost = 1;
    bool allowed = true;
    qint64 remaining = 0;
    qint64 retryMs = 0;
    qint64 resetMs = kAny;
};
using Steps = QList<Step>;

Step ok(qint64 atMs, qint64 remaining, qint64 resetMs, qint64 cost = 1)
{
    return {atMs, cost, true, remaining, 0, resetMs};
}

Step no(qint64 atMs, qint64 remaining, qint64 retryMs, qint64 resetMs, qint64 cost = 1)
{
    return {atMs, cost, false, remaining, retryMs, resetMs};
}

// n allowed cost-1 requests at one instant: remaining counts down from `remaining`,
// resetAfter goes up by `resetStepMs` from `resetMs` (a bucket refills one per T).
Steps burst(qint64 atMs, int n, qint64 remaining, qint64 resetMs, qint64 resetStepMs = 0)
{
    Steps steps;
    for (int i = 0; i < n; ++i)
        steps << ok(atMs, remaining - i, resetMs + i * resetStepMs);
    return steps;
}

LimitSpec spec(RateAlgorithm algorithm, qint64 limit, qint64 windowMs, qint64 burst = 0)
{
    return LimitSpec::make(algorithm, limit, std::chrono::milliseconds(windowMs), burst);
}

QString describe(int i, const Step &s, bool allowed, qint64 remaining, qint64 retryMs,
                 qint64 resetMs)
{
    return QStringLiteral("#%1 at +%2 ms cost %3: %4 remaining %5 retry %6 ms reset %7")
        .arg(i)
        .arg(s.atMs)
        .arg(s.cost)
        .arg(allowed ? QStringLiteral("allowed") : QStringLiteral("denied"))
        .arg(remaining)
        .arg(retryMs)
        .arg(s.resetMs == kAny ? QStringLiteral("(any)") : QString::number(resetMs));
}

bool sameDecision(const RateDecision &a, const RateDecision &b)
{
    return a.allowed == b.allowed && a.limit == b.limit && a.remaining == b.remaining &&
           a.resetAfter == b.resetAfter && a.retryAfter == b.retryAfter;
}

QByteArray show(const RateDecision &d)
{
    return QStringLiteral("allowed %1 limit %2 remaining %3 retry %4 reset %5")
        .arg(d.allowed)
        .arg(d.limit)
        .arg(d.remaining)
        .arg(d.retryAfter.count())
        .arg(d.resetAfter.count())
        .toUtf8();
}

const RateAlgorithm kAll[] = {RateAlgorithm::TokenBucket, RateAlgorithm::SlidingLog,
                              RateAlgorithm::SlidingCounter, RateAlgorithm::FixedWindow,
                              RateAlgorithm::Gcra};

} // namespace

Q_DECLARE_METATYPE(LimitSpec)
Q_DECLARE_METATYPE(Steps)
Q_DECLARE_METATYPE(RateAlgorithm)

class TestRateLimitAlgorithms : public QObject
{
    Q_OBJECT

private:
    static void row(const QByteArray &name, const LimitSpec &s, qint64 limit, const Steps &steps)
    {
        QTest::newRow(name.constData()) << s << limit << steps;
    }

    // TokenBucket and GCRA have the same capacity and refill, so the same expectations.
    static void bucketRows(RateAlgorithm a, const char *prefix)
    {
        const auto name = [prefix](const char *what) { return QByteArray(prefix) + ": " + what; };
        const LimitSpec s = spec(a, 10, 1000); // T = 100 ms, capacity 10
        const Steps full = burst(0, 10, 9, 100, 100);

        row(name("full burst then denial"), s, 10, full + Steps{no(0, 0, 100, 1000)});
        row(name("refill point"), s, 10,
            full + Steps{no(99, 0, 1, 901), ok(100, 0, 1000), no(100, 0, 100, 1000),
                         no(199, 0, 1, 901), ok(200, 0, 1000)});
        row(name("denied does not consume"), s, 10,
            full + Steps{no(50, 0, 50, 950), no(50, 0, 50, 950), ok(100, 0, 1000)});
        row(name("partial refill"), s, 10,
            full + Steps{ok(350, 2, 750), ok(350, 1, 850), ok(350, 0, 950), no(350, 0, 50, 950),
                         ok(400, 0, 1000)});
        row(name("refills up to capacity only"), s, 10, full + Steps{ok(5000, 9, 100)});
        row(name("cost above one"), s, 10,
            {ok(0, 6, 400, 4), ok(0, 0, 1000, 6), no(250, 2, 50, 750, 3), ok(300, 0, 1000, 3)});
        row(name("cost above capacity"), s, 10,
            {no(0, 10, 1, 0, 11), ok(0, 9, 100), no(0, 9, 100, 100, 11)});
        row(name("burst below the limit"), spec(a, 10, 1000, 3), 3,
            burst(0, 3, 2, 100, 100) +
                Steps{no(0, 0, 100, 300), ok(100, 0, 300), ok(1000, 2, 100)});
        // L = 3 per second: T = ceil(1e9 / 3) = 333 333 334 ns, so 3 tokens take 1000.000002 ms.
        row(name("interval not dividing the window"), spec(a, 3, 1000), 3,
            {ok(0, 2, 334), ok(0, 1, 667), ok(0, 0, 1001), no(333, 0, 1, 668), ok(334, 0, 1000)});
    }

private Q_SLOTS:
    void decide_data()
    {
        QTest::addColumn<LimitSpec>("spec");
        QTest::addColumn<qint64>("limit");
        QTest::addColumn<Steps>("steps");

        bucketRows(RateAlgorithm::TokenBucket, "token_bucket");
        bucketRows(RateAlgorithm::Gcra, "gcra");

        // Fixed window: L = 5 per [k s, (k + 1) s).
        const LimitSpec fw = spec(RateAlgorithm::FixedWindow, 5, 1000);
        row("fixed_window: full burst then denial", fw, 5,
            burst(0, 5, 4, 1000) + Steps{no(0, 0, 1000, 1000)});
        row("fixed_window: window edge", fw, 5,
            burst(500, 5, 4, 500) + Steps{no(999, 0, 1, 1), ok(1000, 4, 1000)});
        row("fixed_window: first request mid-window", fw, 5, {ok(250, 4, 750)});
        row("fixed_window: denied does not consume", fw, 5,
            burst(0, 4, 4, 1000) +
                Steps{no(0, 1, 1000, 1000, 3), ok(0, 0, 1000), no(0, 0, 1000, 1000)});
        row("fixed_window: 2L within 2 ms across the edge", fw, 5,
            burst(999, 5, 4, 1) + burst(1000, 5, 4, 1000));
        row("fixed_window: cost fills the window", fw, 5,
            {ok(0, 0, 1000, 5), no(999, 0, 1, 1), ok(1000, 0, 1000, 5)});
        row("fixed_window: cost above the limit", fw, 5,
            {no(0, 5, 1, 0, 6), ok(0, 3, 1000, 2), no(0, 3, 1000, 1000, 6)});
        row("fixed_window: later window starts afresh", fw, 5,
            burst(0, 5, 4, 1000) + Steps{ok(5000, 4, 1000)});

        // Sliding log: L = 5 in any (now - 1 s, now].
        const LimitSpec sl = spec(RateAlgorithm::SlidingLog, 5, 1000);
        row("sliding_log: full burst then denial", sl, 5,
            burst(0, 5, 4, 1000) + Steps{no(0, 0, 1000, 1000)});
        row("sliding_log: an entry expires exactly W later", sl, 5,
            {ok(0, 4, 1000), ok(100, 3, 1000), ok(200, 2, 1000), ok(300, 1, 1000), ok(400, 0, 1000),
             no(999, 0, 1, 401), ok(1000, 0, 1000), no(1099, 0, 1, 901), ok(1100, 0, 1000),
             no(1100, 0, 100, 1000)});
        row("sliding_log: denied does not consume", sl, 5,
            burst(0, 5, 4, 1000) + Steps{no(500, 0, 500, 500)} + burst(1000, 5, 4, 1000) +
                Steps{no(1000, 0, 1000, 1000)});
        row("sliding_log: 2L within 2 ms is denied", sl, 5,
            burst(999, 5, 4, 1000) + Steps{no(1000, 0, 999, 999), no(1998, 0, 1, 1)} +
                burst(1999, 5, 4, 1000));
        row("sliding_log: cost above one", sl, 5,
            {ok(0, 2, 1000, 3), ok(500, 0, 1000, 2), no(999, 0, 1, 501), ok(1000, 0, 1000, 3),
             no(1000, 0, 500, 1000, 2)});
        row("sliding_log: cost above the limit", sl, 5,
            {no(0, 5, 1, 0, 6), ok(0, 4, 1000), no(0, 4, 1000, 1000, 6)});
        row("sliding_log: ring buffer wraps", spec(RateAlgorithm::SlidingLog, 3, 100), 3,
            {ok(0, 2, 100), ok(40, 1, 100), ok(80, 0, 100), ok(100, 0, 100), no(120, 0, 20, 80),
             ok(140, 0, 100), ok(180, 0, 100), ok(200, 0, 100), no(200, 0, 40, 100),
             ok(400, 2, 100), ok(400, 1, 100), ok(400, 0, 100), no(499, 0, 1, 1), ok(500, 2, 100)});

        // Sliding counter: L = 10, W = 1 s; estimate = previous * (W - e) / W + current.
        const LimitSpec sc = spec(RateAlgorithm::SlidingCounter, 10, 1000);
        const Steps ten = burst(0, 10, 9, 2000);
        // 250 ms into the next window the previous 10 weigh 7.5: two more pass, the third
        // (10.5) does not until the weight is 7 (at 1300 ms).
        row("sliding_counter: previous window weighted 75 %", sc, 10,
            ten + Steps{ok(1250, 1, 1750), ok(1250, 0, 1750), no(1250, 0, 50, 1750),
                        no(1299, 0, 1, 1701), ok(1300, 0, 1700), no(1300, 0, 100, 1700)});
        row("sliding_counter: window edge", sc, 10,
            burst(500, 10, 9, 1500) + Steps{no(999, 0, 101, 1001), no(1000, 0, 100, 1000),
                                            no(1099, 0, 1, 901), ok(1100, 0, 1900)});
        // 1 ms before the previous window stops counting it weighs 0.01, rounded up in
        // `remaining` (10 - 1 - 1) but not in the decision.
        row("sliding_counter: weight just before it fades", sc, 10, ten + Steps{ok(1999, 8, 1001)});
        row("sliding_counter: a skipped window counts nothing", sc, 10,
            ten + Steps{ok(2000, 9, 2000)});
        row("sliding_counter: 2L within 2 ms is denied", sc, 10,
            burst(999, 10, 9, 1001) + Steps{no(1000, 0, 100, 1000)});
        // Previous 6 at 50 % weigh 3: cost 7 fills it exactly. Cost 2 more needs the weight
        // at most 1: 6 * (W - e) <= W, e >= 833.33.. ms, i.e. 1834 ms (retry 333.33.. -> 334).
        row("sliding_counter: cost above one", sc, 10,
            {ok(0, 4, 2000, 6), ok(1500, 0, 1500, 7), no(1500, 0, 334, 1500, 2),
             no(1833, 1, 1, 1167, 2), ok(1834, 0, 1166, 2)});
        // 9 then cost 2 is denied (room in the next window at 1000 + 1000 / 9 ms); the
        // denial took nothing, so cost 1 still passes.
        row("sliding_counter: denied does not consume", sc, 10,
            ten.mid(0, 9) + Steps{no(0, 1, 1112, 2000, 2), ok(0, 0, 2000)});
        row("sliding_counter: cost above the limit", sc, 10,
            {no(0, 10, 1, 0, 11), ok(0, 9, 2000), no(0, 9, 2000, 2000, 11)});
    }

    void decide()
    {
        QFETCH(LimitSpec, spec);
        QFETCH(qint64, limit);
        QFETCH(Steps, steps);
        const auto algorithm = RateLimitAlgorithm::create(spec);
        RateState state;
        for (int i = 0; i < steps.size(); ++i) {
            const Step &s = steps[i];
            const RateDecision d =
                algorithm->decide(state, kBase + std::chrono::milliseconds(s.atMs), s.cost);
            QCOMPARE(
                describe(i, s, d.allowed, d.remaining, d.retryAfter.count(), d.resetAfter.count()),
                describe(i, s, s.allowed, s.remaining, s.retryMs, s.resetMs));
            QCOMPARE(d.limit, limit);
        }
    }

    void idle_data()
    {
        QTest::addColumn<LimitSpec>("spec");
        QTest::addColumn<QList<qint64>>("requestsMs");
        QTest::addColumn<qint64>("cost");
        QTest::addColumn<qint64>("atMs");
        QTest::addColumn<bool>("idle");

        for (RateAlgorithm a : kAll)
            QTest::newRow(qPrintable(rateAlgorithmName(a) + QStringLiteral(": fresh")))
                << spec(a, 10, 1000) << QList<qint64>{} << qint64(1) << qint64(0) << true;
        for (RateAlgorithm a : {RateAlgorithm::TokenBucket, RateAlgorithm::Gcra}) {
            const QString n = rateAlgorithmName(a);
            // One token taken at 0 is back at 100 ms.
            QTest::newRow(qPrintable(n + QStringLiteral(": refilling")))
                << spec(a, 10, 1000) << QList<qint64>{0} << qint64(1) << qint64(99) << false;
            QTest::newRow(qPrintable(n + QStringLiteral(": full again")))
                << spec(a, 10, 1000) << QList<qint64>{0} << qint64(1) << qint64(100) << true;
            QTest::newRow(qPrintable(n + QStringLiteral(": only a denied request")))
                << spec(a, 10, 1000) << QList<qint64>{0} << qint64(11) << qint64(0) << true;
        }
        const LimitSpec fw = spec(RateAlgorithm::FixedWindow, 5, 1000);
        QTest::newRow("fixed_window: same window")
            << fw << QList<qint64>{500} << qint64(1) << qint64(999) << false;
        QTest::newRow("fixed_window: next window")
            << fw << QList<qint64>{500} << qint64(1) << qint64(1000) << true;
        QTest::newRow("fixed_window: only a denied request")
            << fw << QList<qint64>{0} << qint64(6) << qint64(0) << true;
        const LimitSpec sl = spec(RateAlgorithm::SlidingLog, 5, 1000);
        QTest::newRow("sliding_log: newest still in the window")
            << sl << QList<qint64>{0, 300} << qint64(1) << qint64(1299) << false;
        QTest::newRow("sliding_log: all expired")
            << sl << QList<qint64>{0, 300} << qint64(1) << qint64(1300) << true;
        const LimitSpec sc = spec(RateAlgorithm::SlidingCounter, 10, 1000);
        QTest::newRow("sliding_counter: current window")
            << sc << QList<qint64>{500} << qint64(1) << qint64(999) << false;
        QTest::newRow("sliding_counter: still weighted as previous")
            << sc << QList<qint64>{500} << qint64(1) << qint64(1999) << false;
        QTest::newRow("sliding_counter: two windows later")
            << sc << QList<qint64>{500} << qint64(1) << qint64(2000) << true;
    }

    void idle()
    {
        QFETCH(LimitSpec, spec);
        QFETCH(QList<qint64>, requestsMs);
        QFETCH(qint64, cost);
        QFETCH(qint64, atMs);
        QFETCH(bool, idle);
        const auto algorithm = RateLimitAlgorithm::create(spec);
        RateState state;
        for (qint64 ms : requestsMs)
            algorithm->decide(state, kBase + std::chrono::milliseconds(ms), cost);
        const RateTime at = kBase + std::chrono::milliseconds(atMs);
        QCOMPARE(algorithm->idle(state, at), idle);
        if (idle) { // then a fresh state decides the same
            RateState fresh;
            const RateDecision a = algorithm->decide(state, at, 1);
            const RateDecision b = algorithm->decide(fresh, at, 1);
            QVERIFY2(sameDecision(a, b), show(a) + " vs fresh " + show(b));
        }
    }

    void names_data()
    {
        QTest::addColumn<RateAlgorithm>("algorithm");
        QTest::addColumn<QString>("name");
        QTest::newRow("token_bucket") << RateAlgorithm::TokenBucket << "token_bucket";
        QTest::newRow("sliding_log") << RateAlgorithm::SlidingLog << "sliding_log";
        QTest::newRow("sliding_counter") << RateAlgorithm::SlidingCounter << "sliding_counter";
        QTest::newRow("fixed_window") << RateAlgorithm::FixedWindow << "fixed_window";
        QTest::newRow("gcra") << RateAlgorithm::Gcra << "gcra";
    }

    void names()
    {
        QFETCH(RateAlgorithm, algorithm);
        QFETCH(QString, name);
        QCOMPARE(rateAlgorithmName(algorithm), name);
        QVERIFY(rateAlgorithmFromName(name) == algorithm);
        LimitSpec s;
        s.algorithm = algorithm;
        QCOMPARE(RateLimitAlgorithm::create(s)->spec().algorithm, algorithm);
    }

    void unknownNames_data()
    {
        QTest::addColumn<QString>("name");
        QTest::newRow("empty") << QString();
        QTest::newRow("upper case") << QStringLiteral("GCRA");
        QTest::newRow("space") << QStringLiteral("gcra ");
        QTest::newRow("dash") << QStringLiteral("token-bucket");
    }

    void unknownNames()
    {
        QFETCH(QString, name);
        QVERIFY(!rateAlgorithmFromName(name).has_value());
    }

    // Random traffic (several requests per instant, costs up to capacity + 1, gaps from
    // 0 to beyond a full refill): the token bucket and GCRA agree on every field.
    void tokenBucketDecidesLikeGcra_data()
    {
        QTest::addColumn<qint64>("limit");
        QTest::addColumn<qint64>("windowMs");
        QTest::addColumn<qint64>("burstSize");
        QTest::newRow("10/s") << qint64(10) << qint64(1000) << qint64(0);
        QTest::newRow("3/s, burst 5") << qint64(3) << qint64(1000) << qint64(5);
        QTest::newRow("7/333ms, burst 1") << qint64(7) << qint64(333) << qint64(1);
        QTest::newRow("1000/min") << qint64(1000) << qint64(60'000) << qint64(0);
    }

    void tokenBucketDecidesLikeGcra()
    {
        QFETCH(qint64, limit);
        QFETCH(qint64, windowMs);
        QFETCH(qint64, burstSize);
        const auto bucket = RateLimitAlgorithm::create(
            spec(RateAlgorithm::TokenBucket, limit, windowMs, burstSize));
        const auto gcra =
            RateLimitAlgorithm::create(spec(RateAlgorithm::Gcra, limit, windowMs, burstSize));
        const qint64 capacity = burstSize > 0 ? burstSize : limit;
        const qint64 intervalNs = (windowMs * 1'000'000 + limit - 1) / limit;
        std::mt19937_64 rng(limit * 31 + windowMs);
        RateState a, b;
        RateTime now = kBase;
        for (int i = 0; i < 20'000; ++i) {
            if (rng() % 3 != 0)
                now += std::chrono::nanoseconds(qint64(rng() % quint64(3 * intervalNs)));
            const qint64 cost = 1 + qint64(rng() % quint64(capacity + 1));
            QCOMPARE(bucket->idle(a, now), gcra->idle(b, now));
            const RateDecision x = bucket->decide(a, now, cost);
            const RateDecision y = gcra->decide(b, now, cost);
            QVERIFY2(sameDecision(x, y), "token bucket " + show(x) + " gcra " + show(y));
        }
    }

    // The sliding log against a brute-force list of every unit of cost admitted, with
    // nanosecond times so that the ring buffer grows, wraps and keeps its order.
    void slidingLogMatchesModel()
    {
        constexpr qint64 limit = 20;
        constexpr qint64 windowNs = 100'000'000;
        const auto log = RateLimitAlgorithm::create(spec(RateAlgorithm::SlidingLog, limit, 100));
        std::mt19937_64 rng(7);
        std::deque<qint64> model; // ns offsets of admitted units, oldest first
        RateState state;
        qint64 t = 0;
        const auto ceilMs = [](qint64 ns) { return ns <= 0 ? 0 : (ns - 1) / 1'000'000 + 1; };
        for (int i = 0; i < 50'000; ++i) {
            t += qint64(rng() % 12'000'000); // up to 12 ms: a few requests per window edge
            const qint64 cost = 1 + qint64(rng() % 4) * qint64(rng() % 2) + (i % 997 == 0) * 20;
            while (!model.empty() && model.front() <= t - windowNs)
                model.pop_front();
            const qint64 n = qint64(model.size());
            const bool allowed = n + cost <= limit;
            if (allowed)
                model.insert(model.end(), size_t(cost), t);
            const qint64 resetNs = model.empty() ? 0 : model.back() + windowNs - t;
            qint64 retryNs = 0;
            if (!allowed)
                retryNs =
                    cost > limit ? resetNs : model[size_t(n + cost - limit - 1)] + windowNs - t;
            const RateDecision d = log->decide(state, kBase + std::chrono::nanoseconds(t), cost);
            QCOMPARE(d.allowed, allowed);
            QCOMPARE(d.remaining, limit - qint64(model.size()));
            QCOMPARE(qint64(d.resetAfter.count()), ceilMs(resetNs));
            QCOMPARE(qint64(d.retryAfter.count()),
                     allowed ? 0 : std::max<qint64>(1, ceilMs(retryNs)));
            QVERIFY(qint64(state.log.size()) <= limit);
        }
    }

    // Every algorithm under random traffic: remaining never negative, retryAfter 0 when
    // allowed and at least 1 ms when denied, and whenever idle() says a state can be
    // forgotten a fresh state decides the same.
    void invariantsUnderRandomTraffic_data()
    {
        QTest::addColumn<RateAlgorithm>("algorithm");
        for (RateAlgorithm a : kAll)
            QTest::newRow(qPrintable(rateAlgorithmName(a))) << a;
    }

    void invariantsUnderRandomTraffic()
    {
        QFETCH(RateAlgorithm, algorithm);
        const auto rule = RateLimitAlgorithm::create(spec(algorithm, 8, 250, 0));
        std::mt19937_64 rng(11);
        RateState state;
        RateTime now = kBase;
        int idleSeen = 0;
        for (int i = 0; i < 50'000; ++i) {
            now += std::chrono::microseconds(qint64(rng() % (rng() % 16 == 0 ? 600'000 : 40'000)));
            const qint64 cost = 1 + qint64(rng() % 9) * qint64(rng() % 4 == 0);
            if (rule->idle(state, now)) {
                ++idleSeen;
                RateState copy = state;
                RateState fresh;
                const RateDecision a = rule->decide(copy, now, cost);
                const RateDecision b = rule->decide(fresh, now, cost);
                QVERIFY2(sameDecision(a, b), show(a) + " vs fresh " + show(b));
            }
            const RateDecision d = rule->decide(state, now, cost);
            QVERIFY(d.remaining >= 0);
            QVERIFY(d.remaining <= d.limit);
            QVERIFY(d.resetAfter >= 0ms);
            if (d.allowed)
                QCOMPARE(d.retryAfter, 0ms);
            else
                QVERIFY(d.retryAfter >= 1ms);
        }
        QVERIFY(idleSeen > 100);
    }
};

QTEST_GUILESS_MAIN(TestRateLimitAlgorithms)
#include "tst_ratelimitalgorithms.moc"
