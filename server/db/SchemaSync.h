// SPDX-License-Identifier: GPL-3.0-or-later
// Brings the database's collection tables in line with the schema file, at start.
//
// What was applied last is recorded per collection (table collection_definitions, as the
// canonical JSON of its definition), so the next start can tell the file's changes apart
// without reading each database's catalogue in its own way:
//   - new collection       -> CREATE TABLE and its indexes
//   - new field            -> ALTER TABLE ADD COLUMN (a required field needs a default,
//                             because existing rows must get a value)
//   - new / changed index  -> CREATE INDEX (after dropping the old one of that name)
//   - removed index        -> DROP INDEX
//   - removed or changed field, removed collection -> destructive: refused with a message
//     naming each change, unless allowDestructive (then DROP COLUMN + ADD COLUMN for a
//     changed field, DROP COLUMN, DROP TABLE; the data in them is lost).
// Everything runs in one transaction under the database-wide migration lock, so several
// instances starting together apply the plan once, and a failed step leaves nothing half
// done. Unique fields become unique indexes (not column constraints), so that they can be
// dropped like any index.
#pragma once

#include "CollectionSchema.h"
#include "Dialect.h"
#include "Error.h"

#include <QJsonObject>
#include <QSqlDatabase>

namespace bulwark {

class SchemaSync
{
public:
    SchemaSync(const Dialect &dialect, const CollectionSchema &schema);

    struct Outcome
    {
        QStringList applied; // human-readable, one line per change
    };
    Result<Outcome> apply(QSqlDatabase &db, bool allowDestructive) const;

    // The canonical form recorded for a collection (exposed for tests).
    static QJsonObject definitionJson(const CollectionDef &collection);
    // The column type for a field on this dialect.
    QString columnType(FieldType type) const;

private:
    QString columnDefinition(const FieldDef &field, bool forAlter) const;
    QStringList createTable(const CollectionDef &c) const;
    QStringList createIndex(const CollectionDef &c, const IndexDef &index) const;

    const Dialect &m_dialect;
    const CollectionSchema &m_schema;
};

// Double-quoted SQL identifier. Identifiers come from the schema file, which only allows
// [a-z0-9_] names; quoting keeps words like "order" or "group" usable as field names.
inline QString quoteIdentifier(const QString &name)
{
    return u'"' + name + u'"';
}

} // namespace bulwark
