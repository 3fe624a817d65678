// SPDX-License-Identifier: GPL-3.0-or-later
// The filter expression parser: valid expressions compared as a compact dump of the tree
// (`and(eq(sport,'run'),gt(distance_m,5000))`; reals always show a '.' or an exponent so they
// differ from integers), invalid ones by error position and a part of the message, inputs that
// look like SQL injection (each must fail or yield plain identifiers and bound values), value
// kinds and positions, and every limit at its edge.
#include "FilterExpression.h"

#include <QRegularExpression>
#include <QtTest>

using namespace bulwark;
using namespace Qt::StringLiterals;

namespace {

QString dumpValue(const FilterValue &value)
{
    switch (value.kind) {
    case FilterValue::Kind::String:
        return QLatin1Char('\'') + QString(value.text).replace(u'\'', QStringLiteral("''")) +
               QLatin1Char('\'');
    case FilterValue::Kind::Integer: return QString::number(value.integer);
    case FilterValue::Kind::Real: {
        QString text = QString::number(value.real, 'g', QLocale::FloatingPointShortest);
        if (!text.contains(u'.') && !text.contains(u'e'))
            text += QStringLiteral(".0");
        return text;
    }
    case FilterValue::Kind::Boolean: return value.boolean ? u"true"_s : u"false"_s;
    }
    return QString();
}

QString dump(const FilterNode &node)
{
    QStringList parts;
    QString name;
    switch (node.kind) {
    case FilterNode::Kind::And: name = QStringLiteral("and"); break;
    case FilterNode::Kind::Or: name = QStringLiteral("or"); break;
    case FilterNode::Kind::Not: name = QStringLiteral("not"); break;
    case FilterNode::Kind::Compare:
        name = filterOpName(node.op);
        parts << node.field;
        for (const FilterValue &value : node.values)
            parts << dumpValue(value);
        break;
    }
    for (const FilterNode &child : node.children)
        parts << dump(child);
    return name + QLatin1Char('(') + parts.join(QLatin1Char(',')) + QLatin1Char(')');
}

// Every field name in the tree is a plain identifier of at most 64 characters, and the tree
// has the shape the SQL builder relies on.
bool wellFormed(const FilterNode &node)
{
    static const QRegularExpression identifier(QStringLiteral("^[A-Za-z_][A-Za-z0-9_]{0,63}$"));
    switch (node.kind) {
    case FilterNode::Kind::And:
    case FilterNode::Kind::Or:
        if (node.children.size() < 2)
            return false;
        for (const FilterNode &child : node.children) {
            if (child.kind == node.kind || !wellFormed(child))
                return false;
        }
        return true;
    case FilterNode::Kind::Not: return node.children.size() == 1 && wellFormed(node.children[0]);
    case FilterNode::Kind::Compare:
        return node.children.isEmpty() && identifier.match(node.field).hasMatch() &&
               !node.values.isEmpty() && (node.op == FilterOp::In || node.values.size() == 1);
    }
    return false;
}

QString repeated(const QString &item, int count, const QString &separator)
{
    QStringList items;
    for (int i = 0; i < count; ++i)
        items << item;
    return items.join(separator);
}

} // namespace

class TestFilterExpression : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parsesValid_data();
    void parsesValid();
    void rejectsInvalid_data();
    void rejectsInvalid();
    void injectionLooking_data();
    void injectionLooking();
    void valueKinds();
    void positionsCountCharacters();
    void opNames();
    void depthLimit();
    void comparisonLimit();
    void inListLimit();
    void lengthLimit();
    void fieldLengthLimit();
};

