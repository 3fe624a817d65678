// SPDX-License-Identifier: GPL-3.0-or-later
// See RetryPolicy.h.
//
// The exponential is computed as a double and compared with the cap before anything is
// converted back to an integer: base * multiplier^(n-1) may be huge or infinite (never
// NaN: the base is finite and >= 0, the multiplier >= 1, and a base of 0 returns early),
// and only a value below the cap, itself at most 2^53 ms, is rounded to an integer, so
// no conversion can overflow. Below 2^53 doubles hold whole milliseconds exactly, and
// with an integer multiplier the products are exact too; a fractional multiplier
// (1.5: 100, 150, 225, 337.5 ...) rounds to the nearest millisecond, half away from zero.
#include "RetryPolicy.h"

#include <algorithm>
#include <cmath>

namespace bulwark {

namespace {

constexpr qint64 kMaxDelayMs = qint64(1) << 53;

} // namespace

RetryPolicy::Window RetryPolicy::window(int attempt) const
{
    const qint64 cap = std::clamp<qint64>(maxDelay.count(), 0, kMaxDelayMs);
    const qint64 base = std::clamp<qint64>(baseDelay.count(), 0, cap);
    const double factor = multiplier >= 1.0 ? multiplier : 1.0; // NaN fails the test too
    const double spread = jitter >= 0.0 ? std::min(jitter, 1.0) : 0.0;

    qint64 delay = base;
    if (base > 0 && attempt > 1) {
        const double exact = double(base) * std::pow(factor, double(attempt - 1));
        delay = exact >= double(cap) ? cap : qint64(std::llround(exact));
    }
    const qint64 width = std::llround(double(delay) * spread); // <= delay
    return {std::chrono::milliseconds(delay - width), std::chrono::milliseconds(delay)};
}

std::chrono::milliseconds RetryPolicy::delayBefore(int attempt, quint64 randomValue) const
{
    const Window w = window(attempt);
    const quint64 width = quint64((w.max - w.min).count());
    return w.min + std::chrono::milliseconds(qint64(randomValue % (width + 1)));
}

bool RetryPolicy::exhausted(int attemptsMade) const
{
    return attemptsMade >= std::max(maxAttempts, 1);
}

} // namespace bulwark
