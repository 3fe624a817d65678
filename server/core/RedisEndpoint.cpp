// SPDX-License-Identifier: GPL-3.0-or-later
// See RedisEndpoint.h.
#include "RedisEndpoint.h"

#include <QUrl>
#include <QUrlQuery>

namespace bulwark {

Result<RedisEndpoint> RedisEndpoint::parse(const QString &url)
{
    const auto invalid = [&url](const QString &why) {
        // The URL may hold a password: quote it without the user-info part. QUrl shows
        // nothing for a URL it cannot parse, so then the text before the last '@' goes.
        QString shown = QUrl(url).toDisplayString(QUrl::RemoveUserInfo | QUrl::RemoveQuery);
        if (shown.isEmpty()) {
            const qsizetype scheme = url.indexOf(QLatin1String("://"));
            const qsizetype at = url.lastIndexOf(QLatin1Char('@'));
            shown = scheme >= 0 && at > scheme ? url.left(scheme + 3) + url.mid(at + 1) : url;
        }
        return Error{ErrorCode::BadRequest,
                     QStringLiteral("invalid Redis URL \"%1\": %2").arg(shown, why)};
    };
    const QUrl parsed(url, QUrl::StrictMode);
    if (url.trimmed().isEmpty())
        return invalid(QStringLiteral("empty"));
    // Not parsed.errorString(): it quotes the whole URL, password included.
    if (!parsed.isValid())
        return invalid(QStringLiteral("malformed URL"));

    RedisEndpoint options;
    const QString scheme = parsed.scheme().toLower();
    if (scheme == QLatin1String("redis")) {
        if (parsed.host().isEmpty())
            return invalid(QStringLiteral("no host"));
        if (parsed.hasQuery() || parsed.hasFragment())
            return invalid(QStringLiteral("query and fragment are not supported"));
        // Redis 6 ACL users are not supported (AUTH takes the password only); "default" is
        // the user a plain password authenticates as, so it is accepted.
        const QString user = parsed.userName();
        if (!user.isEmpty() && user != QLatin1String("default"))
            return invalid(QStringLiteral("ACL user names are not supported (use :password@)"));
        options.host = parsed.host();
        const int port = parsed.port(6379);
        if (port <= 0 || port > 65535)
            return invalid(QStringLiteral("port out of range"));
        options.port = quint16(port);
        options.password = parsed.password(QUrl::FullyDecoded).toUtf8();
        QString path = parsed.path();
        if (path.startsWith(QLatin1Char('/')))
            path.remove(0, 1);
        if (!path.isEmpty()) {
            bool ok = false;
            options.database = path.toInt(&ok);
            if (!ok || options.database < 0 || !path.front().isDigit())
                return invalid(QStringLiteral("database must be a number >= 0"));
        }
    } else if (scheme == QLatin1String("unix")) {
        if (!parsed.host().isEmpty() || !parsed.userInfo().isEmpty())
            return invalid(QStringLiteral("expected unix:///absolute/path/to/socket"));
        options.unixSocket = parsed.path();
        if (!options.unixSocket.startsWith(QLatin1Char('/')))
            return invalid(QStringLiteral("the socket path must be absolute"));
        if (parsed.hasFragment())
            return invalid(QStringLiteral("fragment is not supported"));
        const QUrlQuery query(parsed);
        for (const auto &[key, value] : query.queryItems(QUrl::FullyDecoded)) {
            if (key == QLatin1String("db")) {
                bool ok = false;
                options.database = value.toInt(&ok);
                if (!ok || options.database < 0 || value.isEmpty() || !value.front().isDigit())
                    return invalid(QStringLiteral("database must be a number >= 0"));
            } else if (key == QLatin1String("password")) {
                options.password = value.toUtf8();
            } else {
                return invalid(QStringLiteral("unknown parameter \"%1\"").arg(key));
            }
        }
    } else if (scheme == QLatin1String("rediss")) {
        return invalid(QStringLiteral("TLS (rediss://) is not supported by hiredis 0.14"));
    } else {
        return invalid(QStringLiteral("the scheme must be redis:// or unix://"));
    }
    return options;
}

QString RedisEndpoint::describe() const
{
    if (!unixSocket.isEmpty())
        return QStringLiteral("unix:%1/%2").arg(unixSocket).arg(database);
    const QString shownHost =
        host.contains(QLatin1Char(':')) ? QLatin1Char('[') + host + QLatin1Char(']') : host;
    return QStringLiteral("%1:%2/%3").arg(shownHost).arg(port).arg(database);
}

} // namespace bulwark
