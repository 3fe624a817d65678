// SPDX-License-Identifier: GPL-3.0-or-later
// ReportWriter on hand-built reports whose numbers are known: latency formatting at each
// unit's edges; the terminal summary's header, totals, table cells and thresholds, every
// table line the same width, long names cut to stay within 120 columns; the CSV forms byte
// for byte (quoting included); the HTML parsed as XML from start to end, with one <svg> per
// chart, no script and no external reference, a hostile endpoint name escaped, and the
// empty and single-second series handled; compare() with its changes, signs and verdicts.
#include "ReportWriter.h"

#include <QJsonDocument>
#include <QTest>
#include <QXmlStreamReader>

using namespace bulwark;

namespace {

constexpr quint64 kMs = 1'000'000;

// A value whose histogram quantiles are exact: the low end of its bucket (the bucket's
// midpoint is clamped to the max, which is this value).
quint64 bucketFloor(quint64 ns)
{
    return LatencyHistogram::bucketLow(LatencyHistogram::bucketOf(ns));
}

EndpointStats endpoint(const QString &name)
{
    EndpointStats e;
    e.name = name;
    return e;
}

// GET /items: 100 requests, all 2 ms. POST /orders: 50 requests, 10 failed (8 status,
// 2 timeouts, no latency), 40 at 10 ms and 8 at ~250 ms.
RunReport handBuilt()
{
    RunReport r;
    r.id = QStringLiteral("5f0c1e2d-aaaa-bbbb-cccc-0123456789ab");
    r.scenarioName = QStringLiteral("checkout");
    r.target = QStringLiteral("http://127.0.0.1:8080");
    r.model = QStringLiteral("closed");
    r.startedAt = QDateTime(QDate(2024, 5, 1), QTime(12, 0, 0), Qt::UTC);
    r.durationSeconds = 60;
    r.workers = 1;
    r.threads = 4;
    r.peakUsers = 20;
    r.status = QStringLiteral("failed");

    EndpointStats items = endpoint(QStringLiteral("GET /items"));
    items.requests = 100;
    items.bytesReceived = 2048 * 100;
    items.latency.record(2 * kMs, 100);
    EndpointStats orders = endpoint(QStringLiteral("POST /orders"));
    orders.requests = 50;
    orders.failures[size_t(FailureKind::Status)] = 8;
    orders.failures[size_t(FailureKind::Timeout)] = 2;
    orders.bytesReceived = 1000;
    orders.latency.record(10 * kMs, 40);
    orders.latency.record(bucketFloor(250 * kMs), 8);
    r.endpoints = {items, orders};
    r.overall.name = QStringLiteral("all");
    r.overall.merge(items);
    r.overall.merge(orders);

    r.thresholds.append({QStringLiteral("p95 < 200ms"), false, double(bucketFloor(250 * kMs))});
    r.thresholds.append({QStringLiteral("error_rate < 10%"), true, 10.0 / 150.0});
    r.thresholds.append({QStringLiteral("rps >= 10"), false, 2.5});
    for (int s = 0; s < 60; ++s) {
        SecondSample x;
        x.second = s;
        x.requests = 2 + quint64(s % 3);
        x.failures = s % 6 == 0 ? 1 : 0;
        x.activeUsers = std::min(20, s + 1);
        x.p50 = 2 * kMs;
        x.p90 = 10 * kMs;
        x.p95 = 12 * kMs;
        x.p99 = 250 * kMs;
        x.max = 251 * kMs;
        if (s == 30) // a second without responses
            x.p50 = x.p90 = x.p95 = x.p99 = x.max = 0;
        r.series.append(x);
    }
    return r;
}

QStringList tableLines(const QString &summary)
{
    const QStringList lines = summary.split(u'\n');
    qsizetype start = -1;
    for (qsizetype i = 0; i < lines.size() && start < 0; ++i)
        if (lines.at(i).startsWith(QLatin1String("Endpoint ")))
            start = i;
    QStringList out;
    for (qsizetype i = start; i >= 0 && i < lines.size() && !lines.at(i).isEmpty(); ++i)
        out.append(lines.at(i));
    return out;
}

// The cells of a table row after its name.
QStringList cellsAfter(const QString &line, const QString &name)
{
    if (!line.startsWith(name))
        return {};
    return line.mid(name.size()).split(u' ', Qt::SkipEmptyParts);
}

QString rowOf(const QStringList &lines, const QString &name)
{
    for (const QString &l : lines)
        if (l.startsWith(name + u' '))
            return l;
    return {};
}

struct XmlCheck
{
    bool wellFormed = false;
    QString error;
    int svgs = 0;
    int scripts = 0;
    QStringList texts;
};

XmlCheck parseXml(const QByteArray &html)
{
    XmlCheck check;
    QXmlStreamReader xml(html);
    while (!xml.atEnd()) {
        xml.readNext();
        if (xml.isStartElement()) {
            if (xml.name() == QLatin1String("svg"))
                ++check.svgs;
            if (xml.name() == QLatin1String("script"))
                ++check.scripts;
        } else if (xml.isCharacters()) {
            check.texts.append(xml.text().toString());
        }
    }
    check.wellFormed = !xml.hasError();
    check.error = xml.errorString();
    return check;
}

} // namespace

