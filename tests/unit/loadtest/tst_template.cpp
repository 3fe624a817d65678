// SPDX-License-Identifier: GPL-3.0-or-later
// Template: every placeholder rendered against a fixed context, the three modes (Path
// percent-encoding, Json escaping and bare numbers), the sequence stride, random bounds
// over many draws, choice with quoted words, CSV row selection, {{token}} precedence,
// UUID and time formats, and compile errors with their exact column and message.
#include "Template.h"

#include <QDateTime>
#include <QRegularExpression>
#include <QSet>
#include <QTest>

using namespace bulwark;

namespace {

QHash<QString, CsvTable> tables()
{
    CsvTable accounts;
    accounts.name = QStringLiteral("accounts");
    accounts.columns = {QStringLiteral("email"), QStringLiteral("password")};
    accounts.rows = {{"a@x.org", "pa ss"}, {"b@x.org", "q\"w"}, {"c@x.org", "z/z"}};
    return {{QStringLiteral("accounts"), accounts}};
}

// A context with fixed values; the test keeps the pieces it points to alive.
struct Fixture
{
    quint64 seq = 100;
    std::mt19937_64 rng{42};
    QHash<QString, CsvTable> csv = tables();
    QHash<QString, QByteArray> vars{{QStringLiteral("id"), "42"},
                                    {QStringLiteral("odd"), "a b/c?d&e=f\"\n\\ü"}};
    TemplateContext ctx;

    Fixture()
    {
        ctx.vu = 7;
        ctx.seqNext = &seq;
        ctx.seqStride = 10;
        ctx.rng = &rng;
        ctx.csv = &csv;
        ctx.csvRow = 1;
        ctx.vars = &vars;
        ctx.runToken = "run-token";
    }
};

QByteArray render(const QString &text, Template::Mode mode, Fixture &f)
{
    auto t = Template::compile(text, mode, f.csv);
    if (!t) {
        qWarning() << t.error().message;
        return "<error>";
    }
    return t.value().render(f.ctx);
}

} // namespace

class TestTemplate : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void renders_data();
    void renders();
    void constant();
    void seqAdvancesByStride();
    void randomStaysInBoundsAndHitsBoth();
    void randomFullRange();
    void choiceWithQuotedWords();
    void csvRowSelection();
    void tokenPrefersExtractedVariable();
    void missingPiecesRenderEmpty();
    void uuidFormat();
    void nowFormat();
    void appendsToOutput();
    void errors_data();
    void errors();
};

