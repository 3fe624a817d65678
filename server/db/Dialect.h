// SPDX-License-Identifier: GPL-3.0-or-later
// What differs between the two databases Bulwark runs on, behind one small interface:
// how a connection is opened and set up, and the few SQL spellings that are not portable.
// SQLite is the embedded default (WAL, busy timeout, synchronous=NORMAL, foreign keys on);
// PostgreSQL (QPSQL) is the choice when several instances share one database.
#pragma once

#include <QSqlDatabase>
#include <QString>
#include <chrono>
#include <memory>

namespace bulwark {

class Dialect
{
public:
    virtual ~Dialect() = default;
    virtual QString name() const = 0;     // "sqlite" or "postgres"
    virtual QString qtDriver() const = 0; // "QSQLITE" or "QPSQL"
    // Sets host, file, options on a connection before open().
    virtual void configure(QSqlDatabase &db) const = 0;
    // Runs per-connection setup after open() (pragmas, session settings).
    virtual bool prepareSession(QSqlDatabase &db, QString *error) const = 0;
    // Starts a transaction that holds the database-wide migration lock until it ends, so
    // that several instances starting together apply each migration once.
    virtual QStringList beginMigrationTransaction() const = 0;
    // A cheap statement that fails when the connection is dead.
    virtual QString pingStatement() const { return QStringLiteral("SELECT 1"); }
    // Column type of an auto-incrementing 64-bit primary key.
    virtual QString autoIncrementKey() const = 0;
    // Whether writers must take turns inside this process before starting a transaction
    // (SQLite has one writer at a time; waiting on a mutex beats spinning on SQLITE_BUSY).
    virtual bool serializesWrites() const { return false; }
    // Starts a write transaction.
    virtual QString beginWrite() const { return QStringLiteral("BEGIN"); }
    // Prefix that turns a statement into its plan, for the slow-query log.
    virtual QString explainPrefix() const = 0;
    virtual QString jsonType() const = 0;
    virtual QString timestampType() const = 0;
};

class SqliteDialect final : public Dialect
{
public:
    SqliteDialect(QString path, std::chrono::milliseconds busyTimeout);
    QString name() const override { return QStringLiteral("sqlite"); }
    QString qtDriver() const override { return QStringLiteral("QSQLITE"); }
    void configure(QSqlDatabase &db) const override;
    bool prepareSession(QSqlDatabase &db, QString *error) const override;
    QStringList beginMigrationTransaction() const override
    {
        return {QStringLiteral("BEGIN IMMEDIATE")}; // takes SQLite's write lock at once
    }
    QString autoIncrementKey() const override
    {
        return QStringLiteral("INTEGER PRIMARY KEY AUTOINCREMENT");
    }
    QString jsonType() const override { return QStringLiteral("TEXT"); }
    QString timestampType() const override { return QStringLiteral("TEXT"); }
    bool serializesWrites() const override { return true; }
    // IMMEDIATE takes the write lock at once, so a transaction never fails half-way on
    // upgrading a read lock.
    QString beginWrite() const override { return QStringLiteral("BEGIN IMMEDIATE"); }
    QString explainPrefix() const override { return QStringLiteral("EXPLAIN QUERY PLAN "); }

private:
    QString m_path;
    std::chrono::milliseconds m_busyTimeout;
};

class PostgresDialect final : public Dialect
{
public:
    struct Params
    {
        QString host = QStringLiteral("127.0.0.1");
        int port = 5432;
        QString database;
        QString user;
        QString password;
        int connectTimeoutSeconds = 5;
    };
    explicit PostgresDialect(Params params);
    QString name() const override { return QStringLiteral("postgres"); }
    QString qtDriver() const override { return QStringLiteral("QPSQL"); }
    void configure(QSqlDatabase &db) const override;
    bool prepareSession(QSqlDatabase &db, QString *error) const override;
    QStringList beginMigrationTransaction() const override
    {
        // A transaction-scoped advisory lock; the number is Bulwark's own ("BLWK").
        return {QStringLiteral("BEGIN"),
                QStringLiteral("SELECT pg_advisory_xact_lock(1112299339)")};
    }
    QString autoIncrementKey() const override { return QStringLiteral("BIGSERIAL PRIMARY KEY"); }
    QString jsonType() const override { return QStringLiteral("JSONB"); }
    QString timestampType() const override { return QStringLiteral("TIMESTAMPTZ"); }
    QString explainPrefix() const override { return QStringLiteral("EXPLAIN "); }

private:
    Params m_params;
};

} // namespace bulwark
