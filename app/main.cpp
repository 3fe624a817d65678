// SPDX-License-Identifier: GPL-3.0-or-later
// Entry point of the one `bulwark` executable. Parses the command line, builds the Config
// (defaults < --config file < BULWARK_* environment < flags) and picks the mode. Exit
// codes: 0 success, 1 runtime failure (cannot listen, cannot write the data directory),
// 2 usage or configuration error.
#include "ConfigLoader.h"
#include "DatabaseSetup.h"
#include "LoadTestCommand.h"
#include "Logger.h"
#include "SeedCommand.h"
#include "ServerApp.h"
#include "SignalWatcher.h"
#include "UserCommand.h"
#include "Version.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QProcessEnvironment>
#include <cstdio>
#include <cstdlib>

#ifdef Q_OS_UNIX
#include <sys/resource.h>
#endif

using namespace bulwark;

namespace {

void printErrors(const QStringList &errors)
{
    for (const QString &e : errors)
        std::fprintf(stderr, "bulwark: %s\n", qPrintable(e));
}

// Admin commands: `bulwark <name> ...` runs the command with the arguments after its name
// instead of the server, and its return value is the exit code. Add a command with one row
// here.
struct Command
{
    const char *name;
    int (*run)(const QStringList &arguments);
};
constexpr Command kCommands[] = {
    {"user", runUserCommand},
    {"seed", runSeedCommand},
    {"loadtest", runLoadTestCommand},
};

// 10 000 keep-alive connections need more descriptors than the usual soft limit of 1024.
void raiseFileLimit()
{
#ifdef Q_OS_UNIX
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
#endif
}

} // namespace

