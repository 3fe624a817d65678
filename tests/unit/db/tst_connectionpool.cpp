// SPDX-License-Identifier: GPL-3.0-or-later
// ConnectionPool on SQLite files in a temporary directory, with a hand-moved clock: reuse
// per thread, the global cap and acquire_timeout, hand-over to a waiting thread, max
// lifetime, idle reaping with min_idle, pre-ping after idle, leak reports, metrics.
#include "ConnectionPool.h"
#include "ManualClock.h"

#include <QElapsedTimer>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QtTest>
#include <thread>

using namespace bulwark;
using namespace bulwark::test;
using namespace std::chrono_literals;


class TestConnectionPool : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void reusesThisThreadsConnection();
    void sessionIsPrepared();
    void capAndAcquireTimeout();
    void waitingThreadGetsCapacity();
    void maxLifetimeRetiresConnection();
    void idleReapingKeepsMinIdle();
    void pingAfterIdle();
    void leakIsReported();
    void metricsFollowState();
    void unreachableDatabaseIsUnavailable();

private:
    std::unique_ptr<ConnectionPool> makePool(PoolOptions options,
                                             MetricsRegistry *metrics = nullptr);
    std::unique_ptr<QTemporaryDir> m_dir;
    ManualClock m_clock;
};

void TestConnectionPool::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
}

std::unique_ptr<ConnectionPool> TestConnectionPool::makePool(PoolOptions options,
                                                             MetricsRegistry *metrics)
{
    auto dialect =
        std::make_shared<SqliteDialect>(m_dir->filePath(QStringLiteral("test.db")), 1000ms);
    return std::make_unique<ConnectionPool>(dialect, options, m_clock, metrics);
}

void TestConnectionPool::reusesThisThreadsConnection()
{
    auto pool = makePool({});
    QString first;
    {
        auto lease = pool->acquire();
        QVERIFY2(lease.ok(), qPrintable(lease.ok() ? QString() : lease.error().message));
        first = lease.value().database().connectionName();
        QSqlQuery q(lease.value().database());
        QVERIFY(q.exec(QStringLiteral("CREATE TABLE t (x INTEGER)")));
    }
    QCOMPARE(pool->stats().idle, 1);
    auto again = pool->acquire();
    QVERIFY(again.ok());
    QCOMPARE(again.value().database().connectionName(), first);
    const PoolStats s = pool->stats();
    QCOMPARE(s.created, quint64(1));
    QCOMPARE(s.acquired, quint64(2));
    QCOMPARE(s.active, 1);
    QCOMPARE(s.idle, 0);
}

void TestConnectionPool::sessionIsPrepared()
{
    auto pool = makePool({});
    auto lease = pool->acquire();
    QVERIFY(lease.ok());
    QSqlQuery q(lease.value().database());
    QVERIFY(q.exec(QStringLiteral("PRAGMA journal_mode")) && q.next());
    QCOMPARE(q.value(0).toString(), QStringLiteral("wal"));
    QVERIFY(q.exec(QStringLiteral("PRAGMA foreign_keys")) && q.next());
    QCOMPARE(q.value(0).toInt(), 1);
    QVERIFY(q.exec(QStringLiteral("PRAGMA synchronous")) && q.next());
    QCOMPARE(q.value(0).toInt(), 1); // NORMAL
}

void TestConnectionPool::capAndAcquireTimeout()
{
    PoolOptions o;
    o.maxSize = 2;
    o.acquireTimeout = 150ms;
    auto pool = makePool(o);
    auto a = pool->acquire();
    auto b = pool->acquire();
    QVERIFY(a.ok() && b.ok());
    QElapsedTimer timer;
    timer.start();
    auto c = pool->acquire();
    QVERIFY(!c.ok());
    QVERIFY(timer.elapsed() >= 140);
    QCOMPARE(c.error().code, ErrorCode::Unavailable);
    QVERIFY2(c.error().message.contains(QStringLiteral("150 ms")), qPrintable(c.error().message));
    QCOMPARE(pool->stats().timeouts, quint64(1));
    QCOMPARE(pool->stats().total, 2);
}

