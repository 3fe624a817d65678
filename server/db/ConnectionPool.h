// SPDX-License-Identifier: GPL-3.0-or-later
// Database connection pool with HikariCP's settings, shaped by one Qt rule: a QSqlDatabase
// connection may only be used in the thread that opened it. So every connection belongs to
// the thread that created it; idle connections wait on their owner thread's list, and one
// global count enforces max_size across all threads.
//
// acquire(): reuse an idle connection of this thread (closing it if past max_lifetime,
// pinging it first if idle longer than ping_after_idle and reconnecting once if the ping
// fails), else open a new one while under max_size, else wait up to acquire_timeout and
// fail with ErrorCode::Unavailable (503 with Retry-After at the HTTP layer). A thread that
// waits at the cap while another thread holds an idle connection asks that thread, through
// its event loop, to close it, so max_size below the number of threads still serves every
// thread (at the price of reconnects). release(): when
// threads are waiting, the connection is closed instead of kept idle, because a waiter in
// another thread could not use it; this frees capacity at the price of a reconnect, and
// does not happen when max_size covers the threads that use the pool (the normal setup:
// one connection per HTTP and job worker). reapIdle() closes this thread's connections idle
// past idle_timeout (keeping min_idle overall) and reports leases held past
// leak_threshold; release() calls it for the releasing thread a few times per idle_timeout.
//
// Time comes from an injectable Clock so lifetimes and idle limits are tested without sleeping.
#pragma once

#include "Clock.h"
#include "Dialect.h"
#include "Error.h"
#include "Metrics.h"

#include <QHash>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QThread>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

namespace bulwark {

struct PoolOptions
{
    int maxSize = 16;
    int minIdle = 0;
    std::chrono::milliseconds acquireTimeout{5000};
    std::chrono::milliseconds idleTimeout{600'000};
    std::chrono::milliseconds maxLifetime{1'800'000};
    std::chrono::milliseconds pingAfterIdle{30'000};
    std::chrono::milliseconds leakThreshold{60'000};
};

struct PoolStats
{
    int total = 0;
    int idle = 0;
    int active = 0;
    int pending = 0;
    quint64 created = 0;
    quint64 closed = 0;
    quint64 acquired = 0;
    quint64 timeouts = 0;
    quint64 failures = 0;   // the database could not be reached
    quint64 reconnects = 0; // a dead idle connection was reopened transparently
    quint64 pings = 0;
    quint64 leaks = 0; // leases seen held past leak_threshold
};

class ConnectionPool
{
    struct Connection;

public:
    // Prepared statements kept per connection (the cache is emptied when full).
    static constexpr int kStatementCacheSize = 256;

    ConnectionPool(std::shared_ptr<const Dialect> dialect, PoolOptions options, const Clock &clock,
                   MetricsRegistry *metrics = nullptr);
    ~ConnectionPool();
    Q_DISABLE_COPY_MOVE(ConnectionPool)

    // A connection on loan to the calling thread; returned to the pool when destroyed. Use
    // it, and let it go, only in the thread that acquired it.
    class Lease
    {
    public:
        Lease() = default;
        Lease(Lease &&other) noexcept;
        Lease &operator=(Lease &&other) noexcept;
        ~Lease();
        QSqlDatabase database() const;
        bool isValid() const { return m_connection != nullptr; }
        void release();
        // Closes the connection instead of returning it, after an error that means it is
        // broken (QSqlError::ConnectionError, a failed ping): the next acquire opens a
        // fresh one.
        void discard();
        // A statement prepared once per connection and kept for its lifetime (bounded:
        // the cache is emptied when it reaches kStatementCacheSize). Preparing costs about
        // as much as running a small indexed query on SQLite, so the hot statements of the
        // data API are prepared once, not per request. `*cached` tells whether it was.
        // When preparing fails, the query returned is not cached and has lastError() set
        // (query->isValid()/lastError().isValid() tell).
        QSqlQuery *statement(const QString &sql, bool *cached = nullptr);
        // Per-connection state of code that talks to the driver's native handle (SqlSession's
        // SQLite statement cache). Released before the connection closes.
        std::shared_ptr<void> &nativeState();

    private:
        friend class ConnectionPool;
        Lease(ConnectionPool *pool, Connection *connection) : m_pool(pool), m_connection(connection)
        {
        }
        ConnectionPool *m_pool = nullptr;
        Connection *m_connection = nullptr;
    };

    Result<Lease> acquire();
    // Closes this thread's connections idle past idle_timeout (keeping min_idle overall) and
    // counts and logs leases held past leak_threshold. Call it from each using thread.
    void reapIdle();
    // Closes every idle connection of the calling thread (before the thread ends).
    void closeThreadConnections();
    PoolStats stats() const;
    // Time threads waited in acquire() (only when built with a MetricsRegistry).
    std::optional<Histogram::Snapshot> acquireWait() const;
    // Taken by SqlSession around write transactions when the dialect serialises writes.
    std::mutex &writeMutex() { return m_writeMutex; }

    // Told, after each successful commit, which tables the transaction changed (SqlSession::
    // markChanged); the response cache invalidates what depends on them. Set once, before
    // the pool is used by other threads.
    using ChangeListener = std::function<void(const QStringList &tables)>;
    void setChangeListener(ChangeListener listener) { m_changeListener = std::move(listener); }
    void notifyChanged(const QStringList &tables) const
    {
        if (m_changeListener && !tables.isEmpty())
            m_changeListener(tables);
    }
    const Dialect &dialect() const { return *m_dialect; }

private:
    struct Connection
    {
        QString name;                                          // QSqlDatabase connection name
        QHash<QString, std::shared_ptr<QSqlQuery>> statements; // used by the owner thread only
        std::shared_ptr<QSqlQuery> failedStatement;
        std::shared_ptr<void> nativeState;
        QThread *owner = nullptr;
        std::chrono::steady_clock::time_point created;
        std::chrono::steady_clock::time_point lastUsed;
        std::chrono::steady_clock::time_point acquiredAt;
        bool inUse = false;
        bool leakReported = false;
        bool closeRequested = false; // a waiter asked its owner to close it
    };

    void release(Connection *connection);
    void requestCloseElsewhere(QThread *self); // with m_mutex held
    void discard(Connection *connection);
    bool open(Connection *connection, QString *error);
    void closeConnection(Connection *connection); // in the owner thread, without the lock held
    void updateGauges();

    std::shared_ptr<const Dialect> m_dialect;
    PoolOptions m_options;
    const Clock &m_clock;
    mutable std::mutex m_mutex;
    std::mutex m_writeMutex;
    ChangeListener m_changeListener;
    std::condition_variable m_changed;
    std::unordered_map<QThread *, std::vector<Connection *>> m_idle; // by owner
    std::unordered_map<QThread *, std::chrono::steady_clock::time_point> m_lastReap;
    std::vector<std::unique_ptr<Connection>> m_all;
    int m_total = 0;   // open or being opened
    int m_pending = 0; // threads waiting in acquire()
    quint64 m_serial = 0;
    PoolStats m_counters;

    Gauge *m_totalGauge = nullptr;
    Gauge *m_idleGauge = nullptr;
    Gauge *m_activeGauge = nullptr;
    Gauge *m_pendingGauge = nullptr;
    Counter *m_timeoutCounter = nullptr;
    Counter *m_reconnectCounter = nullptr;
    Counter *m_leakCounter = nullptr;
    Histogram *m_waitHistogram = nullptr;
};

} // namespace bulwark
