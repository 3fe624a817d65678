// SPDX-License-Identifier: GPL-3.0-or-later
// See UserCommand.h. Each subcommand parses its own options with QCommandLineParser
// (parse(), never process(): errors are ours to word and to give exit code 2), then opens
// the database and calls UserStore.
#include "UserCommand.h"

#include "Clock.h"
#include "CommandSupport.h"
#include "ConfigLoader.h"
#include "DatabaseSetup.h"
#include "UserStore.h"

#include <QCommandLineParser>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcessEnvironment>
#include <cstdio>
#include <functional>

namespace bulwark {

namespace {

constexpr int kOk = 0;
constexpr int kFailure = 1;
constexpr int kUsage = 2;

void out(const QString &text)
{
    std::fputs(text.toUtf8().constData(), stdout);
}

void err(const QString &text)
{
    std::fputs(text.toUtf8().constData(), stderr);
}

int fail(int code, const QString &message)
{
    err(QStringLiteral("bulwark: user: %1\n").arg(message));
    return code;
}

int usage(const QString &message, const QString &command = {})
{
    err(QStringLiteral("bulwark: user: %1\nTry 'bulwark user %2--help'.\n")
            .arg(message, command.isEmpty() ? QString() : command + QLatin1Char(' ')));
    return kUsage;
}

const QString kCommonHelp = QStringLiteral(
    "\nOptions of every user command:\n"
    "  --config FILE     read configuration from FILE (as 'bulwark --server' does)\n"
    "  --data-dir DIR    the server's data directory (holds bulwark.db with SQLite)\n"
    "  -h, --help        show this help\n\n"
    "BULWARK_* environment variables apply as for the server (BULWARK_DB_DRIVER, ...), so\n"
    "the command works on the database the server uses, SQLite or PostgreSQL.\n"
    "Exit codes: 0 ok, 1 runtime failure (database unreachable, duplicate email, unknown\n"
    "user), 2 usage or configuration error.\n");

const QString kOverview = QStringLiteral(
    "Usage: bulwark user <command> [options]\n\n"
    "Manage the users and API keys in Bulwark's database.\n\n"
    "Commands:\n"
    "  add EMAIL [--name NAME] [--role user|admin] [--password-stdin]\n"
    "                    create a user and print its id\n"
    "  list [--json]     list the users\n"
    "  disable ID|EMAIL  refuse the user's API keys and password logins\n"
    "  enable ID|EMAIL   accept them again\n"
    "  key ID|EMAIL [--name NAME] [--expires DURATION]\n"
    "                    create an API key for the user and print it (shown only once)\n\n"
    "Run 'bulwark user <command> --help' for the details of one command.\n");

const QString kAddHelp = QStringLiteral(
    "Usage: bulwark user add EMAIL [--name NAME] [--role user|admin] [--password-stdin]\n\n"
    "Creates a user and prints its id on stdout. The email is stored in lower case and must\n"
    "be unique (a duplicate fails with exit code 1).\n\n"
    "  --name NAME       display name (default: empty)\n"
    "  --role ROLE       'user' (default) or 'admin'\n"
    "  --password-stdin  read the password from the first line of standard input; without\n"
    "                    it the user has no password and can only use API keys\n");

const QString kListHelp = QStringLiteral(
    "Usage: bulwark user list [--json]\n\n"
    "Lists every user by id: id, email, name, role, status (active or disabled), whether a\n"
    "password is set, creation time (UTC).\n\n"
    "  --json            print a JSON array of objects instead of a table\n");

const QString kDisableHelp = QStringLiteral(
    "Usage: bulwark user disable ID|EMAIL\n\n"
    "Disables a user: their API keys and password logins are refused. The keys are kept,\n"
    "and work again after 'bulwark user enable'. A running server notices within its API\n"
    "key cache time (5 seconds by default).\n");

const QString kEnableHelp = QStringLiteral(
    "Usage: bulwark user enable ID|EMAIL\n\n"
    "Enables a disabled user again: their keys and password work as before. A running\n"
    "server notices within its API key cache time (5 seconds by default).\n");

const QString kKeyHelp = QStringLiteral(
    "Usage: bulwark user key ID|EMAIL [--name NAME] [--expires DURATION]\n\n"
    "Creates an API key for the user and prints it on stdout. The key is shown only this\n"
    "once: Bulwark stores only its SHA-256 hash and cannot show it again. Clients send it\n"
    "as 'Authorization: Bearer <key>'.\n\n"
    "  --name NAME         a label for the key (default: empty)\n"
    "  --expires DURATION  the key stops working DURATION from now: a number with the\n"
    "                      unit h, m, s or ms (a bare number is seconds), e.g. 720h for\n"
    "                      30 days (default: the key does not expire)\n");

QCommandLineOption helpOption()
{
    return {{QStringLiteral("h"), QStringLiteral("help")}, QStringLiteral("Show help.")};
}

// One subcommand invocation: its parser (common options included), the positional
// arguments it expects, and the database once opened.
class Invocation
{
public:
    // positional: the name of the one positional argument ("EMAIL"), empty for none.
    Invocation(QString command, QString help, QString positional)
        : m_command(std::move(command)), m_help(std::move(help)),
          m_positionalName(std::move(positional)), m_positionals(m_positionalName.isEmpty() ? 0 : 1)
    {
        m_parser.setSingleDashWordOptionMode(QCommandLineParser::ParseAsLongOptions);
        addCommonCommandOptions(m_parser);
        m_parser.addOption(helpOption());
    }

