// SPDX-License-Identifier: GPL-3.0-or-later
// A fast per-thread pseudo-random generator, seeded once per thread from the system
// CSPRNG. For identifiers and sampling that need uniqueness, not secrecy (the admin token
// uses QRandomGenerator::system() directly).
#pragma once

#include <QRandomGenerator>
#include <random>

namespace bulwark {

inline std::mt19937_64 &threadRandom()
{
    thread_local std::mt19937_64 generator(QRandomGenerator::system()->generate64());
    return generator;
}

} // namespace bulwark
