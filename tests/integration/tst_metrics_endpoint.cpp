// SPDX-License-Identifier: GPL-3.0-or-later
// GET /metrics from a running server: content type, the expected families with bounded
// route labels (patterns, never raw paths), rejection counters, process metrics, and the
// whole text accepted by `promtool check metrics`; plus the admin time-series API.
#include "MetricsSampler.h"
#include "TestSupport.h"

#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QtTest>

using namespace bulwark;
using namespace bulwark::test;

namespace {

// Value of the first sample line of `name` whose labels contain every one of `labels`
// (e.g. {"route=\"unmatched\""}); -1 when there is none.
double sample(const QByteArray &text, const QByteArray &name, const QList<QByteArray> &labels = {})
{
    for (const QByteArray &line : text.split('\n')) {
        if (line.startsWith('#') || !line.startsWith(name))
            continue;
        const QByteArray rest = line.mid(name.size());
        QByteArray labelPart;
        QByteArray value;
        if (rest.startsWith('{')) {
            const qsizetype close = rest.lastIndexOf('}');
            if (close < 0)
                continue;
            labelPart = rest.mid(1, close - 1);
            value = rest.mid(close + 1).trimmed();
        } else if (rest.startsWith(' ')) {
            value = rest.trimmed();
        } else {
            continue; // a longer name with the same prefix
        }
        bool all = true;
        for (const QByteArray &l : labels)
            all = all && labelPart.split(',').contains(l);
        if (!all)
            continue;
        bool ok = false;
        const double v = value.split(' ').first().toDouble(&ok);
        if (ok)
            return v;
    }
    return -1;
}

bool hasType(const QByteArray &text, const QByteArray &name, const QByteArray &type)
{
    return text.contains("\n# TYPE " + name + ' ' + type + '\n') ||
           text.startsWith("# TYPE " + name + ' ' + type + '\n');
}

} // namespace

class TestMetricsEndpoint : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void exposition();
    void rejectedConnectionsCounted();
    void promtoolAcceptsOutput();
    void seriesApi();

private:
    QByteArray scrape(quint16 port);
    std::unique_ptr<TestServer> m_server;
};

void TestMetricsEndpoint::initTestCase()
{
    m_server = std::make_unique<TestServer>();
    m_server->config.server.headerTimeout = Milliseconds(250);
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));

    // Traffic: three known routes, a 404 with an id-like path, a 405, and one request
    // left unfinished until the header timeout (a rejected connection).
    for (int i = 0; i < 3; ++i) {
        RawResponse r;
        BULWARK_CHECK(fetch(m_server->port(), "/health/live", &r));
        QCOMPARE(r.status, 200);
    }
    RawResponse r;
    BULWARK_CHECK(fetch(m_server->port(), "/nope/123", &r));
    QCOMPARE(r.status, 404);
    BULWARK_CHECK(fetch(m_server->port(), "/health/ready", &r));
    QCOMPARE(r.status, 200);
    RawHttpClient client;
    QVERIFY2(client.connectTo(m_server->port()), qPrintable(client.errorString()));
    QVERIFY2(client.send(request("POST", "/health", "Content-Length: 0\r\n")),
             qPrintable(client.errorString()));
    QVERIFY2(client.readResponse(&r), qPrintable(client.errorString()));
    QCOMPARE(r.status, 405);
    RawHttpClient slow;
    QVERIFY2(slow.connectTo(m_server->port()), qPrintable(slow.errorString()));
    QVERIFY2(slow.send("GET /health/live HTTP/1.1\r\n"), qPrintable(slow.errorString()));
    QVERIFY2(slow.readResponse(&r, 3000), qPrintable(slow.errorString()));
    QCOMPARE(r.status, 408);
}

void TestMetricsEndpoint::cleanupTestCase()
{
    m_server.reset();
}

QByteArray TestMetricsEndpoint::scrape(quint16 port)
{
    RawResponse r;
    fetch(port, "/metrics", &r);
    if (QTest::currentTestFailed())
        return {};
    if (r.status != 200) {
        QTest::qFail(qPrintable(QStringLiteral("GET /metrics: %1").arg(r.status)), __FILE__,
                     __LINE__);
        return {};
    }
    return r.body;
}

