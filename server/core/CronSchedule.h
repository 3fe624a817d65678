// SPDX-License-Identifier: GPL-3.0-or-later
// A standard five-field cron expression, "minute hour day-of-month month day-of-week", and
// the next minute it fires. For the job queue's recurring jobs (jobs.cron): a pure value
// (no timers, no clock of its own); the caller passes the instant to search from. It lives
// in core, not jobs, because ConfigLoader checks every jobs.cron schedule when it loads.
//
// The schedule is in UTC. next() converts its argument to UTC and returns a UTC
// QDateTime; "0 3 * * *" fires at 03:00 UTC whatever the server's local zone, so there is
// no daylight-saving gap or repeated hour to define.
//
// Syntax (Vixie cron's, without its extensions such as @reboot or "L"):
//   field         values      names
//   minute        0-59
//   hour          0-23
//   day-of-month  1-31
//   month         1-12        JAN-DEC
//   day-of-week   0-7         SUN-SAT (0 and 7 are both Sunday)
// Each field is a comma-separated list of items; an item is "*", a value, or a range
// "a-b", optionally followed by a step: "*/15", "9-17/2". A step needs "*" or a range
// ("5/10" is refused: write "5-59/10"). Names are case-insensitive and may stand
// wherever a value may ("MON-FRI", "JAN-JUN/2"). A day-of-week range ending in Sunday
// wraps to 7: "FRI-SUN" and "5-0" are Friday to Sunday. The macros @yearly (@annually),
// @monthly, @weekly, @daily (@midnight) and @hourly stand for "0 0 1 1 *", "0 0 1 * *",
// "0 0 * * 0", "0 0 * * *" and "0 * * * *".
//
// Day-of-month and day-of-week combine as in Vixie cron: when both are restricted a day
// matches if EITHER matches ("0 0 13 * FRI" fires on every 13th and every Friday);
// when either field starts with "*" both must match. That test is on the field's first
// character, as Vixie cron does it, so "*/2" counts as unrestricted: "0 0 */2 * SUN"
// fires on odd-numbered days that are Sundays, not on odd days or Sundays.
//
// next() does not test minute by minute: each field is a bit set, and the search jumps
// to the next allowed month, then to the next matching day of that month (a day mask
// built from the two day fields and the weekday of the 1st), then hour, then minute, with
// one bit scan each. A schedule that no date can ever satisfy ("0 0 30 2 *",
// "0 0 31 4,6,9,11 *") is recognised when parsed and next() returns an invalid QDateTime
// at once. Otherwise the search is bounded at 400 years, one full cycle of the Gregorian
// calendar within which every satisfiable schedule fires (a bound of a few years would be
// wrong: "0 0 29 2 *" after 2096-02-29 next fires on 2104-02-29, 2100 being no leap year).
#pragma once

#include "Error.h"

#include <QDateTime>
#include <QString>
#include <array>

namespace bulwark {

class CronSchedule
{
public:
    // A default-constructed schedule never fires (next() returns an invalid QDateTime).
    CronSchedule() = default;

    // The error (BadRequest) names the field and what is wrong with it, e.g.
    // "field 2 (hour): 24 is out of range 0-23", "expected 5 fields, got 4",
    // "field 1 (minute): step 0", "unknown macro \"@reboot\" (known: ...)".
    static Result<CronSchedule> parse(const QString &text);

    // The first minute that matches, strictly after `after` (its seconds and milliseconds
    // are dropped first: after 10:00:00 and after 10:00:59 both give 10:01 for "* * * * *"),
    // as a UTC QDateTime; invalid if `after` is invalid or the schedule never fires.
    QDateTime next(const QDateTime &after) const;

    // The expression as given, with surrounding whitespace removed.
    const QString &text() const { return m_text; }

private:
    quint64 dayMask(int year, int month) const;

    QString m_text;
    quint64 m_minutes = 0; // bit n: minute n (0-59)
    quint64 m_hours = 0;   // bit n: hour n (0-23)
    quint64 m_days = 0;    // bit n: day of month n (1-31)
    quint64 m_months = 0;  // bit n: month n (1-12)
    // For each weekday of a month's 1st (0 = Sunday), bit n set when day n (1-31) of such a
    // month falls on an allowed weekday: the day-of-week field as a day-of-month mask.
    std::array<quint64, 7> m_weekdayDays{};
    bool m_either = false;   // both day fields restricted: a day matches if either does
    bool m_possible = false; // some date satisfies the fields
};

} // namespace bulwark
