// SPDX-License-Identifier: GPL-3.0-or-later
// Where the Redis server is, parsed from `redis.url`: redis://[:PASSWORD@]HOST[:PORT][/DB]
// or unix:///PATH[?db=N&password=PW]. It lives in core (not with the Redis client) so that
// ConfigLoader checks the URL fully when the configuration is loaded: `--check-config`
// reports a bad URL with its key, instead of the server failing at start.
#pragma once

#include "Error.h"

#include <QByteArray>
#include <QString>

namespace bulwark {

struct RedisEndpoint
{
    QString host = QStringLiteral("127.0.0.1");
    quint16 port = 6379;
    QString unixSocket; // set: connect to this socket instead of host:port
    QByteArray password;
    int database = 0;

    // The error (BadRequest) never quotes the password.
    static Result<RedisEndpoint> parse(const QString &url);
    // "127.0.0.1:6379/0" or "unix:/path/0"; never includes the password.
    QString describe() const;
};

} // namespace bulwark