void TestMetricsEndpoint::exposition()
{
    RawResponse r;
    BULWARK_CHECK(fetch(m_server->port(), "/metrics", &r));
    QCOMPARE(r.status, 200);
    QVERIFY2(r.header("Content-Type").startsWith("text/plain; version=0.0.4"),
             r.header("Content-Type").constData());
    QCOMPARE(r.header("Cache-Control"), QByteArray("no-store"));
    const QByteArray text = r.body;
    QVERIFY(text.endsWith('\n'));

    QVERIFY2(hasType(text, "http_requests_total", "counter"), text.constData());
    QVERIFY(sample(text, "http_requests_total",
                   {"method=\"GET\"", "route=\"/health/live\"", "status=\"200\""}) >= 3);
    QVERIFY(sample(text, "http_requests_total",
                   {"method=\"GET\"", "route=\"/health/ready\"", "status=\"200\""}) >= 1);
    QVERIFY(sample(text, "http_requests_total",
                   {"method=\"POST\"", "route=\"/health\"", "status=\"405\""}) >= 1);
    // Bounded label values: the unmatched path is not a label.
    QCOMPARE(sample(text, "http_requests_total",
                    {"method=\"GET\"", "route=\"unmatched\"", "status=\"404\""}),
             1.0);
    QVERIFY2(!text.contains("/nope"), "a raw request path leaked into a label");

    QVERIFY(hasType(text, "http_request_duration_seconds", "histogram"));
    QVERIFY(sample(text, "http_request_duration_seconds_bucket",
                   {"method=\"GET\"", "route=\"/health/live\"", "le=\"+Inf\""}) >= 3);
    QVERIFY(sample(text, "http_request_duration_seconds_count",
                   {"method=\"GET\"", "route=\"/health/live\""}) >= 3);
    QVERIFY(sample(text, "http_request_duration_seconds_sum",
                   {"method=\"GET\"", "route=\"/health/live\""}) >= 0);

    QVERIFY(hasType(text, "http_requests_in_flight", "gauge"));
    // This very request is in flight while the text is produced.
    QCOMPARE(sample(text, "http_requests_in_flight"), 1.0);
    QVERIFY(hasType(text, "bulwark_http_open_connections", "gauge"));
    QVERIFY(sample(text, "bulwark_http_open_connections") >= 1);
    QVERIFY(hasType(text, "bulwark_http_connections_rejected_total", "counter"));
    QCOMPARE(sample(text, "bulwark_http_connections_rejected_total", {"reason=\"header_timeout\""}),
             1.0);

    QVERIFY(hasType(text, "process_resident_memory_bytes", "gauge"));
    QVERIFY(sample(text, "process_resident_memory_bytes") > 1024 * 1024);
    QVERIFY(hasType(text, "process_cpu_seconds_total", "counter"));
    QVERIFY(sample(text, "process_cpu_seconds_total") >= 0);
    QVERIFY(hasType(text, "process_open_fds", "gauge"));
    QVERIFY(sample(text, "process_open_fds") >= 3);
    QVERIFY(hasType(text, "bulwark_uptime_seconds", "gauge"));
    QVERIFY(sample(text, "bulwark_uptime_seconds") >= 0);
}

void TestMetricsEndpoint::rejectedConnectionsCounted()
{
    TestServer capped;
    capped.config.server.maxConnections = 1;
    QVERIFY2(capped.start(), qPrintable(capped.errorString()));
    RawHttpClient held;
    QVERIFY2(held.connectTo(capped.port()), qPrintable(held.errorString()));
    QVERIFY2(held.send(request("GET", "/health/live")), qPrintable(held.errorString()));
    RawResponse r;
    QVERIFY2(held.readResponse(&r), qPrintable(held.errorString()));
    QCOMPARE(r.status, 200);

    RawHttpClient refused;
    QVERIFY2(refused.connectTo(capped.port()), qPrintable(refused.errorString()));
    QVERIFY2(refused.readResponse(&r, 3000), qPrintable(refused.errorString()));
    QCOMPARE(r.status, 503);

    QVERIFY2(held.send(request("GET", "/metrics")), qPrintable(held.errorString()));
    QVERIFY2(held.readResponse(&r), qPrintable(held.errorString()));
    QCOMPARE(r.status, 200);
    QCOMPARE(
        sample(r.body, "bulwark_http_connections_rejected_total", {"reason=\"max_connections\""}),
        1.0);
    QCOMPARE(sample(r.body, "bulwark_http_open_connections"), 1.0);
}

