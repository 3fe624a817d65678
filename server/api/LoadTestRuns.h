// SPDX-License-Identifier: GPL-3.0-or-later
// What the load-test API, the load-test job and `bulwark loadtest` share about runs:
//   - the bridge between reports and their rows in the database (db does not know
//     RunReport and loadtest does not know SQL);
//   - the request that describes a run (POST /admin/api/loadtests, and the payload of a
//     loadtest.run job), read into a scenario and runner options with errors that name
//     the member at fault.
//
// A request: {"scenario": {...} or "demo", "csv": {"name": {"columns": [...], "rows":
// [[...]]}}, "target": "http://...", "token": "...", "threads": n, "workers": n,
// "duration": "30s", "users": n, "rate": n, "run": "<id>"}. Only "scenario" is required;
// "target" falls back to the scenario's, "demo" is the built-in demo scenario. CSV tables
// travel inline (a server does not read scenario files from its disk on request).
#pragma once

#include "LoadTestRunStore.h"
#include "LoadTestRunner.h"
#include "RunReport.h"

#include <QJsonObject>
#include <QUrl>

namespace bulwark {

LoadTestRunRow runRow(const RunReport &report);
// The report stored in a row (BadRequest when the stored JSON does not read back).
Result<RunReport> runReport(const LoadTestRunRow &row);
// Sets a run's status (and, when given, its error) in the row and in its stored report
// alike, so the API and `bulwark loadtest show` agree.
void setRunStatus(LoadTestRunRow &row, const QString &status, const QString &error = {});

struct LoadTestRequest
{
    std::shared_ptr<const Scenario> scenario;
    QUrl target;
    QByteArray token;
    int threads = 0;
    int workers = 0;
    QString runId; // "run", when given
};

// Unprocessable for a scenario or value that does not hold (the message names it:
// "scenario.load.model: ..."), BadRequest for a wrong type or unknown member.
Result<LoadTestRequest> parseLoadTestRequest(const QJsonObject &request);

// The built-in demo scenario's resource path.
inline const char *kDemoScenarioResource = ":/bulwark/loadtest-demo.json";

} // namespace bulwark
