// SPDX-License-Identifier: GPL-3.0-or-later
// UserStore through the real ConnectionPool and the internal migrations, with a hand-moved
// clock: users (add, list, find, duplicate and invalid emails), API keys (create,
// authenticate, revoked, expired, disabled user), the key cache (fewer queries, stale
// within the TTL unless invalidated, fresh after it), last_used_at at most once a minute,
// login failures that all look alike, timestamps, and that no secret is stored.
//
// One source, two executables: tst_userstore runs on a SQLite file in a temporary
// directory (unit); tst_userstore_postgres (tests/integration, BULWARK_TEST_POSTGRES
// defined) runs the same checks on a real PostgreSQL from the harness, whose absence is a
// failure, plus losing the server under a live connection.
#include "ConnectionPool.h"
#include "InternalSchema.h"
#include "ManualClock.h"
#include "MigratedDatabase.h"
#include "Migrator.h"
#include "UserStore.h"

#ifdef BULWARK_TEST_POSTGRES
#include "ExternalServers.h"
#endif

#include <QRegularExpression>
#include <QSqlError>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QTemporaryDir>
#include <QtTest>
#include <atomic>
#include <thread>

using namespace bulwark;
using namespace bulwark::test;
using namespace std::chrono_literals;

namespace {
constexpr int kTestIterations = 1000; // PBKDF2 rounds for test passwords: fast
} // namespace

class TestUserStore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();
    void cleanup();

    void addListFind();
    void duplicateEmailIsConflict();
    void invalidInput_data();
    void invalidInput();
    void keyAuthenticates();
    void revokedKeyIsRejected();
    void expiredKeyIsRejected();
    void disabledUserIsRejected();
    void cacheServesWithinTtl();
    void cacheIsBounded();
    void lastUsedAtMostOncePerMinute();
    void concurrentAuthentication();
    void login();
    void noSecretIsStored();
    void timestamps();
#ifdef BULWARK_TEST_POSTGRES
    // Needs a server to lose: only in the PostgreSQL build of this file.
    void connectionLossIsUnavailable();
#endif

private:
    std::unique_ptr<UserStore> makeStore(UserStoreOptions options = {});
    QSqlDatabase rawDb();
    qint64 addUser(UserStore &store, const QString &email, const QString &role = "user",
                   const std::optional<QString> &password = std::nullopt);
    QVariant lastUsedAt(qint64 keyId);

    ManualClock m_clock;
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<ConnectionPool> m_pool;
    std::optional<ConnectionPool::Lease> m_raw; // for checks made behind the store's back
#ifdef BULWARK_TEST_POSTGRES
    PostgresServer m_pg;
#endif
};

void TestUserStore::initTestCase()
{
#ifdef BULWARK_TEST_POSTGRES
    QVERIFY2(m_pg.start(), qPrintable(m_pg.errorString()));
#endif
}

void TestUserStore::cleanupTestCase()
{
#ifdef BULWARK_TEST_POSTGRES
    m_pg.stop();
#endif
}

void TestUserStore::init()
{
    std::shared_ptr<Dialect> dialect;
#ifdef BULWARK_TEST_POSTGRES
    PostgresDialect::Params params;
    params.host = m_pg.host();
    params.port = m_pg.port();
    params.database = m_pg.database();
    params.user = m_pg.user();
    params.connectTimeoutSeconds = 2;
    dialect = std::make_shared<PostgresDialect>(params);
#else
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    dialect = std::make_shared<SqliteDialect>(m_dir->filePath(QStringLiteral("users.db")), 2000ms);
#endif
    PoolOptions options;
    options.maxSize = 8;
    options.acquireTimeout = 3000ms;
    options.pingAfterIdle = 3'600'000ms; // tests move the clock by minutes; no pings wanted
    options.idleTimeout = 3'600'000ms;
    options.maxLifetime = 3'600'000ms * 24;
    m_pool = std::make_unique<ConnectionPool>(dialect, options, m_clock);
    const QString migrated = test::migrateInternalTables(*m_pool, *dialect);
    QVERIFY2(migrated.isEmpty(), qPrintable(migrated));
}

