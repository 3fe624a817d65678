// SPDX-License-Identifier: GPL-3.0-or-later
// See CollectionSchema.h. The parser collects every semantic error it finds instead of
// stopping at the first, so a schema file is fixed in one round.
#include "CollectionSchema.h"

#include "ConfigLoader.h"

#include <QDateTime>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSet>

namespace bulwark {

QString fieldTypeName(FieldType type)
{
    switch (type) {
    case FieldType::Text: return QStringLiteral("text");
    case FieldType::Integer: return QStringLiteral("integer");
    case FieldType::Real: return QStringLiteral("real");
    case FieldType::Boolean: return QStringLiteral("boolean");
    case FieldType::DateTime: return QStringLiteral("datetime");
    case FieldType::Json: return QStringLiteral("json");
    }
    return {};
}

std::optional<QString> normaliseDateTime(const QString &text)
{
    QDateTime t = QDateTime::fromString(text, Qt::ISODateWithMs);
    if (!t.isValid())
        t = QDateTime::fromString(text, Qt::ISODate);
    if (!t.isValid())
        return std::nullopt;
    if (t.timeSpec() == Qt::LocalTime)
        t.setTimeSpec(Qt::UTC);
    return t.toUTC().toString(Qt::ISODateWithMs);
}

QString onDeleteName(OnDelete action)
{
    switch (action) {
    case OnDelete::Cascade: return QStringLiteral("cascade");
    case OnDelete::SetNull: return QStringLiteral("set_null");
    case OnDelete::Restrict: return QStringLiteral("restrict");
    }
    return {};
}

const FieldDef *CollectionDef::field(QStringView name) const
{
    for (const FieldDef &f : fields)
        if (f.name == name)
            return &f;
    return nullptr;
}

bool CollectionDef::hasColumn(QStringView name) const
{
    return name == u"id" || name == u"created_at" || name == u"updated_at" || field(name);
}

const CollectionDef *CollectionSchema::collection(QStringView name) const
{
    for (const CollectionDef &c : m_collections)
        if (c.name == name)
            return &c;
    return nullptr;
}

const ReportDef *CollectionSchema::report(QStringView name) const
{
    for (const ReportDef &r : m_reports)
        if (r.name == name)
            return &r;
    return nullptr;
}

QList<CollectionSchema::BackReference> CollectionSchema::backReferences(QStringView target) const
{
    QList<BackReference> out;
    for (const CollectionDef &c : m_collections)
        for (const FieldDef &f : c.fields)
            if (f.references == target && !f.isOwner)
                out.append({c.name, f.name});
    return out;
}

QStringList CollectionSchema::changedByDelete(const QString &collection) const
{
    QStringList changed{collection};
    QStringList deleted{collection}; // rows removed: their children are affected in turn
    for (qsizetype i = 0; i < deleted.size(); ++i) {
        for (const BackReference &back : backReferences(deleted.at(i))) {
            const OnDelete action = this->collection(back.collection)->field(back.field)->onDelete;
            if (action == OnDelete::Restrict)
                continue;
            if (!changed.contains(back.collection))
                changed.append(back.collection);
            if (action == OnDelete::Cascade && !deleted.contains(back.collection))
                deleted.append(back.collection);
        }
    }
    return changed;
}

namespace {
// Collections in an order where each comes after those it references (references to
// "users" and to itself do not count). Collections left out of the order are on a cycle.
QStringList referenceOrder(const QList<CollectionDef> &collections)
{
    QStringList order;
    bool progress = true;
    while (progress && order.size() < collections.size()) {
        progress = false;
        for (const CollectionDef &c : collections) {
            if (order.contains(c.name))
                continue;
            bool ready = true;
            for (const FieldDef &f : c.fields)
                ready =
                    ready && (f.references.isEmpty() || f.references == QLatin1String("users") ||
                              f.references == c.name || order.contains(f.references));
            if (ready) {
                order.append(c.name);
                progress = true;
            }
        }
    }
    return order;
}
} // namespace

QStringList CollectionSchema::dependencyOrder() const
{
    return referenceOrder(m_collections); // complete: parse() rejects cycles
}

namespace {

const QRegularExpression &identifierPattern()
{
    static const QRegularExpression re(QStringLiteral("^[a-z_][a-z0-9_]{0,62}$"));
    return re;
}

// Names that the API or the internal tables already use.
bool reservedCollectionName(const QString &name)
{
    static const QSet<QString> reserved{QStringLiteral("users"),
                                        QStringLiteral("api_keys"),
                                        QStringLiteral("audit_log"),
                                        QStringLiteral("schema_migrations"),
                                        QStringLiteral("collection_definitions"),
                                        QStringLiteral("batch"),
                                        QStringLiteral("reports"),
                                        QStringLiteral("me"),
                                        QStringLiteral("auth"),
                                        QStringLiteral("jobs")};
    return reserved.contains(name) || name.startsWith(QLatin1String("sqlite_")) ||
           name.startsWith(QLatin1String("pg_"));
}

std::optional<FieldType> parseType(const QString &text)
{
    static const QHash<QString, FieldType> types{{QStringLiteral("text"), FieldType::Text},
                                                 {QStringLiteral("integer"), FieldType::Integer},
                                                 {QStringLiteral("real"), FieldType::Real},
                                                 {QStringLiteral("boolean"), FieldType::Boolean},
                                                 {QStringLiteral("datetime"), FieldType::DateTime},
                                                 {QStringLiteral("json"), FieldType::Json}};
    const auto it = types.find(text);
    if (it == types.end())
        return std::nullopt;
    return *it;
}

// Whether `text` has the placeholder :name as a whole word (":p" is not in ":pp").
bool usesPlaceholder(const QString &text, const QString &name)
{
    const QRegularExpression re(QStringLiteral(":%1(?![A-Za-z0-9_])").arg(name));
    return re.match(text).hasMatch();
}

class Parser
{
public:
    explicit Parser(QString origin) : m_origin(std::move(origin)) {}
    QStringList errors;

