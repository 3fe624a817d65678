// SPDX-License-Identifier: GPL-3.0-or-later
// See UserStore.h for the design (cache, timing-safe login, timestamps).
#include "UserStore.h"

#include <QElapsedTimer>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>
#include <mutex>

namespace bulwark {

namespace {
// Pool errors carry the driver's message for operators; clients get the plain reason.
Error withoutDriverDetail(const Error &error)
{
    if (error.code == ErrorCode::Unavailable &&
        error.message.startsWith(QLatin1String("the database is unreachable"))) {
        qWarning("users: %s", qPrintable(error.message));
        return Error{ErrorCode::Unavailable, QStringLiteral("the database is unreachable")};
    }
    return error;
}

const QString kBadLogin = QStringLiteral("invalid email or password");
const QString kBadKey = QStringLiteral("invalid API key");
constexpr qsizetype kMaxEmailLength = 254;
constexpr qsizetype kMaxTokenLength = 128;

QVariant nullOf(QMetaType type)
{
    return QVariant(type);
}

// A broken connection, as opposed to a failing statement. QPSQL reports a lost server
// connection as a statement error without an SQLSTATE (libpq has none to give), and
// PostgreSQL's own connection failures are SQLSTATE class 08 and 57P01..57P03 (shutdown).
bool isConnectionError(const QSqlError &error, bool sqlite)
{
    if (error.type() == QSqlError::ConnectionError)
        return true;
    if (sqlite)
        return false;
    const QString state = error.nativeErrorCode();
    return state.isEmpty() || state.startsWith(QLatin1String("08")) ||
           state.startsWith(QLatin1String("57P0"));
}

QDateTime readTimestamp(const QVariant &value)
{
    if (value.isNull())
        return {};
    if (value.metaType().id() == QMetaType::QDateTime)
        return value.toDateTime().toUTC();
    QString text = value.toString().trimmed();
    if (text.size() > 10 && text.at(10) == QLatin1Char(' '))
        text[10] = QLatin1Char('T'); // SQLite's own "YYYY-MM-DD HH:MM:SS"
    QDateTime parsed = QDateTime::fromString(text, Qt::ISODateWithMs);
    if (!parsed.isValid())
        return {};
    if (parsed.timeSpec() == Qt::LocalTime)
        parsed.setTimeSpec(Qt::UTC); // no offset written: stored as UTC
    return parsed.toUTC();
}

std::optional<QDateTime> readOptionalTimestamp(const QVariant &value)
{
    const QDateTime t = readTimestamp(value);
    return t.isValid() ? std::optional<QDateTime>(t) : std::nullopt;
}

// For NOT NULL text columns: a null QString would be bound as SQL NULL.
QString notNull(const QString &text)
{
    return text.isNull() ? QString(QLatin1String("")) : text;
}

bool isAllDigits(const QString &text)
{
    if (text.isEmpty() || text.size() > 18)
        return false;
    for (QChar c : text)
        if (c < QLatin1Char('0') || c > QLatin1Char('9'))
            return false;
    return true;
}

} // namespace

// The lease of one store call. A query that finds the connection broken marks it, and the
// connection is then discarded rather than returned to the pool, when the session ends:
// after the method's queries, which are declared after it, are gone.
class UserStore::Session
{
public:
    Session(ConnectionPool::Lease lease, bool sqlite) : m_lease(std::move(lease)), m_sqlite(sqlite)
    {
    }
    ~Session()
    {
        if (m_broken)
            m_lease.discard();
    }
    Q_DISABLE_COPY_MOVE(Session)

    QSqlDatabase database() const { return m_lease.database(); }

