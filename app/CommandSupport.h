// SPDX-License-Identifier: GPL-3.0-or-later
// What the admin commands (`bulwark user`, `bulwark seed`) share: the --config and
// --data-dir options, and opening the database from the same layered Config as the
// server (defaults < file < BULWARK_* environment < flags), so a command always works on
// the database the server would use.
#pragma once

#include "Clock.h"
#include "Config.h"
#include "DatabaseSetup.h"
#include "UserStore.h"

#include <QCommandLineParser>
#include <memory>
#include <optional>

namespace bulwark {

// Adds --config FILE and --data-dir DIR.
void addCommonCommandOptions(QCommandLineParser &parser);

class CommandDatabase
{
public:
    explicit CommandDatabase(QString command) : m_command(std::move(command)) {}
    ~CommandDatabase();
    Q_DISABLE_COPY_MOVE(CommandDatabase)

    // Loads the Config and opens the database; on failure prints
    // "bulwark: <command>: <message>" and returns the exit code (2 for configuration
    // errors, a bad schema file included; 1 when the database cannot be opened).
    std::optional<int> open(const QCommandLineParser &parser);

    const Config &config() const { return m_config; }
    ConnectionPool &pool() { return *m_database.pool; }
    UserStore &users() { return *m_users; }

private:
    QString m_command;
    Config m_config;
    SteadyClock m_clock; // before the pool, which keeps a reference
    DatabaseSetup m_database;
    std::unique_ptr<UserStore> m_users;
};

} // namespace bulwark