void TestUserStore::cleanup()
{
    m_raw.reset();
    if (m_pool)
        m_pool->closeThreadConnections();
    m_pool.reset();
    m_dir.reset();
}

std::unique_ptr<UserStore> TestUserStore::makeStore(UserStoreOptions options)
{
    options.passwordIterations = kTestIterations;
    return std::make_unique<UserStore>(*m_pool, m_clock, options);
}

QSqlDatabase TestUserStore::rawDb()
{
    if (!m_raw) {
        auto lease = m_pool->acquire();
        if (!lease.ok())
            return {};
        m_raw.emplace(std::move(lease).value());
    }
    return m_raw->database();
}

qint64 TestUserStore::addUser(UserStore &store, const QString &email, const QString &role,
                              const std::optional<QString> &password)
{
    const auto id = store.addUser(email, QStringLiteral("Name of ") + email, password, role);
    if (!id.ok()) {
        qWarning("addUser(%s): %s", qPrintable(email), qPrintable(id.error().message));
        return 0;
    }
    return id.value();
}

QVariant TestUserStore::lastUsedAt(qint64 keyId)
{
    QSqlQuery q(rawDb());
    q.prepare(QStringLiteral("SELECT last_used_at FROM api_keys WHERE id = ?"));
    q.addBindValue(keyId);
    if (!q.exec() || !q.next())
        return QStringLiteral("<query failed: %1>").arg(q.lastError().text());
    return q.value(0);
}

void TestUserStore::addListFind()
{
    auto store = makeStore();
    const QDateTime before = QDateTime::currentDateTimeUtc().addSecs(-2);
    const auto alice =
        store->addUser(QStringLiteral("  Alice@Example.ORG "), QStringLiteral("Alice"),
                       QStringLiteral("pw-a"), QStringLiteral("admin"));
    QVERIFY2(alice.ok(), qPrintable(alice.ok() ? QString() : alice.error().message));
    const qint64 bob = addUser(*store, QStringLiteral("bob@example.org"));
    QVERIFY(bob > alice.value());

    const auto users = store->listUsers();
    QVERIFY2(users.ok(), qPrintable(users.ok() ? QString() : users.error().message));
    QCOMPARE(users.value().size(), 2);
    const UserRecord &a = users.value().at(0);
    QCOMPARE(a.id, alice.value());
    QCOMPARE(a.email, QStringLiteral("alice@example.org"));
    QCOMPARE(a.displayName, QStringLiteral("Alice"));
    QCOMPARE(a.role, QStringLiteral("admin"));
    QCOMPARE(a.disabled, false);
    QCOMPARE(a.hasPassword, true);
    QVERIFY2(a.createdAt.isValid() && a.createdAt >= before &&
                 a.createdAt <= QDateTime::currentDateTimeUtc().addSecs(2),
             qPrintable(a.createdAt.toString(Qt::ISODateWithMs)));
    QCOMPARE(a.createdAt.timeSpec(), Qt::UTC);
    const UserRecord &b = users.value().at(1);
    QCOMPARE(b.email, QStringLiteral("bob@example.org"));
    QCOMPARE(b.role, QStringLiteral("user"));
    QCOMPARE(b.hasPassword, false);

    const auto byId = store->findUser(QString::number(bob));
    QVERIFY(byId.ok());
    QCOMPARE(byId.value().email, QStringLiteral("bob@example.org"));
    const auto byEmail = store->findUser(QStringLiteral("ALICE@example.org"));
    QVERIFY(byEmail.ok());
    QCOMPARE(byEmail.value().id, alice.value());
    const auto missing = store->findUser(QStringLiteral("carol@example.org"));
    QVERIFY(!missing.ok());
    QCOMPARE(missing.error().code, ErrorCode::NotFound);
    const auto missingId = store->findUser(QStringLiteral("999"));
    QVERIFY(!missingId.ok());
    QCOMPARE(missingId.error().code, ErrorCode::NotFound);
}

