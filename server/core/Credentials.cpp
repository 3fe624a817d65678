// SPDX-License-Identifier: GPL-3.0-or-later
// See Credentials.h.
#include "Credentials.h"

#include <QCryptographicHash>
#include <QPasswordDigestor>
#include <QRandomGenerator>

namespace bulwark {

QByteArray Credentials::randomBytes(int count)
{
    QByteArray bytes(count, Qt::Uninitialized);
    QRandomGenerator::system()->generate(bytes.begin(), bytes.end());
    return bytes;
}

bool Credentials::constantTimeEquals(QByteArrayView a, QByteArrayView b)
{
    if (a.size() != b.size())
        return false;
    unsigned char diff = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        diff |= uchar(a[i]) ^ uchar(b[i]);
    return diff == 0;
}

QByteArray Credentials::pbkdf2Sha256(const QByteArray &password, const QByteArray &salt,
                                     int iterations)
{
    return QPasswordDigestor::deriveKeyPbkdf2(QCryptographicHash::Sha256, password, salt,
                                              iterations, 32);
}

PasswordHash Credentials::hashPassword(const QString &password, int iterations)
{
    const QByteArray salt = randomBytes(16);
    return PasswordHash{pbkdf2Sha256(password.toUtf8(), salt, iterations).toBase64(),
                        salt.toBase64(), iterations};
}

bool Credentials::verifyPassword(const QString &password, const PasswordHash &stored)
{
    if (stored.iterations <= 0 || stored.hash.isEmpty())
        return false;
    const QByteArray salt = QByteArray::fromBase64(stored.salt);
    const QByteArray expected = QByteArray::fromBase64(stored.hash);
    return constantTimeEquals(pbkdf2Sha256(password.toUtf8(), salt, stored.iterations), expected);
}

Credentials::ApiKey Credentials::newApiKey()
{
    const QByteArray token = "bwk_" + randomBytes(32).toBase64(QByteArray::Base64UrlEncoding |
                                                               QByteArray::OmitTrailingEquals);
    return ApiKey{token, apiKeyHash(token)};
}

QByteArray Credentials::apiKeyHash(const QByteArray &token)
{
    return QCryptographicHash::hash(token, QCryptographicHash::Sha256).toHex();
}

} // namespace bulwark
