// SPDX-License-Identifier: GPL-3.0-or-later
#include "ClientAddress.h"

#include <cstring>

#include <optional>

namespace bulwark {

namespace {

bool isDigit(char c)
{
    return c >= '0' && c <= '9';
}

bool isHexDigit(char c)
{
    return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// A decimal number of 1..maxDigits digits without a leading zero (except "0") and at most
// `max`; -1 otherwise.
int strictDecimal(QByteArrayView s, int maxDigits, int max)
{
    if (s.isEmpty() || s.size() > maxDigits || (s.size() > 1 && s.front() == '0'))
        return -1;
    int value = 0;
    for (char c : s) {
        if (!isDigit(c))
            return -1;
        value = value * 10 + (c - '0');
    }
    return value <= max ? value : -1;
}

// Exactly four dot-separated decimal octets: QHostAddress also takes inet_aton forms
// ("127.1", "0x7f.0.0.1", "010.0.0.1" as octal), which no proxy writes.
bool isStrictIPv4(QByteArrayView s)
{
    int parts = 0;
    qsizetype start = 0;
    for (qsizetype i = 0; i <= s.size(); ++i) {
        if (i == s.size() || s[i] == '.') {
            if (strictDecimal(s.sliced(start, i - start), 3, 255) < 0)
                return false;
            ++parts;
            start = i + 1;
        }
    }
    return parts == 4;
}

// IPv6 text: hex digits and colons, optionally ending in a strict dotted quad; no scope id.
bool isStrictIPv6Text(QByteArrayView s)
{
    const qsizetype lastColon = s.lastIndexOf(':');
    if (lastColon < 0)
        return false;
    const QByteArrayView tail = s.sliced(lastColon + 1);
    const bool dottedTail = tail.contains('.');
    if (dottedTail && !isStrictIPv4(tail))
        return false;
    const QByteArrayView head = dottedTail ? s.first(lastColon + 1) : s;
    for (char c : head)
        if (!isHexDigit(c) && c != ':')
            return false;
    return true;
}

std::optional<QHostAddress> parseStrictAddress(QByteArrayView s)
{
    const bool v6 = s.contains(':');
    if (v6 ? !isStrictIPv6Text(s) : !isStrictIPv4(s))
        return std::nullopt;
    QHostAddress address;
    if (!address.setAddress(QString::fromLatin1(s)))
        return std::nullopt;
    const auto expected = v6 ? QAbstractSocket::IPv6Protocol : QAbstractSocket::IPv4Protocol;
    if (address.protocol() != expected)
        return std::nullopt;
    return address;
}

bool isV4Mapped(const QHostAddress &address)
{
    if (address.protocol() != QAbstractSocket::IPv6Protocol)
        return false;
    const Q_IPV6ADDR a = address.toIPv6Address();
    for (int i = 0; i < 10; ++i)
        if (a[i] != 0)
            return false;
    return a[10] == 0xff && a[11] == 0xff;
}

// ::ffff:a.b.c.d as a.b.c.d; anything else unchanged.
QHostAddress normalised(const QHostAddress &address)
{
    if (!isV4Mapped(address))
        return address;
    const Q_IPV6ADDR a = address.toIPv6Address();
    return QHostAddress(quint32(a[12]) << 24 | quint32(a[13]) << 16 | quint32(a[14]) << 8 |
                        quint32(a[15]));
}

// One X-Forwarded-For element, already trimmed: "a.b.c.d", "a.b.c.d:port", a bare IPv6
// address, "[v6]" or "[v6]:port".
std::optional<QHostAddress> parseForwardedEntry(QByteArrayView e)
{
    QByteArrayView host = e;
    QByteArrayView port;
    bool wantV6 = false;
    if (e.startsWith('[')) {
        const qsizetype close = e.indexOf(']');
        if (close < 0)
            return std::nullopt;
        host = e.sliced(1, close - 1);
        const QByteArrayView rest = e.sliced(close + 1);
        if (!rest.isEmpty()) {
            if (!rest.startsWith(':'))
                return std::nullopt;
            port = rest.sliced(1);
            if (port.isEmpty())
                return std::nullopt;
        }
        wantV6 = true;
    } else if (e.count(':') == 1) {
        const qsizetype colon = e.indexOf(':');
        host = e.first(colon);
        port = e.sliced(colon + 1);
        if (port.isEmpty() || host.contains(':'))
            return std::nullopt;
    } else {
        wantV6 = e.contains(':');
    }
    if (!port.isEmpty() && strictDecimal(port, 5, 65535) < 0)
        return std::nullopt;
    auto address = parseStrictAddress(host);
    if (!address || (address->protocol() == QAbstractSocket::IPv6Protocol) != wantV6)
        return std::nullopt;
    return address;
}

} // namespace

Result<CidrSet> CidrSet::parse(const QStringList &entries)
{
    CidrSet set;
    for (const QString &raw : entries) {
        const QString entry = raw.trimmed();
        const auto fail = [&](const QString &why) -> Result<CidrSet> {
            return Error{ErrorCode::BadRequest, QStringLiteral("\"%1\": %2").arg(raw, why)};
        };
        const qsizetype slash = entry.indexOf(u'/');
        const QString addressText = slash < 0 ? entry : entry.first(slash);
        const QByteArray latin = addressText.toLatin1();
        // toLatin1 maps non-Latin-1 characters to '?', which the strict parser rejects.
        const auto address = parseStrictAddress(latin);
        if (!address)
            return fail(QStringLiteral("not an IP address"));
        const bool v6 = address->protocol() == QAbstractSocket::IPv6Protocol;
        const int maxPrefix = v6 ? 128 : 32;
        int prefix = maxPrefix;
        if (slash >= 0) {
            prefix = strictDecimal(entry.sliced(slash + 1).toLatin1(), 3, maxPrefix);
            if (prefix < 0)
                return fail(v6 ? QStringLiteral("prefix length must be 0..128 for IPv6")
                               : QStringLiteral("prefix length must be 0..32 for IPv4"));
        }
        Network network{*address, prefix};
        if (v6 && prefix >= 96 && isV4Mapped(*address))
            network = Network{normalised(*address), prefix - 96};
        set.m_networks.push_back(std::move(network));
    }
    return set;
}

bool CidrSet::contains(const QHostAddress &address) const
{
    if (address.isNull())
        return false;
    const QHostAddress a = normalised(address);
    for (const Network &n : m_networks)
        if (a.isInSubnet(n.address, n.prefix))
            return true;
    return false;
}

QHostAddress clientAddress(const QHostAddress &peer, QByteArrayView xForwardedFor,
                           const CidrSet &trustedProxies)
{
    if (!trustedProxies.contains(peer))
        return peer;
    QHostAddress lastTrusted = peer;
    qsizetype end = xForwardedFor.size();
    while (end >= 0) {
        // The element is (start, end): after the previous comma up to this one.
        qsizetype start = end - 1;
        while (start >= 0 && xForwardedFor[start] != ',')
            --start;
        const QByteArrayView entry = xForwardedFor.sliced(start + 1, end - start - 1).trimmed();
        end = start;
        if (entry.isEmpty())
            continue; // empty list element
        const auto address = parseForwardedEntry(entry);
        if (!address)
            return lastTrusted; // nothing left of garbage was written by a proxy of ours
        if (!trustedProxies.contains(*address))
            return *address;
        lastTrusted = *address;
    }
    return lastTrusted; // every hop trusted: the leftmost
}

qsizetype writeRateLimitAddressKey(const QHostAddress &address, char *out)
{
    if (address.isNull())
        return 0;
    // IPv4 (and IPv4-mapped) addresses are formatted here: QHostAddress::toString() costs
    // a few hundred nanoseconds, more than the rate-limit decision itself.
    quint32 v4 = 0;
    if (address.protocol() == QAbstractSocket::IPv4Protocol) {
        v4 = address.toIPv4Address();
    } else if (isV4Mapped(address)) {
        const Q_IPV6ADDR a = address.toIPv6Address();
        v4 = quint32(a[12]) << 24 | quint32(a[13]) << 16 | quint32(a[14]) << 8 | quint32(a[15]);
    } else {
        Q_IPV6ADDR bytes = address.toIPv6Address(); // drops any scope id
        for (int i = 8; i < 16; ++i)
            bytes[i] = 0;
        const QByteArray text = QHostAddress(bytes).toString().toLatin1() + "/64";
        const qsizetype n = qMin<qsizetype>(text.size(), kMaxAddressKeyLength);
        std::memcpy(out, text.constData(), size_t(n));
        return n;
    }
    char *p = out;
    for (int shift = 24; shift >= 0; shift -= 8) {
        const unsigned octet = (v4 >> shift) & 0xff; // one to three digits, written directly
        if (octet >= 100)
            *p++ = char('0' + octet / 100);
        if (octet >= 10)
            *p++ = char('0' + octet / 10 % 10);
        *p++ = char('0' + octet % 10);
        if (shift > 0)
            *p++ = '.';
    }
    return p - out;
}

QByteArray rateLimitAddressKey(const QHostAddress &address)
{
    char key[kMaxAddressKeyLength];
    return QByteArray(key, writeRateLimitAddressKey(address, key));
}

} // namespace bulwark
