// SPDX-License-Identifier: GPL-3.0-or-later
// See LoadTestRuns.h.
#include "LoadTestRuns.h"

#include <QDateTime>

namespace bulwark {

LoadTestRunRow runRow(const RunReport &report)
{
    LoadTestRunRow row;
    row.id = report.id;
    row.name = report.scenarioName;
    row.target = report.target;
    row.model = report.model;
    row.status = report.status;
    row.startedAtMs = report.startedAt.toMSecsSinceEpoch();
    row.durationMs = qint64(report.durationSeconds * 1000.0);
    row.requests = qint64(report.overall.requests);
    row.failures = qint64(report.overall.failed());
    row.rps = report.requestsPerSecond();
    row.p95Ns = qint64(report.overall.latency.valueAtQuantile(0.95));
    row.scenario = report.scenario;
    row.report = report.toJson();
    return row;
}

Result<RunReport> runReport(const LoadTestRunRow &row)
{
    auto report = RunReport::fromJson(row.report);
    if (!report.ok())
        return Error{ErrorCode::BadRequest, QStringLiteral("run %1: the stored report does not "
                                                           "read back: %2")
                                                .arg(row.id, report.error().message)};
    return report;
}

} // namespace bulwark
