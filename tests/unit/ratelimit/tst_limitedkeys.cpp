// SPDX-License-Identifier: GPL-3.0-or-later
// LimitedKeys, the Space-Saving summary of the most refused keys: exact counts while the
// table has room, most refused first (ties by key), top(n) cut to n, clear(); and with more
// keys than capacity: the heavy hitters stay, every reported count is an upper bound whose
// error says by how much at most, and the counts always add up to the refusals recorded.
#include "LimitedKeys.h"

#include <QSet>
#include <QTest>
#include <random>

using namespace bulwark;

class TestLimitedKeys : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void exactCountsWithRoom();
    void topOrderAndCut();
    void capacityOverflowKeepsHeavyHitters();
    void newKeyTakesOverTheSmallestCounter();
    void zeroCapacityKeepsNothing();
};

void TestLimitedKeys::exactCountsWithRoom()
{
    LimitedKeys keys(8);
    QVERIFY(keys.top(10).isEmpty());
    for (int i = 0; i < 5; ++i)
        keys.record("login|i203.0.113.7");
    keys.record("api|u42");
    keys.record("api|u42");
    keys.record(QByteArrayView("api|u7"));
    const QList<LimitedKeys::Entry> top = keys.top(10);
    QCOMPARE(top.size(), 3);
    QCOMPARE(top.at(0).key, QByteArray("login|i203.0.113.7"));
    QCOMPARE(top.at(0).count, 5u);
    QCOMPARE(top.at(1).key, QByteArray("api|u42"));
    QCOMPARE(top.at(1).count, 2u);
    QCOMPARE(top.at(2).key, QByteArray("api|u7"));
    QCOMPARE(top.at(2).count, 1u);
    for (const LimitedKeys::Entry &e : top)
        QCOMPARE(e.error, 0u);
    keys.clear();
    QVERIFY(keys.top(10).isEmpty());
    keys.record("a");
    QCOMPARE(keys.top(10).size(), 1);
    QCOMPARE(keys.top(10).first().count, 1u);
}

void TestLimitedKeys::topOrderAndCut()
{
    LimitedKeys keys(16);
    const QList<std::pair<QByteArray, int>> counts{
        {"d", 2}, {"a", 4}, {"c", 2}, {"b", 7}, {"e", 1}};
    for (const auto &[key, n] : counts)
        for (int i = 0; i < n; ++i)
            keys.record(key);
    QList<QByteArray> order;
    for (const LimitedKeys::Entry &e : keys.top(10))
        order.append(e.key);
    QCOMPARE(order, (QList<QByteArray>{"b", "a", "c", "d", "e"})); // ties: by key
    QCOMPARE(keys.top(2).size(), 2);
    QCOMPARE(keys.top(2).at(1).key, QByteArray("a"));
    QVERIFY(keys.top(0).isEmpty());
}

void TestLimitedKeys::capacityOverflowKeepsHeavyHitters()
{
    // Two heavy hitters among 240 one-off keys, in a random order, with room for 8: 400
    // refusals, so every key refused more than 400 / 8 = 50 times is guaranteed a place.
    constexpr int capacity = 8;
    LimitedKeys keys(capacity);
    QList<QByteArray> stream;
    for (int i = 0; i < 100; ++i)
        stream.append("heavy|a");
    for (int i = 0; i < 60; ++i)
        stream.append("heavy|b");
    for (int i = 0; i < 240; ++i)
        stream.append("once|" + QByteArray::number(i));
    std::mt19937 random(12345);
    std::shuffle(stream.begin(), stream.end(), random);
    QHash<QByteArray, quint64> truth;
    for (const QByteArray &k : stream) {
        keys.record(k);
        ++truth[k];
    }
    const quint64 total = quint64(stream.size());

    const QList<LimitedKeys::Entry> top = keys.top(100);
    QCOMPARE(top.size(), capacity);
    quint64 sum = 0;
    for (const LimitedKeys::Entry &e : top) {
        sum += e.count;
        // An upper bound, off by at most `error`, which is at most total / capacity.
        QVERIFY2(e.count >= truth.value(e.key), e.key.constData());
        QVERIFY2(e.count - e.error <= truth.value(e.key), e.key.constData());
        QVERIFY2(e.error <= total / capacity, e.key.constData());
    }
    QCOMPARE(sum, total); // a replaced key's count is taken over, never lost
    // The heavy hitters are the top two (a one-off key reports at most 50 + 1).
    QSet<QByteArray> firstTwo{top.at(0).key, top.at(1).key};
    QCOMPARE(firstTwo, (QSet<QByteArray>{"heavy|a", "heavy|b"}));
    QVERIFY(top.at(2).count <= total / capacity + 1);
}

void TestLimitedKeys::newKeyTakesOverTheSmallestCounter()
{
    LimitedKeys keys(3);
    for (int i = 0; i < 5; ++i)
        keys.record("a");
    for (int i = 0; i < 3; ++i)
        keys.record("b");
    keys.record("c"); // the smallest: 1
    keys.record("d"); // replaces c: 1 + 1, of which up to 1 may be c's
    QList<LimitedKeys::Entry> top = keys.top(10);
    QCOMPARE(top.size(), 3);
    QCOMPARE(top.at(2).key, QByteArray("d"));
    QCOMPARE(top.at(2).count, 2u);
    QCOMPARE(top.at(2).error, 1u);
    keys.record("e"); // replaces d: 2 + 1, error 2
    top = keys.top(10);
    QCOMPARE(top.at(0).key, QByteArray("a"));
    QCOMPARE(top.at(0).count, 5u);
    QCOMPARE(top.at(0).error, 0u);
    QCOMPARE(top.at(1).key, QByteArray("b"));
    QCOMPARE(top.at(1).count, 3u);
    QCOMPARE(top.at(2).key, QByteArray("e"));
    QCOMPARE(top.at(2).count, 3u);
    QCOMPARE(top.at(2).error, 2u);
    // A key already counted is counted exactly from then on.
    keys.record("e");
    keys.record("e");
    keys.record("e");
    top = keys.top(1);
    QCOMPARE(top.size(), 1);
    QCOMPARE(top.first().key, QByteArray("e"));
    QCOMPARE(top.first().count, 6u);
    QCOMPARE(top.first().error, 2u);
}

void TestLimitedKeys::zeroCapacityKeepsNothing()
{
    LimitedKeys keys(0);
    keys.record("a");
    keys.record("a");
    QVERIFY(keys.top(10).isEmpty());
}

QTEST_GUILESS_MAIN(TestLimitedKeys)
#include "tst_limitedkeys.moc"