void TestUserStore::duplicateEmailIsConflict()
{
    auto store = makeStore();
    // No display name given: stored as the empty string.
    const auto first =
        store->addUser(QStringLiteral("dup@example.org"), {}, std::nullopt, QStringLiteral("user"));
    QVERIFY2(first.ok(), qPrintable(first.ok() ? QString() : first.error().message));
    QCOMPARE(store->findUser(QStringLiteral("dup@example.org")).value().displayName, QString());
    const auto again =
        store->addUser(QStringLiteral("DUP@Example.org"), {}, std::nullopt, QStringLiteral("user"));
    QVERIFY(!again.ok());
    QCOMPARE(again.error().code, ErrorCode::Conflict);
    QVERIFY2(again.error().message.contains(QStringLiteral("dup@example.org")),
             qPrintable(again.error().message));
    QCOMPARE(store->listUsers().value().size(), 1);
}

void TestUserStore::invalidInput_data()
{
    QTest::addColumn<QString>("email");
    QTest::addColumn<QString>("role");
    QTest::addColumn<bool>("emptyPassword");
    const QString user = QStringLiteral("user");
    QTest::newRow("empty") << "" << user << false;
    QTest::newRow("no at") << "alice.example.org" << user << false;
    QTest::newRow("two ats") << "a@b@example.org" << user << false;
    QTest::newRow("space inside") << "al ice@example.org" << user << false;
    QTest::newRow("tab inside") << "alice@exa\tmple.org" << user << false;
    QTest::newRow("nothing before at") << "@example.org" << user << false;
    QTest::newRow("nothing after at") << "alice@" << user << false;
    QTest::newRow("255 characters")
        << QString(QStringLiteral("a@") + QString(253, QLatin1Char('b'))) << user << false;
    QTest::newRow("bad role") << "alice@example.org"
                              << "root" << false;
    QTest::newRow("empty password") << "alice@example.org" << user << true;
}

void TestUserStore::invalidInput()
{
    QFETCH(QString, email);
    QFETCH(QString, role);
    QFETCH(bool, emptyPassword);
    auto store = makeStore();
    const auto id = store->addUser(
        email, {}, emptyPassword ? std::optional<QString>(QString()) : std::nullopt, role);
    QVERIFY(!id.ok());
    QCOMPARE(id.error().code, ErrorCode::Unprocessable);
    QCOMPARE(store->listUsers().value().size(), 0);
    // 254 characters is still fine.
    QVERIFY(UserStore::normalizeEmail(QStringLiteral("a@") + QString(252, QLatin1Char('b'))));
}

void TestUserStore::keyAuthenticates()
{
    auto store = makeStore();
    const qint64 admin = addUser(*store, QStringLiteral("root@example.org"), "admin");
    const qint64 user = addUser(*store, QStringLiteral("u@example.org"));
    QVERIFY(admin > 0 && user > 0);
    const auto adminKey = store->createApiKey(admin, QStringLiteral("ci"));
    QVERIFY2(adminKey.ok(), qPrintable(adminKey.ok() ? QString() : adminKey.error().message));
    QVERIFY(adminKey.value().token.startsWith("bwk_"));
    QVERIFY(adminKey.value().id > 0);
    QVERIFY(!adminKey.value().expiresAt);
    const auto userKey = store->createApiKey(user, {});
    QVERIFY(userKey.ok());
    QVERIFY(userKey.value().token != adminKey.value().token);

    const auto p = store->authenticateKey(adminKey.value().token);
    QVERIFY2(p.ok(), qPrintable(p.ok() ? QString() : p.error().message));
    QCOMPARE(p.value().userId, admin);
    QCOMPARE(p.value().admin, true);
    const auto q = store->authenticateKey(userKey.value().token);
    QVERIFY(q.ok());
    QCOMPARE(q.value().userId, user);
    QCOMPARE(q.value().admin, false);

    for (const QByteArray &bad : {QByteArray("bwk_not-a-key"), QByteArray("nope"), QByteArray(),
                                  QByteArray("bwk_" + QByteArray(500, 'x')),
                                  QByteArray(adminKey.value().token).chopped(1)}) {
        const auto r = store->authenticateKey(bad);
        QVERIFY(!r.ok());
        QCOMPARE(r.error().code, ErrorCode::Unauthorized);
        QCOMPARE(r.error().message, QStringLiteral("invalid API key"));
    }
    const auto noUser = store->createApiKey(9999, {});
    QVERIFY(!noUser.ok());
    QCOMPARE(noUser.error().code, ErrorCode::NotFound);
}

