// SPDX-License-Identifier: GPL-3.0-or-later
// The schema file: which collections the data API serves, their typed fields, references,
// owner field and indexes, and the named read-only reports. It is JSON (with // and /* */
// comments, like the config file) and is loaded once at start; every identifier a request
// may use (collection, field, sort key, expand name, report parameter) is checked against
// it, so request text never reaches SQL text.
//
// A collection becomes a table of the same name with an `id` primary key, `created_at` and
// `updated_at` columns that Bulwark maintains, and one column per field. The owner field,
// when declared, is an integer column referencing the internal `users` table: rows of such
// a collection are visible and writable only by their owner (and by admins).
//
// Errors: a syntax error is "file:line:column: message"; a semantic one names the path in
// the document, "file: collections.activities.fields.sport.type: unknown type \"txt\"".
#pragma once

#include "Error.h"

#include <QHash>
#include <QJsonValue>
#include <QList>
#include <QString>
#include <QStringList>
#include <optional>

namespace bulwark {

enum class FieldType
{
    Text,
    Integer,
    Real,
    Boolean,
    DateTime, // ISO 8601 in UTC, stored as text on SQLite and TIMESTAMPTZ on PostgreSQL
    Json
};
QString fieldTypeName(FieldType type);

// A datetime value in the one form Bulwark stores and compares (UTC, milliseconds, "Z":
// on SQLite the text order is then the time order); input may be any ISO 8601 form, and
// no offset means UTC. nullopt when it is not a date and time.
std::optional<QString> normaliseDateTime(const QString &text);

enum class OnDelete
{
    Cascade,
    SetNull,
    Restrict
};
QString onDeleteName(OnDelete action);

struct FieldDef
{
    QString name;
    FieldType type = FieldType::Text;
    bool required = false;
    bool unique = false;
    QJsonValue defaultValue{QJsonValue::Undefined}; // Undefined: none
    QString references; // target collection ("users" for the owner), empty: none
    OnDelete onDelete = OnDelete::Restrict;
    std::optional<double> min; // numbers: value bounds; text: length bounds
    std::optional<double> max;
    QStringList choices; // text: allowed values, empty: any
    bool isOwner = false;
};

struct IndexDef
{
    QString name; // generated when the file gives none: <table>_<field>_<field>
    QStringList fields;
    bool unique = false;
};

struct CollectionDef
{
    QString name;
    QList<FieldDef> fields; // declared order; id/created_at/updated_at are implicit
    QString ownerField;     // empty: not owned
    QList<IndexDef> indexes;
    // Sort used when a request gives none, and the tie-breaker of every sort: id.
    QString defaultSort = QStringLiteral("-id");

    const FieldDef *field(QStringView name) const;
    bool hasColumn(QStringView name) const; // a field or one of id/created_at/updated_at
};

struct ReportParam
{
    QString name;
    FieldType type = FieldType::Text;
    bool required = true;
    QJsonValue defaultValue{QJsonValue::Undefined};
};

struct ReportDef
{
    QString name;
    QString description;
    QList<ReportParam> params;
    QStringList dependsOn;    // collections whose writes change the result (for the cache)
    bool ownerScoped = false; // the SQL uses :owner (the caller's user id)
};

class CollectionSchema
{
public:
    // The file's bytes are parsed; `origin` names it in errors.
    static Result<CollectionSchema, QStringList> parse(const QByteArray &json,
                                                       const QString &origin);
    static Result<CollectionSchema, QStringList> load(const QString &path);

    const QList<CollectionDef> &collections() const { return m_collections; }
    const QList<ReportDef> &reports() const { return m_reports; }
    const CollectionDef *collection(QStringView name) const;
    const ReportDef *report(QStringView name) const;
    // The report's read-only SQL for a dialect ("sqlite" or "postgres"); parameters are
    // written as :name, and :owner is the caller's user id.
    QString reportSql(const QString &report, const QString &dialect) const;

    // A back-reference: `collection.field` references the named collection.
    struct BackReference
    {
        QString collection;
        QString field;
    };
    // Collections that point at `target`, keyed by the child collection name (the name
    // under which `expand` exposes them, e.g. activities -> splits).
    QList<BackReference> backReferences(QStringView target) const;
    // Collections in an order where each comes after those it references.
    QStringList dependencyOrder() const;
    // Collections whose rows change when rows of `collection` are deleted: itself, the
    // children its on_delete cascade removes (and theirs), and those it sets to null.
    QStringList changedByDelete(const QString &collection) const;

private:
    QList<CollectionDef> m_collections;
    QList<ReportDef> m_reports;
    QHash<QString, QHash<QString, QString>> m_reportSql; // report -> dialect -> SQL
};

} // namespace bulwark