void TestTemplate::renders_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("mode");
    QTest::addColumn<QByteArray>("expected");
    const int text = int(Template::Mode::Text);
    const int path = int(Template::Mode::Path);
    const int json = int(Template::Mode::Json);

    QTest::newRow("literal") << "plain text" << text << QByteArray("plain text");
    QTest::newRow("empty") << "" << text << QByteArray();
    QTest::newRow("seq") << "n={{seq}}" << text << QByteArray("n=100");
    QTest::newRow("vu") << "{{vu}}" << text << QByteArray("7");
    QTest::newRow("random one value") << "{{random 5 5}}" << text << QByteArray("5");
    QTest::newRow("random negative") << "{{random -3 -3}}" << text << QByteArray("-3");
    QTest::newRow("choice of one") << "{{choice only}}" << text << QByteArray("only");
    QTest::newRow("csv") << "{{csv accounts.email}}" << text << QByteArray("b@x.org");
    QTest::newRow("csv other column") << "{{csv accounts.password}}" << text << QByteArray("q\"w");
    QTest::newRow("token") << "Bearer {{token}}" << text << QByteArray("Bearer run-token");
    QTest::newRow("var") << "/items/{{var id}}" << text << QByteArray("/items/42");
    QTest::newRow("missing var") << "[{{var nope}}]" << text << QByteArray("[]");
    QTest::newRow("white space inside braces")
        << "{{  random   9\t9 }}|{{ seq}}" << text << QByteArray("9|100");
    QTest::newRow("several") << "{{vu}}-{{seq}}-{{seq}}" << text << QByteArray("7-100-110");
    QTest::newRow("escaped braces") << "\\{{seq}} {{vu}}" << text << QByteArray("{{seq}} 7");
    QTest::newRow("lone braces") << "{a} }} {" << text << QByteArray("{a} }} {");
    QTest::newRow("text keeps value") << "{{var odd}}" << text << QByteArray("a b/c?d&e=f\"\n\\ü");

    // Path: placeholder values percent-encoded (unreserved and sub-delims kept), literal
    // text as written.
    QTest::newRow("path encodes values")
        << "/s?q={{var odd}}&n={{seq}}" << path
        << QByteArray("/s?q=a%20b%2Fc%3Fd&e=f%22%0A%5C%C3%BC&n=100");
    QTest::newRow("path literal as written") << "/a b/{{var id}}" << path << QByteArray("/a b/42");
    QTest::newRow("path csv") << "/u/{{csv accounts.email}}" << path << QByteArray("/u/b%40x.org");
    QTest::newRow("path sub-delims kept")
        << "/{{choice !$&'()*+,;=-._~}}" << path << QByteArray("/!$&'()*+,;=-._~");

    // Json: bare numbers for a string that is one number placeholder, escaping inside
    // strings, member names never bare.
    QTest::newRow("json bare random")
        << R"({"n":"{{random 7 7}}"})" << json << QByteArray(R"({"n":7})");
    QTest::newRow("json bare seq and vu")
        << R"([" {{seq}}","{{seq}}","{{vu}}"])" << json << QByteArray(R"([" 100",110,7])");
    QTest::newRow("json string with number")
        << R"({"s":"id-{{seq}}"})" << json << QByteArray(R"({"s":"id-100"})");
    QTest::newRow("json escapes values")
        << R"({"v":"<{{var odd}}>"})" << json << QByteArray(R"({"v":"<a b/c?d&e=f\"\n\\ü>"})");
    QTest::newRow("json lone string placeholder")
        << R"({"v":"{{csv accounts.password}}"})" << json << QByteArray(R"({"v":"q\"w"})");
    QTest::newRow("json key not bare")
        << R"({"{{seq}}" : "{{seq}}"})" << json << QByteArray(R"({"100" : 110})");
    QTest::newRow("json keeps source escapes") << R"({"a":"x\"{{vu}}\n","b":"\u00e9"})" << json
                                               << QByteArray(R"({"a":"x\"7\n","b":"\u00e9"})");
    QTest::newRow("json escaped braces")
        << R"({"a":"\\{{seq}}"})" << json << QByteArray(R"({"a":"{{seq}}"})");
    QTest::newRow("json top-level string") << R"("{{vu}}")" << json << QByteArray("7");
    QTest::newRow("json no placeholders")
        << R"({"a":[1,true,null,"x"]})" << json << QByteArray(R"({"a":[1,true,null,"x"]})");
    QTest::newRow("json uuid stays string")
        << R"({"t":"{{token}}"})" << json << QByteArray(R"({"t":"run-token"})");
}

void TestTemplate::renders()
{
    QFETCH(QString, text);
    QFETCH(int, mode);
    QFETCH(QByteArray, expected);
    Fixture f;
    QCOMPARE(render(text, Template::Mode(mode), f), expected);
}

void TestTemplate::constant()
{
    QVERIFY(Template::compile("/api/v1/items", Template::Mode::Path).value().isConstant());
    QVERIFY(Template::compile("\\{{seq}}", Template::Mode::Text).value().isConstant());
    QVERIFY(Template::compile(R"({"a":"b"})", Template::Mode::Json).value().isConstant());
    QVERIFY(!Template::compile("/{{seq}}", Template::Mode::Path).value().isConstant());
    QVERIFY(Template().isConstant());
    QCOMPARE(Template::compile("/x/{{seq}}", Template::Mode::Path).value().source(),
             QStringLiteral("/x/{{seq}}"));
}

void TestTemplate::seqAdvancesByStride()
{
    Fixture f;
    f.seq = 3; // thread 3 of 10
    const Template t = Template::compile("{{seq}},{{seq}}", Template::Mode::Text).value();
    QCOMPARE(t.render(f.ctx), QByteArray("3,13"));
    QCOMPARE(t.render(f.ctx), QByteArray("23,33"));
    QCOMPARE(f.seq, quint64(43));
    f.ctx.seqStride = 1;
    QCOMPARE(t.render(f.ctx), QByteArray("43,44"));
}

