// SPDX-License-Identifier: GPL-3.0-or-later
// The schema file parser (CollectionSchema): the demo schema that ships in resources/ parses
// into the collections, owner fields, back-references, dependency order and reports that the
// data API and `bulwark seed` rely on; and each kind of mistake an operator can make in a
// schema file is refused with a message that names the place and the problem, so that a
// bad file stops the server at start instead of becoming surprising SQL. Every identifier a
// request may use is checked against this parse, which is why its refusals matter for
// security as much as for usability (reserved names, identifiers, read-only reports).
//
// Bad files are data-driven rows: one small file per mistake, each expecting a specific part
// of the message. Semantic errors are all collected in one pass; one test checks that
// several are reported together instead of only the first.
#include "CollectionSchema.h"

#include <QFile>
#include <QRegularExpression>
#include <QSet>
#include <QtTest>

using namespace bulwark;

namespace {

// A collection "base" that rows can reference, so each bad row has exactly one mistake.
QByteArray withBase(const QByteArray &collections, const QByteArray &reports = {})
{
    QByteArray out = R"({"collections": {"base": {"fields": {"name": {"type": "text"}}})";
    if (!collections.isEmpty())
        out += ", " + collections;
    out += "}";
    if (!reports.isEmpty())
        out += R"(, "reports": {)" + reports + "}";
    out += "}";
    return out;
}

QString joined(const QStringList &errors)
{
    return errors.join(u'\n');
}

} // namespace

class TestCollectionSchema : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void demoSchemaParses();
    void demoSchemaReports();
    void minimalSchemaDefaults();
    void commentsAreAllowed();
    void syntaxErrorHasLineAndColumn();
    void badSchema_data();
    void badSchema();
    void severalErrorsAreReportedTogether();
    void missingFileIsAnError();

private:
    static CollectionSchema loadDemo();
};

CollectionSchema TestCollectionSchema::loadDemo()
{
    const QString dir = qEnvironmentVariable("BULWARK_SOURCE_DIR");
    if (dir.isEmpty()) {
        QTest::qFail("BULWARK_SOURCE_DIR is not set (ctest sets it)", __FILE__, __LINE__);
        return {};
    }
    const auto loaded = CollectionSchema::load(dir + QStringLiteral("/resources/demo-schema.json"));
    if (!loaded.ok()) {
        QTest::qFail(qPrintable(joined(loaded.error())), __FILE__, __LINE__);
        return {};
    }
    return loaded.value();
}

