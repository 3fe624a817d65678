// SPDX-License-Identifier: GPL-3.0-or-later
// The pure parts of the load engine (LoadEngine.h), which decide what a run measures
// without any thread or socket: the open model's ArrivalSchedule (exact integer times that
// every process computes alike, checked against the formula and, for shapes that vary,
// against the running per-millisecond total it is defined by), the SeriesMerger that turns
// the seconds of several threads or processes into one series (every order of arrival,
// sources finishing early, skipping seconds, repeating or reporting out of order), the
// JSON forms of SecondPartial and EngineTotals that distributed workers send (round trips
// and every error message), EngineTotals::merge and overall(), and SecondPartial::sample().
#include "LoadEngine.h"
#include "LoadShape.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QTest>

using namespace bulwark;

Q_DECLARE_METATYPE(bulwark::SecondPartial)
Q_DECLARE_METATYPE(bulwark::EngineTotals)

namespace {

LoadShape shapeFromJson(const QByteArray &json)
{
    const auto r = LoadShape::fromJson(QJsonDocument::fromJson(json).object());
    if (!r.ok())
        qFatal("bad test shape %s: %s", json.constData(), qPrintable(r.error().message));
    return r.value();
}

LoadShape constantShape(int rate, qint64 durationMs)
{
    LoadShape s;
    s.kind = LoadShape::Kind::Constant;
    s.users = rate;
    s.durationMs = durationMs;
    return s;
}

// Every arrival of a schedule, until next() says the shape ended.
QList<qint64> allArrivals(ArrivalSchedule &schedule)
{
    QList<qint64> out;
    for (qint64 t = schedule.next(); t >= 0; t = schedule.next())
        out.append(t);
    return out;
}

// The definition ArrivalSchedule implements, written out: T(m) = the sum of usersAt(i) for
// i < m, in thousandths of an arrival; arrival k falls in the millisecond m with
// T(m) <= 1000 k < T(m + 1), at (1000 k - T(m)) * 1 000 000 / usersAt(m) ns into it (integer
// division). So a run has as many arrivals as there are k with 1000 k < T(end), which is
// T(end) / 1000 rounded up. Returns "" or what is wrong.
QString checkAgainstDefinition(const LoadShape &shape, const QList<qint64> &arrivals)
{
    const qint64 total = shape.totalDurationMs();
    QList<quint64> sum(total + 1, 0); // sum[m] = T(m)
    for (qint64 m = 0; m < total; ++m)
        sum[m + 1] = sum[m] + quint64(shape.usersAt(m));
    const quint64 expectedCount = (sum[total] + 999) / 1000;
    if (quint64(arrivals.size()) != expectedCount)
        return QStringLiteral("%1 arrivals, expected %2 (T(end) = %3)")
            .arg(arrivals.size())
            .arg(expectedCount)
            .arg(sum[total]);
    for (qsizetype k = 0; k < arrivals.size(); ++k) {
        const qint64 ns = arrivals[k];
        if (k > 0 && ns < arrivals[k - 1])
            return QStringLiteral("arrival %1 at %2 ns comes before arrival %3 at %4 ns")
                .arg(k)
                .arg(ns)
                .arg(k - 1)
                .arg(arrivals[k - 1]);
        const qint64 m = ns / 1'000'000;
        const quint64 wanted = quint64(k) * 1000;
        if (m < 0 || m >= total || !(sum[m] <= wanted && wanted < sum[m + 1]))
            return QStringLiteral("arrival %1 at %2 ns is not in the millisecond its total "
                                  "reaches %3")
                .arg(k)
                .arg(ns)
                .arg(wanted);
        const qint64 within = qint64((wanted - sum[m]) * 1'000'000 / quint64(shape.usersAt(m)));
        if (ns != m * 1'000'000 + within)
            return QStringLiteral("arrival %1 at %2 ns, expected %3")
                .arg(k)
                .arg(ns)
                .arg(m * 1'000'000 + within);
    }
    return {};
}

// -- SeriesMerger rows: what source `source` reports for `second`. An `ignored` report (one
// the merger must drop) carries different numbers, so counting it would show in the sums.
SecondPartial part(int source, qint64 second, bool ignored)
{
    SecondPartial p;
    p.second = second;
    p.requests = quint64(100 * (source + 1) + second + (ignored ? 1000 : 0));
    p.failures = quint64(source + second);
    p.failuresByKind[size_t((source + second) % kFailureKinds)] = p.failures;
    p.activeUsers = 10 * (source + 1) + int(second) + (ignored ? 500 : 0);
    // Source 0 asks for 50 + s, source 1 for 45 + 3 s: each is the larger one sometimes.
    p.targetRate = source == 0   ? 50.0 + double(second)
                   : source == 1 ? 45.0 + 3.0 * double(second)
                                 : 10.0;
    for (int j = 0; j <= source + int(second); ++j)
        p.latency.record(quint64(source + 1) * 1'000'000 + quint64(second) * 1000 + quint64(j));
    if (ignored)
        p.latency.record(9'000'000'000);
    return p;
}

struct Event
{
    int source = 0;
    bool finish = false;
    qint64 second = 0;
    bool ignored = false;
};

// "A0" (source 0 reports second 0), "B2!" (source 1 reports second 2, which the merger must
// ignore), "Cfin" (source 2 finishes).
Event parseEvent(const QString &text)
{
    Event e;
    e.source = text.at(0).unicode() - 'A';
    QString rest = text.mid(1);
    if (rest == QLatin1String("fin")) {
        e.finish = true;
        return e;
    }
    if (rest.endsWith(u'!')) {
        e.ignored = true;
        rest.chop(1);
    }
    e.second = rest.toLongLong();
    return e;
}

QString describe(const SecondPartial &p)
{
    QStringList kinds;
    for (quint64 n : p.failuresByKind)
        kinds << QString::number(n);
    return QStringLiteral("{t %1, requests %2, failures %3 [%4], users %5, rate %6, "
                          "latency count %7}")
        .arg(p.second)
        .arg(p.requests)
        .arg(p.failures)
        .arg(kinds.join(u' '))
        .arg(p.activeUsers)
        .arg(p.targetRate)
        .arg(p.latency.count());
}

bool samePartial(const SecondPartial &a, const SecondPartial &b)
{
    return a.second == b.second && a.requests == b.requests && a.failures == b.failures &&
           a.failuresByKind == b.failuresByKind && a.activeUsers == b.activeUsers &&
           a.targetRate == b.targetRate && a.latency == b.latency;
}

QJsonObject histogramObject(const QList<quint64> &values)
{
    LatencyHistogram h;
    for (quint64 v : values)
        h.record(v);
    return histogramToJson(h);
}

EndpointStats endpoint(const QString &name, quint64 requests, quint64 base)
{
    EndpointStats e;
    e.name = name;
    e.requests = requests;
    e.failures[size_t(FailureKind::Status)] = requests / 4;
    e.failures[size_t(FailureKind::Timeout)] = requests / 10;
    e.bytesReceived = requests * 512;
    for (quint64 i = 0; i < requests - requests / 10; ++i)
        e.latency.record(base + i * 997);
    return e;
}

SecondPartial fullPartial()
{
    SecondPartial p;
    p.second = 42;
    p.requests = 1234;
    p.failures = 15;
    p.failuresByKind = {1, 2, 3, 4, 5};
    p.activeUsers = 77;
    p.targetRate = 12.5;
    for (quint64 v = 1; v <= 1234; ++v)
        p.latency.record(v * 12'345);
    return p;
}

} // namespace

class TestLoadEngineParts : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // ArrivalSchedule
    void constantRate_data();
    void constantRate();
    void fourHundredPerSecondIsEvery2500Microseconds();
    void threePerSecond();
    void rampIsTheIntegral();
    void zeroRateStageHasNoArrivals();
    void emptyShapeHasNoArrivals();
    // SeriesMerger
    void merges_data();
    void merges();
    void ignoresUnknownSources();
    // SecondPartial and EngineTotals
    void secondRoundTrip_data();
    void secondRoundTrip();
    void secondErrors_data();
    void secondErrors();
    void sampleUsesTheHistogram_data();
    void sampleUsesTheHistogram();
    void totalsRoundTrip_data();
    void totalsRoundTrip();
    void totalsErrors_data();
    void totalsErrors();
    void totalsMerge();
    void overall();
};

// ------------------------------------------------------------------ ArrivalSchedule

void TestLoadEngineParts::constantRate_data()
{
    QTest::addColumn<int>("rate");
    QTest::addColumn<qint64>("durationMs");
    QTest::addColumn<int>("count");
    // count = ceil(rate * durationMs / 1000): the k with 1000 k < rate * durationMs.
    QTest::newRow("400/s for 4 s") << 400 << qint64(4000) << 1600;
    QTest::newRow("3/s for 2 s") << 3 << qint64(2000) << 6;
    QTest::newRow("1/s for 3 s") << 1 << qint64(3000) << 3;
    QTest::newRow("7/s for 1 s") << 7 << qint64(1000) << 7;
    QTest::newRow("1000/s for 1 s") << 1000 << qint64(1000) << 1000;
    QTest::newRow("2500/s for 2 s, several per ms") << 2500 << qint64(2000) << 5000;
    QTest::newRow("999/s for 1.5 s, a fraction left") << 999 << qint64(1500) << 1499;
    QTest::newRow("1/s for 0.5 s, the first is at 0") << 1 << qint64(500) << 1;
    QTest::newRow("0/s") << 0 << qint64(1000) << 0;
}

void TestLoadEngineParts::constantRate()
{
    QFETCH(int, rate);
    QFETCH(qint64, durationMs);
    QFETCH(int, count);
    const LoadShape shape = constantShape(rate, durationMs);
    ArrivalSchedule schedule(shape);
    const QList<qint64> arrivals = allArrivals(schedule);
    QCOMPARE(arrivals.size(), qsizetype(count));
    QCOMPARE(schedule.produced(), quint64(count));
    // At a constant rate r the running total at millisecond m is m r, so arrival k lands at
    //   floor(1000 k / r) ms + floor((1000 k mod r) * 1 000 000 / r) ns.
    for (int k = 0; k < count; ++k) {
        const qint64 thousandths = qint64(k) * 1000;
        const qint64 expected =
            thousandths / rate * 1'000'000 + (thousandths % rate) * 1'000'000 / rate;
        QVERIFY2(arrivals[k] == expected, qPrintable(QStringLiteral("arrival %1 at %2, expected %3")
                                                         .arg(k)
                                                         .arg(arrivals[k])
                                                         .arg(expected)));
    }
    QVERIFY2(checkAgainstDefinition(shape, arrivals).isEmpty(),
             qPrintable(checkAgainstDefinition(shape, arrivals)));
    // After the end: -1, again and again, and nothing more is counted.
    for (int i = 0; i < 3; ++i)
        QCOMPARE(schedule.next(), qint64(-1));
    QCOMPARE(schedule.produced(), quint64(count));
}

void TestLoadEngineParts::fourHundredPerSecondIsEvery2500Microseconds()
{
    const LoadShape shape = constantShape(400, 4000);
    ArrivalSchedule schedule(shape);
    const QList<qint64> arrivals = allArrivals(schedule);
    QCOMPARE(arrivals.size(), 1600);
    for (qsizetype k = 0; k < arrivals.size(); ++k)
        QCOMPARE(arrivals[k], qint64(k) * 2'500'000);
    QCOMPARE(arrivals.last(), qint64(3'997'500'000));
}

void TestLoadEngineParts::threePerSecond()
{
    // 1000 k / 3 ms: the thirds truncate to whole nanoseconds.
    const LoadShape shape = constantShape(3, 2000);
    ArrivalSchedule schedule(shape);
    const QList<qint64> expected{
        0, 333'333'333, 666'666'666, 1'000'000'000, 1'333'333'333, 1'666'666'666};
    QCOMPARE(allArrivals(schedule), expected);
    QCOMPARE(schedule.next(), qint64(-1));
}

void TestLoadEngineParts::rampIsTheIntegral()
{
    // usersAt(m) = round-half-up(m / 100): 0 for m < 50, then each of 1..99 for 100 ms, and
    // 100 for the last 50 ms. T(end) = 100 * (1 + ... + 99) + 50 * 100 = 500 000 thousandths:
    // 500 arrivals, the integral of 0 -> 100/s over 10 s. The first is at 50 ms, where the
    // rate first reaches 1/s.
    const LoadShape shape =
        shapeFromJson(R"({"shape":"ramp","start_users":0,"users":100,"duration":"10s"})");
    ArrivalSchedule schedule(shape);
    const QList<qint64> arrivals = allArrivals(schedule);
    quint64 sum = 0;
    for (qint64 m = 0; m < shape.totalDurationMs(); ++m)
        sum += quint64(shape.usersAt(m));
    QCOMPARE(sum, quint64(500'000));
    QCOMPARE(quint64(arrivals.size()), (sum + 999) / 1000);
    QCOMPARE(arrivals.size(), 500);
    QCOMPARE(arrivals.first(), qint64(50'000'000));
    QVERIFY(std::is_sorted(arrivals.cbegin(), arrivals.cend()));
    QVERIFY(arrivals.last() < 10'000'000'000);
    const QString wrong = checkAgainstDefinition(shape, arrivals);
    QVERIFY2(wrong.isEmpty(), qPrintable(wrong));
    QCOMPARE(schedule.next(), qint64(-1));
    QCOMPARE(schedule.next(), qint64(-1));
}

void TestLoadEngineParts::zeroRateStageHasNoArrivals()
{
    // 100/s for 1 s, down to 0 over 1 s, 0 for 2 s (from 2 s to 4 s), back up to 100 over
    // 1 s.
    const LoadShape shape = shapeFromJson(R"({"shape":"stages","start_users":100,"stages":[
        {"target":100,"duration":"1s"},{"target":0,"duration":"1s"},
        {"target":0,"duration":"2s"},{"target":100,"duration":"1s"}]})");
    QCOMPARE(shape.totalDurationMs(), qint64(5000));
    ArrivalSchedule schedule(shape);
    const QList<qint64> arrivals = allArrivals(schedule);
    const QString wrong = checkAgainstDefinition(shape, arrivals);
    QVERIFY2(wrong.isEmpty(), qPrintable(wrong));
    qsizetype before = 0, inside = 0, after = 0;
    for (qint64 t : arrivals) {
        if (t < 2'000'000'000)
            ++before;
        else if (t < 4'000'000'000)
            ++inside;
        else
            ++after;
    }
    QCOMPARE(inside, 0);
    QVERIFY(before > 100); // 100 in the first second and about 50 in the second
    QVERIFY(after > 0);
    QVERIFY(std::is_sorted(arrivals.cbegin(), arrivals.cend()));
    QCOMPARE(schedule.next(), qint64(-1));
}

void TestLoadEngineParts::emptyShapeHasNoArrivals()
{
    const LoadShape shape; // constant, 0 ms
    ArrivalSchedule schedule(shape);
    QCOMPARE(schedule.next(), qint64(-1));
    QCOMPARE(schedule.next(), qint64(-1));
    QCOMPARE(schedule.produced(), quint64(0));
}

// ------------------------------------------------------------------ SeriesMerger

void TestLoadEngineParts::merges_data()
{
    QTest::addColumn<int>("sources");
    // Events in order: "A0" source 0 reports second 0; "A1!" a report to be ignored;
    // "Afin" source 0 finishes.
    QTest::addColumn<QString>("events");
    // For each event, the seconds it completes: "-" none, "1,2" seconds 1 and 2.
    QTest::addColumn<QString>("emitted");

    // Both report 0..3, in various interleavings.
    QTest::newRow("A first") << 2 << "A0 A1 A2 A3 B0 B1 B2 B3 Afin Bfin"
                             << "-  -  -  -  0  1  2  3  -    -";
    QTest::newRow("B first") << 2 << "B0 B1 B2 B3 A0 A1 A2 A3 Bfin Afin"
                             << "-  -  -  -  0  1  2  3  -    -";
    QTest::newRow("alternating") << 2 << "A0 B0 A1 B1 A2 B2 A3 B3 Afin Bfin"
                                 << "-  0  -  1  -  2  -  3  -    -";
    QTest::newRow("alternating, B leads") << 2 << "B0 A0 A1 B1 B2 A2 B3 A3 Bfin Afin"
                                          << "-  0  -  1  -  2  -  3  -    -";
    QTest::newRow("A ahead by one") << 2 << "A0 A1 B0 A2 B1 B2 A3 B3 Afin Bfin"
                                    << "-  -  0  -  1  2  -  3  -    -";
    QTest::newRow("A ahead by three") << 2 << "A0 A1 A2 B0 B1 A3 B2 B3 Bfin Afin"
                                      << "-  -  -  0  1  -  2  3  -    -";
    QTest::newRow("three sources") << 3 << "A0 B0 C0 C1 B1 A1 Cfin Bfin A2 Afin"
                                   << "-  -  0  -  -  1  -    -    2  -";

    // A source that finishes early is not waited for beyond what it reported.
    QTest::newRow("A finishes first, before B reports") << 2 << "A0 A1 Afin B0 B1 B2 B3 Bfin"
                                                        << "-  -  -    0  1  2  3  -";
    QTest::newRow("A finishes last") << 2 << "B0 B1 B2 B3 A0 A1 Afin Bfin"
                                     << "-  -  -  -  0  1  2,3  -";
    QTest::newRow("A finishes while B waits for it") << 2 << "A0 B0 B1 B2 Afin B3 Bfin"
                                                     << "-  0  -  -  1,2  3  -";
    QTest::newRow("A finishes without a report") << 2 << "Afin B0 B1 Bfin"
                                                 << "-    0  1  -";
    QTest::newRow("a report after finishing") << 2 << "A0 Afin A1! B0 B1"
                                              << "-  -    -   0  1";

    // Repeated and out-of-order reports are ignored.
    QTest::newRow("repeated") << 2 << "A0 A0! B0 A1 A1! B1"
                              << "-  -   0  -  -   1";
    QTest::newRow("late, after a skip") << 2 << "A0 A2 A1! B0 B1 B2"
                                        << "-  -  -   0  1  2";
    QTest::newRow("already merged") << 2 << "A0 B0 A1 B1 B0!"
                                    << "-  0  -  1  -";
    QTest::newRow("backwards") << 2 << "A3 A1! B0 B1 B2 B3"
                               << "-  -   0  1  2  3";

    // A skipped second counts as reported with nothing in it.
    QTest::newRow("A skips 1") << 2 << "A0 A2 B0 B1 B2"
                               << "-  -  0  1  2";
    QTest::newRow("both skip 0") << 2 << "A1 B1"
                                 << "-  0,1";
    QTest::newRow("A skips to 3, B finishes") << 2 << "A0 A3 B0 Bfin"
                                              << "-  -  0  1,2,3";

    // When every source has finished, everything pending comes out.
    QTest::newRow("all finish") << 2 << "A0 A1 A2 B0 Afin Bfin"
                                << "-  -  -  0  -    1,2";
    QTest::newRow("all finish, the other order") << 2 << "A0 A1 B0 Bfin Afin"
                                                 << "-  -  0  1    -";
}

void TestLoadEngineParts::merges()
{
    QFETCH(int, sources);
    QFETCH(QString, events);
    QFETCH(QString, emitted);
    const QStringList eventList = events.split(u' ', Qt::SkipEmptyParts);
    const QStringList emittedList = emitted.split(u' ', Qt::SkipEmptyParts);
    QCOMPARE(eventList.size(), emittedList.size());

    // What each second should sum to: the reports the merger keeps.
    QMap<qint64, QList<SecondPartial>> kept;
    for (const QString &text : eventList) {
        const Event e = parseEvent(text);
        if (!e.finish && !e.ignored)
            kept[e.second].append(part(e.source, e.second, false));
    }

    SeriesMerger merger(sources);
    qint64 nextSecond = 0;
    for (qsizetype i = 0; i < eventList.size(); ++i) {
        const Event e = parseEvent(eventList[i]);
        const QList<SecondPartial> out =
            e.finish ? merger.finish(e.source)
                     : merger.add(e.source, part(e.source, e.second, e.ignored));
        QStringList got;
        for (const SecondPartial &p : out)
            got << QString::number(p.second);
        const QString gotText = got.isEmpty() ? QStringLiteral("-") : got.join(u',');
        QVERIFY2(gotText == emittedList[i],
                 qPrintable(QStringLiteral("after %1: emitted %2, expected %3")
                                .arg(eventList[i], gotText, emittedList[i])));
        for (const SecondPartial &p : out) {
            // In order, each once.
            QCOMPARE(p.second, nextSecond++);
            SecondPartial want;
            want.second = p.second;
            for (const SecondPartial &k : kept.value(p.second)) {
                want.requests += k.requests;
                want.failures += k.failures;
                for (size_t j = 0; j < k.failuresByKind.size(); ++j)
                    want.failuresByKind[j] += k.failuresByKind[j];
                want.activeUsers += k.activeUsers;
                want.targetRate = std::max(want.targetRate, k.targetRate);
                want.latency.merge(k.latency);
            }
            QVERIFY2(samePartial(p, want), qPrintable(QStringLiteral("second %1: %2, expected %3")
                                                          .arg(p.second)
                                                          .arg(describe(p), describe(want))));
        }
    }
}

void TestLoadEngineParts::ignoresUnknownSources()
{
    SeriesMerger merger(2);
    QVERIFY(merger.add(-1, part(0, 0, false)).isEmpty());
    QVERIFY(merger.add(2, part(0, 0, false)).isEmpty());
    QVERIFY(merger.finish(-1).isEmpty());
    QVERIFY(merger.finish(2).isEmpty());
    QVERIFY(merger.add(0, part(0, 0, false)).isEmpty());
    QVERIFY(merger.finish(0).isEmpty());
    QVERIFY(merger.finish(0).isEmpty()); // finishing twice counts once
    const QList<SecondPartial> out = merger.add(1, part(1, 0, false));
    QCOMPARE(out.size(), 1);
    QCOMPARE(out[0].requests, quint64(100 + 200));
}

// ------------------------------------------------------------------ SecondPartial

void TestLoadEngineParts::secondRoundTrip_data()
{
    QTest::addColumn<SecondPartial>("partial");
    QTest::newRow("empty") << SecondPartial{};
    QTest::newRow("full") << fullPartial();
    SecondPartial big = fullPartial();
    big.second = 86'399;
    big.requests = quint64(1) << 40;
    big.failures = (quint64(1) << 40) - 1;
    big.failuresByKind = {quint64(1) << 39, 0, 0, 0, (quint64(1) << 39) - 1};
    big.activeUsers = 1'000'000;
    big.targetRate = 0.001;
    big.latency.record(LatencyHistogram::kMaxValue, 3);
    QTest::newRow("large numbers") << big;
}

void TestLoadEngineParts::secondRoundTrip()
{
    QFETCH(SecondPartial, partial);
    const QJsonObject json = partial.toJson();
    // Directly, and through the bytes a worker sends.
    const QJsonObject reread = QJsonDocument::fromJson(QJsonDocument(json).toJson()).object();
    for (const QJsonObject &o : {json, reread}) {
        const auto r = SecondPartial::fromJson(o);
        QVERIFY2(r.ok(), r.ok() ? "" : qPrintable(r.error().message));
        const SecondPartial &back = r.value();
        QCOMPARE(back.second, partial.second);
        QCOMPARE(back.requests, partial.requests);
        QCOMPARE(back.failures, partial.failures);
        QCOMPARE(back.failuresByKind, partial.failuresByKind);
        QCOMPARE(back.activeUsers, partial.activeUsers);
        QCOMPARE(back.targetRate, partial.targetRate);
        QVERIFY(back.latency == partial.latency);
        QCOMPARE(back.latency.sum(), partial.latency.sum());
    }
}

void TestLoadEngineParts::secondErrors_data()
{
    QTest::addColumn<QString>("member");
    QTest::addColumn<QJsonValue>("value"); // undefined: the member is removed
    QTest::addColumn<QString>("message");
    const QJsonValue removed(QJsonValue::Undefined);
    QTest::newRow("no t") << "t" << removed << "second: t: expected a number";
    QTest::newRow("requests a string")
        << "requests" << QJsonValue(QStringLiteral("12")) << "second: requests: expected a number";
    QTest::newRow("failures null")
        << "failures" << QJsonValue(QJsonValue::Null) << "second: failures: expected a number";
    QTest::newRow("no users") << "users" << removed << "second: users: expected a number";
    QTest::newRow("target_rate a bool")
        << "target_rate" << QJsonValue(true) << "second: target_rate: expected a number";
    QTest::newRow("no kinds") << "kinds" << removed << "second: kinds: expected 5 numbers";
    QTest::newRow("four kinds") << "kinds" << QJsonValue(QJsonArray{1, 2, 3, 4})
                                << "second: kinds: expected 5 numbers";
    QTest::newRow("six kinds") << "kinds" << QJsonValue(QJsonArray{1, 2, 3, 4, 5, 6})
                               << "second: kinds: expected 5 numbers";
    QJsonObject countOff = histogramObject({1000, 2000});
    countOff.insert(QStringLiteral("count"), 3);
    QTest::newRow("latency count off")
        << "latency" << QJsonValue(countOff)
        << "second: latency: \"count\": is 3, but the buckets add up to 2";
    QJsonObject outside = histogramObject({100});
    outside.insert(QStringLiteral("buckets"), QJsonArray{QJsonArray{4864, 1}});
    QTest::newRow("latency bucket out of range")
        << "latency" << QJsonValue(outside)
        << "second: latency: \"buckets[0]\": bucket 4864 is outside 0..4863";
    QJsonObject negative = histogramObject({});
    negative.insert(QStringLiteral("count"), -1);
    QTest::newRow("latency count negative")
        << "latency" << QJsonValue(negative)
        << "second: latency: \"count\": expected a non-negative integer";
}

void TestLoadEngineParts::secondErrors()
{
    QFETCH(QString, member);
    QFETCH(QJsonValue, value);
    QFETCH(QString, message);
    QJsonObject o = fullPartial().toJson();
    QVERIFY(SecondPartial::fromJson(o).ok());
    if (value.isUndefined())
        o.remove(member);
    else
        o.insert(member, value);
    const auto r = SecondPartial::fromJson(o);
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::BadRequest);
    QCOMPARE(r.error().message, message);
}

void TestLoadEngineParts::sampleUsesTheHistogram_data()
{
    QTest::addColumn<QList<quint64>>("values");
    QTest::newRow("no requests") << QList<quint64>{};
    QTest::newRow("one") << QList<quint64>{1'234'567};
    QList<quint64> uniform;
    for (quint64 ms = 1; ms <= 1000; ++ms)
        uniform << ms * 1'000'000;
    QTest::newRow("1..1000 ms") << uniform;
    QList<quint64> tail(990, 2'000'000);
    for (int i = 0; i < 10; ++i)
        tail << 3'000'000'000 + quint64(i);
    QTest::newRow("slow tail") << tail;
}

void TestLoadEngineParts::sampleUsesTheHistogram()
{
    QFETCH(QList<quint64>, values);
    SecondPartial p;
    p.second = 7;
    p.requests = quint64(values.size()) + 3;
    p.failures = 3;
    p.failuresByKind[size_t(FailureKind::Timeout)] = 3;
    p.activeUsers = 12;
    p.targetRate = 250;
    for (quint64 v : values)
        p.latency.record(v);
    const SecondSample s = p.sample();
    QCOMPARE(s.second, qint64(7));
    QCOMPARE(s.requests, p.requests);
    QCOMPARE(s.failures, quint64(3));
    QCOMPARE(s.activeUsers, 12);
    QCOMPARE(s.targetRate, 250.0);
    QCOMPARE(s.p50, p.latency.valueAtQuantile(0.50));
    QCOMPARE(s.p90, p.latency.valueAtQuantile(0.90));
    QCOMPARE(s.p95, p.latency.valueAtQuantile(0.95));
    QCOMPARE(s.p99, p.latency.valueAtQuantile(0.99));
    QCOMPARE(s.max, p.latency.max());
    if (values.isEmpty()) {
        QCOMPARE(s.p50, quint64(0));
        QCOMPARE(s.max, quint64(0));
    } else {
        QCOMPARE(s.max, *std::max_element(values.cbegin(), values.cend()));
    }
    if (values.size() == 1000 && values.first() == 1'000'000) {
        // Nearest rank, within the histogram's 0.4 %.
        QVERIFY(qAbs(double(s.p50) - 500e6) <= 0.004 * 500e6);
        QVERIFY(qAbs(double(s.p99) - 990e6) <= 0.004 * 990e6);
    }
}

// ------------------------------------------------------------------ EngineTotals

void TestLoadEngineParts::totalsRoundTrip_data()
{
    QTest::addColumn<EngineTotals>("totals");
    QTest::newRow("empty") << EngineTotals{};
    EngineTotals t;
    t.endpoints = {endpoint(QStringLiteral("list users"), 400, 1'000'000),
                   endpoint(QStringLiteral("create user"), 37, 5'000'000),
                   endpoint(QStringLiteral("never answered"), 0, 0)};
    t.dropped = 12;
    t.interrupted = 3;
    t.peakUsers = 250;
    t.durationSeconds = 61.234;
    QTest::newRow("three endpoints") << t;
}

void TestLoadEngineParts::totalsRoundTrip()
{
    QFETCH(EngineTotals, totals);
    const QJsonObject json = totals.toJson();
    const QJsonObject reread = QJsonDocument::fromJson(QJsonDocument(json).toJson()).object();
    for (const QJsonObject &o : {json, reread}) {
        const auto r = EngineTotals::fromJson(o);
        QVERIFY2(r.ok(), r.ok() ? "" : qPrintable(r.error().message));
        const EngineTotals &back = r.value();
        QCOMPARE(back.endpoints.size(), totals.endpoints.size());
        for (qsizetype i = 0; i < totals.endpoints.size(); ++i) {
            QCOMPARE(back.endpoints[i].name, totals.endpoints[i].name);
            QVERIFY(back.endpoints[i] == totals.endpoints[i]);
            QVERIFY(back.endpoints[i].latency == totals.endpoints[i].latency);
        }
        QCOMPARE(back.dropped, totals.dropped);
        QCOMPARE(back.interrupted, totals.interrupted);
        QCOMPARE(back.peakUsers, totals.peakUsers);
        QCOMPARE(back.durationSeconds, totals.durationSeconds);
    }
}

void TestLoadEngineParts::totalsErrors_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("message");
    QTest::newRow("no endpoints") << QByteArray(R"({"dropped":1})")
                                  << "totals: endpoints: expected an array";
    QTest::newRow("endpoints an object")
        << QByteArray(R"({"endpoints":{}})") << "totals: endpoints: expected an array";
    QTest::newRow("name a number")
        << QByteArray(R"({"endpoints":[{"name":5}]})") << "totals: endpoints[0]: \"name\": expected a string";
    QTest::newRow("requests a string")
        << QByteArray(R"({"endpoints":[{"name":"a","requests":"x"}]})")
        << "totals: endpoints[0]: \"requests\": expected a non-negative integer";
    QTest::newRow("failures above requests")
        << QByteArray(R"({"endpoints":[{"name":"a","requests":3,"failures":{"connect":5}}]})")
        << "totals: endpoints[0]: \"failures\": they add up to 5, more than \"requests\" (3)";
    QTest::newRow("latency count off")
        << QByteArray(R"({"endpoints":[{"name":"a","requests":1},{"name":"b","requests":3,
                          "latency":{"count":3,"min":1,"max":1,"sum":2,"buckets":[[1,2]]}}]})")
        << "totals: endpoints[1]: \"latency.count\": is 3, but the buckets add up to 2";
}

void TestLoadEngineParts::totalsErrors()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, message);
    QJsonParseError e;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &e);
    QVERIFY2(e.error == QJsonParseError::NoError, qPrintable(e.errorString()));
    const auto r = EngineTotals::fromJson(doc.object());
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::BadRequest);
    QCOMPARE(r.error().message, message);
}