    void error(const QString &path, const QString &message)
    {
        errors.append(QStringLiteral("%1: %2: %3").arg(m_origin, path, message));
    }

    // Reports keys of `object` not in `allowed`.
    void onlyKeys(const QJsonObject &object, const QString &path, const QStringList &allowed)
    {
        for (auto it = object.begin(); it != object.end(); ++it)
            if (!allowed.contains(it.key()))
                error(path, QStringLiteral("unknown key \"%1\" (expected one of: %2)")
                                .arg(it.key(), allowed.join(QStringLiteral(", "))));
    }

    std::optional<FieldDef> field(const QString &name, const QJsonValue &value, const QString &path)
    {
        if (!value.isObject()) {
            error(path, QStringLiteral("must be an object such as {\"type\": \"text\"}"));
            return std::nullopt;
        }
        const QJsonObject o = value.toObject();
        onlyKeys(o, path,
                 {QStringLiteral("type"), QStringLiteral("required"), QStringLiteral("unique"),
                  QStringLiteral("default"), QStringLiteral("references"),
                  QStringLiteral("on_delete"), QStringLiteral("min"), QStringLiteral("max"),
                  QStringLiteral("choices")});
        FieldDef f;
        f.name = name;
        if (!identifierPattern().match(name).hasMatch())
            error(path, QStringLiteral("field names are lower-case letters, digits and _ "
                                       "(at most 63, not starting with a digit)"));
        if (name == QLatin1String("id") || name == QLatin1String("created_at") ||
            name == QLatin1String("updated_at"))
            error(path,
                  QStringLiteral("\"%1\" is maintained by Bulwark; do not declare it").arg(name));
        const auto type = parseType(o.value(QStringLiteral("type")).toString());
        if (!type)
            error(path + QStringLiteral(".type"),
                  QStringLiteral("must be one of text, integer, real, boolean, datetime, json"));
        else
            f.type = *type;
        f.required = o.value(QStringLiteral("required")).toBool(false);
        f.unique = o.value(QStringLiteral("unique")).toBool(false);
        f.defaultValue = o.value(QStringLiteral("default"));
        if (f.defaultValue.isNull())
            f.defaultValue = QJsonValue(QJsonValue::Undefined);
        if (o.contains(QStringLiteral("references"))) {
            f.references = o.value(QStringLiteral("references")).toString();
            if (f.type != FieldType::Integer)
                error(path + QStringLiteral(".references"),
                      QStringLiteral("a reference must be of type integer"));
            const QString onDelete =
                o.value(QStringLiteral("on_delete")).toString(QStringLiteral("restrict"));
            if (onDelete == QLatin1String("cascade"))
                f.onDelete = OnDelete::Cascade;
            else if (onDelete == QLatin1String("set_null"))
                f.onDelete = OnDelete::SetNull;
            else if (onDelete == QLatin1String("restrict"))
                f.onDelete = OnDelete::Restrict;
            else
                error(path + QStringLiteral(".on_delete"),
                      QStringLiteral("must be cascade, set_null or restrict"));
            if (f.onDelete == OnDelete::SetNull && f.required)
                error(path + QStringLiteral(".on_delete"),
                      QStringLiteral("set_null needs a field that is not required"));
        } else if (o.contains(QStringLiteral("on_delete"))) {
            error(path + QStringLiteral(".on_delete"),
                  QStringLiteral("only a field with \"references\" has on_delete"));
        }
        for (const char *bound : {"min", "max"}) {
            const QJsonValue v = o.value(QLatin1String(bound));
            if (v.isUndefined())
                continue;
            if (!v.isDouble() || (f.type != FieldType::Integer && f.type != FieldType::Real &&
                                  f.type != FieldType::Text)) {
                error(path + u'.' + QLatin1String(bound),
                      QStringLiteral("must be a number, on an integer, real or text field"));
                continue;
            }
            (qstrcmp(bound, "min") == 0 ? f.min : f.max) = v.toDouble();
        }
        if (o.contains(QStringLiteral("choices"))) {
            const QJsonArray choices = o.value(QStringLiteral("choices")).toArray();
            if (f.type != FieldType::Text || choices.isEmpty())
                error(path + QStringLiteral(".choices"),
                      QStringLiteral("must be a non-empty list of strings, on a text field"));
            for (const QJsonValue &c : choices)
                f.choices.append(c.toString());
        }
        if (!f.defaultValue.isUndefined()) {
            const QJsonValue d = f.defaultValue;
            const bool ok = (f.type == FieldType::Text && d.isString()) ||
                            (f.type == FieldType::DateTime && d.isString()) ||
                            (f.type == FieldType::Integer && d.isDouble() &&
                             d.toDouble() == double(qint64(d.toDouble()))) ||
                            (f.type == FieldType::Real && d.isDouble()) ||
                            (f.type == FieldType::Boolean && d.isBool()) ||
                            f.type == FieldType::Json;
            if (!ok)
                error(
                    path + QStringLiteral(".default"),
                    QStringLiteral("does not match the field type %1").arg(fieldTypeName(f.type)));
        }
        return f;
    }

