// SPDX-License-Identifier: GPL-3.0-or-later
// The admin API token: from config/environment if given, otherwise read from
// <data_dir>/admin.token, otherwise generated (256 random bits from the system CSPRNG,
// base64url) and written there with mode 0600 before anything else can read it.
#pragma once

#include <QString>

namespace bulwark {

struct AdminTokenResult
{
    QByteArray token;
    QString file; // empty when the token came from configuration
    bool generated = false;
    QString error;
};

AdminTokenResult loadOrCreateAdminToken(const QString &configured, const QString &dataDir);

} // namespace bulwark