void TestCollectionSchema::demoSchemaParses()
{
    const CollectionSchema schema = loadDemo();
    if (QTest::currentTestFailed())
        return;

    QStringList names;
    for (const CollectionDef &c : schema.collections())
        names.append(c.name);
    names.sort();
    QCOMPARE(names,
             (QStringList{"activities", "body_measurements", "nutrition_entries", "splits"}));

    // Every demo collection is owned through user_id, an integer referencing users that is
    // required and deleted with the user, and that the back-references do not list.
    for (const CollectionDef &c : schema.collections()) {
        QCOMPARE(c.ownerField, QStringLiteral("user_id"));
        const FieldDef *owner = c.field(u"user_id");
        QVERIFY2(owner, qPrintable(c.name));
        QVERIFY(owner->isOwner);
        QCOMPARE(owner->type, FieldType::Integer);
        QVERIFY(owner->required);
        QCOMPARE(owner->references, QStringLiteral("users"));
        QCOMPARE(owner->onDelete, OnDelete::Cascade);
        QVERIFY(c.hasColumn(u"id"));
        QVERIFY(c.hasColumn(u"created_at"));
        QVERIFY(c.hasColumn(u"updated_at"));
        QVERIFY(!c.hasColumn(u"no_such_field"));
    }

    const CollectionDef *activities = schema.collection(u"activities");
    QVERIFY(activities);
    QCOMPARE(activities->defaultSort, QStringLiteral("-started_at"));
    const FieldDef *sport = activities->field(u"sport");
    QVERIFY(sport);
    QCOMPARE(sport->type, FieldType::Text);
    QVERIFY(sport->required);
    QCOMPARE(sport->choices, (QStringList{"run", "ride", "swim", "walk", "hike"}));
    const FieldDef *duration = activities->field(u"duration_s");
    QVERIFY(duration);
    QCOMPARE(duration->type, FieldType::Integer);
    QCOMPARE(duration->min.value_or(-1), 1.0);
    QCOMPARE(duration->max.value_or(-1), 604800.0);
    const FieldDef *isPrivate = activities->field(u"private");
    QVERIFY(isPrivate);
    QCOMPARE(isPrivate->type, FieldType::Boolean);
    QCOMPARE(isPrivate->defaultValue, QJsonValue(false));
    QCOMPARE(activities->field(u"started_at")->type, FieldType::DateTime);
    QCOMPARE(activities->field(u"distance_m")->type, FieldType::Real);
    QVERIFY(activities->field(u"title")->defaultValue.isUndefined());
    QStringList activityIndexes;
    for (const IndexDef &i : activities->indexes)
        activityIndexes.append(i.name);
    // Declared indexes get generated names; the owner's reference is covered by the
    // (user_id, started_at) index, so no extra one is added for it.
    QVERIFY2(activityIndexes.contains("activities_user_id_started_at") &&
                 activityIndexes.contains("activities_sport_started_at") &&
                 !activityIndexes.contains("activities_user_id"),
             qPrintable(activityIndexes.join(u',')));

    const CollectionDef *splits = schema.collection(u"splits");
    QVERIFY(splits);
    const FieldDef *activityId = splits->field(u"activity_id");
    QVERIFY(activityId);
    QCOMPARE(activityId->references, QStringLiteral("activities"));
    QCOMPARE(activityId->onDelete, OnDelete::Cascade);
    QVERIFY(!activityId->isOwner);
    QCOMPARE(schema.collection(u"body_measurements")->field(u"source")->type, FieldType::Json);
    bool uniqueKm = false;
    for (const IndexDef &i : splits->indexes)
        uniqueKm = uniqueKm || (i.unique && i.fields == QStringList{"activity_id", "km"});
    QVERIFY(uniqueKm);
    // The owner reference is not covered by an index that starts with it: one is added.
    bool ownerIndex = false;
    for (const IndexDef &i : splits->indexes)
        ownerIndex = ownerIndex || i.fields == QStringList{"user_id"};
    QVERIFY(ownerIndex);

    // Back-references: splits point at activities (what `expand=splits` follows); the owner
    // references to users are not back-references.
    const auto back = schema.backReferences(u"activities");
    QCOMPARE(back.size(), 1);
    QCOMPARE(back.first().collection, QStringLiteral("splits"));
    QCOMPARE(back.first().field, QStringLiteral("activity_id"));
    QVERIFY(schema.backReferences(u"splits").isEmpty());
    QVERIFY(schema.backReferences(u"users").isEmpty());
    QVERIFY(schema.backReferences(u"nutrition_entries").isEmpty());

    const QStringList order = schema.dependencyOrder();
    QCOMPARE(order.size(), 4);
    QVERIFY(order.indexOf(QStringLiteral("activities")) < order.indexOf(QStringLiteral("splits")));

    QVERIFY(!schema.collection(u"users"));
    QVERIFY(!schema.collection(u"Activities"));
}

void TestCollectionSchema::demoSchemaReports()
{
    const CollectionSchema schema = loadDemo();
    if (QTest::currentTestFailed())
        return;
    QStringList names;
    for (const ReportDef &r : schema.reports())
        names.append(r.name);
    names.sort();
    QCOMPARE(names, (QStringList{"nutrition_vs_body", "pace_trend", "weekly_distance"}));

    for (const ReportDef &r : schema.reports()) {
        // Every demo report shows only the caller's rows.
        QVERIFY2(r.ownerScoped, qPrintable(r.name));
        QVERIFY2(!r.description.isEmpty(), qPrintable(r.name));
        const QString sqlite = schema.reportSql(r.name, QStringLiteral("sqlite"));
        const QString postgres = schema.reportSql(r.name, QStringLiteral("postgres"));
        QVERIFY2(!sqlite.isEmpty() && !postgres.isEmpty(), qPrintable(r.name));
        QVERIFY2(sqlite != postgres, qPrintable(r.name));
        QVERIFY(sqlite.contains(QLatin1String(":owner")));
        QVERIFY(postgres.contains(QLatin1String(":owner")));
    }
    QVERIFY(schema.reportSql(QStringLiteral("weekly_distance"), QStringLiteral("mysql")).isEmpty());
    QVERIFY(schema.reportSql(QStringLiteral("no_such_report"), QStringLiteral("sqlite")).isEmpty());

    const ReportDef *weekly = schema.report(u"weekly_distance");
    QVERIFY(weekly);
    QCOMPARE(weekly->dependsOn, QStringList{"activities"});
    QCOMPARE(weekly->params.size(), 2);
    for (const ReportParam &p : weekly->params) {
        QCOMPARE(p.type, FieldType::DateTime);
        QVERIFY2(!p.required, qPrintable(p.name)); // they have defaults
        QVERIFY(p.defaultValue.isString());
    }
    const ReportDef *pace = schema.report(u"pace_trend");
    QVERIFY(pace);
    QCOMPARE(pace->dependsOn, QStringList{"activities"});
    const ReportDef *body = schema.report(u"nutrition_vs_body");
    QVERIFY(body);
    QStringList dependsOn = body->dependsOn;
    dependsOn.sort();
    QCOMPARE(dependsOn, (QStringList{"body_measurements", "nutrition_entries"}));
    QVERIFY(!schema.report(u"no_such_report"));
}

