// SPDX-License-Identifier: GPL-3.0-or-later
// See LoadTestRuns.h.
#include "LoadTestRuns.h"

#include "ConfigLoader.h"
#include "LoadEngine.h"
#include "RemoteWorkers.h"

#include <QDateTime>
#include <QFile>
#include <QJsonDocument>

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

void setRunStatus(LoadTestRunRow &row, const QString &status, const QString &error)
{
    row.status = status;
    if (row.report.isEmpty())
        row.report = runRow(RunReport{}).report; // a run that never started: an empty report
    row.report.insert(QStringLiteral("id"), row.id);
    row.report.insert(QStringLiteral("status"), status);
    if (!error.isEmpty())
        row.report.insert(QStringLiteral("error"), error);
}

namespace {

Error bad(ErrorCode code, const QString &message)
{
    return Error{code, message};
}

// An optional integer member within [min, max].
Result<std::optional<int>> optionalInt(const QJsonObject &o, const QString &name, int min, int max)
{
    const QJsonValue v = o.value(name);
    if (v.isUndefined() || v.isNull())
        return std::optional<int>();
    if (!v.isDouble() || v.toDouble() != double(qint64(v.toDouble())))
        return bad(ErrorCode::BadRequest, QStringLiteral("%1: expected an integer").arg(name));
    const qint64 n = qint64(v.toDouble());
    if (n < min || n > max)
        return bad(ErrorCode::Unprocessable,
                   QStringLiteral("%1: must be from %2 to %3").arg(name).arg(min).arg(max));
    return std::optional<int>(int(n));
}

} // namespace

Result<LoadTestRequest> parseLoadTestRequest(const QJsonObject &request)
{
    static const QStringList known{
        QStringLiteral("scenario"), QStringLiteral("csv"),      QStringLiteral("target"),
        QStringLiteral("token"),    QStringLiteral("threads"),  QStringLiteral("workers"),
        QStringLiteral("duration"), QStringLiteral("users"),    QStringLiteral("rate"),
        QStringLiteral("run")};
    for (auto it = request.begin(); it != request.end(); ++it)
        if (!known.contains(it.key()))
            return bad(ErrorCode::BadRequest, QStringLiteral("%1: unknown member (known: %2)")
                                                  .arg(it.key(), known.join(QStringLiteral(", "))));
    for (const char *name : {"target", "token", "duration", "run"}) {
        const QJsonValue v = request.value(QLatin1String(name));
        if (!v.isUndefined() && !v.isString())
            return bad(ErrorCode::BadRequest, QStringLiteral("%1: expected a string").arg(QLatin1String(name)));
    }

    // The scenario: inline JSON (with its CSV tables inline) or the built-in demo.
    QJsonObject source;
    const QJsonValue scenarioValue = request.value(QStringLiteral("scenario"));
    if (scenarioValue.isString() && scenarioValue.toString() == QStringLiteral("demo")) {
        QFile f(QString::fromLatin1(kDemoScenarioResource));
        if (!f.open(QIODevice::ReadOnly))
            return bad(ErrorCode::Internal, QStringLiteral("the built-in demo scenario is missing"));
        source = QJsonDocument::fromJson(ConfigLoader::blankComments(f.readAll())).object();
    } else if (scenarioValue.isObject()) {
        source = scenarioValue.toObject();
    } else {
        return bad(ErrorCode::BadRequest,
                   QStringLiteral("scenario: expected a scenario object (docs/loadtest.md) or "
                                  "\"demo\""));
    }
    const QJsonValue csv = request.value(QStringLiteral("csv"));
    if (!csv.isUndefined() && !csv.isObject())
        return bad(ErrorCode::BadRequest,
                   QStringLiteral("csv: expected {\"name\": {\"columns\": [...], \"rows\": [[...]]}}"));
    if (source.contains(QStringLiteral("csv")) && !csv.isObject())
        return bad(ErrorCode::Unprocessable,
                   QStringLiteral("scenario.csv: files are not read on request; send the tables "
                                  "inline in \"csv\""));
    // scenarioFromPayload writes the tables to files the scenario then names.
    const QJsonObject payload{{QStringLiteral("source"), source}, {QStringLiteral("csv"), csv.toObject()}};
    auto parsed = scenarioFromPayload(payload);
    if (!parsed.ok()) {
        // "file:line:column: path: message" -> "scenario.path: message": the line and
        // column would point into our re-serialisation, not into anything the caller sent.
        const Error &e = parsed.error();
        const QString path = e.details.value(QStringLiteral("path")).toString();
        const qsizetype at = path.isEmpty() ? -1 : e.message.indexOf(path + QStringLiteral(": "));
        const QString message = at >= 0 ? QStringLiteral("scenario.") + e.message.mid(at)
                                        : QStringLiteral("scenario: ") + e.message;
        return bad(e.code == ErrorCode::BadRequest ? ErrorCode::BadRequest : ErrorCode::Unprocessable,
                   message);
    }
    Scenario scenario = std::move(parsed).value();

    LoadOverrides overrides;
    if (request.contains(QStringLiteral("duration"))) {
        const auto ms = ConfigLoader::parseDurationMs(request.value(QStringLiteral("duration")).toString());
        if (!ms)
            return bad(ErrorCode::Unprocessable, QStringLiteral("duration: expected a duration like 30s or 5m"));
        overrides.durationMs = *ms;
    }
    auto users = optionalInt(request, QStringLiteral("users"), 1, 1'000'000);
    auto rate = optionalInt(request, QStringLiteral("rate"), 1, 1'000'000);
    auto threads = optionalInt(request, QStringLiteral("threads"), 1, 256);
    auto workers = optionalInt(request, QStringLiteral("workers"), 0, 1000);
    for (const auto *r : {&users, &rate, &threads, &workers})
        if (!r->ok())
            return r->error();
    overrides.users = users.value();
    overrides.rate = rate.value();
    if (auto applied = scenario.applyOverrides(overrides); !applied.ok())
        return bad(ErrorCode::Unprocessable, applied.error().message);

    LoadTestRequest out;
    out.target = QUrl(request.contains(QStringLiteral("target"))
                          ? request.value(QStringLiteral("target")).toString()
                          : scenario.target,
                      QUrl::StrictMode);
    if (out.target.isEmpty())
        return bad(ErrorCode::Unprocessable,
                   QStringLiteral("target: required (the scenario names none)"));
    if (auto ok = LoadEngine::check(scenario, out.target); !ok.ok())
        return bad(ErrorCode::Unprocessable, ok.error().message);
    out.token = request.contains(QStringLiteral("token"))
                    ? request.value(QStringLiteral("token")).toString().toUtf8()
                    : scenario.token;
    out.threads = threads.value().value_or(0);
    out.workers = workers.value().value_or(0);
    out.runId = request.value(QStringLiteral("run")).toString();
    out.scenario = std::make_shared<const Scenario>(std::move(scenario));
    return out;
}

} // namespace bulwark
