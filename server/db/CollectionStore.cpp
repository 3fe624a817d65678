// SPDX-License-Identifier: GPL-3.0-or-later
// See CollectionStore.h.
#include "CollectionStore.h"

#include "EntityTags.h"
#include "WordHash.h"

#include "JsonWriter.h"
#include "SchemaSync.h" // quoteIdentifier

#include <QDateTime>
#include <QJsonDocument>
#include <QSqlRecord>
#include <QTimeZone>
#include <cstring>

namespace bulwark {

namespace {

Error badRequest(const QString &message, QJsonObject details = {})
{
    return Error{ErrorCode::BadRequest, message, std::move(details)};
}

QStringList splitList(const QString &text)
{
    QStringList out;
    for (const QString &part : text.split(u',', Qt::SkipEmptyParts)) {
        const QString trimmed = part.trimmed();
        if (!trimmed.isEmpty())
            out.append(trimmed);
    }
    return out;
}

QVariant typedNull(FieldType type)
{
    switch (type) {
    case FieldType::Integer: return QVariant(QMetaType::fromType<qlonglong>());
    case FieldType::Real: return QVariant(QMetaType::fromType<double>());
    case FieldType::Boolean: return QVariant(QMetaType::fromType<bool>());
    default: return QVariant(QMetaType::fromType<QString>());
    }
}

// A JSON body value for a field: the bound value, or a message for the 422.
std::optional<QVariant> fromJson(const FieldDef &f, const QJsonValue &v, QString *error)
{
    if (v.isNull()) {
        if (f.required) {
            *error = QStringLiteral("is required");
            return std::nullopt;
        }
        return typedNull(f.type);
    }
    auto bounds = [&](double x, const char *unit) -> bool {
        if (f.min && x < *f.min) {
            *error = QStringLiteral("must be at least %1%2").arg(*f.min).arg(QLatin1String(unit));
            return false;
        }
        if (f.max && x > *f.max) {
            *error = QStringLiteral("must be at most %1%2").arg(*f.max).arg(QLatin1String(unit));
            return false;
        }
        return true;
    };
    switch (f.type) {
    case FieldType::Text: {
        if (!v.isString()) {
            *error = QStringLiteral("must be a string");
            return std::nullopt;
        }
        const QString s = v.toString();
        if (!bounds(double(s.size()), " characters long"))
            return std::nullopt;
        if (!f.choices.isEmpty() && !f.choices.contains(s)) {
            *error = QStringLiteral("must be one of: %1").arg(f.choices.join(QStringLiteral(", ")));
            return std::nullopt;
        }
        return QVariant(s);
    }
    case FieldType::Integer: {
        const double d = v.toDouble();
        if (!v.isDouble() || d != std::floor(d) || qAbs(d) > 9007199254740991.0) {
            *error = QStringLiteral("must be an integer");
            return std::nullopt;
        }
        if (!bounds(d, ""))
            return std::nullopt;
        return QVariant(qlonglong(d));
    }
    case FieldType::Real: {
        if (!v.isDouble()) {
            *error = QStringLiteral("must be a number");
            return std::nullopt;
        }
        if (!bounds(v.toDouble(), ""))
            return std::nullopt;
        return QVariant(v.toDouble());
    }
    case FieldType::Boolean:
        if (!v.isBool()) {
            *error = QStringLiteral("must be true or false");
            return std::nullopt;
        }
        return QVariant(v.toBool());
    case FieldType::DateTime: {
        const auto normalised = v.isString() ? normaliseDateTime(v.toString()) : std::nullopt;
        if (!normalised) {
            *error = QStringLiteral("must be an ISO 8601 date and time, e.g. "
                                    "2026-11-28T07:30:00Z");
            return std::nullopt;
        }
        return QVariant(*normalised);
    }
    case FieldType::Json: {
        QByteArray text;
        if (v.isObject())
            text = QJsonDocument(v.toObject()).toJson(QJsonDocument::Compact);
        else if (v.isArray())
            text = QJsonDocument(v.toArray()).toJson(QJsonDocument::Compact);
        else {
            QByteArray scalar;
            JsonWriter(scalar).value(v);
            text = scalar;
        }
        return QVariant(QString::fromUtf8(text));
    }
    }
    return std::nullopt;
}

// One result cell as JSON in the schema's type for the column, written at `p` (the room
// is reserved by appendRow). SQLite gives numbers as numbers and text as UTF-8; PostgreSQL
// values come through the driver and may arrive as text.
char *putCell(char *p, FieldType type, const SqlCell &cell)
{
    auto literal = [&p](const char *text, size_t n) {
        std::memcpy(p, text, n);
        return p + n;
    };
    switch (cell.kind) {
    case SqlCell::Kind::Null: return literal("null", 4);
    case SqlCell::Kind::Integer:
        if (type == FieldType::Boolean)
            return cell.integer ? literal("true", 4) : literal("false", 5);
        if (type == FieldType::Text || type == FieldType::DateTime) {
            *p++ = '"';
            p = JsonWriter::putInteger(p, cell.integer);
            *p++ = '"';
            return p;
        }
        return JsonWriter::putInteger(p, cell.integer);
    case SqlCell::Kind::Real:
        if (type == FieldType::Text || type == FieldType::DateTime) {
            *p++ = '"';
            p = JsonWriter::putReal(p, cell.real);
            *p++ = '"';
            return p;
        }
        return JsonWriter::putReal(p, cell.real);
    case SqlCell::Kind::Text:
        switch (type) {
        case FieldType::Json: // validated JSON when written
            if (cell.text.isEmpty())
                return literal("null", 4);
            std::memcpy(p, cell.text.data(), size_t(cell.text.size()));
            return p + cell.text.size();
        case FieldType::Boolean: // PostgreSQL through the driver: "true"/"false"
            return cell.text == "true" || cell.text == "t" || cell.text == "1"
                       ? literal("true", 4)
                       : literal("false", 5);
        case FieldType::Integer: return JsonWriter::putInteger(p, cell.text.toLongLong());
        case FieldType::Real: return JsonWriter::putReal(p, cell.text.toDouble());
        default: return JsonWriter::putString(p, cell.text);
        }
    }
    return p;
}

// Appends one row as a JSON object without its closing brace (expansions may follow):
// `keys` are the prepared "\"name\":" of the columns, the first without a comma, the
// others with one. The buffer grows once to the row's worst case and shrinks back.
void appendRow(QByteArray &buffer, const QList<QByteArray> &keys, const QList<FieldType> &types,
               const SqlCell *cells)
{
    qsizetype need = 1;
    for (qsizetype i = 0; i < keys.size(); ++i)
        need += keys.at(i).size() +
                (cells[i].kind == SqlCell::Kind::Text ? 2 + 6 * cells[i].text.size() : 34);
    const qsizetype start = buffer.size();
    buffer.resize(start + need);
    char *p = buffer.data() + start;
    *p++ = '{';
    for (qsizetype i = 0; i < keys.size(); ++i) {
        std::memcpy(p, keys.at(i).constData(), size_t(keys.at(i).size()));
        p += keys.at(i).size();
        p = putCell(p, types.at(i), cells[i]);
    }
    buffer.resize(p - buffer.constData());
}

QVariant cellVariant(const SqlCell &cell)
{
    switch (cell.kind) {
    case SqlCell::Kind::Null: return QVariant();
    case SqlCell::Kind::Integer: return QVariant(qlonglong(cell.integer));
    case SqlCell::Kind::Real: return QVariant(cell.real);
    case SqlCell::Kind::Text: return QVariant(QString::fromUtf8(cell.text));
    }
    return QVariant();
}

// A cursor value read back from JSON, in the column's type.
std::optional<QVariant> cursorValue(FieldType type, const QJsonValue &v)
{
    switch (type) {
    case FieldType::Integer:
        if (v.isDouble())
            return QVariant(qlonglong(v.toDouble()));
        break;
    case FieldType::Real:
        if (v.isDouble())
            return QVariant(v.toDouble());
        break;
    case FieldType::Boolean:
        if (v.isBool())
            return QVariant(v.toBool());
        break;
    case FieldType::DateTime:
        if (v.isString())
            if (auto normalised = normaliseDateTime(v.toString()))
                return QVariant(*normalised);
        break;
    case FieldType::Text:
        if (v.isString())
            return QVariant(v.toString());
        break;
    case FieldType::Json: break;
    }
    return std::nullopt;
}

QJsonValue toCursorJson(FieldType type, const QVariant &v)
{
    switch (type) {
    case FieldType::Integer: return double(v.toLongLong());
    case FieldType::Real: return v.toDouble();
    case FieldType::Boolean: return v.toBool();
    case FieldType::DateTime:
        if (v.metaType() == QMetaType::fromType<QDateTime>())
            return v.toDateTime().toUTC().toString(Qt::ISODateWithMs);
        return v.toString();
    default: return v.toString();
    }
}

// A write transaction of a single write, or none inside a batch's transaction: begins one
// only when none is open, and then also rolls back or commits it.
class WriteScope
{
public:
    explicit WriteScope(SqlSession &sql) : m_sql(sql), m_own(!sql.inTransaction()) {}
    Result<bool> begin() { return m_own ? m_sql.beginWrite() : Result<bool>(true); }
    Error fail(Error e)
    {
        if (m_own)
            m_sql.rollback();
        return e;
    }
    Result<bool> commit() { return m_own ? m_sql.commit() : Result<bool>(true); }

private:
    SqlSession &m_sql;
    bool m_own;
};

struct SortKey
{
    QString column;
    FieldType type;
    bool descending;
    bool notNull;
};

} // namespace

// What one request reads: columns to show, and relations to expand.
struct CollectionStore::Relation
{
    QString name; // key in the output
    const CollectionDef *target = nullptr;
    QString joinColumn; // back-reference: the child's column; forward: our column
    bool many = false;  // back-reference (array) or forward (object)
    QList<Column> shown;
};

struct CollectionStore::Selection
{
    QList<Column> shown; // output columns, id first
    QList<Relation> relations;
};

CollectionStore::CollectionStore(const CollectionSchema &schema, StoreLimits limits)
    : m_schema(schema), m_limits(limits)
{
}

bool CollectionStore::etagMatches(const QByteArray &header, const QByteArray &tag, bool weak)
{
    return entityTagListMatches(header, tag, weak);
}

QByteArray CollectionStore::etag(QByteArrayView body)
{
    // Stable across hosts and builds, cheap on large pages (see WordHash.h).
    return '"' + QByteArray::number(wordHash(body), 16).rightJustified(16, '0') + '"';
}

QList<CollectionStore::Column> CollectionStore::columns(const CollectionDef &c) const
{
    QList<Column> out{{QStringLiteral("id"), FieldType::Integer, true},
                      {QStringLiteral("created_at"), FieldType::DateTime, true},
                      {QStringLiteral("updated_at"), FieldType::DateTime, true}};
    for (const FieldDef &f : c.fields)
        out.append({f.name, f.type, f.required});
    return out;
}

Result<CollectionStore::Selection>
CollectionStore::select(const CollectionDef &c, const QString &fields, const QString &expand) const
{
    Selection s;
    const QList<Column> all = columns(c);
    // Relations first: "fields" may name their columns as relation.field.
    for (const QString &name : splitList(expand)) {
        Relation r;
        r.name = name;
        const CollectionDef *child = m_schema.collection(name);
        if (child) {
            for (const auto &back : m_schema.backReferences(c.name))
                if (back.collection == name) {
                    r.target = child;
                    r.joinColumn = back.field;
                    r.many = true;
                }
        }
        if (!r.target) {
            for (const FieldDef &f : c.fields) {
                if (f.references.isEmpty() || f.isOwner || !m_schema.collection(f.references))
                    continue;
                QString key = f.name;
                if (key.endsWith(QLatin1String("_id")))
                    key.chop(3);
                if (key == name) {
                    r.target = m_schema.collection(f.references);
                    r.joinColumn = f.name;
                    r.many = false;
                }
            }
        }
        if (!r.target) {
            QStringList expandable;
            for (const auto &back : m_schema.backReferences(c.name))
                expandable.append(back.collection);
            for (const FieldDef &f : c.fields)
                if (!f.references.isEmpty() && !f.isOwner && m_schema.collection(f.references))
                    expandable.append(f.name.endsWith(QLatin1String("_id")) ? f.name.chopped(3)
                                                                            : f.name);
            return badRequest(
                QStringLiteral("expand: \"%1\" is not a relation of %2 (expandable: %3)")
                    .arg(name, c.name,
                         expandable.isEmpty() ? QStringLiteral("none")
                                              : expandable.join(QStringLiteral(", "))),
                QJsonObject{{QStringLiteral("parameter"), QStringLiteral("expand")}});
        }
        bool duplicate = false;
        for (const Relation &other : std::as_const(s.relations))
            duplicate = duplicate || other.name == name;
        if (!duplicate)
            s.relations.append(r);
    }
    QStringList own;
    QHash<QString, QStringList> nested;
    for (const QString &entry : splitList(fields)) {
        const qsizetype dot = entry.indexOf(u'.');
        if (dot < 0) {
            own.append(entry);
            continue;
        }
        const QString relation = entry.left(dot);
        bool known = false;
        for (const Relation &r : std::as_const(s.relations))
            known = known || r.name == relation;
        if (!known)
            return badRequest(QStringLiteral("fields: \"%1\" names a relation that is not in "
                                             "expand")
                                  .arg(entry),
                              QJsonObject{{QStringLiteral("parameter"), QStringLiteral("fields")}});
        nested[relation].append(entry.mid(dot + 1));
    }
    auto pick = [](const CollectionDef &def, const QList<Column> &available,
                   const QStringList &names, QList<Column> *out) -> std::optional<QString> {
        if (names.isEmpty()) {
            *out = available;
            return std::nullopt;
        }
        out->append(available.first()); // id, always
        for (const QString &n : names) {
            if (n == QLatin1String("id"))
                continue;
            bool found = false;
            for (const Column &col : available)
                if (col.name == n) {
                    out->append(col);
                    found = true;
                }
            if (!found)
                return QStringLiteral("fields: %1 has no field \"%2\"").arg(def.name, n);
        }
        return std::nullopt;
    };
    if (auto error = pick(c, all, own, &s.shown))
        return badRequest(*error,
                          QJsonObject{{QStringLiteral("parameter"), QStringLiteral("fields")}});
    for (Relation &r : s.relations)
        if (auto error = pick(*r.target, columns(*r.target), nested.value(r.name), &r.shown))
            return badRequest(*error,
                              QJsonObject{{QStringLiteral("parameter"), QStringLiteral("fields")}});
    return s;
}

namespace {

// Filter -> SQL with bound values, checked against the collection's columns.
class FilterCompiler
{
public:
    FilterCompiler(const CollectionDef &c, const QString &likeOperator)
        : m_collection(c), m_like(likeOperator)
    {
    }

