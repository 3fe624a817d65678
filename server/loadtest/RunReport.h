// SPDX-License-Identifier: GPL-3.0-or-later
// The measurements of a load-test run as plain values: what the engine produces, what a
// distributed worker sends to its coordinator, what is stored in the database and what the
// report writers (ReportWriter) and the admin API read.
//
// Counts are exact. Latencies are LatencyHistograms (constant memory, <= 0.4 % error),
// which merge exactly: the report of a run over several threads or workers is the merge of
// theirs, bucket for bucket. The per-second series keeps plain numbers per second (the
// histogram of each second is reduced to its percentiles once every thread and worker has
// reported that second), so a long run costs a few dozen bytes per second of history.
//
// JSON (toJson/fromJson) carries everything, histograms as sparse [bucket, count] pairs, so
// a stored run can be read back, compared and re-rendered without loss.
#pragma once

#include "Error.h"
#include "LatencyHistogram.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonObject>
#include <QList>
#include <QMap>
#include <QString>
#include <array>

namespace bulwark {

enum class FailureKind
{
    Connect,  // could not connect, or the connection was lost before a whole response
    Timeout,  // no whole response within the scenario's timeout
    Status,   // a status the request's checks do not accept (default: 400 and above)
    Check,    // the status was fine, another check failed
    Protocol, // the response was not valid HTTP/1.1
};
constexpr int kFailureKinds = 5;
QString failureKindName(FailureKind kind); // "connect", "timeout", "status", "check", "protocol"

// {"count": n, "min": ns, "max": ns, "sum": ns, "buckets": [[bucket, count], ...]}, only the
// non-empty buckets, in increasing order. fromJson gives back a histogram == to the one
// written (sum included), or BadRequest naming the member at fault: a mistyped member, a
// bucket out of range or out of order, counts that do not add up to "count", a min or max
// outside the lowest or highest non-empty bucket.
QJsonObject histogramToJson(const LatencyHistogram &h);
Result<LatencyHistogram> histogramFromJson(const QJsonObject &o);

// Totals of one endpoint (a request name), or of the whole run.
struct EndpointStats
{
    QString name;
    quint64 requests = 0; // finished: successes + failures
    std::array<quint64, kFailureKinds> failures{};
    quint64 bytesReceived = 0;
    LatencyHistogram latency; // of every finished request, failed ones included (not timeouts
                              // or connect failures: they have no response time)
    // Why requests failed, in words ("status 404", "json data.0.id exists", "connect:
    // Connection refused"), with how often. At most kMaxErrorMessages different messages;
    // the rest count under kOtherErrors, so a storm of distinct errors costs no memory.
    QMap<QString, quint64> errors;
    static constexpr int kMaxErrorMessages = 20;
    static inline const QString kOtherErrors = QStringLiteral("(other messages)");
    void addError(const QString &message, quint64 count = 1);

    quint64 failed() const;
    quint64 succeeded() const { return requests - failed(); }
    double errorRate() const { return requests ? double(failed()) / double(requests) : 0.0; }
    void merge(const EndpointStats &other); // names must match (not checked)
    // {"name", "requests", "failures": {"connect": n, ...}, "bytes_received", "latency":
    // histogram}, plus derived members for readers without the histogram layout ("failed",
    // "error_rate", "latency_ns": {"min", "mean", "p50", ..., "p99.9", "max"}), which
    // fromJson ignores.
    QJsonObject toJson() const;
    static Result<EndpointStats> fromJson(const QJsonObject &o);
    bool operator==(const EndpointStats &) const = default; // (the latency's sum aside)
};

// One second of the run (second 0 is [0 s, 1 s) after the start).
struct SecondSample
{
    qint64 second = 0;
    quint64 requests = 0;
    quint64 failures = 0;
    int activeUsers = 0; // closed model: virtual users; open model: requests in flight
    double targetRate = 0; // open model: the arrivals per second the shape asked for
    // Latency of the requests that finished in this second, ns (0 when none).
    quint64 p50 = 0, p90 = 0, p95 = 0, p99 = 0, max = 0;
    QJsonObject toJson() const;
    // Lenient: a missing or mistyped member reads as 0. RunReport::fromJson validates the
    // series and names the member at fault.
    static SecondSample fromJson(const QJsonObject &o);
    bool operator==(const SecondSample &) const = default;
};

struct ThresholdResult
{
    QString text;
    bool passed = false;
    double actual = 0; // in the metric's unit: ns, a fraction, per second
    bool operator==(const ThresholdResult &) const = default;
};

struct RunReport
{
    QString id;           // set when stored (a UUID)
    QString scenarioName;
    QJsonObject scenario; // the scenario's JSON as run
    QString target;
    QString model;        // "closed" or "open"
    QDateTime startedAt;  // UTC
    double durationSeconds = 0; // from the start to the last finished request
    int workers = 1;            // processes that generated load (1 + remote workers)
    int threads = 0;            // load threads over all workers
    int peakUsers = 0;
    QString status;             // "running", "passed", "failed" (a threshold), "stopped", "error"
    QString error;              // why, for "error"
    quint64 dropped = 0;        // open model: arrivals never sent (the queue for a connection
                                // was full, or they still waited when the run ended)
    quint64 interrupted = 0;    // requests in flight when the run stopped (not counted)
    EndpointStats overall;
    QList<EndpointStats> endpoints; // by name, in the order they were first seen
    QList<SecondSample> series;
    QList<ThresholdResult> thresholds;

    double requestsPerSecond() const
    {
        return durationSeconds > 0 ? double(overall.requests) / durationSeconds : 0.0;
    }
    bool thresholdsPassed() const; // true when there are none
    QJsonObject toJson() const;
    // BadRequest naming the member at fault ("endpoints[1].latency.buckets[3]") when a
    // member has the wrong type or a histogram does not add up. Absent members keep their
    // defaults; unknown ones are ignored (so derived members of toJson() read back).
    static Result<RunReport> fromJson(const QJsonObject &o);
    bool operator==(const RunReport &) const = default;
};

} // namespace bulwark
