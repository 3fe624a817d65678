// SPDX-License-Identifier: GPL-3.0-or-later
// Bulwark's configuration as plain value types. ConfigLoader builds one of these from the
// defaults, one JSON file, BULWARK_* environment variables and command-line flags, and
// validates every field; the rest of the program only ever sees a valid Config. Every key
// is documented in docs/configuration.md (a test checks that none is missing). The member
// initialisers below are the defaults for code that builds a Config directly (tests); a
// test checks they equal the defaults of ConfigLoader's key table.
#pragma once

#include <QHostAddress>
#include <QString>
#include <chrono>

namespace bulwark {

using Milliseconds = std::chrono::milliseconds;

struct TlsConfig
{
    QString certFile;
    QString keyFile;
    bool enabled() const { return !certFile.isEmpty() && !keyFile.isEmpty(); }
    bool operator==(const TlsConfig &) const = default;
};

struct ServerConfig
{
    QHostAddress address = QHostAddress::LocalHost;
    quint16 port = 8080;
    int threads = 0; // 0: one per core
    QString dataDir; // empty: the platform's app data location
    qint64 maxBody = 10 * 1024 * 1024;
    int maxRequestLine = 8 * 1024;
    int maxHeaderField = 8 * 1024;
    int maxHeaderTotal = 64 * 1024;
    int maxHeaderCount = 100;
    Milliseconds headerTimeout{10'000};
    Milliseconds bodyTimeout{30'000};
    Milliseconds idleTimeout{15'000};
    Milliseconds shutdownGrace{30'000};
    int maxConnections = 10'000;
    TlsConfig tls;
    bool debugEndpoints = false;
    bool operator==(const ServerConfig &) const = default;
};

struct HttpFeaturesConfig
{
    bool requestId = true;
    bool securityHeaders = true;
    bool metrics = true;
    bool compression = true;
    int compressionMinSize = 1024;
    int compressionLevel = 6;
    bool operator==(const HttpFeaturesConfig &) const = default;
};

enum class AccessLogMode
{
    Off,
    On,
    Sampled
};

struct LogConfig
{
    QString level = QStringLiteral("info");
    AccessLogMode access = AccessLogMode::On;
    double accessSampleRate = 0.01;
    QString accessFile; // empty: standard output
    bool operator==(const LogConfig &) const = default;
};

enum class DbDriver
{
    Sqlite,
    Postgres
};

struct DbConfig
{
    DbDriver driver = DbDriver::Sqlite;
    QString sqlitePath; // empty: <data_dir>/bulwark.db
    Milliseconds sqliteBusyTimeout{5000};
    QString postgresHost = QStringLiteral("127.0.0.1");
    int postgresPort = 5432;
    QString postgresName = QStringLiteral("bulwark");
    QString postgresUser = QStringLiteral("bulwark");
    QString postgresPassword;
    Milliseconds postgresConnectTimeout{5000};
    int poolMaxSize = 16;
    int poolMinIdle = 0;
    Milliseconds poolAcquireTimeout{5000};
    Milliseconds poolIdleTimeout{600'000};
    Milliseconds poolMaxLifetime{1'800'000};
    Milliseconds poolPingAfterIdle{30'000};
    Milliseconds poolLeakThreshold{60'000};
    QString schema;         // empty: the built-in demo schema
    int slowQueryMs = 100;  // statements slower than this are logged with their plan
    bool operator==(const DbConfig &) const = default;
};

struct ApiConfig
{
    int defaultLimit = 20;
    int maxLimit = 1000;
    int batchMax = 1000;
    Milliseconds sessionTtl{24 * 3600 * 1000};
    Milliseconds keyCacheTtl{5000};
    bool operator==(const ApiConfig &) const = default;
};

struct AdminConfig
{
    QString token; // empty: read or generate <data_dir>/admin.token
    bool operator==(const AdminConfig &) const = default;
};

struct Config
{
    ServerConfig server;
    HttpFeaturesConfig http;
    LogConfig log;
    DbConfig db;
    ApiConfig api;
    AdminConfig admin;
    QString sourceFile; // the JSON file it came from, if any
    bool operator==(const Config &) const = default;
};

} // namespace bulwark
