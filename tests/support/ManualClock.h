// SPDX-License-Identifier: GPL-3.0-or-later
// A Clock that moves only when a test moves it, so time limits are tested without sleeping.
#pragma once

#include "Clock.h"

namespace bulwark::test {

class ManualClock final : public Clock
{
public:
    std::chrono::steady_clock::time_point now() const override { return m_now; }
    void advance(std::chrono::milliseconds d) { m_now += d; }

private:
    std::chrono::steady_clock::time_point m_now{std::chrono::hours(1)};
};

} // namespace bulwark::test