    std::optional<Error> compile(const FilterNode &node, QString *sql, QVariantList *binds)
    {
        switch (node.kind) {
        case FilterNode::Kind::And:
        case FilterNode::Kind::Or: {
            QStringList parts;
            for (const FilterNode &child : node.children) {
                QString part;
                if (auto e = compile(child, &part, binds))
                    return e;
                parts.append(part);
            }
            *sql = u'(' +
                   parts.join(node.kind == FilterNode::Kind::And ? QStringLiteral(" AND ")
                                                                 : QStringLiteral(" OR ")) +
                   u')';
            return std::nullopt;
        }
        case FilterNode::Kind::Not: {
            QString part;
            if (auto e = compile(node.children.first(), &part, binds))
                return e;
            *sql = QStringLiteral("(NOT ") + part + u')';
            return std::nullopt;
        }
        case FilterNode::Kind::Compare: break;
        }
        FieldType type;
        if (node.field == QLatin1String("id"))
            type = FieldType::Integer;
        else if (node.field == QLatin1String("created_at") ||
                 node.field == QLatin1String("updated_at"))
            type = FieldType::DateTime;
        else if (const FieldDef *f = m_collection.field(node.field))
            type = f->type;
        else
            return error(
                node.position,
                QStringLiteral("%1 has no field \"%2\"").arg(m_collection.name, node.field));
        const QString column = quoteIdentifier(node.field);
        if (node.op == FilterOp::IsNull) {
            *sql = column + (node.values.first().boolean ? QStringLiteral(" IS NULL")
                                                         : QStringLiteral(" IS NOT NULL"));
            return std::nullopt;
        }
        if (type == FieldType::Json)
            return error(node.position, QStringLiteral("%1 is a json field; only is_null applies "
                                                       "to it")
                                            .arg(node.field));
        if (node.op == FilterOp::Like && type != FieldType::Text)
            return error(node.position, QStringLiteral("like applies to text fields; %1 is %2")
                                            .arg(node.field, fieldTypeName(type)));
        QStringList placeholders;
        for (const FilterValue &v : node.values) {
            auto bound = convert(type, v);
            if (!bound)
                return error(v.position,
                             QStringLiteral("%1 is %2; %3 does not fit")
                                 .arg(node.field, fieldTypeName(type),
                                      v.kind == FilterValue::Kind::String ? u'\'' + v.text + u'\''
                                                                          : v.text));
            binds->append(*bound);
            placeholders.append(QStringLiteral("?"));
        }
        switch (node.op) {
        case FilterOp::Eq: *sql = column + QStringLiteral(" = ?"); break;
        case FilterOp::Ne: *sql = column + QStringLiteral(" <> ?"); break;
        case FilterOp::Gt: *sql = column + QStringLiteral(" > ?"); break;
        case FilterOp::Gte: *sql = column + QStringLiteral(" >= ?"); break;
        case FilterOp::Lt: *sql = column + QStringLiteral(" < ?"); break;
        case FilterOp::Lte: *sql = column + QStringLiteral(" <= ?"); break;
        case FilterOp::Like: *sql = column + u' ' + m_like + QStringLiteral(" ?"); break;
        case FilterOp::In:
            *sql =
                column + QStringLiteral(" IN (") + placeholders.join(QStringLiteral(", ")) + u')';
            break;
        case FilterOp::IsNull: break;
        }
        return std::nullopt;
    }

private:
    static std::optional<QVariant> convert(FieldType type, const FilterValue &v)
    {
        switch (type) {
        case FieldType::Integer:
            if (v.kind == FilterValue::Kind::Integer)
                return QVariant(qlonglong(v.integer));
            return std::nullopt;
        case FieldType::Real:
            if (v.kind == FilterValue::Kind::Integer)
                return QVariant(double(v.integer));
            if (v.kind == FilterValue::Kind::Real)
                return QVariant(v.real);
            return std::nullopt;
        case FieldType::Boolean:
            if (v.kind == FilterValue::Kind::Boolean)
                return QVariant(v.boolean);
            return std::nullopt;
        case FieldType::Text:
            if (v.kind == FilterValue::Kind::String)
                return QVariant(v.text);
            return std::nullopt;
        case FieldType::DateTime:
            if (v.kind == FilterValue::Kind::String)
                if (auto normalised = normaliseDateTime(v.text))
                    return QVariant(*normalised);
            return std::nullopt;
        case FieldType::Json: return std::nullopt;
        }
        return std::nullopt;
    }

