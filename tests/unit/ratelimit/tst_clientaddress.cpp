// SPDX-License-Identifier: GPL-3.0-or-later
// ClientAddress: CidrSet parsing (exact error messages) and membership for IPv4, IPv6 and
// IPv4-mapped addresses; clientAddress() against spoofed, chained, all-trusted and
// malformed X-Forwarded-For headers; rateLimitAddressKey() for IPv4 and IPv6 /64s.
#include "ClientAddress.h"

#include <QtTest>

using namespace bulwark;

namespace {

CidrSet trusted()
{
    // Loopback, a private proxy range and one IPv6 proxy network.
    auto set = CidrSet::parse({"127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"});
    Q_ASSERT(set.ok());
    return set.value();
}

} // namespace

class TestClientAddress : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parseCidr_data()
    {
        QTest::addColumn<QStringList>("entries");
        QTest::addColumn<QString>("error"); // empty: parses
        QTest::addColumn<int>("size");

        QTest::newRow("empty list") << QStringList{} << QString() << 0;
        QTest::newRow("v4 and v6, bare and prefixed")
            << QStringList{"127.0.0.1/32", "10.0.0.0/8", "::1", "fd00::/8"} << QString() << 4;
        QTest::newRow("prefix 0 both families")
            << QStringList{"0.0.0.0/0", "::/0"} << QString() << 2;
        QTest::newRow("spaces around") << QStringList{" 10.0.0.0/8 "} << QString() << 1;
        QTest::newRow("host bits set") << QStringList{"10.1.2.3/8"} << QString() << 1;
        QTest::newRow("mapped network") << QStringList{"::ffff:10.0.0.0/104"} << QString() << 1;
        QTest::newRow("v4 prefix 33")
            << QStringList{"127.0.0.1", "10.0.0.0/33"}
            << QStringLiteral("\"10.0.0.0/33\": prefix length must be 0..32 for IPv4") << 0;
        QTest::newRow("v6 prefix 129")
            << QStringList{"fd00::/129"}
            << QStringLiteral("\"fd00::/129\": prefix length must be 0..128 for IPv6") << 0;
        QTest::newRow("empty prefix")
            << QStringList{"10.0.0.0/"}
            << QStringLiteral("\"10.0.0.0/\": prefix length must be 0..32 for IPv4") << 0;
        QTest::newRow("negative prefix")
            << QStringList{"10.0.0.0/-1"}
            << QStringLiteral("\"10.0.0.0/-1\": prefix length must be 0..32 for IPv4") << 0;
        QTest::newRow("netmask form")
            << QStringList{"10.0.0.0/255.0.0.0"}
            << QStringLiteral("\"10.0.0.0/255.0.0.0\": prefix length must be 0..32 for IPv4") << 0;
        QTest::newRow("two slashes")
            << QStringList{"10.0.0.0/8/8"}
            << QStringLiteral("\"10.0.0.0/8/8\": prefix length must be 0..32 for IPv4") << 0;
        QTest::newRow("hostname") << QStringList{"proxy.local"}
                                  << QStringLiteral("\"proxy.local\": not an IP address") << 0;
        QTest::newRow("empty entry")
            << QStringList{""} << QStringLiteral("\"\": not an IP address") << 0;
        QTest::newRow("inet_aton short form")
            << QStringList{"127.1"} << QStringLiteral("\"127.1\": not an IP address") << 0;
        QTest::newRow("octet 256") << QStringList{"10.0.0.256/32"}
                                   << QStringLiteral("\"10.0.0.256/32\": not an IP address") << 0;
        QTest::newRow("leading zero")
            << QStringList{"010.0.0.1"} << QStringLiteral("\"010.0.0.1\": not an IP address") << 0;
        QTest::newRow("scope id") << QStringList{"fe80::1%eth0"}
                                  << QStringLiteral("\"fe80::1%eth0\": not an IP address") << 0;
    }
    void parseCidr()
    {
        QFETCH(QStringList, entries);
        QFETCH(QString, error);
        QFETCH(int, size);
        const auto set = CidrSet::parse(entries);
        if (error.isEmpty()) {
            QVERIFY2(set.ok(), qPrintable(set.ok() ? QString() : set.error().message));
            QCOMPARE(set.value().size(), size);
        } else {
            QVERIFY(!set.ok());
            QCOMPARE(set.error().code, ErrorCode::BadRequest);
            QCOMPARE(set.error().message, error);
        }
    }

    void contains_data()
    {
        QTest::addColumn<QStringList>("entries");
        QTest::addColumn<QString>("address");
        QTest::addColumn<bool>("expected");

        const QStringList set{"127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"};
        QTest::newRow("v4 exact") << set << "127.0.0.1" << true;
        QTest::newRow("v4 bare is /32") << set << "127.0.0.2" << false;
        QTest::newRow("v4 in /8") << set << "10.255.1.2" << true;
        QTest::newRow("v4 outside /8") << set << "11.0.0.1" << false;
        QTest::newRow("v6 exact") << set << "::1" << true;
        QTest::newRow("v6 bare is /128") << set << "::2" << false;
        QTest::newRow("v6 in /8") << set << "fd12:3456::1" << true;
        QTest::newRow("v6 outside /8") << set << "fe80::1" << false;
        QTest::newRow("mapped v4 matches v4 entry") << set << "::ffff:10.1.2.3" << true;
        QTest::newRow("mapped loopback") << set << "::ffff:127.0.0.1" << true;
        QTest::newRow("mapped v4 outside") << set << "::ffff:11.1.2.3" << false;
        QTest::newRow("v4 loopback is not ::1") << QStringList{"::1"} << "127.0.0.1" << false;
        QTest::newRow("host bits ignored") << QStringList{"10.1.2.3/8"} << "10.9.9.9" << true;
        QTest::newRow("mapped network as v4")
            << QStringList{"::ffff:10.0.0.0/104"} << "10.2.3.4" << true;
        QTest::newRow("v4 /0") << QStringList{"0.0.0.0/0"} << "203.0.113.7" << true;
        QTest::newRow("v4 /0 not v6") << QStringList{"0.0.0.0/0"} << "2001:db8::1" << false;
        QTest::newRow("v6 /0") << QStringList{"::/0"} << "2001:db8::1" << true;
        QTest::newRow("empty set") << QStringList{} << "127.0.0.1" << false;
        QTest::newRow("null address") << set << "" << false;
    }
    void contains()
    {
        QFETCH(QStringList, entries);
        QFETCH(QString, address);
        QFETCH(bool, expected);
        const auto set = CidrSet::parse(entries);
        QVERIFY(set.ok());
        QCOMPARE(set.value().contains(QHostAddress(address)), expected);
    }

    void clientAddress_data()
    {
        QTest::addColumn<QString>("peer");
        QTest::addColumn<QByteArray>("xff");
        QTest::addColumn<QString>("expected");

        // Untrusted peer: the header is whatever the client wrote; ignore it.
        QTest::newRow("untrusted peer, spoofed header")
            << "203.0.113.7" << QByteArray("1.2.3.4") << "203.0.113.7";
        QTest::newRow("untrusted peer, no header")
            << "203.0.113.7" << QByteArray() << "203.0.113.7";
        QTest::newRow("untrusted v6 peer, spoofed")
            << "2001:db8::7" << QByteArray("10.0.0.1") << "2001:db8::7";
        // Trusted peer.
        QTest::newRow("trusted peer, empty header") << "10.0.0.1" << QByteArray() << "10.0.0.1";
        QTest::newRow("trusted peer, blank header")
            << "10.0.0.1" << QByteArray(" , ,") << "10.0.0.1";
        QTest::newRow("single hop") << "10.0.0.1" << QByteArray("203.0.113.7") << "203.0.113.7";
        QTest::newRow("mapped trusted peer")
            << "::ffff:10.0.0.1" << QByteArray("203.0.113.7") << "203.0.113.7";
        QTest::newRow("v6 trusted peer, v6 client")
            << "::1" << QByteArray("2001:db8::7") << "2001:db8::7";
        QTest::newRow("spoofed left part ignored")
            << "10.0.0.1" << QByteArray("1.1.1.1, 198.51.100.9, 203.0.113.7") << "203.0.113.7";
        QTest::newRow("skip trusted hops")
            << "10.0.0.1" << QByteArray("1.1.1.1, 203.0.113.7, 10.0.0.3, fd00::2, 127.0.0.1")
            << "203.0.113.7";
        QTest::newRow("all hops trusted: leftmost")
            << "10.0.0.1" << QByteArray("10.9.9.9, 127.0.0.1, 10.0.0.2") << "10.9.9.9";
        // Garbage stops the walk at the last trusted hop seen.
        QTest::newRow("garbage rightmost: peer")
            << "10.0.0.1" << QByteArray("1.1.1.1, garbage") << "10.0.0.1";
        QTest::newRow("garbage after trusted hop: that hop")
            << "10.0.0.1" << QByteArray("1.1.1.1, unknown, 10.0.0.5") << "10.0.0.5";
        QTest::newRow("garbage left of client: client")
            << "10.0.0.1" << QByteArray("garbage, 203.0.113.7") << "203.0.113.7";
        QTest::newRow("inet_aton form is garbage")
            << "10.0.0.1" << QByteArray("1.1.1.1, 127.1") << "10.0.0.1";
        QTest::newRow("hostname is garbage")
            << "10.0.0.1" << QByteArray("client.example") << "10.0.0.1";
        QTest::newRow("scope id is garbage")
            << "10.0.0.1" << QByteArray("fe80::1%eth0") << "10.0.0.1";
        QTest::newRow("port too large is garbage")
            << "10.0.0.1" << QByteArray("203.0.113.7:65536") << "10.0.0.1";
        QTest::newRow("empty port is garbage")
            << "10.0.0.1" << QByteArray("203.0.113.7:") << "10.0.0.1";
        QTest::newRow("unclosed bracket is garbage")
            << "10.0.0.1" << QByteArray("[2001:db8::7") << "10.0.0.1";
        QTest::newRow("v4 in brackets is garbage")
            << "10.0.0.1" << QByteArray("[203.0.113.7]") << "10.0.0.1";
        QTest::newRow("junk after bracket is garbage")
            << "10.0.0.1" << QByteArray("[2001:db8::7]x") << "10.0.0.1";
        QTest::newRow("space inside entry is garbage")
            << "10.0.0.1" << QByteArray("203.0.113. 7") << "10.0.0.1";
        // Ports, brackets, whitespace.
        QTest::newRow("v4 with port")
            << "10.0.0.1" << QByteArray("203.0.113.7:51234") << "203.0.113.7";
        QTest::newRow("bracketed v6") << "10.0.0.1" << QByteArray("[2001:db8::7]") << "2001:db8::7";
        QTest::newRow("bracketed v6 with port")
            << "10.0.0.1" << QByteArray("[2001:db8::7]:443") << "2001:db8::7";
        QTest::newRow("bare v6") << "10.0.0.1" << QByteArray("2001:db8::7") << "2001:db8::7";
        QTest::newRow("trusted hop with port skipped")
            << "10.0.0.1" << QByteArray("203.0.113.7, 10.0.0.2:8080, [fd00::5]:80")
            << "203.0.113.7";
        QTest::newRow("spaces and tabs")
            << "10.0.0.1" << QByteArray("  1.1.1.1 ,\t203.0.113.7\t , 10.0.0.2  ") << "203.0.113.7";
        QTest::newRow("no spaces")
            << "10.0.0.1" << QByteArray("1.1.1.1,203.0.113.7") << "203.0.113.7";
        QTest::newRow("empty elements skipped")
            << "10.0.0.1" << QByteArray(",203.0.113.7,, 10.0.0.2,") << "203.0.113.7";
        QTest::newRow("mapped client in header")
            << "10.0.0.1" << QByteArray("::ffff:203.0.113.7") << "::ffff:203.0.113.7";
        QTest::newRow("mapped trusted hop skipped")
            << "10.0.0.1" << QByteArray("203.0.113.7, ::ffff:10.0.0.9") << "203.0.113.7";
    }
    void clientAddress()
    {
        QFETCH(QString, peer);
        QFETCH(QByteArray, xff);
        QFETCH(QString, expected);
        const QHostAddress got = bulwark::clientAddress(QHostAddress(peer), xff, trusted());
        QCOMPARE(got, QHostAddress(expected));
    }

    void addressKey_data()
    {
        QTest::addColumn<QString>("address");
        QTest::addColumn<QByteArray>("key");

        QTest::newRow("v4") << "203.0.113.7" << QByteArray("203.0.113.7");
        QTest::newRow("mapped v4") << "::ffff:203.0.113.7" << QByteArray("203.0.113.7");
        QTest::newRow("v6 a") << "2001:db8:1:2::1" << QByteArray("2001:db8:1:2::/64");
        QTest::newRow("v6 b same /64")
            << "2001:db8:1:2:abcd:ef01:2345:6789" << QByteArray("2001:db8:1:2::/64");
        QTest::newRow("v6 other /64") << "2001:db8:1:3::1" << QByteArray("2001:db8:1:3::/64");
        QTest::newRow("v6 uppercase") << "2001:DB8:1:2::FFFF" << QByteArray("2001:db8:1:2::/64");
        QTest::newRow("v6 with scope") << "fe80::1%eth0" << QByteArray("fe80::/64");
        QTest::newRow("::1") << "::1" << QByteArray("::/64");
        QTest::newRow("null") << "" << QByteArray();
    }
    void addressKey()
    {
        QFETCH(QString, address);
        QFETCH(QByteArray, key);
        QCOMPARE(rateLimitAddressKey(QHostAddress(address)), key);
    }

    void sameSlash64SharesKey()
    {
        const QByteArray a = rateLimitAddressKey(QHostAddress("2001:db8:1:2::1"));
        const QByteArray b = rateLimitAddressKey(QHostAddress("2001:db8:1:2:ffff::42"));
        const QByteArray c = rateLimitAddressKey(QHostAddress("2001:db8:1:3::1"));
        QCOMPARE(a, b);
        QVERIFY(a != c);
    }
};

QTEST_GUILESS_MAIN(TestClientAddress)
#include "tst_clientaddress.moc"