void TestUserStore::revokedKeyIsRejected()
{
    auto store = makeStore();
    const qint64 user = addUser(*store, QStringLiteral("r@example.org"));
    const qint64 other = addUser(*store, QStringLiteral("o@example.org"));
    const auto key = store->createApiKey(user, {});
    QVERIFY(key.ok());
    QVERIFY(store->authenticateKey(key.value().token).ok()); // now cached

    const auto wrongOwner = store->revokeKey(key.value().id, other);
    QVERIFY(!wrongOwner.ok());
    QCOMPARE(wrongOwner.error().code, ErrorCode::NotFound);
    QVERIFY(store->authenticateKey(key.value().token).ok());

    const auto revoked = store->revokeKey(key.value().id, user);
    QVERIFY(revoked.ok());
    QCOMPARE(revoked.value(), true);
    // Revoked through this store: the cache is cleared at once.
    const auto r = store->authenticateKey(key.value().token);
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::Unauthorized);
    QCOMPARE(r.error().message, QStringLiteral("invalid API key"));
    const auto again = store->revokeKey(key.value().id, user);
    QVERIFY(again.ok());
    QCOMPARE(again.value(), false);
}

void TestUserStore::expiredKeyIsRejected()
{
    auto store = makeStore();
    const qint64 user = addUser(*store, QStringLiteral("e@example.org"));
    const QDateTime now = QDateTime::currentDateTimeUtc();

    const auto past = store->createApiKey(user, {}, now.addSecs(-1));
    QVERIFY(!past.ok());
    QCOMPARE(past.error().code, ErrorCode::Unprocessable);

    // Expiry reached while the success is cached (within the 5 s TTL).
    const auto shortKey = store->createApiKey(user, QStringLiteral("short"), now.addSecs(2));
    QVERIFY(shortKey.ok());
    QVERIFY(shortKey.value().expiresAt);
    QVERIFY(store->authenticateKey(shortKey.value().token).ok());
    m_clock.advance(3s);
    QVERIFY(!store->authenticateKey(shortKey.value().token).ok());

    // Expiry found in the database on a fresh lookup.
    const auto longKey = store->createApiKey(user, QStringLiteral("long"), now.addSecs(120));
    QVERIFY(longKey.ok());
    QVERIFY(store->authenticateKey(longKey.value().token).ok());
    m_clock.advance(100s); // now + 103 s, past the TTL: looked up again, still valid
    QVERIFY(store->authenticateKey(longKey.value().token).ok());
    m_clock.advance(20s); // now + 123 s, past the TTL again
    const auto r = store->authenticateKey(longKey.value().token);
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::Unauthorized);
}

void TestUserStore::disabledUserIsRejected()
{
    auto store = makeStore();
    const qint64 user = addUser(*store, QStringLiteral("d@example.org"));
    const auto key = store->createApiKey(user, {});
    QVERIFY(key.ok());
    QVERIFY(store->authenticateKey(key.value().token).ok());

    const auto disabled = store->setDisabled(user, true);
    QVERIFY(disabled.ok());
    QCOMPARE(disabled.value(), true);
    QVERIFY(!store->authenticateKey(key.value().token).ok()); // at once: this store's change
    QCOMPARE(store->findUser(QString::number(user)).value().disabled, true);
    QCOMPARE(store->setDisabled(user, true).value(), false);

    QCOMPARE(store->setDisabled(user, false).value(), true);
    QVERIFY(store->authenticateKey(key.value().token).ok());

    const auto unknown = store->setDisabled(4242, true);
    QVERIFY(!unknown.ok());
    QCOMPARE(unknown.error().code, ErrorCode::NotFound);
}

