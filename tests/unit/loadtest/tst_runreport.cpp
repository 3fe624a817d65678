// SPDX-License-Identifier: GPL-3.0-or-later
// RunReport and its parts as JSON: histograms through JSON text and back are == to the
// original (sum, quantiles and mean too) for empty, exact-region, spread and out-of-range
// samples; malformed histograms, endpoints and reports are rejected with BadRequest and a
// message naming the member at fault; EndpointStats::merge adds up exactly; a report with
// every member set reads back equal, member by member; SecondSample::fromJson is lenient.
#include "RunReport.h"

#include <QJsonDocument>
#include <QTest>
#include <random>

using namespace bulwark;

namespace {

QJsonObject parse(const QByteArray &json)
{
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &error);
    if (error.error != QJsonParseError::NoError)
        qFatal("bad test JSON: %s: %s", json.constData(), qPrintable(error.errorString()));
    return doc.object();
}

// Through text, as a stored or transmitted report goes.
QJsonObject viaText(const QJsonObject &o)
{
    return parse(QJsonDocument(o).toJson(QJsonDocument::Compact));
}

LatencyHistogram lognormal(int n, quint32 seed)
{
    std::mt19937_64 random(seed);
    std::lognormal_distribution<double> d(std::log(3e6), 0.9);
    LatencyHistogram h;
    for (int i = 0; i < n; ++i)
        h.record(quint64(d(random)));
    return h;
}

EndpointStats endpoint(const QString &name, quint64 requests, std::array<quint64, 5> failures,
                       quint64 bytes, const LatencyHistogram &latency)
{
    EndpointStats e;
    e.name = name;
    e.requests = requests;
    e.failures = failures;
    e.bytesReceived = bytes;
    e.latency = latency;
    return e;
}

} // namespace

class TestRunReport : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void failureKindNames();
    void histogramRoundTrip_data();
    void histogramRoundTrip();
    void histogramJsonShape();
    void badHistogram_data();
    void badHistogram();
    void endpointMergeIsExact();
    void endpointRoundTrip();
    void badEndpoint_data();
    void badEndpoint();
    void reportRoundTrip();
    void badReport_data();
    void badReport();
    void sampleIsLenient();
};

void TestRunReport::failureKindNames()
{
    QCOMPARE(failureKindName(FailureKind::Connect), QStringLiteral("connect"));
    QCOMPARE(failureKindName(FailureKind::Timeout), QStringLiteral("timeout"));
    QCOMPARE(failureKindName(FailureKind::Status), QStringLiteral("status"));
    QCOMPARE(failureKindName(FailureKind::Check), QStringLiteral("check"));
    QCOMPARE(failureKindName(FailureKind::Protocol), QStringLiteral("protocol"));
}

void TestRunReport::histogramRoundTrip_data()
{
    QTest::addColumn<int>("kind");
    QTest::newRow("empty") << 0;
    QTest::newRow("one value") << 1;
    QTest::newRow("exact region") << 2;
    QTest::newRow("lognormal 20000") << 3;
    QTest::newRow("past the range") << 4;
    QTest::newRow("counts above 2^32") << 5;
}

void TestRunReport::histogramRoundTrip()
{
    QFETCH(int, kind);
    LatencyHistogram h;
    switch (kind) {
    case 1: h.record(1234567); break;
    case 2:
        for (quint64 v = 0; v < 256; v += 3)
            h.record(v, v + 1);
        break;
    case 3: h = lognormal(20000, 11); break;
    case 4:
        h.record(500);
        h.record(LatencyHistogram::kMaxValue * 3);
        break;
    case 5: h.record(2'000'000, quint64(1) << 40); break;
    default: break;
    }
    const auto back = histogramFromJson(viaText(histogramToJson(h)));
    QVERIFY2(back.ok(), back.ok() ? "" : qPrintable(back.error().message));
    const LatencyHistogram &r = back.value();
    QVERIFY(r == h);
    QCOMPARE(r.count(), h.count());
    QCOMPARE(r.min(), h.min());
    QCOMPARE(r.max(), h.max());
    QCOMPARE(r.sum(), h.sum());
    QCOMPARE(r.mean(), h.mean());
    for (double q : {0.0, 0.5, 0.9, 0.99, 0.999, 1.0})
        QCOMPARE(r.valueAtQuantile(q), h.valueAtQuantile(q));
    // Still mergeable like the original.
    LatencyHistogram a = h, b = r;
    a.merge(h);
    b.merge(r);
    QVERIFY(a == b);
}

