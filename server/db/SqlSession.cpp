// SPDX-License-Identifier: GPL-3.0-or-later
// See SqlSession.h.
#include "SqlSession.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QSqlDriver>
#include <QSqlRecord>
#include <sqlite3.h>

namespace bulwark {

namespace {
bool looksLikeLostConnection(const QSqlError &error)
{
    if (error.type() == QSqlError::ConnectionError)
        return true;
    const QString code = error.nativeErrorCode();
    // PostgreSQL SQLSTATE class 08 (connection exception), 57P01-57P03 (shutdown).
    if (code.startsWith(QLatin1String("08")) || code.startsWith(QLatin1String("57P")))
        return true;
    const QString text = error.text();
    return text.contains(QLatin1String("server closed the connection")) ||
           text.contains(QLatin1String("terminating connection")) ||
           text.contains(QLatin1String("no connection to the server")) ||
           text.contains(QLatin1String("could not connect")) ||
           text.contains(QLatin1String("connection is bad"));
}
} // namespace

SqlSession::SqlSession(ConnectionPool &pool, QueryInsight *insight)
    : m_pool(pool), m_insight(insight)
{
}

SqlSession::~SqlSession()
{
    rollback();
    if (m_broken)
        m_lease.discard();
}

Result<bool> SqlSession::open()
{
    if (m_lease.isValid())
        return true;
    auto lease = m_pool.acquire();
    if (!lease.ok()) {
        // The driver's message names hosts and users: it goes to the log, and the client
        // gets the plain reason (unreachable, or no free connection in time).
        const QString message = lease.error().message;
        if (message.startsWith(QLatin1String("the database is unreachable"))) {
            qWarning("%s", qPrintable(message));
            return Error{ErrorCode::Unavailable, QStringLiteral("the database is unreachable")};
        }
        return lease.error();
    }
    m_lease = std::move(lease.value());
    return true;
}

Error SqlSession::classify(const QSqlError &error, const QString &sql, bool sqlite,
                           bool *connectionLost)
{
    // Constraint and busy errors first: Qt's SQLite driver reports every failed step as a
    // ConnectionError, so the error type alone would call a unique violation a lost
    // connection.
    *connectionLost = false;
    const QString text = error.text();
    const QString code = error.nativeErrorCode();
    if (code == QLatin1String("23505") || text.contains(QLatin1String("UNIQUE constraint failed")))
        return Error{ErrorCode::Conflict,
                     QStringLiteral("a row with the same unique value exists")};
    if (code == QLatin1String("23503") || text.contains(QLatin1String("FOREIGN KEY constraint")))
        return Error{ErrorCode::Unprocessable,
                     QStringLiteral("a referenced row does not exist, or other rows still refer "
                                    "to this one")};
    if (code == QLatin1String("23502") || code == QLatin1String("23514") ||
        text.contains(QLatin1String("NOT NULL constraint failed")) ||
        text.contains(QLatin1String("CHECK constraint failed")))
        return Error{ErrorCode::Unprocessable, QStringLiteral("a value breaks a constraint")};
    // SQLite's codes are numbers (extended result codes); PostgreSQL's are SQLSTATEs, some
    // of which are all digits too ("08006"), so the dialect decides how to read them.
    const int sqliteCode = sqlite ? code.toInt() & 0xff : 0;
    // SQLITE_BUSY / SQLITE_LOCKED past the busy timeout; PostgreSQL serialization failure
    // or deadlock: the client may retry.
    if ((sqlite && (sqliteCode == 5 || sqliteCode == 6)) ||
        text.contains(QLatin1String("database is locked")) ||
        (!sqlite && (code == QLatin1String("40001") || code == QLatin1String("40P01"))))
        return Error{ErrorCode::Unavailable, QStringLiteral("the database is busy; try again")};
    if (sqlite && sqliteCode != 10 && sqliteCode != 14 && sqliteCode != 26) {
        // Any other SQLite failure is about the statement, not the connection.
    } else if (sqlite || looksLikeLostConnection(error)) {
        // SQLITE_IOERR, SQLITE_CANTOPEN, SQLITE_NOTADB; or PostgreSQL gone.
        *connectionLost = true;
        return Error{ErrorCode::Unavailable, QStringLiteral("the database is unreachable")};
    }
    qWarning("SQL failed: %s: %s", qPrintable(QueryInsight::normalise(sql)), qPrintable(text));
    return Error{ErrorCode::Internal, QStringLiteral("a database statement failed")};
}

Error SqlSession::failure(const QSqlError &error, const QString &sql)
{
    bool lost = false;
    Error mapped = classify(error, sql, isSqlite(), &lost);
    if (lost) { // the connection is discarded when the session ends
        m_broken = true;
        m_inTransaction = false;
    }
    return mapped;
}

Result<QSqlQuery *> SqlSession::run(QSqlQuery *query, const QString &sql,
                                    const std::function<void(QSqlQuery &)> &bind)
{
    if (m_broken)
        return Error{ErrorCode::Unavailable, QStringLiteral("the database is unreachable")};
    if (auto opened = open(); !opened.ok())
        return opened.error();
    bool cached = false;
    if (!query)
        query = m_lease.statement(sql, &cached);
    ++m_statements;
    QElapsedTimer timer;
    timer.start();
    bool ok = !query->lastError().isValid() || cached;
    if (ok) {
        query->finish();
        bind(*query);
        ok = query->exec();
    }
    const double ms = double(timer.nsecsElapsed()) / 1e6;
    const qint64 rows = ok && !query->isSelect() ? query->numRowsAffected() : 0;
    bool wantPlan = false;
    if (m_insight)
        wantPlan = m_insight->record(sql, ms, rows, !ok);
    if (!ok) {
        return failure(query->lastError(), sql);
    }
    if (wantPlan &&
        (sql.startsWith(QLatin1String("SELECT")) || sql.startsWith(QLatin1String("WITH"))))
        capturePlan(sql, bind, ms);
    return query;
}

void SqlSession::capturePlan(const QString &sql, const std::function<void(QSqlQuery &)> &bind,
                             double ms)
{
    QSqlQuery explain(m_lease.database());
    QString plan;
    if (explain.prepare(dialect().explainPrefix() + sql)) {
        bind(explain);
        if (explain.exec()) {
            // SQLite: (id, parent, notused, detail); PostgreSQL: one text column.
            const int column = explain.record().count() >= 4 ? 3 : 0;
            QStringList lines;
            while (explain.next())
                lines.append(explain.value(column).toString());
            plan = lines.join(u'\n');
        }
    }
    if (plan.isEmpty())
        plan = QStringLiteral("(plan unavailable)");
    qWarning("slow query (%.1f ms): %s\n%s", ms, qPrintable(QueryInsight::normalise(sql)),
             qPrintable(plan));
    m_insight->addSlow(SlowQuery{sql, ms, QDateTime::currentDateTimeUtc(), plan});
}

Result<QSqlQuery *> SqlSession::exec(const QString &sql, const QVariantList &binds)
{
    return run(nullptr, sql, [&binds](QSqlQuery &q) {
        for (int i = 0; i < binds.size(); ++i)
            q.bindValue(i, binds.at(i));
    });
}

Result<QSqlQuery *> SqlSession::execNamed(const QString &sql, const QVariantHash &binds)
{
    return run(nullptr, sql, [&binds](QSqlQuery &q) {
        for (auto it = binds.begin(); it != binds.end(); ++it)
            q.bindValue(u':' + it.key(), it.value());
    });
}

Result<bool> SqlSession::execUnprepared(const QString &sql)
{
    // Transaction control is run as it is, not prepared: PostgreSQL cannot PREPARE BEGIN or
    // COMMIT (Qt's QPSQL prepares with PREPARE ... AS).
    if (m_broken)
        return Error{ErrorCode::Unavailable, QStringLiteral("the database is unreachable")};
    if (auto opened = open(); !opened.ok())
        return opened.error();
    ++m_statements;
    QElapsedTimer timer;
    timer.start();
    QSqlQuery query(m_lease.database());
    const bool ok = query.exec(sql);
    if (m_insight)
        m_insight->record(sql, double(timer.nsecsElapsed()) / 1e6, 0, !ok);
    if (!ok) {
        return failure(query.lastError(), sql);
    }
    return true;
}

namespace {

// Prepared sqlite3_stmt handles of one connection, by SQL text; finalized when the
// connection closes (the pool drops this state first).
struct SqliteStatements
{
    QHash<QString, sqlite3_stmt *> statements;
    ~SqliteStatements()
    {
        for (sqlite3_stmt *stmt : std::as_const(statements))
            sqlite3_finalize(stmt);
    }
};

bool bindSqlite(sqlite3_stmt *stmt, int index, const QVariant &v)
{
    if (v.isNull())
        return sqlite3_bind_null(stmt, index) == SQLITE_OK;
    switch (v.metaType().id()) {
    case QMetaType::Bool:
    case QMetaType::Int:
    case QMetaType::UInt:
    case QMetaType::LongLong:
    case QMetaType::ULongLong: return sqlite3_bind_int64(stmt, index, v.toLongLong()) == SQLITE_OK;
    case QMetaType::Double:
    case QMetaType::Float: return sqlite3_bind_double(stmt, index, v.toDouble()) == SQLITE_OK;
    default: {
        const QByteArray text = v.toString().toUtf8();
        return sqlite3_bind_text(stmt, index, text.constData(), int(text.size()),
                                 SQLITE_TRANSIENT) == SQLITE_OK;
    }
    }
}

} // namespace

Result<qint64> SqlSession::select(const QString &sql, const QVariantList &binds,
                                  const RowCallback &row)
{
    if (m_broken)
        return Error{ErrorCode::Unavailable, QStringLiteral("the database is unreachable")};
    if (auto opened = open(); !opened.ok())
        return opened.error();
    if (dialect().name() == QLatin1String("sqlite"))
        return selectSqlite(sql, binds, row);
    auto query = exec(sql, binds);
    if (!query.ok())
        return query.error();
    QSqlQuery *q = query.value();
    const int columns = q->record().count();
    QVarLengthArray<SqlCell, 32> cells(columns);
    QVarLengthArray<QByteArray, 32> texts(columns);
    qint64 count = 0;
    while (q->next()) {
        for (int i = 0; i < columns; ++i) {
            const QVariant v = q->value(i);
            SqlCell &cell = cells[i];
            cell = SqlCell{};
            if (v.isNull())
                continue;
            switch (v.metaType().id()) {
            case QMetaType::Bool:
            case QMetaType::Int:
            case QMetaType::UInt:
            case QMetaType::LongLong:
            case QMetaType::ULongLong:
                cell.kind = SqlCell::Kind::Integer;
                cell.integer = v.toLongLong();
                break;
            case QMetaType::Double:
            case QMetaType::Float:
                cell.kind = SqlCell::Kind::Real;
                cell.real = v.toDouble();
                break;
            case QMetaType::QDateTime:
                texts[i] = v.toDateTime().toUTC().toString(Qt::ISODateWithMs).toUtf8();
                cell.kind = SqlCell::Kind::Text;
                cell.text = texts[i];
                break;
            default:
                texts[i] = v.toString().toUtf8();
                cell.kind = SqlCell::Kind::Text;
                cell.text = texts[i];
            }
        }
        ++count;
        if (!row(cells.constData(), columns))
            break;
    }
    q->finish();
    return count;
}

Result<qint64> SqlSession::selectSqlite(const QString &sql, const QVariantList &binds,
                                        const RowCallback &row)
{
    QSqlDatabase db = m_lease.database();
    sqlite3 *handle = *static_cast<sqlite3 *const *>(db.driver()->handle().constData());
    auto &state = m_lease.nativeState();
    if (!state)
        state = std::make_shared<SqliteStatements>();
    auto &statements = static_cast<SqliteStatements *>(state.get())->statements;
    ++m_statements;
    QElapsedTimer timer;
    timer.start();
    sqlite3_stmt *stmt = statements.value(sql);
    if (!stmt) {
        if (statements.size() >= ConnectionPool::kStatementCacheSize) {
            for (sqlite3_stmt *old : std::as_const(statements))
                sqlite3_finalize(old);
            statements.clear();
        }
        const QByteArray utf8 = sql.toUtf8();
        if (sqlite3_prepare_v3(handle, utf8.constData(), int(utf8.size()),
                               SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
            const QSqlError error(QString(), QString::fromUtf8(sqlite3_errmsg(handle)),
                                  QSqlError::StatementError,
                                  QString::number(sqlite3_extended_errcode(handle)));
            if (m_insight)
                m_insight->record(sql, double(timer.nsecsElapsed()) / 1e6, 0, true);
            return failure(error, sql);
        }
        statements.insert(sql, stmt);
    }
    for (int i = 0; i < binds.size(); ++i)
        bindSqlite(stmt, i + 1, binds.at(i));
    const int columns = sqlite3_column_count(stmt);
    QVarLengthArray<SqlCell, 32> cells(columns);
    qint64 count = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        for (int i = 0; i < columns; ++i) {
            SqlCell &cell = cells[i];
            switch (sqlite3_column_type(stmt, i)) {
            case SQLITE_INTEGER:
                cell.kind = SqlCell::Kind::Integer;
                cell.integer = sqlite3_column_int64(stmt, i);
                break;
            case SQLITE_FLOAT:
                cell.kind = SqlCell::Kind::Real;
                cell.real = sqlite3_column_double(stmt, i);
                break;
            case SQLITE_NULL: cell.kind = SqlCell::Kind::Null; break;
            default: {
                const auto *text = reinterpret_cast<const char *>(sqlite3_column_text(stmt, i));
                cell.kind = SqlCell::Kind::Text;
                cell.text = QByteArrayView(text, sqlite3_column_bytes(stmt, i));
            }
            }
        }
        ++count;
        if (!row(cells.constData(), columns)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    // Reset at once: a statement left mid-way would hold SQLite's read snapshot.
    const int errcode = rc == SQLITE_DONE ? SQLITE_OK : sqlite3_extended_errcode(handle);
    const QString message =
        rc == SQLITE_DONE ? QString() : QString::fromUtf8(sqlite3_errmsg(handle));
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    const double ms = double(timer.nsecsElapsed()) / 1e6;
    bool wantPlan = false;
    if (m_insight)
        wantPlan = m_insight->record(sql, ms, count, rc != SQLITE_DONE);
    if (rc != SQLITE_DONE) {
        return failure(
            QSqlError(QString(), message, QSqlError::StatementError, QString::number(errcode)),
            sql);
    }
    if (wantPlan)
        capturePlan(
            sql,
            [&binds](QSqlQuery &q) {
                for (int i = 0; i < binds.size(); ++i)
                    q.bindValue(i, binds.at(i));
            },
            ms);
    return count;
}

Result<bool> SqlSession::beginWrite()
{
    if (auto opened = open(); !opened.ok())
        return opened.error();
    if (dialect().serializesWrites())
        m_writeLock = std::unique_lock(m_pool.writeMutex());
    auto r = execUnprepared(dialect().beginWrite());
    if (!r.ok()) {
        if (m_writeLock.owns_lock())
            m_writeLock.unlock();
        return r.error();
    }
    m_inTransaction = true;
    return true;
}

Result<bool> SqlSession::beginRead()
{
    auto r = execUnprepared(QStringLiteral("BEGIN"));
    if (!r.ok())
        return r.error();
    m_inTransaction = true;
    return true;
}

Result<bool> SqlSession::beginReadOnly()
{
    const bool sqlite = dialect().name() == QLatin1String("sqlite");
    auto r = execUnprepared(sqlite ? QStringLiteral("BEGIN") : QStringLiteral("BEGIN READ ONLY"));
    if (!r.ok())
        return r.error();
    m_inTransaction = true;
    if (sqlite) {
        if (auto on = execUnprepared(QStringLiteral("PRAGMA query_only = ON")); !on.ok()) {
            rollback();
            return on.error();
        }
        m_queryOnly = true;
    }
    return true;
}

Result<bool> SqlSession::commit()
{
    auto r = execUnprepared(QStringLiteral("COMMIT"));
    m_inTransaction = false;
    if (m_writeLock.owns_lock())
        m_writeLock.unlock();
    if (!r.ok()) {
        rollback();
        return r.error();
    }
    const QStringList changed = std::exchange(m_changed, {});
    m_pool.notifyChanged(changed);
    return true;
}

void SqlSession::markChanged(const QString &table)
{
    if (!m_inTransaction) {
        m_pool.notifyChanged({table});
        return;
    }
    if (!m_changed.contains(table))
        m_changed.append(table);
}

void SqlSession::rollback()
{
    if (m_inTransaction && !m_broken) {
        m_inTransaction = false;
        QSqlQuery(m_lease.database()).exec(QStringLiteral("ROLLBACK"));
    }
    if (m_queryOnly && !m_broken) // the connection goes back to the pool writable
        QSqlQuery(m_lease.database()).exec(QStringLiteral("PRAGMA query_only = OFF"));
    m_queryOnly = false;
    m_inTransaction = false;
    m_changed.clear();
    if (m_writeLock.owns_lock())
        m_writeLock.unlock();
}

} // namespace bulwark
