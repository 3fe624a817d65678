// SPDX-License-Identifier: GPL-3.0-or-later
// See LoadTestCommand.h. The run blocks the main thread (LoadTestRunner::run), so Ctrl+C is
// caught with a plain signal handler that sets a flag the runner polls; a second Ctrl+C
// ends the process at once.
#include "LoadTestCommand.h"

#include "CommandSupport.h"
#include "ConfigLoader.h"
#include "LoadEngine.h"
#include "LoadTestRunStore.h"
#include "LoadTestRunner.h"
#include "LoadTestRuns.h"
#include "RedisClient.h"
#include "RemoteWorkers.h"
#include "ReportWriter.h"
#include "Scenario.h"

#include <QCommandLineParser>
#include <QDateTime>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QProcessEnvironment>
#include <atomic>
#include <csignal>
#include <cstdio>

#ifdef Q_OS_UNIX
#include <unistd.h>
#endif
#ifdef Q_OS_WIN
#include <io.h>
#define isatty _isatty
#define fileno _fileno
#endif

namespace bulwark {

namespace {

constexpr int kOk = 0;
constexpr int kFailure = 1;
constexpr int kUsage = 2;
constexpr int kThresholdFailed = 3;
constexpr int kInterrupted = 130;

const QString kDefaultScenario = QStringLiteral(":/bulwark/loadtest-demo.json");

std::atomic<bool> g_stop{false};
std::atomic<int> g_signals{0};

extern "C" void onInterrupt(int)
{
    if (g_signals.fetch_add(1) >= 1)
        std::_Exit(kInterrupted);
    g_stop.store(true);
}

void err(const QString &text)
{
    std::fputs(text.toUtf8().constData(), stderr);
}

void out(const QString &text)
{
    std::fputs(text.toUtf8().constData(), stdout);
    std::fflush(stdout);
}

int fail(int code, const QString &message)
{
    err(QStringLiteral("bulwark: loadtest: %1\n").arg(message));
    return code;
}

int usage(const QString &message)
{
    err(QStringLiteral("bulwark: loadtest: %1\nTry 'bulwark loadtest --help'.\n").arg(message));
    return kUsage;
}

const char *kHelp =
    "Usage: bulwark loadtest [SCENARIO] --target URL [options]\n"
    "       bulwark loadtest --worker --redis URL [--threads N] [--io KIND]\n"
    "       bulwark loadtest list [--limit N]\n"
    "       bulwark loadtest show RUN [--report FILE ...]\n"
    "       bulwark loadtest compare RUN_A RUN_B\n"
    "\n"
    "Runs the load test SCENARIO (a JSON file, see docs/loadtest.md; without it the built-in\n"
    "demo scenario: browsing, uploading and reporting users of the demo API) against URL,\n"
    "shows a live progress line, prints a summary and stores the run in the database the\n"
    "server would use (--config, --data-dir and BULWARK_* as for 'bulwark --server').\n"
    "RUN is a run id or a unique prefix of at least 8 characters, or a report .json file.\n"
    "\n"
    "Options of a run:\n"
    "  --target URL         the server to load (http:// or https://); overrides the\n"
    "                       scenario's \"target\"\n"
    "  --duration D         run for D (\"30s\", \"5m\"); stages keep their shares of it\n"
    "  --users N            closed model: the peak users (the shape's counts scale to it)\n"
    "  --rate R             open model: the peak arrivals per second (likewise)\n"
    "  --token T            the run's token: {{token}} and 'Authorization: Bearer T'\n"
    "                       (default: $BULWARK_LOADTEST_TOKEN, then the scenario's)\n"
    "  --threads N          load threads here (default: one per core)\n"
    "  --io KIND            auto (default: epoll on Linux for http, else qt), qt or epoll\n"
    "  --insecure           accept any TLS certificate\n"
    "  --report FILE        also write the report to FILE: .html, .json or .csv by its\n"
    "                       extension (repeatable)\n"
    "  --series-csv FILE    write the per-second series as CSV\n"
    "  --no-store           do not store the run in the database\n"
    "  --quiet              no progress line\n"
    "  --check              read the scenario, report its errors and exit\n"
    "  --workers N          distributed: N remote workers take part (needs --redis)\n"
    "  --redis URL          redis://[:PASSWORD@]HOST[:PORT][/DB] for --workers / --worker\n"
    "  --workers-timeout D  how long to wait for the workers (default 30s)\n"
    "  --config FILE, --data-dir DIR   where runs are stored (as for the server)\n"
    "\n"
    "Exit codes: 0 the run passed its thresholds, 1 runtime failure, 2 usage or scenario\n"
    "error, 3 a threshold failed, 130 stopped with Ctrl+C (what ran is still reported).\n";

QString humanCount(quint64 n)
{
    QString digits = QString::number(n);
    for (qsizetype i = digits.size() - 3; i > 0; i -= 3)
        digits.insert(i, u',');
    return digits;
}

// The live line: elapsed, users, requests, rate of the last second, errors, percentiles of
// the last second.
QString progressLine(const RunReport &live, qint64 totalMs)
{
    const SecondSample last = live.series.isEmpty() ? SecondSample{} : live.series.last();
    const double errors = live.overall.requests
                              ? 100.0 * double(live.overall.failed()) / double(live.overall.requests)
                              : 0.0;
    return QStringLiteral("[%1s/%2s] users %3 | %4 req | %5 req/s | %6% err | p50 %7 p95 %8 p99 %9")
        .arg(live.series.size(), 4)
        .arg(totalMs / 1000)
        .arg(last.activeUsers)
        .arg(humanCount(live.overall.requests))
        .arg(humanCount(last.requests))
        .arg(errors, 0, 'f', 2)
        .arg(ReportWriter::formatLatency(double(last.p50)),
             ReportWriter::formatLatency(double(last.p95)),
             ReportWriter::formatLatency(double(last.p99)));
}

// A report given as RUN: a stored run (id or prefix) or a .json report file.
Result<RunReport> findRun(const QString &run, CommandDatabase *database)
{
    if (run.endsWith(QStringLiteral(".json"), Qt::CaseInsensitive) || QFileInfo::exists(run)) {
        QFile f(run);
        if (!f.open(QIODevice::ReadOnly))
            return Error{ErrorCode::NotFound, QStringLiteral("%1: cannot read: %2").arg(run, f.errorString())};
        QJsonParseError parseError;
        const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &parseError);
        if (!doc.isObject())
            return Error{ErrorCode::BadRequest, QStringLiteral("%1: not a JSON report: %2")
                                                    .arg(run, parseError.errorString())};
        auto report = RunReport::fromJson(doc.object());
        if (!report.ok())
            return Error{ErrorCode::BadRequest, QStringLiteral("%1: %2").arg(run, report.error().message)};
        return report;
    }
    LoadTestRunStore store(database->pool(), nullptr);
    auto row = store.get(run);
    if (!row.ok())
        return row.error();
    return runReport(row.value());
}

Result<bool> writeFile(const QString &path, const QByteArray &data)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) || f.write(data) != data.size())
        return Error{ErrorCode::Internal, QStringLiteral("%1: cannot write: %2").arg(path, f.errorString())};
    return true;
}

