// SPDX-License-Identifier: GPL-3.0-or-later
// Shares the jobs an instance claims among the four priorities so that higher priorities
// go first without starving the lower ones. Each slot of a claim goes to a priority by
// smooth weighted round robin (nginx's upstream algorithm) with weights 8:4:2:1 from
// critical to low: while every priority has work, out of every 15 slots critical gets 8,
// high 4, normal 2 and low 1, interleaved rather than in runs, so a low job waits at most
// 15 slots behind any flood of critical ones. Slots a priority cannot use (no job ready)
// go to the others in priority order (JobStore::claim's second pass), so weights only
// matter under contention. The state carries over between claims: a claim of one slot at
// a time still follows the 8:4:2:1 pattern.
#pragma once

#include "JobTypes.h"

#include <array>

namespace bulwark {

class PriorityScheduler
{
public:
    static constexpr std::array<int, kJobPriorities> kWeights{8, 4, 2, 1};

    // How many of `slots` each priority gets.
    std::array<int, kJobPriorities> allocate(int slots)
    {
        std::array<int, kJobPriorities> counts{};
        int total = 0;
        for (int w : kWeights)
            total += w;
        for (int s = 0; s < slots; ++s) {
            int best = 0;
            for (int p = 0; p < kJobPriorities; ++p) {
                m_current[p] += kWeights[p];
                if (m_current[p] > m_current[best])
                    best = p;
            }
            m_current[best] -= total;
            ++counts[best];
        }
        return counts;
    }

private:
    std::array<int, kJobPriorities> m_current{};
};

} // namespace bulwark