void TestCollectionSchema::minimalSchemaDefaults()
{
    const QByteArray json = R"({
      "collections": {
        "teams": {"fields": {"name": {"type": "text", "required": true, "unique": true}}},
        "players": {
          "fields": {
            "team_id": {"type": "integer", "references": "teams"},
            "mentor_id": {"type": "integer", "references": "players", "on_delete": "set_null"},
            "score": {"type": "real", "default": 1.5}
          }
        }
      },
      "reports": {
        "count": {"sql": "SELECT COUNT(*) AS n FROM players WHERE score > :min;",
                  "params": {"min": {"type": "real"}}}
      }
    })";
    const auto parsed = CollectionSchema::parse(json, QStringLiteral("min.json"));
    QVERIFY2(parsed.ok(), qPrintable(parsed.ok() ? QString() : joined(parsed.error())));
    const CollectionSchema &schema = parsed.value();
    const CollectionDef *players = schema.collection(u"players");
    QVERIFY(players);
    QVERIFY(players->ownerField.isEmpty());
    QCOMPARE(players->defaultSort, QStringLiteral("-id"));
    QCOMPARE(players->field(u"team_id")->onDelete, OnDelete::Restrict); // the default
    QCOMPARE(players->field(u"mentor_id")->onDelete, OnDelete::SetNull);
    QCOMPARE(players->field(u"score")->defaultValue, QJsonValue(1.5));
    // References get an index of their own when none starts with them.
    QStringList indexes;
    for (const IndexDef &i : players->indexes)
        indexes.append(i.name);
    indexes.sort();
    QCOMPARE(indexes, (QStringList{"players_mentor_id", "players_team_id"}));
    // A self-reference is not a cycle; teams come before players.
    QCOMPARE(schema.dependencyOrder(), (QStringList{"teams", "players"}));
    QCOMPARE(schema.backReferences(u"teams").size(), 1);
    const ReportDef *count = schema.report(u"count");
    QVERIFY(count);
    QVERIFY(!count->ownerScoped);
    QVERIFY(count->params.first().required); // no default
    // One SQL text (with a trailing ';') serves both databases.
    QCOMPARE(schema.reportSql(QStringLiteral("count"), QStringLiteral("sqlite")),
             schema.reportSql(QStringLiteral("count"), QStringLiteral("postgres")));
}

void TestCollectionSchema::commentsAreAllowed()
{
    const QByteArray json = "// a comment line\n"
                            "{ /* block */ \"collections\": {\n"
                            "  \"notes\": {\"fields\": {\"text\": {\"type\": \"text\"}}} // end\n"
                            "}}\n";
    const auto parsed = CollectionSchema::parse(json, QStringLiteral("c.json"));
    QVERIFY2(parsed.ok(), qPrintable(parsed.ok() ? QString() : joined(parsed.error())));
    QVERIFY(parsed.value().collection(u"notes"));
}

void TestCollectionSchema::syntaxErrorHasLineAndColumn()
{
    // Comments are blanked, not removed, so lines and columns are those of the file. The
    // missing ':' is at line 4; the parser notices it at the value that follows the key.
    const QByteArray json = "// header comment\n"
                            "{\n"
                            "  \"collections\": {\n"
                            "    \"notes\" {\"fields\": {}}\n"
                            "  }\n"
                            "}\n";
    const auto parsed = CollectionSchema::parse(json, QStringLiteral("conf/schema.json"));
    QVERIFY(!parsed.ok());
    QCOMPARE(parsed.error().size(), 1);
    const QString message = parsed.error().first();
    static const QRegularExpression re(QStringLiteral("^conf/schema\\.json:(\\d+):(\\d+): \\S"));
    const auto m = re.match(message);
    QVERIFY2(m.hasMatch(), qPrintable(message));
    QCOMPARE(m.captured(1).toInt(), 4);
    const int column = m.captured(2).toInt();
    // `    "notes" {` : the error is between the end of the key (column 12) and the brace.
    QVERIFY2(column >= 12 && column <= 14, qPrintable(message));
}

