// SPDX-License-Identifier: GPL-3.0-or-later
// Threshold: parsing (every metric, operator and unit; errors with the exact column and
// message) and evaluation against a histogram and counts, on both sides of each bound.
#include "Threshold.h"

#include <QTest>

using namespace bulwark;

class TestThreshold : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parses_data();
    void parses();
    void errors_data();
    void errors();
    void evaluates_data();
    void evaluates();
    void latencyWithoutRequestsFails();
};

void TestThreshold::parses_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("metric");
    QTest::addColumn<double>("quantile");
    QTest::addColumn<int>("op");
    QTest::addColumn<double>("limit");
    using M = Threshold::Metric;
    using O = Threshold::Op;
    QTest::newRow("p95 ms") << "p95 < 200ms" << int(M::Quantile) << 0.95 << int(O::Less) << 2e8;
    QTest::newRow("p99.9 s") << "p99.9 <= 1.5s" << int(M::Quantile) << 0.999 << int(O::LessOrEqual)
                             << 1.5e9;
    QTest::newRow("no spaces") << "p50<500us" << int(M::Quantile) << 0.5 << int(O::Less) << 5e5;
    QTest::newRow("ns") << "  max > 10ns " << int(M::Max) << 0.95 << int(O::Greater) << 10.0;
    QTest::newRow("avg") << "avg >= 1ms" << int(M::Avg) << 0.95 << int(O::GreaterOrEqual) << 1e6;
    QTest::newRow("min") << "min < 2ms" << int(M::Min) << 0.95 << int(O::Less) << 2e6;
    QTest::newRow("error % ") << "error_rate < 1%" << int(M::ErrorRate) << 0.95 << int(O::Less)
                              << 0.01;
    QTest::newRow("error fraction") << "error_rate <= 0.005" << int(M::ErrorRate) << 0.95
                                    << int(O::LessOrEqual) << 0.005;
    QTest::newRow("rps") << "rps >= 1000" << int(M::Rps) << 0.95 << int(O::GreaterOrEqual)
                         << 1000.0;
}

void TestThreshold::parses()
{
    QFETCH(QString, text);
    QFETCH(int, metric);
    QFETCH(double, quantile);
    QFETCH(int, op);
    QFETCH(double, limit);
    const auto t = Threshold::parse(text);
    QVERIFY2(t.ok(), t.ok() ? "" : qPrintable(t.error().message));
    QCOMPARE(int(t.value().metric), metric);
    if (t.value().metric == Threshold::Metric::Quantile)
        QCOMPARE(t.value().quantile, quantile);
    QCOMPARE(int(t.value().op), op);
    QCOMPARE(t.value().limit, limit);
    QCOMPARE(t.value().text, text.trimmed());
}

void TestThreshold::errors_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("column");
    QTest::addColumn<QString>("message");
    QTest::newRow("empty") << "" << 1
                           << "expected a metric: p50, p90, p95, p99, p99.9, min, avg, max, "
                              "error_rate or rps";
    QTest::newRow("unknown metric") << "latency < 1s" << 1
                                    << "unknown metric \"latency\" (p50, p90, p95, p99, p99.9, "
                                       "min, avg, max, error_rate, rps)";
    QTest::newRow("p100") << "p100 < 1s" << 1
                          << "\"p100\": a percentile is p followed by a number above 0 and "
                             "below 100, like p95 or p99.9";
    QTest::newRow("no operator") << "p95 200ms" << 5 << "expected <, <=, > or >=";
    QTest::newRow("equals") << "p95 = 200ms" << 5 << "expected <, <=, > or >=";
    QTest::newRow("no number") << "p95 < ms" << 7 << "expected a number";
    QTest::newRow("negative") << "p95 < -1ms" << 7 << "expected a number";
    QTest::newRow("no unit") << "p95 < 200" << 10
                             << "a latency needs a unit: ns, us, ms or s (\"200ms\")";
    QTest::newRow("bad unit") << "p95 < 200m" << 10
                              << "a latency needs a unit: ns, us, ms or s (\"200ms\")";
    QTest::newRow("trailing") << "p95 < 200ms or so" << 13
                              << "unexpected \"or so\" after the value";
    QTest::newRow("error unit") << "error_rate < 1ms" << 15
                                << "an error rate is a fraction (0.01) or a percentage (1%)";
    QTest::newRow("error > 100%") << "error_rate < 150%" << 14
                                  << "an error rate is at most 100% (1)";
    QTest::newRow("rps unit") << "rps > 10/s" << 9 << "unexpected \"/s\" after the value";
    QTest::newRow("rps with unit") << "rps > 10k" << 9
                                   << "rps is a plain number of requests per second";
}

