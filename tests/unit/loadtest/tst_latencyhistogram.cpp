// SPDX-License-Identifier: GPL-3.0-or-later
// LatencyHistogram: the bucket layout (every value in its bucket's range, ranges contiguous,
// widths at most 1/128 of their values), quantiles within 1 % (0.4 % by design) of the exact
// nearest-rank percentiles of generated samples from several distributions, exact min and
// max, merging equal to recording everything in one, and the edges (empty, q 0 and 1,
// values past the range).
#include "LatencyHistogram.h"

#include <QTest>
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using namespace bulwark;

namespace {

quint64 exactQuantile(std::vector<quint64> sorted, double q)
{
    if (q <= 0)
        return sorted.front();
    const size_t rank = std::max<size_t>(1, size_t(std::ceil(q * double(sorted.size()))));
    return sorted[std::min(sorted.size(), rank) - 1];
}

std::vector<quint64> samples(const QString &distribution, int n, quint32 seed)
{
    std::mt19937_64 random(seed);
    std::vector<quint64> out;
    out.reserve(size_t(n));
    for (int i = 0; i < n; ++i) {
        double v = 0;
        if (distribution == QLatin1String("uniform"))
            v = std::uniform_real_distribution<double>(1e5, 5e6)(random); // 0.1 to 5 ms
        else if (distribution == QLatin1String("lognormal"))
            v = std::lognormal_distribution<double>(std::log(2e6), 0.8)(random); // ~2 ms
        else if (distribution == QLatin1String("exponential"))
            v = std::exponential_distribution<double>(1.0 / 3e5)(random); // mean 0.3 ms
        else if (distribution == QLatin1String("bimodal"))
            v = (i % 100 == 0) ? 1e9 + double(random() % 1000000) // a 1 s stall per 100
                               : 5e5 + double(random() % 100000);
        else
            v = double(random() % 200); // "small": exact region
        out.push_back(quint64(std::max(0.0, v)));
    }
    return out;
}

} // namespace

class TestLatencyHistogram : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void layout();
    void quantilesWithinOnePercent_data();
    void quantilesWithinOnePercent();
    void mergeEqualsOneHistogram();
    void edges();
};

void TestLatencyHistogram::layout()
{
    QCOMPARE(LatencyHistogram::bucketLow(0), quint64(0));
    for (int b = 0; b < LatencyHistogram::kBuckets; ++b) {
        const quint64 low = LatencyHistogram::bucketLow(b);
        const quint64 high = LatencyHistogram::bucketHigh(b);
        QVERIFY(high >= low);
        QCOMPARE(LatencyHistogram::bucketOf(low), b);
        QCOMPARE(LatencyHistogram::bucketOf(high), b);
        if (b + 1 < LatencyHistogram::kBuckets)
            QCOMPARE(LatencyHistogram::bucketLow(b + 1), high + 1); // contiguous
        if (low >= 256)
            QVERIFY2(double(high - low + 1) / double(low) <= 1.0 / 128 + 1e-12,
                     qPrintable(QString::number(b)));
        else
            QCOMPARE(high, low); // exact below 256
    }
    QCOMPARE(LatencyHistogram::bucketHigh(LatencyHistogram::kBuckets - 1),
             LatencyHistogram::kMaxValue);
}

void TestLatencyHistogram::quantilesWithinOnePercent_data()
{
    QTest::addColumn<QString>("distribution");
    QTest::addColumn<int>("n");
    for (const char *d : {"uniform", "lognormal", "exponential", "bimodal", "small"})
        for (int n : {1, 7, 1000, 200000})
            QTest::addRow("%s-%d", d, n) << QString::fromLatin1(d) << n;
}

void TestLatencyHistogram::quantilesWithinOnePercent()
{
    QFETCH(QString, distribution);
    QFETCH(int, n);
    std::vector<quint64> values = samples(distribution, n, 42);
    LatencyHistogram h;
    double sum = 0;
    for (quint64 v : values) {
        h.record(v);
        sum += double(v);
    }
    std::sort(values.begin(), values.end());
    QCOMPARE(h.count(), quint64(n));
    QCOMPARE(h.min(), values.front());
    QCOMPARE(h.max(), values.back());
    QVERIFY(std::abs(h.mean() - sum / n) <= 1e-9 * sum / n + 1e-9);
    for (double q : {0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0}) {
        const quint64 exact = exactQuantile(values, q);
        const quint64 got = h.valueAtQuantile(q);
        const double error = exact == 0 ? double(got) : std::abs(double(got) - double(exact)) / double(exact);
        QVERIFY2(error <= 0.01, qPrintable(QStringLiteral("q %1: exact %2, got %3 (%4 %)")
                                               .arg(q)
                                               .arg(exact)
                                               .arg(got)
                                               .arg(error * 100)));
        // By design the error is at most half a bucket: under 0.4 %.
        QVERIFY2(error < 0.004, qPrintable(QString::number(error)));
    }
}

void TestLatencyHistogram::mergeEqualsOneHistogram()
{
    const std::vector<quint64> values = samples(QStringLiteral("lognormal"), 30000, 7);
    LatencyHistogram all;
    LatencyHistogram parts[3];
    for (size_t i = 0; i < values.size(); ++i) {
        all.record(values[i]);
        parts[i % 3].record(values[i]);
    }
    LatencyHistogram merged;
    for (const LatencyHistogram &p : parts)
        merged.merge(p);
    QVERIFY(merged == all);
    QCOMPARE(merged.valueAtQuantile(0.99), all.valueAtQuantile(0.99));
    QVERIFY(std::abs(merged.mean() - all.mean()) < 1e-6 * all.mean());
    merged.reset();
    QCOMPARE(merged.count(), quint64(0));
    QCOMPARE(merged.valueAtQuantile(0.5), quint64(0));
}

void TestLatencyHistogram::edges()
{
    LatencyHistogram h;
    QCOMPARE(h.valueAtQuantile(0.5), quint64(0));
    QCOMPARE(h.min(), quint64(0));
    QCOMPARE(h.mean(), 0.0);
    h.record(1000, 0); // a zero count records nothing
    QCOMPARE(h.count(), quint64(0));
    h.record(1234567, 3);
    QCOMPARE(h.count(), quint64(3));
    QCOMPARE(h.valueAtQuantile(0.5), quint64(1234567)); // clamped to min = max
    // Past the range: counted in the top bucket, the max stays exact.
    const quint64 huge = LatencyHistogram::kMaxValue * 4;
    h.record(huge);
    QCOMPARE(h.max(), huge);
    QCOMPARE(h.valueAtQuantile(1.0), huge);
    QCOMPARE(LatencyHistogram::bucketOf(huge), LatencyHistogram::kBuckets - 1);
    QCOMPARE(h.valueAtQuantile(-1.0), h.min());
    QCOMPARE(h.valueAtQuantile(2.0), huge);
    QCOMPARE(h.valueAtQuantile(std::nan("")), h.min());
}

QTEST_GUILESS_MAIN(TestLatencyHistogram)
#include "tst_latencyhistogram.moc"