void TestFilterExpression::parsesValid_data()
{
    QTest::addColumn<QString>("input");
    QTest::addColumn<QString>("expected");

    auto row = [](const char *name, const QString &input, const QString &expected) {
        QTest::newRow(name) << input << expected;
    };
    row("eq string", u"sport eq 'run'"_s, u"eq(sport,'run')"_s);
    row("and", u"sport eq 'run' and distance_m gt 5000"_s,
        u"and(eq(sport,'run'),gt(distance_m,5000))"_s);
    row("and binds tighter than or (right)", u"a eq 1 or b eq 2 and c eq 3"_s,
        u"or(eq(a,1),and(eq(b,2),eq(c,3)))"_s);
    row("and binds tighter than or (left)", u"a eq 1 and b eq 2 or c eq 3"_s,
        u"or(and(eq(a,1),eq(b,2)),eq(c,3))"_s);
    row("parentheses override", u"(a eq 1 or b eq 2) and c eq 3"_s,
        u"and(or(eq(a,1),eq(b,2)),eq(c,3))"_s);
    row("mixed chains", u"a eq 1 or b eq 2 and c eq 3 or d eq 4"_s,
        u"or(eq(a,1),and(eq(b,2),eq(c,3)),eq(d,4))"_s);
    row("flat and", u"a eq 1 and b eq 2 and c eq 3"_s, u"and(eq(a,1),eq(b,2),eq(c,3))"_s);
    row("flat across parentheses", u"(a eq 1 and b eq 2) and (c eq 3 and d eq 4)"_s,
        u"and(eq(a,1),eq(b,2),eq(c,3),eq(d,4))"_s);
    row("flat or", u"a eq 1 or (b eq 2 or c eq 3)"_s, u"or(eq(a,1),eq(b,2),eq(c,3))"_s);
    row("no flattening across kinds", u"(a eq 1 or b eq 2) and (c eq 3 or d eq 4)"_s,
        u"and(or(eq(a,1),eq(b,2)),or(eq(c,3),eq(d,4)))"_s);
    row("redundant parentheses", u"((a eq 1))"_s, u"eq(a,1)"_s);
    row("no spaces around parentheses", u"(a eq 1)and(b eq 2)"_s, u"and(eq(a,1),eq(b,2))"_s);
    row("tabs and extra spaces", u"\t a  eq\t1 \t"_s, u"eq(a,1)"_s);
    row("not", u"not a eq 1"_s, u"not(eq(a,1))"_s);
    row("not binds tighter than and", u"not a eq 1 and b eq 2"_s, u"and(not(eq(a,1)),eq(b,2))"_s);
    row("not over parentheses", u"not (a eq 1 or b eq 2)"_s, u"not(or(eq(a,1),eq(b,2)))"_s);
    row("not not", u"not not a eq 1"_s, u"not(not(eq(a,1)))"_s);
    row("ne", u"a ne 1"_s, u"ne(a,1)"_s);
    row("gte", u"a gte 1"_s, u"gte(a,1)"_s);
    row("lt", u"a lt 1"_s, u"lt(a,1)"_s);
    row("lte", u"a lte 1"_s, u"lte(a,1)"_s);
    row("like", u"name like 'Jo%'"_s, u"like(name,'Jo%')"_s);
    row("in", u"sport in ('run', 'ride','swim')"_s, u"in(sport,'run','ride','swim')"_s);
    row("in one value", u"id in (7)"_s, u"in(id,7)"_s);
    row("in mixed kinds", u"x in ( 1 , 2.5 , true , 'a' )"_s, u"in(x,1,2.5,true,'a')"_s);
    row("is_null bare", u"note is_null"_s, u"is_null(note,true)"_s);
    row("is_null true", u"note is_null true"_s, u"is_null(note,true)"_s);
    row("is_null false", u"note is_null false"_s, u"is_null(note,false)"_s);
    row("is_null bare then and", u"note is_null and a eq 1"_s,
        u"and(is_null(note,true),eq(a,1))"_s);
    row("is_null bare in parentheses", u"(note is_null)"_s, u"is_null(note,true)"_s);
    row("negative integer", u"t gt -5"_s, u"gt(t,-5)"_s);
    row("zero", u"t eq 0"_s, u"eq(t,0)"_s);
    row("real", u"t gt 2.5"_s, u"gt(t,2.5)"_s);
    row("negative real", u"t gt -0.25"_s, u"gt(t,-0.25)"_s);
    row("exponent", u"t gt 1e3"_s, u"gt(t,1000.0)"_s);
    row("exponent with sign", u"t lt 6.02E+23"_s, u"lt(t,6.02e+23)"_s);
    row("negative exponent", u"t gt 1.5e-3"_s, u"gt(t,0.0015)"_s);
    row("qint64 max", u"t lt 9223372036854775807"_s, u"lt(t,9223372036854775807)"_s);
    row("qint64 min", u"t gt -9223372036854775808"_s, u"gt(t,-9223372036854775808)"_s);
    row("beyond qint64 is real", u"t gt 9223372036854775808"_s, u"gt(t,9223372036854776000.0)"_s);
    row("escaped quote", u"name eq 'O''Brien'"_s, u"eq(name,'O''Brien')"_s);
    row("empty string", u"name eq ''"_s, u"eq(name,'')"_s);
    row("only a quote", u"name eq ''''"_s, u"eq(name,'''')"_s);
    row("spaces in string", u"name eq '  a  b '"_s, u"eq(name,'  a  b ')"_s);
    row("keywords in string", u"a eq 'x and b eq 1 or ('"_s, u"eq(a,'x and b eq 1 or (')"_s);
    row("unicode in string", u"city eq 'Zürich 😀 東京'"_s, u"eq(city,'Zürich 😀 東京')"_s);
    row("string touching words", u"a eq'x'and b eq'y'"_s, u"and(eq(a,'x'),eq(b,'y'))"_s);
    row("case-insensitive keywords",
        u"Sport EQ 'run' AND NOT Distance_m GTE 5 Or x IS_NULL FALSE"_s,
        u"or(and(eq(Sport,'run'),not(gte(Distance_m,5))),is_null(x,false))"_s);
    row("case-insensitive values", u"done eq TRUE or done In (False)"_s,
        u"or(eq(done,true),in(done,false))"_s);
    row("identifier with digits and underscores", u"_private_1 eq 1"_s, u"eq(_private_1,1)"_s);
    row("operator words are not reserved as fields", u"eq eq 1"_s, u"eq(eq,1)"_s);
}

