// SPDX-License-Identifier: GPL-3.0-or-later
// A pass/fail condition on a load-test run, written the way people say it:
//   "p95 < 200ms"   "p99.9 <= 1.5s"   "avg < 50ms"   "max < 2s"
//   "error_rate < 1%"   "error_rate <= 0.005"   "rps >= 1000"
// Metrics: p50, p90, p95, p99, p99.9 (nearest-rank quantiles of the latency histogram),
// min, avg, max (latency), error_rate (failed / all requests, a fraction; "1%" = 0.01),
// rps (requests per second over the run). Operators <, <=, >, >=. Latencies take a unit
// (ns, us, ms, s); error_rate a fraction or a percentage; rps a plain number.
// A run fails (the CLI exits non-zero) when any threshold does not hold. A run without
// requests fails every latency threshold (there is nothing to prove the bound with).
//
// parse() reports errors with the column (1-based) where the text stops making sense, so
// that a scenario file can point at the exact place: "column 5: expected <, <=, > or >=".
#pragma once

#include "Error.h"
#include "LatencyHistogram.h"

#include <QString>

namespace bulwark {

struct ThresholdInputs
{
    const LatencyHistogram *latency = nullptr;
    quint64 requests = 0;
    quint64 failures = 0;
    double durationSeconds = 0;
};

struct Threshold
{
    enum class Metric
    {
        Quantile, // of the latency histogram; `quantile` says which
        Min,
        Avg,
        Max,
        ErrorRate,
        Rps
    };
    enum class Op
    {
        Less,
        LessOrEqual,
        Greater,
        GreaterOrEqual
    };
    Metric metric = Metric::Quantile;
    double quantile = 0.95;
    Op op = Op::Less;
    double limit = 0; // nanoseconds for latencies, a fraction for error_rate, per second for rps
    QString text;     // as written, trimmed

    // The error's `details` hold "column".
    static Result<Threshold> parse(const QString &text);

    struct Outcome
    {
        bool passed = false;
        double actual = 0; // in the metric's unit (ns, fraction, per second)
    };
    Outcome evaluate(const ThresholdInputs &inputs) const;
    bool isLatency() const { return metric != Metric::ErrorRate && metric != Metric::Rps; }
};

} // namespace bulwark
