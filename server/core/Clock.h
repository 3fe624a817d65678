// SPDX-License-Identifier: GPL-3.0-or-later
// Injectable time source. Services that depend on time take a Clock& so tests can move
// time by hand instead of sleeping; production uses SteadyClock.
#pragma once

#include <chrono>

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

} // namespace bulwark
