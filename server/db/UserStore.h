// SPDX-License-Identifier: GPL-3.0-or-later
// Users and their API keys, on SQLite and PostgreSQL alike (tables of InternalSchema.cpp).
// Passwords are kept as PBKDF2 hashes and keys as SHA-256 hashes (Credentials.h): neither
// a password nor a key is ever stored or logged in plain text.
//
// authenticateKey() runs on every API request, so its answers are cached in memory for a
// short TTL (5 s by default), keyed by the key's hash: a busy API asks the database about
// each key at most once per TTL. Failed lookups are cached as well, so a client hammering
// with a wrong key costs no queries either. The cache holds at most maxCacheEntries and is
// simply cleared when full (cheap, and a flood of random keys cannot grow it). The price is
// staleness: a key revoked or a user disabled elsewhere (another instance, the `bulwark
// user` command) keeps working here for up to one TTL. Changes made through this store
// (setDisabled, revokeKey) clear the cache at once; invalidateCache() is there for other
// paths. A cached success is re-checked against the key's expiry on every hit, so expiry is
// exact. last_used_at is written at most once a minute per key, not per request.
//
// login() spends the same PBKDF2 work whether or not the email exists (a fixed dummy hash
// stands in for a missing user or password) and answers every failure with one message,
// so neither timing nor wording tells which emails have accounts.
//
// Every method takes its own lease from the pool on the calling thread. A broken connection
// becomes ErrorCode::Unavailable (and the connection is discarded so the next call opens a
// fresh one); any other database failure is ErrorCode::Internal. Thread-safe.
//
// Timestamps are UTC. PostgreSQL gets QDateTime values for its TIMESTAMPTZ columns; SQLite
// gets ISO 8601 text with milliseconds and "Z" ("2024-05-01T12:00:00.000Z"), which sorts
// as text. Reads accept both. Wall-clock "now" follows the injected Clock (see wallNow()),
// so tests move expiry with a ManualClock as they move the cache TTL.
#pragma once

#include "Clock.h"
#include "ConnectionPool.h"
#include "Credentials.h"
#include "Error.h"
#include "Principal.h"
#include "QueryInsight.h"

#include <QByteArrayView>
#include <QDateTime>
#include <QHash>
#include <QList>
#include <QSqlQuery>
#include <QString>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <shared_mutex>

namespace bulwark {

struct UserRecord
{
    qint64 id = 0;
    QString email; // lower case
    QString displayName;
    QString role; // "user" or "admin"
    bool disabled = false;
    bool hasPassword = false;
    QDateTime createdAt; // UTC
};

struct NewKey
{
    qint64 id = 0;
    QByteArray token; // "bwk_..."; give it to the user once, it is not stored
    std::optional<QDateTime> expiresAt;
};

struct UserStoreOptions
{
    // PBKDF2 iterations for new passwords (tests use a small count).
    int passwordIterations = Credentials::kDefaultIterations;
    std::chrono::milliseconds cacheTtl{5000};
    int maxCacheEntries = 10'000;
    // last_used_at of a key is written at most this often.
    std::chrono::milliseconds touchInterval{60'000};
    // Where statements are counted and timed (nullptr: nowhere).
    QueryInsight *insight = nullptr;
};

class UserStore
{
public:
    UserStore(ConnectionPool &pool, const Clock &clock, UserStoreOptions options = {});
    Q_DISABLE_COPY_MOVE(UserStore)

    // Creates a user and returns its id. The email is trimmed, lower-cased and must have one
    // '@' with text on both sides, no whitespace, at most 254 characters; role is "user" or
    // "admin"; a password, when given, must not be empty (without one the user can only use
    // API keys). Unprocessable for invalid values, Conflict when the email is taken.
    Result<qint64> addUser(const QString &email, const QString &displayName,
                           const std::optional<QString> &password,
                           const QString &role = QStringLiteral("user"));
    // All users, by id.
    Result<QList<UserRecord>> listUsers();
    // By id (all digits) or by email (case-insensitive). NotFound when there is none.
    Result<UserRecord> findUser(const QString &idOrEmail);
    // True when the flag changed, false when it already had that value; NotFound for an
    // unknown id. Clears the key cache.
    Result<bool> setDisabled(qint64 userId, bool disabled);

    // A new key for the user (NotFound for an unknown user; Unprocessable when expiresAt is
    // not in the future). Only the key's hash is stored.
    Result<NewKey> createApiKey(qint64 userId, const QString &name,
                                const std::optional<QDateTime> &expiresAt = std::nullopt);
    // Revokes a key of that user: true when revoked now, false when it already was;
    // NotFound when the user has no such key. Clears the key cache.
    Result<bool> revokeKey(qint64 keyId, qint64 userId);

    // The principal of an API key that exists, is not revoked, has not expired and belongs
    // to a user who is not disabled; otherwise Unauthorized ("invalid API key", the same for
    // every reason). Unavailable/Internal when the database fails (never cached).
    Result<Principal> authenticateKey(QByteArrayView token);
    // Email and password; Unauthorized with "invalid email or password" for an unknown
    // email, a user without a password, a wrong password or a disabled user alike.
    Result<Principal> login(const QString &email, const QString &password);

    // Forgets every cached key lookup (after a change made outside this store).
    void invalidateCache();

    // Trims and lower-cases an email; nullopt when it is not a valid address (see addUser).
    static std::optional<QString> normalizeEmail(const QString &email);
    // The rules a new account meets however it is made: addUser() itself, `bulwark user add`
    // and POST /api/v1/auth/register all ask this one function, so they cannot drift apart.
    // The email as normalizeEmail() accepts it, the role "user" or "admin", the password (if
    // given: nullopt skips the check) not empty. nullopt when all hold; otherwise
    // Unprocessable for the first value at fault, checked in that order, with a message
    // that does not name the field and details {"field": "email" | "role" | "password"}, so
    // each caller can name it in its own terms (an option, a JSON member).
    static std::optional<Error>
    checkNewUser(const QString &email, const std::optional<QString> &password, const QString &role);

private:
    struct CacheEntry
    {
        bool valid = false;
        Principal principal;
        qint64 keyId = 0;
        std::optional<QDateTime> expiresAt;
        std::chrono::steady_clock::time_point cachedAt;
        // steady_clock ticks of the last write of last_used_at; claimed with a CAS so one
        // thread writes it.
        mutable std::atomic<std::chrono::steady_clock::rep> touchedAt{0};
    };
    using EntryPtr = std::shared_ptr<const CacheEntry>;

    class Session; // a lease that is discarded instead of returned once found broken

    Result<EntryPtr> lookupKey(const QByteArray &hash);
    void touchKey(qint64 keyId);
    Result<UserRecord> findUserBy(Session &session, const QString &column, const QVariant &value);
    QVariant timestampValue(const QDateTime &utc) const;
    // Runs a prepared query (or `sql`) and records it in the QueryInsight.
    bool run(QSqlQuery &q, const QString &sql = QString()) const;
    QDateTime wallNow() const;

    ConnectionPool &m_pool;
    const Clock &m_clock;
    UserStoreOptions m_options;
    bool m_sqlite = false;
    // wallNow() = system UTC time + (how far m_clock has moved - how far the steady clock
    // has moved) since construction: plain wall time with SteadyClock, test time with a
    // ManualClock.
    std::chrono::steady_clock::duration m_clockSkew{};

    mutable std::shared_mutex m_cacheMutex;
    QHash<QByteArray, EntryPtr> m_cache; // by token
};

} // namespace bulwark
