// SPDX-License-Identifier: GPL-3.0-or-later
// Injectable time source. Services that depend on time take a Clock& so tests can move
// time by hand instead of sleeping; production uses SteadyClock.
#pragma once

#include <chrono>
#if defined(__linux__)
#include <time.h>
#endif

namespace bulwark {

class Clock
{
public:
    virtual ~Clock() = default;
    virtual std::chrono::steady_clock::time_point now() const = 0;
};

class SteadyClock final : public Clock
{
public:
    std::chrono::steady_clock::time_point now() const override
    {
        return std::chrono::steady_clock::now();
    }
};

// The same time base at the resolution of the kernel tick (1-4 ms on Linux), read without
// the cost of a precise clock (~5 ns instead of ~20). For hot paths that only compare
// against deadlines in the seconds (the response cache reads the time on every lookup);
// never for measuring durations. Elsewhere it is SteadyClock.
class CoarseClock final : public Clock
{
public:
    std::chrono::steady_clock::time_point now() const override
    {
#if defined(__linux__)
        timespec ts;
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        return std::chrono::steady_clock::time_point(std::chrono::seconds(ts.tv_sec) +
                                                     std::chrono::nanoseconds(ts.tv_nsec));
#else
        return std::chrono::steady_clock::now();
#endif
    }
};

} // namespace bulwark
