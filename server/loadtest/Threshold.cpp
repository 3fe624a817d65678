// SPDX-License-Identifier: GPL-3.0-or-later
// See Threshold.h. A hand-written scanner over the text: metric name, operator, number,
// unit, each step knowing its column for the error.
#include "Threshold.h"

#include <QJsonObject>
#include <cmath>

namespace bulwark {

namespace {

Error parseError(int column, const QString &what)
{
    return Error{ErrorCode::Unprocessable, QStringLiteral("column %1: %2").arg(column).arg(what),
                 QJsonObject{{QStringLiteral("column"), column}}};
}

void skipSpaces(const QString &s, int &i)
{
    while (i < s.size() && s.at(i).isSpace())
        ++i;
}

} // namespace

Result<Threshold> Threshold::parse(const QString &input)
{
    const QString s = input;
    Threshold t;
    t.text = input.trimmed();
    int i = 0;
    skipSpaces(s, i);
    const int metricStart = i;
    while (i < s.size() && (s.at(i).isLetterOrNumber() || s.at(i) == u'_' || s.at(i) == u'.'))
        ++i;
    const QString metric = s.mid(metricStart, i - metricStart);
    if (metric == QLatin1String("min")) {
        t.metric = Metric::Min;
    } else if (metric == QLatin1String("avg")) {
        t.metric = Metric::Avg;
    } else if (metric == QLatin1String("max")) {
        t.metric = Metric::Max;
    } else if (metric == QLatin1String("error_rate")) {
        t.metric = Metric::ErrorRate;
    } else if (metric == QLatin1String("rps")) {
        t.metric = Metric::Rps;
    } else if (metric.size() > 1 && metric.startsWith(u'p')) {
        bool ok = false;
        const double percent = metric.mid(1).toDouble(&ok);
        if (!ok || percent <= 0 || percent >= 100)
            return parseError(metricStart + 1,
                              QStringLiteral("\"%1\": a percentile is p followed by a number "
                                             "above 0 and below 100, like p95 or p99.9")
                                  .arg(metric));
        t.metric = Metric::Quantile;
        t.quantile = percent / 100.0;
    } else {
        return parseError(metricStart + 1,
                          metric.isEmpty()
                              ? QStringLiteral("expected a metric: p50, p90, p95, p99, p99.9, "
                                               "min, avg, max, error_rate or rps")
                              : QStringLiteral("unknown metric \"%1\" (p50, p90, p95, p99, "
                                               "p99.9, min, avg, max, error_rate, rps)")
                                    .arg(metric));
    }
    skipSpaces(s, i);
    const int opColumn = i + 1;
    if (s.mid(i, 2) == QLatin1String("<=")) {
        t.op = Op::LessOrEqual;
        i += 2;
    } else if (s.mid(i, 2) == QLatin1String(">=")) {
        t.op = Op::GreaterOrEqual;
        i += 2;
    } else if (s.mid(i, 1) == QLatin1String("<")) {
        t.op = Op::Less;
        ++i;
    } else if (s.mid(i, 1) == QLatin1String(">")) {
        t.op = Op::Greater;
        ++i;
    } else {
        return parseError(opColumn, QStringLiteral("expected <, <=, > or >="));
    }
    skipSpaces(s, i);
    const int numberStart = i;
    while (i < s.size() && (s.at(i).isDigit() || s.at(i) == u'.'))
        ++i;
    bool ok = false;
    const double number = s.mid(numberStart, i - numberStart).toDouble(&ok);
    if (!ok || !std::isfinite(number))
        return parseError(numberStart + 1, QStringLiteral("expected a number"));
    const int unitStart = i;
    while (i < s.size() && (s.at(i).isLetter() || s.at(i) == u'%'))
        ++i;
    const QString unit = s.mid(unitStart, i - unitStart);
    skipSpaces(s, i);
    if (i < s.size())
        return parseError(i + 1, QStringLiteral("unexpected \"%1\" after the value").arg(s.mid(i)));
    if (t.isLatency()) {
        static const QList<std::pair<QString, double>> units{
            {QStringLiteral("ns"), 1}, {QStringLiteral("us"), 1e3}, {QStringLiteral("ms"), 1e6},
            {QStringLiteral("s"), 1e9}};
        const auto u = std::find_if(units.begin(), units.end(),
                                    [&unit](const auto &p) { return p.first == unit; });
        if (u == units.end())
            return parseError(unitStart + 1, QStringLiteral("a latency needs a unit: ns, us, ms "
                                                            "or s (\"200ms\")"));
        t.limit = number * u->second;
    } else if (t.metric == Metric::ErrorRate) {
        if (unit == QLatin1String("%"))
            t.limit = number / 100.0;
        else if (unit.isEmpty())
            t.limit = number;
        else
            return parseError(unitStart + 1,
                              QStringLiteral("an error rate is a fraction (0.01) or a "
                                             "percentage (1%)"));
        if (t.limit > 1)
            return parseError(numberStart + 1,
                              QStringLiteral("an error rate is at most 100% (1)"));
    } else {
        if (!unit.isEmpty())
            return parseError(unitStart + 1,
                              QStringLiteral("rps is a plain number of requests per second"));
        t.limit = number;
    }
    return t;
}

Threshold::Outcome Threshold::evaluate(const ThresholdInputs &in) const
{
    Outcome out;
    if (isLatency() && (!in.latency || in.latency->count() == 0))
        return out; // nothing measured proves a latency bound
    switch (metric) {
    case Metric::Quantile: out.actual = double(in.latency->valueAtQuantile(quantile)); break;
    case Metric::Min: out.actual = double(in.latency->min()); break;
    case Metric::Avg: out.actual = in.latency->mean(); break;
    case Metric::Max: out.actual = double(in.latency->max()); break;
    case Metric::ErrorRate:
        out.actual = in.requests ? double(in.failures) / double(in.requests) : 0.0;
        break;
    case Metric::Rps:
        out.actual = in.durationSeconds > 0 ? double(in.requests) / in.durationSeconds : 0.0;
        break;
    }
    switch (op) {
    case Op::Less: out.passed = out.actual < limit; break;
    case Op::LessOrEqual: out.passed = out.actual <= limit; break;
    case Op::Greater: out.passed = out.actual > limit; break;
    case Op::GreaterOrEqual: out.passed = out.actual >= limit; break;
    }
    return out;
}

} // namespace bulwark
