// SPDX-License-Identifier: GPL-3.0-or-later
// writeDecimal (Decimal.h) against QByteArray::number: single digits, the two-digit
// boundaries, the extremes of qint64 and quint64, negative values, and a pseudo-random
// sweep over every magnitude.
#include "Decimal.h"

#include <QByteArray>
#include <QtTest>
#include <limits>
#include <random>

using namespace bulwark;

class TestDecimal : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void signedValues_data();
    void signedValues();
    void unsignedExtreme();
    void sweep();
};

void TestDecimal::signedValues_data()
{
    QTest::addColumn<qint64>("value");
    for (qint64 v : {qint64(0), qint64(7), qint64(9), qint64(10), qint64(42), qint64(99),
                     qint64(100), qint64(101), qint64(999), qint64(1000), qint64(65535),
                     qint64(1'000'000'000), qint64(1'795'908'900), qint64(-1), qint64(-10),
                     qint64(-1234567), std::numeric_limits<qint64>::max(),
                     std::numeric_limits<qint64>::min()})
        QTest::newRow(QByteArray::number(v).constData()) << v;
}

void TestDecimal::signedValues()
{
    QFETCH(qint64, value);
    char out[24];
    const char *end = writeDecimal(out, value);
    QCOMPARE(QByteArray(out, end - out), QByteArray::number(value));
}

void TestDecimal::unsignedExtreme()
{
    char out[24];
    const quint64 v = std::numeric_limits<quint64>::max();
    QCOMPARE(QByteArray(out, writeDecimal(out, v) - out), QByteArray::number(v));
}

void TestDecimal::sweep()
{
    std::mt19937_64 rng(7);
    char out[24];
    for (int i = 0; i < 100'000; ++i) {
        const quint64 v = rng() >> (rng() % 64);
        QCOMPARE(QByteArray(out, writeDecimal(out, v) - out), QByteArray::number(v));
    }
}

QTEST_GUILESS_MAIN(TestDecimal)
#include "tst_decimal.moc"