void TestFilterExpression::parsesValid()
{
    QFETCH(QString, input);
    QFETCH(QString, expected);
    const auto result = parseFilter(input);
    QVERIFY2(result.ok(), qPrintable(result.ok() ? QString()
                                                 : QStringLiteral("%1: %2")
                                                       .arg(result.error().position)
                                                       .arg(result.error().message)));
    QCOMPARE(dump(result.value()), expected);
    QVERIFY(wellFormed(result.value()));
}

void TestFilterExpression::rejectsInvalid_data()
{
    QTest::addColumn<QString>("input");
    QTest::addColumn<int>("position");
    QTest::addColumn<QString>("message");

    auto row = [](const char *name, const QString &input, int position, const QString &message) {
        QTest::newRow(name) << input << position << message;
    };
    row("empty", QString(), 1, u"empty filter expression"_s);
    row("whitespace only", u"  \t "_s, 1, u"empty filter expression"_s);
    row("== operator", u"sport == 'run'"_s, 7,
        u"expected an operator (eq, ne, gt, gte, lt, lte, like, in, is_null) after \"sport\", "
        "found \"==\""_s);
    row("unknown operator word", u"sport is 'run'"_s, 7, u"after \"sport\", found \"is\""_s);
    row("field only", u"sport"_s, 6, u"after \"sport\", found end of expression"_s);
    row("unterminated string", u"sport eq 'run"_s, 10,
        u"unterminated string starting at position 10"_s);
    row("unterminated after escaped quote", u"name eq 'it''s"_s, 9,
        u"unterminated string starting at position 9"_s);
    row("unmatched )", u"sport eq 'run')"_s, 15, u"unexpected \")\""_s);
    row("unclosed (", u"(a eq 1"_s, 8,
        u"expected \"and\", \"or\" or \")\" to close the \"(\" at position 1, found end of "
        "expression"_s);
    row("empty parentheses", u"()"_s, 2, u"expected a field name, \"(\" or not, found \")\""_s);
    row("in without (", u"sport in 'run'"_s, 10, u"expected \"(\" after in, found 'run'"_s);
    row("in empty list", u"sport in ()"_s, 11, u"an in list needs at least one value"_s);
    row("in trailing comma", u"sport in ('a',)"_s, 15, u"after \",\", found \")\""_s);
    row("in missing comma", u"sport in ('a' 'b')"_s, 15,
        u"expected \",\" or \")\" in the in list, found 'b'"_s);
    row("in unclosed", u"sport in ('a', 'b'"_s, 19, u"found end of expression"_s);
    row("null value", u"note eq null"_s, 9, u"use \"note is_null\""_s);
    row("NULL value", u"note ne NULL"_s, 9, u"null is not a value"_s);
    row("null in list", u"note in (1, null)"_s, 13, u"null is not a value"_s);
    row("is_null with number", u"note is_null 1"_s, 14,
        u"expected true, false or nothing after is_null, found \"1\""_s);
    row("is_null null", u"note is_null null"_s, 14, u"after is_null"_s);
    row("unquoted string", u"sport eq run"_s, 10,
        u"expected a value ('quoted string', number, true or false) after eq, found \"run\" "
        "(strings are in 'single quotes')"_s);
    row("double-quoted string", u"sport eq \"run\""_s, 10, u"single quotes"_s);
    row("missing value", u"a eq"_s, 5, u"after eq, found end of expression"_s);
    row("dangling and", u"a eq 1 and"_s, 11,
        u"expected a field name, \"(\" or not, found end of expression"_s);
    row("dangling not", u"not"_s, 4, u"expected a field name"_s);
    row("leading and", u"and a eq 1"_s, 1, u"found \"and\""_s);
    row("and or", u"a eq 1 and or b eq 2"_s, 12, u"found \"or\""_s);
    row("missing connective", u"a eq 1 b eq 2"_s, 8,
        u"expected \"and\", \"or\" or end of expression, found \"b\""_s);
    row("not is never a field name", u"not eq 1"_s, 8, u"after \"eq\", found \"1\""_s);
    row("trailing letters on number", u"a eq 5abc"_s, 6, u"invalid number \"5abc\""_s);
    row("trailing dot", u"a eq 1."_s, 6, u"invalid number \"1.\""_s);
    row("two dots", u"a eq 1.2.3"_s, 6, u"invalid number \"1.2.3\""_s);
    row("empty exponent", u"a eq 1e+"_s, 6, u"invalid number \"1e+\""_s);
    row("leading dot", u"a eq .5"_s, 6, u"found \".\""_s);
    row("lone minus", u"a eq - 5"_s, 6, u"found \"-\""_s);
    row("real overflow", u"a eq 1e999"_s, 6, u"number \"1e999\" is out of range"_s);
    row("non-ASCII field", u"spört eq 1"_s, 1, u"\"spört\" is not a valid name"_s);
    row("like with number", u"a like 5"_s, 8, u"like needs a pattern in 'single quotes'"_s);
    row("newline is not whitespace", u"a eq 1\nand b eq 2"_s, 7, u"found \"\\u000a\""_s);
    row("NUL in string", u"a eq 'x"_s + QChar(0) + u"y'"_s, 8,
        u"may not contain the NUL character"_s);
    row("lexical error after syntax error", u"a == 'unterminated"_s, 3, u"found \"==\""_s);
}

