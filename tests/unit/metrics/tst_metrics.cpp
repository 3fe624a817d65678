// SPDX-License-Identifier: GPL-3.0-or-later
// MetricsRegistry's Prometheus text exposition (counters, gauges, histograms, labels,
// escaping, number format), Histogram snapshots (quantile, minus) and the TimeSeries ring
// buffer behind the console charts (wrap-around, toJson ordering).

#include "Metrics.h"
#include "TimeSeries.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>
#include <cmath>
#include <limits>

using namespace bulwark;

namespace {
QList<QByteArray> lines(const QByteArray &text)
{
    QList<QByteArray> out = text.split('\n');
    if (!out.isEmpty() && out.last().isEmpty())
        out.removeLast();
    return out;
}

QByteArray compact(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}
} // namespace

class TestMetrics : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void counterWithoutLabels()
    {
        MetricsRegistry registry;
        auto &family = registry.counter("jobs_done_total", "Jobs finished.");
        family.labels({}).inc();
        family.labels({}).inc(2);
        QCOMPARE(registry.exposition(), QByteArray("# HELP jobs_done_total Jobs finished.\n"
                                                   "# TYPE jobs_done_total counter\n"
                                                   "jobs_done_total 3\n"));
    }

    void counterWithLabels()
    {
        MetricsRegistry registry;
        auto &family = registry.counter("http_requests_total", "Requests.", {"method", "route"});
        family.labels({"GET", "/a"}).inc(2);
        family.labels({"POST", "/b/{id}"}).inc();
        family.labels({"GET", "/a"}).inc(); // same child again
        const QList<QByteArray> out = lines(registry.exposition());
        QCOMPARE(out.size(), 4);
        QCOMPARE(out[0], QByteArray("# HELP http_requests_total Requests."));
        QCOMPARE(out[1], QByteArray("# TYPE http_requests_total counter"));
        // Children come in no particular order.
        const QList<QByteArray> samples = out.mid(2);
        QVERIFY(samples.contains(QByteArray(R"(http_requests_total{method="GET",route="/a"} 3)")));
        QVERIFY(samples.contains(
            QByteArray(R"(http_requests_total{method="POST",route="/b/{id}"} 1)")));
    }

    void gauge()
    {
        MetricsRegistry registry;
        auto &family = registry.gauge("queue_depth", "Jobs waiting.", {"queue"});
        Gauge &g = family.labels({"mail"});
        g.set(10);
        g.inc(2.5);
        g.dec(); // 11.5
        QCOMPARE(g.value(), 11.5);
        family.labels({"neg"}).set(-3);
        const QList<QByteArray> out = lines(registry.exposition());
        QCOMPARE(out.size(), 4);
        QCOMPARE(out[0], QByteArray("# HELP queue_depth Jobs waiting."));
        QCOMPARE(out[1], QByteArray("# TYPE queue_depth gauge"));
        QVERIFY(out.contains(QByteArray(R"(queue_depth{queue="mail"} 11.5)")));
        QVERIFY(out.contains(QByteArray(R"(queue_depth{queue="neg"} -3)")));
    }

    void histogramExposition()
    {
        MetricsRegistry registry;
        auto &family = registry.histogram("latency_seconds", "Latency.", {"route"}, {0.1, 0.5, 1});
        Histogram &h = family.labels({"/x"});
        h.observe(0.05);
        h.observe(0.1); // on a bound: counted in that bucket (le is "less or equal")
        h.observe(0.3);
        h.observe(2);
        QCOMPARE(registry.exposition(),
                 QByteArray("# HELP latency_seconds Latency.\n"
                            "# TYPE latency_seconds histogram\n"
                            "latency_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"
                            "latency_seconds_bucket{route=\"/x\",le=\"0.5\"} 3\n"
                            "latency_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
                            "latency_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
                            "latency_seconds_sum{route=\"/x\"} 2.45\n"
                            "latency_seconds_count{route=\"/x\"} 4\n"));
    }

    void histogramWithoutLabels()
    {
        MetricsRegistry registry;
        Histogram &h = registry.histogram("size_bytes", "Sizes.", {}, {1024, 256}).labels({});
        h.observe(100);
        h.observe(1000);
        h.observe(1000);
        QCOMPARE(registry.exposition(), QByteArray("# HELP size_bytes Sizes.\n"
                                                   "# TYPE size_bytes histogram\n"
                                                   "size_bytes_bucket{le=\"256\"} 1\n"
                                                   "size_bytes_bucket{le=\"1024\"} 3\n"
                                                   "size_bytes_bucket{le=\"+Inf\"} 3\n"
                                                   "size_bytes_sum 2100\n"
                                                   "size_bytes_count 3\n"));
    }

    // Counters, then gauges, then histograms, then collectors; a family with no children
    // still has its HELP and TYPE lines.
    void expositionOrder()
    {
        MetricsRegistry registry;
        registry.histogram("h", "H.", {}, {1}).labels({}).observe(0.5);
        registry.gauge("g", "G.").labels({}).set(1);
        registry.counter("c", "C.").labels({}).inc();
        registry.counter("empty_total", "Nothing yet.", {"x"});
        registry.addCollector(
            [](QByteArray &out) { out.append("# HELP z Z.\n# TYPE z gauge\nz 7\n"); });
        QCOMPARE(registry.exposition(),
                 QByteArray("# HELP c C.\n# TYPE c counter\nc 1\n"
                            "# HELP empty_total Nothing yet.\n# TYPE empty_total counter\n"
                            "# HELP g G.\n# TYPE g gauge\ng 1\n"
                            "# HELP h H.\n# TYPE h histogram\n"
                            "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 0.5\nh_count 1\n"
                            "# HELP z Z.\n# TYPE z gauge\nz 7\n"));
    }

    // The text format requires a backslash in HELP text to be written as two backslashes
    // and a line feed as backslash-n; a raw line feed would end the HELP line and break
    // the scrape.
    void helpEscaping()
    {
        MetricsRegistry registry;
        registry.gauge("g", "First line\nsecond line, C:\\path").labels({}).set(1);
        QCOMPARE(registry.exposition(), QByteArray("# HELP g First line\\nsecond line, C:\\\\path\n"
                                                   "# TYPE g gauge\n"
                                                   "g 1\n"));
    }

    void labelEscaping_data()
    {
        QTest::addColumn<QByteArray>("value");
        QTest::addColumn<QByteArray>("escaped");
        QTest::newRow("plain") << QByteArray("/api/v1/items") << QByteArray("/api/v1/items");
        QTest::newRow("quote") << QByteArray(R"(say "hi")") << QByteArray(R"(say \"hi\")");
        QTest::newRow("backslash") << QByteArray(R"(C:\dir)") << QByteArray(R"(C:\\dir)");
        QTest::newRow("newline") << QByteArray("a\nb") << QByteArray(R"(a\nb)");
        QTest::newRow("all") << QByteArray("\\\"\n") << QByteArray(R"(\\\"\n)");
        QTest::newRow("utf-8 kept") << QByteArray("caf\xc3\xa9") << QByteArray("caf\xc3\xa9");
        QTest::newRow("empty") << QByteArray() << QByteArray();
    }
    void labelEscaping()
    {
        QFETCH(QByteArray, value);
        QFETCH(QByteArray, escaped);
        QCOMPARE(MetricsRegistry::escapeLabelValue(value), escaped);

        MetricsRegistry registry;
        registry.counter("c", "C.", {"v"}).labels({value}).inc();
        QCOMPARE(lines(registry.exposition()).last(), "c{v=\"" + escaped + "\"} 1");
    }

    void formatNumber_data()
    {
        QTest::addColumn<double>("value");
        QTest::addColumn<QByteArray>("text");
        QTest::newRow("zero") << 0.0 << QByteArray("0");
        QTest::newRow("negative zero") << -0.0 << QByteArray("0");
        QTest::newRow("integer") << 42.0 << QByteArray("42");
        QTest::newRow("negative integer") << -7.0 << QByteArray("-7");
        QTest::newRow("large integer") << 123456789012345.0 << QByteArray("123456789012345");
        QTest::newRow("1e15") << 1e15 << QByteArray("1e+15");
        QTest::newRow("half") << 0.5 << QByteArray("0.5");
        QTest::newRow("0.1 + 0.2") << 0.1 + 0.2 << QByteArray("0.3");
        QTest::newRow("small") << 0.0005 << QByteArray("0.0005");
        QTest::newRow("tiny") << 1e-7 << QByteArray("1e-07");
        QTest::newRow("fraction") << 2.5 << QByteArray("2.5");
        QTest::newRow("NaN") << std::numeric_limits<double>::quiet_NaN() << QByteArray("NaN");
        QTest::newRow("+Inf") << std::numeric_limits<double>::infinity() << QByteArray("+Inf");
        QTest::newRow("-Inf") << -std::numeric_limits<double>::infinity() << QByteArray("-Inf");
    }
    void formatNumber()
    {
        QFETCH(double, value);
        QFETCH(QByteArray, text);
        QCOMPARE(MetricsRegistry::formatNumber(value), text);
    }

    void histogramBuckets()
    {
        Histogram h({4, 1, 2}); // sorted on construction
        QCOMPARE(h.upperBounds(), (std::vector<double>{1, 2, 4}));
        for (double v : {0.5, 1.0, 1.5, 3.0, 4.0, 100.0})
            h.observe(v);
        const Histogram::Snapshot s = h.snapshot();
        QCOMPARE(s.upperBounds, (std::vector<double>{1, 2, 4}));
        QCOMPARE(s.counts, (std::vector<quint64>{2, 1, 2, 1})); // per bucket, last is +Inf
        QCOMPARE(s.count, quint64(6));
        QCOMPARE(s.sum, 110.0);

        QCOMPARE(Histogram::exponentialBuckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
        QCOMPARE(Histogram::exponentialBuckets(0.001, 10, 3).size(), size_t(3));
        const auto latency = Histogram::defaultLatencyBuckets();
        QCOMPARE(latency.front(), 0.0005);
        QCOMPARE(latency.back(), 10.0);
        QVERIFY(std::is_sorted(latency.begin(), latency.end()));
    }

    void quantile_data()
    {
        QTest::addColumn<QList<double>>("observations");
        QTest::addColumn<double>("q");
        QTest::addColumn<double>("expected");
        // Bounds are 1, 2, 4 (+Inf).
        QTest::newRow("empty") << QList<double>{} << 0.5 << 0.0;
        QTest::newRow("one bucket, median") << QList<double>{1.5, 1.5, 1.5, 1.5} << 0.5 << 1.5;
        QTest::newRow("one bucket, q=0") << QList<double>{1.5, 1.5, 1.5, 1.5} << 0.0 << 1.0;
        QTest::newRow("one bucket, q=1") << QList<double>{1.5, 1.5, 1.5, 1.5} << 1.0 << 2.0;
        QTest::newRow("one bucket, q=0.25") << QList<double>{1.5, 1.5, 1.5, 1.5} << 0.25 << 1.25;
        QTest::newRow("first bucket from zero") << QList<double>{0.5, 0.5} << 0.5 << 0.5;
        QTest::newRow("spread, q=0.25") << QList<double>{0.5, 3, 3, 10} << 0.25 << 1.0;
        QTest::newRow("spread, median skips empty bucket")
            << QList<double>{0.5, 3, 3, 10} << 0.5 << 3.0;
        QTest::newRow("spread, q=0.75") << QList<double>{0.5, 3, 3, 10} << 0.75 << 4.0;
        QTest::newRow("+Inf bucket gives the last bound")
            << QList<double>{0.5, 3, 3, 10} << 0.99 << 4.0;
        QTest::newRow("all above") << QList<double>{50, 60} << 0.5 << 4.0;
    }
    void quantile()
    {
        QFETCH(QList<double>, observations);
        QFETCH(double, q);
        QFETCH(double, expected);
        Histogram h({1, 2, 4});
        for (double v : observations)
            h.observe(v);
        QCOMPARE(h.snapshot().quantile(q), expected);
    }

    void snapshotMinus()
    {
        Histogram h({1, 2, 4});
        h.observe(0.5);
        h.observe(3);
        const Histogram::Snapshot earlier = h.snapshot();
        h.observe(0.5);
        h.observe(1.5);
        h.observe(1.5);
        h.observe(9);
        const Histogram::Snapshot d = h.snapshot().minus(earlier);
        QCOMPARE(d.counts, (std::vector<quint64>{1, 2, 0, 1}));
        QCOMPARE(d.count, quint64(4));
        QCOMPARE(d.sum, 0.5 + 1.5 + 1.5 + 9);
        QCOMPARE(d.upperBounds, (std::vector<double>{1, 2, 4}));
        QCOMPARE(d.quantile(0.5), 1.5); // rank 2 of 4: halfway through the (1, 2] bucket

        // Snapshots of different shapes: the later one is returned unchanged.
        Histogram other({1});
        other.observe(0.1);
        const Histogram::Snapshot unchanged = h.snapshot().minus(other.snapshot());
        QCOMPARE(unchanged.counts, h.snapshot().counts);
        QCOMPARE(unchanged.count, quint64(6));

        // A counter that went backwards (restart) does not wrap around.
        const Histogram::Snapshot backwards = earlier.minus(h.snapshot());
        QCOMPARE(backwards.counts, (std::vector<quint64>{0, 0, 0, 0}));
        QCOMPARE(backwards.count, quint64(0));
    }

    void timeSeriesBeforeWrap()
    {
        TimeSeries ts({"rps", "p99"}, 4);
        QCOMPARE(ts.capacity(), 4);
        QCOMPARE(ts.size(), 0);
        QCOMPARE(
            compact(ts.toJson(10)),
            QByteArray(
                R"({"interval":1,"series":["rps","p99"],"t":[],"values":{"p99":[],"rps":[]}})"));
        ts.append(100, {1, 0.5});
        ts.append(101, {2, 0.25});
        QCOMPARE(ts.size(), 2);
        QCOMPARE(
            compact(ts.toJson(10)),
            QByteArray(
                R"({"interval":1,"series":["rps","p99"],"t":[100,101],"values":{"p99":[0.5,0.25],"rps":[1,2]}})"));
    }

    void timeSeriesWrap_data()
    {
        QTest::addColumn<int>("seconds");
        QTest::addColumn<QByteArray>("times");
        QTest::addColumn<QByteArray>("rps");
        // capacity 3, samples t=1..5 with rps = 10*t: the ring holds 3, 4, 5
        QTest::newRow("more than held") << 10 << QByteArray("[3,4,5]") << QByteArray("[30,40,50]");
        QTest::newRow("all held") << 3 << QByteArray("[3,4,5]") << QByteArray("[30,40,50]");
        QTest::newRow("newest two") << 2 << QByteArray("[4,5]") << QByteArray("[40,50]");
        QTest::newRow("newest one") << 1 << QByteArray("[5]") << QByteArray("[50]");
        QTest::newRow("zero") << 0 << QByteArray("[]") << QByteArray("[]");
        QTest::newRow("negative") << -5 << QByteArray("[]") << QByteArray("[]");
    }
    void timeSeriesWrap()
    {
        QFETCH(int, seconds);
        QFETCH(QByteArray, times);
        QFETCH(QByteArray, rps);
        TimeSeries ts({"rps"}, 3);
        for (qint64 t = 1; t <= 5; ++t)
            ts.append(t, {double(t * 10)});
        QCOMPARE(ts.size(), 3);
        const QJsonObject json = ts.toJson(seconds);
        QCOMPARE(json.value("interval").toInt(), 1);
        QCOMPARE(QJsonDocument(json.value("t").toArray()).toJson(QJsonDocument::Compact), times);
        QCOMPARE(QJsonDocument(json.value("values").toObject().value("rps").toArray())
                     .toJson(QJsonDocument::Compact),
                 rps);
    }

    void timeSeriesExactWrap()
    {
        // Exactly one full turn, then one more: the oldest is overwritten.
        TimeSeries ts({"a", "b"}, 2);
        ts.append(1, {1, 2});
        ts.append(2, {3, 4});
        QCOMPARE(
            compact(ts.toJson(2)),
            QByteArray(
                R"({"interval":1,"series":["a","b"],"t":[1,2],"values":{"a":[1,3],"b":[2,4]}})"));
        ts.append(3, {5}); // missing values are 0
        QCOMPARE(
            compact(ts.toJson(5)),
            QByteArray(
                R"({"interval":1,"series":["a","b"],"t":[2,3],"values":{"a":[3,5],"b":[4,0]}})"));
    }

    void timeSeriesMinimumCapacity()
    {
        TimeSeries ts({"x"}, 0);
        QCOMPARE(ts.capacity(), 1);
        ts.append(7, {1});
        ts.append(8, {2});
        QCOMPARE(ts.size(), 1);
        QCOMPARE(compact(ts.toJson(3)),
                 QByteArray(R"({"interval":1,"series":["x"],"t":[8],"values":{"x":[2]}})"));
        QCOMPARE(ts.names(), QStringList{"x"});
    }
};

QTEST_GUILESS_MAIN(TestMetrics)
#include "tst_metrics.moc"