class TestReportWriter : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void formatsLatency_data();
    void formatsLatency();
    void summaryNumbers();
    void summaryAlignment();
    void summaryLongNames();
    void summaryEmptyRun();
    void csvExact();
    void seriesCsvExact();
    void jsonIsTheReport();
    void htmlWellFormed();
    void htmlEscapes();
    void htmlEmptyAndSinglePoint();
    void htmlOpenModel();
    void compareRuns();
};

void TestReportWriter::formatsLatency_data()
{
    QTest::addColumn<double>("ns");
    QTest::addColumn<QString>("text");
    QTest::newRow("0") << 0.0 << "0ns";
    QTest::newRow("ns") << 999.0 << "999ns";
    QTest::newRow("ns rounds up") << 999.6 << "1us";
    QTest::newRow("us") << 850'000.0 << "850us";
    QTest::newRow("us rounds up") << 999'600.0 << "1.0ms";
    QTest::newRow("ms") << 12'345'678.0 << "12.3ms";
    QTest::newRow("ms edge") << 999'940'000.0 << "999.9ms";
    QTest::newRow("ms rounds up") << 999'960'000.0 << "1.00s";
    QTest::newRow("s") << 1'200'000'000.0 << "1.20s";
    QTest::newRow("long") << 754'321'000'000.0 << "754.32s";
}

void TestReportWriter::formatsLatency()
{
    QFETCH(double, ns);
    QFETCH(QString, text);
    QCOMPARE(ReportWriter::formatLatency(ns), text);
}

