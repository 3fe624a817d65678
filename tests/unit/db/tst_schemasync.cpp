// SPDX-License-Identifier: GPL-3.0-or-later
// SchemaSync, the step that brings the collection tables in line with the schema file at
// every start, on both databases Bulwark runs on: a SQLite file (through the real
// ConnectionPool and the internal migrations) and a real PostgreSQL from the test harness,
// whose absence is a failure, never a skip. Every test runs once per database (global data
// rows "sqlite" and "postgres") on a fresh database.
//
// What is checked is what the operator relies on when editing the schema file of a live
// installation: the first start creates the tables and indexes (read back from the
// database's own catalogue, not from SchemaSync's bookkeeping); an unchanged file changes
// nothing; additions (a field with a default, an index) are applied and keep the rows; a
// required field without a default is refused with a message saying why; changes that lose
// data (a removed field or collection, a changed field type) are refused with one line per
// change and leave the database exactly as it was, and are applied only with
// allowDestructive (--allow-destructive-schema).
#include "CollectionSchema.h"
#include "ConnectionPool.h"
#include "ExternalServers.h"
#include "InternalSchema.h"
#include "Migrator.h"
#include "SchemaSync.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSqlError>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QTemporaryDir>
#include <QtTest>

using namespace bulwark;
using namespace bulwark::test;
using namespace std::chrono_literals;

namespace {

constexpr auto kTimestamp = "'2024-01-01T00:00:00.000Z'";

// The schema every test starts from: a parent with a required, a unique and a plain field,
// and a child with a reference (cascade), a plain and an indexed field.
QJsonObject baseSchema()
{
    const QJsonObject clubs{
        {"fields", QJsonObject{{"name", QJsonObject{{"type", "text"}, {"required", true}}},
                               {"code", QJsonObject{{"type", "text"}, {"unique", true}}},
                               {"rating", QJsonObject{{"type", "real"}}}}}};
    const QJsonObject players{
        {"fields", QJsonObject{{"club_id", QJsonObject{{"type", "integer"},
                                                       {"references", "clubs"},
                                                       {"on_delete", "cascade"}}},
                               {"nick", QJsonObject{{"type", "text"}}},
                               {"age", QJsonObject{{"type", "integer"}}}}},
        {"indexes", QJsonArray{QJsonObject{{"fields", QJsonArray{"nick"}}}}}};
    return QJsonObject{{"collections", QJsonObject{{"clubs", clubs}, {"players", players}}}};
}

// Small editors of the schema document.
QJsonObject collectionOf(const QJsonObject &root, const QString &name)
{
    return root.value("collections").toObject().value(name).toObject();
}

void putCollection(QJsonObject &root, const QString &name, const QJsonObject &collection)
{
    QJsonObject collections = root.value("collections").toObject();
    collections.insert(name, collection);
    root.insert("collections", collections);
}

void setField(QJsonObject &root, const QString &collection, const QString &field,
              const QJsonObject &definition)
{
    QJsonObject c = collectionOf(root, collection);
    QJsonObject fields = c.value("fields").toObject();
    fields.insert(field, definition);
    c.insert("fields", fields);
    putCollection(root, collection, c);
}

void removeField(QJsonObject &root, const QString &collection, const QString &field)
{
    QJsonObject c = collectionOf(root, collection);
    QJsonObject fields = c.value("fields").toObject();
    fields.remove(field);
    c.insert("fields", fields);
    // Indexes on the removed field go with it (the file would not parse otherwise).
    QJsonArray indexes;
    for (const QJsonValue &index : c.value("indexes").toArray())
        if (!index.toObject().value("fields").toArray().contains(field))
            indexes.append(index);
    c.insert("indexes", indexes);
    putCollection(root, collection, c);
}

void removeCollection(QJsonObject &root, const QString &collection)
{
    QJsonObject collections = root.value("collections").toObject();
    collections.remove(collection);
    root.insert("collections", collections);
}

void setIndexes(QJsonObject &root, const QString &collection, const QJsonArray &indexes)
{
    QJsonObject c = collectionOf(root, collection);
    c.insert("indexes", indexes);
    putCollection(root, collection, c);
}

} // namespace

// Applies a schema and returns from the test when the schema file itself did not parse.
#define APPLY(var, root, allow)                                                                    \
    const auto var = apply((root), (allow));                                                       \
    if (QTest::currentTestFailed())                                                                \
        return;

#define VERIFY_APPLIED(var)                                                                        \
    QVERIFY2((var).ok(), qPrintable((var).ok() ? QString() : (var).error().message))