Result<bool> writeReports(const RunReport &report, const QStringList &paths)
{
    for (const QString &path : paths) {
        const QString suffix = QFileInfo(path).suffix().toLower();
        QByteArray data;
        if (suffix == QStringLiteral("html") || suffix == QStringLiteral("htm"))
            data = ReportWriter::toHtml(report);
        else if (suffix == QStringLiteral("json"))
            data = ReportWriter::toJson(report);
        else if (suffix == QStringLiteral("csv"))
            data = ReportWriter::toCsv(report);
        else
            return Error{ErrorCode::BadRequest,
                         QStringLiteral("--report %1: the extension must be .html, .json or .csv").arg(path)};
        if (auto w = writeFile(path, data); !w.ok())
            return w;
    }
    return true;
}

int exitCodeOf(const RunReport &report)
{
    if (report.status == QStringLiteral("passed"))
        return kOk;
    if (report.status == QStringLiteral("failed"))
        return kThresholdFailed;
    if (report.status == QStringLiteral("stopped"))
        return kInterrupted;
    return kFailure;
}

// --duration, --users and --rate as LoadOverrides.
Result<LoadOverrides> overridesFrom(const QCommandLineParser &parser)
{
    LoadOverrides o;
    if (parser.isSet(QStringLiteral("duration"))) {
        const auto ms = ConfigLoader::parseDurationMs(parser.value(QStringLiteral("duration")));
        if (!ms)
            return Error{ErrorCode::BadRequest,
                         QStringLiteral("--duration: expected a duration like 30s or 5m")};
        o.durationMs = *ms;
    }
    for (const char *name : {"users", "rate"}) {
        const QString option = QLatin1String(name);
        if (!parser.isSet(option))
            continue;
        bool ok = false;
        const int n = parser.value(option).toInt(&ok);
        if (!ok)
            return Error{ErrorCode::BadRequest,
                         QStringLiteral("--%1: expected an integer from 1 to 1000000").arg(option)};
        (option == QStringLiteral("users") ? o.users : o.rate) = n;
    }
    return o;
}