void TestCollectionSchema::badSchema_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("expected");

    QTest::newRow("json syntax error")
        << QByteArray("{\"collections\": {\n  \"a\": ,\n}}") << QStringLiteral("bad.json:2:");
    QTest::newRow("top level not an object")
        << QByteArray("[1, 2]") << QStringLiteral("bad.json: the schema must be a JSON object");
    QTest::newRow("unknown top-level key")
        << QByteArray(R"({"collections": {}, "colections": {}})")
        << QStringLiteral("bad.json: (top level): unknown key \"colections\"");
    QTest::newRow("unknown type")
        << withBase(R"("a": {"fields": {"x": {"type": "txt"}}})")
        << QStringLiteral("bad.json: collections.a.fields.x.type: must be one of text, integer");
    QTest::newRow("missing type") << withBase(R"("a": {"fields": {"x": {"required": true}}})")
                                  << QStringLiteral("collections.a.fields.x.type: must be one of");
    QTest::newRow("unknown field key (typo)")
        << withBase(R"("a": {"fields": {"x": {"type": "text", "requird": true}}})")
        << QStringLiteral("collections.a.fields.x: unknown key \"requird\"");
    QTest::newRow("unknown collection key")
        << withBase(R"("a": {"fields": {"x": {"type": "text"}}, "indices": []})")
        << QStringLiteral("collections.a: unknown key \"indices\"");
    QTest::newRow("field not an object") << withBase(R"("a": {"fields": {"x": "text"}})")
                                         << QStringLiteral("collections.a.fields.x: must be an "
                                                           "object");
    QTest::newRow("no fields") << withBase(R"("a": {"fields": {}})")
                               << QStringLiteral("collections.a.fields: declare at least one");
    QTest::newRow("reference to unknown collection")
        << withBase(R"("a": {"fields": {"x": {"type": "integer", "references": "nowhere"}}})")
        << QStringLiteral("collections.a.fields.x.references: unknown collection \"nowhere\"");
    QTest::newRow("reference not integer")
        << withBase(R"("a": {"fields": {"x": {"type": "text", "references": "base"}}})")
        << QStringLiteral("collections.a.fields.x.references: a reference must be of type "
                          "integer");
    QTest::newRow("set_null on required field")
        << withBase(R"("a": {"fields": {"x": {"type": "integer", "references": "base",
                                              "required": true, "on_delete": "set_null"}}})")
        << QStringLiteral("collections.a.fields.x.on_delete: set_null needs a field that is not "
                          "required");
    QTest::newRow("unknown on_delete")
        << withBase(R"("a": {"fields": {"x": {"type": "integer", "references": "base",
                                              "on_delete": "nullify"}}})")
        << QStringLiteral("collections.a.fields.x.on_delete: must be cascade, set_null or "
                          "restrict");
    QTest::newRow("on_delete without references")
        << withBase(R"("a": {"fields": {"x": {"type": "integer", "on_delete": "cascade"}}})")
        << QStringLiteral("only a field with \"references\" has on_delete");
    QTest::newRow("reserved collection name users")
        << withBase(R"("users": {"fields": {"x": {"type": "text"}}})")
        << QStringLiteral("collections.users: \"users\" is reserved by Bulwark");
    QTest::newRow("reserved collection name batch")
        << withBase(R"("batch": {"fields": {"x": {"type": "text"}}})")
        << QStringLiteral("collections.batch: \"batch\" is reserved by Bulwark");
    QTest::newRow("reserved collection name api_keys")
        << withBase(R"("api_keys": {"fields": {"x": {"type": "text"}}})")
        << QStringLiteral("\"api_keys\" is reserved by Bulwark");
    QTest::newRow("reserved prefix sqlite_")
        << withBase(R"("sqlite_stuff": {"fields": {"x": {"type": "text"}}})")
        << QStringLiteral("\"sqlite_stuff\" is reserved by Bulwark");
    QTest::newRow("bad collection identifier")
        << withBase(R"("Bad-Name": {"fields": {"x": {"type": "text"}}})")
        << QStringLiteral("collections.Bad-Name: collection names are lower-case letters");
    QTest::newRow("collection name starting with a digit")
        << withBase(R"("9lives": {"fields": {"x": {"type": "text"}}})")
        << QStringLiteral("collections.9lives: collection names are lower-case letters");
    QTest::newRow("bad field identifier")
        << withBase(R"("a": {"fields": {"x y": {"type": "text"}}})")
        << QStringLiteral("collections.a.fields.x y: field names are lower-case letters");
    QTest::newRow("declaring id") << withBase(R"("a": {"fields": {"id": {"type": "integer"}}})")
                                  << QStringLiteral("collections.a.fields.id: \"id\" is "
                                                    "maintained by Bulwark");
    QTest::newRow("declaring created_at")
        << withBase(R"("a": {"fields": {"created_at": {"type": "datetime"}}})")
        << QStringLiteral("\"created_at\" is maintained by Bulwark");
    QTest::newRow("owner naming a declared field")
        << withBase(R"("a": {"owner": "x", "fields": {"x": {"type": "integer"}}})")
        << QStringLiteral("collections.a.owner: must name a new field");
    QTest::newRow("index on unknown field")
        << withBase(
               R"("a": {"fields": {"x": {"type": "text"}}, "indexes": [{"fields": ["nope"]}]})")
        << QStringLiteral("collections.a.indexes[0].fields: unknown field \"nope\"");
    QTest::newRow("index without fields")
        << withBase(R"("a": {"fields": {"x": {"type": "text"}}, "indexes": [{"unique": true}]})")
        << QStringLiteral("collections.a.indexes[0].fields: list the fields of the index");
    QTest::newRow("default_sort on unknown field")
        << withBase(R"("a": {"fields": {"x": {"type": "text"}}, "default_sort": "-y"})")
        << QStringLiteral("collections.a.default_sort: unknown field \"y\"");
    QTest::newRow("default of wrong type (integer)")
        << withBase(R"("a": {"fields": {"x": {"type": "integer", "default": "seven"}}})")
        << QStringLiteral("collections.a.fields.x.default: does not match the field type "
                          "integer");
    QTest::newRow("default of wrong type (fractional integer)")
        << withBase(R"("a": {"fields": {"x": {"type": "integer", "default": 1.5}}})")
        << QStringLiteral("collections.a.fields.x.default: does not match the field type "
                          "integer");
    QTest::newRow("default of wrong type (boolean)")
        << withBase(R"("a": {"fields": {"x": {"type": "boolean", "default": 1}}})")
        << QStringLiteral("collections.a.fields.x.default: does not match the field type "
                          "boolean");
    QTest::newRow("min on a boolean")
        << withBase(R"("a": {"fields": {"x": {"type": "boolean", "min": 0}}})")
        << QStringLiteral("collections.a.fields.x.min: must be a number, on an integer, real or "
                          "text field");
    QTest::newRow("choices on an integer")
        << withBase(R"("a": {"fields": {"x": {"type": "integer", "choices": ["1"]}}})")
        << QStringLiteral("collections.a.fields.x.choices: must be a non-empty list");
    QTest::newRow("reference cycle a -> b -> a")
        << QByteArray(R"({"collections": {
              "a": {"fields": {"b_id": {"type": "integer", "references": "b"}}},
              "b": {"fields": {"a_id": {"type": "integer", "references": "a"}}}}})")
        << QStringLiteral("collections.a: its references form a cycle");
    QTest::newRow("report that is not a SELECT")
        << withBase({}, R"("r": {"sql": "DELETE FROM base"})")
        << QStringLiteral("reports.r.sql: a report is one read-only SELECT");
    QTest::newRow("report that is not a SELECT (postgres only)")
        << withBase({}, R"("r": {"sql": {"sqlite": "SELECT 1",
                                          "postgres": "UPDATE base SET name = 'x'"}})")
        << QStringLiteral("reports.r.sql: a report is one read-only SELECT");
    QTest::newRow("report with ';' in the middle")
        << withBase({}, R"("r": {"sql": "SELECT 1; DROP TABLE base"})")
        << QStringLiteral("reports.r.sql: a report is one read-only SELECT");
    QTest::newRow("report SQL for one database only")
        << withBase({}, R"("r": {"sql": {"sqlite": "SELECT 1"}})")
        << QStringLiteral("reports.r.sql: give the SQL for both \"sqlite\" and \"postgres\"");
    QTest::newRow("report without SQL") << withBase({}, R"("r": {"description": "nothing"})")
                                        << QStringLiteral("reports.r.sql: must be a SELECT");
    QTest::newRow("report param not used in SQL")
        << withBase({}, R"("r": {"sql": "SELECT name FROM base",
                                 "params": {"p": {"type": "text"}}})")
        << QStringLiteral("reports.r.params.p: is not used in the SQL (write it as :p)");
    QTest::newRow("report param only a prefix of a placeholder")
        << withBase({}, R"("r": {"sql": "SELECT name FROM base WHERE name = :pp",
                                 "params": {"p": {"type": "text"}}})")
        << QStringLiteral("reports.r.params.p: is not used in the SQL");
    QTest::newRow("report param named owner")
        << withBase({}, R"("r": {"sql": "SELECT name FROM base WHERE :owner = 1",
                                 "params": {"owner": {"type": "integer"}}})")
        << QStringLiteral("reports.r.params.owner: parameter names are lower-case letters, "
                          "digits and _, and \"owner\" is reserved");
    QTest::newRow("report param of type json")
        << withBase({}, R"("r": {"sql": "SELECT name FROM base WHERE name = :p",
                                 "params": {"p": {"type": "json"}}})")
        << QStringLiteral("reports.r.params.p.type: must be one of text, integer, real, "
                          "boolean, datetime");
    QTest::newRow("report depends_on unknown collection")
        << withBase({}, R"("r": {"sql": "SELECT name FROM base", "depends_on": ["ghost"]})")
        << QStringLiteral("reports.r.depends_on: unknown collection \"ghost\"");
    QTest::newRow("bad report name") << withBase({}, R"("Top-10": {"sql": "SELECT 1"})")
                                     << QStringLiteral("reports.Top-10: report names are "
                                                       "lower-case letters");
}