class TestSchemaSync : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase_data();
    void initTestCase();
    void init();
    void cleanup();
    void cleanupTestCase();

    void firstApplyCreatesTablesAndIndexes();
    void reapplyChangesNothing();
    void addedFieldWithDefaultKeepsRows();
    void requiredFieldWithoutDefaultIsRefused();
    void addedIndexIsCreated();
    void changedAndRemovedIndexes();
    void destructiveChangesAreRefused();
    void destructiveChangesWithFlag_data();
    void destructiveChangesWithFlag();
    void typeChangeRefusedThenApplied();
    void foreignTableOfSameNameIsRefused();
    void childNamedBeforeItsParent();
    void parentsAndChildrenRemovedTogether();

private:
    Result<SchemaSync::Outcome> apply(const QJsonObject &root, bool allowDestructive);
    bool isPostgres() const { return m_backend == QLatin1String("postgres"); }
    QSqlDatabase db() const { return m_lease->database(); }
    // Runs a statement; returns from nothing, the caller checks.
    bool exec(const QString &sql, QString *error = nullptr);
    QVariant scalar(const QString &sql);
    QStringList tables();
    QStringList columns(const QString &table);
    QString columnType(const QString &table, const QString &column);
    QMap<QString, QString> indexes(const QString &table); // name -> definition (upper case)
    QMap<QString, QString> definitions();                 // collection_definitions
    void insertBaseRows();

    QString m_backend;
    PostgresServer m_pg;
    bool m_pgStarted = false;
    SteadyClock m_clock;
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<ConnectionPool> m_pool;
    std::optional<ConnectionPool::Lease> m_lease;
};

void TestSchemaSync::initTestCase_data()
{
    QTest::addColumn<QString>("backend");
    QTest::newRow("sqlite") << QStringLiteral("sqlite");
    QTest::newRow("postgres") << QStringLiteral("postgres");
}

void TestSchemaSync::initTestCase()
{
    // The same iteration order of hashes in every run, so that an order-dependent result
    // (which collection is created or dropped first) is reproducible.
    QHashSeed::setDeterministicGlobalSeed();
}

void TestSchemaSync::init()
{
    QFETCH_GLOBAL(QString, backend);
    m_backend = backend;
    std::shared_ptr<Dialect> dialect;
    if (isPostgres()) {
        if (!m_pgStarted) {
            // A missing or broken PostgreSQL is a failure (CI installs it).
            QVERIFY2(m_pg.start(), qPrintable(m_pg.errorString()));
            m_pgStarted = true;
        }
        PostgresDialect::Params params;
        params.host = m_pg.host();
        params.port = m_pg.port();
        params.database = m_pg.database();
        params.user = m_pg.user();
        params.connectTimeoutSeconds = 2;
        dialect = std::make_shared<PostgresDialect>(params);
    } else {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        dialect =
            std::make_shared<SqliteDialect>(m_dir->filePath(QStringLiteral("sync.db")), 2000ms);
    }
    PoolOptions options;
    options.maxSize = 2;
    options.acquireTimeout = 3000ms;
    m_pool = std::make_unique<ConnectionPool>(dialect, options, m_clock);
    auto lease = m_pool->acquire();
    QVERIFY2(lease.ok(), qPrintable(lease.ok() ? QString() : lease.error().message));
    m_lease.emplace(std::move(lease.value()));
    if (isPostgres()) {
        // A fresh database for every test.
        QVERIFY(exec(QStringLiteral("SET client_min_messages = warning")));
        QString error;
        QVERIFY2(exec(QStringLiteral("DROP SCHEMA public CASCADE"), &error), qPrintable(error));
        QVERIFY2(exec(QStringLiteral("CREATE SCHEMA public"), &error), qPrintable(error));
    }
    QSqlDatabase database = db();
    const auto migrated = Migrator(*dialect, internalMigrations()).migrate(database);
    QVERIFY2(migrated.ok(), qPrintable(migrated.ok() ? QString() : migrated.error().message));
}

void TestSchemaSync::cleanup()
{
    m_lease.reset();
    if (m_pool)
        m_pool->closeThreadConnections();
    m_pool.reset();
    m_dir.reset();
}

void TestSchemaSync::cleanupTestCase()
{
    if (m_pgStarted)
        m_pg.stop();
}

Result<SchemaSync::Outcome> TestSchemaSync::apply(const QJsonObject &root, bool allowDestructive)
{
    const auto parsed =
        CollectionSchema::parse(QJsonDocument(root).toJson(), QStringLiteral("test-schema.json"));
    if (!parsed.ok()) {
        QTest::qFail(qPrintable(QStringLiteral("the test's schema does not parse: ") +
                                parsed.error().join(u'\n')),
                     __FILE__, __LINE__);
        return Error{ErrorCode::Internal, QStringLiteral("schema did not parse")};
    }
    QSqlDatabase database = db();
    return SchemaSync(m_pool->dialect(), parsed.value()).apply(database, allowDestructive);
}

