// SPDX-License-Identifier: GPL-3.0-or-later
// JsonSourceMap: value and member-name offsets by path (nested objects and arrays, escaped
// member names), the fallback to the nearest parent, line/column arithmetic (UTF-8 counts
// one column per character), blanked comments keeping offsets, and garbage that must not
// crash the scanner.
#include "ConfigLoader.h"
#include "JsonSourceMap.h"

#include <QTest>

using namespace bulwark;

class TestJsonSourceMap : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void offsets_data();
    void offsets();
    void keyOffsets();
    void missingPathFallsBackToParent_data();
    void missingPathFallsBackToParent();
    void parentPath_data();
    void parentPath();
    void lineColumn_data();
    void lineColumn();
    void commentsKeepOffsets();
    void duplicateMemberKeepsLast();
    void garbageDoesNotCrash_data();
    void garbageDoesNotCrash();
};

void TestJsonSourceMap::offsets_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("path");
    QTest::addColumn<int>("offset"); // -1: not recorded

    const QByteArray flat = R"({"a": 1, "b": "x", "c": true, "d": null})";
    //                         0123456789012345678901234567890123456789
    QTest::newRow("root") << flat << "" << 0;
    QTest::newRow("number") << flat << "a" << 6;
    QTest::newRow("string") << flat << "b" << 14;
    QTest::newRow("true") << flat << "c" << 24;
    QTest::newRow("null") << flat << "d" << 35;
    QTest::newRow("absent") << flat << "e" << -1;

    const QByteArray nested = R"({"user_classes": [{"tasks": [{"w": 1}, {"w": 22}]}]})";
    //                           0         1         2         3         4         5
    //                           012345678901234567890123456789012345678901234567890123
    QTest::newRow("array") << nested << "user_classes" << 17;
    QTest::newRow("array element") << nested << "user_classes[0]" << 18;
    QTest::newRow("inner array") << nested << "user_classes[0].tasks" << 28;
    QTest::newRow("inner element") << nested << "user_classes[0].tasks[1]" << 39;
    QTest::newRow("deep member") << nested << "user_classes[0].tasks[1].weight" << -1;
    QTest::newRow("deep value") << nested << "user_classes[0].tasks[1].w" << 45;
    QTest::newRow("index past end") << nested << "user_classes[1]" << -1;

    const QByteArray arrays = "[[1,2],[3,[4]]]";
    QTest::newRow("top array") << arrays << "" << 0;
    QTest::newRow("[0][1]") << arrays << "[0][1]" << 4;
    QTest::newRow("[1]") << arrays << "[1]" << 7;
    QTest::newRow("[1][1][0]") << arrays << "[1][1][0]" << 11;

    // Member names are decoded: \" and \u0041 ('A'); the string value skips its escapes.
    const QByteArray escapes = R"({"a\"b": "x\"y", "c\u0041": [true], "e": 5})";
    //                            0123456789012345678901234567890123456789012
    QTest::newRow("escaped quote key") << escapes << "a\"b" << 9;
    QTest::newRow("unicode key") << escapes << "cA" << 28;
    QTest::newRow("unicode key [0]") << escapes << "cA[0]" << 29;
    QTest::newRow("after escapes") << escapes << "e" << 41;

    const QByteArray spaced = "{\n  \"a\" :\t[ 1 ,\r\n 2 ]\n}";
    QTest::newRow("white space") << spaced << "a[1]" << 18;
    QTest::newRow("negative number") << QByteArray(R"({"n": -1.5e3})") << "n" << 6;
    QTest::newRow("empty object") << QByteArray(R"({"o": {}, "p": []})") << "p" << 15;
}

void TestJsonSourceMap::offsets()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, path);
    QFETCH(int, offset);
    const JsonSourceMap map = JsonSourceMap::build(json);
    const auto found = map.offsetOf(path);
    QCOMPARE(found.value_or(-1), offset);
}

void TestJsonSourceMap::keyOffsets()
{
    const QByteArray json = R"({"a": {"bb": [ {"c": 1} ]}})";
    //                         012345678901234567890123456
    const JsonSourceMap map = JsonSourceMap::build(json);
    QCOMPARE(map.keyOffsetOf("a").value_or(-1), 1);
    QCOMPARE(map.keyOffsetOf("a.bb").value_or(-1), 7);
    QCOMPARE(map.keyOffsetOf("a.bb[0].c").value_or(-1), 16);
    QVERIFY(!map.keyOffsetOf("a.bb[0]")); // array elements have no name
    QVERIFY(!map.keyOffsetOf(""));
    QCOMPARE(map.size(), 5); // root, a, a.bb, a.bb[0], a.bb[0].c
}

void TestJsonSourceMap::missingPathFallsBackToParent_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<int>("offset");
    // {"a": {"b": [10, {"c": 1}]}}
    // 0123456789012345678901234567
    QTest::newRow("exists") << "a.b[1].c" << 23;
    QTest::newRow("missing member") << "a.b[1].d" << 17;
    QTest::newRow("missing index") << "a.b[5].c" << 12;
    QTest::newRow("member of scalar") << "a.b[0].x.y" << 13;
    QTest::newRow("missing top") << "z" << 0;
    QTest::newRow("root") << "" << 0;
}