void TestTemplate::randomStaysInBoundsAndHitsBoth()
{
    Fixture f;
    const Template t = Template::compile("{{random -3 3}}", Template::Mode::Text).value();
    QSet<int> seen;
    for (int i = 0; i < 5000; ++i) {
        bool ok = false;
        const int v = t.render(f.ctx).toInt(&ok);
        QVERIFY(ok);
        QVERIFY2(v >= -3 && v <= 3, QByteArray::number(v));
        seen.insert(v);
    }
    QCOMPARE(seen.size(), 7); // both ends and everything between
}

void TestTemplate::randomFullRange()
{
    Fixture f;
    const auto t = Template::compile("{{random -9223372036854775808 9223372036854775807}}",
                                     Template::Mode::Text);
    QVERIFY(t.ok());
    bool ok = false;
    t.value().render(f.ctx).toLongLong(&ok);
    QVERIFY(ok);
}

void TestTemplate::choiceWithQuotedWords()
{
    Fixture f;
    const Template t =
        Template::compile(R"({{choice a "b c" "" "say \"hi\""}})", Template::Mode::Text).value();
    QSet<QByteArray> seen;
    for (int i = 0; i < 2000; ++i)
        seen.insert(t.render(f.ctx));
    QCOMPARE(seen, (QSet<QByteArray>{"a", "b c", "", "say \"hi\""}));
}

void TestTemplate::csvRowSelection()
{
    Fixture f;
    const Template t = Template::compile("{{csv accounts.email}}:{{csv accounts.password}}",
                                         Template::Mode::Text, f.csv)
                           .value();
    const QList<QByteArray> expected{"a@x.org:pa ss", "b@x.org:q\"w", "c@x.org:z/z",
                                     "a@x.org:pa ss"};
    for (int row = 0; row < 4; ++row) {
        f.ctx.csvRow = row; // taken modulo the table size
        QCOMPARE(t.render(f.ctx), expected.at(row));
    }
    f.ctx.csvRow = -1; // never an index out of range
    QVERIFY(expected.contains(t.render(f.ctx)));
}

void TestTemplate::tokenPrefersExtractedVariable()
{
    Fixture f;
    const Template t = Template::compile("{{token}}", Template::Mode::Text).value();
    QCOMPARE(t.render(f.ctx), QByteArray("run-token"));
    f.vars.insert(QStringLiteral("token"), "extracted");
    QCOMPARE(t.render(f.ctx), QByteArray("extracted"));
    f.vars.insert(QStringLiteral("token"), QByteArray());
    QCOMPARE(t.render(f.ctx), QByteArray("run-token"));
    f.ctx.runToken.clear();
    QCOMPARE(t.render(f.ctx), QByteArray()); // no token anywhere: empty, not an error
}

void TestTemplate::missingPiecesRenderEmpty()
{
    TemplateContext bare; // no sequence, generator, tables or variables
    const Template t =
        Template::compile("{{seq}}|{{var x}}|{{random 4 4}}|{{token}}|{{vu}}", Template::Mode::Text)
            .value();
    QCOMPARE(t.render(bare), QByteArray("0||4||0"));
}

void TestTemplate::uuidFormat()
{
    Fixture f;
    const Template t = Template::compile("{{uuid}}", Template::Mode::Text).value();
    static const QRegularExpression re(
        QStringLiteral("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"));
    QSet<QByteArray> seen;
    for (int i = 0; i < 200; ++i) {
        const QByteArray uuid = t.render(f.ctx);
        QVERIFY2(re.match(QString::fromLatin1(uuid)).hasMatch(), uuid.constData());
        seen.insert(uuid);
    }
    QCOMPARE(seen.size(), 200);
    // The same generator state gives the same UUIDs: they come from ctx.rng only.
    Fixture a, b;
    QCOMPARE(t.render(a.ctx), t.render(b.ctx));
}

void TestTemplate::nowFormat()
{
    Fixture f;
    const QDateTime before = QDateTime::currentDateTimeUtc().addMSecs(-1);
    const QByteArray now = Template::compile("{{now}}", Template::Mode::Text).value().render(f.ctx);
    const QDateTime after = QDateTime::currentDateTimeUtc().addMSecs(1);
    QCOMPARE(now.size(), 24); // 2024-05-01T12:00:00.123Z
    QVERIFY(now.endsWith('Z'));
    const QDateTime parsed = QDateTime::fromString(QString::fromLatin1(now), Qt::ISODateWithMs);
    QVERIFY(parsed.isValid());
    QVERIFY(parsed >= before && parsed <= after);
    const QByteArray inPath =
        Template::compile("/{{now}}", Template::Mode::Path).value().render(f.ctx);
    QVERIFY2(inPath.contains("%3A") && !inPath.contains(':'), inPath.constData());
}

