// SPDX-License-Identifier: GPL-3.0-or-later
// The names of the events Bulwark publishes (on the EventBus, and to webhooks): one list,
// so that the configuration can refuse a webhook subscribed to an event that does not
// exist (webhooks.endpoints[].events) and the publishers and the docs use the same
// spelling. A name is "<subject>.<what happened>", lower case; "*" in a subscription
// stands for all of them and is not itself an event name.
#pragma once

#include <QStringList>

namespace bulwark {

// Every event name, in a fixed order (the order of docs/configuration.md).
inline const QStringList &knownEventNames()
{
    static const QStringList names{
        QStringLiteral("record.created"),    QStringLiteral("record.updated"),
        QStringLiteral("record.deleted"),    QStringLiteral("user.deleted"),
        QStringLiteral("job.succeeded"),     QStringLiteral("job.failed"),
        QStringLiteral("job.dead"),          QStringLiteral("ratelimit.exceeded"),
        QStringLiteral("cache.invalidated"), QStringLiteral("config.reloaded"),
    };
    return names;
}

} // namespace bulwark
