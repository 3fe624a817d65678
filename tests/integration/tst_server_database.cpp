// SPDX-License-Identifier: GPL-3.0-or-later
// The server with its database: on SQLite (the default) and on a real PostgreSQL from the
// harness it applies the internal migrations at start, reports the database in
// /health/ready and /admin/api/db and exports pool metrics; when PostgreSQL goes down,
// readiness says so (503, "database" down) without a crash, and it recovers by itself when
// PostgreSQL is back.
#include "ExternalServers.h"
#include "InternalSchema.h"
#include "TestSupport.h"

#include <QJsonArray>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QtTest>

using namespace bulwark;
using namespace bulwark::test;

namespace {
int latestSchemaVersion()
{
    return internalMigrations().last().version;
}
} // namespace

class TestServerDatabase : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void sqliteByDefault();
    void postgresDownAndBack();
    void unreachableDatabaseStopsStart();

private:
    static QJsonObject adminDb(TestServer &server);
};

QJsonObject TestServerDatabase::adminDb(TestServer &server)
{
    RawResponse r;
    fetch(server.port(), "/admin/api/db", &r,
          "Authorization: Bearer " + server.app()->adminToken() + "\r\n");
    return r.status == 200 ? r.json() : QJsonObject();
}

void TestServerDatabase::sqliteByDefault()
{
    TestServer server;
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    const QString file = server.dataDir() + QStringLiteral("/bulwark.db");
    QVERIFY(QFile::exists(file));
    QVERIFY(server.app()->databaseDescription().endsWith(file));

    const QJsonObject db = adminDb(server);
    QCOMPARE(db.value(QStringLiteral("driver")).toString(), QStringLiteral("sqlite"));
    QCOMPARE(db.value(QStringLiteral("schema_version")).toInt(), latestSchemaVersion());
    // The acquire-wait histogram: at least the acquires of start-up and the health check.
    QVERIFY(db.value(QStringLiteral("acquire_wait"))
                .toObject()
                .value(QStringLiteral("count"))
                .toDouble() >= 1);
    QVERIFY(db.value(QStringLiteral("acquire_wait")).toObject().contains(QStringLiteral("p99_ms")));
    QCOMPARE(db.value(QStringLiteral("pool")).toObject().value(QStringLiteral("max_size")).toInt(),
             16);

    RawResponse ready;
    BULWARK_CHECK(fetch(server.port(), "/health/ready", &ready));
    QCOMPARE(ready.status, 200);
    QCOMPARE(ready.json()
                 .value(QStringLiteral("components"))
                 .toObject()
                 .value(QStringLiteral("database"))
                 .toString(),
             QStringLiteral("up"));

    RawResponse metrics;
    BULWARK_CHECK(fetch(server.port(), "/metrics", &metrics));
    QVERIFY(metrics.body.contains("bulwark_db_pool_connections{state=\"total\"}"));
    QVERIFY(metrics.body.contains("bulwark_db_pool_acquire_seconds_count"));

    // The internal tables exist, and the migration is recorded once.
    {
        QSqlDatabase check =
            QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("check"));
        check.setDatabaseName(file);
        QVERIFY(check.open());
        QSqlQuery q(check);
        QVERIFY(q.exec(QStringLiteral("SELECT count(*) FROM schema_migrations")) && q.next());
        QCOMPARE(q.value(0).toInt(), latestSchemaVersion());
        QVERIFY(q.exec(QStringLiteral("SELECT count(*) FROM users")));
        QVERIFY(q.exec(QStringLiteral("SELECT count(*) FROM api_keys")));
        QVERIFY(q.exec(QStringLiteral("SELECT count(*) FROM audit_log")));
        check.close();
    }
    QSqlDatabase::removeDatabase(QStringLiteral("check"));
}

void TestServerDatabase::postgresDownAndBack()
{
    PostgresServer pg;
    QVERIFY2(pg.start(), qPrintable(pg.errorString()));
    TestServer server;
    server.config.db.driver = DbDriver::Postgres;
    server.config.db.postgresHost = pg.host();
    server.config.db.postgresPort = pg.port();
    server.config.db.postgresName = pg.database();
    server.config.db.postgresUser = pg.user();
    server.config.db.postgresConnectTimeout = Milliseconds(2000);
    server.config.db.poolAcquireTimeout = Milliseconds(2000);
    QVERIFY2(server.start(), qPrintable(server.errorString()));
    QCOMPARE(adminDb(server).value(QStringLiteral("driver")).toString(),
             QStringLiteral("postgres"));
    QCOMPARE(adminDb(server).value(QStringLiteral("schema_version")).toInt(),
             latestSchemaVersion());

    RawResponse r;
    BULWARK_CHECK(fetch(server.port(), "/health/ready", &r));
    QCOMPARE(r.status, 200);

    pg.stop();
    BULWARK_CHECK(fetch(server.port(), "/health/ready", &r));
    QCOMPARE(r.status, 503);
    QVERIFY2(r.json().value(QStringLiteral("down")).toArray().contains(QStringLiteral("database")),
             r.body.constData());
    RawResponse live;
    BULWARK_CHECK(fetch(server.port(), "/health/live", &live));
    QCOMPARE(live.status, 200); // the process itself is fine

    QVERIFY2(pg.start(), qPrintable(pg.errorString()));
    QTRY_VERIFY_WITH_TIMEOUT(([&] {
                                 RawResponse again;
                                 fetch(server.port(), "/health/ready", &again);
                                 return again.status == 200;
                             }()),
                             10000);
}

// main() turns a failed start into exit code 1 with this message (the exit code path is
// the one tst_shutdown::listenAddressInUse covers).
void TestServerDatabase::unreachableDatabaseStopsStart()
{
    TestServer server;
    const quint16 closedPort = freeLoopbackPort(); // nothing listens there
    server.config.db.driver = DbDriver::Postgres;
    server.config.db.postgresHost = QStringLiteral("127.0.0.1");
    server.config.db.postgresPort = closedPort;
    server.config.db.postgresConnectTimeout = Milliseconds(2000);
    QVERIFY(!server.start());
    const QString expected =
        QStringLiteral("database (postgres 127.0.0.1:%1/bulwark): the database is unreachable")
            .arg(closedPort);
    QVERIFY2(server.errorString().startsWith(expected), qPrintable(server.errorString()));
}

QTEST_GUILESS_MAIN(TestServerDatabase)
#include "tst_server_database.moc"