bool TestSchemaSync::exec(const QString &sql, QString *error)
{
    QSqlQuery q(db());
    const bool ok = q.exec(sql);
    if (!ok && error)
        *error = sql + QStringLiteral(": ") + q.lastError().text();
    return ok;
}

QVariant TestSchemaSync::scalar(const QString &sql)
{
    QSqlQuery q(db());
    if (!q.exec(sql) || !q.next()) {
        qWarning("%s: %s", qPrintable(sql), qPrintable(q.lastError().text()));
        return {};
    }
    return q.value(0);
}

QStringList TestSchemaSync::tables()
{
    QStringList names = db().tables(QSql::Tables);
    for (QString &n : names)
        n = n.toLower();
    names.sort();
    return names;
}

QStringList TestSchemaSync::columns(const QString &table)
{
    QStringList out;
    QSqlQuery q(db());
    if (isPostgres()) {
        q.prepare(
            QStringLiteral("SELECT column_name FROM information_schema.columns WHERE "
                           "table_schema = 'public' AND table_name = ? ORDER BY column_name"));
        q.addBindValue(table);
        q.exec();
    } else {
        q.exec(QStringLiteral("SELECT name FROM pragma_table_info('%1') ORDER BY name").arg(table));
    }
    while (q.next())
        out.append(q.value(0).toString());
    return out;
}

QString TestSchemaSync::columnType(const QString &table, const QString &column)
{
    QSqlQuery q(db());
    if (isPostgres()) {
        q.prepare(QStringLiteral("SELECT data_type FROM information_schema.columns WHERE "
                                 "table_schema = 'public' AND table_name = ? AND column_name = ?"));
        q.addBindValue(table);
        q.addBindValue(column);
        q.exec();
    } else {
        q.prepare(
            QStringLiteral("SELECT type FROM pragma_table_info('%1') WHERE name = ?").arg(table));
        q.addBindValue(column);
        q.exec();
    }
    return q.next() ? q.value(0).toString().toUpper() : QString();
}