void TestUserStore::cacheServesWithinTtl()
{
    auto store = makeStore(); // the instance serving requests
    auto other = makeStore(); // stands for another instance or the `bulwark user` command
    const qint64 user = addUser(*other, QStringLiteral("c@example.org"));
    const auto key = other->createApiKey(user, {});
    QVERIFY(key.ok());

    QVERIFY(store->authenticateKey(key.value().token).ok());
    const quint64 acquired = m_pool->stats().acquired;
    for (int i = 0; i < 1000; ++i)
        QVERIFY(store->authenticateKey(key.value().token).ok());
    QCOMPARE(m_pool->stats().acquired, acquired); // served from memory

    // Disabled elsewhere: still accepted here within the TTL...
    QVERIFY(other->setDisabled(user, true).ok());
    m_clock.advance(4s);
    QVERIFY(store->authenticateKey(key.value().token).ok());
    // ...unless the cache is invalidated,
    store->invalidateCache();
    QVERIFY(!store->authenticateKey(key.value().token).ok());

    // and a failure is cached the same way: enabled elsewhere, still refused within the TTL,
    QVERIFY(other->setDisabled(user, false).ok());
    m_clock.advance(4s);
    const quint64 beforeFailures = m_pool->stats().acquired;
    QVERIFY(!store->authenticateKey(key.value().token).ok());
    QCOMPARE(m_pool->stats().acquired, beforeFailures);
    // accepted once the TTL has passed.
    m_clock.advance(2s);
    QVERIFY(store->authenticateKey(key.value().token).ok());

    // Disabled elsewhere, no invalidation: refused once the TTL has passed.
    QVERIFY(other->setDisabled(user, true).ok());
    m_clock.advance(4999ms);
    QVERIFY(store->authenticateKey(key.value().token).ok());
    m_clock.advance(2ms);
    QVERIFY(!store->authenticateKey(key.value().token).ok());

    // Unknown keys are cached too: a client repeating a wrong key costs one query per TTL.
    const QByteArray unknown = Credentials::newApiKey().token;
    QVERIFY(!store->authenticateKey(unknown).ok());
    const quint64 afterFirst = m_pool->stats().acquired;
    for (int i = 0; i < 100; ++i)
        QVERIFY(!store->authenticateKey(unknown).ok());
    QCOMPARE(m_pool->stats().acquired, afterFirst);
}

void TestUserStore::cacheIsBounded()
{
    UserStoreOptions options;
    options.maxCacheEntries = 3;
    auto store = makeStore(options);
    const qint64 user = addUser(*store, QStringLiteral("b@example.org"));
    const auto key = store->createApiKey(user, {});
    QVERIFY(key.ok());
    QVERIFY(store->authenticateKey(key.value().token).ok());
    const quint64 cached = m_pool->stats().acquired;
    QVERIFY(store->authenticateKey(key.value().token).ok());
    QCOMPARE(m_pool->stats().acquired, cached);
    // Three unknown keys fill the cache; the third clears it (the key's entry with it).
    for (int i = 0; i < 3; ++i)
        QVERIFY(!store->authenticateKey(Credentials::newApiKey().token).ok());
    const quint64 before = m_pool->stats().acquired;
    QVERIFY(store->authenticateKey(key.value().token).ok());
    QCOMPARE(m_pool->stats().acquired, before + 1);
}

void TestUserStore::lastUsedAtMostOncePerMinute()
{
    auto store = makeStore();
    // Made now, so both stores' wall clocks follow the test clock from the same point.
    UserStoreOptions longTtl;
    longTtl.cacheTtl = 10min;
    auto longStore = makeStore(longTtl);
    const qint64 user = addUser(*store, QStringLiteral("l@example.org"));
    const auto key = store->createApiKey(user, {});
    QVERIFY(key.ok());
    QVERIFY(lastUsedAt(key.value().id).isNull());

    QVERIFY(store->authenticateKey(key.value().token).ok());
    const QVariant first = lastUsedAt(key.value().id);
    QVERIFY2(!first.isNull(), qPrintable(first.toString()));

    // Past the cache TTL (a fresh lookup) but within the minute: not written again.
    m_clock.advance(30s);
    QVERIFY(store->authenticateKey(key.value().token).ok());
    QCOMPARE(lastUsedAt(key.value().id), first);

    m_clock.advance(31s);
    QVERIFY(store->authenticateKey(key.value().token).ok());
    const QVariant second = lastUsedAt(key.value().id);
    QVERIFY(second != first);

    // A cache entry that lives longer than the minute still writes once a minute.
    m_clock.advance(61s);
    QVERIFY(longStore->authenticateKey(key.value().token).ok()); // fresh: writes
    const QVariant third = lastUsedAt(key.value().id);
    QVERIFY(third != second);
    m_clock.advance(30s);
    QVERIFY(longStore->authenticateKey(key.value().token).ok()); // cached, within the minute
    QCOMPARE(lastUsedAt(key.value().id), third);
    m_clock.advance(31s);
    QVERIFY(longStore->authenticateKey(key.value().token).ok()); // cached, a minute on
    QVERIFY(lastUsedAt(key.value().id) != third);
}