void TestJsonSourceMap::missingPathFallsBackToParent()
{
    QFETCH(QString, path);
    QFETCH(int, offset);
    const JsonSourceMap map = JsonSourceMap::build(R"({"a": {"b": [10, {"c": 1}]}})");
    QCOMPARE(map.nearestOffset(path), offset);
}

void TestJsonSourceMap::parentPath_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("parent");
    QTest::newRow("member") << "a.b"
                            << "a";
    QTest::newRow("index") << "a.b[2]"
                           << "a.b";
    QTest::newRow("member of element") << "a[0].c"
                                       << "a[0]";
    QTest::newRow("top") << "a"
                         << "";
    QTest::newRow("top index") << "[3]"
                               << "";
    QTest::newRow("root") << ""
                          << "";
}

void TestJsonSourceMap::parentPath()
{
    QFETCH(QString, path);
    QFETCH(QString, parent);
    QCOMPARE(JsonSourceMap::parentPath(path), parent);
}

void TestJsonSourceMap::lineColumn_data()
{
    QTest::addColumn<QByteArray>("data");
    QTest::addColumn<int>("offset");
    QTest::addColumn<int>("line");
    QTest::addColumn<int>("column");
    QTest::newRow("start") << QByteArray("abc") << 0 << 1 << 1;
    QTest::newRow("first line") << QByteArray("abc") << 2 << 1 << 3;
    QTest::newRow("second line") << QByteArray("ab\ncd") << 4 << 2 << 2;
    QTest::newRow("at newline") << QByteArray("ab\ncd") << 2 << 1 << 3;
    QTest::newRow("just after newline") << QByteArray("ab\ncd") << 3 << 2 << 1;
    QTest::newRow("crlf") << QByteArray("a\r\nb") << 3 << 2 << 1;
    QTest::newRow("third line") << QByteArray("\n\n  x") << 4 << 3 << 3;
    QTest::newRow("utf-8 is one column") << QByteArray("\"\xC3\xA9\xE2\x82\xAC\" x") << 7 << 1 << 5;
    QTest::newRow("past the end clamps") << QByteArray("ab\nc") << 99 << 2 << 2;
    QTest::newRow("negative clamps") << QByteArray("ab") << -5 << 1 << 1;
    QTest::newRow("empty") << QByteArray() << 0 << 1 << 1;
}

void TestJsonSourceMap::lineColumn()
{
    QFETCH(QByteArray, data);
    QFETCH(int, offset);
    QFETCH(int, line);
    QFETCH(int, column);
    const auto [l, c] = JsonSourceMap::lineColumn(data, offset);
    QCOMPARE(l, line);
    QCOMPARE(c, column);
}

void TestJsonSourceMap::commentsKeepOffsets()
{
    const QByteArray text =
        "// a comment {\"x\": 1}\n{\n  /* \"y\": 2 */ \"z\": [1, // two\n 2]\n}";
    const JsonSourceMap map = JsonSourceMap::build(ConfigLoader::blankComments(text));
    QVERIFY(!map.offsetOf("x"));
    QVERIFY(!map.offsetOf("y"));
    const int z1 = map.offsetOf("z[1]").value_or(-1);
    QCOMPARE(text.at(z1), '2');
    QCOMPARE(JsonSourceMap::lineColumn(text, z1), std::make_pair(4, 2));
    const int z = map.keyOffsetOf("z").value_or(-1);
    QCOMPARE(JsonSourceMap::lineColumn(text, z), std::make_pair(3, 16));
}

void TestJsonSourceMap::duplicateMemberKeepsLast()
{
    const QByteArray json = R"({"a": 1, "a": 2})";
    QCOMPARE(QJsonDocument::fromJson(json).object().value("a").toInt(), 2);
    QCOMPARE(JsonSourceMap::build(json).offsetOf("a").value_or(-1), 14);
}

void TestJsonSourceMap::garbageDoesNotCrash_data()
{
    QTest::addColumn<QByteArray>("data");
    QTest::addColumn<QString>("lastPath"); // the deepest path still recorded
    QTest::newRow("empty") << QByteArray() << "";
    QTest::newRow("truncated array") << QByteArray(R"({"a": [1, 2)") << "a[1]";
    QTest::newRow("truncated string") << QByteArray(R"({"a": "xyz)") << "a";
    QTest::newRow("truncated key") << QByteArray(R"({"a": 1, "b)") << "a";
    QTest::newRow("bad escape") << QByteArray(R"({"a\q": 1})") << "";
    QTest::newRow("short unicode") << QByteArray(R"({"\u12)") << "";
    QTest::newRow("no colon") << QByteArray(R"({"a" 1})") << "";
    QTest::newRow("stray") << QByteArray(R"({"a": 1 ] })") << "a";
    QTest::newRow("backslash at end") << QByteArray("{\"a\\") << "";
    QTest::newRow("deep nesting") << QByteArray(5000, '[') << "";
    QTest::newRow("binary") << QByteArray("\x00\xff{\x01", 4) << "";
}

void TestJsonSourceMap::garbageDoesNotCrash()
{
    QFETCH(QByteArray, data);
    QFETCH(QString, lastPath);
    const JsonSourceMap map = JsonSourceMap::build(data);
    if (!data.isEmpty())
        QVERIFY(map.offsetOf(lastPath).has_value());
    QVERIFY(map.nearestOffset(QStringLiteral("x.y[3]")) >= 0);
}

QTEST_APPLESS_MAIN(TestJsonSourceMap)
#include "tst_jsonsourcemap.moc"