void TestLoadEngineParts::totalsMerge()
{
    const EndpointStats list1 = endpoint(QStringLiteral("list"), 100, 1'000'000);
    const EndpointStats get1 = endpoint(QStringLiteral("get"), 40, 2'000'000);
    const EndpointStats get2 = endpoint(QStringLiteral("get"), 60, 3'000'000);
    const EndpointStats post2 = endpoint(QStringLiteral("post"), 8, 9'000'000);

    EngineTotals a;
    a.endpoints = {list1, get1};
    a.dropped = 1;
    a.interrupted = 2;
    a.peakUsers = 10;
    a.durationSeconds = 5.0;
    EngineTotals b;
    b.endpoints = {get2, post2};
    b.dropped = 3;
    b.interrupted = 4;
    b.peakUsers = 7;
    b.durationSeconds = 6.5;

    EngineTotals m = a;
    m.merge(b);
    QCOMPARE(m.endpoints.size(), 3); // by name; a new name goes at the end
    QCOMPARE(m.endpoints[0].name, QStringLiteral("list"));
    QCOMPARE(m.endpoints[1].name, QStringLiteral("get"));
    QCOMPARE(m.endpoints[2].name, QStringLiteral("post"));
    QVERIFY(m.endpoints[0] == list1);
    EndpointStats get = get1;
    get.merge(get2);
    QVERIFY(m.endpoints[1] == get);
    QCOMPARE(m.endpoints[1].requests, quint64(100));
    QCOMPARE(m.endpoints[1].failures[size_t(FailureKind::Status)], quint64(10 + 15));
    QCOMPARE(m.endpoints[1].bytesReceived, quint64(100 * 512));
    QCOMPARE(m.endpoints[1].latency.count(), get1.latency.count() + get2.latency.count());
    QVERIFY(m.endpoints[2] == post2);
    QCOMPARE(m.dropped, quint64(4));
    QCOMPARE(m.interrupted, quint64(6));
    QCOMPARE(m.peakUsers, 17); // summed: an upper bound, as the code says
    QCOMPARE(m.durationSeconds, 6.5);

    // The longer duration wins either way round.
    EngineTotals n = b;
    n.merge(a);
    QCOMPARE(n.durationSeconds, 6.5);
    QCOMPARE(n.endpoints.size(), 3);
    QCOMPARE(n.endpoints[0].name, QStringLiteral("get"));
    QCOMPARE(n.endpoints[1].name, QStringLiteral("post"));
    QCOMPARE(n.endpoints[2].name, QStringLiteral("list"));

    // Into nothing: a copy.
    EngineTotals empty;
    empty.merge(a);
    QCOMPARE(empty.endpoints.size(), 2);
    QVERIFY(empty.endpoints[0] == list1);
    QVERIFY(empty.endpoints[1] == get1);
    QCOMPARE(empty.durationSeconds, 5.0);
    QCOMPARE(empty.peakUsers, 10);
}

