// SPDX-License-Identifier: GPL-3.0-or-later
// See CronSchedule.h.
//
// Parsing: the text is split on whitespace; a leading "@" makes it a macro, replaced by
// its five fields (text() keeps the macro). Each field is split on "," and each item read
// as "*" | value | value-value, then an optional "/step"; values are decimal numbers or,
// in the month and day-of-week fields, three-letter names. Every item sets bits in the
// field's mask; day-of-week 7 is folded onto 0 at the end, so the masks hold one bit per
// distinct instant and next() never has to know about the alias.
//
// Whether a schedule can fire at all is decided once, here: in "either" mode (both day
// fields restricted) every month has every weekday, so it always can; otherwise it can
// iff some allowed month has an allowed day-of-month that exists in it in some year (Feb
// 29 counts). That is enough because over the 400-year Gregorian cycle every date,
// leap days included, falls on each of the seven weekdays, so the day-of-week field
// cannot make an existing date impossible. next() therefore never searches in vain; its
// 400-year bound is only a guard.
#include "CronSchedule.h"

#include <QDate>
#include <QStringList>
#include <QTime>
#include <algorithm>
#include <bit>
#include <optional>

namespace bulwark {

namespace {

constexpr int kSearchYears = 400; // one Gregorian cycle: 146 097 days, exactly 20 871 weeks

constexpr int kMaxDaysInMonth[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

const char *const kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                   "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
const char *const kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct Field
{
    const char *name;
    int min;
    int max;
    const char *const *names = nullptr; // names[i] is the value min + i (month) or i (day)
    int nameCount = 0;
    const char *nameKind = nullptr; // "month name (JAN-DEC)"
};

const Field kFields[5] = {
    {"minute", 0, 59},
    {"hour", 0, 23},
    {"day-of-month", 1, 31},
    {"month", 1, 12, kMonthNames, 12, "month name (JAN-DEC)"},
    {"day-of-week", 0, 7, kDayNames, 7, "day name (SUN-SAT)"},
};
constexpr int kDayOfWeek = 4;

// Bits [0, n): n is at most 63 here (minutes and day numbers up to 32).
constexpr quint64 lowBits(int n)
{
    return (quint64(1) << n) - 1;
}

bool allDigits(QStringView s)
{
    if (s.isEmpty())
        return false;
    for (QChar c : s) {
        if (c < u'0' || c > u'9')
            return false;
    }
    return true;
}

// A string of digits as a number, saturating at 10 000 (beyond any field's range or useful
// step) so that "99999999999" cannot overflow and "00005" is still 5.
int saturatedNumber(QStringView digits)
{
    int n = 0;
    for (QChar c : digits)
        n = std::min(n * 10 + (c.unicode() - u'0'), 10'000);
    return n;
}

// The value of one number or name of field `f`, or the error message.
std::optional<QString> readValue(const Field &f, QStringView text, int &value)
{
    if (allDigits(text)) {
        value = saturatedNumber(text);
        if (value < f.min || value > f.max)
            return QStringLiteral("%1 is out of range %2-%3").arg(text).arg(f.min).arg(f.max);
        return std::nullopt;
    }
    for (int i = 0; i < f.nameCount; ++i) {
        if (text.compare(QLatin1StringView(f.names[i]), Qt::CaseInsensitive) == 0) {
            value = (f.min == 1 ? 1 : 0) + i;
            return std::nullopt;
        }
    }
    if (f.names) {
        return QStringLiteral("\"%1\" is not a number or a %2")
            .arg(text, QLatin1StringView(f.nameKind));
    }
    return QStringLiteral("\"%1\" is not a number").arg(text);
}

// Sets the bits of one list item ("*/15", "9-17", "MON"), or returns the error message.
std::optional<QString> readItem(const Field &f, int index, QStringView item, quint64 &bits)
{
    if (item.isEmpty())
        return QStringLiteral("empty list item");
    const qsizetype slash = item.indexOf(u'/');
    const QStringView base = slash < 0 ? item : item.left(slash);

    int lo = f.min;
    int hi = index == kDayOfWeek ? 6 : f.max; // "*" in day-of-week: 0-6, 7 would repeat 0
    bool single = false;
    if (base != u"*") {
        const qsizetype dash = base.indexOf(u'-');
        if (dash < 0) {
            if (auto error = readValue(f, base, lo))
                return error;
            hi = lo;
            single = true;
        } else {
            if (dash == 0 || dash == base.size() - 1 || base.indexOf(u'-', dash + 1) >= 0)
                return QStringLiteral("\"%1\" is not a number or a range").arg(base);
            if (auto error = readValue(f, base.left(dash), lo))
                return error;
            if (auto error = readValue(f, base.mid(dash + 1), hi))
                return error;
            // "FRI-SUN": Sunday as the end of a range is 7, so the range is not backwards.
            if (index == kDayOfWeek && hi == 0 && lo > 0)
                hi = 7;
            if (lo > hi)
                return QStringLiteral("range %1 goes backwards").arg(base);
        }
    }

    int step = 1;
    if (slash >= 0) {
        const QStringView stepText = item.mid(slash + 1);
        if (!allDigits(stepText))
            return QStringLiteral("step \"%1\" is not a number").arg(stepText);
        step = saturatedNumber(stepText); // beyond the range: selects its start only
        if (step == 0)
            return QStringLiteral("step 0");
        if (single) {
            return QStringLiteral("\"%1\" steps a single value; write %2-%3/%4")
                .arg(item)
                .arg(base)
                .arg(f.max)
                .arg(stepText);
        }
    }
    for (int v = lo; v <= hi; v += step)
        bits |= quint64(1) << v;
    return std::nullopt;
}

struct Macro
{
    const char *name;
    const char *fields;
};

const Macro kMacros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

} // namespace

Result<CronSchedule> CronSchedule::parse(const QString &text)
{
    const auto fail = [](const QString &message) { return Error{ErrorCode::BadRequest, message}; };
    CronSchedule s;
    s.m_text = text.trimmed();

    QStringList fields = s.m_text.simplified().split(u' ', Qt::SkipEmptyParts);
    if (!fields.isEmpty() && fields.first().startsWith(u'@')) {
        if (fields.size() > 1)
            return fail(QStringLiteral("macro \"%1\" takes no fields").arg(fields.first()));
        const Macro *found = nullptr;
        for (const Macro &m : kMacros) {
            if (fields.first().compare(QLatin1StringView(m.name), Qt::CaseInsensitive) == 0)
                found = &m;
        }
        if (!found) {
            return fail(QStringLiteral("unknown macro \"%1\" (known: @yearly, @annually, "
                                       "@monthly, @weekly, @daily, @midnight, @hourly)")
                            .arg(fields.first()));
        }
        fields = QString::fromLatin1(found->fields).split(u' ');
    }
    if (fields.size() != 5)
        return fail(QStringLiteral("expected 5 fields, got %1").arg(fields.size()));

    quint64 *const masks[5] = {&s.m_minutes, &s.m_hours, &s.m_days, &s.m_months, nullptr};
    quint64 weekdays = 0;
    for (int i = 0; i < 5; ++i) {
        quint64 &bits = masks[i] ? *masks[i] : weekdays;
        for (QStringView item : QStringView(fields.at(i)).split(u',')) {
            if (auto error = readItem(kFields[i], i, item, bits)) {
                return fail(
                    QStringLiteral("field %1 (%2): %3").arg(i + 1).arg(kFields[i].name, *error));
            }
        }
    }
    if (weekdays & (quint64(1) << 7))
        weekdays = (weekdays | 1) & ~(quint64(1) << 7);

    for (int first = 0; first < 7; ++first) {
        for (int day = 1; day <= 31; ++day) {
            if (weekdays & (quint64(1) << ((first + day - 1) % 7)))
                s.m_weekdayDays[first] |= quint64(1) << day;
        }
    }
    // Vixie cron's rule, on the first character of each field (see the header).
    s.m_either = !fields.at(2).startsWith(u'*') && !fields.at(4).startsWith(u'*');

    s.m_possible = s.m_either;
    for (int month = 1; month <= 12 && !s.m_possible; ++month) {
        if ((s.m_months & (quint64(1) << month)) &&
            (s.m_days & lowBits(kMaxDaysInMonth[month] + 1)))
            s.m_possible = true;
    }
    return s;
}

quint64 CronSchedule::dayMask(int year, int month) const
{
    const QDate first(year, month, 1);
    const quint64 valid = lowBits(first.daysInMonth() + 1) & ~quint64(1);
    const quint64 byWeekday = m_weekdayDays[first.dayOfWeek() % 7] & valid;
    const quint64 byDay = m_days & valid;
    return m_either ? (byDay | byWeekday) : (byDay & byWeekday);
}

QDateTime CronSchedule::next(const QDateTime &after) const
{
    if (!m_possible || !after.isValid())
        return {};
    const QDateTime utc = after.toUTC();
    int year = utc.date().year();
    int month = utc.date().month();
    int day = utc.date().day();
    int hour = utc.time().hour();
    int minute = utc.time().minute() + 1; // strictly after; 60 simply finds no bit below

    // Each step either returns or moves (year, month, day, hour, minute) forward to the
    // start of the next candidate month, day or hour; day may reach 32 and hour 24, which
    // the masks treat as "nothing left here".
    const int lastYear = year + kSearchYears;
    while (year <= lastYear) {
        const quint64 months = m_months & ~lowBits(month);
        if (months == 0) {
            year = year == -1 ? 1 : year + 1; // QDate has no year 0
            month = 1;
            day = 1;
            hour = 0;
            minute = 0;
            continue;
        }
        if (const int m = std::countr_zero(months); m != month) {
            month = m;
            day = 1;
            hour = 0;
            minute = 0;
        }

        const quint64 days = dayMask(year, month) & ~lowBits(day);
        if (days == 0) {
            ++month; // 13 finds no month bit and moves to the next year
            day = 1;
            hour = 0;
            minute = 0;
            continue;
        }
        if (const int d = std::countr_zero(days); d != day) {
            day = d;
            hour = 0;
            minute = 0;
        }

        const quint64 hours = m_hours & ~lowBits(hour);
        if (hours == 0) {
            ++day;
            hour = 0;
            minute = 0;
            continue;
        }
        if (const int h = std::countr_zero(hours); h != hour) {
            hour = h;
            minute = 0;
        }

        const quint64 minutes = m_minutes & ~lowBits(minute);
        if (minutes == 0) {
            ++hour;
            minute = 0;
            continue;
        }
        return QDateTime(QDate(year, month, day), QTime(hour, std::countr_zero(minutes)), Qt::UTC);
    }
    return {};
}

} // namespace bulwark
