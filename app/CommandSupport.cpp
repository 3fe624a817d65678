// SPDX-License-Identifier: GPL-3.0-or-later
// See CommandSupport.h.
#include "CommandSupport.h"

#include "ConfigLoader.h"

#include <QProcessEnvironment>
#include <cstdio>

namespace bulwark {

void addCommonCommandOptions(QCommandLineParser &parser)
{
    parser.addOption({QStringLiteral("config"),
                      QStringLiteral("Read configuration from <file> (as the server does)."),
                      QStringLiteral("file")});
    parser.addOption({QStringLiteral("data-dir"),
                      QStringLiteral("Data directory (as the server's --data-dir)."),
                      QStringLiteral("dir")});
}

CommandDatabase::~CommandDatabase()
{
    m_users.reset();
    if (m_database.pool)
        m_database.pool->closeThreadConnections();
}

std::optional<int> CommandDatabase::open(const QCommandLineParser &parser)
{
    auto fail = [this](int code, const QString &message) {
        std::fprintf(stderr, "bulwark: %s: %s\n", qPrintable(m_command), qPrintable(message));
        return code;
    };
    ConfigLoader::Sources sources;
    sources.environment = QProcessEnvironment::systemEnvironment();
    sources.file = parser.value(QStringLiteral("config"));
    if (parser.isSet(QStringLiteral("data-dir")))
        sources.flags.insert(QStringLiteral("server.data_dir"),
                             parser.value(QStringLiteral("data-dir")));
    const auto loaded = ConfigLoader::load(sources);
    if (!loaded) {
        for (const QString &e : loaded.error())
            fail(2, e);
        return 2;
    }
    m_config = loaded.value();
    const auto dataDir = resolveDataDir(m_config.server);
    if (!dataDir)
        return fail(1, dataDir.error().message);
    auto setup = openDatabase(m_config.db, dataDir.value(), m_clock, nullptr);
    if (!setup) {
        // A schema file that does not load is a configuration error; the database being
        // unreachable or failing is a runtime one.
        const ErrorCode code = setup.error().code;
        const bool configuration =
            code == ErrorCode::BadRequest || code == ErrorCode::Unprocessable;
        return fail(configuration ? 2 : 1, setup.error().message);
    }
    m_database = std::move(setup).value();
    m_users = std::make_unique<UserStore>(*m_database.pool, m_clock);
    return std::nullopt;
}

} // namespace bulwark