QMap<QString, QString> TestSchemaSync::indexes(const QString &table)
{
    QMap<QString, QString> out;
    QSqlQuery q(db());
    if (isPostgres())
        q.prepare(QStringLiteral("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = "
                                 "'public' AND tablename = ? AND indexname NOT LIKE '%\\_pkey'"));
    else // SQLite's own autoindexes have no SQL
        q.prepare(QStringLiteral("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                                 "tbl_name = ? AND sql IS NOT NULL"));
    q.addBindValue(table);
    if (!q.exec())
        qWarning("indexes(%s): %s", qPrintable(table), qPrintable(q.lastError().text()));
    while (q.next())
        out.insert(q.value(0).toString(), q.value(1).toString().toUpper());
    return out;
}

QMap<QString, QString> TestSchemaSync::definitions()
{
    QMap<QString, QString> out;
    QSqlQuery q(db());
    if (!q.exec(QStringLiteral("SELECT name, definition FROM collection_definitions")))
        qWarning("collection_definitions: %s", qPrintable(q.lastError().text()));
    while (q.next())
        out.insert(q.value(0).toString(), q.value(1).toString());
    return out;
}

void TestSchemaSync::insertBaseRows()
{
    QString error;
    for (const QString &sql :
         {QStringLiteral("INSERT INTO clubs (created_at, updated_at, name, code, rating) VALUES "
                         "(%1, %1, 'Ajax', 'AJX', 4.5)"),
          QStringLiteral("INSERT INTO clubs (created_at, updated_at, name, code, rating) VALUES "
                         "(%1, %1, 'Benfica', 'SLB', 4.0)"),
          QStringLiteral("INSERT INTO players (created_at, updated_at, club_id, nick, age) VALUES "
                         "(%1, %1, 1, 'kees', 21)"),
          QStringLiteral("INSERT INTO players (created_at, updated_at, club_id, nick, age) VALUES "
                         "(%1, %1, 2, 'rui', 30)")})
        QVERIFY2(exec(sql.arg(QLatin1String(kTimestamp)), &error), qPrintable(error));
}

void TestSchemaSync::firstApplyCreatesTablesAndIndexes()
{
    APPLY(outcome, baseSchema(), false);
    VERIFY_APPLIED(outcome);
    QStringList applied = outcome.value().applied;
    applied.sort();
    QCOMPARE(applied, (QStringList{"created collection clubs", "created collection players"}));

    const QStringList present = tables();
    QVERIFY2(present.contains("clubs") && present.contains("players"),
             qPrintable(present.join(u',')));
    QCOMPARE(columns("clubs"),
             (QStringList{"code", "created_at", "id", "name", "rating", "updated_at"}));
    QCOMPARE(columns("players"),
             (QStringList{"age", "club_id", "created_at", "id", "nick", "updated_at"}));
    QCOMPARE(columnType("players", "age"), QStringLiteral("BIGINT"));
    QCOMPARE(columnType("players", "nick"), QStringLiteral("TEXT"));
    QCOMPARE(columnType("clubs", "rating"), QStringLiteral("DOUBLE PRECISION"));

    // The declared index, the index Bulwark adds for a reference, the unique field's index.
    const auto playerIndexes = indexes("players");
    QCOMPARE(playerIndexes.keys(), (QStringList{"players_club_id", "players_nick"}));
    QVERIFY(!playerIndexes.value("players_nick").contains("UNIQUE"));
    const auto clubIndexes = indexes("clubs");
    QCOMPARE(clubIndexes.keys(), QStringList{"clubs_code_key"});
    QVERIFY(clubIndexes.value("clubs_code_key").contains("UNIQUE"));

    // The constraints hold: unique code, required name, reference to an existing club.
    insertBaseRows();
    if (QTest::currentTestFailed())
        return;
    const QString ts = QLatin1String(kTimestamp);
    QVERIFY(!exec(QStringLiteral("INSERT INTO clubs (created_at, updated_at, name, code) VALUES "
                                 "(%1, %1, 'Other', 'AJX')")
                      .arg(ts)));
    QVERIFY(!exec(
        QStringLiteral("INSERT INTO clubs (created_at, updated_at, code) VALUES (%1, %1, 'X')")
            .arg(ts)));
    QVERIFY(!exec(QStringLiteral("INSERT INTO players (created_at, updated_at, club_id) VALUES "
                                 "(%1, %1, 999)")
                      .arg(ts)));
    // on_delete cascade
    QVERIFY(exec(QStringLiteral("DELETE FROM clubs WHERE id = 1")));
    QCOMPARE(scalar("SELECT COUNT(*) FROM players").toInt(), 1);

    // What was applied is recorded, one row per collection.
    QCOMPARE(definitions().keys(), (QStringList{"clubs", "players"}));
}

void TestSchemaSync::reapplyChangesNothing()
{
    APPLY(first, baseSchema(), false);
    VERIFY_APPLIED(first);
    const auto recorded = definitions();
    const auto clubIndexes = indexes("clubs");
    const auto playerIndexes = indexes("players");

    APPLY(second, baseSchema(), false);
    VERIFY_APPLIED(second);
    QCOMPARE(second.value().applied, QStringList());
    // The same schema spelled differently (a default written out) is the same schema.
    QJsonObject reordered = baseSchema();
    setField(reordered, "players", "nick", QJsonObject{{"type", "text"}, {"required", false}});
    APPLY(third, reordered, false);
    VERIFY_APPLIED(third);
    QCOMPARE(third.value().applied, QStringList());
    // Also with allowDestructive: nothing to destroy.
    APPLY(fourth, baseSchema(), true);
    VERIFY_APPLIED(fourth);
    QCOMPARE(fourth.value().applied, QStringList());

    QCOMPARE(definitions(), recorded); // not even re-recorded
    QCOMPARE(indexes("clubs"), clubIndexes);
    QCOMPARE(indexes("players"), playerIndexes);
}

void TestSchemaSync::addedFieldWithDefaultKeepsRows()
{
    APPLY(first, baseSchema(), false);
    VERIFY_APPLIED(first);
    insertBaseRows();
    if (QTest::currentTestFailed())
        return;

    QJsonObject schema = baseSchema();
    setField(schema, "clubs", "score",
             QJsonObject{{"type", "integer"}, {"required", true}, {"default", 7}});
    setField(schema, "clubs", "motto", QJsonObject{{"type", "text"}, {"default", "it's on"}});
    setField(schema, "clubs", "founded", QJsonObject{{"type", "datetime"}}); // optional, no default
    setField(schema, "players", "active", QJsonObject{{"type", "boolean"}, {"default", true}});
    APPLY(outcome, schema, false);
    VERIFY_APPLIED(outcome);
    QStringList applied = outcome.value().applied;
    applied.sort();
    QCOMPARE(applied, (QStringList{"added field clubs.founded", "added field clubs.motto",
                                   "added field clubs.score", "added field players.active"}));
    QVERIFY(columns("clubs").contains("score"));
    QVERIFY(columns("clubs").contains("motto"));
    QVERIFY(columns("clubs").contains("founded"));
    QVERIFY(columns("players").contains("active"));

    // The rows are still there, with the defaults filled in.
    QCOMPARE(scalar("SELECT COUNT(*) FROM clubs").toInt(), 2);
    QCOMPARE(scalar("SELECT COUNT(*) FROM players").toInt(), 2);
    QCOMPARE(scalar("SELECT name FROM clubs WHERE id = 1").toString(), QStringLiteral("Ajax"));
    QCOMPARE(scalar("SELECT rating FROM clubs WHERE id = 1").toDouble(), 4.5);
    QCOMPARE(scalar("SELECT COUNT(*) FROM clubs WHERE score = 7").toInt(), 2);
    QCOMPARE(scalar("SELECT COUNT(*) FROM clubs WHERE motto = 'it''s on'").toInt(), 2);
    QCOMPARE(scalar("SELECT COUNT(*) FROM clubs WHERE founded IS NULL").toInt(), 2);
    QCOMPARE(scalar("SELECT COUNT(*) FROM players WHERE active = TRUE").toInt(), 2);
    // A new row gets the default from the database too.
    QVERIFY(exec(QStringLiteral("INSERT INTO clubs (created_at, updated_at, name) VALUES "
                                "(%1, %1, 'Celtic')")
                     .arg(QLatin1String(kTimestamp))));
    QCOMPARE(scalar("SELECT score FROM clubs WHERE name = 'Celtic'").toInt(), 7);

    APPLY(again, schema, false);
    VERIFY_APPLIED(again);
    QCOMPARE(again.value().applied, QStringList());
}

void TestSchemaSync::requiredFieldWithoutDefaultIsRefused()
{
    APPLY(first, baseSchema(), false);
    VERIFY_APPLIED(first);
    insertBaseRows();
    if (QTest::currentTestFailed())
        return;
    const auto recorded = definitions();

    QJsonObject schema = baseSchema();
    setField(schema, "clubs", "motto", QJsonObject{{"type", "text"}, {"default", "go"}});
    setField(schema, "clubs", "city", QJsonObject{{"type", "text"}, {"required", true}});
    for (const bool allowDestructive : {false, true}) { // not a matter of the flag either
        APPLY(outcome, schema, allowDestructive);
        QVERIFY2(!outcome.ok(), "a required field without a default was added");
        const QString message = outcome.error().message;
        QVERIFY2(message.contains(QLatin1String("clubs")) &&
                     message.contains(QLatin1String("city")) &&
                     message.contains(QLatin1String("\"default\"")) &&
                     message.contains(QLatin1String("existing rows")),
                 qPrintable(message));
    }
    // Nothing of the file was applied, not even the other (valid) new field.
    QVERIFY(!columns("clubs").contains("city"));
    QVERIFY(!columns("clubs").contains("motto"));
    QCOMPARE(definitions(), recorded);
    QCOMPARE(scalar("SELECT COUNT(*) FROM clubs").toInt(), 2);
    APPLY(original, baseSchema(), false);
    VERIFY_APPLIED(original);
    QCOMPARE(original.value().applied, QStringList());
}

void TestSchemaSync::addedIndexIsCreated()
{
    APPLY(first, baseSchema(), false);
    VERIFY_APPLIED(first);
    insertBaseRows();
    if (QTest::currentTestFailed())
        return;

    QJsonObject schema = baseSchema();
    setIndexes(schema, "clubs", QJsonArray{QJsonObject{{"fields", QJsonArray{"rating", "name"}}}});
    setIndexes(schema, "players",
               QJsonArray{QJsonObject{{"fields", QJsonArray{"nick"}}},
                          QJsonObject{{"name", "players_by_age"},
                                      {"fields", QJsonArray{"club_id", "age"}},
                                      {"unique", true}}});
    APPLY(outcome, schema, false);
    VERIFY_APPLIED(outcome);
    QStringList applied = outcome.value().applied;
    applied.sort();
    // players_club_id is no longer needed: players_by_age starts with club_id.
    QCOMPARE(applied,
             (QStringList{"created index clubs_rating_name", "created index players_by_age",
                          "dropped index players_club_id"}));
    const auto clubIndexes = indexes("clubs");
    QVERIFY2(clubIndexes.contains("clubs_rating_name"), qPrintable(clubIndexes.keys().join(u',')));
    QVERIFY(clubIndexes.value("clubs_rating_name").contains("RATING"));
    const auto playerIndexes = indexes("players");
    QCOMPARE(playerIndexes.keys(), (QStringList{"players_by_age", "players_nick"}));
    QVERIFY(playerIndexes.value("players_by_age").contains("UNIQUE"));
    // The new unique index holds.
    QVERIFY(!exec(QStringLiteral("INSERT INTO players (created_at, updated_at, club_id, age) "
                                 "VALUES (%1, %1, 1, 21)")
                      .arg(QLatin1String(kTimestamp))));
    QCOMPARE(scalar("SELECT COUNT(*) FROM players").toInt(), 2);

    APPLY(again, schema, false);
    VERIFY_APPLIED(again);
    QCOMPARE(again.value().applied, QStringList());
}

void TestSchemaSync::changedAndRemovedIndexes()
{
    APPLY(first, baseSchema(), false);
    VERIFY_APPLIED(first);
    insertBaseRows();
    if (QTest::currentTestFailed())
        return;

    // An index made unique is rebuilt; an index taken out of the file is dropped. Neither
    // loses data, so neither needs the flag.
    QJsonObject schema = baseSchema();
    setIndexes(schema, "players",
               QJsonArray{QJsonObject{{"fields", QJsonArray{"nick"}}, {"unique", true}}});
    APPLY(unique, schema, false);
    VERIFY_APPLIED(unique);
    QStringList applied = unique.value().applied;
    applied.sort();
    QCOMPARE(applied, (QStringList{"created index players_nick", "dropped index players_nick"}));
    QVERIFY(indexes("players").value("players_nick").contains("UNIQUE"));

    setIndexes(schema, "players", QJsonArray());
    APPLY(removed, schema, false);
    VERIFY_APPLIED(removed);
    QCOMPARE(removed.value().applied, QStringList{"dropped index players_nick"});
    QCOMPARE(indexes("players").keys(), QStringList{"players_club_id"});
    QCOMPARE(scalar("SELECT COUNT(*) FROM players").toInt(), 2);
}

void TestSchemaSync::destructiveChangesAreRefused()
{
    APPLY(first, baseSchema(), false);
    VERIFY_APPLIED(first);
    insertBaseRows();
    if (QTest::currentTestFailed())
        return;
    const auto recorded = definitions();
    const auto clubIndexes = indexes("clubs");

    // Two destructive changes and one harmless addition in the same file.
    QJsonObject schema = baseSchema();
    removeField(schema, "clubs", "rating");
    removeField(schema, "clubs", "code");
    removeCollection(schema, "players");
    setField(schema, "clubs", "motto", QJsonObject{{"type", "text"}});
    APPLY(outcome, schema, false);
    QVERIFY2(!outcome.ok(), "a destructive change was applied without the flag");
    const QString message = outcome.error().message;
    QVERIFY2(message.contains(QLatin1String("--allow-destructive-schema")), qPrintable(message));
    // One line per change.
    const QStringList expected{QStringLiteral("clubs.rating: field removed"),
                               QStringLiteral("clubs.code: field removed"),
                               QStringLiteral("players: collection removed")};
    const QStringList lines = message.split(u'\n');
    for (const QString &change : expected) {
        int found = 0;
        for (const QString &line : lines)
            found += line.contains(change) ? 1 : 0;
        QVERIFY2(found == 1,
                 qPrintable(
                     QStringLiteral("\"%1\" should be on one line of:\n%2").arg(change, message)));
    }

    // The database is untouched: tables, columns, indexes, rows, bookkeeping; the harmless
    // addition was not applied either (one transaction).
    QVERIFY(tables().contains("players"));
    QCOMPARE(columns("clubs"),
             (QStringList{"code", "created_at", "id", "name", "rating", "updated_at"}));
    QCOMPARE(indexes("clubs"), clubIndexes);
    QCOMPARE(scalar("SELECT COUNT(*) FROM players").toInt(), 2);
    QCOMPARE(scalar("SELECT SUM(rating) FROM clubs").toDouble(), 8.5);
    QCOMPARE(definitions(), recorded);
    APPLY(original, baseSchema(), false);
    VERIFY_APPLIED(original);
    QCOMPARE(original.value().applied, QStringList());
}

void TestSchemaSync::destructiveChangesWithFlag_data()
{
    QTest::addColumn<QStringList>("removedFields");      // collection.field
    QTest::addColumn<QStringList>("removedCollections"); // children before parents not implied

    QTest::newRow("plain field") << QStringList{"clubs.rating"} << QStringList();
    QTest::newRow("unique field") << QStringList{"clubs.code"} << QStringList();
    QTest::newRow("indexed field") << QStringList{"players.nick"} << QStringList();
    QTest::newRow("reference field") << QStringList{"players.club_id"} << QStringList();
    QTest::newRow("several fields")
        << QStringList{"clubs.rating", "clubs.code", "players.age"} << QStringList();
    QTest::newRow("child collection") << QStringList() << QStringList{"players"};
    QTest::newRow("parent and child collections")
        << QStringList() << QStringList{"clubs", "players"};
}

void TestSchemaSync::destructiveChangesWithFlag()
{
    QFETCH(QStringList, removedFields);
    QFETCH(QStringList, removedCollections);
    APPLY(first, baseSchema(), false);
    VERIFY_APPLIED(first);
    insertBaseRows();
    if (QTest::currentTestFailed())
        return;

    QJsonObject schema = baseSchema();
    for (const QString &f : std::as_const(removedFields))
        removeField(schema, f.section(u'.', 0, 0), f.section(u'.', 1));
    for (const QString &c : std::as_const(removedCollections))
        removeCollection(schema, c);
    APPLY(outcome, schema, true);
    VERIFY_APPLIED(outcome);
    const QStringList applied = outcome.value().applied;
    for (const QString &c : std::as_const(removedCollections)) {
        QVERIFY2(applied.contains(QStringLiteral("dropped collection ") + c),
                 qPrintable(applied.join(u'\n')));
        QVERIFY2(!tables().contains(c), qPrintable(c));
    }
    for (const QString &f : std::as_const(removedFields)) {
        const QString table = f.section(u'.', 0, 0);
        QVERIFY2(!columns(table).contains(f.section(u'.', 1)), qPrintable(f));
    }
    // What was not removed is still there, with its data.
    if (!removedCollections.contains("clubs")) {
        QCOMPARE(scalar("SELECT COUNT(*) FROM clubs").toInt(), 2);
        QCOMPARE(scalar("SELECT name FROM clubs WHERE id = 2").toString(),
                 QStringLiteral("Benfica"));
    }
    if (!removedCollections.contains("players")) {
        QCOMPARE(scalar("SELECT COUNT(*) FROM players").toInt(), 2);
        if (!removedFields.contains("players.nick"))
            QCOMPARE(scalar("SELECT nick FROM players WHERE id = 2").toString(),
                     QStringLiteral("rui"));
    }
    // Indexes on removed columns went with them.
    for (const QString &table : {QStringLiteral("clubs"), QStringLiteral("players")}) {
        if (removedCollections.contains(table))
            continue;
        const auto present = indexes(table);
        for (const QString &f : std::as_const(removedFields))
            if (f.startsWith(table + u'.'))
                for (auto it = present.begin(); it != present.end(); ++it)
                    QVERIFY2(!it.value().contains(f.section(u'.', 1).toUpper()),
                             qPrintable(it.key() + QStringLiteral(": ") + it.value()));
    }
    QStringList recorded = definitions().keys();
    for (const QString &c : std::as_const(removedCollections))
        QVERIFY(!recorded.contains(c));

    // Now in line: nothing more to do, and no flag needed.
    APPLY(again, schema, false);
    VERIFY_APPLIED(again);
    QCOMPARE(again.value().applied, QStringList());
    // A removed field can come back (empty).
    if (removedFields.contains("clubs.rating")) {
        APPLY(back, baseSchema(), false);
        VERIFY_APPLIED(back);
        QVERIFY(back.value().applied.contains("added field clubs.rating"));
        QCOMPARE(scalar("SELECT COUNT(*) FROM clubs WHERE rating IS NULL").toInt(), 2);
    }
}

void TestSchemaSync::typeChangeRefusedThenApplied()
{
    APPLY(first, baseSchema(), false);
    VERIFY_APPLIED(first);
    insertBaseRows();
    if (QTest::currentTestFailed())
        return;
    const auto recorded = definitions();

    QJsonObject schema = baseSchema();
    setField(schema, "players", "nick", QJsonObject{{"type", "integer"}});
    APPLY(refused, schema, false);
    QVERIFY2(!refused.ok(), "a type change was applied without the flag");
    const QString message = refused.error().message;
    QVERIFY2(message.contains(QLatin1String("players.nick: field changed from")) &&
                 message.contains(QLatin1String("\"type\":\"text\"")) &&
                 message.contains(QLatin1String("\"type\":\"integer\"")) &&
                 message.contains(QLatin1String("--allow-destructive-schema")),
             qPrintable(message));
    QCOMPARE(columnType("players", "nick"), QStringLiteral("TEXT"));
    QCOMPARE(scalar("SELECT nick FROM players WHERE id = 1").toString(), QStringLiteral("kees"));
    QCOMPARE(definitions(), recorded);

    APPLY(applied, schema, true);
    VERIFY_APPLIED(applied);
    QCOMPARE(columnType("players", "nick"), QStringLiteral("BIGINT"));
    // The column was re-created empty; the rows and their other values remain.
    QCOMPARE(scalar("SELECT COUNT(*) FROM players").toInt(), 2);
    QCOMPARE(scalar("SELECT COUNT(*) FROM players WHERE nick IS NULL").toInt(), 2);
    QCOMPARE(scalar("SELECT age FROM players WHERE id = 2").toInt(), 30);
    // Its index is back, on the new column.
    QVERIFY(indexes("players").contains("players_nick"));
    QVERIFY(exec(QStringLiteral("UPDATE players SET nick = 42 WHERE id = 1")));
    APPLY(again, schema, false);
    VERIFY_APPLIED(again);
    QCOMPARE(again.value().applied, QStringList());
}

void TestSchemaSync::foreignTableOfSameNameIsRefused()
{
    // A table Bulwark did not create is never adopted (nor dropped).
    QString error;
    QVERIFY2(
        exec(QStringLiteral("CREATE TABLE clubs (id INTEGER PRIMARY KEY, legacy TEXT)"), &error),
        qPrintable(error));
    QVERIFY(exec(QStringLiteral("INSERT INTO clubs (id, legacy) VALUES (1, 'keep me')")));
    APPLY(outcome, baseSchema(), true);
    QVERIFY(!outcome.ok());
    QVERIFY2(outcome.error().message.contains(QLatin1String("not created by Bulwark")),
             qPrintable(outcome.error().message));
    QCOMPARE(scalar("SELECT legacy FROM clubs WHERE id = 1").toString(), QStringLiteral("keep me"));
    QVERIFY(!tables().contains("players")); // nothing half done
    QVERIFY(definitions().isEmpty());
}

void TestSchemaSync::childNamedBeforeItsParent()
{
    // The order of collections in the file (and their names) must not matter: "entries"
    // references "journals", so journals must be created first where the database checks
    // references at CREATE TABLE (PostgreSQL).
    const QJsonObject journals{{"fields", QJsonObject{{"title", QJsonObject{{"type", "text"}}}}}};
    const QJsonObject entries{
        {"fields", QJsonObject{{"journal_id", QJsonObject{{"type", "integer"},
                                                          {"references", "journals"},
                                                          {"required", true}}},
                               {"body", QJsonObject{{"type", "text"}}}}}};
    QJsonObject schema = baseSchema();
    putCollection(schema, "journals", journals);
    putCollection(schema, "entries", entries);
    APPLY(outcome, schema, false);
    VERIFY_APPLIED(outcome);
    QVERIFY(tables().contains("entries"));
    QVERIFY(tables().contains("journals"));
    const QString ts = QLatin1String(kTimestamp);
    QVERIFY(exec(
        QStringLiteral("INSERT INTO journals (created_at, updated_at, title) VALUES (%1, %1, 'j')")
            .arg(ts)));
    QVERIFY(exec(QStringLiteral("INSERT INTO entries (created_at, updated_at, journal_id, body) "
                                "VALUES (%1, %1, 1, 'e')")
                     .arg(ts)));
    QVERIFY(!exec(QStringLiteral("INSERT INTO entries (created_at, updated_at, journal_id) "
                                 "VALUES (%1, %1, 99)")
                      .arg(ts)));
}

void TestSchemaSync::parentsAndChildrenRemovedTogether()
{
    // Removing a parent and its child in one go (with the flag) must drop the child first,
    // whatever the names: a parent still referenced cannot be dropped (PostgreSQL refuses,
    // SQLite's implicit DELETE hits the restricting reference). Several pairs, named so
    // that creating them works on both databases, each with a row that refers to a parent.
    const QList<std::pair<QString, QString>> pairs{
        {"authors", "books"}, {"orders", "shipments"}, {"albums", "tracks"}, {"forums", "posts"}};
    QJsonObject schema = baseSchema();
    for (const auto &[parent, child] : pairs) {
        putCollection(
            schema, parent,
            QJsonObject{{"fields", QJsonObject{{"name", QJsonObject{{"type", "text"}}}}}});
        putCollection(
            schema, child,
            QJsonObject{{"fields", QJsonObject{{"parent_id", QJsonObject{{"type", "integer"},
                                                                         {"references", parent},
                                                                         {"required", true}}}}}});
    }
    APPLY(outcome, schema, false);
    VERIFY_APPLIED(outcome);
    const QString ts = QLatin1String(kTimestamp);
    QString error;
    for (const auto &[parent, child] : pairs) {
        QVERIFY2(exec(QStringLiteral("INSERT INTO %1 (created_at, updated_at, name) VALUES "
                                     "(%2, %2, 'p')")
                          .arg(parent, ts),
                      &error),
                 qPrintable(error));
        QVERIFY2(exec(QStringLiteral("INSERT INTO %1 (created_at, updated_at, parent_id) VALUES "
                                     "(%2, %2, 1)")
                          .arg(child, ts),
                      &error),
                 qPrintable(error));
    }

    APPLY(removed, baseSchema(), true);
    VERIFY_APPLIED(removed);
    for (const auto &[parent, child] : pairs) {
        QVERIFY2(!tables().contains(parent), qPrintable(parent));
        QVERIFY2(!tables().contains(child), qPrintable(child));
    }
    QCOMPARE(definitions().keys(), (QStringList{"clubs", "players"}));
}

QTEST_GUILESS_MAIN(TestSchemaSync)
#include "tst_schemasync.moc"