void TestFilterExpression::rejectsInvalid()
{
    QFETCH(QString, input);
    QFETCH(int, position);
    QFETCH(QString, message);
    const auto result = parseFilter(input);
    QVERIFY2(!result.ok(), qPrintable(result.ok() ? dump(result.value()) : QString()));
    QVERIFY2(result.error().message.contains(message), qPrintable(result.error().message));
    QCOMPARE(result.error().position, position);
}

void TestFilterExpression::injectionLooking_data()
{
    QTest::addColumn<QString>("input");
    QTest::addColumn<QString>("expected"); // empty: must fail

    auto fails = [](const char *name, const QString &input) {
        QTest::newRow(name) << input << QString();
    };
    fails("statement after filter", u"sport eq 'x'; DROP TABLE users"_s);
    fails("bare word value", u"sport eq x"_s);
    fails("tautology", u"1=1"_s);
    fails("comment tail", u"sport eq 'a' or 1 eq 1 --"_s);
    fails("closing the builder's parenthesis", u"name) or (1"_s);
    fails("quoted tautology", u"sport eq 'x' or '1'='1'"_s);
    fails("dash dash", u"sport eq 'a'--"_s);
    fails("block comment", u"sport eq 'a' /* c */"_s);
    fails("quoted identifier", u"\"sport\" eq 1"_s);
    fails("semicolon in field", u"sport; eq 1"_s);
    fails("union", u"sport in ('a') union select * from users"_s);
    fails("hex number", u"sport eq 0x1F"_s);
    fails("qualified name", u"a.b eq 1"_s);
    fails("subscript", u"sport[0] eq 1"_s);
    fails("backslash escape", u"sport eq '\\'' "_s);
    fails("placeholder dollar", u"sport eq $1"_s);
    fails("placeholder colon", u"sport eq :name"_s);
    fails("placeholder question mark", u"sport eq ?"_s);
    fails("function call", u"id eq 1 or sleep(5) eq 0"_s);
    fails("cast", u"id eq 1::text"_s);

    QTest::newRow("quote-doubling stays one string")
        << u"sport eq 'x'' or ''1''=''1'"_s << u"eq(sport,'x'' or ''1''=''1')"_s;
    QTest::newRow("statement inside a string")
        << u"sport eq 'Robert''); DROP TABLE students;--'"_s
        << u"eq(sport,'Robert''); DROP TABLE students;--')"_s;
    QTest::newRow("SQL keywords as field names")
        << u"select eq 1 or drop eq 'table'"_s << u"or(eq(select,1),eq(drop,'table'))"_s;
}

