// SPDX-License-Identifier: GPL-3.0-or-later
// Builds a validated Config from four layers, each overriding the one before:
// built-in defaults < JSON file < BULWARK_* environment variables < command-line flags.
//
// The keys are one table (ConfigLoader::keys()): path, type, default, bounds and a line of
// help. Parsing, environment names, validation messages and the documentation check all
// read that table, so a new key is added in one place. The JSON file may carry // and /* */
// comments (they are blanked out, keeping every offset, so syntax errors still point at
// the right file:line:column). Unknown keys are errors: a typo must not silently fall
// back to a default.
#pragma once

#include "Config.h"
#include "Error.h"

#include <QHash>
#include <QJsonArray>
#include <QJsonValue>
#include <QList>
#include <QProcessEnvironment>
#include <QStringList>
#include <functional>
#include <optional>

namespace bulwark {

struct ConfigKey
{
    enum class Kind
    {
        String,
        Bool,
        Integer,
        Real,
        Size,
        Duration,
        Enum,
        Listen,
        List // a JSON array; `check` validates it (env and flags give it as JSON text)
    };
    QString path; // "server.max_body"
    Kind kind;
    QJsonValue defaultValue;
    double min = 0; // bounds for Integer/Real/Size (bytes)/Duration (milliseconds)
    double max = 0;
    QStringList choices; // for Enum
    QString help;
    std::function<void(Config &, const QJsonValue &)> apply; // value already validated
    // List keys: an error message naming the item ("[2].ttl: ..."), or empty when valid.
    std::function<QString(const QJsonArray &)> check = {};
};

class ConfigLoader
{
public:
    struct Sources
    {
        QString file;                    // empty: no file
        QProcessEnvironment environment; // BULWARK_* variables are read from it
        QHash<QString, QString> flags;   // key path -> raw value from the command line
    };

    // The errors are complete, human-readable lines ("file:3:14: ...", "server.threads: ...").
    static Result<Config, QStringList> load(const Sources &sources);

    static const QList<ConfigKey> &keys();
    static QString
    environmentName(const QString &path); // server.max_body -> BULWARK_SERVER_MAX_BODY

    // Value grammar, exposed for tests and for other modules that take sizes and durations.
    static std::optional<qint64> parseSize(const QString &text);       // "10MiB", "512KiB", "1024"
    static std::optional<qint64> parseDurationMs(const QString &text); // "10s", "250ms", "2m"
    // A duration in JSON: a string parseDurationMs reads, or a number of seconds (0 to
    // 1e12). nullopt for anything else (scenario files and load shapes take both forms).
    static std::optional<qint64> parseDurationMs(const QJsonValue &value);
    // The largest whole unit parseDurationMs reads back: "2h", "90s", "250ms".
    static QString formatDurationMs(qint64 ms);
    static std::optional<std::pair<QHostAddress, quint16>> parseListen(const QString &text);
    // Replaces comments outside strings with spaces; offsets and line breaks are kept.
    static QByteArray blankComments(const QByteArray &json);
};

} // namespace bulwark