    std::optional<CollectionDef> collection(const QString &name, const QJsonValue &value,
                                            const QString &path)
    {
        if (!value.isObject()) {
            error(path, QStringLiteral("must be an object with \"fields\""));
            return std::nullopt;
        }
        const QJsonObject o = value.toObject();
        onlyKeys(o, path,
                 {QStringLiteral("fields"), QStringLiteral("owner"), QStringLiteral("indexes"),
                  QStringLiteral("default_sort"), QStringLiteral("description")});
        CollectionDef c;
        c.name = name;
        if (!identifierPattern().match(name).hasMatch())
            error(path, QStringLiteral("collection names are lower-case letters, digits and _ "
                                       "(at most 63, not starting with a digit)"));
        else if (reservedCollectionName(name))
            error(path, QStringLiteral("\"%1\" is reserved by Bulwark").arg(name));
        const QJsonObject fields = o.value(QStringLiteral("fields")).toObject();
        if (fields.isEmpty())
            error(path + QStringLiteral(".fields"), QStringLiteral("declare at least one field"));
        if (o.contains(QStringLiteral("owner"))) {
            c.ownerField = o.value(QStringLiteral("owner")).toString();
            if (!identifierPattern().match(c.ownerField).hasMatch() ||
                fields.contains(c.ownerField))
                error(path + QStringLiteral(".owner"),
                      QStringLiteral("must name a new field (Bulwark adds it: an integer "
                                     "referencing users, deleted with the user)"));
            FieldDef owner;
            owner.name = c.ownerField;
            owner.type = FieldType::Integer;
            owner.required = true;
            owner.references = QStringLiteral("users");
            owner.onDelete = OnDelete::Cascade;
            owner.isOwner = true;
            c.fields.append(owner);
        }
        for (auto it = fields.begin(); it != fields.end(); ++it)
            if (auto f = field(it.key(), it.value(), path + QStringLiteral(".fields.") + it.key()))
                c.fields.append(*f);
        const QJsonArray indexes = o.value(QStringLiteral("indexes")).toArray();
        for (int i = 0; i < indexes.size(); ++i) {
            const QString ipath = path + QStringLiteral(".indexes[%1]").arg(i);
            const QJsonObject io = indexes.at(i).toObject();
            onlyKeys(io, ipath,
                     {QStringLiteral("fields"), QStringLiteral("unique"), QStringLiteral("name")});
            IndexDef index;
            index.unique = io.value(QStringLiteral("unique")).toBool(false);
            for (const QJsonValue &f : io.value(QStringLiteral("fields")).toArray())
                index.fields.append(f.toString());
            if (index.fields.isEmpty())
                error(ipath + QStringLiteral(".fields"),
                      QStringLiteral("list the fields of the index"));
            for (const QString &f : std::as_const(index.fields))
                if (!c.hasColumn(f))
                    error(ipath + QStringLiteral(".fields"),
                          QStringLiteral("unknown field \"%1\"").arg(f));
            index.name = io.value(QStringLiteral("name")).toString();
            if (index.name.isEmpty())
                index.name = name + u'_' + index.fields.join(u'_');
            else if (!identifierPattern().match(index.name).hasMatch())
                error(ipath + QStringLiteral(".name"),
                      QStringLiteral("index names are lower-case letters, digits and _"));
            c.indexes.append(index);
        }
        // References get an index of their own unless one starts with them: expand and the
        // deletes that follow references look rows up by them.
        for (const FieldDef &f : std::as_const(c.fields)) {
            if (f.references.isEmpty())
                continue;
            bool covered = false;
            for (const IndexDef &index : std::as_const(c.indexes))
                covered = covered || index.fields.first() == f.name;
            if (!covered)
                c.indexes.append({name + u'_' + f.name, {f.name}, false});
        }
        c.defaultSort = o.value(QStringLiteral("default_sort")).toString(QStringLiteral("-id"));
        for (QString key : c.defaultSort.split(u',')) {
            if (key.startsWith(u'-'))
                key.remove(0, 1);
            if (!c.hasColumn(key))
                error(path + QStringLiteral(".default_sort"),
                      QStringLiteral("unknown field \"%1\"").arg(key));
            else if (const FieldDef *f = c.field(key); f && f->type == FieldType::Json)
                error(path + QStringLiteral(".default_sort"),
                      QStringLiteral("json field \"%1\" cannot be sorted on").arg(key));
        }
        return c;
    }