void TestFilterExpression::injectionLooking()
{
    QFETCH(QString, input);
    QFETCH(QString, expected);
    const auto result = parseFilter(input);
    if (expected.isEmpty()) {
        QVERIFY2(!result.ok(), qPrintable(result.ok() ? dump(result.value()) : QString()));
        QVERIFY(result.error().position >= 1);
        QVERIFY(result.error().position <= input.size() + 1);
        QVERIFY(!result.error().message.isEmpty());
        return;
    }
    QVERIFY2(result.ok(), qPrintable(result.ok() ? QString() : result.error().message));
    QCOMPARE(dump(result.value()), expected);
    QVERIFY(wellFormed(result.value()));
}

void TestFilterExpression::valueKinds()
{
    const auto result = parseFilter(u"a eq 'O''Brien' and b eq -42 and c eq 2.5 and d eq True "
                                    "and e eq 99999999999999999999 and f is_null"_s);
    QVERIFY(result.ok());
    const FilterNode &root = result.value();
    QCOMPARE(root.kind, FilterNode::Kind::And);
    QCOMPARE(root.position, 1);
    QCOMPARE(root.children.size(), 6);

    const FilterValue &text = root.children[0].values[0];
    QCOMPARE(text.kind, FilterValue::Kind::String);
    QCOMPARE(text.text, u"O'Brien"_s);
    QCOMPARE(text.position, 6);

    const FilterValue &integer = root.children[1].values[0];
    QCOMPARE(integer.kind, FilterValue::Kind::Integer);
    QCOMPARE(integer.integer, qint64(-42));
    QCOMPARE(integer.text, u"-42"_s);

    const FilterValue &real = root.children[2].values[0];
    QCOMPARE(real.kind, FilterValue::Kind::Real);
    QCOMPARE(real.real, 2.5);

    const FilterValue &boolean = root.children[3].values[0];
    QCOMPARE(boolean.kind, FilterValue::Kind::Boolean);
    QVERIFY(boolean.boolean);
    QCOMPARE(boolean.text, u"true"_s);

    const FilterValue &big = root.children[4].values[0];
    QCOMPARE(big.kind, FilterValue::Kind::Real);
    QCOMPARE(big.real, 1e20);
    QCOMPARE(big.text, u"99999999999999999999"_s);

    const FilterNode &isNull = root.children[5];
    QCOMPARE(isNull.op, FilterOp::IsNull);
    QCOMPARE(isNull.values.size(), 1);
    QCOMPARE(isNull.values[0].kind, FilterValue::Kind::Boolean);
    QVERIFY(isNull.values[0].boolean);

    const auto negated = parseFilter(u"x eq 1 or  not y eq 2"_s);
    QVERIFY(negated.ok());
    QCOMPARE(negated.value().children[1].kind, FilterNode::Kind::Not);
    QCOMPARE(negated.value().children[1].position, 12);
    QCOMPARE(negated.value().children[1].children[0].position, 16);
}

// Positions are in characters (code points): an emoji before the error counts once.
void TestFilterExpression::positionsCountCharacters()
{
    const auto ok = parseFilter(u"x eq '😀' and y eq 1"_s);
    QVERIFY(ok.ok());
    QCOMPARE(ok.value().children[1].position, 14);
    QCOMPARE(ok.value().children[1].values[0].position, 19);

    const auto bad = parseFilter(u"city eq '😀' x"_s);
    QVERIFY(!bad.ok());
    QCOMPARE(bad.error().position, 13);

    const auto unterminated = parseFilter(u"a eq '😀' and b eq '😀"_s);
    QVERIFY(!unterminated.ok());
    QCOMPARE(unterminated.error().position, 19);
    QVERIFY(unterminated.error().message.contains(u"starting at position 19"_s));
}

void TestFilterExpression::opNames()
{
    QCOMPARE(filterOpName(FilterOp::Eq), u"eq"_s);
    QCOMPARE(filterOpName(FilterOp::Ne), u"ne"_s);
    QCOMPARE(filterOpName(FilterOp::Gt), u"gt"_s);
    QCOMPARE(filterOpName(FilterOp::Gte), u"gte"_s);
    QCOMPARE(filterOpName(FilterOp::Lt), u"lt"_s);
    QCOMPARE(filterOpName(FilterOp::Lte), u"lte"_s);
    QCOMPARE(filterOpName(FilterOp::Like), u"like"_s);
    QCOMPARE(filterOpName(FilterOp::In), u"in"_s);
    QCOMPARE(filterOpName(FilterOp::IsNull), u"is_null"_s);
}