void TestConnectionPool::waitingThreadGetsCapacity()
{
    PoolOptions o;
    o.maxSize = 1;
    o.acquireTimeout = 5000ms;
    auto pool = makePool(o);
    auto held = pool->acquire();
    QVERIFY(held.ok());
    std::atomic<bool> got{false};
    std::thread waiter([&] {
        auto lease = pool->acquire();
        got = lease.ok();
        if (lease.ok()) {
            QSqlQuery q(lease.value().database());
            got = q.exec(QStringLiteral("SELECT 1"));
        }
        if (lease.ok())
            lease.value().release();
        pool->closeThreadConnections();
    });
    QTRY_COMPARE_WITH_TIMEOUT(pool->stats().pending, 1, 3000);
    held.value().release(); // a thread waits: the connection is closed to hand over capacity
    waiter.join();
    QVERIFY(got.load());
    const PoolStats s = pool->stats();
    QCOMPARE(s.created, quint64(2));
    QVERIFY(s.closed >= 2);
    QCOMPARE(s.total, 0);
}

void TestConnectionPool::maxLifetimeRetiresConnection()
{
    PoolOptions o;
    o.maxLifetime = 60'000ms;
    auto pool = makePool(o);
    QString first;
    {
        auto lease = pool->acquire();
        first = lease.value().database().connectionName();
    }
    m_clock.advance(61'000ms);
    auto lease = pool->acquire();
    QVERIFY(lease.ok());
    QVERIFY(lease.value().database().connectionName() != first);
    QCOMPARE(pool->stats().created, quint64(2));
    QCOMPARE(pool->stats().closed, quint64(1));
}

void TestConnectionPool::idleReapingKeepsMinIdle()
{
    PoolOptions o;
    o.minIdle = 1;
    o.idleTimeout = 10'000ms;
    auto pool = makePool(o);
    {
        auto a = pool->acquire();
        auto b = pool->acquire();
        auto c = pool->acquire();
    }
    QCOMPARE(pool->stats().idle, 3);
    m_clock.advance(5'000ms);
    pool->reapIdle();
    QCOMPARE(pool->stats().idle, 3);
    m_clock.advance(6'000ms);
    pool->reapIdle();
    QCOMPARE(pool->stats().idle, 1);
    QCOMPARE(pool->stats().total, 1);
}

void TestConnectionPool::pingAfterIdle()
{
    PoolOptions o;
    o.pingAfterIdle = 30'000ms;
    auto pool = makePool(o);
    {
        auto lease = pool->acquire();
    }
    {
        auto lease = pool->acquire();
    }
    QCOMPARE(pool->stats().pings, quint64(0));
    m_clock.advance(31'000ms);
    {
        auto lease = pool->acquire();
        QVERIFY(lease.ok());
    }
    QCOMPARE(pool->stats().pings, quint64(1));
    QCOMPARE(pool->stats().reconnects, quint64(0));
}

void TestConnectionPool::leakIsReported()
{
    PoolOptions o;
    o.leakThreshold = 1'000ms;
    auto pool = makePool(o);
    auto held = pool->acquire();
    pool->reapIdle();
    QCOMPARE(pool->stats().leaks, quint64(0));
    m_clock.advance(1'500ms);
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression(QStringLiteral("held for more than 1000 ms")));
    pool->reapIdle();
    pool->reapIdle(); // reported once per lease
    QCOMPARE(pool->stats().leaks, quint64(1));
}

void TestConnectionPool::metricsFollowState()
{
    MetricsRegistry registry;
    auto pool = makePool({}, &registry);
    auto lease = pool->acquire();
    const QByteArray text = registry.exposition();
    QVERIFY2(text.contains("bulwark_db_pool_connections{state=\"active\"} 1"), text.constData());
    QVERIFY2(text.contains("bulwark_db_pool_connections{state=\"idle\"} 0"), text.constData());
    QVERIFY2(text.contains("bulwark_db_pool_acquire_seconds_count 1"), text.constData());
    lease.value().release();
    QVERIFY(registry.exposition().contains("bulwark_db_pool_connections{state=\"idle\"} 1"));
}

void TestConnectionPool::unreachableDatabaseIsUnavailable()
{
    // A directory that does not exist: SQLite cannot create the file.
    auto dialect =
        std::make_shared<SqliteDialect>(m_dir->filePath(QStringLiteral("missing/dir/x.db")), 100ms);
    ConnectionPool pool(dialect, {}, m_clock);
    auto lease = pool.acquire();
    QVERIFY(!lease.ok());
    QCOMPARE(lease.error().code, ErrorCode::Unavailable);
    QCOMPARE(pool.stats().failures, quint64(1));
    QCOMPARE(pool.stats().total, 0);
}

QTEST_GUILESS_MAIN(TestConnectionPool)
#include "tst_connectionpool.moc"
