// SPDX-License-Identifier: GPL-3.0-or-later
// See AdminToken.h.
#include "AdminToken.h"

#include "Credentials.h"

#include <QDir>
#include <QFile>
#include <QSaveFile>

namespace bulwark {

AdminTokenResult loadOrCreateAdminToken(const QString &configured, const QString &dataDir)
{
    AdminTokenResult result;
    if (!configured.isEmpty()) {
        result.token = configured.toUtf8();
        return result;
    }
    result.file = QDir(dataDir).filePath(QStringLiteral("admin.token"));
    QFile existing(result.file);
    if (existing.exists()) {
        if (!existing.open(QIODevice::ReadOnly)) {
            result.error =
                QStringLiteral("cannot read %1: %2").arg(result.file, existing.errorString());
            return result;
        }
        result.token = existing.readAll().trimmed();
        if (result.token.size() < 32)
            result.error =
                QStringLiteral(
                    "%1 holds fewer than 32 characters; delete it to generate a new token")
                    .arg(result.file);
        return result;
    }
    result.token = Credentials::randomBytes(32).toBase64(QByteArray::Base64UrlEncoding |
                                                         QByteArray::OmitTrailingEquals);
    QSaveFile file(result.file);
    // Permissions are set before the content is written, so the token is never readable by others.
    if (!file.open(QIODevice::WriteOnly) ||
        !file.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner) ||
        file.write(result.token + '\n') < 0 || !file.commit()) {
        result.error = QStringLiteral("cannot write %1: %2").arg(result.file, file.errorString());
        return result;
    }
    result.generated = true;
    return result;
}

} // namespace bulwark