void TestCollectionSchema::badSchema()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, expected);
    const auto parsed = CollectionSchema::parse(json, QStringLiteral("bad.json"));
    QVERIFY2(!parsed.ok(), "the schema was accepted");
    const QStringList errors = parsed.error();
    QVERIFY(!errors.isEmpty());
    for (const QString &e : errors)
        QVERIFY2(e.startsWith(QLatin1String("bad.json")), qPrintable(e)); // names the file
    QVERIFY2(joined(errors).contains(expected),
             qPrintable(QStringLiteral("expected \"%1\" in:\n%2").arg(expected, joined(errors))));
}

void TestCollectionSchema::severalErrorsAreReportedTogether()
{
    const QByteArray json = R"({
      "collections": {
        "a": {"fields": {"x": {"type": "txt"}, "y": {"type": "text", "requird": true}}},
        "users": {"fields": {"name": {"type": "text"}}},
        "b": {"fields": {"n": {"type": "integer", "default": "one"}},
              "indexes": [{"fields": ["missing"]}]}
      },
      "reports": {
        "r": {"sql": "DELETE FROM a", "depends_on": ["ghost"]}
      }
    })";
    const auto parsed = CollectionSchema::parse(json, QStringLiteral("many.json"));
    QVERIFY(!parsed.ok());
    const QString all = joined(parsed.error());
    const QStringList expected{
        QStringLiteral("collections.a.fields.x.type: must be one of"),
        QStringLiteral("collections.a.fields.y: unknown key \"requird\""),
        QStringLiteral("\"users\" is reserved by Bulwark"),
        QStringLiteral("collections.b.fields.n.default: does not match the field type integer"),
        QStringLiteral("collections.b.indexes[0].fields: unknown field \"missing\""),
        QStringLiteral("reports.r.sql: a report is one read-only SELECT"),
        QStringLiteral("reports.r.depends_on: unknown collection \"ghost\""),
    };
    for (const QString &e : expected)
        QVERIFY2(all.contains(e), qPrintable(QStringLiteral("missing \"%1\" in:\n%2").arg(e, all)));
    // Nothing else: each mistake gives one message (a message repeated word for word, as
    // the check of one SQL text for both databases may give, is counted once).
    const QStringList distinct =
        QSet<QString>(parsed.error().begin(), parsed.error().end()).values();
    QVERIFY2(distinct.size() == expected.size(), qPrintable(all));
}

void TestCollectionSchema::missingFileIsAnError()
{
    const auto loaded = CollectionSchema::load(QStringLiteral("/nonexistent/schema.json"));
    QVERIFY(!loaded.ok());
    QVERIFY2(loaded.error().first().startsWith(QLatin1String("/nonexistent/schema.json: cannot "
                                                             "read")),
             qPrintable(joined(loaded.error())));
}

QTEST_GUILESS_MAIN(TestCollectionSchema)
#include "tst_collectionschema.moc"
