// SPDX-License-Identifier: GPL-3.0-or-later
// ConnectionPool against a real PostgreSQL from the harness: queries through pooled
// connections, a restart of the server under an idle connection (the next acquire pings,
// finds it dead and reconnects transparently), and a server that is down (acquire fails
// with Unavailable, nothing crashes, and service resumes when it is back).
#include "ConnectionPool.h"
#include "ExternalServers.h"

#include <QSqlError>
#include <QSqlQuery>
#include <QtTest>

using namespace bulwark;
using namespace bulwark::test;
using namespace std::chrono_literals;

namespace {
class ManualClock final : public Clock
{
public:
    std::chrono::steady_clock::time_point now() const override { return m_now; }
    void advance(std::chrono::milliseconds d) { m_now += d; }

private:
    std::chrono::steady_clock::time_point m_now = std::chrono::steady_clock::time_point(1h);
};
} // namespace

class TestPoolPostgres : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void queriesThroughThePool();
    void reconnectsAfterServerRestart();
    void serverDownIsUnavailableThenRecovers();

private:
    std::unique_ptr<ConnectionPool> makePool();
    PostgresServer m_pg;
    ManualClock m_clock;
};

void TestPoolPostgres::initTestCase()
{
    QVERIFY2(m_pg.start(), qPrintable(m_pg.errorString()));
}

void TestPoolPostgres::cleanupTestCase()
{
    m_pg.stop();
}

std::unique_ptr<ConnectionPool> TestPoolPostgres::makePool()
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

void TestPoolPostgres::queriesThroughThePool()
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

void TestPoolPostgres::reconnectsAfterServerRestart()
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

void TestPoolPostgres::serverDownIsUnavailableThenRecovers()
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

QTEST_GUILESS_MAIN(TestPoolPostgres)
#include "tst_pool_postgres.moc"