void TestRunReport::histogramJsonShape()
{
    LatencyHistogram h;
    h.record(10, 2);
    h.record(300);
    const QJsonObject o = histogramToJson(h);
    QCOMPARE(o.value(QLatin1String("count")).toInteger(), 3);
    QCOMPARE(o.value(QLatin1String("min")).toInteger(), 10);
    QCOMPARE(o.value(QLatin1String("max")).toInteger(), 300);
    QCOMPARE(o.value(QLatin1String("sum")).toDouble(), 320.0);
    const QJsonArray expected{QJsonArray{10, 2}, QJsonArray{LatencyHistogram::bucketOf(300), 1}};
    QCOMPARE(o.value(QLatin1String("buckets")).toArray(), expected);
    const QJsonObject empty = histogramToJson(LatencyHistogram());
    QCOMPARE(empty.value(QLatin1String("buckets")).toArray(), QJsonArray());
    QCOMPARE(empty.value(QLatin1String("min")).toInteger(), 0);
}

void TestRunReport::badHistogram_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("message");
    const int last = LatencyHistogram::kBuckets - 1;
    QTest::newRow("count text") << QByteArray(R"({"count":"3","buckets":[]})")
                                << QStringLiteral("\"count\": expected a non-negative integer");
    QTest::newRow("count negative") << QByteArray(R"({"count":-1,"buckets":[]})")
                                    << QStringLiteral("\"count\": expected a non-negative integer");
    QTest::newRow("count fraction") << QByteArray(R"({"count":1.5,"buckets":[]})")
                                    << QStringLiteral("\"count\": expected a non-negative integer");
    QTest::newRow("min null") << QByteArray(R"({"count":0,"min":null})")
                              << QStringLiteral("\"min\": expected a non-negative integer");
    QTest::newRow("sum text") << QByteArray(R"({"count":0,"sum":"0"})")
                              << QStringLiteral("\"sum\": expected a number");
    QTest::newRow("sum negative") << QByteArray(R"({"count":0,"sum":-5})")
                                  << QStringLiteral("\"sum\": expected a number >= 0");
    QTest::newRow("buckets object") << QByteArray(R"({"count":0,"buckets":{}})")
                                    << QStringLiteral("\"buckets\": expected an array");
    QTest::newRow("pair not array")
        << QByteArray(R"({"count":1,"min":5,"max":5,"buckets":[5]})")
        << QStringLiteral("\"buckets[0]\": expected a [bucket, count] pair of integers");
    QTest::newRow("pair of three")
        << QByteArray(R"({"count":1,"min":5,"max":5,"buckets":[[5,1,1]]})")
        << QStringLiteral("\"buckets[0]\": expected a [bucket, count] pair of integers");
    QTest::newRow("pair fraction")
        << QByteArray(R"({"count":1,"min":5,"max":5,"buckets":[[5,0.5]]})")
        << QStringLiteral("\"buckets[0]\": expected a [bucket, count] pair of integers");
    QTest::newRow("negative count")
        << QByteArray(R"({"count":1,"min":5,"max":5,"buckets":[[5,-1]]})")
        << QStringLiteral("\"buckets[0]\": a count cannot be negative");
    QTest::newRow("bucket too high")
        << QStringLiteral(R"({"count":1,"min":5,"max":5,"buckets":[[%1,1]]})")
               .arg(last + 1)
               .toUtf8()
        << QStringLiteral("\"buckets[0]\": bucket %1 is outside 0..%2").arg(last + 1).arg(last);
    QTest::newRow("bucket negative")
        << QByteArray(R"({"count":1,"min":5,"max":5,"buckets":[[-1,1]]})")
        << QStringLiteral("\"buckets[0]\": bucket -1 is outside 0..%1").arg(last);
    QTest::newRow("out of order")
        << QByteArray(R"({"count":2,"min":3,"max":5,"buckets":[[5,1],[3,1]]})")
        << QStringLiteral("\"buckets[1]\": bucket 3 does not come after bucket 5");
    QTest::newRow("twice") << QByteArray(R"({"count":2,"min":5,"max":5,"buckets":[[5,1],[5,1]]})")
                           << QStringLiteral(
                                  "\"buckets[1]\": bucket 5 does not come after bucket 5");
    QTest::newRow("counts short") << QByteArray(
                                         R"({"count":3,"min":5,"max":6,"buckets":[[5,1],[6,1]]})")
                                  << QStringLiteral("\"count\": is 3, but the buckets add up to 2");
    QTest::newRow("counts over") << QByteArray(R"({"count":0,"buckets":[[5,1]]})")
                                 << QStringLiteral("\"count\": is 0, but the buckets add up to 1");
    QTest::newRow("min outside")
        << QByteArray(R"({"count":1,"min":4,"max":5,"buckets":[[5,1]]})")
        << QStringLiteral("\"min\": 4 is not in the lowest non-empty bucket (bucket 5: 5..5)");
    QTest::newRow("max outside")
        << QByteArray(R"({"count":2,"min":5,"max":9,"buckets":[[5,1],[6,1]]})")
        << QStringLiteral("\"max\": 9 is not in the highest non-empty bucket (bucket 6: 6..6)");
    // 256 and 257 share a bucket, so only the order gives this away.
    QTest::newRow("min above max")
        << QByteArray(R"({"count":2,"min":257,"max":256,"buckets":[[256,2]]})")
        << QStringLiteral("\"min\": 257 is above \"max\" (256)");
}