int main(int argc, char *argv[])
{
    // The headless server has no use for the GLib main loop integration; Qt's own UNIX
    // event dispatcher (poll-based) costs less per socket event. Set before the
    // application object exists, and only for --server (the console will want GLib).
    for (int i = 1; i < argc; ++i) {
        if (qstrcmp(argv[i], "--server") == 0 && !qEnvironmentVariableIsSet("QT_NO_GLIB"))
            qputenv("QT_NO_GLIB", "1");
    }
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("bulwark"));
    QCoreApplication::setApplicationVersion(QStringLiteral(BULWARK_VERSION));

    // A command name first on the line is dispatched before the server's options are parsed.
    const QStringList arguments = QCoreApplication::arguments();
    // Commands too: `bulwark loadtest` opens a connection per virtual user.
    raiseFileLimit();
    for (const Command &command : kCommands) {
        if (arguments.size() > 1 && arguments.at(1) == QLatin1String(command.name))
            return command.run(arguments.mid(2));
    }

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Bulwark: a hardened HTTP API server.\n\n"
        "  bulwark --server [options]       run the server in the foreground\n"
        "  bulwark --check-config FILE      validate a configuration file and exit\n"
        "  bulwark user <command> ...       manage users and API keys (add, list, disable,\n"
        "                                   enable, key); see 'bulwark user --help'\n"
        "  bulwark seed [options]           fill the demo schema with deterministic demo\n"
        "                                   data; see 'bulwark seed --help'\n"
        "  bulwark loadtest [SCENARIO] --target URL ...\n"
        "                                   load-test a server; see 'bulwark loadtest --help'\n\n"
        "Configuration comes from built-in defaults, then --config FILE (JSON, comments\n"
        "allowed), then BULWARK_* environment variables (server.max_body is\n"
        "BULWARK_SERVER_MAX_BODY), then the flags below. Every key is described in\n"
        "docs/configuration.md. Exit codes: 0 ok, 1 runtime failure, 2 usage or\n"
        "configuration error."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption serverOption(QStringLiteral("server"),
                                          QStringLiteral("Run the HTTP API server (headless)."));
    const QCommandLineOption configOption(QStringLiteral("config"),
                                          QStringLiteral("Read configuration from <file>."),
                                          QStringLiteral("file"));
    const QCommandLineOption listenOption(
        QStringLiteral("listen"),
        QStringLiteral("Listen on <addr:port> (default 127.0.0.1:8080; port 0 picks a free one)."),
        QStringLiteral("addr:port"));
    const QCommandLineOption dataDirOption(
        QStringLiteral("data-dir"),
        QStringLiteral("Keep data in <dir> (default: the platform's app data location)."),
        QStringLiteral("dir"));
    const QCommandLineOption threadsOption(
        QStringLiteral("threads"),
        QStringLiteral("Use <n> HTTP worker threads (default: one per core)."),
        QStringLiteral("n"));
    const QCommandLineOption checkOption(
        QStringLiteral("check-config"),
        QStringLiteral("Validate <file> (with the environment and flags applied) and exit."),
        QStringLiteral("file"));
    const QCommandLineOption destructiveOption(
        QStringLiteral("allow-destructive-schema"),
        QStringLiteral("Apply schema file changes that lose data (removed fields and "
                       "collections, changed field types); without it they stop the start."));
    parser.addOptions({serverOption, configOption, listenOption, dataDirOption, threadsOption,
                       checkOption, destructiveOption});

    if (!parser.parse(QCoreApplication::arguments())) {
        std::fprintf(stderr, "bulwark: %s\nTry 'bulwark --help'.\n",
                     qPrintable(parser.errorText()));
        return 2;
    }
    if (parser.isSet(QStringLiteral("help")))
        parser.showHelp(0);
    if (parser.isSet(QStringLiteral("version")))
        parser.showVersion();
    if (!parser.positionalArguments().isEmpty()) {
        std::fprintf(stderr, "bulwark: unexpected argument '%s'\nTry 'bulwark --help'.\n",
                     qPrintable(parser.positionalArguments().first()));
        return 2;
    }

    ConfigLoader::Sources sources;
    sources.environment = QProcessEnvironment::systemEnvironment();
    const bool checkOnly = parser.isSet(checkOption);
    if (checkOnly && parser.isSet(configOption)) {
        std::fprintf(stderr,
                     "bulwark: give the file either to --check-config or to --config, not both\n");
        return 2;
    }
    sources.file = checkOnly ? parser.value(checkOption) : parser.value(configOption);
    if (parser.isSet(listenOption))
        sources.flags.insert(QStringLiteral("server.listen"), parser.value(listenOption));
    if (parser.isSet(dataDirOption))
        sources.flags.insert(QStringLiteral("server.data_dir"), parser.value(dataDirOption));
    if (parser.isSet(threadsOption))
        sources.flags.insert(QStringLiteral("server.threads"), parser.value(threadsOption));

    const auto loaded = ConfigLoader::load(sources);
    if (!loaded) {
        printErrors(loaded.error());
        return 2;
    }
    // The schema file is configuration too: check it here, so that a broken one is a
    // configuration error (exit 2) and --check-config finds it.
    if (const auto schema = loadSchema(loaded.value().db); !schema) {
        printErrors(schema.error());
        return 2;
    }
    if (checkOnly) {
        std::printf("%s: OK\n", qPrintable(sources.file));
        return 0;
    }
    if (!parser.isSet(serverOption)) {
        std::fprintf(stderr, "bulwark: no mode given. Run the server with 'bulwark --server'; "
                             "this build has no operations console yet.\nTry 'bulwark --help'.\n");
        return 2;
    }

    const Config &config = loaded.value();
    Logger::install(config.log.level);

    ServerApp server(config);
    server.setAllowDestructiveSchema(parser.isSet(destructiveOption));
    SignalWatcher signals;
    QString error;
    if (!signals.install(&error) || !server.start(&error)) {
        std::fprintf(stderr, "bulwark: %s\n", qPrintable(error));
        return 1;
    }
    QObject::connect(&signals, &SignalWatcher::terminateRequested, &server, &ServerApp::shutdown);
    // SIGHUP: the configuration is read again from the same file, environment and flags; a
    // broken file keeps the running configuration (the errors are logged).
    QObject::connect(&signals, &SignalWatcher::reloadRequested, &server, [&server, sources] {
        const auto reloaded = ConfigLoader::load(sources);
        if (!reloaded) {
            for (const QString &line : reloaded.error())
                qWarning("reload: %s", qPrintable(line));
            qWarning("reload: configuration not applied; the running one stays");
            server.reopenLogs();
            return;
        }
        server.reload(reloaded.value());
    });
    QObject::connect(&server, &ServerApp::finished, &app, [&server] {
        if (!server.drainedCleanly()) {
            // A handler is still running past the grace period; joining its thread could
            // take arbitrarily long, and the operator asked us to stop.
            std::fflush(stdout);
            std::fflush(stderr);
            std::_Exit(0);
        }
        QCoreApplication::quit();
    });

    if (server.adminTokenGenerated())
        std::fprintf(stderr, "bulwark: generated the admin token (shown once; kept in %s):\n  %s\n",
                     qPrintable(server.adminTokenFile()), server.adminToken().constData());
    QJsonObject fields{{QStringLiteral("url"), server.baseUrl()},
                       {QStringLiteral("data_dir"), server.dataDir()},
                       {QStringLiteral("version"), QStringLiteral(BULWARK_VERSION)}};
    if (!server.adminTokenFile().isEmpty())
        fields.insert(QStringLiteral("admin_token_file"), server.adminTokenFile());
    fields.insert(QStringLiteral("database"), server.databaseDescription());
    fields.insert(QStringLiteral("cache"), server.cacheDescription());
    const QByteArray line =
        Logger::format(QtInfoMsg, QStringLiteral("listening on %1").arg(server.baseUrl()), fields);
    std::fprintf(stderr, "%s\n", line.constData());
    std::fflush(stderr);
    return app.exec();
}
