// SPDX-License-Identifier: GPL-3.0-or-later
// Credentials: PBKDF2-HMAC-SHA256 against published test vectors, password hashes that
// verify only with the right password and differ per salt, and API keys that are random,
// well-formed and stored only as their SHA-256; the constant-time comparison of secrets.
#include "Credentials.h"

#include <QRegularExpression>
#include <QSet>
#include <QtTest>

using namespace bulwark;

class TestCredentials : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void pbkdf2KnownAnswers_data();
    void pbkdf2KnownAnswers();
    void passwordRoundTrip();
    void saltMakesHashesDiffer();
    void brokenRecordNeverVerifies();
    void apiKeys();
    void constantTimeEquals_data();
    void constantTimeEquals();
};

void TestCredentials::pbkdf2KnownAnswers_data()
{
    // PBKDF2-HMAC-SHA256 vectors (RFC 7914 section 11 and the widely used RFC 6070 analogues).
    QTest::addColumn<QByteArray>("password");
    QTest::addColumn<QByteArray>("salt");
    QTest::addColumn<int>("iterations");
    QTest::addColumn<QByteArray>("expectedHex");
    QTest::newRow("c=1") << QByteArray("password") << QByteArray("salt") << 1
                         << QByteArray(
                                "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
    QTest::newRow("c=2") << QByteArray("password") << QByteArray("salt") << 2
                         << QByteArray(
                                "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43");
    QTest::newRow("c=4096")
        << QByteArray("password") << QByteArray("salt") << 4096
        << QByteArray("c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
}

void TestCredentials::pbkdf2KnownAnswers()
{
    QFETCH(QByteArray, password);
    QFETCH(QByteArray, salt);
    QFETCH(int, iterations);
    QFETCH(QByteArray, expectedHex);
    QCOMPARE(Credentials::pbkdf2Sha256(password, salt, iterations).toHex(), expectedHex);
}

void TestCredentials::passwordRoundTrip()
{
    const PasswordHash stored = Credentials::hashPassword(QStringLiteral("correct horse ☃"), 1000);
    QCOMPARE(stored.iterations, 1000);
    QCOMPARE(QByteArray::fromBase64(stored.salt).size(), 16);
    QCOMPARE(QByteArray::fromBase64(stored.hash).size(), 32);
    QVERIFY(Credentials::verifyPassword(QStringLiteral("correct horse ☃"), stored));
    QVERIFY(!Credentials::verifyPassword(QStringLiteral("correct horse"), stored));
    QVERIFY(!Credentials::verifyPassword(QString(), stored));
    QCOMPARE(Credentials::kDefaultIterations, 600000);
}

void TestCredentials::saltMakesHashesDiffer()
{
    const PasswordHash a = Credentials::hashPassword(QStringLiteral("same"), 1000);
    const PasswordHash b = Credentials::hashPassword(QStringLiteral("same"), 1000);
    QVERIFY(a.salt != b.salt);
    QVERIFY(a.hash != b.hash);
}

void TestCredentials::brokenRecordNeverVerifies()
{
    PasswordHash stored = Credentials::hashPassword(QStringLiteral("pw"), 1000);
    stored.iterations = 0;
    QVERIFY(!Credentials::verifyPassword(QStringLiteral("pw"), stored));
    QVERIFY(!Credentials::verifyPassword(QStringLiteral("pw"), PasswordHash{}));
}

void TestCredentials::apiKeys()
{
    static const QRegularExpression format(QStringLiteral("^bwk_[A-Za-z0-9_-]{43}$"));
    QSet<QByteArray> seen;
    for (int i = 0; i < 50; ++i) {
        const Credentials::ApiKey key = Credentials::newApiKey();
        QVERIFY2(format.match(QString::fromLatin1(key.token)).hasMatch(), key.token.constData());
        QCOMPARE(key.hash, Credentials::apiKeyHash(key.token));
        QCOMPARE(key.hash.size(), 64);
        QVERIFY(!key.hash.contains(key.token));
        QVERIFY(!seen.contains(key.token));
        seen.insert(key.token);
    }
}

void TestCredentials::constantTimeEquals_data()
{
    QTest::addColumn<QByteArray>("a");
    QTest::addColumn<QByteArray>("b");
    QTest::addColumn<bool>("equal");
    QTest::newRow("equal") << QByteArray("token") << QByteArray("token") << true;
    QTest::newRow("both empty") << QByteArray() << QByteArray() << true;
    QTest::newRow("first byte differs") << QByteArray("Token") << QByteArray("token") << false;
    QTest::newRow("last byte differs") << QByteArray("token1") << QByteArray("token2") << false;
    QTest::newRow("prefix") << QByteArray("tok") << QByteArray("token") << false;
    QTest::newRow("longer") << QByteArray("tokens") << QByteArray("token") << false;
    QTest::newRow("one empty") << QByteArray() << QByteArray("x") << false;
    QTest::newRow("high bytes") << QByteArray("\xff\x80") << QByteArray("\xfe\x80") << false;
    QTest::newRow("high bytes equal") << QByteArray("\xff\x80") << QByteArray("\xff\x80") << true;
    QTest::newRow("embedded NUL") << QByteArray("a\0b", 3) << QByteArray("a\0c", 3) << false;
}

void TestCredentials::constantTimeEquals()
{
    QFETCH(QByteArray, a);
    QFETCH(QByteArray, b);
    QFETCH(bool, equal);
    QCOMPARE(Credentials::constantTimeEquals(a, b), equal);
    QCOMPARE(Credentials::constantTimeEquals(b, a), equal);
}

QTEST_GUILESS_MAIN(TestCredentials)
#include "tst_credentials.moc"