void TestUserStore::concurrentAuthentication()
{
    auto store = makeStore();
    const qint64 user = addUser(*store, QStringLiteral("t@example.org"));
    QList<QByteArray> tokens;
    for (int i = 0; i < 4; ++i) {
        const auto key = store->createApiKey(user, QString::number(i));
        QVERIFY(key.ok());
        tokens.append(key.value().token);
    }
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 2000; ++i) {
                const QByteArray &token = tokens.at((t + i) % tokens.size());
                if (!store->authenticateKey(token).ok())
                    ++failures;
                if (i % 500 == 0)
                    store->invalidateCache();
            }
            m_pool->closeThreadConnections();
        });
    }
    for (auto &t : threads)
        t.join();
    QCOMPARE(failures.load(), 0);
}

void TestUserStore::login()
{
    auto store = makeStore();
    const QString password = QStringLiteral("correct horse battery staple");
    const qint64 admin = addUser(*store, QStringLiteral("Admin@Example.org"), "admin", password);
    const qint64 keysOnly = addUser(*store, QStringLiteral("keys@example.org"));
    const qint64 off = addUser(*store, QStringLiteral("off@example.org"), "user", password);
    QVERIFY(admin > 0 && keysOnly > 0 && off > 0);
    QVERIFY(store->setDisabled(off, true).ok());

    const auto ok = store->login(QStringLiteral("admin@EXAMPLE.org"), password);
    QVERIFY2(ok.ok(), qPrintable(ok.ok() ? QString() : ok.error().message));
    QCOMPARE(ok.value().userId, admin);
    QCOMPARE(ok.value().admin, true);

    const QList<std::pair<QString, QString>> failing = {
        {QStringLiteral("admin@example.org"), QStringLiteral("wrong")},
        {QStringLiteral("admin@example.org"), QString()},
        {QStringLiteral("nobody@example.org"), password},
        {QStringLiteral("keys@example.org"), QString()},
        {QStringLiteral("keys@example.org"), password},
        {QStringLiteral("off@example.org"), password},
        {QStringLiteral("not an email"), password},
    };
    for (const auto &[email, pw] : failing) {
        const auto r = store->login(email, pw);
        QVERIFY2(!r.ok(), qPrintable(email));
        QCOMPARE(r.error().code, ErrorCode::Unauthorized);
        QCOMPARE(r.error().message, QStringLiteral("invalid email or password"));
    }
}

