// SPDX-License-Identifier: GPL-3.0-or-later
// A load-test scenario: who the virtual users are, what they do, how many there are over
// time and what the run must prove. Read from a JSON file (comments allowed, like the
// config file) into plain values the engine runs without parsing again: templates are
// compiled, CSV files read, thresholds parsed, weights checked.
//
// Every error names the place in the file: "scenario.json:14:23: user_classes[0].tasks[1]
// .weight: must be an integer from 1 to 1000000" (Scenario::parse), found through
// JsonSourceMap. docs/loadtest.md describes the format; resources/loadtest-demo.json is the
// default scenario.
//
//   {
//     "name": "demo", "description": "...",
//     "target": "http://127.0.0.1:8080",          // optional: --target overrides
//     "token": "...",                              // optional: --token overrides
//     "timeout": "10s",                            // per request (default 10s)
//     "csv": {"accounts": "accounts.csv"},         // relative to the scenario's folder
//     "load": {"model": "closed", "shape": "ramp", "users": 50, "duration": "1m"},
//        or   {"model": "open", "rate": 200, "duration": "1m", "max_connections": 100}
//        or   {"model": "open", "start_rate": 0, "stages": [{"target": 200, "duration": "30s"}]}
//     "thresholds": ["p95 < 200ms", "error_rate < 1%"],
//     "user_classes": [
//       {"name": "browser", "weight": 3,
//        "wait": {"between": ["1s", "3s"]},   // or {"constant": "1s"}, {"pacing": "2s"}, absent:
//        none "on_start": [ <request>, ... ],       // once per virtual user, before its tasks
//        "tasks": [
//          {"name": "list", "weight": 5, "requests": [ <request>, ... ]},
//          {"name": "one", "weight": 1, "request": <request>}        // shorthand for one
//        ]}
//     ]
//   }
//   <request> = {"name": "list activities",                 // default "GET /api/v1/activities"
//                "method": "GET", "path": "/api/v1/activities?limit={{random 1 50}}",
//                "headers": {"X-Trace": "{{uuid}}"},
//                "body": {...any JSON with templates in strings...},
//                "auth": true,                           // default true when a token exists:
//                                                        // Authorization: Bearer {{token}}
//                "checks": [{"status": [200, 304]}, {"body_contains": "data"},
//                           {"json": "data.0.id", "exists": true},
//                           {"json": "slept_ms", "equals": 20}],
//                "extract": {"token": "token"}}          // variable <- JSON path of the body
//
// The open model's load shape takes the same kinds as the closed model (LoadShape) with
// "rate" words instead of "users" ones (rate, start_rate, min_rate, step_rate, spike_rate;
// stage targets are rates): the shape gives arrivals per second over time. In either model
// "shape" may be left out: "stages" when the load has stages, else "constant".
// Defaults: "name" is the file's base name, a user class is "class N", a task with one
// request takes the request's name, otherwise "task N".
//
// A JSON path is dot-separated object members and array indexes: "data.0.id".
#pragma once

#include "Error.h"
#include "LoadShape.h"
#include "Template.h"
#include "Threshold.h"

#include <QByteArray>
#include <QHash>
#include <QJsonObject>
#include <QJsonValue>
#include <QList>
#include <QString>
#include <optional>

namespace bulwark {

struct CheckSpec
{
    enum class Kind
    {
        Status,       // statuses: the status must be one of them
        BodyContains, // text: the body must contain it
        JsonExists,   // jsonPath (exists: true/false in the file; `negate` for false)
        JsonEquals    // jsonPath equals `expected` (numbers compare as numbers)
    };
    Kind kind = Kind::Status;
    QList<int> statuses;
    QByteArray text;
    QString jsonPath;
    QJsonValue expected;
    bool negate = false;
    QString description; // for failure messages: "status in [200, 304]", "json data.0.id exists"
};

// What a finished response looks like to the checks (the body is kept only when a check or
// an extraction needs it: RequestSpec::needsBody).
struct ResponseView
{
    int status = 0;
    QByteArrayView body;
};

struct RequestSpec
{
    QString name; // the endpoint's name in reports
    QByteArray method;
    Template path;
    QList<std::pair<QByteArray, Template>> headers;
    std::optional<Template> body; // JSON text; sends Content-Type: application/json
    bool auth = true;             // send Authorization: Bearer {{token}} when a token exists
    QList<CheckSpec> checks;      // no status check: the status must be below 400
    QList<std::pair<QString, QString>> extract; // variable name, JSON path