void TestTemplate::appendsToOutput()
{
    Fixture f;
    QByteArray out = "GET ";
    Template::compile("/x/{{vu}}", Template::Mode::Path).value().render(f.ctx, &out);
    QCOMPARE(out, QByteArray("GET /x/7"));
}

void TestTemplate::errors_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("mode");
    QTest::addColumn<QString>("message");
    const int text = int(Template::Mode::Text);
    const int json = int(Template::Mode::Json);
    const QString names = QStringLiteral("(seq, random, choice, csv, token, var, vu, now, uuid)");

    QTest::newRow("unknown") << "/api/items/{{rnd 1 2}}" << text
                             << "column 12: unknown placeholder \"rnd\" " + names;
    QTest::newRow("empty") << "ab{{ }}" << text << "column 3: empty placeholder " + names;
    QTest::newRow("unclosed") << "x{{seq" << text << "column 2: unclosed placeholder (missing }})";
    QTest::newRow("unclosed single brace")
        << "{{seq}" << text << "column 1: unclosed placeholder (missing }})";
    QTest::newRow("unclosed quote")
        << "{{choice \"a}}" << text << "column 1: unclosed quote in placeholder";
    QTest::newRow("seq arguments")
        << "{{seq}}{{seq 2}}" << text << "column 8: seq takes no arguments";
    QTest::newRow("uuid arguments") << "{{uuid v4}}" << text << "column 1: uuid takes no arguments";
    QTest::newRow("random one bound")
        << "{{random 1}}" << text << "column 1: random takes two integers: {{random A B}}";
    QTest::newRow("random three") << "{{random 1 2 3}}" << text
                                  << "column 1: random takes two integers: {{random A B}}";
    QTest::newRow("random not integer")
        << "{{random 1 2.5}}" << text << "column 1: random: \"2.5\" is not a 64-bit integer";
    QTest::newRow("random too big") << "{{random 0 9223372036854775808}}" << text
                                    << "column 1: random: \"9223372036854775808\" is not a "
                                       "64-bit integer";
    QTest::newRow("random reversed")
        << "  {{random 5 3}}" << text << "column 3: random: 5 is greater than 3";
    QTest::newRow("choice empty") << "{{choice}}" << text
                                  << "column 1: choice takes at least one word";
    QTest::newRow("var no name") << "{{var}}" << text
                                 << "column 1: var takes one name: {{var NAME}}";
    QTest::newRow("var two names")
        << "{{var a b}}" << text << "column 1: var takes one name: {{var NAME}}";
    QTest::newRow("csv no argument")
        << "{{csv}}" << text << "column 1: csv takes one argument: {{csv NAME.COLUMN}}";
    QTest::newRow("csv no dot") << "{{csv accounts}}" << text
                                << "column 1: csv: expected NAME.COLUMN, not \"accounts\"";
    QTest::newRow("csv no table") << "{{csv users.email}}" << text
                                  << "column 1: csv: no table \"users\" (tables: accounts)";
    QTest::newRow("csv no column")
        << "{{csv accounts.pw}}" << text
        << "column 1: csv: table \"accounts\" has no column \"pw\" (columns: email, password)";
    // Json: the column is in the JSON text, escapes before it counted as written.
    QTest::newRow("json column") << R"({"a":"\n{{bad}}"})" << json
                                 << "column 9: unknown placeholder \"bad\" " + names;
    QTest::newRow("json key") << R"({"x":1,"{{seq 1}}":2})" << json
                              << "column 9: seq takes no arguments";
}

void TestTemplate::errors()
{
    QFETCH(QString, text);
    QFETCH(int, mode);
    QFETCH(QString, message);
    const auto t = Template::compile(text, Template::Mode(mode), tables());
    QVERIFY(!t.ok());
    QCOMPARE(t.error().message, message);
    QCOMPARE(t.error().code, ErrorCode::Unprocessable);
    const int column = message.section(u' ', 1, 1).chopped(1).toInt();
    QCOMPARE(t.error().details.value("column").toInt(), column);
}

QTEST_APPLESS_MAIN(TestTemplate)
#include "tst_template.moc"