    // The error to return for a failed query: Unavailable for a broken connection (which is
    // then discarded), Internal otherwise.
    Error fail(const QSqlError &error, const QString &what)
    {
        // The driver's text is logged, not returned: these errors reach HTTP clients
        // through the auth stage.
        qWarning("users: %s: %s", qPrintable(what), qPrintable(error.text()));
        if (isConnectionError(error, m_sqlite)) {
            m_broken = true;
            return Error{ErrorCode::Unavailable, QStringLiteral("the database is unreachable")};
        }
        return Error{ErrorCode::Internal, QStringLiteral("a database statement failed")};
    }

private:
    ConnectionPool::Lease m_lease;
    bool m_sqlite = false;
    bool m_broken = false;
};

// A row of "SELECT id, email, display_name, role, disabled, password_hash IS NOT NULL,
// created_at FROM users".
static UserRecord readUser(const QSqlQuery &q)
{
    UserRecord r;
    r.id = q.value(0).toLongLong();
    r.email = q.value(1).toString();
    r.displayName = q.value(2).toString();
    r.role = q.value(3).toString();
    r.disabled = q.value(4).toBool();
    r.hasPassword = q.value(5).toBool();
    r.createdAt = readTimestamp(q.value(6));
    return r;
}

bool UserStore::run(QSqlQuery &q, const QString &sql) const
{
    // Counted and timed with every other statement (QueryInsight): the key lookups behind
    // the API's authentication show up in /admin/api/db like the data queries.
    QElapsedTimer timer;
    timer.start();
    const bool ok = sql.isNull() ? q.exec() : q.exec(sql);
    if (m_options.insight)
        m_options.insight->record(sql.isNull() ? q.lastQuery() : sql,
                                  double(timer.nsecsElapsed()) / 1e6,
                                  ok && !q.isSelect() ? q.numRowsAffected() : 0, !ok);
    return ok;
}

UserStore::UserStore(ConnectionPool &pool, const Clock &clock, UserStoreOptions options)
    : m_pool(pool), m_clock(clock), m_options(options),
      m_sqlite(pool.dialect().name() == QLatin1String("sqlite")),
      m_clockSkew(clock.now() - std::chrono::steady_clock::now())
{
}

QDateTime UserStore::wallNow() const
{
    const auto moved = (m_clock.now() - std::chrono::steady_clock::now()) - m_clockSkew;
    return QDateTime::currentDateTimeUtc().addMSecs(
        std::chrono::duration_cast<std::chrono::milliseconds>(moved).count());
}

QVariant UserStore::timestampValue(const QDateTime &time) const
{
    const QDateTime utc = time.toUTC();
    if (m_sqlite)
        return utc.toString(Qt::ISODateWithMs); // "2024-05-01T12:00:00.000Z"
    return utc;
}

std::optional<QString> UserStore::normalizeEmail(const QString &email)
{
    const QString e = email.trimmed().toLower();
    if (e.isEmpty() || e.size() > kMaxEmailLength || e.count(QLatin1Char('@')) != 1)
        return std::nullopt;
    const qsizetype at = e.indexOf(QLatin1Char('@'));
    if (at == 0 || at == e.size() - 1)
        return std::nullopt;
    for (QChar c : e)
        if (c.isSpace() || c.category() == QChar::Other_Control)
            return std::nullopt;
    return e;
}

std::optional<Error> UserStore::checkNewUser(const QString &email,
                                             const std::optional<QString> &password,
                                             const QString &role)
{
    const auto invalid = [](const QString &field, const QString &message) {
        return Error{ErrorCode::Unprocessable, message,
                     QJsonObject{{QStringLiteral("field"), field}}};
    };
    if (!normalizeEmail(email))
        return invalid(QStringLiteral("email"),
                       QStringLiteral("'%1' is not a valid email address: it needs exactly one "
                                      "'@' with text on both sides, no spaces, at most %2 "
                                      "characters")
                           .arg(email)
                           .arg(kMaxEmailLength));
    if (role != QLatin1String("user") && role != QLatin1String("admin"))
        return invalid(QStringLiteral("role"),
                       QStringLiteral("invalid role '%1': use 'user' or 'admin'").arg(role));
    if (password && password->isEmpty())
        return invalid(QStringLiteral("password"), QStringLiteral("the password is empty"));
    return std::nullopt;
}

Result<qint64> UserStore::addUser(const QString &email, const QString &displayName,
                                  const std::optional<QString> &password, const QString &role)
{
    if (auto invalid = checkNewUser(email, password, role))
        return *invalid;
    const auto normalized = normalizeEmail(email); // valid: checkNewUser() said so

    // PBKDF2 first: it takes a while, and no connection should be held meanwhile.
    std::optional<PasswordHash> hash;
    if (password)
        hash = Credentials::hashPassword(*password, m_options.passwordIterations);

    auto acquired = m_pool.acquire();
    if (!acquired)
        return withoutDriverDetail(acquired.error());
    Session session(std::move(acquired).value(), m_sqlite);
    QSqlQuery q(session.database());
    const auto exists = [&]() -> Result<bool> {
        q.prepare(QStringLiteral("SELECT 1 FROM users WHERE email = ?"));
        q.addBindValue(*normalized);
        if (!run(q))
            return session.fail(q.lastError(), QStringLiteral("find user"));
        return q.next();
    };
    const Error conflict{ErrorCode::Conflict,
                         QStringLiteral("a user with email %1 already exists").arg(*normalized)};
    const auto before = exists();
    if (!before)
        return before.error();
    if (before.value())
        return conflict;

    q.prepare(QStringLiteral(
        "INSERT INTO users (email, display_name, password_hash, password_salt, "
        "password_iterations, role, disabled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "RETURNING id"));
    q.addBindValue(*normalized);
    q.addBindValue(notNull(displayName.trimmed()));
    q.addBindValue(hash ? QVariant(QString::fromLatin1(hash->hash))
                        : nullOf(QMetaType::fromType<QString>()));
    q.addBindValue(hash ? QVariant(QString::fromLatin1(hash->salt))
                        : nullOf(QMetaType::fromType<QString>()));
    q.addBindValue(hash ? QVariant(hash->iterations) : nullOf(QMetaType::fromType<int>()));
    q.addBindValue(role);
    q.addBindValue(false);
    q.addBindValue(timestampValue(wallNow()));
    if (!run(q) || !q.next()) {
        const QSqlError error = q.lastError();
        if (isConnectionError(error, m_sqlite))
            return session.fail(error, QStringLiteral("add user"));
        // Another writer may have taken the email between the check and the insert (the
        // UNIQUE constraint caught it): report that, not a generic failure.
        const auto after = exists();
        if (after.ok() && after.value())
            return conflict;
        return session.fail(error, QStringLiteral("add user"));
    }
    return q.value(0).toLongLong();
}

Result<QList<UserRecord>> UserStore::listUsers()
{
    auto acquired = m_pool.acquire();
    if (!acquired)
        return withoutDriverDetail(acquired.error());
    Session session(std::move(acquired).value(), m_sqlite);
    QSqlQuery q(session.database());
    q.setForwardOnly(true);
    if (!run(q, QStringLiteral("SELECT id, email, display_name, role, disabled, "
                               "password_hash IS NOT NULL, created_at FROM users ORDER BY id")))
        return session.fail(q.lastError(), QStringLiteral("list users"));
    QList<UserRecord> users;
    while (q.next()) {
        users.append(readUser(q));
    }
    return users;
}

Result<UserRecord> UserStore::findUserBy(Session &session, const QString &column,
                                         const QVariant &value)
{
    QSqlQuery q(session.database());
    q.prepare(QStringLiteral("SELECT id, email, display_name, role, disabled, "
                             "password_hash IS NOT NULL, created_at FROM users WHERE %1 = ?")
                  .arg(column));
    q.addBindValue(value);
    if (!run(q))
        return session.fail(q.lastError(), QStringLiteral("find user"));
    if (!q.next())
        return Error{ErrorCode::NotFound, QStringLiteral("no user %1").arg(value.toString())};
    return readUser(q);
}

Result<UserRecord> UserStore::findUser(const QString &idOrEmail)
{
    auto acquired = m_pool.acquire();
    if (!acquired)
        return withoutDriverDetail(acquired.error());
    Session session(std::move(acquired).value(), m_sqlite);
    const QString key = idOrEmail.trimmed();
    if (isAllDigits(key))
        return findUserBy(session, QStringLiteral("id"), key.toLongLong());
    return findUserBy(session, QStringLiteral("email"), key.toLower());
}

Result<bool> UserStore::setDisabled(qint64 userId, bool disabled)
{
    auto acquired = m_pool.acquire();
    if (!acquired)
        return withoutDriverDetail(acquired.error());
    Session session(std::move(acquired).value(), m_sqlite);
    QSqlQuery q(session.database());
    q.prepare(QStringLiteral("UPDATE users SET disabled = ? WHERE id = ? AND disabled <> ?"));
    q.addBindValue(disabled);
    q.addBindValue(userId);
    q.addBindValue(disabled);
    if (!run(q))
        return session.fail(q.lastError(), QStringLiteral("update user"));
    const bool changed = q.numRowsAffected() > 0;
    invalidateCache();
    if (changed)
        return true;
    const auto user = findUserBy(session, QStringLiteral("id"), userId);
    if (!user)
        return user.error();
    return false;
}

Result<NewKey> UserStore::createApiKey(qint64 userId, const QString &name,
                                       const std::optional<QDateTime> &expiresAt)
{
    const QDateTime now = wallNow();
    if (expiresAt && (!expiresAt->isValid() || *expiresAt <= now))
        return Error{ErrorCode::Unprocessable,
                     QStringLiteral("the key's expiry must be a time in the future")};
    auto acquired = m_pool.acquire();
    if (!acquired)
        return withoutDriverDetail(acquired.error());
    Session session(std::move(acquired).value(), m_sqlite);
    const auto user = findUserBy(session, QStringLiteral("id"), userId);
    if (!user)
        return user.error();

    const Credentials::ApiKey key = Credentials::newApiKey();
    QSqlQuery q(session.database());
    q.prepare(QStringLiteral("INSERT INTO api_keys (user_id, name, key_hash, created_at, "
                             "expires_at) VALUES (?, ?, ?, ?, ?) RETURNING id"));
    q.addBindValue(userId);
    q.addBindValue(notNull(name.trimmed()));
    q.addBindValue(QString::fromLatin1(key.hash));
    q.addBindValue(timestampValue(now));
    q.addBindValue(expiresAt ? timestampValue(*expiresAt)
                             : nullOf(m_sqlite ? QMetaType::fromType<QString>()
                                               : QMetaType::fromType<QDateTime>()));
    if (!run(q) || !q.next())
        return session.fail(q.lastError(), QStringLiteral("create API key"));
    NewKey created;
    created.id = q.value(0).toLongLong();
    created.token = key.token;
    if (expiresAt)
        created.expiresAt = expiresAt->toUTC();
    return created;
}

Result<bool> UserStore::revokeKey(qint64 keyId, qint64 userId)
{
    auto acquired = m_pool.acquire();
    if (!acquired)
        return withoutDriverDetail(acquired.error());
    Session session(std::move(acquired).value(), m_sqlite);
    QSqlQuery q(session.database());
    q.prepare(QStringLiteral("UPDATE api_keys SET revoked_at = ? "
                             "WHERE id = ? AND user_id = ? AND revoked_at IS NULL"));
    q.addBindValue(timestampValue(wallNow()));
    q.addBindValue(keyId);
    q.addBindValue(userId);
    if (!run(q))
        return session.fail(q.lastError(), QStringLiteral("revoke API key"));
    const bool revoked = q.numRowsAffected() > 0;
    invalidateCache();
    if (revoked)
        return true;
    q.prepare(QStringLiteral("SELECT 1 FROM api_keys WHERE id = ? AND user_id = ?"));
    q.addBindValue(keyId);
    q.addBindValue(userId);
    if (!run(q))
        return session.fail(q.lastError(), QStringLiteral("revoke API key"));
    if (!q.next())
        return Error{ErrorCode::NotFound,
                     QStringLiteral("user %1 has no API key %2").arg(userId).arg(keyId)};
    return false;
}

Result<UserStore::EntryPtr> UserStore::lookupKey(const QByteArray &hash)
{
    auto acquired = m_pool.acquire();
    if (!acquired)
        return withoutDriverDetail(acquired.error());
    Session session(std::move(acquired).value(), m_sqlite);
    QSqlQuery q(session.database());
    q.prepare(QStringLiteral("SELECT k.id, k.user_id, k.revoked_at, k.expires_at, "
                             "k.last_used_at, u.role, u.disabled FROM api_keys k "
                             "JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?"));
    q.addBindValue(QString::fromLatin1(hash));
    if (!run(q))
        return session.fail(q.lastError(), QStringLiteral("look up API key"));

    const auto now = m_clock.now();
    auto entry = std::make_shared<CacheEntry>();
    entry->cachedAt = now;
    if (!q.next())
        return EntryPtr(entry);
    entry->keyId = q.value(0).toLongLong();
    entry->principal.userId = q.value(1).toLongLong();
    entry->principal.keyId = entry->keyId;
    const bool revoked = !q.value(2).isNull();
    entry->expiresAt = readOptionalTimestamp(q.value(3));
    const QDateTime lastUsed = readTimestamp(q.value(4));
    entry->principal.admin = q.value(5).toString() == QLatin1String("admin");
    const bool disabled = q.value(6).toBool();
    const QDateTime wall = wallNow();
    entry->valid = !revoked && !disabled && (!entry->expiresAt || *entry->expiresAt > wall);
    if (!entry->valid)
        return EntryPtr(entry);

    // last_used_at: written when the stored value is a touch interval old (or missing),
    // which keeps it to about once a minute per key across every instance.
    const qint64 sinceUse = lastUsed.isValid() ? lastUsed.msecsTo(wall) : -1;
    if (sinceUse < 0 || sinceUse >= m_options.touchInterval.count()) {
        q.prepare(QStringLiteral("UPDATE api_keys SET last_used_at = ? WHERE id = ?"));
        q.addBindValue(timestampValue(wall));
        q.addBindValue(entry->keyId);
        if (!run(q)) {
            const Error error = session.fail(q.lastError(), QStringLiteral("record API key use"));
            qWarning("API key %lld: %s", qlonglong(entry->keyId), qPrintable(error.message));
        }
        entry->touchedAt = now.time_since_epoch().count();
    } else {
        entry->touchedAt = (now - std::chrono::milliseconds(sinceUse)).time_since_epoch().count();
    }
    return EntryPtr(entry);
}

void UserStore::touchKey(qint64 keyId)
{
    auto acquired = m_pool.acquire();
    if (!acquired) {
        qWarning("API key %lld: cannot record its last use: %s", qlonglong(keyId),
                 qPrintable(acquired.error().message));
        return;
    }
    Session session(std::move(acquired).value(), m_sqlite);
    QSqlQuery q(session.database());
    q.prepare(QStringLiteral("UPDATE api_keys SET last_used_at = ? WHERE id = ?"));
    q.addBindValue(timestampValue(wallNow()));
    q.addBindValue(keyId);
    if (!run(q)) {
        const Error error = session.fail(q.lastError(), QStringLiteral("record API key use"));
        qWarning("API key %lld: %s", qlonglong(keyId), qPrintable(error.message));
    }
}

Result<Principal> UserStore::authenticateKey(QByteArrayView token)
{
    // Not one of ours: answered without a query and without a cache slot.
    if (!token.startsWith(QByteArrayView("bwk_")) || token.size() > kMaxTokenLength)
        return Error{ErrorCode::Unauthorized, kBadKey};
    const auto now = m_clock.now();

    // The cache is keyed by the token itself, not its SHA-256: hashing every request's key
    // was a fifth of a cached GET's time. The tokens already sit in request buffers of this
    // process; the database only ever sees (and stores) the hash.
    EntryPtr entry;
    {
        std::shared_lock lock(m_cacheMutex);
        const auto it = m_cache.constFind(QByteArray::fromRawData(token.data(), token.size()));
        if (it != m_cache.constEnd() && now - it.value()->cachedAt < m_options.cacheTtl)
            entry = it.value();
    }
    if (!entry) {
        const QByteArray hash = Credentials::apiKeyHash(token.toByteArray());
        auto looked = lookupKey(hash);
        if (!looked)
            return looked.error(); // database trouble is never cached
        entry = std::move(looked).value();
        std::unique_lock lock(m_cacheMutex);
        if (m_cache.size() >= m_options.maxCacheEntries)
            m_cache.clear();
        m_cache.insert(token.toByteArray(), entry);
    }

    if (!entry->valid || (entry->expiresAt && *entry->expiresAt <= wallNow()))
        return Error{ErrorCode::Unauthorized, kBadKey};

    // A cache entry living longer than the touch interval (long TTL): one thread wins the
    // CAS and records the use.
    auto touched = entry->touchedAt.load(std::memory_order_relaxed);
    const auto nowTicks = now.time_since_epoch().count();
    const auto interval =
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(m_options.touchInterval)
            .count();
    if (nowTicks - touched >= interval &&
        entry->touchedAt.compare_exchange_strong(touched, nowTicks))
        touchKey(entry->keyId);
    return entry->principal;
}

Result<Principal> UserStore::login(const QString &email, const QString &password)
{
    // Stands in for a missing user or password so that every failure costs one PBKDF2.
    static const PasswordHash dummyTemplate{QByteArray(32, '\0').toBase64(),
                                            QByteArrayLiteral("YnVsd2Fyay1kdW1teS1zYWx0"), 0};
    PasswordHash dummy = dummyTemplate;
    dummy.iterations = m_options.passwordIterations;
    const Error failure{ErrorCode::Unauthorized, kBadLogin};

    const auto normalized = normalizeEmail(email);
    if (!normalized) {
        Credentials::verifyPassword(password, dummy);
        return failure;
    }
    PasswordHash stored;
    Principal principal;
    bool disabled = false;
    {
        auto acquired = m_pool.acquire();
        if (!acquired)
            return withoutDriverDetail(acquired.error());
        Session session(std::move(acquired).value(), m_sqlite);
        QSqlQuery q(session.database());
        q.prepare(QStringLiteral("SELECT id, role, disabled, password_hash, password_salt, "
                                 "password_iterations FROM users WHERE email = ?"));
        q.addBindValue(*normalized);
        if (!run(q))
            return session.fail(q.lastError(), QStringLiteral("log in"));
        if (q.next() && !q.value(3).isNull()) {
            principal.userId = q.value(0).toLongLong();
            principal.admin = q.value(1).toString() == QLatin1String("admin");
            disabled = q.value(2).toBool();
            stored.hash = q.value(3).toString().toLatin1();
            stored.salt = q.value(4).toString().toLatin1();
            stored.iterations = q.value(5).toInt();
        }
    } // the connection goes back before the slow hash
    if (stored.hash.isEmpty()) {
        Credentials::verifyPassword(password, dummy);
        return failure;
    }
    if (!Credentials::verifyPassword(password, stored) || disabled)
        return failure;
    return principal;
}

void UserStore::invalidateCache()
{
    std::unique_lock lock(m_cacheMutex);
    m_cache.clear();
}

} // namespace bulwark