void TestRunReport::badHistogram()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, message);
    const auto h = histogramFromJson(parse(json));
    QVERIFY(!h.ok());
    QCOMPARE(h.error().code, ErrorCode::BadRequest);
    QVERIFY2(h.error().message.startsWith(message), qPrintable(h.error().message));
}

void TestRunReport::endpointMergeIsExact()
{
    std::mt19937_64 random(5);
    std::vector<quint64> samples;
    for (int i = 0; i < 5000; ++i)
        samples.push_back(100'000 + random() % 50'000'000);
    LatencyHistogram all, first, second;
    for (size_t i = 0; i < samples.size(); ++i) {
        all.record(samples[i]);
        (i < 1700 ? first : second).record(samples[i]);
    }
    EndpointStats a = endpoint(QStringLiteral("GET /a"), 1800, {1, 2, 3, 4, 5}, 1'000'000, first);
    const EndpointStats b =
        endpoint(QStringLiteral("GET /a"), 3400, {10, 0, 30, 0, 50}, 2'500'000, second);
    a.merge(b);
    QCOMPARE(a.name, QStringLiteral("GET /a"));
    QCOMPARE(a.requests, quint64(5200));
    QCOMPARE(a.failures, (std::array<quint64, 5>{11, 2, 33, 4, 55}));
    QCOMPARE(a.failed(), quint64(105));
    QCOMPARE(a.succeeded(), quint64(5095));
    QCOMPARE(a.bytesReceived, quint64(3'500'000));
    QVERIFY(a.latency == all);
    QCOMPARE(a.latency.sum(), all.sum());
    QCOMPARE(a.errorRate(), 105.0 / 5200.0);
    // Merging an empty one changes nothing.
    const EndpointStats before = a;
    a.merge(EndpointStats{});
    QVERIFY(a == before);
}

void TestRunReport::endpointRoundTrip()
{
    const EndpointStats e = endpoint(QStringLiteral("POST /orders \"x\""), 1000, {1, 2, 3, 4, 5},
                                     123456789, lognormal(900, 3));
    const QJsonObject o = e.toJson();
    QCOMPARE(o.value(QLatin1String("failures")).toObject(),
             (QJsonObject{{QStringLiteral("connect"), 1},
                          {QStringLiteral("timeout"), 2},
                          {QStringLiteral("status"), 3},
                          {QStringLiteral("check"), 4},
                          {QStringLiteral("protocol"), 5}}));
    QVERIFY(o.value(QLatin1String("latency")).toObject().contains(QLatin1String("buckets")));
    const auto back = EndpointStats::fromJson(viaText(o));
    QVERIFY2(back.ok(), back.ok() ? "" : qPrintable(back.error().message));
    QVERIFY(back.value() == e);
    QCOMPARE(back.value().latency.sum(), e.latency.sum());
}

void TestRunReport::badEndpoint_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("message");
    QTest::newRow("name number") << QByteArray(R"({"name":5})")
                                 << QStringLiteral("\"name\": expected a string");
    QTest::newRow("requests bool")
        << QByteArray(R"({"requests":true})")
        << QStringLiteral("\"requests\": expected a non-negative integer");
    QTest::newRow("failures array") << QByteArray(R"({"requests":1,"failures":[1]})")
                                    << QStringLiteral("\"failures\": expected an object");
    QTest::newRow("failure kind text")
        << QByteArray(R"({"requests":1,"failures":{"timeout":"1"}})")
        << QStringLiteral("\"failures.timeout\": expected a non-negative integer");
    QTest::newRow("more failures than requests")
        << QByteArray(R"({"requests":3,"failures":{"connect":2,"check":2}})")
        << QStringLiteral("\"failures\": they add up to 4, more than \"requests\" (3)");
    QTest::newRow("latency text") << QByteArray(R"({"latency":"fast"})")
                                  << QStringLiteral("\"latency\": expected an object");
    QTest::newRow("latency inside")
        << QByteArray(R"({"latency":{"count":1,"buckets":[]}})")
        << QStringLiteral("\"latency.count\": is 1, but the buckets add up to 0");
}

