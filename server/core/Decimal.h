// SPDX-License-Identifier: GPL-3.0-or-later
// Writes a non-negative integer in decimal, for the few hot paths that format numbers on
// every request (rate-limit headers and keys). Two digits per step from a 200-byte table,
// written backwards into a small stack buffer and copied once: about a third of what
// std::to_chars costs here (libstdc++ 12 first counts the digits in a loop, then calls out
// of line).
#pragma once

#include <QtGlobal>
#include <cstring>

namespace bulwark {

// Writes v at `out` (room for 20 characters) and returns the end.
inline char *writeDecimal(char *out, quint64 v)
{
    static constexpr char kPairs[] = "00010203040506070809"
                                     "10111213141516171819"
                                     "20212223242526272829"
                                     "30313233343536373839"
                                     "40414243444546474849"
                                     "50515253545556575859"
                                     "60616263646566676869"
                                     "70717273747576777879"
                                     "80818283848586878889"
                                     "90919293949596979899";
    char digits[20];
    char *p = digits + sizeof digits;
    while (v >= 100) {
        const unsigned pair = unsigned(v % 100) * 2;
        v /= 100;
        *--p = kPairs[pair + 1];
        *--p = kPairs[pair];
    }
    if (v >= 10) {
        *--p = kPairs[v * 2 + 1];
        *--p = kPairs[v * 2];
    } else {
        *--p = char('0' + v);
    }
    const size_t n = size_t(digits + sizeof digits - p);
    std::memcpy(out, p, n);
    return out + n;
}

// The same for a signed value (a minus sign for negative ones).
inline char *writeDecimal(char *out, qint64 v)
{
    if (v < 0) {
        *out++ = '-';
        return writeDecimal(out, quint64(0) - quint64(v));
    }
    return writeDecimal(out, quint64(v));
}

} // namespace bulwark
