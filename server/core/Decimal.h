// SPDX-License-Identifier: GPL-3.0-or-later
// Writes an integer in decimal, for the few hot paths that format numbers on every request
// (rate-limit headers and keys): inline, two digits per step from a 200-byte table, no
// copy (libstdc++ 12's std::to_chars is called out of line and cost a third more here).
#pragma once

#include <QtGlobal>

namespace bulwark {

// The number of decimal digits of v (1 for 0).
inline int decimalLength(quint64 v)
{
    int n = 1;
    // Four digits per step while the number is large, then one: few steps for the
    // numbers written here (counts, seconds, Unix times).
    while (v >= 10'000) {
        v /= 10'000;
        n += 4;
    }
    while (v >= 10) {
        v /= 10;
        ++n;
    }
    return n;
}

// Writes v at `out` (room for 20 characters) and returns the end: two digits per step from
// a table, backwards from the end it worked out first, so nothing is copied twice.
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
    char *const end = out + decimalLength(v);
    char *p = end;
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
    return end;
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