    std::optional<ReportDef> report(const QString &name, const QJsonValue &value,
                                    const QString &path)
    {
        const QJsonObject o = value.toObject();
        onlyKeys(o, path,
                 {QStringLiteral("description"), QStringLiteral("sql"), QStringLiteral("params"),
                  QStringLiteral("depends_on")});
        ReportDef r;
        r.name = name;
        if (!identifierPattern().match(name).hasMatch())
            error(path, QStringLiteral("report names are lower-case letters, digits and _"));
        r.description = o.value(QStringLiteral("description")).toString();
        const QJsonObject params = o.value(QStringLiteral("params")).toObject();
        for (auto it = params.begin(); it != params.end(); ++it) {
            const QString ppath = path + QStringLiteral(".params.") + it.key();
            const QJsonObject po = it.value().toObject();
            onlyKeys(
                po, ppath,
                {QStringLiteral("type"), QStringLiteral("required"), QStringLiteral("default")});
            ReportParam p;
            p.name = it.key();
            if (!identifierPattern().match(p.name).hasMatch() || p.name == QLatin1String("owner"))
                error(ppath, QStringLiteral("parameter names are lower-case letters, digits and "
                                            "_, and \"owner\" is reserved"));
            const auto type = parseType(po.value(QStringLiteral("type")).toString());
            if (!type || *type == FieldType::Json)
                error(ppath + QStringLiteral(".type"),
                      QStringLiteral("must be one of text, integer, real, boolean, datetime"));
            else
                p.type = *type;
            p.defaultValue = po.value(QStringLiteral("default"));
            p.required = po.value(QStringLiteral("required")).toBool(p.defaultValue.isUndefined());
            r.params.append(p);
        }
        for (const QJsonValue &d : o.value(QStringLiteral("depends_on")).toArray())
            r.dependsOn.append(d.toString());
        // One SQL text for both databases, or one per dialect.
        const QJsonValue sql = o.value(QStringLiteral("sql"));
        if (sql.isString()) {
            m_reportSql[name] = {{QStringLiteral("sqlite"), sql.toString()},
                                 {QStringLiteral("postgres"), sql.toString()}};
        } else if (sql.isObject()) {
            const QJsonObject so = sql.toObject();
            onlyKeys(so, path + QStringLiteral(".sql"),
                     {QStringLiteral("sqlite"), QStringLiteral("postgres")});
            for (auto it = so.begin(); it != so.end(); ++it)
                m_reportSql[name][it.key()] = it.value().toString();
            if (so.size() != 2)
                error(path + QStringLiteral(".sql"),
                      QStringLiteral("give the SQL for both \"sqlite\" and \"postgres\""));
        } else {
            error(path + QStringLiteral(".sql"),
                  QStringLiteral("must be a SELECT statement, or an object with one per database"));
        }
        // One check per distinct text (one SQL for both databases is checked once).
        QStringList texts = m_reportSql.value(name).values();
        texts.removeDuplicates();
        for (const QString &text : std::as_const(texts)) {
            const QString head = text.trimmed().left(6).toUpper();
            if (!(head.startsWith(QLatin1String("SELECT")) ||
                  head.startsWith(QLatin1String("WITH"))) ||
                text.trimmed().chopped(text.trimmed().endsWith(u';') ? 1 : 0).contains(u';'))
                error(path + QStringLiteral(".sql"),
                      QStringLiteral("a report is one read-only SELECT (or WITH ... SELECT) "
                                     "statement"));
            if (usesPlaceholder(text, QStringLiteral("owner")))
                r.ownerScoped = true;
            for (const ReportParam &p : std::as_const(r.params))
                if (!usesPlaceholder(text, p.name))
                    error(path + QStringLiteral(".params.") + p.name,
                          QStringLiteral("is not used in the SQL (write it as :%1)").arg(p.name));
        }
        return r;
    }