    QCommandLineParser &parser() { return m_parser; }

    // Parses; on a usage error or --help returns the exit code to end with.
    std::optional<int> parse(const QStringList &arguments)
    {
        if (!m_parser.parse(QStringList{QStringLiteral("bulwark user ") + m_command} + arguments))
            return usage(m_parser.errorText(), m_command);
        if (m_parser.isSet(QStringLiteral("help"))) {
            out(m_help + kCommonHelp);
            return kOk;
        }
        const QStringList positional = m_parser.positionalArguments();
        if (positional.size() < m_positionals)
            return usage(QStringLiteral("%1: missing %2").arg(m_command, m_positionalName),
                         m_command);
        if (positional.size() > m_positionals)
            return usage(QStringLiteral("%1: unexpected argument '%2'")
                             .arg(m_command, positional.at(m_positionals)),
                         m_command);
        return std::nullopt;
    }

    QString positional(int i) const { return m_parser.positionalArguments().value(i); }

    // Builds the Config as the server does and opens the database; on failure returns the
    // exit code (see CommandDatabase::open).
    std::optional<int> openStore() { return m_database.open(m_parser); }

    UserStore &store() { return m_database.users(); }
    Q_DISABLE_COPY_MOVE(Invocation)

private:
    QString m_command;
    QString m_help;
    QString m_positionalName;
    int m_positionals = 0;
    QCommandLineParser m_parser;
    CommandDatabase m_database{QStringLiteral("user")};
};

QString timestamp(const QDateTime &t)
{
    return t.isValid() ? t.toUTC().toString(Qt::ISODate) : QString();
}

QString describe(const UserRecord &u)
{
    return QStringLiteral("user %1 (%2)").arg(u.id).arg(u.email);
}

int addCommand(const QStringList &arguments)
{
    Invocation inv(QStringLiteral("add"), kAddHelp, QStringLiteral("EMAIL"));
    const QCommandLineOption name(QStringLiteral("name"), QStringLiteral("Display name."),
                                  QStringLiteral("name"));
    const QCommandLineOption role(QStringLiteral("role"), QStringLiteral("user or admin."),
                                  QStringLiteral("role"), QStringLiteral("user"));
    const QCommandLineOption passwordStdin(QStringLiteral("password-stdin"),
                                           QStringLiteral("Read the password from stdin."));
    inv.parser().addOptions({name, role, passwordStdin});
    if (const auto code = inv.parse(arguments))
        return *code;

    // The account rules are UserStore::checkNewUser's, shared with the store itself and with
    // POST /api/v1/auth/register; here they only get the option's name in front. Email and
    // role are checked before standard input is read, the password once it has been.
    const auto invalid = [](const Error &error) {
        const QString field = error.details.value(QStringLiteral("field")).toString();
        const QString where = field == QLatin1String("role") ? QStringLiteral("--role: ")
                              : field == QLatin1String("password")
                                  ? QStringLiteral("--password-stdin: ")
                                  : QString();
        return usage(QStringLiteral("add: %1%2").arg(where, error.message), QStringLiteral("add"));
    };
    const QString email = inv.positional(0);
    const QString roleValue = inv.parser().value(role);
    if (const auto error = UserStore::checkNewUser(email, std::nullopt, roleValue))
        return invalid(*error);
    std::optional<QString> password;
    if (inv.parser().isSet(passwordStdin)) {
        QFile in;
        if (!in.open(stdin, QIODevice::ReadOnly))
            return fail(kFailure, QStringLiteral("add: cannot read standard input"));
        QByteArray line = in.readLine();
        if (line.isEmpty())
            return usage(QStringLiteral("add: --password-stdin: standard input has no line"),
                         QStringLiteral("add"));
        while (line.endsWith('\n') || line.endsWith('\r'))
            line.chop(1);
        password = QString::fromUtf8(line);
        if (const auto error = UserStore::checkNewUser(email, password, roleValue))
            return invalid(*error);
    }

    if (const auto code = inv.openStore())
        return *code;
    const auto id = inv.store().addUser(email, inv.parser().value(name), password, roleValue);
    if (!id)
        return fail(kFailure, QStringLiteral("add: %1").arg(id.error().message));
    out(QStringLiteral("%1\n").arg(id.value()));
    return kOk;
}

int listCommand(const QStringList &arguments)
{
    Invocation inv(QStringLiteral("list"), kListHelp, {});
    const QCommandLineOption json(QStringLiteral("json"), QStringLiteral("JSON output."));
    inv.parser().addOption(json);
    if (const auto code = inv.parse(arguments))
        return *code;
    if (const auto code = inv.openStore())
        return *code;
    const auto users = inv.store().listUsers();
    if (!users)
        return fail(kFailure, QStringLiteral("list: %1").arg(users.error().message));

    if (inv.parser().isSet(json)) {
        QJsonArray array;
        for (const UserRecord &u : users.value())
            array.append(QJsonObject{
                {QStringLiteral("id"), u.id},
                {QStringLiteral("email"), u.email},
                {QStringLiteral("display_name"), u.displayName},
                {QStringLiteral("role"), u.role},
                {QStringLiteral("disabled"), u.disabled},
                {QStringLiteral("has_password"), u.hasPassword},
                {QStringLiteral("created_at"), u.createdAt.toUTC().toString(Qt::ISODateWithMs)},
            });
        out(QString::fromUtf8(QJsonDocument(array).toJson(QJsonDocument::Indented)));
        return kOk;
    }

    if (users.value().isEmpty()) {
        err(QStringLiteral("no users yet; add one with 'bulwark user add EMAIL'\n"));
        return kOk;
    }
    QList<QStringList> rows{{QStringLiteral("ID"), QStringLiteral("EMAIL"), QStringLiteral("NAME"),
                             QStringLiteral("ROLE"), QStringLiteral("STATUS"),
                             QStringLiteral("PASSWORD"), QStringLiteral("CREATED")}};
    for (const UserRecord &u : users.value())
        rows.append({QString::number(u.id), u.email, u.displayName, u.role,
                     u.disabled ? QStringLiteral("disabled") : QStringLiteral("active"),
                     u.hasPassword ? QStringLiteral("yes") : QStringLiteral("no"),
                     timestamp(u.createdAt)});
    QList<qsizetype> widths(rows.first().size(), 0);
    for (const QStringList &row : rows)
        for (qsizetype c = 0; c < row.size(); ++c)
            widths[c] = qMax(widths[c], row.at(c).size());
    for (const QStringList &row : rows) {
        QString line;
        for (qsizetype c = 0; c < row.size(); ++c)
            line += c + 1 < row.size() ? row.at(c).leftJustified(widths[c] + 2) : row.at(c);
        out(line + QLatin1Char('\n'));
    }
    return kOk;
}

int setDisabledCommand(const QStringList &arguments, bool disable)
{
    const QString command = disable ? QStringLiteral("disable") : QStringLiteral("enable");
    Invocation inv(command, disable ? kDisableHelp : kEnableHelp, QStringLiteral("ID|EMAIL"));
    if (const auto code = inv.parse(arguments))
        return *code;
    if (const auto code = inv.openStore())
        return *code;
    const auto user = inv.store().findUser(inv.positional(0));
    if (!user)
        return fail(kFailure, QStringLiteral("%1: %2").arg(command, user.error().message));
    const auto changed = inv.store().setDisabled(user.value().id, disable);
    if (!changed)
        return fail(kFailure, QStringLiteral("%1: %2").arg(command, changed.error().message));
    const QString state = disable ? QStringLiteral("disabled") : QStringLiteral("enabled");
    out(changed.value() ? QStringLiteral("%1 %2\n").arg(describe(user.value()), state)
                        : QStringLiteral("%1 was already %2\n").arg(describe(user.value()), state));
    return kOk;
}

int keyCommand(const QStringList &arguments)
{
    Invocation inv(QStringLiteral("key"), kKeyHelp, QStringLiteral("ID|EMAIL"));
    const QCommandLineOption name(QStringLiteral("name"), QStringLiteral("Key label."),
                                  QStringLiteral("name"));
    const QCommandLineOption expires(QStringLiteral("expires"), QStringLiteral("Lifetime."),
                                     QStringLiteral("duration"));
    inv.parser().addOptions({name, expires});
    if (const auto code = inv.parse(arguments))
        return *code;
    std::optional<qint64> lifetimeMs;
    if (inv.parser().isSet(expires)) {
        lifetimeMs = ConfigLoader::parseDurationMs(inv.parser().value(expires));
        if (!lifetimeMs || *lifetimeMs <= 0)
            return usage(QStringLiteral("key: --expires: '%1' is not a positive duration "
                                        "(e.g. 720h, 90m, 3600s)")
                             .arg(inv.parser().value(expires)),
                         QStringLiteral("key"));
    }
    if (const auto code = inv.openStore())
        return *code;
    const auto user = inv.store().findUser(inv.positional(0));
    if (!user)
        return fail(kFailure, QStringLiteral("key: %1").arg(user.error().message));
    std::optional<QDateTime> expiresAt;
    if (lifetimeMs)
        expiresAt = QDateTime::currentDateTimeUtc().addMSecs(*lifetimeMs);
    const auto key = inv.store().createApiKey(user.value().id, inv.parser().value(name), expiresAt);
    if (!key)
        return fail(kFailure, QStringLiteral("key: %1").arg(key.error().message));

    out(QString::fromLatin1(key.value().token) + QLatin1Char('\n'));
    std::fflush(stdout);
    err(QStringLiteral("API key %1 for %2%3. It is shown only once: store it now, Bulwark "
                       "keeps only its hash.\n")
            .arg(key.value().id)
            .arg(describe(user.value()),
                 key.value().expiresAt
                     ? QStringLiteral(", expires %1").arg(timestamp(*key.value().expiresAt))
                     : QString()));
    if (user.value().disabled)
        err(QStringLiteral("note: %1 is disabled; the key works once the user is enabled.\n")
                .arg(describe(user.value())));
    return kOk;
}

} // namespace

int runUserCommand(const QStringList &arguments)
{
    const QString command = arguments.value(0);
    const QStringList rest = arguments.mid(1);
    if (command.isEmpty()) {
        err(QStringLiteral("bulwark: user: no command given\n\n") + kOverview);
        return kUsage;
    }
    if (command == QLatin1String("--help") || command == QLatin1String("-h") ||
        command == QLatin1String("help")) {
        out(kOverview + kCommonHelp);
        return kOk;
    }
    const QList<std::pair<QString, std::function<int(const QStringList &)>>> commands = {
        {QStringLiteral("add"), addCommand},
        {QStringLiteral("list"), listCommand},
        {QStringLiteral("disable"),
         [](const QStringList &a) { return setDisabledCommand(a, true); }},
        {QStringLiteral("enable"),
         [](const QStringList &a) { return setDisabledCommand(a, false); }},
        {QStringLiteral("key"), keyCommand},
    };
    for (const auto &[name, run] : commands)
        if (name == command)
            return run(rest);
    if (command.startsWith(QLatin1Char('-')))
        return usage(QStringLiteral("give the command first: bulwark user <command> [options]"));
    return usage(QStringLiteral("unknown command '%1'").arg(command));
}

} // namespace bulwark