    bool needsBody() const;
    // The whole HTTP/1.1 request (request line, Host, the headers, Content-Length, body).
    // `hostHeader` is the Host value of the target ("127.0.0.1:8080").
    void render(TemplateContext &ctx, const QByteArray &hostHeader, QByteArray *out) const;
    // Empty when every check holds, else the description of the first that failed. A
    // failing status check (or the default status < 400) is reported by `statusFailed`.
    struct Verdict
    {
        bool statusFailed = false;
        QString failedCheck; // empty: passed
    };
    Verdict verify(const ResponseView &response) const;
    // Sets the variables of `extract` found in the body (a JSON path that is missing sets
    // nothing); strings are taken as they are, other JSON values as their compact text.
    void extractInto(QByteArrayView body, QHash<QString, QByteArray> *vars) const;
};

struct TaskSpec
{
    QString name;
    int weight = 1;
    QList<RequestSpec> requests;
};

struct WaitSpec
{
    enum class Kind
    {
        None,     // the next task starts at once
        Constant, // minMs after a task ends
        Between,  // uniform in [minMs, maxMs] after a task ends
        Pacing    // a task starts every minMs (after the previous start; at once if late)
    };
    Kind kind = Kind::None;
    qint64 minMs = 0;
    qint64 maxMs = 0;
};

struct UserClassSpec
{
    QString name;
    int weight = 1;
    WaitSpec wait;
    QList<RequestSpec> onStart;
    QList<TaskSpec> tasks;
    int taskWeightTotal() const;
};

struct LoadSpec
{
    enum class Model
    {
        Closed, // shape.usersAt(t) virtual users, each on its own keep-alive connection
        Open    // shape.usersAt(t) arrivals per second, each one task of a drawn user class
    };
    Model model = Model::Closed;
    LoadShape shape;
    int maxConnections = 0; // open model: the connection cap (0: 1000)
};

// Changes to a scenario's load given on the command line (--duration, --users, --rate) or
// with an API request: the run's duration, and its peak (users in the closed model,
// arrivals per second in the open one). Every count of the shape scales so that its highest
// becomes the peak (a ramp's start, a spike's baseline, a double wave's minimum and stage
// targets keep their shares); stages keep their shares of the duration. The result must
// hold by the rules of a scenario file.
struct LoadOverrides
{
    std::optional<qint64> durationMs;
    std::optional<int> users; // closed model only
    std::optional<int> rate;  // open model only
};

struct Scenario
{
    QString name;
    QString description;
    QString target;   // base URL; may be empty in the file
    QByteArray token; // may be empty
    qint64 timeoutMs = 10'000;
    QHash<QString, CsvTable> csv;
    LoadSpec load;
    QList<Threshold> thresholds;
    QList<UserClassSpec> userClasses;
    QJsonObject source; // the file's JSON (comments dropped): stored with every run

    int userClassWeightTotal() const;
    // BadRequest naming the override ("duration: the shape would not hold: spike_start:
    // must be within duration", "rate: the scenario uses the closed model; give users").
    Result<bool> applyOverrides(const LoadOverrides &overrides);

    // Parses the text of a scenario file. `fileName` prefixes errors ("file:line:column:
    // path: message"); `baseDir` is where relative CSV paths are read from. The error's
    // message is that whole line; details hold "line", "column" and "path".
    static Result<Scenario> parse(const QByteArray &json, const QString &fileName,
                                  const QString &baseDir);
    static Result<Scenario> fromFile(const QString &path);
};

} // namespace bulwark