    QHash<QString, QHash<QString, QString>> m_reportSql; // report -> dialect -> SQL

private:
    QString m_origin;
};

} // namespace

Result<CollectionSchema, QStringList> CollectionSchema::parse(const QByteArray &json,
                                                              const QString &origin)
{
    const QByteArray cleaned = ConfigLoader::blankComments(json);
    QJsonParseError parseError{};
    const QJsonDocument doc = QJsonDocument::fromJson(cleaned, &parseError);
    if (parseError.error != QJsonParseError::NoError) {
        int line = 1, column = 1;
        for (int i = 0; i < qMin<int>(parseError.offset, cleaned.size()); ++i) {
            if (cleaned[i] == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
        return QStringList{QStringLiteral("%1:%2:%3: %4")
                               .arg(origin)
                               .arg(line)
                               .arg(column)
                               .arg(parseError.errorString())};
    }
    if (!doc.isObject())
        return QStringList{QStringLiteral("%1: the schema must be a JSON object").arg(origin)};
    Parser parser(origin);
    const QJsonObject root = doc.object();
    parser.onlyKeys(
        root, QStringLiteral("(top level)"),
        {QStringLiteral("collections"), QStringLiteral("reports"), QStringLiteral("description")});
    CollectionSchema schema;
    const QJsonObject collections = root.value(QStringLiteral("collections")).toObject();
    for (auto it = collections.begin(); it != collections.end(); ++it)
        if (auto c =
                parser.collection(it.key(), it.value(), QStringLiteral("collections.") + it.key()))
            schema.m_collections.append(*c);

    // Cross-collection checks: references name a collection; no cycles (besides a
    // collection referencing itself), so that deletes can follow references in order.
    for (const CollectionDef &c : std::as_const(schema.m_collections))
        for (const FieldDef &f : c.fields)
            if (!f.references.isEmpty() && f.references != QLatin1String("users") &&
                !schema.collection(f.references))
                parser.error(
                    QStringLiteral("collections.%1.fields.%2.references").arg(c.name, f.name),
                    QStringLiteral("unknown collection \"%1\"").arg(f.references));
    if (parser.errors.isEmpty()) {
        const QStringList ordered = referenceOrder(schema.m_collections);
        for (const CollectionDef &c : std::as_const(schema.m_collections))
            if (!ordered.contains(c.name))
                parser.error(QStringLiteral("collections.%1").arg(c.name),
                             QStringLiteral("its references form a cycle"));
    }

    const QJsonObject reports = root.value(QStringLiteral("reports")).toObject();
    for (auto it = reports.begin(); it != reports.end(); ++it)
        if (auto r = parser.report(it.key(), it.value(), QStringLiteral("reports.") + it.key())) {
            for (const QString &d : std::as_const(r->dependsOn)) {
                const CollectionDef *dep = schema.collection(d);
                if (!dep)
                    parser.error(QStringLiteral("reports.%1.depends_on").arg(it.key()),
                                 QStringLiteral("unknown collection \"%1\"").arg(d));
                else if (!dep->ownerField.isEmpty() && !r->ownerScoped)
                    // Reports run for any caller with a key: one over owned rows must be
                    // limited to the caller's own.
                    parser.error(QStringLiteral("reports.%1.sql").arg(it.key()),
                                 QStringLiteral("depends on the owned collection %1, so it must "
                                                "limit its rows with :owner (the caller's user "
                                                "id)")
                                     .arg(d));
            }
            schema.m_reports.append(*r);
        }
    schema.m_reportSql = parser.m_reportSql;
    if (!parser.errors.isEmpty())
        return parser.errors;
    return schema;
}

QString CollectionSchema::reportSql(const QString &report, const QString &dialect) const
{
    return m_reportSql.value(report).value(dialect);
}

Result<CollectionSchema, QStringList> CollectionSchema::load(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return QStringList{QStringLiteral("%1: cannot read: %2").arg(path, file.errorString())};
    return parse(file.readAll(), path);
}

} // namespace bulwark
