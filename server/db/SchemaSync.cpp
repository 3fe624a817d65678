// SPDX-License-Identifier: GPL-3.0-or-later
// See SchemaSync.h.
#include "SchemaSync.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSqlError>
#include <QSqlQuery>

namespace bulwark {

namespace {

QString sqlLiteral(const FieldDef &field, const QJsonValue &value)
{
    switch (field.type) {
    case FieldType::Integer: return QString::number(qint64(value.toDouble()));
    case FieldType::Real: return QString::number(value.toDouble(), 'g', 17);
    case FieldType::Boolean:
        return value.toBool() ? QStringLiteral("TRUE") : QStringLiteral("FALSE");
    case FieldType::Json: {
        const QString text =
            value.isString()
                ? value.toString()
                : QString::fromUtf8(
                      QJsonDocument::fromVariant(value.toVariant()).toJson(QJsonDocument::Compact));
        return u'\'' + QString(text).replace(u'\'', QStringLiteral("''")) + u'\'';
    }
    case FieldType::Text:
    case FieldType::DateTime:
        return u'\'' + value.toString().replace(u'\'', QStringLiteral("''")) + u'\'';
    }
    return QStringLiteral("NULL");
}

QJsonObject fieldJson(const FieldDef &f)
{
    QJsonObject o{{QStringLiteral("type"), fieldTypeName(f.type)},
                  {QStringLiteral("required"), f.required},
                  {QStringLiteral("unique"), f.unique}};
    if (!f.defaultValue.isUndefined())
        o.insert(QStringLiteral("default"), f.defaultValue);
    if (!f.references.isEmpty()) {
        o.insert(QStringLiteral("references"), f.references);
        o.insert(QStringLiteral("on_delete"), onDeleteName(f.onDelete));
    }
    return o;
}

// Whether two recorded fields give the same column. Only type, NOT NULL and the reference
// live in the column: bounds and choices are checked by Bulwark, a default is applied by
// Bulwark on insert (the DDL default only fills existing rows when a column is added), and
// unique is an index of its own, compared with the indexes.
bool sameColumn(const QJsonObject &a, const QJsonObject &b)
{
    for (const char *key : {"type", "required", "references", "on_delete"})
        if (a.value(QLatin1String(key)) != b.value(QLatin1String(key)))
            return false;
    return true;
}

} // namespace

SchemaSync::SchemaSync(const Dialect &dialect, const CollectionSchema &schema)
    : m_dialect(dialect), m_schema(schema)
{
}

QJsonObject SchemaSync::definitionJson(const CollectionDef &c)
{
    QJsonObject fields;
    for (const FieldDef &f : c.fields)
        fields.insert(f.name, fieldJson(f));
    QJsonObject indexes;
    for (const IndexDef &i : c.indexes)
        indexes.insert(i.name,
                       QJsonObject{{QStringLiteral("fields"), QJsonArray::fromStringList(i.fields)},
                                   {QStringLiteral("unique"), i.unique}});
    return QJsonObject{{QStringLiteral("fields"), fields}, {QStringLiteral("indexes"), indexes}};
}

QString SchemaSync::columnType(FieldType type) const
{
    switch (type) {
    case FieldType::Text: return QStringLiteral("TEXT");
    case FieldType::Integer: return QStringLiteral("BIGINT");
    case FieldType::Real: return QStringLiteral("DOUBLE PRECISION");
    case FieldType::Boolean: return QStringLiteral("BOOLEAN");
    case FieldType::DateTime: return m_dialect.timestampType();
    case FieldType::Json: return m_dialect.jsonType();
    }
    return QStringLiteral("TEXT");
}

QString SchemaSync::columnDefinition(const FieldDef &f, bool forAlter) const
{
    QString sql = quoteIdentifier(f.name) + u' ' + columnType(f.type);
    if (f.required)
        sql += QStringLiteral(" NOT NULL");
    if (!f.defaultValue.isUndefined())
        sql += QStringLiteral(" DEFAULT ") + sqlLiteral(f, f.defaultValue);
    if (!f.references.isEmpty()) {
        // SQLite cannot add a column with a REFERENCES clause and a non-NULL default; the
        // reference is still enforced for rows Bulwark writes because every write checks
        // the target exists through the constraint on tables created with it.
        if (!forAlter || m_dialect.name() != QLatin1String("sqlite") ||
            f.defaultValue.isUndefined())
            sql += QStringLiteral(" REFERENCES %1 (\"id\") ON DELETE %2")
                       .arg(quoteIdentifier(f.references),
                            f.onDelete == OnDelete::Cascade   ? QStringLiteral("CASCADE")
                            : f.onDelete == OnDelete::SetNull ? QStringLiteral("SET NULL")
                                                              : QStringLiteral("RESTRICT"));
    }
    return sql;
}

QStringList SchemaSync::createIndex(const CollectionDef &c, const IndexDef &index) const
{
    QStringList columns;
    for (const QString &f : index.fields)
        columns.append(quoteIdentifier(f));
    return {QStringLiteral("CREATE %1INDEX %2 ON %3 (%4)")
                .arg(index.unique ? QStringLiteral("UNIQUE ") : QString(),
                     quoteIdentifier(index.name), quoteIdentifier(c.name),
                     columns.join(QStringLiteral(", ")))};
}

QStringList SchemaSync::createTable(const CollectionDef &c) const
{
    QStringList columns{
        QStringLiteral("\"id\" ") + m_dialect.autoIncrementKey(),
        QStringLiteral("\"created_at\" %1 NOT NULL").arg(m_dialect.timestampType()),
        QStringLiteral("\"updated_at\" %1 NOT NULL").arg(m_dialect.timestampType())};
    for (const FieldDef &f : c.fields)
        columns.append(columnDefinition(f, false));
    QStringList statements{QStringLiteral("CREATE TABLE %1 (%2)")
                               .arg(quoteIdentifier(c.name), columns.join(QStringLiteral(", ")))};
    return statements;
}

namespace {
// Unique fields are unique indexes named <table>_<field>_key.
QList<IndexDef> allIndexes(const CollectionDef &c)
{
    QList<IndexDef> indexes = c.indexes;
    for (const FieldDef &f : c.fields)
        if (f.unique)
            indexes.append({c.name + u'_' + f.name + QStringLiteral("_key"), {f.name}, true});
    return indexes;
}
} // namespace

Result<SchemaSync::Outcome> SchemaSync::apply(QSqlDatabase &db, bool allowDestructive) const
{
    QSqlQuery q(db);
    auto fail = [&q](const QString &what) -> Error {
        const QString message = QStringLiteral("%1: %2").arg(what, q.lastError().text());
        q.exec(QStringLiteral("ROLLBACK"));
        return Error{ErrorCode::Internal, message};
    };
    for (const QString &sql : m_dialect.beginMigrationTransaction())
        if (!q.exec(sql))
            return fail(sql);

    QHash<QString, QJsonObject> recorded;
    if (!q.exec(QStringLiteral("SELECT name, definition FROM collection_definitions")))
        return fail(QStringLiteral("reading collection_definitions"));
    while (q.next())
        recorded.insert(q.value(0).toString(),
                        QJsonDocument::fromJson(q.value(1).toString().toUtf8()).object());

    Outcome outcome;
    QStringList statements;
    QStringList destructive; // what would be refused
    // Parents before children: a table's REFERENCES need the referenced table to exist.
    for (const QString &name : m_schema.dependencyOrder()) {
        const CollectionDef &c = *m_schema.collection(name);
        const QJsonObject wanted = definitionJson(c);
        const auto wantedIndexes = allIndexes(c);
        if (!recorded.contains(c.name)) {
            if (db.tables().contains(c.name)) {
                q.exec(QStringLiteral("ROLLBACK"));
                return Error{ErrorCode::Internal,
                             QStringLiteral("collection %1: a table of that name exists but was "
                                            "not created by Bulwark; rename the collection or the "
                                            "table")
                                 .arg(c.name)};
            }
            statements += createTable(c);
            for (const IndexDef &i : wantedIndexes)
                statements += createIndex(c, i);
            outcome.applied.append(QStringLiteral("created collection %1").arg(c.name));
            continue;
        }
        const QJsonObject had = recorded.value(c.name);
        const QJsonObject hadFields = had.value(QStringLiteral("fields")).toObject();
        const QJsonObject hadIndexes = had.value(QStringLiteral("indexes")).toObject();
        const QJsonObject wantFields = wanted.value(QStringLiteral("fields")).toObject();
        // Indexes that touch a column about to be dropped go first.
        QSet<QString> droppedColumns;
        for (auto it = hadFields.begin(); it != hadFields.end(); ++it) {
            if (!wantFields.contains(it.key())) {
                destructive.append(QStringLiteral("%1.%2: field removed (its data would be lost)")
                                       .arg(c.name, it.key()));
                droppedColumns.insert(it.key());
            } else if (!sameColumn(it.value().toObject(), wantFields.value(it.key()).toObject())) {
                destructive.append(
                    QStringLiteral("%1.%2: field changed from %3 to %4 (the column would be "
                                   "dropped and re-created empty)")
                        .arg(c.name, it.key(),
                             QString::fromUtf8(QJsonDocument(it.value().toObject())
                                                   .toJson(QJsonDocument::Compact)),
                             QString::fromUtf8(QJsonDocument(wantFields.value(it.key()).toObject())
                                                   .toJson(QJsonDocument::Compact))));
                droppedColumns.insert(it.key());
            }
        }
        // Existing unique indexes are recorded under fields; rebuild the full recorded list.
        QHash<QString, QJsonObject> hadAllIndexes;
        for (auto it = hadIndexes.begin(); it != hadIndexes.end(); ++it)
            hadAllIndexes.insert(it.key(), it.value().toObject());
        for (auto it = hadFields.begin(); it != hadFields.end(); ++it)
            if (it.value().toObject().value(QStringLiteral("unique")).toBool())
                hadAllIndexes.insert(c.name + u'_' + it.key() + QStringLiteral("_key"),
                                     QJsonObject{{QStringLiteral("fields"), QJsonArray{it.key()}},
                                                 {QStringLiteral("unique"), true}});
        QHash<QString, QJsonObject> wantAllIndexes;
        for (const IndexDef &i : wantedIndexes)
            wantAllIndexes.insert(i.name, QJsonObject{{QStringLiteral("fields"),
                                                       QJsonArray::fromStringList(i.fields)},
                                                      {QStringLiteral("unique"), i.unique}});
        for (auto it = hadAllIndexes.begin(); it != hadAllIndexes.end(); ++it) {
            bool touchesDropped = false;
            for (const QJsonValue &f : it.value().value(QStringLiteral("fields")).toArray())
                touchesDropped = touchesDropped || droppedColumns.contains(f.toString());
            if (wantAllIndexes.value(it.key()) != it.value() || touchesDropped) {
                statements.append(
                    QStringLiteral("DROP INDEX IF EXISTS %1").arg(quoteIdentifier(it.key())));
                outcome.applied.append(QStringLiteral("dropped index %1").arg(it.key()));
            }
        }
        for (const QString &column : std::as_const(droppedColumns)) {
            statements.append(QStringLiteral("ALTER TABLE %1 DROP COLUMN %2")
                                  .arg(quoteIdentifier(c.name), quoteIdentifier(column)));
            outcome.applied.append(QStringLiteral("dropped field %1.%2").arg(c.name, column));
        }
        for (const FieldDef &f : c.fields) {
            if (hadFields.contains(f.name) && !droppedColumns.contains(f.name))
                continue;
            if (f.required && f.defaultValue.isUndefined()) {
                q.exec(QStringLiteral("ROLLBACK"));
                const bool recreated = hadFields.contains(f.name);
                return Error{ErrorCode::Internal,
                             QStringLiteral("collection %1: %2 required field %3 needs a "
                                            "\"default\", because existing rows must get a value")
                                 .arg(c.name,
                                      recreated ? QStringLiteral("the changed (re-created)")
                                                : QStringLiteral("new"),
                                      f.name)};
            }
            statements.append(QStringLiteral("ALTER TABLE %1 ADD COLUMN %2")
                                  .arg(quoteIdentifier(c.name), columnDefinition(f, true)));
            outcome.applied.append(QStringLiteral("added field %1.%2").arg(c.name, f.name));
        }
        for (const IndexDef &i : wantedIndexes) {
            bool touchesDropped = false;
            for (const QString &f : i.fields)
                touchesDropped = touchesDropped || droppedColumns.contains(f);
            if (hadAllIndexes.value(i.name) != wantAllIndexes.value(i.name) || touchesDropped) {
                statements += createIndex(c, i);
                outcome.applied.append(QStringLiteral("created index %1").arg(i.name));
            }
        }
    }
    // Collections removed from the file, children first so references do not block: a
    // removed collection is dropped once no other removed one still refers to it.
    QStringList pending;
    for (auto it = recorded.begin(); it != recorded.end(); ++it)
        if (!m_schema.collection(it.key()))
            pending.append(it.key());
    pending.sort(); // deterministic order among unrelated collections
    QStringList removed;
    while (!pending.isEmpty()) {
        const qsizetype before = pending.size();
        for (qsizetype i = 0; i < pending.size(); ++i) {
            const QString &candidate = pending.at(i);
            bool referenced = false;
            for (const QString &other : std::as_const(pending)) {
                if (other == candidate)
                    continue;
                const QJsonObject fields =
                    recorded.value(other).value(QStringLiteral("fields")).toObject();
                for (auto f = fields.begin(); f != fields.end(); ++f)
                    referenced = referenced || f.value().toObject().value(
                                                   QStringLiteral("references")) == candidate;
            }
            if (!referenced) {
                removed.append(candidate);
                pending.removeAt(i);
                break;
            }
        }
        if (pending.size() == before) { // a cycle (a file can't declare one): any order
            removed += pending;
            pending.clear();
        }
    }
    for (const QString &name : std::as_const(removed)) {
        destructive.append(QStringLiteral("%1: collection removed (its table and rows would be "
                                          "dropped)")
                               .arg(name));
        statements.append(QStringLiteral("DROP TABLE %1").arg(quoteIdentifier(name)));
        outcome.applied.append(QStringLiteral("dropped collection %1").arg(name));
    }
    if (!destructive.isEmpty() && !allowDestructive) {
        q.exec(QStringLiteral("ROLLBACK"));
        return Error{ErrorCode::Internal,
                     QStringLiteral("the schema file asks for changes that lose data; start once "
                                    "with --allow-destructive-schema to apply them:\n  %1")
                         .arg(destructive.join(QStringLiteral("\n  ")))};
    }
    for (const QString &sql : std::as_const(statements))
        if (!q.exec(sql))
            return fail(sql);
    // Record what is now in place.
    const QString now = QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
    for (const QString &name : std::as_const(removed)) {
        q.prepare(QStringLiteral("DELETE FROM collection_definitions WHERE name = ?"));
        q.addBindValue(name);
        if (!q.exec())
            return fail(QStringLiteral("recording the schema"));
    }
    for (const CollectionDef &c : m_schema.collections()) {
        const QString definition =
            QString::fromUtf8(QJsonDocument(definitionJson(c)).toJson(QJsonDocument::Compact));
        if (recorded.value(c.name) == definitionJson(c))
            continue;
        q.prepare(QStringLiteral("DELETE FROM collection_definitions WHERE name = ?"));
        q.addBindValue(c.name);
        if (!q.exec())
            return fail(QStringLiteral("recording the schema"));
        q.prepare(QStringLiteral(
            "INSERT INTO collection_definitions (name, definition, applied_at) VALUES (?, ?, ?)"));
        q.addBindValue(c.name);
        q.addBindValue(definition);
        q.addBindValue(now);
        if (!q.exec())
            return fail(QStringLiteral("recording the schema"));
    }
    if (!q.exec(QStringLiteral("COMMIT")))
        return fail(QStringLiteral("COMMIT"));
    return outcome;
}

} // namespace bulwark
