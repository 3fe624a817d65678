// SPDX-License-Identifier: GPL-3.0-or-later
// server/db against a real PostgreSQL from the harness. ConnectionPool: queries through
// pooled connections, a restart of the server under an idle connection (the next acquire
// pings, finds it dead and reconnects transparently), and a server that is down (acquire
// fails with Unavailable, nothing crashes, service resumes when it is back). Migrator:
// migrations applied and recorded, and two instances migrating at once apply each exactly
// once (the advisory lock).
#include "ConnectionPool.h"
#include "ManualClock.h"
#include "ExternalServers.h"
#include "Migrator.h"

#include <QSqlError>
#include <QSqlQuery>
#include <QtTest>
#include <thread>

using namespace bulwark;
using namespace bulwark::test;
using namespace std::chrono_literals;


class TestDbPostgres : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void queriesThroughThePool();
    void reconnectsAfterServerRestart();
    void serverDownIsUnavailableThenRecovers();
    void concurrentMigrationsApplyOnce();

private:
    std::unique_ptr<ConnectionPool> makePool();
    PostgresServer m_pg;
    ManualClock m_clock;
};

void TestDbPostgres::initTestCase()
{
    QVERIFY2(m_pg.start(), qPrintable(m_pg.errorString()));
}

void TestDbPostgres::cleanupTestCase()
{
    m_pg.stop();
}

std::unique_ptr<ConnectionPool> TestDbPostgres::makePool()
{
    PostgresDialect::Params params;
    params.host = m_pg.host();
    params.port = m_pg.port();
    params.database = m_pg.database();
    params.user = m_pg.user();
    params.connectTimeoutSeconds = 2;
    PoolOptions options;
    options.maxSize = 4;
    options.pingAfterIdle = 1000ms;
    options.acquireTimeout = 2000ms;
    return std::make_unique<ConnectionPool>(std::make_shared<PostgresDialect>(params), options,
                                            m_clock);
}

void TestDbPostgres::queriesThroughThePool()
{
    auto pool = makePool();
    {
        auto lease = pool->acquire();
        QVERIFY2(lease.ok(), qPrintable(lease.ok() ? QString() : lease.error().message));
        QSqlQuery q(lease.value().database());
        QVERIFY2(q.exec(QStringLiteral(
                     "CREATE TABLE IF NOT EXISTS items (id BIGSERIAL PRIMARY KEY, name TEXT)")),
                 qPrintable(q.lastError().text()));
        QVERIFY(q.prepare(QStringLiteral("INSERT INTO items (name) VALUES (?)")));
        q.addBindValue(QStringLiteral("a"));
        QVERIFY2(q.exec(), qPrintable(q.lastError().text()));
        QVERIFY(q.exec(QStringLiteral("SHOW TIME ZONE")) && q.next());
        QCOMPARE(q.value(0).toString(), QStringLiteral("UTC"));
    }
    auto lease = pool->acquire();
    QVERIFY(lease.ok());
    QSqlQuery q(lease.value().database());
    QVERIFY(q.exec(QStringLiteral("SELECT count(*) FROM items")) && q.next());
    QVERIFY(q.value(0).toInt() >= 1);
    QCOMPARE(pool->stats().created, quint64(1));
}

void TestDbPostgres::reconnectsAfterServerRestart()
{
    auto pool = makePool();
    {
        auto lease = pool->acquire();
        QVERIFY(lease.ok());
    }
    m_pg.stop();
    QVERIFY2(m_pg.start(), qPrintable(m_pg.errorString()));
    m_clock.advance(1500ms); // past ping_after_idle: the idle connection is checked first
    auto lease = pool->acquire();
    QVERIFY2(lease.ok(), qPrintable(lease.ok() ? QString() : lease.error().message));
    QSqlQuery q(lease.value().database());
    QVERIFY2(q.exec(QStringLiteral("SELECT 1")), qPrintable(q.lastError().text()));
    QCOMPARE(pool->stats().reconnects, quint64(1));
    QCOMPARE(pool->stats().created, quint64(1));
}

void TestDbPostgres::serverDownIsUnavailableThenRecovers()
{
    auto pool = makePool();
    {
        auto lease = pool->acquire();
        QVERIFY(lease.ok());
    }
    m_pg.stop();
    m_clock.advance(1500ms);
    auto down = pool->acquire(); // the idle one fails its ping and cannot reconnect
    QVERIFY(!down.ok());
    QCOMPARE(down.error().code, ErrorCode::Unavailable);
    auto stillDown = pool->acquire(); // a new connection cannot be opened either
    QVERIFY(!stillDown.ok());
    QCOMPARE(stillDown.error().code, ErrorCode::Unavailable);
    QCOMPARE(pool->stats().total, 0);
    QCOMPARE(pool->stats().failures, quint64(2));

    QVERIFY2(m_pg.start(), qPrintable(m_pg.errorString()));
    auto back = pool->acquire();
    QVERIFY2(back.ok(), qPrintable(back.ok() ? QString() : back.error().message));
    QSqlQuery q(back.value().database());
    QVERIFY(q.exec(QStringLiteral("SELECT 1")));
}

void TestDbPostgres::concurrentMigrationsApplyOnce()
{
    PostgresDialect::Params params;
    params.host = m_pg.host();
    params.port = m_pg.port();
    params.database = m_pg.database();
    params.user = m_pg.user();
    const PostgresDialect dialect(params);
    QList<Migration> migrations;
    for (int v = 1; v <= 3; ++v) {
        migrations.append({v, QStringLiteral("step %1").arg(v), [v](const Dialect &d) {
                               return QStringList{QStringLiteral("CREATE TABLE m%1 (id %2, at %3)")
                                                      .arg(v)
                                                      .arg(d.autoIncrementKey(), d.timestampType()),
                                                  QStringLiteral("SELECT pg_sleep(0.05)")};
                           }});
    }
    QList<int> applied[2];
    QString errors[2];
    auto instance = [&](int i) {
        const QString name = QStringLiteral("migrate-%1").arg(i);
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), name);
            dialect.configure(db);
            if (!db.open()) {
                errors[i] = db.lastError().text();
            } else {
                const auto outcome = Migrator(dialect, migrations).migrate(db);
                if (outcome.ok())
                    applied[i] = outcome.value().applied;
                else
                    errors[i] = outcome.error().message;
                db.close();
            }
        }
        QSqlDatabase::removeDatabase(name);
    };
    std::thread a(instance, 0);
    std::thread b(instance, 1);
    a.join();
    b.join();
    QVERIFY2(errors[0].isEmpty(), qPrintable(errors[0]));
    QVERIFY2(errors[1].isEmpty(), qPrintable(errors[1]));
    QList<int> all = applied[0] + applied[1];
    std::sort(all.begin(), all.end());
    QCOMPARE(all, (QList<int>{1, 2, 3}));

    auto pool = makePool();
    auto lease = pool->acquire();
    QVERIFY(lease.ok());
    QSqlQuery q(lease.value().database());
    QVERIFY(q.exec(QStringLiteral("SELECT count(*), max(version) FROM schema_migrations")) &&
            q.next());
    QCOMPARE(q.value(0).toInt(), 3);
    QCOMPARE(q.value(1).toInt(), 3);
}

QTEST_GUILESS_MAIN(TestDbPostgres)
#include "tst_db_postgres.moc"