void TestFilterExpression::depthLimit()
{
    const QString inner = u"a eq 1"_s;
    QVERIFY(parseFilter(QString(32, u'(') + inner + QString(32, u')')).ok());
    const auto parens = parseFilter(QString(33, u'(') + inner + QString(33, u')'));
    QVERIFY(!parens.ok());
    QCOMPARE(parens.error().position, 33);
    QVERIFY2(parens.error().message.contains(u"nested deeper than 32"_s),
             qPrintable(parens.error().message));

    QVERIFY(parseFilter(u"not "_s.repeated(32) + inner).ok());
    const auto nots = parseFilter(u"not "_s.repeated(33) + inner);
    QVERIFY(!nots.ok());
    QCOMPARE(nots.error().position, 32 * 4 + 1);

    QVERIFY(parseFilter(u"not ("_s.repeated(16) + inner + QString(16, u')')).ok());
    const auto mixed = parseFilter(u"not ("_s.repeated(16) + u"not "_s + inner + QString(16, u')'));
    QVERIFY(!mixed.ok());
    QCOMPARE(mixed.error().position, 16 * 5 + 1);

    // An in list's parentheses are not nesting.
    QVERIFY(parseFilter(QString(32, u'(') + u"a in (1)"_s + QString(32, u')')).ok());
}

void TestFilterExpression::comparisonLimit()
{
    const QString comparison = u"a eq 1"_s;
    const auto hundred = parseFilter(repeated(comparison, 100, u" and "_s));
    QVERIFY(hundred.ok());
    QCOMPARE(hundred.value().children.size(), 100);

    const auto tooMany = parseFilter(repeated(comparison, 101, u" or "_s));
    QVERIFY(!tooMany.ok());
    QCOMPARE(tooMany.error().position, 100 * 10 + 1); // "a eq 1 or " is 10 characters
    QVERIFY2(tooMany.error().message.contains(u"more than 100 comparisons"_s),
             qPrintable(tooMany.error().message));
}

void TestFilterExpression::inListLimit()
{
    const auto thousand = parseFilter(u"a in ("_s + repeated(u"7"_s, 1000, u","_s) + u")"_s);
    QVERIFY(thousand.ok());
    QCOMPARE(thousand.value().values.size(), 1000);

    const auto tooMany = parseFilter(u"a in ("_s + repeated(u"7"_s, 1001, u","_s) + u")"_s);
    QVERIFY(!tooMany.ok());
    QCOMPARE(tooMany.error().position, 7 + 2 * 1000); // the 1001st value
    QVERIFY2(tooMany.error().message.contains(u"more than 1000 values"_s),
             qPrintable(tooMany.error().message));
}

void TestFilterExpression::lengthLimit()
{
    const QString prefix = u"a eq '"_s;
    const QString exact = prefix + QString(FilterMaxLength - prefix.size() - 1, u'x') + u"'"_s;
    QCOMPARE(exact.size(), 8192);
    QVERIFY(parseFilter(exact).ok());

    const auto tooLong = parseFilter(exact + u" "_s);
    QVERIFY(!tooLong.ok());
    QCOMPARE(tooLong.error().position, 8193);
    QVERIFY2(tooLong.error().message.contains(u"longer than 8192 characters"_s),
             qPrintable(tooLong.error().message));

    // Counted in characters, not UTF-16 units: 5000 emoji are 10000 units but 5000 characters.
    QVERIFY(parseFilter(prefix + u"😀"_s.repeated(5000) + u"'"_s).ok());
    QVERIFY(!parseFilter(prefix + u"😀"_s.repeated(8186) + u"'"_s).ok());

    // Text far beyond the limit is refused before any parsing.
    const auto huge = parseFilter(QString(1 << 20, u'('));
    QVERIFY(!huge.ok());
    QCOMPARE(huge.error().position, 8193);
}

void TestFilterExpression::fieldLengthLimit()
{
    QVERIFY(parseFilter(QString(64, u'f') + u" eq 1"_s).ok());
    const auto tooLong = parseFilter(u"a eq 1 and "_s + QString(65, u'f') + u" eq 1"_s);
    QVERIFY(!tooLong.ok());
    QCOMPARE(tooLong.error().position, 12);
    QVERIFY2(tooLong.error().message.contains(u"longer than 64 characters"_s),
             qPrintable(tooLong.error().message));
}

QTEST_GUILESS_MAIN(TestFilterExpression)
#include "tst_filterexpression.moc"
