// SPDX-License-Identifier: GPL-3.0-or-later
// See ConnectionPool.h for the design.
#include "ConnectionPool.h"

#include <QAbstractEventDispatcher>
#include <QSqlError>
#include <QSqlQuery>
#include <algorithm>

namespace bulwark {

namespace {
double seconds(std::chrono::steady_clock::duration d)
{
    return std::chrono::duration<double>(d).count();
}
} // namespace

ConnectionPool::ConnectionPool(std::shared_ptr<const Dialect> dialect, PoolOptions options,
                               const Clock &clock, MetricsRegistry *metrics)
    : m_dialect(std::move(dialect)), m_options(options), m_clock(clock)
{
    if (metrics) {
        auto &connections = metrics->gauge("bulwark_db_pool_connections",
                                           "Database connections by state.", {"state"});
        m_totalGauge = &connections.labels({"total"});
        m_idleGauge = &connections.labels({"idle"});
        m_activeGauge = &connections.labels({"active"});
        m_pendingGauge =
            &metrics->gauge("bulwark_db_pool_pending", "Threads waiting for a connection.")
                 .labels({});
        m_timeoutCounter = &metrics
                                ->counter("bulwark_db_pool_timeouts_total",
                                          "Acquires that gave up after acquire_timeout.")
                                .labels({});
        m_reconnectCounter = &metrics
                                  ->counter("bulwark_db_pool_reconnects_total",
                                            "Dead connections reopened transparently.")
                                  .labels({});
        m_leakCounter =
            &metrics
                 ->counter("bulwark_db_pool_leaks_total", "Leases held longer than leak_threshold.")
                 .labels({});
        m_waitHistogram = &metrics
                               ->histogram("bulwark_db_pool_acquire_seconds",
                                           "Time spent waiting for a connection.", {},
                                           Histogram::defaultLatencyBuckets())
                               .labels({});
    }
}

ConnectionPool::~ConnectionPool()
{
    // Every using thread should have released its leases and called
    // closeThreadConnections(); what is left is closed here.
    for (const auto &c : m_all) {
        c->statements.clear();
        c->nativeState.reset();
        c->failedStatement.reset();
        {
            QSqlDatabase db = QSqlDatabase::database(c->name, false);
            db.close();
        }
        QSqlDatabase::removeDatabase(c->name);
    }
}

bool ConnectionPool::open(Connection *connection, QString *error)
{
    QSqlDatabase db = QSqlDatabase::contains(connection->name)
                          ? QSqlDatabase::database(connection->name, false)
                          : QSqlDatabase::addDatabase(m_dialect->qtDriver(), connection->name);
    if (!db.isValid()) {
        *error = QStringLiteral("the Qt SQL driver %1 is not available").arg(m_dialect->qtDriver());
        return false;
    }
    m_dialect->configure(db);
    if (!db.open()) {
        *error = db.lastError().text();
        return false;
    }
    if (!m_dialect->prepareSession(db, error)) {
        db.close();
        return false;
    }
    connection->created = m_clock.now();
    return true;
}

void ConnectionPool::closeConnection(Connection *connection)
{
    const QString name = connection->name;
    connection->statements.clear(); // prepared statements die before their connection
    connection->nativeState.reset();
    connection->failedStatement.reset();
    {
        QSqlDatabase db = QSqlDatabase::database(name, false);
        db.close();
    }
    QSqlDatabase::removeDatabase(name);
    std::lock_guard lock(m_mutex);
    --m_total;
    ++m_counters.closed;
    m_all.erase(std::remove_if(m_all.begin(), m_all.end(),
                               [connection](const auto &c) { return c.get() == connection; }),
                m_all.end());
    updateGauges();
    m_changed.notify_all();
}

Result<ConnectionPool::Lease> ConnectionPool::acquire()
{
    const auto start = m_clock.now();
    const auto deadline = std::chrono::steady_clock::now() + m_options.acquireTimeout;
    QThread *self = QThread::currentThread();
    std::unique_lock lock(m_mutex);
    for (;;) {
        auto &mine = m_idle[self];
        if (!mine.empty()) {
            Connection *c = mine.back();
            mine.pop_back();
            c->inUse = true;
            c->closeRequested = false;
            const auto now = m_clock.now();
            const bool tooOld = now - c->created >= m_options.maxLifetime;
            const bool needsPing = now - c->lastUsed >= m_options.pingAfterIdle;
            lock.unlock();
            if (tooOld) {
                closeConnection(c);
                lock.lock();
                continue;
            }
            if (needsPing) {
                bool alive = false;
                bool reconnected = false;
                {
                    // Scoped: the handles must be gone before the connection may be removed.
                    QSqlDatabase db = QSqlDatabase::database(c->name, false);
                    alive = QSqlQuery(db).exec(m_dialect->pingStatement());
                    if (!alive) {
                        // The server went away (restart, network): reopen once, transparently.
                        db.close();
                        QString error;
                        alive = reconnected = open(c, &error);
                    }
                }
                {
                    std::lock_guard counters(m_mutex);
                    ++m_counters.pings;
                    if (reconnected) {
                        ++m_counters.reconnects;
                        if (m_reconnectCounter)
                            m_reconnectCounter->inc();
                    }
                }
                if (!alive) {
                    closeConnection(c);
                    std::lock_guard counters(m_mutex);
                    ++m_counters.failures;
                    return Error{ErrorCode::Unavailable,
                                 QStringLiteral("the database is unreachable")};
                }
            }
            lock.lock();
            c->acquiredAt = m_clock.now();
            c->leakReported = false;
            ++m_counters.acquired;
            updateGauges();
            if (m_waitHistogram)
                m_waitHistogram->observe(seconds(m_clock.now() - start));
            return Lease(this, c);
        }
        if (m_total < m_options.maxSize) {
            ++m_total;
            auto owned = std::make_unique<Connection>();
            Connection *c = owned.get();
            c->name =
                QStringLiteral("bulwark-pool-%1-%2").arg(quintptr(this), 0, 16).arg(++m_serial);
            c->owner = self;
            c->inUse = true;
            // Set now, under the lock: another thread's leak check reads it while this
            // connection is still being opened.
            c->acquiredAt = c->lastUsed = m_clock.now();
            m_all.push_back(std::move(owned));
            lock.unlock();
            QString error;
            const bool opened = open(c, &error);
            if (!opened) {
                closeConnection(c);
                std::lock_guard counters(m_mutex);
                ++m_counters.failures;
                // The driver's words are for operators (start-up errors, logs); request
                // paths (SqlSession) answer clients without them.
                return Error{ErrorCode::Unavailable,
                             QStringLiteral("the database is unreachable: %1").arg(error)};
            }
            lock.lock();
            c->lastUsed = c->acquiredAt = m_clock.now();
            ++m_counters.created;
            ++m_counters.acquired;
            updateGauges();
            if (m_waitHistogram)
                m_waitHistogram->observe(seconds(m_clock.now() - start));
            return Lease(this, c);
        }
        requestCloseElsewhere(self);
        ++m_pending;
        updateGauges();
        const bool woke = m_changed.wait_until(lock, deadline) == std::cv_status::no_timeout;
        --m_pending;
        updateGauges();
        if (!woke && std::chrono::steady_clock::now() >= deadline) {
            ++m_counters.timeouts;
            if (m_timeoutCounter)
                m_timeoutCounter->inc();
            return Error{ErrorCode::Unavailable,
                         QStringLiteral("no database connection became free within %1 ms")
                             .arg(m_options.acquireTimeout.count())};
        }
    }
}

void ConnectionPool::requestCloseElsewhere(QThread *self)
{
    // At the cap, with this thread's list empty: another thread's idle connection is the
    // capacity we need, but only its owner may close it (Qt's rule). Ask the owner through
    // its event loop; closeConnection() then wakes us. Threads without an event loop
    // (a command's main thread) cannot be asked; their connections go at release.
    for (auto &[owner, list] : m_idle) {
        if (owner == self || list.empty())
            continue;
        Connection *victim = list.front();
        if (victim->closeRequested)
            return; // one request in flight is enough
        QAbstractEventDispatcher *dispatcher = owner->eventDispatcher();
        if (!dispatcher)
            continue;
        victim->closeRequested = true;
        QMetaObject::invokeMethod(
            dispatcher,
            [this, owner = owner, victim] {
                bool stillIdle = false;
                {
                    std::lock_guard lock(m_mutex);
                    auto &idle = m_idle[owner];
                    const auto it = std::find(idle.begin(), idle.end(), victim);
                    // Not found: its owner took it again (acquire clears the flag) or
                    // closed it already; either way nothing to do, and `victim` must not
                    // be touched.
                    if (it != idle.end()) {
                        idle.erase(it);
                        stillIdle = true;
                    }
                }
                if (stillIdle)
                    closeConnection(victim);
            },
            Qt::QueuedConnection);
        return;
    }
}

void ConnectionPool::release(Connection *connection)
{
    std::unique_lock lock(m_mutex);
    connection->inUse = false;
    connection->lastUsed = m_clock.now();
    if (m_pending > 0) {
        // A waiter may be another thread, which cannot use this connection: hand the
        // capacity over by closing it.
        lock.unlock();
        closeConnection(connection);
        return;
    }
    m_idle[connection->owner].push_back(connection);
    updateGauges();
    m_changed.notify_all();
    // Reaping is lazy: a thread checks its own idle connections (and the leak threshold)
    // when it gives a connection back, at most a few times per idle_timeout.
    auto &last = m_lastReap[connection->owner];
    const auto now = m_clock.now();
    if (now - last >= m_options.idleTimeout / 4) {
        last = now;
        lock.unlock();
        reapIdle();
    }
}

void ConnectionPool::discard(Connection *connection)
{
    closeConnection(connection);
}

void ConnectionPool::reapIdle()
{
    QThread *self = QThread::currentThread();
    std::vector<Connection *> expired;
    {
        std::lock_guard lock(m_mutex);
        const auto now = m_clock.now();
        int idleTotal = 0;
        for (const auto &[owner, list] : m_idle)
            idleTotal += int(list.size());
        auto &mine = m_idle[self];
        for (auto it = mine.begin(); it != mine.end();) {
            Connection *c = *it;
            const bool idleTooLong =
                now - c->lastUsed >= m_options.idleTimeout && idleTotal > m_options.minIdle;
            if (idleTooLong || now - c->created >= m_options.maxLifetime) {
                expired.push_back(c);
                it = mine.erase(it);
                --idleTotal;
            } else {
                ++it;
            }
        }
        for (const auto &c : m_all) {
            if (c->inUse && !c->leakReported && now - c->acquiredAt >= m_options.leakThreshold) {
                c->leakReported = true;
                ++m_counters.leaks;
                if (m_leakCounter)
                    m_leakCounter->inc();
                qWarning("database connection %s held for more than %lld ms (possible leak)",
                         qPrintable(c->name), qlonglong(m_options.leakThreshold.count()));
            }
        }
    }
    for (Connection *c : expired)
        closeConnection(c);
}

void ConnectionPool::closeThreadConnections()
{
    std::vector<Connection *> mine;
    {
        std::lock_guard lock(m_mutex);
        mine.swap(m_idle[QThread::currentThread()]);
    }
    for (Connection *c : mine)
        closeConnection(c);
}

PoolStats ConnectionPool::stats() const
{
    std::lock_guard lock(m_mutex);
    PoolStats s = m_counters;
    s.total = m_total;
    for (const auto &[owner, list] : m_idle)
        s.idle += int(list.size());
    s.active = m_total - s.idle;
    s.pending = m_pending;
    return s;
}

std::optional<Histogram::Snapshot> ConnectionPool::acquireWait() const
{
    if (!m_waitHistogram)
        return std::nullopt;
    return m_waitHistogram->snapshot();
}

void ConnectionPool::updateGauges()
{
    if (!m_totalGauge)
        return;
    int idle = 0;
    for (const auto &[owner, list] : m_idle)
        idle += int(list.size());
    m_totalGauge->set(m_total);
    m_idleGauge->set(idle);
    m_activeGauge->set(m_total - idle);
    m_pendingGauge->set(m_pending);
}

ConnectionPool::Lease::Lease(Lease &&other) noexcept
    : m_pool(std::exchange(other.m_pool, nullptr)),
      m_connection(std::exchange(other.m_connection, nullptr))
{
}

ConnectionPool::Lease &ConnectionPool::Lease::operator=(Lease &&other) noexcept
{
    if (this != &other) {
        release();
        m_pool = std::exchange(other.m_pool, nullptr);
        m_connection = std::exchange(other.m_connection, nullptr);
    }
    return *this;
}

ConnectionPool::Lease::~Lease()
{
    release();
}

QSqlDatabase ConnectionPool::Lease::database() const
{
    return m_connection ? QSqlDatabase::database(m_connection->name, false) : QSqlDatabase();
}

QSqlQuery *ConnectionPool::Lease::statement(const QString &sql, bool *cached)
{
    if (!m_connection)
        return nullptr;
    auto &statements = m_connection->statements;
    if (auto it = statements.constFind(sql); it != statements.constEnd()) {
        if (cached)
            *cached = true;
        return it->get();
    }
    if (cached)
        *cached = false;
    if (statements.size() >= kStatementCacheSize)
        statements.clear();
    auto query = std::make_shared<QSqlQuery>(database());
    query->setForwardOnly(true);
    // Numbers as numbers: PostgreSQL's NUMERIC (ROUND() in reports) would come back as text.
    query->setNumericalPrecisionPolicy(QSql::LowPrecisionDouble);
    if (!query->prepare(sql)) {
        // Not cached, but kept alive so that the caller can read lastError().
        m_connection->failedStatement = query;
        return query.get();
    }
    return statements.insert(sql, query)->get();
}

std::shared_ptr<void> &ConnectionPool::Lease::nativeState()
{
    return m_connection->nativeState;
}

void ConnectionPool::Lease::discard()
{
    if (m_pool && m_connection)
        m_pool->discard(m_connection);
    m_pool = nullptr;
    m_connection = nullptr;
}

void ConnectionPool::Lease::release()
{
    if (m_pool && m_connection)
        m_pool->release(m_connection);
    m_pool = nullptr;
    m_connection = nullptr;
}

} // namespace bulwark