void TestMetricsEndpoint::promtoolAcceptsOutput()
{
    const QString promtool = QStandardPaths::findExecutable(QStringLiteral("promtool"));
    if (promtool.isEmpty())
        QFAIL("promtool is missing; install the Debian package `prometheus` (it ships "
              "/usr/bin/promtool)");
    const QByteArray text = scrape(m_server->port());
    if (QTest::currentTestFailed())
        return;
    QVERIFY(!text.isEmpty());
    QProcess proc;
    proc.setProcessChannelMode(QProcess::MergedChannels);
    proc.start(promtool, {QStringLiteral("check"), QStringLiteral("metrics")});
    QVERIFY2(proc.waitForStarted(10000), qPrintable(proc.errorString()));
    proc.write(text);
    proc.closeWriteChannel();
    QVERIFY2(proc.waitForFinished(30000), "promtool did not finish within 30 s");
    const QByteArray output = proc.readAll();
    QVERIFY2(proc.exitStatus() == QProcess::NormalExit && proc.exitCode() == 0,
             qPrintable(QStringLiteral("promtool check metrics failed (exit %1):\n%2")
                            .arg(proc.exitCode())
                            .arg(QString::fromUtf8(output))));
    QVERIFY2(output.trimmed().isEmpty(), output.constData());
}

void TestMetricsEndpoint::seriesApi()
{
    const QByteArray auth = "Authorization: Bearer " + m_server->app()->adminToken() + "\r\n";
    QJsonObject series;
    // The sampler ticks every second on this (the main) thread; QTRY spins the event loop.
    auto sampled = [&]() {
        RawHttpClient client;
        if (!client.connectTo(m_server->port()) ||
            !client.send(request("GET", "/admin/api/metrics/series?seconds=60", auth)))
            return false;
        RawResponse r;
        if (!client.readResponse(&r) || r.status != 200)
            return false;
        series = r.json();
        return series.value(QStringLiteral("t")).toArray().size() >= 2;
    };
    QTRY_VERIFY_WITH_TIMEOUT(sampled(), 6000);

    QCOMPARE(series.value(QStringLiteral("interval")).toInt(), 1);
    QStringList names;
    for (const QJsonValue &v : series.value(QStringLiteral("series")).toArray())
        names.append(v.toString());
    QCOMPARE(names, MetricsSampler::seriesNames());
    const QJsonArray t = series.value(QStringLiteral("t")).toArray();
    const qint64 now = QDateTime::currentSecsSinceEpoch();
    QVERIFY(qAbs(t.last().toInteger() - now) <= 5);
    QVERIFY(t.last().toInteger() > t.first().toInteger());
    const QJsonObject values = series.value(QStringLiteral("values")).toObject();
    for (const QString &name : names) {
        const QJsonArray column = values.value(name).toArray();
        QCOMPARE(column.size(), t.size());
        for (const QJsonValue &v : column)
            QVERIFY2(v.isDouble() && v.toDouble() >= 0, qPrintable(name));
    }
    // The process is alive and has memory.
    QVERIFY(values.value(QStringLiteral("rss_bytes")).toArray().last().toDouble() > 0);

    RawResponse bad;
    BULWARK_CHECK(fetch(m_server->port(), "/admin/api/metrics/series?seconds=0", &bad, auth));
    BULWARK_CHECK(verifyJsonError(bad, 400, QStringLiteral("bad_request")));
}

QTEST_GUILESS_MAIN(TestMetricsEndpoint)
#include "tst_metrics_endpoint.moc"
