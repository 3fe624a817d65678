// SPDX-License-Identifier: GPL-3.0-or-later
// Password hashing and API key generation, for the users and API keys of the data step.
//
// Passwords: PBKDF2-HMAC-SHA256 through Qt's QPasswordDigestor, a 16-byte random salt per
// password, 600 000 iterations by default (OWASP's 2023 figure for this function); the
// iteration count is stored with the hash so it can be raised later without breaking old
// passwords. Verification compares in constant time.
// API keys: 256 random bits from the system CSPRNG, shown once as "bwk_" + base64url; only
// their SHA-256 is stored. A fast hash is right here because the key has full entropy:
// there is nothing to brute-force that a slow hash would protect.
#pragma once

#include <QByteArray>
#include <QString>

namespace bulwark {

struct PasswordHash
{
    QByteArray hash; // base64
    QByteArray salt; // base64
    int iterations = 0;
};

class Credentials
{
public:
    static constexpr int kDefaultIterations = 600'000;

    static PasswordHash hashPassword(const QString &password, int iterations = kDefaultIterations);
    static bool verifyPassword(const QString &password, const PasswordHash &stored);
    // PBKDF2-HMAC-SHA256 with 32 bytes of output (exposed for known-answer tests).
    static QByteArray pbkdf2Sha256(const QByteArray &password, const QByteArray &salt,
                                   int iterations);

    struct ApiKey
    {
        QByteArray token; // give to the user once
        QByteArray hash;  // store: hex SHA-256 of the token
    };
    static ApiKey newApiKey();
    static QByteArray apiKeyHash(const QByteArray &token);

    // Secrets (tokens, salts) come from here: the system CSPRNG.
    static QByteArray randomBytes(int count);
    // Compares secrets in time that depends on the length only (the length is not secret).
    static bool constantTimeEquals(QByteArrayView a, QByteArrayView b);
};

} // namespace bulwark
