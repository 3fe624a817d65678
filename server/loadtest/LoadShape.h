// SPDX-License-Identifier: GPL-3.0-or-later
// LoadShape: how many virtual users a closed-model load test keeps active at each moment.
// A pure value (no threads, no I/O, no clock): the engine asks usersAt(t) with t in
// milliseconds since the start of the run and starts or stops users to match, so the same
// shape can be tested, drawn in the console and stored with a run's report.
//
// Kinds (only the fields a kind names are used; the others stay at their defaults):
//   Constant    `users` for `durationMs`.
//   Ramp        from `startUsers` to `users` linearly over `durationMs`.
//   Step        `stepUsers` at first, `stepUsers` more after every `stepTimeMs`, capped at
//               `users`, for `durationMs` (the time limit).
//   Spike       `users` as the baseline, `spikeUsers` (the total, not an addition) during
//               [spikeStartMs, spikeStartMs + spikeDurationMs), for `durationMs`.
//   DoubleWave  round(users * sin^2(2*pi*t / durationMs)), but at least `minUsers`: zero at 0,
//               duration/2 and duration, the two peaks at 1/4 and 3/4 of the duration.
//   Stages      linear from the previous target (`startUsers` for the first stage) to each
//               stage's target over that stage's duration; the run lasts the sum of them.
//               `durationMs` is not used.
//
// Rounding: every fractional user count rounds half up (towards +infinity): a ramp from 0
// to 5 users over 10 s gives 3 users at 5 s (2.5), and so does a ramp from 5 down to 0.
// Linear interpolation is done in integers, so it is exact (for the bounds fromJson
// enforces); the double wave adds 1e-9 before rounding so that values that are
// mathematically x.5 (5 * sin^2(pi/4)) do not fall to x.4999999 in floating point.
// usersAt() is 0 before the start (t < 0) and at or after totalDurationMs().
//
// JSON form (fromJson / toJson), snake_case; durations are strings like "250ms", "30s",
// "5m", "1h" (ConfigLoader::parseDurationMs) or numbers of seconds:
//   {"shape": "constant", "users": 50, "duration": "5m"}
//   {"shape": "ramp", "start_users": 0, "users": 100, "duration": "2m"}
//   {"shape": "step", "step_users": 10, "step_time": "30s", "users": 100, "duration": "10m"}
//   {"shape": "spike", "users": 20, "spike_users": 200, "spike_start": "1m",
//    "spike_duration": "30s", "duration": "5m"}
//   {"shape": "double_wave", "users": 100, "min_users": 5, "duration": "10m"}
//   {"shape": "stages", "start_users": 0, "stages": [{"target": 10, "duration": "1m"}, ...]}
// start_users and min_users default to 0; every other field a shape names is required, and
// a field the shape does not name is an error. User counts are integers from 0 to 1000000
// (step_users from 1); durations are from 1ms to 7 days (spike_start from 0), and so is the
// total of the stages (1 to 1000 of them). Errors name the field ("spike_start: must be
// within duration"): ErrorCode::BadRequest for a wrong JSON type, an unknown field or one
// the shape does not use; ErrorCode::Unprocessable for a missing field or a bad value.
// toJson writes only the shape's fields, durations in their largest whole unit ("90s",
// "2m"), so fromJson(toJson(s)) == s for every shape fromJson accepts.
#pragma once

#include "Error.h"

#include <QJsonObject>
#include <QList>
#include <QtGlobal>

namespace bulwark {

struct LoadShape
{
    enum class Kind
    {
        Constant,
        Ramp,
        Step,
        Spike,
        DoubleWave,
        Stages
    };

    struct Stage
    {
        int target = 0;
        qint64 durationMs = 0;
        bool operator==(const Stage &) const = default;
    };

    Kind kind = Kind::Constant;
    qint64 durationMs = 0;
    int users = 0;
    int startUsers = 0;
    int minUsers = 0;
    qint64 stepTimeMs = 0;
    int stepUsers = 0;
    int spikeUsers = 0;
    qint64 spikeStartMs = 0;
    qint64 spikeDurationMs = 0;
    QList<Stage> stages;

    // The users to keep active at tMs since the start; 0 for tMs < 0 and from
    // totalDurationMs() on.
    int usersAt(qint64 tMs) const;
    // durationMs, or for Stages the sum of the stage durations.
    qint64 totalDurationMs() const;
    // The highest usersAt(t) for t in [0, totalDurationMs()); 0 for an empty run. Exact, not
    // the configured peak: a ramp over 1 ms to 100 users never gets past its start.
    int maxUsers() const;

    static Result<LoadShape> fromJson(const QJsonObject &o);
    QJsonObject toJson() const;

    bool operator==(const LoadShape &) const = default;
};

} // namespace bulwark
