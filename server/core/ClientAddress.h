// SPDX-License-Identifier: GPL-3.0-or-later
// Which client a request comes from, for the rate limiter's `ip` scope. Behind a reverse
// proxy the TCP peer is the proxy, so the client is named in X-Forwarded-For; but that
// header is written by whoever sends the request, so it is honoured only when the peer is
// one of the configured trusted proxies (a CidrSet), and only as far as the chain of
// trusted proxies reaches: each proxy appends the address it saw, so the rightmost entry
// that is not itself a trusted proxy is the first address no proxy of ours vouches for,
// and everything to its left may be forged.
//
// The key for an IPv4 client is its address. An IPv6 subscriber is usually given a whole
// /64 (often more) and can pick any address in it, so keying on the full address would let
// one client rotate through 2^64 keys; IPv6 clients are keyed on their /64 instead.
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, as a dual-stack socket reports IPv4 peers)
// are treated as the IPv4 address everywhere here.
//
// Addresses are parsed strictly: dotted quads only (no "127.1", "0x7f.0.0.1" or leading
// zeros, which QHostAddress would accept with inet_aton meanings), no IPv6 scope ids.
#pragma once

#include "Error.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QHostAddress>
#include <QStringList>
#include <vector>

namespace bulwark {

// A set of IPv4 and IPv6 networks, e.g. the trusted proxies.
class CidrSet
{
public:
    CidrSet() = default;

    // Entries are "address/prefix" or a bare address (/32 for IPv4, /128 for IPv6);
    // surrounding spaces are ignored. Host bits below the prefix are ignored
    // ("10.1.2.3/8" is 10.0.0.0/8). An IPv4-mapped IPv6 network with a prefix of at least
    // 96 ("::ffff:10.0.0.0/104") is stored as the IPv4 one (10.0.0.0/8). The error
    // (BadRequest) names the first bad entry, e.g.
    // "\"10.0.0.0/33\": prefix length must be 0..32 for IPv4".
    static Result<CidrSet> parse(const QStringList &entries);

    // Whether the address lies in one of the networks. An IPv4-mapped IPv6 address is
    // matched as its IPv4 address; a null address is in no network.
    bool contains(const QHostAddress &address) const;

    bool isEmpty() const { return m_networks.empty(); }
    qsizetype size() const { return qsizetype(m_networks.size()); }

private:
    struct Network
    {
        QHostAddress address;
        int prefix = 0;
    };
    std::vector<Network> m_networks;
};

// The client address of a request whose TCP peer is `peer` and whose X-Forwarded-For
// header (all its lines joined by ",") is `xForwardedFor`:
//  - the peer itself if it is not in `trustedProxies` (the header is ignored) or if the
//    header is empty or holds only empty list elements;
//  - otherwise the entries are read from right to left, skipping those that are trusted
//    proxies, and the first untrusted one is the client;
//  - if every entry is a trusted proxy, the leftmost one (the request started inside the
//    proxy network, e.g. a health check or an internal caller);
//  - an entry that is not an address (garbage, "unknown", an obfuscated RFC 7239 name, a
//    bad port) stops the walk: the last trusted hop seen (the peer, or the entry to its
//    right) is returned, never anything left of it, since a trusted proxy did not write it.
// Entries may be "a.b.c.d", "a.b.c.d:port", an IPv6 address, "[v6]" or "[v6]:port", with
// spaces or tabs around them; empty list elements ("a,,b") are skipped (RFC 9110 5.6.1).
// The result is returned as parsed (an IPv4-mapped peer stays mapped); rateLimitAddressKey
// normalises it.
QHostAddress clientAddress(const QHostAddress &peer, QByteArrayView xForwardedFor,
                           const CidrSet &trustedProxies);

// The rate-limit key for a client address: IPv4 and IPv4-mapped IPv6 as the dotted quad
// ("203.0.113.7"), IPv6 as its /64 network in canonical form ("2001:db8:1:2::/64", "::/64"
// for ::1). A null address gives an empty key.
QByteArray rateLimitAddressKey(const QHostAddress &address);
// The same key written to `out` (room for kMaxAddressKeyLength bytes) without allocating
// for IPv4 clients; returns its length.
constexpr qsizetype kMaxAddressKeyLength = 48;
qsizetype writeRateLimitAddressKey(const QHostAddress &address, char *out);

} // namespace bulwark