void TestReportWriter::summaryNumbers()
{
    const RunReport r = handBuilt();
    const QString s = ReportWriter::summaryTable(r);
    for (const char *expected :
         {"  scenario      checkout\n", "  target        http://127.0.0.1:8080\n",
          "  model         closed\n", "  started       2024-05-01 12:00:00 UTC\n",
          "  duration      60.0 s\n", "  load          1 worker, 4 threads\n",
          "  peak users    20\n", "  status        FAILED (1 of 3 thresholds passed)\n",
          "  requests      150\n", "  succeeded     140\n",
          "  failed        10 (timeout 2, status 8)\n", "  error rate    6.67%\n",
          "  requests/s    2.5\n", "  received      201.0 KiB (205800 bytes)\n"}) {
        QVERIFY2(s.contains(QLatin1String(expected)), expected);
    }
    QVERIFY(!s.contains(QLatin1String("dropped"))); // closed model, none dropped

    const QStringList table = tableLines(s);
    QCOMPARE(table.size(), 6); // header, rule, two endpoints, rule, all
    QCOMPARE(cellsAfter(table.at(0), QStringLiteral("Endpoint")),
             (QStringList{"Requests", "Failed", "Error%", "Min", "Avg", "p50", "p90", "p95", "p99",
                          "p99.9", "Max"}));
    QCOMPARE(cellsAfter(rowOf(table, QStringLiteral("GET /items")), QStringLiteral("GET /items")),
             (QStringList{"100", "0", "0.00%", "2.0ms", "2.0ms", "2.0ms", "2.0ms", "2.0ms", "2.0ms",
                          "2.0ms", "2.0ms"}));
    const QString slow = ReportWriter::formatLatency(double(bucketFloor(250 * kMs)));
    QCOMPARE(slow, QStringLiteral("249.6ms"));
    const double ordersAvg = (40.0 * 10 * kMs + 8.0 * double(bucketFloor(250 * kMs))) / 48.0;
    QCOMPARE(
        cellsAfter(rowOf(table, QStringLiteral("POST /orders")), QStringLiteral("POST /orders")),
        (QStringList{"50", "10", "20.00%", "10.0ms", ReportWriter::formatLatency(ordersAvg),
                     "10.0ms", slow, slow, slow, slow, slow}));
    QCOMPARE(ReportWriter::formatLatency(ordersAvg), QStringLiteral("49.9ms"));
    // all: 148 samples; p50 is the 74th (2 ms), p90 the 134th (10 ms), p95 the 141st (slow).
    QCOMPARE(cellsAfter(rowOf(table, QStringLiteral("all")), QStringLiteral("all")),
             (QStringList{"150", "10", "6.67%", "2.0ms",
                          ReportWriter::formatLatency(r.overall.latency.mean()), "2.0ms", "10.0ms",
                          slow, slow, slow, slow}));

    QVERIFY(s.contains(QLatin1String("\nThresholds\n")));
    QVERIFY(s.contains(QStringLiteral("  FAIL  p95 < 200ms       actual %1\n").arg(slow)));
    QVERIFY(s.contains(QLatin1String("  PASS  error_rate < 10%  actual 6.67%\n")));
    QVERIFY(s.contains(QLatin1String("  FAIL  rps >= 10         actual 2.5/s\n")));
    // Plain ASCII throughout.
    for (QChar c : s)
        QVERIFY2(c.unicode() < 128, qPrintable(QString(c)));
}

void TestReportWriter::summaryAlignment()
{
    RunReport r = handBuilt();
    r.endpoints[0].name = QStringLiteral("a");
    EndpointStats idle = endpoint(QStringLiteral("a somewhat longer endpoint name"));
    r.endpoints.append(idle); // no requests: "-" for latencies
    const QStringList table = tableLines(ReportWriter::summaryTable(r));
    QCOMPARE(table.size(), 7);
    for (const QString &line : table) {
        QCOMPARE(line.size(), table.first().size());
        QVERIFY(!line.endsWith(u' '));
    }
    QVERIFY(table.at(1).count(u'-') == table.at(1).size());
    QCOMPARE(cellsAfter(rowOf(table, idle.name), idle.name),
             (QStringList{"0", "0", "0.00%", "-", "-", "-", "-", "-", "-", "-", "-"}));
    QVERIFY(table.first().size() <= 120);
}

void TestReportWriter::summaryLongNames()
{
    RunReport r = handBuilt();
    const QString longName = QStringLiteral("GET /api/v1/") + QString(200, u'x');
    r.endpoints[0].name = longName;
    const QString s = ReportWriter::summaryTable(r);
    for (const QString &line : s.split(u'\n'))
        QVERIFY2(line.size() <= 120, qPrintable(line));
    const QStringList table = tableLines(s);
    QCOMPARE(table.size(), 6);
    for (const QString &line : table)
        QCOMPARE(line.size(), table.first().size());
    const QString row = table.at(2);
    QVERIFY(row.startsWith(QLatin1String("GET /api/v1/xxx")));
    QVERIFY(row.contains(QLatin1String("x...  ")));
}

