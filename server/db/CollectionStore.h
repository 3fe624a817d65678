// SPDX-License-Identifier: GPL-3.0-or-later
// Reads and writes the rows of the schema's collections: the data API without HTTP.
//
// Every identifier in a request (field in filter, sort, fields; expand name; cursor
// contents) is looked up in the schema and written into SQL only in its schema spelling;
// every value is bound. So request text never becomes SQL text, whatever it contains.
//
// Lists: offset pagination (page/limit, with a COUNT unless skip_total) or keyset
// pagination (cursor): the cursor carries the sort and the last row's sort values, and
// the next page starts with `(sort columns) > (values)`, which an index on the sort
// columns answers without walking the rows before it, at any depth. Every sort ends with
// id, so the order is total and the cursor unambiguous. Keyset sorting is allowed only on
// columns that cannot be NULL (row comparisons with NULL are never true).
// Expansions load each relation with one query for the whole page (`IN (ids)`), never
// one per row.
// Ownership: in an owned collection a non-admin principal sees and writes only rows whose
// owner field is their user id: the condition is part of every statement (lists, counts,
// single rows, expansions, updates, deletes), and a reference written by a non-admin must
// point at a row that they may see.
// Rows are serialised straight to JSON bytes (JsonWriter), in the schema's field types.
#pragma once

#include "CollectionSchema.h"
#include "FilterExpression.h"
#include "Principal.h"
#include "SqlSession.h"

#include <QByteArray>
#include <QJsonArray>
#include <QJsonObject>
#include <optional>

namespace bulwark {

class JsonWriter;

struct ListParams
{
    QString filter;
    QString sort;
    QString fields;
    QString expand;
    std::optional<QString> cursor; // set (possibly empty): keyset pagination
    int page = 1;
    int limit = 20;
    bool skipTotal = false;
};

struct StoreLimits
{
    int maxLimit = 1000;        // largest page
    int maxExpandRows = 10'000; // rows one expansion may load for a page
    int maxBatch = 1000;        // operations in one batch
};

class CollectionStore
{
public:
    CollectionStore(const CollectionSchema &schema, StoreLimits limits);

    // JSON bodies, ready to send.
    Result<QByteArray> list(SqlSession &sql, const CollectionDef &c, const ListParams &params,
                            const Principal &who) const;
    // NotFound when the row does not exist or is not visible to `who`.
    Result<QByteArray> get(SqlSession &sql, const CollectionDef &c, qint64 id,
                           const QString &fields, const QString &expand,
                           const Principal &who) const;

    struct Written
    {
        qint64 id = 0;
        QByteArray body; // the row as GET /{id} shows it (empty when not asked for)
    };
    enum class WriteMode
    {
        Create,
        Patch,  // only the fields given change
        Replace // fields not given become their default or NULL
    };
    // `ifMatch`: an ETag the current row must have (412 otherwise); "*" matches any row.
    Result<Written> write(SqlSession &sql, const CollectionDef &c, WriteMode mode, qint64 id,
                          const QJsonObject &body, const Principal &who, const QByteArray &ifMatch,
                          bool returnRow) const;
    Result<bool> remove(SqlSession &sql, const CollectionDef &c, qint64 id, const Principal &who,
                        const QByteArray &ifMatch) const;

    // All operations in one transaction; on the first failure everything is rolled back
    // and the error names the operation: details {index, operation: {code, message, ...}}.
    Result<QByteArray> batch(SqlSession &sql, const QJsonArray &operations,
                             const Principal &who) const;

    // Every row `userId` owns, collection by collection, as one JSON object member each.
    Result<bool> exportOwned(SqlSession &sql, qint64 userId, JsonWriter &out) const;
    // Deletes every row `userId` owns, children before parents. Call inside a write
    // transaction. Returns rows deleted per collection.
    Result<QJsonObject> deleteOwned(SqlSession &sql, qint64 userId) const;

    // Strong validator of a representation: FNV-1a 64 of the bytes, quoted.
    static QByteArray etag(QByteArrayView body);
    // Whether an If-Match / If-None-Match list ("a", "b" or *) names `tag`. `weak`: the
    // weak comparison of If-None-Match (W/"x" matches "x"); If-Match compares strongly.
    static bool etagMatches(const QByteArray &header, const QByteArray &tag, bool weak);
    const CollectionSchema &schema() const { return m_schema; }
    const StoreLimits &limits() const { return m_limits; }

private:
    struct Column
    {
        QString name;
        FieldType type;
        bool notNull;
    };
    struct Selection;
    struct Relation;

    QList<Column> columns(const CollectionDef &c) const;
    Result<Selection> select(const CollectionDef &c, const QString &fields,
                             const QString &expand) const;
    Result<bool> writeRows(SqlSession &sql, const CollectionDef &c, const Selection &selection,
                           const QString &where, const QVariantList &binds, const QString &tail,
                           int maxRows, const Principal &who, JsonWriter &out,
                           QList<QVariantList> *lastSortValues, const QStringList &sortColumns,
                           bool *more) const;
    Result<bool> ownerCheck(SqlSession &sql, const FieldDef &reference, const QVariant &id,
                            const Principal &who) const;
    Result<QByteArray> currentRow(SqlSession &sql, const CollectionDef &c, qint64 id,
                                  const Principal &who) const;

    const CollectionSchema &m_schema;
    StoreLimits m_limits;
};

} // namespace bulwark
