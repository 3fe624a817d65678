// SPDX-License-Identifier: GPL-3.0-or-later
// See RunReport.h. Reading JSON goes through one small helper (Members) that reads the
// members of one object by name, checks each one's type, and keeps the first error with
// the member's full path ("endpoints[1].latency.count"), so every message says where the
// document is wrong. Integers are written as JSON integers (Qt keeps them exact up to
// 2^63); nanosecond values and counts stay far below that.
#include "RunReport.h"

#include <QJsonValue>
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

namespace bulwark {

namespace {

constexpr std::array<FailureKind, kFailureKinds> kAllKinds{
    FailureKind::Connect, FailureKind::Timeout, FailureKind::Status, FailureKind::Check,
    FailureKind::Protocol};

QJsonValue jsonCount(quint64 v)
{
    if (v <= quint64(std::numeric_limits<qint64>::max()))
        return QJsonValue(qint64(v));
    return QJsonValue(double(v));
}

QString memberName(const QString &path, const char *key)
{
    const QString k = QString::fromLatin1(key);
    return path.isEmpty() ? k : path + u'.' + k;
}

Error badMember(const QString &member, const QString &what)
{
    return Error{ErrorCode::BadRequest, QStringLiteral("\"%1\": %2").arg(member, what),
                 QJsonObject{{QStringLiteral("member"), member}}};
}

// Reads members of one JSON object. Absent members leave their target alone; a member of
// the wrong type records an error (the first one wins; later reads do nothing). Lenient
// readers record nothing and go on.
class Members
{
public:
    Members(const QJsonObject &o, QString path, bool lenient = false)
        : m_o(o), m_path(std::move(path)), m_lenient(lenient)
    {
    }

    bool ok() const { return !m_error.has_value(); }
    const Error &error() const { return *m_error; }
    QString name(const char *key) const { return memberName(m_path, key); }
    void fail(const Error &error)
    {
        if (!m_lenient && !m_error)
            m_error = error;
    }
    void fail(const QString &member, const QString &what) { fail(badMember(member, what)); }

    void u64(const char *key, quint64 &out)
    {
        if (const auto i = nonNegative(key, std::numeric_limits<qint64>::max()))
            out = quint64(*i);
    }
    void i64(const char *key, qint64 &out)
    {
        if (const auto i = nonNegative(key, std::numeric_limits<qint64>::max()))
            out = *i;
    }
    void integer(const char *key, int &out)
    {
        if (const auto i = nonNegative(key, std::numeric_limits<int>::max()))
            out = int(*i);
    }
    void real(const char *key, double &out)
    {
        const QJsonValue v = value(key);
        if (v.isUndefined())
            return;
        if (!v.isDouble() || !std::isfinite(v.toDouble()))
            return fail(name(key), QStringLiteral("expected a number"));
        out = v.toDouble();
    }
    void string(const char *key, QString &out)
    {
        const QJsonValue v = value(key);
        if (v.isUndefined())
            return;
        if (!v.isString())
            return fail(name(key), QStringLiteral("expected a string"));
        out = v.toString();
    }
    void boolean(const char *key, bool &out)
    {
        const QJsonValue v = value(key);
        if (v.isUndefined())
            return;
        if (!v.isBool())
            return fail(name(key), QStringLiteral("expected true or false"));
        out = v.toBool();
    }
    void object(const char *key, QJsonObject &out)
    {
        const QJsonValue v = value(key);
        if (v.isUndefined())
            return;
        if (!v.isObject())
            return fail(name(key), QStringLiteral("expected an object"));
        out = v.toObject();
    }
    // Absent: an empty array.
    QJsonArray array(const char *key)
    {
        const QJsonValue v = value(key);
        if (v.isUndefined())
            return {};
        if (!v.isArray()) {
            fail(name(key), QStringLiteral("expected an array"));
            return {};
        }
        return v.toArray();
    }
    // The member as an object, or nothing (absent, or the wrong type: then an error).
    std::optional<QJsonObject> optionalObject(const char *key)
    {
        if (value(key).isUndefined())
            return std::nullopt;
        QJsonObject o;
        object(key, o);
        return ok() || m_lenient ? std::optional<QJsonObject>(o) : std::nullopt;
    }

private:
    QJsonValue value(const char *key) const
    {
        if (!ok())
            return QJsonValue(QJsonValue::Undefined);
        return m_o.value(QLatin1String(key));
    }
    // An integer in [0, max]; nothing when absent or mistyped (then an error).
    std::optional<qint64> nonNegative(const char *key, qint64 max)
    {
        const QJsonValue v = value(key);
        if (v.isUndefined())
            return std::nullopt;
        const qint64 i = v.isDouble() ? v.toInteger(-1) : -1;
        if (i < 0 || i > max) {
            fail(name(key), QStringLiteral("expected a non-negative integer"));
            return std::nullopt;
        }
        return i;
    }