void TestReportWriter::summaryEmptyRun()
{
    RunReport r;
    r.scenarioName = QStringLiteral("nothing");
    r.model = QStringLiteral("open");
    r.status = QStringLiteral("error");
    r.error = QStringLiteral("could not resolve the target");
    r.thresholds.append({QStringLiteral("p95 < 1s"), false, 0});
    const QString s = ReportWriter::summaryTable(r);
    QVERIFY(s.contains(QLatin1String("  error         could not resolve the target\n")));
    QVERIFY(s.contains(QLatin1String("  dropped       0 (")));
    QVERIFY(s.contains(QLatin1String("  FAIL  p95 < 1s  actual none (no responses)\n")));
    const QStringList table = tableLines(s);
    QCOMPARE(table.size(), 3); // header, rule, all
    QCOMPARE(cellsAfter(table.at(2), QStringLiteral("all")),
             (QStringList{"0", "0", "0.00%", "-", "-", "-", "-", "-", "-", "-", "-"}));
}

void TestReportWriter::csvExact()
{
    RunReport r;
    r.durationSeconds = 1;
    EndpointStats a = endpoint(QStringLiteral("a,\"b\""));
    a.requests = 3;
    a.failures[size_t(FailureKind::Check)] = 1;
    a.bytesReceived = 300;
    a.latency.record(1'500'000, 3);
    EndpointStats idle = endpoint(QStringLiteral("idle"));
    r.endpoints = {a, idle};
    r.overall.merge(a);
    r.overall.merge(idle);
    const QByteArray expected =
        "endpoint,requests,succeeded,failed,connect,timeout,status,check,protocol,error_rate,"
        "bytes_received,min_ms,avg_ms,p50_ms,p90_ms,p95_ms,p99_ms,p99_9_ms,max_ms\r\n"
        "\"a,\"\"b\"\"\",3,2,1,0,0,0,1,0,0.333333,300,1.500,1.500,1.500,1.500,1.500,1.500,1.500,"
        "1.500\r\n"
        "idle,0,0,0,0,0,0,0,0,0.000000,0,,,,,,,,\r\n"
        "all,3,2,1,0,0,0,1,0,0.333333,300,1.500,1.500,1.500,1.500,1.500,1.500,1.500,1.500\r\n";
    QCOMPARE(ReportWriter::toCsv(r), expected);
}

void TestReportWriter::seriesCsvExact()
{
    RunReport r;
    SecondSample a;
    a.second = 0;
    a.requests = 10;
    a.failures = 1;
    a.activeUsers = 5;
    a.targetRate = 12.5;
    a.p50 = 1'234'567;
    a.p90 = 2'000'000;
    a.p95 = 3'000'000;
    a.p99 = 4'000'000;
    a.max = 5'000'001;
    SecondSample b;
    b.second = 1;
    b.requests = 2;
    b.failures = 2;
    b.activeUsers = 6;
    r.series = {a, b};
    const QByteArray expected =
        "second,requests,failures,active_users,target_rate,p50_ms,p90_ms,p95_ms,p99_ms,max_ms\r\n"
        "0,10,1,5,12.500,1.235,2.000,3.000,4.000,5.000\r\n"
        "1,2,2,6,0.000,,,,,\r\n";
    QCOMPARE(ReportWriter::seriesCsv(r), expected);
    QCOMPARE(ReportWriter::seriesCsv(RunReport()),
             QByteArray("second,requests,failures,active_users,target_rate,p50_ms,p90_ms,"
                        "p95_ms,p99_ms,max_ms\r\n"));
}

void TestReportWriter::jsonIsTheReport()
{
    const RunReport r = handBuilt();
    const QByteArray json = ReportWriter::toJson(r);
    QVERIFY(json.contains("\n    \"")); // indented
    const auto back = RunReport::fromJson(QJsonDocument::fromJson(json).object());
    QVERIFY(back.ok());
    QVERIFY(back.value() == r);
}

