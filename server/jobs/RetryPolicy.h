// SPDX-License-Identifier: GPL-3.0-or-later
// How long the job queue waits before retrying a failed job, and when it gives up:
// capped exponential backoff with jitter. A plain value with pure functions; the caller
// supplies the random number, so a test can name the exact delay it expects and
// production passes threadRandom()().
//
// The delay before retry n (n = 1 is the first retry, after the first attempt failed) is
// drawn from a window below the capped exponential D = min(maxDelay, baseDelay *
// multiplier^(n-1)), rounded to whole milliseconds: [D - round(D * jitter), D], uniformly
// (up to the negligible bias of randomValue modulo the window's width). jitter 0 is no
// jitter, 1 is "full jitter" ([0, D]), 0.5 "equal jitter" ([D/2, D]).
//
// The default is equal jitter. Full jitter spreads a crowd of retries best (AWS's
// "Exponential Backoff and Jitter" measurements), but it lets any single retry come
// almost at once, and here attempts are a budget: maxAttempts retries could all land in
// the first few milliseconds while the dependency that failed is still down, and a job
// would be dead after far less waiting than its policy suggests. Equal jitter keeps at
// least half of every delay, so the time a job is given before it is declared dead is
// predictable (at least half the schedule's sum), and still spreads the rest.
//
// Out-of-range values are normalised rather than refused (the job queue's configuration
// validates what users write): negative delays count as 0, a multiplier below 1 (or NaN)
// as 1, jitter is clamped to [0, 1] (NaN: 0), maxDelay to at most 2^53 ms (~285 000
// years, where doubles are still exact), maxAttempts below 1 as 1 and an attempt below 1
// as 1. Any attempt number is safe: the exponential is computed in double precision, so
// it grows to infinity instead of overflowing, and the cap wins.
#pragma once

#include <QtGlobal>
#include <chrono>

namespace bulwark {

struct RetryPolicy
{
    std::chrono::milliseconds baseDelay{1'000};  // before the first retry (without jitter)
    double multiplier = 2.0;                     // each retry waits this much longer
    std::chrono::milliseconds maxDelay{300'000}; // the cap on the computed delay
    int maxAttempts = 5;                         // attempts in all, the first run included
    double jitter = 0.5;                         // fraction of the delay that is random

    static RetryPolicy make(std::chrono::milliseconds baseDelay, double multiplier,
                            std::chrono::milliseconds maxDelay, int maxAttempts,
                            double jitter = 0.5)
    {
        RetryPolicy p;
        p.baseDelay = baseDelay;
        p.multiplier = multiplier;
        p.maxDelay = maxDelay;
        p.maxAttempts = maxAttempts;
        p.jitter = jitter;
        return p;
    }

    // The range the delay before retry `attempt` is drawn from (both ends included).
    struct Window
    {
        std::chrono::milliseconds min{0};
        std::chrono::milliseconds max{0};
    };
    Window window(int attempt) const;

    // The delay before retry `attempt`: window(attempt).min + randomValue % (width + 1),
    // so randomValue 0 gives the minimum and the width the maximum.
    std::chrono::milliseconds delayBefore(int attempt, quint64 randomValue) const;

    // True when a job that has run `attemptsMade` times (and failed each time) gets no
    // further attempt: attemptsMade >= maxAttempts.
    bool exhausted(int attemptsMade) const;
};

} // namespace bulwark