void TestRunReport::badEndpoint()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, message);
    const auto e = EndpointStats::fromJson(parse(json));
    QVERIFY(!e.ok());
    QCOMPARE(e.error().code, ErrorCode::BadRequest);
    QVERIFY2(e.error().message.startsWith(message), qPrintable(e.error().message));
}

void TestRunReport::reportRoundTrip()
{
    RunReport r;
    r.id = QStringLiteral("0b7c2a34-5d6e-4f70-8192-a3b4c5d6e7f8");
    r.scenarioName = QStringLiteral("checkout <flow>");
    r.scenario = QJsonObject{{QStringLiteral("name"), QStringLiteral("checkout")},
                             {QStringLiteral("users"), 50},
                             {QStringLiteral("requests"), QJsonArray{QStringLiteral("a")}}};
    r.target = QStringLiteral("http://127.0.0.1:8080");
    r.model = QStringLiteral("open");
    r.startedAt = QDateTime(QDate(2024, 5, 1), QTime(12, 34, 56, 789), Qt::UTC);
    r.durationSeconds = 61.25;
    r.workers = 3;
    r.threads = 12;
    r.peakUsers = 250;
    r.status = QStringLiteral("failed");
    r.error = QStringLiteral("no error, really");
    r.dropped = 17;
    r.interrupted = 4;
    r.endpoints.append(endpoint(QStringLiteral("GET /items"), 9000, {1, 2, 3, 4, 5}, 90'000'000,
                                lognormal(8985, 1)));
    r.endpoints.append(endpoint(QStringLiteral("POST /orders"), 500, {0, 0, 20, 0, 0}, 500'000,
                                lognormal(500, 2)));
    r.endpoints.append(endpoint(QStringLiteral("idle"), 0, {}, 0, LatencyHistogram()));
    r.overall.name = QStringLiteral("all");
    for (const EndpointStats &e : r.endpoints)
        r.overall.merge(e);
    for (int s = 0; s < 5; ++s) {
        SecondSample x;
        x.second = s;
        x.requests = quint64(1000 + s);
        x.failures = quint64(s);
        x.activeUsers = 40 + s;
        x.targetRate = 100.5 + s;
        x.p50 = quint64(2'000'000 + s);
        x.p90 = quint64(3'000'000 + s);
        x.p95 = quint64(4'000'000 + s);
        x.p99 = quint64(9'000'000 + s);
        x.max = quint64(20'000'000 + s);
        r.series.append(x);
    }
    r.thresholds.append({QStringLiteral("p95 < 200ms"), true, 4.5e6});
    r.thresholds.append({QStringLiteral("error_rate < 0.1%"), false, 0.0036842105263157894});

    const QJsonObject json = r.toJson();
    QCOMPARE(json.value(QLatin1String("started_at")).toString(),
             QStringLiteral("2024-05-01T12:34:56.789Z"));
    QCOMPARE(json.value(QLatin1String("series")).toArray().first().toObject().keys(),
             (QStringList{QStringLiteral("failures"), QStringLiteral("max"), QStringLiteral("p50"),
                          QStringLiteral("p90"), QStringLiteral("p95"), QStringLiteral("p99"),
                          QStringLiteral("requests"), QStringLiteral("t"),
                          QStringLiteral("target_rate"), QStringLiteral("users")}));

    const auto back = RunReport::fromJson(viaText(json));
    QVERIFY2(back.ok(), back.ok() ? "" : qPrintable(back.error().message));
    const RunReport &b = back.value();
    QCOMPARE(b.id, r.id);
    QCOMPARE(b.scenarioName, r.scenarioName);
    QCOMPARE(b.scenario, r.scenario);
    QCOMPARE(b.target, r.target);
    QCOMPARE(b.model, r.model);
    QCOMPARE(b.startedAt, r.startedAt);
    QCOMPARE(b.startedAt.timeSpec(), Qt::UTC);
    QCOMPARE(b.durationSeconds, r.durationSeconds);
    QCOMPARE(b.workers, r.workers);
    QCOMPARE(b.threads, r.threads);
    QCOMPARE(b.peakUsers, r.peakUsers);
    QCOMPARE(b.status, r.status);
    QCOMPARE(b.error, r.error);
    QCOMPARE(b.dropped, r.dropped);
    QCOMPARE(b.interrupted, r.interrupted);
    QVERIFY(b.overall == r.overall);
    QCOMPARE(b.overall.latency.sum(), r.overall.latency.sum());
    QCOMPARE(b.endpoints.size(), r.endpoints.size());
    for (qsizetype i = 0; i < r.endpoints.size(); ++i) {
        QVERIFY2(b.endpoints.at(i) == r.endpoints.at(i), qPrintable(r.endpoints.at(i).name));
        QCOMPARE(b.endpoints.at(i).latency.sum(), r.endpoints.at(i).latency.sum());
    }
    QVERIFY(b.series == r.series);
    QVERIFY(b.thresholds == r.thresholds);
    QCOMPARE(b.thresholdsPassed(), false);
    QCOMPARE(b.requestsPerSecond(), r.requestsPerSecond());
    QVERIFY(b == r);

    // A default report too (no start time: null).
    const RunReport empty;
    QVERIFY(empty.toJson().value(QLatin1String("started_at")).isNull());
    const auto emptyBack = RunReport::fromJson(viaText(empty.toJson()));
    QVERIFY(emptyBack.ok());
    QVERIFY(emptyBack.value() == empty);
    QVERIFY(emptyBack.value().thresholdsPassed());
}