void TestReportWriter::htmlWellFormed()
{
    const QByteArray html = ReportWriter::toHtml(handBuilt());
    QVERIFY(html.startsWith("<!DOCTYPE html>"));
    const XmlCheck xml = parseXml(html);
    QVERIFY2(xml.wellFormed, qPrintable(xml.error));
    QCOMPARE(xml.svgs, 3);
    QCOMPARE(xml.scripts, 0);
    // Self-contained: no external references of any kind.
    QVERIFY(!html.contains("src="));
    QVERIFY(!html.contains("href"));
    QVERIFY(!html.contains("@import"));
    QVERIFY(!html.contains("url("));
    const QString all = xml.texts.join(u'\n');
    for (const char *expected :
         {"checkout", "GET /items", "POST /orders", "p95 < 200ms", "249.6ms", "6.67%", "requests/s",
          "errors/s", "p99", "active users", "seconds since the start", "FAIL", "PASS"})
        QVERIFY2(all.contains(QLatin1String(expected)), expected);
    // One path per line (2 + 3 + 1); the second without responses breaks each latency line
    // into two runs (a second "M").
    QCOMPARE(html.count("<path "), 6);
    QCOMPARE(html.count(" M"), 3);
}

void TestReportWriter::htmlEscapes()
{
    RunReport r = handBuilt();
    r.endpoints[0].name = QStringLiteral("<script>alert('x')</script> & \"co\"");
    r.scenarioName = QStringLiteral("</title><script>bad()</script>");
    r.target = QStringLiteral("http://x/?a=1&b=<2>");
    r.error = QStringLiteral("bell\x07 and nul-ish \x01");
    r.scenario = QJsonObject{{QStringLiteral("name"), QStringLiteral("<b>bold</b>")}};
    const QByteArray html = ReportWriter::toHtml(r);
    QVERIFY(!html.contains("<script"));
    QVERIFY(!html.contains("<b>"));
    QVERIFY(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;co&quot;"));
    const XmlCheck xml = parseXml(html);
    QVERIFY2(xml.wellFormed, qPrintable(xml.error));
    QCOMPARE(xml.scripts, 0);
    const QString all = xml.texts.join(u'\n');
    QVERIFY(all.contains(QStringLiteral("<script>alert('x')</script> & \"co\"")));
    QVERIFY(all.contains(QStringLiteral("http://x/?a=1&b=<2>")));
}

void TestReportWriter::htmlEmptyAndSinglePoint()
{
    RunReport r = handBuilt();
    r.series.clear();
    QByteArray html = ReportWriter::toHtml(r);
    XmlCheck xml = parseXml(html);
    QVERIFY2(xml.wellFormed, qPrintable(xml.error));
    QCOMPARE(xml.svgs, 0);
    QVERIFY(html.contains("No per-second data"));

    r = handBuilt();
    r.series = {r.series.at(3)};
    html = ReportWriter::toHtml(r);
    xml = parseXml(html);
    QVERIFY2(xml.wellFormed, qPrintable(xml.error));
    QCOMPARE(xml.svgs, 3);
    QVERIFY(html.contains("<circle")); // a lone point is a dot
    QVERIFY(!html.contains("nan"));
    QVERIFY(!html.contains("inf"));

    html = ReportWriter::toHtml(RunReport());
    xml = parseXml(html);
    QVERIFY2(xml.wellFormed, qPrintable(xml.error));
}

void TestReportWriter::htmlOpenModel()
{
    RunReport r = handBuilt();
    r.model = QStringLiteral("open");
    for (SecondSample &s : r.series)
        s.targetRate = 2.5;
    const QByteArray html = ReportWriter::toHtml(r);
    const XmlCheck xml = parseXml(html);
    QVERIFY2(xml.wellFormed, qPrintable(xml.error));
    QCOMPARE(xml.svgs, 3);
    const QString all = xml.texts.join(u'\n');
    QVERIFY(all.contains(QLatin1String("target arrivals/s")));
    QVERIFY(all.contains(QLatin1String("requests in flight")));
}

void TestReportWriter::compareRuns()
{
    RunReport a = handBuilt();
    RunReport b = handBuilt();
    b.id = QStringLiteral("99990000-1111-2222-3333-444455556666");
    // B: 20 % more requests in the same time, all latencies halved, a new endpoint, the
    // orders endpoint gone, more failures.
    b.durationSeconds = 50;
    b.endpoints.removeLast();
    b.endpoints[0].latency.reset();
    b.endpoints[0].latency.record(1 * kMs, 100);
    b.endpoints[0].failures[size_t(FailureKind::Status)] = 20;
    EndpointStats search = endpoint(QStringLiteral("GET /search"));
    search.requests = 50;
    search.latency.record(5 * kMs, 50);
    b.endpoints.append(search);
    b.overall = EndpointStats{};
    for (const EndpointStats &e : b.endpoints)
        b.overall.merge(e);

    const QString text = ReportWriter::compare(a, b);
    const QStringList lines = text.split(u'\n');
    const auto row = [&lines](const QString &metric) {
        for (const QString &l : lines)
            if (l.startsWith(metric + QStringLiteral("  ")))
                return l.simplified();
        return QString();
    };
    QVERIFY(text.startsWith(QLatin1String("Comparing load-test runs (change: B against A)\n")));
    QVERIFY(text.contains(QLatin1String("  A  checkout, 2024-05-01 12:00:00 UTC, id 5f0c1e2d")));
    QVERIFY(text.contains(QLatin1String("  B  checkout, 2024-05-01 12:00:00 UTC, id 99990000")));
    // 150 requests in 60 s against 150 in 50 s: +20 %.
    QCOMPARE(row(QStringLiteral("requests/s")),
             QStringLiteral("requests/s 2.5 3.0 +20.0 % better"));
    // 10/150 against 20/150: twice the error rate.
    QCOMPARE(row(QStringLiteral("error rate")),
             QStringLiteral("error rate 6.67% 13.33% +100.0 % worse"));
    QCOMPARE(row(QStringLiteral("min")), QString()); // not a compared metric
    // max: ~249.6 ms against 5 ms.
    QVERIFY(row(QStringLiteral("max")).endsWith(QLatin1String("-98.0 % better")));
    QCOMPARE(row(QStringLiteral("GET /items: p95")),
             QStringLiteral("GET /items: p95 2.0ms 1.0ms -50.0 % better"));
    QCOMPARE(row(QStringLiteral("GET /items: requests/s")),
             QStringLiteral("GET /items: requests/s 1.7 2.0 +20.0 % better"));
    QVERIFY(!text.contains(QLatin1String("POST /orders: p95")));
    QVERIFY(text.contains(QLatin1String("Only in A: \"POST /orders\"\n")));
    QVERIFY(text.contains(QLatin1String("Only in B: \"GET /search\"\n")));

    // Against itself: all the same.
    const QString same = ReportWriter::compare(a, a);
    QVERIFY(!same.contains(QLatin1String("better")));
    QVERIFY(!same.contains(QLatin1String("worse")));
    QVERIFY(same.contains(QLatin1String("+0.0 %  same")));
    QVERIFY(!same.contains(QLatin1String("Only in")));
    // From zero: n/a, still judged.
    RunReport none;
    const QString fromZero = ReportWriter::compare(none, a);
    QVERIFY(fromZero.contains(QLatin1String("n/a  better"))); // requests/s from 0
    QVERIFY(fromZero.contains(QLatin1String("n/a  worse")));  // latencies from nothing
}

QTEST_GUILESS_MAIN(TestReportWriter)
#include "tst_reportwriter.moc"