// --threads and --io, of a run and of a worker alike; what is wrong with them, if anything.
QString readThreadsAndIo(const QCommandLineParser &parser, int *threads, IoLoop::Kind *io)
{
    if (parser.isSet(QStringLiteral("threads"))) {
        bool ok = false;
        *threads = parser.value(QStringLiteral("threads")).toInt(&ok);
        if (!ok || *threads < 1 || *threads > 256)
            return QStringLiteral("--threads: expected an integer from 1 to 256");
    }
    const QString name = parser.value(QStringLiteral("io"));
    if (name.isEmpty() || name == QStringLiteral("auto"))
        *io = IoLoop::Kind::Auto;
    else if (name == QStringLiteral("qt"))
        *io = IoLoop::Kind::Qt;
    else if (name == QStringLiteral("epoll"))
        *io = IoLoop::Kind::Epoll;
    else
        return QStringLiteral("--io: expected auto, qt or epoll");
    return {};
}

int runWorker(const QCommandLineParser &parser)
{
    if (!parser.isSet(QStringLiteral("redis")))
        return usage(QStringLiteral("--worker needs --redis URL"));
    auto redisOptions = RedisOptions::fromUrl(parser.value(QStringLiteral("redis")));
    if (!redisOptions.ok())
        return usage(QStringLiteral("--redis: ") + redisOptions.error().message);
    SteadyClock clock;
    RedisClient redis(redisOptions.value(), clock);
    WorkerService::Options options;
    if (const QString problem = readThreadsAndIo(parser, &options.threads, &options.io);
        !problem.isEmpty())
        return usage(problem);
    WorkerService service(redis, options);
    return service.run(g_stop, [](const QString &line) {
        err(QStringLiteral("bulwark: loadtest worker: %1\n").arg(line));
    });
}

int listRuns(const QCommandLineParser &parser, CommandDatabase &database)
{
    bool ok = true;
    const int limit = parser.isSet(QStringLiteral("limit")) ? parser.value(QStringLiteral("limit")).toInt(&ok) : 20;
    if (!ok || limit < 1)
        return usage(QStringLiteral("--limit: expected a positive integer"));
    LoadTestRunStore store(database.pool(), nullptr);
    auto rows = store.list(limit);
    if (!rows.ok())
        return fail(kFailure, rows.error().message);
    out(QStringLiteral("%1  %2  %3  %4  %5  %6  %7\n")
            .arg(QStringLiteral("id"), -8)
            .arg(QStringLiteral("started (UTC)"), -19)
            .arg(QStringLiteral("status"), -8)
            .arg(QStringLiteral("requests"), 10)
            .arg(QStringLiteral("req/s"), 9)
            .arg(QStringLiteral("p95"), 8)
            .arg(QStringLiteral("scenario -> target")));
    for (const LoadTestRunRow &r : rows.value())
        out(QStringLiteral("%1  %2  %3  %4  %5  %6  %7 -> %8\n")
                .arg(r.id.left(8), -8)
                .arg(QDateTime::fromMSecsSinceEpoch(r.startedAtMs, Qt::UTC).toString(QStringLiteral("yyyy-MM-dd HH:mm:ss")), -19)
                .arg(r.status, -8)
                .arg(r.requests, 10)
                .arg(r.rps, 9, 'f', 1)
                .arg(ReportWriter::formatLatency(double(r.p95Ns)), 8)
                .arg(r.name, r.target));
    return kOk;
}

} // namespace