void TestRunReport::badReport_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("message");
    QTest::newRow("id") << QByteArray(R"({"id":1})") << QStringLiteral("\"id\": expected a string");
    QTest::newRow("scenario") << QByteArray(R"({"scenario":"x"})")
                              << QStringLiteral("\"scenario\": expected an object");
    QTest::newRow("started_at number") << QByteArray(R"({"started_at":1714566896})")
                                       << QStringLiteral("\"started_at\": expected a time like");
    QTest::newRow("started_at text") << QByteArray(R"({"started_at":"yesterday"})")
                                     << QStringLiteral("\"started_at\": expected a time like");
    QTest::newRow("duration") << QByteArray(R"({"duration_seconds":"60"})")
                              << QStringLiteral("\"duration_seconds\": expected a number");
    QTest::newRow("duration negative")
        << QByteArray(R"({"duration_seconds":-1})")
        << QStringLiteral("\"duration_seconds\": expected a number >= 0");
    QTest::newRow("workers") << QByteArray(R"({"workers":-2})")
                             << QStringLiteral("\"workers\": expected a non-negative integer");
    QTest::newRow("threads too big")
        << QByteArray(R"({"threads":3000000000})")
        << QStringLiteral("\"threads\": expected a non-negative integer");
    QTest::newRow("dropped") << QByteArray(R"({"dropped":0.5})")
                             << QStringLiteral("\"dropped\": expected a non-negative integer");
    QTest::newRow("overall") << QByteArray(R"({"overall":[]})")
                             << QStringLiteral("\"overall\": expected an object");
    QTest::newRow("overall failures")
        << QByteArray(R"({"overall":{"requests":1,"failures":{"connect":false}}})")
        << QStringLiteral("\"overall.failures.connect\": expected a non-negative integer");
    QTest::newRow("endpoints") << QByteArray(R"({"endpoints":{}})")
                               << QStringLiteral("\"endpoints\": expected an array");
    QTest::newRow("endpoint not object") << QByteArray(R"({"endpoints":[{}, 3]})")
                                         << QStringLiteral("\"endpoints[1]\": expected an object");
    QTest::newRow("endpoint latency bucket")
        << QByteArray(
               R"({"endpoints":[{}, {"requests":1,"latency":{"count":1,"min":5,"max":5,"buckets":[[99999,1]]}}]})")
        << QStringLiteral("\"endpoints[1].latency.buckets[0]\": bucket 99999 is outside");
    QTest::newRow("series") << QByteArray(R"({"series":[{"t":0},{"t":1},{"t":2,"p95":"slow"}]})")
                            << QStringLiteral("\"series[2].p95\": expected a non-negative integer");
    QTest::newRow("series element") << QByteArray(R"({"series":[null]})")
                                    << QStringLiteral("\"series[0]\": expected an object");
    QTest::newRow("series users") << QByteArray(R"({"series":[{"users":1.5}]})")
                                  << QStringLiteral(
                                         "\"series[0].users\": expected a non-negative integer");
    QTest::newRow("threshold passed")
        << QByteArray(R"({"thresholds":[{"text":"p95 < 1s","passed":"yes"}]})")
        << QStringLiteral("\"thresholds[0].passed\": expected true or false");
    QTest::newRow("threshold actual")
        << QByteArray(R"({"thresholds":[{"text":"p95 < 1s","passed":true,"actual":"1"}]})")
        << QStringLiteral("\"thresholds[0].actual\": expected a number");
}

void TestRunReport::badReport()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, message);
    const auto r = RunReport::fromJson(parse(json));
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::BadRequest);
    QVERIFY2(r.error().message.startsWith(message), qPrintable(r.error().message));
    QVERIFY(r.error().details.contains(QLatin1String("member")));
}

void TestRunReport::sampleIsLenient()
{
    const SecondSample s = SecondSample::fromJson(
        parse(R"({"t":7,"requests":"many","failures":2,"users":-1,"p50":1000,"max":2.5})"));
    QCOMPARE(s.second, qint64(7));
    QCOMPARE(s.requests, quint64(0));
    QCOMPARE(s.failures, quint64(2));
    QCOMPARE(s.activeUsers, 0);
    QCOMPARE(s.p50, quint64(1000));
    QCOMPARE(s.max, quint64(0));
}

QTEST_GUILESS_MAIN(TestRunReport)
#include "tst_runreport.moc"
