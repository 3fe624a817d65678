// SPDX-License-Identifier: GPL-3.0-or-later
// The service harness itself: a real PostgreSQL answers a query through Qt's QPSQL driver
// and a real Redis answers PING through hiredis, each on its own free loopback port; after
// stop() the ports are closed again. A service that cannot start fails the test: in CI a
// missing service must never look like a pass.
#include "ExternalServers.h"

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTcpSocket>
#include <QtTest>

#include <hiredis.h>

using namespace bulwark::test;

class TestServices : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void postgresAnswersQueries();
    void redisAnswersPing();
    void twoPostgresInstancesDoNotCollide();
};

namespace {
bool portOpen(quint16 port)
{
    QTcpSocket probe;
    probe.connectToHost(QStringLiteral("127.0.0.1"), port);
    return probe.waitForConnected(500);
}
} // namespace

void TestServices::postgresAnswersQueries()
{
    quint16 port = 0;
    {
        PostgresServer pg;
        QVERIFY2(pg.start(), qPrintable(pg.errorString()));
        port = pg.port();
        QVERIFY(port != 0);
        {
            QSqlDatabase db =
                QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), QStringLiteral("smoke"));
            db.setHostName(pg.host());
            db.setPort(pg.port());
            db.setUserName(pg.user());
            db.setDatabaseName(pg.database());
            QVERIFY2(db.open(), qPrintable(db.lastError().text()));
            QSqlQuery query(db);
            QVERIFY2(query.exec(QStringLiteral(
                         "CREATE TABLE t (id serial PRIMARY KEY, name text NOT NULL)")),
                     qPrintable(query.lastError().text()));
            QVERIFY(query.prepare(QStringLiteral("INSERT INTO t (name) VALUES (?) RETURNING id")));
            query.addBindValue(QStringLiteral("first"));
            QVERIFY2(query.exec() && query.next(), qPrintable(query.lastError().text()));
            QCOMPARE(query.value(0).toInt(), 1);
            QVERIFY(query.exec(
                QStringLiteral("SELECT name, current_setting('server_version_num')::int FROM t")));
            QVERIFY(query.next());
            QCOMPARE(query.value(0).toString(), QStringLiteral("first"));
            QVERIFY2(query.value(1).toInt() >= 150000,
                     "expected PostgreSQL 15 or newer (Debian 12)");
            db.close();
        }
        QSqlDatabase::removeDatabase(QStringLiteral("smoke"));
        pg.stop();
    }
    QVERIFY2(!portOpen(port), "PostgreSQL still listens after stop()");
}

void TestServices::redisAnswersPing()
{
    quint16 port = 0;
    {
        RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        port = redis.port();
        const timeval timeout{2, 0};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", port, timeout);
        QVERIFY(c);
        auto freeContext = qScopeGuard([c] { redisFree(c); });
        QVERIFY2(!c->err, c->errstr);
        auto *reply = static_cast<redisReply *>(redisCommand(c, "PING"));
        QVERIFY(reply);
        QCOMPARE(QByteArray(reply->str, qsizetype(reply->len)), QByteArray("PONG"));
        freeReplyObject(reply);
        reply = static_cast<redisReply *>(redisCommand(c, "SET %s %s", "bulwark", "ok"));
        QVERIFY(reply && reply->type == REDIS_REPLY_STATUS);
        freeReplyObject(reply);
        reply = static_cast<redisReply *>(redisCommand(c, "GET %s", "bulwark"));
        QVERIFY(reply && reply->type == REDIS_REPLY_STRING);
        QCOMPARE(QByteArray(reply->str, qsizetype(reply->len)), QByteArray("ok"));
        freeReplyObject(reply);
    }
    QVERIFY2(!portOpen(port), "redis-server still listens after stop()");
}

void TestServices::twoPostgresInstancesDoNotCollide()
{
    PostgresServer a;
    PostgresServer b;
    QVERIFY2(a.start(), qPrintable(a.errorString()));
    QVERIFY2(b.start(), qPrintable(b.errorString()));
    QVERIFY(a.port() != b.port());
    QVERIFY(portOpen(a.port()));
    QVERIFY(portOpen(b.port()));
}

QTEST_GUILESS_MAIN(TestServices)
#include "tst_services.moc"
