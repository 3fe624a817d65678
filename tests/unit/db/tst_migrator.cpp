// SPDX-License-Identifier: GPL-3.0-or-later
// Migrator on SQLite: pending migrations applied in order and recorded, never re-run, a
// failing one rolled back as a whole with a message naming it, a newer database refused,
// and dialect-specific statements.
#include "Migrator.h"

#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QtTest>

using namespace bulwark;
using namespace std::chrono_literals;

class TestMigrator : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();
    void appliesPendingInOrder();
    void neverRunsTwice();
    void failingMigrationIsRolledBack();
    void newerDatabaseIsRefused();

private:
    static QList<Migration> baseMigrations();
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<SqliteDialect> m_dialect;
    QSqlDatabase m_db;
};

void TestMigrator::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    m_dialect = std::make_unique<SqliteDialect>(m_dir->filePath(QStringLiteral("m.db")), 1000ms);
    m_db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("migrator"));
    m_dialect->configure(m_db);
    QVERIFY(m_db.open());
}

void TestMigrator::cleanup()
{
    m_db.close();
    m_db = QSqlDatabase();
    QSqlDatabase::removeDatabase(QStringLiteral("migrator"));
}

QList<Migration> TestMigrator::baseMigrations()
{
    return {
        {2, QStringLiteral("add email to users"),
         [](const Dialect &) {
             return QStringList{QStringLiteral("ALTER TABLE users ADD COLUMN email TEXT")};
         }},
        {1, QStringLiteral("users"),
         [](const Dialect &d) {
             return QStringList{QStringLiteral("CREATE TABLE users (id %1, name TEXT NOT NULL)")
                                    .arg(d.autoIncrementKey())};
         }},
    };
}

void TestMigrator::appliesPendingInOrder()
{
    Migrator migrator(*m_dialect, baseMigrations());
    QCOMPARE(migrator.latestVersion(), 2);
    const auto outcome = migrator.migrate(m_db);
    QVERIFY2(outcome.ok(), qPrintable(outcome.ok() ? QString() : outcome.error().message));
    QCOMPARE(outcome.value().from, 0);
    QCOMPARE(outcome.value().to, 2);
    QCOMPARE(outcome.value().applied, (QList<int>{1, 2}));
    QSqlQuery q(m_db);
    QVERIFY2(
        q.exec(QStringLiteral("INSERT INTO users (name, email) VALUES ('a', 'a@example.org')")),
        qPrintable(q.lastError().text()));
    QVERIFY(q.exec(
        QStringLiteral("SELECT version, description FROM schema_migrations ORDER BY version")));
    QVERIFY(q.next());
    QCOMPARE(q.value(1).toString(), QStringLiteral("users"));
    QVERIFY(q.next());
    QCOMPARE(q.value(0).toInt(), 2);
    QVERIFY(!q.next());
}

void TestMigrator::neverRunsTwice()
{
    QVERIFY(Migrator(*m_dialect, baseMigrations()).migrate(m_db).ok());
    const auto again = Migrator(*m_dialect, baseMigrations()).migrate(m_db);
    QVERIFY(again.ok());
    QVERIFY(again.value().applied.isEmpty()); // ALTER TABLE would fail if it ran again
    QList<Migration> more = baseMigrations();
    more.append({3, QStringLiteral("index users by name"), [](const Dialect &) {
                     return QStringList{QStringLiteral("CREATE INDEX users_name ON users (name)")};
                 }});
    const auto third = Migrator(*m_dialect, more).migrate(m_db);
    QVERIFY(third.ok());
    QCOMPARE(third.value().applied, QList<int>{3});
    QCOMPARE(Migrator(*m_dialect, more).currentVersion(m_db).value(), 3);
}

void TestMigrator::failingMigrationIsRolledBack()
{
    QList<Migration> migrations = baseMigrations();
    migrations.append({3, QStringLiteral("broken"), [](const Dialect &) {
                           return QStringList{QStringLiteral("CREATE TABLE half (x INTEGER)"),
                                              QStringLiteral("CREATE TABLE oops (")};
                       }});
    const auto outcome = Migrator(*m_dialect, migrations).migrate(m_db);
    QVERIFY(!outcome.ok());
    QVERIFY2(outcome.error().message.contains(
                 QStringLiteral("migration 3 (broken) failed and was rolled back")),
             qPrintable(outcome.error().message));
    QCOMPARE(Migrator(*m_dialect, migrations).currentVersion(m_db).value(), 2);
    QSqlQuery q(m_db);
    QVERIFY(
        !q.exec(QStringLiteral("SELECT * FROM half"))); // the first statement was rolled back too
}

void TestMigrator::newerDatabaseIsRefused()
{
    QList<Migration> newer = baseMigrations();
    newer.append(
        {7, QStringLiteral("from the future"), [](const Dialect &) { return QStringList{}; }});
    QVERIFY(Migrator(*m_dialect, newer).migrate(m_db).ok());
    const auto outcome = Migrator(*m_dialect, baseMigrations()).migrate(m_db);
    QVERIFY(!outcome.ok());
    QVERIFY2(outcome.error().message.contains(
                 QStringLiteral("version 7, newer than the newest this Bulwark knows (2)")),
             qPrintable(outcome.error().message));
}

QTEST_GUILESS_MAIN(TestMigrator)
#include "tst_migrator.moc"