void TestUserStore::noSecretIsStored()
{
    auto store = makeStore();
    const QString password = QStringLiteral("s3cret-Passw0rd-xyzzy");
    const qint64 user = addUser(*store, QStringLiteral("s@example.org"), "user", password);
    const auto key = store->createApiKey(user, QStringLiteral("scan"));
    QVERIFY(key.ok());
    QVERIFY(store->authenticateKey(key.value().token).ok());
    const QString token = QString::fromLatin1(key.value().token);
    const QString secretPart = token.mid(4); // without "bwk_"

    int cells = 0;
    for (const QString &table : {QStringLiteral("users"), QStringLiteral("api_keys")}) {
        QSqlQuery q(rawDb());
        QVERIFY2(q.exec(QStringLiteral("SELECT * FROM %1").arg(table)),
                 qPrintable(q.lastError().text()));
        while (q.next()) {
            for (int c = 0; c < q.record().count(); ++c) {
                const QString cell = q.value(c).toString();
                ++cells;
                QVERIFY2(!cell.contains(secretPart),
                         qPrintable(table + "." + q.record().fieldName(c) + " holds the key"));
                QVERIFY2(!cell.contains(password),
                         qPrintable(table + "." + q.record().fieldName(c) + " holds the password"));
            }
        }
    }
    QVERIFY(cells > 10);
    // What is stored instead: the key's SHA-256 and a PBKDF2 hash.
    QSqlQuery q(rawDb());
    QVERIFY(q.exec(QStringLiteral("SELECT key_hash FROM api_keys")) && q.next());
    QCOMPARE(q.value(0).toString().toLatin1(), Credentials::apiKeyHash(key.value().token));
    QVERIFY(q.exec(QStringLiteral("SELECT password_iterations FROM users")) && q.next());
    QCOMPARE(q.value(0).toInt(), kTestIterations);
}

void TestUserStore::timestamps()
{
    auto store = makeStore();
    const qint64 user = addUser(*store, QStringLiteral("ts@example.org"));
    const QDateTime expires = QDateTime::currentDateTimeUtc().addDays(30);
    const auto key = store->createApiKey(user, {}, expires);
    QVERIFY(key.ok());
    QCOMPARE(key.value().expiresAt->toMSecsSinceEpoch(), expires.toMSecsSinceEpoch());

    QSqlQuery q(rawDb());
    QVERIFY(q.exec(QStringLiteral("SELECT created_at, expires_at FROM api_keys")) && q.next());
#ifdef BULWARK_TEST_POSTGRES
    // TIMESTAMPTZ columns: the driver hands back QDateTime values.
    QCOMPARE(q.value(1).metaType().id(), int(QMetaType::QDateTime));
    QCOMPARE(q.value(1).toDateTime().toMSecsSinceEpoch(), expires.toMSecsSinceEpoch());
#else
    // ISO 8601 text with milliseconds and Z: sorts as text, parses everywhere.
    static const QRegularExpression iso(
        QStringLiteral("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$"));
    QVERIFY2(iso.match(q.value(0).toString()).hasMatch(), qPrintable(q.value(0).toString()));
    QCOMPARE(q.value(1).toString(), expires.toString(Qt::ISODateWithMs));
    // SQLite's own datetime spelling (e.g. from a hand-made row) reads as UTC too.
    QVERIFY2(q.exec(QStringLiteral("INSERT INTO users (email, role, created_at) "
                                   "VALUES ('old@example.org', 'user', '2024-01-02 03:04:05')")),
             qPrintable(q.lastError().text()));
    const auto old = store->findUser(QStringLiteral("old@example.org"));
    QVERIFY(old.ok());
    QCOMPARE(old.value().createdAt, QDateTime(QDate(2024, 1, 2), QTime(3, 4, 5), Qt::UTC));
#endif
}

#ifdef BULWARK_TEST_POSTGRES
void TestUserStore::connectionLossIsUnavailable()
{
    auto store = makeStore();
    QVERIFY(addUser(*store, QStringLiteral("p@example.org")) > 0);
    // The pool keeps this thread's connection idle; no ping is due (the clock stands still),
    // so the next query is the first to meet the dead server.
    m_pg.stop();
    const auto down = store->listUsers();
    QVERIFY(!down.ok());
    QCOMPARE(down.error().code, ErrorCode::Unavailable);
    const auto key = store->authenticateKey(Credentials::newApiKey().token);
    QVERIFY(!key.ok());
    QCOMPARE(key.error().code, ErrorCode::Unavailable); // never "invalid API key"
    QVERIFY2(m_pg.start(), qPrintable(m_pg.errorString()));
    // The broken connection was discarded: the next call opens a fresh one.
    const auto back = store->listUsers();
    QVERIFY2(back.ok(), qPrintable(back.ok() ? QString() : back.error().message));
    QCOMPARE(back.value().size(), 1);
}
#endif

QTEST_GUILESS_MAIN(TestUserStore)
#include "tst_userstore.moc"