int runLoadTestCommand(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.setSingleDashWordOptionMode(QCommandLineParser::ParseAsLongOptions);
    parser.addOption({{QStringLiteral("h"), QStringLiteral("help")}, QStringLiteral("help")});
    for (const char *flag : {"insecure", "no-store", "quiet", "check", "worker"})
        parser.addOption({QLatin1String(flag), QString()});
    for (const char *valued : {"target", "duration", "users", "rate", "token", "threads", "io",
                               "report", "series-csv", "workers", "redis", "workers-timeout",
                               "limit"})
        parser.addOption({QLatin1String(valued), QString(), QStringLiteral("value")});
    addCommonCommandOptions(parser);
    if (!parser.parse(QStringList{QStringLiteral("bulwark loadtest")} + arguments))
        return usage(parser.errorText());
    if (parser.isSet(QStringLiteral("help"))) {
        out(QString::fromLatin1(kHelp));
        return kOk;
    }
    std::signal(SIGINT, onInterrupt);
    std::signal(SIGTERM, onInterrupt);

    if (parser.isSet(QStringLiteral("worker")))
        return runWorker(parser);

    const QStringList positional = parser.positionalArguments();
    const QString verb = positional.value(0);
    if (verb == QStringLiteral("list") || verb == QStringLiteral("show") ||
        verb == QStringLiteral("compare")) {
        const int wanted = verb == QStringLiteral("list") ? 1 : verb == QStringLiteral("show") ? 2 : 3;
        if (positional.size() != wanted)
            return usage(verb == QStringLiteral("list")   ? QStringLiteral("list takes no argument")
                         : verb == QStringLiteral("show") ? QStringLiteral("show takes one RUN")
                                                          : QStringLiteral("compare takes two RUNs"));
        CommandDatabase database(QStringLiteral("loadtest"));
        const bool needsDatabase =
            verb == QStringLiteral("list") ||
            std::any_of(positional.begin() + 1, positional.end(), [](const QString &r) {
                return !r.endsWith(QStringLiteral(".json"), Qt::CaseInsensitive) && !QFileInfo::exists(r);
            });
        if (needsDatabase)
            if (const auto code = database.open(parser))
                return *code;
        if (verb == QStringLiteral("list"))
            return listRuns(parser, database);
        auto a = findRun(positional.at(1), &database);
        if (!a.ok())
            return fail(a.error().code == ErrorCode::BadRequest ? kUsage : kFailure, a.error().message);
        if (verb == QStringLiteral("show")) {
            out(ReportWriter::summaryTable(a.value()));
            if (auto w = writeReports(a.value(), parser.values(QStringLiteral("report"))); !w.ok())
                return fail(kFailure, w.error().message);
            return kOk;
        }
        auto b = findRun(positional.at(2), &database);
        if (!b.ok())
            return fail(b.error().code == ErrorCode::BadRequest ? kUsage : kFailure, b.error().message);
        out(ReportWriter::compare(a.value(), b.value()));
        return kOk;
    }

    // A run.
    if (positional.size() > 1)
        return usage(QStringLiteral("one scenario at a time (got %1)").arg(positional.join(u' ')));
    const QString scenarioPath = positional.isEmpty() ? kDefaultScenario : positional.first();
    auto loaded = Scenario::fromFile(scenarioPath);
    if (!loaded.ok())
        return fail(kUsage, loaded.error().message);
    Scenario scenario = std::move(loaded).value();
    const auto overrides = overridesFrom(parser);
    if (!overrides.ok())
        return usage(overrides.error().message);
    if (auto o = scenario.applyOverrides(overrides.value()); !o.ok())
        return usage(o.error().message);

    const QString targetText = parser.isSet(QStringLiteral("target")) ? parser.value(QStringLiteral("target"))
                                                                      : scenario.target;
    if (targetText.isEmpty())
        return usage(QStringLiteral("no target: give --target URL (or \"target\" in the scenario)"));
    const QUrl target(targetText, QUrl::StrictMode);
    if (auto ok = LoadEngine::check(scenario, target); !ok.ok())
        return fail(kUsage, ok.error().message);
    if (parser.isSet(QStringLiteral("check"))) {
        out(QStringLiteral("%1: OK (%2 model, user classes: %3, %4 s)\n")
                .arg(scenarioPath,
                     scenario.load.model == LoadSpec::Model::Open ? QStringLiteral("open")
                                                                   : QStringLiteral("closed"))
                .arg(scenario.userClasses.size())
                .arg(double(scenario.load.shape.totalDurationMs()) / 1000.0));
        return kOk;
    }

    RunOptions options;
    options.target = target;
    options.token = parser.isSet(QStringLiteral("token"))
                        ? parser.value(QStringLiteral("token")).toUtf8()
                        : qEnvironmentVariable("BULWARK_LOADTEST_TOKEN").toUtf8();
    if (options.token.isEmpty())
        options.token = scenario.token;
    bool ok = true;
    if (const QString problem = readThreadsAndIo(parser, &options.threads, &options.io);
        !problem.isEmpty())
        return usage(problem);
    options.insecureTls = parser.isSet(QStringLiteral("insecure"));
    for (const QString &path : parser.values(QStringLiteral("report"))) {
        const QString suffix = QFileInfo(path).suffix().toLower();
        if (suffix != QStringLiteral("html") && suffix != QStringLiteral("htm") &&
            suffix != QStringLiteral("json") && suffix != QStringLiteral("csv"))
            return usage(QStringLiteral("--report %1: the extension must be .html, .json or .csv").arg(path));
    }

    std::unique_ptr<SteadyClock> clock;
    std::unique_ptr<RedisClient> redis;
    if (parser.isSet(QStringLiteral("workers"))) {
        options.workers = parser.value(QStringLiteral("workers")).toInt(&ok);
        if (!ok || options.workers < 1 || options.workers > 1000)
            return usage(QStringLiteral("--workers: expected an integer from 1 to 1000"));
        if (!parser.isSet(QStringLiteral("redis")))
            return usage(QStringLiteral("--workers needs --redis URL"));
        auto redisOptions = RedisOptions::fromUrl(parser.value(QStringLiteral("redis")));
        if (!redisOptions.ok())
            return usage(QStringLiteral("--redis: ") + redisOptions.error().message);
        clock = std::make_unique<SteadyClock>();
        redis = std::make_unique<RedisClient>(redisOptions.value(), *clock);
        options.redis = redis.get();
        if (parser.isSet(QStringLiteral("workers-timeout"))) {
            const auto ms = ConfigLoader::parseDurationMs(parser.value(QStringLiteral("workers-timeout")));
            if (!ms || *ms < 1)
                return usage(QStringLiteral("--workers-timeout: expected a duration like 30s"));
            options.workersTimeout = std::chrono::milliseconds(*ms);
        }
    }

    // The database before the run: a configuration problem should not cost a whole run.
    CommandDatabase database(QStringLiteral("loadtest"));
    const bool store = !parser.isSet(QStringLiteral("no-store"));
    if (store)
        if (const auto code = database.open(parser))
            return *code;

    options.scenario = std::make_shared<const Scenario>(scenario);
    const bool quiet = parser.isSet(QStringLiteral("quiet"));
    const bool terminal = isatty(fileno(stderr));
    const qint64 totalMs = scenario.load.shape.totalDurationMs();
    err(QStringLiteral("bulwark: loadtest: %1 against %2: %3 model, %4 s%5\n")
            .arg(scenario.name.isEmpty() ? scenarioPath : scenario.name, target.toString(),
                 scenario.load.model == LoadSpec::Model::Open ? QStringLiteral("open")
                                                               : QStringLiteral("closed"))
            .arg(double(totalMs) / 1000.0)
            .arg(options.workers ? QStringLiteral(", %1 remote workers").arg(options.workers) : QString()));

    LoadTestRunner::Callbacks callbacks;
    callbacks.stopRequested = [] { return g_stop.load(); };
    callbacks.note = [](const QString &note) { err(QStringLiteral("bulwark: loadtest: %1\n").arg(note)); };
    qint64 lastLine = 0;
    callbacks.progress = [&](const RunReport &live) {
        if (quiet || live.series.isEmpty())
            return;
        if (terminal) {
            err(QStringLiteral("\r\033[K") + progressLine(live, totalMs));
            return;
        }
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        if (now - lastLine >= 10'000) {
            lastLine = now;
            err(progressLine(live, totalMs) + u'\n');
        }
    };
    const RunReport report = LoadTestRunner::run(options, callbacks);
    if (terminal && !quiet)
        err(QStringLiteral("\r\033[K"));
    if (report.status == QStringLiteral("error") && report.overall.requests == 0)
        return fail(kFailure, report.error);
    if (!report.error.isEmpty())
        err(QStringLiteral("bulwark: loadtest: %1\n").arg(report.error));

    out(ReportWriter::summaryTable(report));
    int code = exitCodeOf(report);
    if (auto w = writeReports(report, parser.values(QStringLiteral("report"))); !w.ok())
        code = fail(kFailure, w.error().message);
    if (parser.isSet(QStringLiteral("series-csv")))
        if (auto w = writeFile(parser.value(QStringLiteral("series-csv")), ReportWriter::seriesCsv(report)); !w.ok())
            code = fail(kFailure, w.error().message);
    if (store) {
        LoadTestRunStore runs(database.pool(), nullptr);
        if (auto saved = runs.save(runRow(report)); !saved.ok())
            code = fail(kFailure, QStringLiteral("the run was not stored: ") + saved.error().message);
        else
            err(QStringLiteral("bulwark: loadtest: stored as run %1\n").arg(report.id));
    }
    return code;
}

} // namespace bulwark