void TestThreshold::errors()
{
    QFETCH(QString, text);
    QFETCH(int, column);
    QFETCH(QString, message);
    const auto t = Threshold::parse(text);
    QVERIFY(!t.ok());
    QCOMPARE(t.error().code, ErrorCode::Unprocessable);
    QCOMPARE(t.error().message, QStringLiteral("column %1: %2").arg(column).arg(message));
    QCOMPARE(t.error().details.value(QStringLiteral("column")).toInt(), column);
}

void TestThreshold::evaluates_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("passed");
    QTest::addColumn<double>("actual");
    // 100 requests at 1..100 ms, 2 failed, over 10 s (see evaluates()).
    QTest::newRow("p50 under") << "p50 < 51ms" << true << 50e6;
    // Quantiles come from the histogram (within 0.4 %), so their bounds keep a margin;
    // the exact ones (min, max, avg, counts) test the operators at the bound itself.
    QTest::newRow("p50 over") << "p50 < 49ms" << false << 50e6;
    QTest::newRow("p50 or equal") << "p50 <= 51ms" << true << 50e6;
    QTest::newRow("p99") << "p99 < 98ms" << false << 99e6;
    QTest::newRow("max strict at the bound") << "max < 100ms" << false << 100e6;
    QTest::newRow("max") << "max <= 100ms" << true << 100e6;
    QTest::newRow("min") << "min >= 1ms" << true << 1e6;
    QTest::newRow("avg") << "avg < 50ms" << false << 50.5e6;
    QTest::newRow("error rate pass") << "error_rate < 3%" << true << 0.02;
    QTest::newRow("error rate fail") << "error_rate < 2%" << false << 0.02;
    QTest::newRow("rps pass") << "rps >= 10" << true << 10.0;
    QTest::newRow("rps fail") << "rps > 10" << false << 10.0;
}

void TestThreshold::evaluates()
{
    QFETCH(QString, text);
    QFETCH(bool, passed);
    QFETCH(double, actual);
    LatencyHistogram h;
    for (int ms = 1; ms <= 100; ++ms)
        h.record(quint64(ms) * 1'000'000);
    const auto t = Threshold::parse(text);
    QVERIFY(t.ok());
    const Threshold::Outcome o = t.value().evaluate(ThresholdInputs{&h, 100, 2, 10.0});
    QCOMPARE(o.passed, passed);
    // Quantiles are within the histogram's 0.4 %; counts are exact.
    QVERIFY2(std::abs(o.actual - actual) <= 0.004 * actual,
             qPrintable(QStringLiteral("actual %1, expected %2").arg(o.actual).arg(actual)));
}

void TestThreshold::latencyWithoutRequestsFails()
{
    LatencyHistogram empty;
    const auto p95 = Threshold::parse(QStringLiteral("p95 < 1s"));
    QVERIFY(p95.ok());
    QVERIFY(!p95.value().evaluate(ThresholdInputs{&empty, 0, 0, 10.0}).passed);
    QVERIFY(!p95.value().evaluate(ThresholdInputs{}).passed);
    const auto errors = Threshold::parse(QStringLiteral("error_rate < 1%"));
    QVERIFY(errors.ok());
    QVERIFY(errors.value().evaluate(ThresholdInputs{&empty, 0, 0, 10.0}).passed);
}

QTEST_GUILESS_MAIN(TestThreshold)
#include "tst_threshold.moc"