    const QJsonObject &m_o;
    QString m_path;
    bool m_lenient = false;
    std::optional<Error> m_error;
};

Result<LatencyHistogram> readHistogram(const QJsonObject &o, const QString &path)
{
    Members m(o, path);
    quint64 count = 0, min = 0, max = 0;
    double sum = 0;
    m.u64("count", count);
    m.u64("min", min);
    m.u64("max", max);
    m.real("sum", sum);
    const QJsonArray buckets = m.array("buckets");
    if (!m.ok())
        return m.error();
    if (sum < 0)
        return badMember(m.name("sum"), QStringLiteral("expected a number >= 0"));

    std::vector<std::pair<int, quint64>> pairs;
    pairs.reserve(size_t(buckets.size()));
    quint64 total = 0;
    const QString bucketsName = m.name("buckets");
    for (qsizetype i = 0; i < buckets.size(); ++i) {
        const QString at = QStringLiteral("%1[%2]").arg(bucketsName).arg(i);
        const QJsonArray pair = buckets.at(i).toArray(); // empty when not an array
        const auto integerAt = [&pair](qsizetype j) -> std::optional<qint64> {
            const QJsonValue v = pair.at(j);
            if (!v.isDouble() || v.toDouble() != std::trunc(v.toDouble()))
                return std::nullopt;
            return v.toInteger();
        };
        const std::optional<qint64> bucketValue = pair.size() == 2 ? integerAt(0) : std::nullopt;
        const std::optional<qint64> countValue = pair.size() == 2 ? integerAt(1) : std::nullopt;
        if (!bucketValue || !countValue)
            return badMember(at, QStringLiteral("expected a [bucket, count] pair of integers"));
        const qint64 bucket = *bucketValue;
        const qint64 n = *countValue;
        if (n < 0)
            return badMember(at, QStringLiteral("a count cannot be negative"));
        if (bucket < 0 || bucket >= LatencyHistogram::kBuckets)
            return badMember(at, QStringLiteral("bucket %1 is outside 0..%2")
                                     .arg(bucket)
                                     .arg(LatencyHistogram::kBuckets - 1));
        if (!pairs.empty() && bucket <= pairs.back().first)
            return badMember(at, QStringLiteral("bucket %1 does not come after bucket %2 (each "
                                                "bucket once, in increasing order)")
                                     .arg(bucket)
                                     .arg(pairs.back().first));
        if (total + quint64(n) < total)
            return badMember(at, QStringLiteral("the counts overflow"));
        total += quint64(n);
        if (n > 0)
            pairs.emplace_back(int(bucket), quint64(n));
    }
    if (total != count)
        return badMember(
            m.name("count"),
            QStringLiteral("is %1, but the buckets add up to %2").arg(count).arg(total));
    if (count > 0) {
        const int low = pairs.front().first;
        const int high = pairs.back().first;
        const auto range = [](int b) {
            return QStringLiteral("bucket %1: %2..%3")
                .arg(b)
                .arg(LatencyHistogram::bucketLow(b))
                .arg(LatencyHistogram::bucketHigh(b));
        };
        if (LatencyHistogram::bucketOf(min) != low)
            return badMember(m.name("min"),
                             QStringLiteral("%1 is not in the lowest non-empty bucket (%2)")
                                 .arg(min)
                                 .arg(range(low)));
        if (LatencyHistogram::bucketOf(max) != high)
            return badMember(m.name("max"),
                             QStringLiteral("%1 is not in the highest non-empty bucket (%2)")
                                 .arg(max)
                                 .arg(range(high)));
        if (min > max)
            return badMember(m.name("min"),
                             QStringLiteral("%1 is above \"max\" (%2)").arg(min).arg(max));
    }
    return LatencyHistogram::fromBuckets(pairs, min, max, sum);
}

Result<EndpointStats> readEndpoint(const QJsonObject &o, const QString &path)
{
    EndpointStats e;
    Members m(o, path);
    m.string("name", e.name);
    m.u64("requests", e.requests);
    m.u64("bytes_received", e.bytesReceived);
    if (const auto failures = m.optionalObject("failures")) {
        Members f(*failures, m.name("failures"));
        for (FailureKind kind : kAllKinds) {
            const QByteArray key = failureKindName(kind).toLatin1();
            f.u64(key.constData(), e.failures[size_t(kind)]);
        }
        if (!f.ok())
            return f.error();
    }
    if (const auto errors = m.optionalObject("errors")) {
        Members em(*errors, m.name("errors"));
        for (auto it = errors->begin(); it != errors->end(); ++it) {
            quint64 n = 0;
            const QByteArray key = it.key().toUtf8();
            em.u64(key.constData(), n);
            e.errors.insert(it.key(), n);
        }
        if (!em.ok())
            return em.error();
    }
    const auto latency = m.optionalObject("latency");
    if (!m.ok())
        return m.error();
    if (latency) {
        auto h = readHistogram(*latency, m.name("latency"));
        if (!h.ok())
            return h.error();
        e.latency = std::move(h).value();
    }
    quint64 failed = 0;
    for (quint64 n : e.failures) {
        if (failed + n < failed)
            return badMember(m.name("failures"), QStringLiteral("the counts overflow"));
        failed += n;
    }
    if (failed > e.requests)
        return badMember(m.name("failures"),
                         QStringLiteral("they add up to %1, more than \"requests\" (%2)")
                             .arg(failed)
                             .arg(e.requests));
    return e;
}

void readSample(Members &m, SecondSample &s)
{
    m.i64("t", s.second);
    m.u64("requests", s.requests);
    m.u64("failures", s.failures);
    m.integer("users", s.activeUsers);
    m.real("target_rate", s.targetRate);
    m.u64("p50", s.p50);
    m.u64("p90", s.p90);
    m.u64("p95", s.p95);
    m.u64("p99", s.p99);
    m.u64("max", s.max);
}

QJsonObject percentiles(const LatencyHistogram &h)
{
    return QJsonObject{
        {QStringLiteral("min"), jsonCount(h.min())},
        {QStringLiteral("mean"), h.mean()},
        {QStringLiteral("p50"), jsonCount(h.valueAtQuantile(0.50))},
        {QStringLiteral("p90"), jsonCount(h.valueAtQuantile(0.90))},
        {QStringLiteral("p95"), jsonCount(h.valueAtQuantile(0.95))},
        {QStringLiteral("p99"), jsonCount(h.valueAtQuantile(0.99))},
        {QStringLiteral("p99.9"), jsonCount(h.valueAtQuantile(0.999))},
        {QStringLiteral("max"), jsonCount(h.max())},
    };
}

} // namespace

QString failureKindName(FailureKind kind)
{
    switch (kind) {
    case FailureKind::Connect: return QStringLiteral("connect");
    case FailureKind::Timeout: return QStringLiteral("timeout");
    case FailureKind::Status: return QStringLiteral("status");
    case FailureKind::Check: return QStringLiteral("check");
    case FailureKind::Protocol: return QStringLiteral("protocol");
    }
    return QStringLiteral("unknown");
}

QJsonObject histogramToJson(const LatencyHistogram &h)
{
    QJsonArray buckets;
    if (h.count() > 0) {
        for (int b = 0; b < LatencyHistogram::kBuckets; ++b) {
            if (const quint64 n = h.countAt(b))
                buckets.append(QJsonArray{b, jsonCount(n)});
        }
    }
    return QJsonObject{
        {QStringLiteral("count"), jsonCount(h.count())},
        {QStringLiteral("min"), jsonCount(h.min())},
        {QStringLiteral("max"), jsonCount(h.max())},
        {QStringLiteral("sum"), h.sum()},
        {QStringLiteral("buckets"), buckets},
    };
}

Result<LatencyHistogram> histogramFromJson(const QJsonObject &o)
{
    return readHistogram(o, QString());
}

quint64 EndpointStats::failed() const
{
    quint64 n = 0;
    for (quint64 f : failures)
        n += f;
    return n;
}

void EndpointStats::addError(const QString &message, quint64 count)
{
    auto it = errors.find(message);
    if (it != errors.end())
        *it += count;
    else if (errors.size() < kMaxErrorMessages)
        errors.insert(message, count);
    else
        errors[kOtherErrors] += count; // may make it the 21st entry: the one overflow bucket
}

void EndpointStats::merge(const EndpointStats &other)
{
    requests += other.requests;
    for (size_t i = 0; i < failures.size(); ++i)
        failures[i] += other.failures[i];
    bytesReceived += other.bytesReceived;
    latency.merge(other.latency);
    for (auto it = other.errors.begin(); it != other.errors.end(); ++it)
        addError(it.key(), it.value());
}

QJsonObject EndpointStats::toJson() const
{
    QJsonObject errorsJson;
    for (auto it = errors.begin(); it != errors.end(); ++it)
        errorsJson.insert(it.key(), jsonCount(it.value()));
    QJsonObject f;
    for (FailureKind kind : kAllKinds)
        f.insert(failureKindName(kind), jsonCount(failures[size_t(kind)]));
    return QJsonObject{
        {QStringLiteral("name"), name},
        {QStringLiteral("requests"), jsonCount(requests)},
        {QStringLiteral("failures"), f},
        {QStringLiteral("bytes_received"), jsonCount(bytesReceived)},
        {QStringLiteral("latency"), histogramToJson(latency)},
        {QStringLiteral("errors"), errorsJson},
        // Derived, for readers without the histogram layout (ignored by fromJson).
        {QStringLiteral("failed"), jsonCount(failed())},
        {QStringLiteral("error_rate"), errorRate()},
        {QStringLiteral("latency_ns"), percentiles(latency)},
    };
}

Result<EndpointStats> EndpointStats::fromJson(const QJsonObject &o)
{
    return readEndpoint(o, QString());
}

QJsonObject SecondSample::toJson() const
{
    return QJsonObject{
        {QStringLiteral("t"), second},
        {QStringLiteral("requests"), jsonCount(requests)},
        {QStringLiteral("failures"), jsonCount(failures)},
        {QStringLiteral("users"), activeUsers},
        {QStringLiteral("target_rate"), targetRate},
        {QStringLiteral("p50"), jsonCount(p50)},
        {QStringLiteral("p90"), jsonCount(p90)},
        {QStringLiteral("p95"), jsonCount(p95)},
        {QStringLiteral("p99"), jsonCount(p99)},
        {QStringLiteral("max"), jsonCount(max)},
    };
}

SecondSample SecondSample::fromJson(const QJsonObject &o)
{
    SecondSample s;
    Members m(o, QString(), /*lenient=*/true);
    readSample(m, s);
    return s;
}

bool RunReport::thresholdsPassed() const
{
    return std::all_of(thresholds.cbegin(), thresholds.cend(),
                       [](const ThresholdResult &t) { return t.passed; });
}

QJsonObject RunReport::toJson() const
{
    QJsonArray endpointArray;
    for (const EndpointStats &e : endpoints)
        endpointArray.append(e.toJson());
    QJsonArray seriesArray;
    for (const SecondSample &s : series)
        seriesArray.append(s.toJson());
    QJsonArray thresholdArray;
    for (const ThresholdResult &t : thresholds)
        thresholdArray.append(QJsonObject{{QStringLiteral("text"), t.text},
                                          {QStringLiteral("passed"), t.passed},
                                          {QStringLiteral("actual"), t.actual}});
    return QJsonObject{
        {QStringLiteral("id"), id},
        {QStringLiteral("scenario_name"), scenarioName},
        {QStringLiteral("scenario"), scenario},
        {QStringLiteral("target"), target},
        {QStringLiteral("model"), model},
        {QStringLiteral("started_at"),
         startedAt.isValid() ? QJsonValue(startedAt.toUTC().toString(Qt::ISODateWithMs))
                             : QJsonValue(QJsonValue::Null)},
        {QStringLiteral("duration_seconds"), durationSeconds},
        {QStringLiteral("workers"), workers},
        {QStringLiteral("threads"), threads},
        {QStringLiteral("peak_users"), peakUsers},
        {QStringLiteral("status"), status},
        {QStringLiteral("error"), error},
        {QStringLiteral("dropped"), jsonCount(dropped)},
        {QStringLiteral("interrupted"), jsonCount(interrupted)},
        {QStringLiteral("overall"), overall.toJson()},
        {QStringLiteral("endpoints"), endpointArray},
        {QStringLiteral("series"), seriesArray},
        {QStringLiteral("thresholds"), thresholdArray},
        // Derived (ignored by fromJson).
        {QStringLiteral("requests_per_second"), requestsPerSecond()},
        {QStringLiteral("thresholds_passed"), thresholdsPassed()},
    };
}

Result<RunReport> RunReport::fromJson(const QJsonObject &o)
{
    RunReport r;
    Members m(o, QString());
    m.string("id", r.id);
    m.string("scenario_name", r.scenarioName);
    m.object("scenario", r.scenario);
    m.string("target", r.target);
    m.string("model", r.model);
    const QJsonValue started = o.value(QLatin1String("started_at"));
    if (m.ok() && !started.isUndefined() && !started.isNull()) {
        const QDateTime t = QDateTime::fromString(started.toString(), Qt::ISODateWithMs);
        if (!started.isString() || !t.isValid())
            m.fail(m.name("started_at"),
                   QStringLiteral("expected a time like \"2024-05-01T12:00:00.000Z\""));
        else
            r.startedAt = t.toUTC();
    }
    m.real("duration_seconds", r.durationSeconds);
    m.integer("workers", r.workers);
    m.integer("threads", r.threads);
    m.integer("peak_users", r.peakUsers);
    m.string("status", r.status);
    m.string("error", r.error);
    m.u64("dropped", r.dropped);
    m.u64("interrupted", r.interrupted);
    const auto overall = m.optionalObject("overall");
    const QJsonArray endpoints = m.array("endpoints");
    const QJsonArray series = m.array("series");
    const QJsonArray thresholds = m.array("thresholds");
    if (!m.ok())
        return m.error();
    if (r.durationSeconds < 0)
        return badMember(m.name("duration_seconds"), QStringLiteral("expected a number >= 0"));

    if (overall) {
        auto e = readEndpoint(*overall, QStringLiteral("overall"));
        if (!e.ok())
            return e.error();
        r.overall = std::move(e).value();
    }
    for (qsizetype i = 0; i < endpoints.size(); ++i) {
        const QString at = QStringLiteral("endpoints[%1]").arg(i);
        if (!endpoints.at(i).isObject())
            return badMember(at, QStringLiteral("expected an object"));
        auto e = readEndpoint(endpoints.at(i).toObject(), at);
        if (!e.ok())
            return e.error();
        r.endpoints.append(std::move(e).value());
    }
    for (qsizetype i = 0; i < series.size(); ++i) {
        const QString at = QStringLiteral("series[%1]").arg(i);
        if (!series.at(i).isObject())
            return badMember(at, QStringLiteral("expected an object"));
        const QJsonObject so = series.at(i).toObject();
        Members sm(so, at);
        SecondSample s;
        readSample(sm, s);
        if (!sm.ok())
            return sm.error();
        r.series.append(s);
    }
    for (qsizetype i = 0; i < thresholds.size(); ++i) {
        const QString at = QStringLiteral("thresholds[%1]").arg(i);
        if (!thresholds.at(i).isObject())
            return badMember(at, QStringLiteral("expected an object"));
        const QJsonObject to = thresholds.at(i).toObject();
        Members tm(to, at);
        ThresholdResult t;
        tm.string("text", t.text);
        tm.boolean("passed", t.passed);
        if (!to.value(QLatin1String("actual")).isNull()) // NaN/inf are written as null
            tm.real("actual", t.actual);
        else
            t.actual = std::numeric_limits<double>::quiet_NaN();
        if (!tm.ok())
            return tm.error();
        r.thresholds.append(t);
    }
    return r;
}

} // namespace bulwark