    static Error error(int position, const QString &message)
    {
        return Error{ErrorCode::BadRequest,
                     QStringLiteral("filter: at position %1: %2").arg(position).arg(message),
                     QJsonObject{{QStringLiteral("parameter"), QStringLiteral("filter")},
                                 {QStringLiteral("position"), position}}};
    }

    const CollectionDef &m_collection;
    QString m_like;
};

QString likeOperator(const Dialect &d)
{
    // SQLite's LIKE ignores ASCII case; ILIKE gives PostgreSQL the same behaviour.
    return d.name() == QLatin1String("postgres") ? QStringLiteral("ILIKE") : QStringLiteral("LIKE");
}

// "\"name\":" for each column (",\"name\":" after the first), escaped once per request
// instead of once per row.
QList<QByteArray> preparedKeys(const QStringList &names)
{
    QList<QByteArray> keys;
    keys.reserve(names.size());
    for (const QString &name : names) {
        QByteArray key = keys.isEmpty() ? QByteArray() : QByteArrayLiteral(",");
        JsonWriter::appendString(key, name);
        key.append(':');
        keys.append(key);
    }
    return keys;
}

QList<FieldType> typesOf(const auto &columns)
{
    QList<FieldType> types;
    for (const auto &col : columns)
        types.append(col.type);
    return types;
}

// The SELECT list for `names`. On PostgreSQL datetimes are formatted by the server into
// the API's ISO 8601 form: QPSQL would otherwise parse each into a QDateTime and we would
// format it back (most of a list's time there). The expression gets its own alias, so
// that ORDER BY "started_at" still means the column (and its index), not the text.
QString selectList(const Dialect &dialect, const CollectionDef &c, const QStringList &names)
{
    const bool postgres = dialect.name() == QLatin1String("postgres");
    QStringList parts;
    for (const QString &name : names) {
        const FieldDef *f = c.field(name);
        const bool datetime = name == QLatin1String("created_at") ||
                              name == QLatin1String("updated_at") ||
                              (f && f->type == FieldType::DateTime);
        if (postgres && datetime)
            parts.append(QStringLiteral("to_char(%1 AT TIME ZONE 'UTC', "
                                        "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS %2")
                             .arg(quoteIdentifier(name),
                                  // Upper case: field names are lower case, so no clash.
                                  quoteIdentifier(QStringLiteral("ISO_") + name)));
        else
            parts.append(quoteIdentifier(name));
    }
    return parts.join(QStringLiteral(", "));
}

QString columnList(const QList<QString> &names)
{
    QStringList quoted;
    for (const QString &n : names)
        quoted.append(quoteIdentifier(n));
    return quoted.join(QStringLiteral(", "));
}

} // namespace

Result<bool> CollectionStore::writeRows(SqlSession &sql, const CollectionDef &c,
                                        const Selection &selection, const QString &where,
                                        const QVariantList &binds, const QString &tail, int maxRows,
                                        const Principal &who, JsonWriter &out,
                                        QList<QVariantList> *lastSortValues,
                                        const QStringList &sortColumns, bool *more) const
{
    // Columns read: those shown, the join columns of forward relations, the sort columns
    // (for the next cursor). Each once.
    QStringList read;
    for (const Column &col : selection.shown)
        read.append(col.name);
    for (const Relation &r : selection.relations)
        if (!r.many && !read.contains(r.joinColumn))
            read.append(r.joinColumn);
    for (const QString &s : sortColumns)
        if (!read.contains(s))
            read.append(s);
    const QString text =
        QStringLiteral("SELECT %1 FROM %2%3%4")
            .arg(selectList(sql.dialect(), c, read), quoteIdentifier(c.name),
                 where.isEmpty() ? QString() : QStringLiteral(" WHERE ") + where, tail);
    // Each row is serialised as it arrives into one buffer, without its closing brace
    // (expansions are appended later); `ends` marks where each row stops, `keys` keeps the
    // values that expansions join on.
    QStringList shownNames;
    for (const Column &col : selection.shown)
        shownNames.append(col.name);
    const QList<QByteArray> keys = preparedKeys(shownNames);
    const QList<FieldType> shownTypes = typesOf(selection.shown);
    QList<int> keyColumns; // per relation: the column its rows are looked up by
    for (const Relation &r : selection.relations)
        keyColumns.append(r.many ? 0 : int(read.indexOf(r.joinColumn))); // 0: id
    QList<int> sortAt;
    for (const QString &s : sortColumns)
        sortAt.append(int(read.indexOf(s)));
    QByteArray buffer;
    buffer.reserve(qMin(maxRows, 1000) * 320);
    QList<qsizetype> ends;
    QList<QList<qint64>> joinKeys(selection.relations.size());
    QVariantList lastSort;
    int rows = 0;
    auto selected = sql.select(text, binds, [&](const SqlCell *cells, int) {
        if (rows == maxRows) {
            *more = true;
            return false;
        }
        ++rows;
        appendRow(buffer, keys, shownTypes, cells);
        ends.append(buffer.size());
        for (int r = 0; r < keyColumns.size(); ++r) {
            const SqlCell &k = cells[keyColumns.at(r)];
            joinKeys[r].append(k.kind == SqlCell::Kind::Integer ? k.integer : -1);
        }
        // The next cursor is made from the last row returned, which is row maxRows
        // whenever there is a next page.
        if (lastSortValues && rows == maxRows) {
            lastSort.clear();
            for (int at : std::as_const(sortAt))
                lastSort.append(cellVariant(cells[at]));
        }
        return true;
    });
    if (!selected.ok())
        return selected.error();
    if (lastSortValues && !lastSort.isEmpty())
        lastSortValues->append(lastSort);

    // Expansions: one query per relation for the whole page.
    QList<QHash<qint64, QList<QByteArray>>> expanded; // relation -> key -> serialised rows
    for (int rel = 0; rel < selection.relations.size(); ++rel) {
        const Relation &r = selection.relations.at(rel);
        QHash<qint64, QList<QByteArray>> byKey;
        QList<qint64> distinct;
        for (qint64 k : std::as_const(joinKeys[rel]))
            if (k >= 0 && !distinct.contains(k))
                distinct.append(k);
        if (!distinct.isEmpty()) {
            QStringList placeholders;
            QVariantList relBinds;
            for (qint64 k : std::as_const(distinct)) {
                placeholders.append(QStringLiteral("?"));
                relBinds.append(QVariant(qlonglong(k)));
            }
            const QString keyColumn = r.many ? r.joinColumn : QStringLiteral("id");
            QString relWhere = quoteIdentifier(keyColumn) + QStringLiteral(" IN (") +
                               placeholders.join(QStringLiteral(", ")) + u')';
            if (!r.target->ownerField.isEmpty() && !who.admin) {
                relWhere += QStringLiteral(" AND ") + quoteIdentifier(r.target->ownerField) +
                            QStringLiteral(" = ?");
                relBinds.append(QVariant(qlonglong(who.userId)));
            }
            QStringList relRead;
            for (const Column &col : r.shown)
                relRead.append(col.name);
            if (!relRead.contains(keyColumn))
                relRead.append(keyColumn);
            // Children in the child collection's default order.
            QStringList order;
            for (QString key : r.target->defaultSort.split(u',')) {
                const bool desc = key.startsWith(u'-');
                if (desc)
                    key.remove(0, 1);
                order.append(quoteIdentifier(key) + (desc ? QStringLiteral(" DESC") : QString()));
            }
            order.append(QStringLiteral("\"id\""));
            const QString relText = QStringLiteral("SELECT %1 FROM %2 WHERE %3 ORDER BY %4 LIMIT ?")
                                        .arg(selectList(sql.dialect(), *r.target, relRead),
                                             quoteIdentifier(r.target->name), relWhere,
                                             order.join(QStringLiteral(", ")));
            relBinds.append(QVariant(qlonglong(m_limits.maxExpandRows + 1)));
            const int keyAt = int(relRead.indexOf(keyColumn));
            QStringList relNames;
            for (const Column &col : r.shown)
                relNames.append(col.name);
            const QList<QByteArray> relKeys = preparedKeys(relNames);
            const QList<FieldType> relTypes = typesOf(r.shown);
            int count = 0;
            bool tooMany = false;
            auto loaded = sql.select(relText, relBinds, [&](const SqlCell *cells, int) {
                if (++count > m_limits.maxExpandRows) {
                    tooMany = true;
                    return false;
                }
                QByteArray serialised;
                appendRow(serialised, relKeys, relTypes, cells);
                serialised.append('}');
                byKey[cells[keyAt].integer].append(serialised);
                return true;
            });
            if (!loaded.ok())
                return loaded.error();
            if (tooMany)
                return badRequest(QStringLiteral("expand: %1 would load more than %2 rows for "
                                                 "this page; ask for a smaller limit")
                                      .arg(r.name)
                                      .arg(m_limits.maxExpandRows));
        }
        expanded.append(byKey);
    }

    QList<QByteArray> relationKeys; // each with its leading comma
    for (const Relation &r : selection.relations)
        relationKeys.append(preparedKeys({QString(), r.name}).last());
    qsizetype start = 0;
    for (int row = 0; row < ends.size(); ++row) {
        // The row was written with its own writer; append its bytes as one value.
        QByteArrayView bytes(buffer.constData() + start, ends.at(row) - start);
        start = ends.at(row);
        if (selection.relations.isEmpty()) {
            out.raw(bytes);
            out.rawAppend("}");
            continue;
        }
        out.raw(bytes);
        for (int r = 0; r < selection.relations.size(); ++r) {
            const Relation &rel = selection.relations.at(r);
            out.rawAppend(relationKeys.at(r));
            const QList<QByteArray> items = expanded.at(r).value(joinKeys[r].at(row));
            if (rel.many) {
                out.rawAppend("[");
                for (int i = 0; i < items.size(); ++i) {
                    if (i)
                        out.rawAppend(",");
                    out.rawAppend(items.at(i));
                }
                out.rawAppend("]");
            } else {
                out.rawAppend(items.isEmpty() ? QByteArrayView("null")
                                              : QByteArrayView(items.first()));
            }
        }
        out.rawAppend("}");
    }
    return true;
}

Result<QByteArray> CollectionStore::list(SqlSession &sql, const CollectionDef &c,
                                         const ListParams &params, const Principal &who) const
{
    if (params.limit < 1 || params.limit > m_limits.maxLimit)
        return badRequest(QStringLiteral("limit must be between 1 and %1").arg(m_limits.maxLimit),
                          QJsonObject{{QStringLiteral("parameter"), QStringLiteral("limit")}});
    if (params.page < 1)
        return badRequest(QStringLiteral("page must be 1 or more"),
                          QJsonObject{{QStringLiteral("parameter"), QStringLiteral("page")}});
    auto selection = select(c, params.fields, params.expand);
    if (!selection.ok())
        return selection.error();

    // Sort: the request's keys (or the collection's default), then id.
    QList<SortKey> sort;
    const QString sortText = params.sort.trimmed().isEmpty() ? c.defaultSort : params.sort;
    const QList<Column> all = columns(c);
    for (QString key : splitList(sortText)) {
        const bool desc = key.startsWith(u'-');
        if (desc || key.startsWith(u'+'))
            key.remove(0, 1);
        const Column *found = nullptr;
        for (const Column &col : all)
            if (col.name == key)
                found = &col;
        if (!found || found->type == FieldType::Json)
            return badRequest(
                QStringLiteral("sort: %1 has no sortable field \"%2\"").arg(c.name, key),
                QJsonObject{{QStringLiteral("parameter"), QStringLiteral("sort")}});
        bool seen = false;
        for (const SortKey &s : std::as_const(sort))
            seen = seen || s.column == key;
        if (!seen)
            sort.append({key, found->type, desc, found->notNull});
    }
    bool hasId = false;
    for (const SortKey &s : std::as_const(sort))
        hasId = hasId || s.column == QLatin1String("id");
    if (!hasId)
        sort.append({QStringLiteral("id"), FieldType::Integer,
                     sort.isEmpty() ? false : sort.first().descending, true});
    QStringList sortColumns;
    QStringList orderBy;
    QString sortSpec;
    for (const SortKey &s : std::as_const(sort)) {
        sortColumns.append(s.column);
        orderBy.append(quoteIdentifier(s.column) +
                       (s.descending ? QStringLiteral(" DESC") : QString()));
        sortSpec += (sortSpec.isEmpty() ? QString() : QStringLiteral(",")) +
                    (s.descending ? QStringLiteral("-") : QString()) + s.column;
    }

    // WHERE: owner, filter, cursor.
    QStringList conditions;
    QVariantList binds;
    if (!c.ownerField.isEmpty() && !who.admin) {
        conditions.append(quoteIdentifier(c.ownerField) + QStringLiteral(" = ?"));
        binds.append(QVariant(qlonglong(who.userId)));
    }
    if (!params.filter.trimmed().isEmpty()) {
        auto parsed = parseFilter(params.filter);
        if (!parsed.ok())
            return badRequest(QStringLiteral("filter: at position %1: %2")
                                  .arg(parsed.error().position)
                                  .arg(parsed.error().message),
                              QJsonObject{{QStringLiteral("parameter"), QStringLiteral("filter")},
                                          {QStringLiteral("position"), parsed.error().position}});
        QString filterSql;
        FilterCompiler compiler(c, likeOperator(sql.dialect()));
        if (auto e = compiler.compile(parsed.value(), &filterSql, &binds))
            return *e;
        conditions.append(filterSql);
    }
    // A cursor belongs to one filter: it carries a short hash of the filter text.
    const QString filterTag =
        params.filter.trimmed().isEmpty()
            ? QString()
            : QString::fromLatin1(etag(params.filter.trimmed().toUtf8()).mid(1, 8));
    const QStringList baseConditions = conditions;
    const QVariantList baseBinds = binds;
    const bool keyset = params.cursor.has_value();
    if (keyset) {
        for (const SortKey &s : std::as_const(sort))
            if (!s.notNull)
                return badRequest(
                    QStringLiteral("sort: cursor pagination needs fields that "
                                   "cannot be null; %1 is optional (use page "
                                   "pagination, or sort by a required field)")
                        .arg(s.column),
                    QJsonObject{{QStringLiteral("parameter"), QStringLiteral("sort")}});
        if (!params.cursor->isEmpty()) {
            const QByteArray raw = QByteArray::fromBase64(params.cursor->toLatin1(),
                                                          QByteArray::Base64UrlEncoding |
                                                              QByteArray::OmitTrailingEquals);
            const QJsonObject decoded = QJsonDocument::fromJson(raw).object();
            const QJsonArray values = decoded.value(QStringLiteral("v")).toArray();
            const Error invalid = badRequest(
                QStringLiteral("cursor: not a cursor this list gave out (copy next_cursor as it "
                               "is, with the same sort and filter)"),
                QJsonObject{{QStringLiteral("parameter"), QStringLiteral("cursor")}});
            if (decoded.value(QStringLiteral("s")).toString() != sortSpec ||
                decoded.value(QStringLiteral("f")).toString() != filterTag ||
                values.size() != sort.size())
                return invalid;
            // (a, b, id) after (x, y, z) in the sort's directions. With one direction
            // throughout this is a row-value comparison an index range answers; with
            // mixed directions it is spelled out.
            QVariantList values_;
            for (int i = 0; i < sort.size(); ++i) {
                auto v = cursorValue(sort.at(i).type, values.at(i));
                if (!v)
                    return invalid;
                values_.append(*v);
            }
            bool uniform = true;
            for (const SortKey &s : std::as_const(sort))
                uniform = uniform && s.descending == sort.first().descending;
            if (uniform) {
                QStringList cols, marks;
                for (const SortKey &s : std::as_const(sort)) {
                    cols.append(quoteIdentifier(s.column));
                    marks.append(QStringLiteral("?"));
                }
                conditions.append(
                    QStringLiteral("(%1) %2 (%3)")
                        .arg(cols.join(QStringLiteral(", ")),
                             sort.first().descending ? QStringLiteral("<") : QStringLiteral(">"),
                             marks.join(QStringLiteral(", "))));
                binds += values_;
            } else {
                QStringList alternatives;
                for (int i = 0; i < sort.size(); ++i) {
                    QStringList parts;
                    for (int j = 0; j < i; ++j) {
                        parts.append(quoteIdentifier(sort.at(j).column) + QStringLiteral(" = ?"));
                        binds.append(values_.at(j));
                    }
                    parts.append(
                        quoteIdentifier(sort.at(i).column) +
                        (sort.at(i).descending ? QStringLiteral(" < ?") : QStringLiteral(" > ?")));
                    binds.append(values_.at(i));
                    alternatives.append(u'(' + parts.join(QStringLiteral(" AND ")) + u')');
                }
                conditions.append(u'(' + alternatives.join(QStringLiteral(" OR ")) + u')');
            }
        }
    }

    const QString where = conditions.join(QStringLiteral(" AND "));
    QByteArray body;
    body.reserve(params.limit * 256 + 128);
    JsonWriter out(body);
    out.beginObject();
    out.key(QLatin1StringView("data"));
    out.beginArray();
    bool more = false;
    QList<QVariantList> last;
    // LIMIT and OFFSET are bound too, so every page of a list is one statement (one
    // prepared statement, one line in the statement stats).
    const QString tail = QStringLiteral(" ORDER BY %1 LIMIT ?%2")
                             .arg(orderBy.join(QStringLiteral(", ")),
                                  keyset ? QString() : QStringLiteral(" OFFSET ?"));
    QVariantList pageBinds = binds;
    pageBinds.append(QVariant(qlonglong(params.limit + 1)));
    if (!keyset)
        pageBinds.append(QVariant(qlonglong(params.page - 1) * params.limit));
    auto rows = writeRows(sql, c, selection.value(), where, pageBinds, tail, params.limit, who, out,
                          &last, sortColumns, &more);
    if (!rows.ok())
        return rows.error();
    out.endArray();
    out.key(QLatin1StringView("pagination"));
    out.beginObject();
    if (keyset) {
        out.key(QLatin1StringView("limit"));
        out.integer(params.limit);
        out.key(QLatin1StringView("hasNext"));
        out.boolean(more);
        out.key(QLatin1StringView("next_cursor"));
        if (more && !last.isEmpty()) {
            QJsonArray values;
            for (int i = 0; i < sort.size(); ++i)
                values.append(toCursorJson(sort.at(i).type, last.first().at(i)));
            const QByteArray cursor =
                QJsonDocument(QJsonObject{{QStringLiteral("s"), sortSpec},
                                          {QStringLiteral("f"), filterTag},
                                          {QStringLiteral("v"), values}})
                    .toJson(QJsonDocument::Compact)
                    .toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
            out.string(QString::fromLatin1(cursor));
        } else {
            out.null();
        }
    } else {
        out.key(QLatin1StringView("page"));
        out.integer(params.page);
        out.key(QLatin1StringView("limit"));
        out.integer(params.limit);
        if (params.skipTotal) {
            out.key(QLatin1StringView("total"));
            out.null();
            out.key(QLatin1StringView("totalPages"));
            out.null();
        } else {
            const QString count = QStringLiteral("SELECT COUNT(*) FROM %1%2")
                                      .arg(quoteIdentifier(c.name),
                                           baseConditions.isEmpty()
                                               ? QString()
                                               : QStringLiteral(" WHERE ") +
                                                     baseConditions.join(QStringLiteral(" AND ")));
            auto counted = sql.exec(count, baseBinds);
            if (!counted.ok())
                return counted.error();
            QSqlQuery *q = counted.value();
            const qint64 total = q->next() ? q->value(0).toLongLong() : 0;
            q->finish();
            out.key(QLatin1StringView("total"));
            out.integer(total);
            out.key(QLatin1StringView("totalPages"));
            out.integer((total + params.limit - 1) / params.limit);
        }
        out.key(QLatin1StringView("hasNext"));
        out.boolean(more);
        out.key(QLatin1StringView("hasPrev"));
        out.boolean(params.page > 1);
    }
    out.endObject();
    out.endObject();
    return body;
}

Result<QByteArray> CollectionStore::get(SqlSession &sql, const CollectionDef &c, qint64 id,
                                        const QString &fields, const QString &expand,
                                        const Principal &who) const
{
    auto selection = select(c, fields, expand);
    if (!selection.ok())
        return selection.error();
    QString where = QStringLiteral("\"id\" = ?");
    QVariantList binds{QVariant(qlonglong(id))};
    if (!c.ownerField.isEmpty() && !who.admin) {
        where += QStringLiteral(" AND ") + quoteIdentifier(c.ownerField) + QStringLiteral(" = ?");
        binds.append(QVariant(qlonglong(who.userId)));
    }
    QByteArray body;
    JsonWriter out(body);
    bool more = false;
    auto rows = writeRows(sql, c, selection.value(), where, binds, QString(), 1, who, out, nullptr,
                          {}, &more);
    if (!rows.ok())
        return rows.error();
    if (body.isEmpty())
        return Error{ErrorCode::NotFound,
                     QStringLiteral("%1 has no row with id %2").arg(c.name).arg(id)};
    return body;
}

Result<QByteArray> CollectionStore::currentRow(SqlSession &sql, const CollectionDef &c, qint64 id,
                                               const Principal &who) const
{
    return get(sql, c, id, QString(), QString(), who);
}

Result<bool> CollectionStore::ownerCheck(SqlSession &sql, const FieldDef &reference,
                                         const QVariant &id, const Principal &who) const
{
    const CollectionDef *target = m_schema.collection(reference.references);
    if (!target || id.isNull())
        return true;
    QString text =
        QStringLiteral("SELECT 1 FROM %1 WHERE \"id\" = ?").arg(quoteIdentifier(target->name));
    QVariantList binds{id};
    if (!target->ownerField.isEmpty() && !who.admin) {
        text +=
            QStringLiteral(" AND ") + quoteIdentifier(target->ownerField) + QStringLiteral(" = ?");
        binds.append(QVariant(qlonglong(who.userId)));
    }
    auto q = sql.exec(text, binds);
    if (!q.ok())
        return q.error();
    const bool found = q.value()->next();
    q.value()->finish();
    return found;
}

Result<CollectionStore::Written>
CollectionStore::write(SqlSession &sql, const CollectionDef &c, WriteMode mode, qint64 id,
                       const QJsonObject &body, const Principal &who, const QByteArray &ifMatch,
                       bool returnRow) const
{
    // Validate everything first; report every invalid field at once.
    QJsonObject fieldErrors;
    QStringList names;
    QVariantList values;
    for (auto it = body.begin(); it != body.end(); ++it) {
        if (it.key() == QLatin1String("id") || it.key() == QLatin1String("created_at") ||
            it.key() == QLatin1String("updated_at")) {
            fieldErrors.insert(it.key(), QStringLiteral("is set by the server"));
            continue;
        }
        const FieldDef *f = c.field(it.key());
        if (!f) {
            fieldErrors.insert(it.key(), QStringLiteral("unknown field"));
            continue;
        }
        if (f->isOwner && !who.admin) {
            if (it.value().toDouble() != double(who.userId))
                fieldErrors.insert(it.key(),
                                   QStringLiteral("is set by the server to your user id"));
            continue;
        }
        QString message;
        auto v = fromJson(*f, it.value(), &message);
        if (!v) {
            fieldErrors.insert(it.key(), message);
            continue;
        }
        names.append(f->name);
        values.append(*v);
    }
    if (mode != WriteMode::Patch) {
        for (const FieldDef &f : c.fields) {
            if (names.contains(f.name) || fieldErrors.contains(f.name))
                continue;
            if (f.isOwner) {
                if (mode == WriteMode::Create || who.admin) {
                    if (!who.admin || mode == WriteMode::Create) {
                        names.append(f.name);
                        values.append(QVariant(qlonglong(who.userId)));
                    }
                }
                continue;
            }
            if (!f.defaultValue.isUndefined()) {
                QString ignored;
                if (auto v = fromJson(f, f.defaultValue, &ignored)) {
                    names.append(f.name);
                    values.append(*v);
                }
            } else if (f.required) {
                fieldErrors.insert(f.name, QStringLiteral("is required"));
            } else if (mode == WriteMode::Replace) {
                names.append(f.name);
                values.append(typedNull(f.type));
            }
        }
    }
    if (!fieldErrors.isEmpty())
        return Error{
            ErrorCode::Unprocessable,
            QStringLiteral("%1 invalid field(s) in the %2 row").arg(fieldErrors.size()).arg(c.name),
            QJsonObject{{QStringLiteral("fields"), fieldErrors}}};

    WriteScope scope(sql);
    if (auto begun = scope.begin(); !begun.ok())
        return begun.error();
    auto failed = [&scope](Error e) { return scope.fail(std::move(e)); };
    // References written by a non-admin must point at rows they may see.
    for (int i = 0; i < names.size(); ++i) {
        const FieldDef *f = c.field(names.at(i));
        if (f->references.isEmpty() || f->isOwner)
            continue;
        auto visible = ownerCheck(sql, *f, values.at(i), who);
        if (!visible.ok())
            return failed(visible.error());
        if (!visible.value())
            return failed(
                Error{ErrorCode::Unprocessable, QStringLiteral("invalid reference"),
                      QJsonObject{{QStringLiteral("fields"),
                                   QJsonObject{{f->name, QStringLiteral("%1 has no row with id %2")
                                                             .arg(f->references)
                                                             .arg(values.at(i).toLongLong())}}}}});
    }
    const QString now = QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
    qint64 rowId = id;
    if (mode == WriteMode::Create) {
        QStringList marks;
        for (int i = 0; i < names.size() + 2; ++i)
            marks.append(QStringLiteral("?"));
        QVariantList binds{now, now};
        binds += values;
        const QString text =
            QStringLiteral("INSERT INTO %1 (\"created_at\", \"updated_at\"%2) "
                           "VALUES (%3) RETURNING \"id\"")
                .arg(quoteIdentifier(c.name),
                     names.isEmpty() ? QString() : QStringLiteral(", ") + columnList(names),
                     marks.join(QStringLiteral(", ")));
        auto q = sql.exec(text, binds);
        if (!q.ok())
            return failed(q.error());
        rowId = q.value()->next() ? q.value()->value(0).toLongLong() : 0;
        q.value()->finish();
    } else {
        if (!ifMatch.isEmpty()) {
            auto current = currentRow(sql, c, id, who);
            if (!current.ok())
                return failed(current.error());
            if (!etagMatches(ifMatch, etag(current.value()), false))
                return failed(Error{ErrorCode::PreconditionFailed,
                                    QStringLiteral("the row has changed since you read it "
                                                   "(If-Match does not match its ETag)")});
        }
        QStringList sets{QStringLiteral("\"updated_at\" = ?")};
        QVariantList binds{now};
        for (int i = 0; i < names.size(); ++i) {
            sets.append(quoteIdentifier(names.at(i)) + QStringLiteral(" = ?"));
            binds.append(values.at(i));
        }
        QString where = QStringLiteral("\"id\" = ?");
        binds.append(QVariant(qlonglong(id)));
        if (!c.ownerField.isEmpty() && !who.admin) {
            where +=
                QStringLiteral(" AND ") + quoteIdentifier(c.ownerField) + QStringLiteral(" = ?");
            binds.append(QVariant(qlonglong(who.userId)));
        }
        auto q = sql.exec(QStringLiteral("UPDATE %1 SET %2 WHERE %3")
                              .arg(quoteIdentifier(c.name), sets.join(QStringLiteral(", ")), where),
                          binds);
        if (!q.ok())
            return failed(q.error());
        if (q.value()->numRowsAffected() == 0)
            return failed(Error{ErrorCode::NotFound,
                                QStringLiteral("%1 has no row with id %2").arg(c.name).arg(id)});
    }
    sql.markChanged(c.name);
    Written written;
    written.id = rowId;
    if (returnRow || !ifMatch.isEmpty()) {
        auto row = currentRow(sql, c, rowId, who);
        if (!row.ok())
            return failed(row.error());
        written.body = row.value();
    }
    if (auto committed = scope.commit(); !committed.ok())
        return committed.error();
    return written;
}

Result<bool> CollectionStore::remove(SqlSession &sql, const CollectionDef &c, qint64 id,
                                     const Principal &who, const QByteArray &ifMatch) const
{
    WriteScope scope(sql);
    if (auto begun = scope.begin(); !begun.ok())
        return begun.error();
    auto failed = [&scope](Error e) { return scope.fail(std::move(e)); };
    if (!ifMatch.isEmpty()) {
        auto current = currentRow(sql, c, id, who);
        if (!current.ok())
            return failed(current.error());
        if (!etagMatches(ifMatch, etag(current.value()), false))
            return failed(Error{ErrorCode::PreconditionFailed,
                                QStringLiteral("the row has changed since you read it (If-Match "
                                               "does not match its ETag)")});
    }
    QString where = QStringLiteral("\"id\" = ?");
    QVariantList binds{QVariant(qlonglong(id))};
    if (!c.ownerField.isEmpty() && !who.admin) {
        where += QStringLiteral(" AND ") + quoteIdentifier(c.ownerField) + QStringLiteral(" = ?");
        binds.append(QVariant(qlonglong(who.userId)));
    }
    auto q = sql.exec(QStringLiteral("DELETE FROM %1 WHERE %2").arg(quoteIdentifier(c.name), where),
                      binds);
    if (!q.ok()) {
        Error e = q.error();
        if (e.code == ErrorCode::Unprocessable) // a restricting reference
            e = Error{
                ErrorCode::Conflict,
                QStringLiteral("other rows refer to %1 %2; delete them first").arg(c.name).arg(id)};
        return failed(e);
    }
    if (q.value()->numRowsAffected() == 0)
        return failed(Error{ErrorCode::NotFound,
                            QStringLiteral("%1 has no row with id %2").arg(c.name).arg(id)});
    for (const QString &changed : m_schema.changedByDelete(c.name))
        sql.markChanged(changed);
    if (auto committed = scope.commit(); !committed.ok())
        return committed.error();
    return true;
}

Result<QByteArray> CollectionStore::batch(SqlSession &sql, const QJsonArray &operations,
                                          const Principal &who) const
{
    if (operations.size() > m_limits.maxBatch)
        return Error{ErrorCode::PayloadTooLarge,
                     QStringLiteral("a batch holds at most %1 operations; this one has %2")
                         .arg(m_limits.maxBatch)
                         .arg(operations.size())};
    if (auto begun = sql.beginWrite(); !begun.ok())
        return begun.error();
    QByteArray body;
    JsonWriter out(body);
    out.beginObject();
    out.key(QLatin1StringView("results"));
    out.beginArray();
    for (int i = 0; i < operations.size(); ++i) {
        const QJsonObject op = operations.at(i).toObject();
        const QString kind = op.value(QStringLiteral("op")).toString();
        const QString name = op.value(QStringLiteral("collection")).toString();
        const CollectionDef *c = m_schema.collection(name);
        auto fail = [&](const Error &e) -> Error {
            sql.rollback();
            Error wrapped = e;
            wrapped.message = QStringLiteral("operation %1 failed, nothing was applied: %2")
                                  .arg(i)
                                  .arg(e.message);
            QJsonObject detail = e.details;
            detail.insert(QStringLiteral("code"), errorCodeName(e.code));
            detail.insert(QStringLiteral("message"), e.message);
            wrapped.details =
                QJsonObject{{QStringLiteral("index"), i}, {QStringLiteral("operation"), detail}};
            return wrapped;
        };
        if (!c)
            return fail(
                Error{ErrorCode::NotFound, QStringLiteral("unknown collection \"%1\"").arg(name)});
        const qint64 id = qint64(op.value(QStringLiteral("id")).toDouble());
        const QJsonObject data = op.value(QStringLiteral("data")).toObject();
        if (kind == QLatin1String("create") || kind == QLatin1String("update") ||
            kind == QLatin1String("replace")) {
            if (!op.value(QStringLiteral("data")).isObject())
                return fail(
                    Error{ErrorCode::BadRequest, QStringLiteral("\"data\" must be an object")});
            if (kind != QLatin1String("create") && id <= 0)
                return fail(Error{ErrorCode::BadRequest, QStringLiteral("\"id\" is required")});
            const WriteMode mode = kind == QLatin1String("create")   ? WriteMode::Create
                                   : kind == QLatin1String("update") ? WriteMode::Patch
                                                                     : WriteMode::Replace;
            auto written = write(sql, *c, mode, id, data, who, QByteArray(), false);
            if (!written.ok())
                return fail(written.error());
            out.beginObject();
            out.key(QLatin1StringView("status"));
            out.integer(mode == WriteMode::Create ? 201 : 200);
            out.key(QLatin1StringView("id"));
            out.integer(written.value().id);
            out.endObject();
        } else if (kind == QLatin1String("delete")) {
            if (id <= 0)
                return fail(Error{ErrorCode::BadRequest, QStringLiteral("\"id\" is required")});
            auto removed = remove(sql, *c, id, who, QByteArray());
            if (!removed.ok())
                return fail(removed.error());
            out.beginObject();
            out.key(QLatin1StringView("status"));
            out.integer(204);
            out.key(QLatin1StringView("id"));
            out.integer(id);
            out.endObject();
        } else {
            return fail(Error{ErrorCode::BadRequest,
                              QStringLiteral("\"op\" must be create, update, replace or delete")});
        }
    }
    out.endArray();
    out.endObject();
    if (auto committed = sql.commit(); !committed.ok())
        return committed.error();
    return body;
}

Result<bool> CollectionStore::exportOwned(SqlSession &sql, qint64 userId, JsonWriter &out) const
{
    const Principal owner{userId, false};
    for (const QString &name : m_schema.dependencyOrder()) {
        const CollectionDef *c = m_schema.collection(name);
        if (c->ownerField.isEmpty())
            continue;
        out.key(c->name);
        out.beginArray();
        Selection all;
        all.shown = columns(*c);
        bool more = false;
        auto rows = writeRows(sql, *c, all, quoteIdentifier(c->ownerField) + QStringLiteral(" = ?"),
                              {QVariant(qlonglong(userId))}, QStringLiteral(" ORDER BY \"id\""),
                              std::numeric_limits<int>::max(), owner, out, nullptr, {}, &more);
        if (!rows.ok())
            return rows.error();
        out.endArray();
    }
    return true;
}

Result<QJsonObject> CollectionStore::deleteOwned(SqlSession &sql, qint64 userId) const
{
    QJsonObject counts;
    QStringList order = m_schema.dependencyOrder();
    std::reverse(order.begin(), order.end()); // children first
    for (const QString &name : std::as_const(order)) {
        const CollectionDef *c = m_schema.collection(name);
        if (c->ownerField.isEmpty())
            continue;
        auto q = sql.exec(QStringLiteral("DELETE FROM %1 WHERE %2 = ?")
                              .arg(quoteIdentifier(c->name), quoteIdentifier(c->ownerField)),
                          {QVariant(qlonglong(userId))});
        if (!q.ok())
            return q.error();
        counts.insert(c->name, double(q.value()->numRowsAffected()));
        for (const QString &changed : m_schema.changedByDelete(c->name))
            sql.markChanged(changed);
    }
    return counts;
}

} // namespace bulwark