void TestLoadEngineParts::overall()
{
    EngineTotals t;
    EndpointStats none = t.overall();
    QCOMPARE(none.name, QStringLiteral("all"));
    QCOMPARE(none.requests, quint64(0));
    QCOMPARE(none.latency.count(), quint64(0));

    t.endpoints = {endpoint(QStringLiteral("list"), 100, 1'000'000),
                   endpoint(QStringLiteral("get"), 40, 2'000'000),
                   endpoint(QStringLiteral("post"), 8, 9'000'000)};
    const EndpointStats all = t.overall();
    QCOMPARE(all.name, QStringLiteral("all"));
    QCOMPARE(all.requests, quint64(148));
    QCOMPARE(all.failures[size_t(FailureKind::Status)], quint64(25 + 10 + 2));
    QCOMPARE(all.failures[size_t(FailureKind::Timeout)], quint64(10 + 4 + 0));
    QCOMPARE(all.bytesReceived, quint64(148 * 512));
    LatencyHistogram h;
    for (const EndpointStats &e : t.endpoints)
        h.merge(e.latency);
    QVERIFY(all.latency == h);
    QCOMPARE(all.latency.count(), quint64(90 + 36 + 8));
}

QTEST_GUILESS_MAIN(TestLoadEngineParts)
#include "tst_loadengineparts.moc"
