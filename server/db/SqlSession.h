// SPDX-License-Identifier: GPL-3.0-or-later
// The one place the data API's statements run: a session wraps a pool lease for the
// length of a request (one thread), prepares each statement once per connection (the
// lease's statement cache), binds every value, times and counts the statement in
// QueryInsight, captures the plan of a slow one, and turns driver errors into Bulwark's
// error vocabulary:
//   - the connection is gone (server restarted, network) -> Unavailable, and the
//     connection is discarded so the next request opens a fresh one;
//   - SQLite busy past its timeout -> Unavailable (the client may retry);
//   - unique violation -> Conflict; foreign key / not null / check -> Unprocessable;
//   - anything else -> Internal (logged with the SQL, never sent to the client).
// Write transactions on SQLite first take a process-wide mutex (the pool's write lock):
// SQLite allows one writer at a time, and queueing on a mutex is cheaper and fairer than
// every writer spinning on SQLITE_BUSY. Readers never take it: WAL lets them read while a
// write is in progress.
#pragma once

#include "ConnectionPool.h"
#include "Error.h"
#include "QueryInsight.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>
#include <mutex>

namespace bulwark {

// One value of a result row, as the database gave it: no QVariant, and text as UTF-8 bytes
// that stay valid only during the row callback.
struct SqlCell
{
    enum class Kind
    {
        Null,
        Integer,
        Real,
        Text
    };
    Kind kind = Kind::Null;
    qint64 integer = 0;
    double real = 0;
    QByteArrayView text;

    // The cell as a value of the column's type, whatever the driver returned it as (SQLite
    // and PostgreSQL differ): NULL reads as an empty string, 0 or an empty object.
    QString toText() const { return kind == Kind::Null ? QString() : QString::fromUtf8(text); }
    qint64 toInteger() const
    {
        switch (kind) {
        case Kind::Integer: return integer;
        case Kind::Real: return qint64(real);
        case Kind::Text: return QByteArray(text.data(), text.size()).toLongLong();
        case Kind::Null: return 0;
        }
        return 0;
    }
    double toReal() const
    {
        if (kind == Kind::Real)
            return real;
        if (kind == Kind::Text)
            return QByteArray(text.data(), text.size()).toDouble();
        return double(toInteger());
    }
    // A JSON object stored as text; anything else is an empty object.
    QJsonObject toJsonObject() const
    {
        if (kind != Kind::Text || text.isEmpty())
            return {};
        return QJsonDocument::fromJson(QByteArray(text.data(), text.size())).object();
    }
};

// A JSON object as the compact text a column stores.
inline QString jsonColumnText(const QJsonObject &o)
{
    return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact));
}

class SqlSession
{
public:
    SqlSession(ConnectionPool &pool, QueryInsight *insight);
    ~SqlSession();
    Q_DISABLE_COPY_MOVE(SqlSession)

    // Acquires the connection (once); Unavailable after acquire_timeout or when the
    // database cannot be reached.
    Result<bool> open();

    // Runs a statement with positional (?) parameters. On success the returned query is
    // positioned before its first row; it stays valid until the next exec of the same SQL.
    Result<QSqlQuery *> exec(const QString &sql, const QVariantList &binds = {});
    // Runs a SELECT and hands each row to `row` (return false to stop early). On SQLite it
    // steps the statement through SQLite's own API: no QVariant per value, and text stays
    // the UTF-8 SQLite stores (Qt's driver converts every text value to UTF-16 and back);
    // lists of 50 rows spent most of their time there (callgrind). Other databases go
    // through QSqlQuery and are converted to cells. Returns the rows handed over.
    using RowCallback = std::function<bool(const SqlCell *cells, int count)>;
    Result<qint64> select(const QString &sql, const QVariantList &binds, const RowCallback &row);

    // The same with named (:name) parameters.
    Result<QSqlQuery *> execNamed(const QString &sql, const QVariantHash &binds);

    // Runs a statement as it is, without preparing or binding: for what PostgreSQL cannot
    // PREPARE (BEGIN, COMMIT, ANALYZE, VACUUM, SET). Never pass request data here.
    Result<bool> execUnprepared(const QString &sql);

    // Write transaction: serialised per process on SQLite (see above).
    Result<bool> beginWrite();
    Result<bool> beginRead();
    // A transaction in which writes fail (PostgreSQL: BEGIN READ ONLY; SQLite: PRAGMA
    // query_only for its length): reports run in one, so schema-file SQL cannot change data
    // even if it tries (WITH ... DELETE ... RETURNING passes a textual check). End it with
    // rollback().
    Result<bool> beginReadOnly();
    Result<bool> commit();
    void rollback(); // no-op outside a transaction
    bool inTransaction() const { return m_inTransaction; }
    // Records that this session's transaction changes `table`; the pool's change listener
    // hears of it once the transaction commits (at once outside a transaction), and never
    // if it rolls back.
    void markChanged(const QString &table);

    int statementCount() const { return m_statements; }
    const Dialect &dialect() const { return m_pool.dialect(); }
    bool isSqlite() const { return m_pool.dialect().name() == QLatin1String("sqlite"); }
    QSqlDatabase database() const { return m_lease.database(); }

    // Maps a driver error to Bulwark's error (see above); exposed for tests.
    static Error classify(const QSqlError &error, const QString &sql, bool sqlite,
                          bool *connectionLost);

private:
    // classify(), and a lost connection marks the session broken.
    Error failure(const QSqlError &error, const QString &sql);
    Result<qint64> selectSqlite(const QString &sql, const QVariantList &binds,
                                const RowCallback &row);
    Result<QSqlQuery *> run(QSqlQuery *query, const QString &sql,
                            const std::function<void(QSqlQuery &)> &bind);
    void capturePlan(const QString &sql, const std::function<void(QSqlQuery &)> &bind, double ms);

    ConnectionPool &m_pool;
    QueryInsight *m_insight;
    ConnectionPool::Lease m_lease;
    std::unique_lock<std::mutex> m_writeLock;
    bool m_inTransaction = false;
    bool m_queryOnly = false; // SQLite's query_only pragma is on for this connection
    bool m_broken = false;
    int m_statements = 0;
    QStringList m_changed;
};

// Runs `body` (returning Result<T>) in one write transaction: committed when it succeeds,
// rolled back when it returns an error. The stores' way of making several statements one.
template <typename T, typename Body> Result<T> inWriteTransaction(SqlSession &sql, Body body)
{
    if (auto begun = sql.beginWrite(); !begun.ok())
        return begun.error();
    Result<T> outcome = body();
    if (!outcome.ok()) {
        sql.rollback();
        return outcome;
    }
    if (auto committed = sql.commit(); !committed.ok())
        return committed.error();
    return outcome;
}

} // namespace bulwark
