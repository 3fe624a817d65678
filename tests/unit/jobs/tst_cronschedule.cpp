// SPDX-License-Identifier: GPL-3.0-or-later
// CronSchedule: parse errors with their exact messages, the accepted spellings (names in
// any case, macros, whitespace), and next() at the edges where a search can go wrong:
// the end of an hour, day, month and year, leap days (including across 2100, which is no
// leap year), steps, ranges with steps, lists, names, the macros, Vixie cron's rule for
// day-of-month with day-of-week, Sunday as 0 and 7, schedules that never fire, the
// strictly-after rule and the seconds of the starting instant. Then a cross-check
// against a model that shares no code with the parser: for a set of expressions, each
// with its meaning written out by hand as a predicate, next() from random instants
// (chained a few times) equals a minute-by-minute search.
#include "CronSchedule.h"

#include <QTest>
#include <functional>
#include <random>

using namespace bulwark;

namespace {

// "yyyy-MM-dd HH:mm" or "yyyy-MM-dd HH:mm:ss", in UTC.
QDateTime at(const char *text)
{
    const QString s = QString::fromLatin1(text);
    const QDate date = QDate::fromString(s.left(10), Qt::ISODate);
    const QTime time = QTime::fromString(s.mid(11), s.size() > 16 ? QStringLiteral("HH:mm:ss")
                                                                  : QStringLiteral("HH:mm"));
    Q_ASSERT(date.isValid() && time.isValid());
    return QDateTime(date, time, Qt::UTC);
}

// One minute as the hand-written predicates see it; dow 0 is Sunday.
struct Minute
{
    int year, month, day, dow, hour, minute;
};

struct Model
{
    const char *expression;
    std::function<bool(const Minute &)> fires;
};

const QList<Model> &models()
{
    static const QList<Model> all = {
        {"* * * * *", [](const Minute &) { return true; }},
        {"*/15 * * * *", [](const Minute &t) { return t.minute % 15 == 0; }},
        {"5,35 */2 * * *",
         [](const Minute &t) { return (t.minute == 5 || t.minute == 35) && t.hour % 2 == 0; }},
        {"0-10/3 9-17 * * MON-FRI",
         [](const Minute &t) {
             return t.minute <= 10 && t.minute % 3 == 0 && t.hour >= 9 && t.hour <= 17 &&
                    t.dow >= 1 && t.dow <= 5;
         }},
        {"30 23 28-31 * *",
         [](const Minute &t) { return t.minute == 30 && t.hour == 23 && t.day >= 28; }},
        {"0 0 1 */3 *",
         [](const Minute &t) {
             return t.minute == 0 && t.hour == 0 && t.day == 1 && (t.month - 1) % 3 == 0;
         }},
        {"15 14 1,15 * *",
         [](const Minute &t) {
             return t.minute == 15 && t.hour == 14 && (t.day == 1 || t.day == 15);
         }},
        {"0 12 13 * FRI", // both day fields restricted: either
         [](const Minute &t) {
             return t.minute == 0 && t.hour == 12 && (t.day == 13 || t.dow == 5);
         }},
        {"0 0 */2 * SUN", // day-of-month starts with "*": both
         [](const Minute &t) {
             return t.minute == 0 && t.hour == 0 && t.day % 2 == 1 && t.dow == 0;
         }},
        {"0 0 1-7 * mon", // both restricted: the first week, and every Monday
         [](const Minute &t) {
             return t.minute == 0 && t.hour == 0 && (t.day <= 7 || t.dow == 1);
         }},
        {"0 0 * * 7", [](const Minute &t) { return t.minute == 0 && t.hour == 0 && t.dow == 0; }},
        {"0 6 * * sat-sun",
         [](const Minute &t) {
             return t.minute == 0 && t.hour == 6 && (t.dow == 6 || t.dow == 0);
         }},
        {"59 23 31 DEC,jan *",
         [](const Minute &t) {
             return t.minute == 59 && t.hour == 23 && t.day == 31 &&
                    (t.month == 12 || t.month == 1);
         }},
        {"0 0 31 * *", [](const Minute &t) { return t.minute == 0 && t.hour == 0 && t.day == 31; }},
        {"@weekly", [](const Minute &t) { return t.minute == 0 && t.hour == 0 && t.dow == 0; }},
        {"*/7 */5 10-20/4 JAN-JUN/2 *",
         [](const Minute &t) {
             return t.minute % 7 == 0 && t.hour % 5 == 0 &&
                    (t.day == 10 || t.day == 14 || t.day == 18) &&
                    (t.month == 1 || t.month == 3 || t.month == 5);
         }},
    };
    return all;
}

// The first minute strictly after `after` for which `fires` holds, testing every minute
// of the next two years (every model fires at least twice a year); invalid if none.
QDateTime naiveNext(const std::function<bool(const Minute &)> &fires, const QDateTime &after)
{
    const QDateTime utc = after.toUTC();
    QDate date = utc.date();
    int hour = utc.time().hour();
    int minute = utc.time().minute() + 1;
    for (int i = 0; i < 2 * 366; ++i, date = date.addDays(1)) {
        const int dow = date.dayOfWeek() % 7;
        for (; hour < 24; ++hour) {
            for (; minute < 60; ++minute) {
                if (fires({date.year(), date.month(), date.day(), dow, hour, minute}))
                    return QDateTime(date, QTime(hour, minute), Qt::UTC);
            }
            minute = 0;
        }
        hour = 0;
    }
    return {};
}

} // namespace

class TestCronSchedule : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parseErrors_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("message");

        const auto row = [](const char *text, const char *message) {
            QTest::newRow(text) << QString::fromLatin1(text) << QString::fromLatin1(message);
        };
        row("", "expected 5 fields, got 0");
        row("* * * *", "expected 5 fields, got 4");
        row("* * * * * *", "expected 5 fields, got 6");
        row("60 * * * *", "field 1 (minute): 60 is out of range 0-59");
        row("* 24 * * *", "field 2 (hour): 24 is out of range 0-23");
        row("* * 0 * *", "field 3 (day-of-month): 0 is out of range 1-31");
        row("* * 32 * *", "field 3 (day-of-month): 32 is out of range 1-31");
        row("* * * 0 *", "field 4 (month): 0 is out of range 1-12");
        row("* * * 13 *", "field 4 (month): 13 is out of range 1-12");
        row("* * * * 8", "field 5 (day-of-week): 8 is out of range 0-7");
        row("99999999999 * * * *", "field 1 (minute): 99999999999 is out of range 0-59");
        row("0-60 * * * *", "field 1 (minute): 60 is out of range 0-59");
        row("*/0 * * * *", "field 1 (minute): step 0");
        row("*/00000 * * * *", "field 1 (minute): step 0");
        row("* 1-10/0 * * *", "field 2 (hour): step 0");
        row("*/x * * * *", "field 1 (minute): step \"x\" is not a number");
        row("*/ * * * *", "field 1 (minute): step \"\" is not a number");
        row("*/2/3 * * * *", "field 1 (minute): step \"2/3\" is not a number");
        row("5/10 * * * *", "field 1 (minute): \"5/10\" steps a single value; write 5-59/10");
        row("10-5 * * * *", "field 1 (minute): range 10-5 goes backwards");
        row("* * * * SAT-MON", "field 5 (day-of-week): range SAT-MON goes backwards");
        row("1,,2 * * * *", "field 1 (minute): empty list item");
        row("* 1, * * *", "field 2 (hour): empty list item");
        row("-1 * * * *", "field 1 (minute): \"-1\" is not a number or a range");
        row("1- * * * *", "field 1 (minute): \"1-\" is not a number or a range");
        row("1-2-3 * * * *", "field 1 (minute): \"1-2-3\" is not a number or a range");
        row("*-5 * * * *", "field 1 (minute): \"*\" is not a number");
        row("a * * * *", "field 1 (minute): \"a\" is not a number");
        row("* * MON * *", "field 3 (day-of-month): \"MON\" is not a number");
        row("* * * JANUARY *",
            "field 4 (month): \"JANUARY\" is not a number or a month name (JAN-DEC)");
        row("* * * MON *", "field 4 (month): \"MON\" is not a number or a month name (JAN-DEC)");
        row("* * * * MONDAY",
            "field 5 (day-of-week): \"MONDAY\" is not a number or a day name (SUN-SAT)");
        row("* * * * 1x", "field 5 (day-of-week): \"1x\" is not a number or a day name (SUN-SAT)");
        row("@reboot", "unknown macro \"@reboot\" (known: @yearly, @annually, @monthly, "
                       "@weekly, @daily, @midnight, @hourly)");
        row("@daily 5", "macro \"@daily\" takes no fields");
    }

    void parseErrors()
    {
        QFETCH(QString, text);
        QFETCH(QString, message);
        const auto parsed = CronSchedule::parse(text);
        QVERIFY(!parsed.ok());
        QCOMPARE(parsed.error().message, message);
        QCOMPARE(parsed.error().code, ErrorCode::BadRequest);
    }

    void parseAccepts_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("stored");

        const auto row = [](const char *name, const char *text, const char *stored) {
            QTest::newRow(name) << QString::fromLatin1(text) << QString::fromLatin1(stored);
        };
        row("plain", "*/5 * * * *", "*/5 * * * *");
        row("surrounding whitespace", "  0 0 * * *\n", "0 0 * * *");
        row("tabs and runs of spaces", "0\t0  1 *   *", "0\t0  1 *   *");
        row("names in any case", "0 0 * jan-Mar mOn,FRI", "0 0 * jan-Mar mOn,FRI");
        row("every bound", "0-59 0-23 1-31 1-12 0-7", "0-59 0-23 1-31 1-12 0-7");
        row("step beyond the range", "*/90 */100000 * * *", "*/90 */100000 * * *");
        row("leading zeros", "00005 007 * * *", "00005 007 * * *");
        row("macro in capitals", "@DAILY", "@DAILY");
        row("every macro", "@annually", "@annually");
    }

    void parseAccepts()
    {
        QFETCH(QString, text);
        QFETCH(QString, stored);
        const auto parsed = CronSchedule::parse(text);
        QVERIFY2(parsed.ok(), qPrintable(parsed.ok() ? QString() : parsed.error().message));
        QCOMPARE(parsed.value().text(), stored);
    }

    void next_data()
    {
        QTest::addColumn<QString>("expression");
        QTest::addColumn<QDateTime>("after");
        QTest::addColumn<QDateTime>("expected");

        const auto row = [](const char *name, const char *expression, const QDateTime &after,
                            const QDateTime &expected) {
            QTest::newRow(name) << QString::fromLatin1(expression) << after << expected;
        };
        const QDateTime never;

        // Boundaries: every field rolls over.
        row("end of hour", "* * * * *", at("2025-03-10 10:59"), at("2025-03-10 11:00"));
        row("end of day", "* * * * *", at("2025-03-10 23:59:59"), at("2025-03-11 00:00"));
        row("end of month (30 days)", "0 0 * * *", at("2025-04-30 12:00"), at("2025-05-01 00:00"));
        row("end of February", "0 0 * * *", at("2025-02-28 00:00"), at("2025-03-01 00:00"));
        row("end of leap February", "0 0 * * *", at("2024-02-28 00:00"), at("2024-02-29 00:00"));
        row("end of year", "* * * * *", at("2025-12-31 23:59"), at("2026-01-01 00:00"));
        row("yearly, a year on", "0 0 1 1 *", at("2025-01-01 00:00"), at("2026-01-01 00:00"));
        row("the 31st skips short months", "0 0 31 * *", at("2025-03-31 00:00"),
            at("2025-05-31 00:00"));
        row("last minute of the year", "59 23 31 12 *", at("2025-06-15 08:00"),
            at("2025-12-31 23:59"));
        row("before 1970", "0 0 1 1 *", at("1969-12-31 23:59:30"), at("1970-01-01 00:00"));

        // Leap days.
        row("leap day from 2025", "0 0 29 2 *", at("2025-01-01 00:00"), at("2028-02-29 00:00"));
        row("leap day from a leap day", "0 0 29 2 *", at("2028-02-29 00:00"),
            at("2032-02-29 00:00"));
        row("leap day across 2100", "0 0 29 2 *", at("2096-03-01 00:00"), at("2104-02-29 00:00"));
        row("leap day within 2000", "0 0 29 2 *", at("1999-01-01 00:00"), at("2000-02-29 00:00"));

        // Strictly after; the seconds of `after` are dropped.
        row("at a matching minute", "30 * * * *", at("2025-03-10 10:30"), at("2025-03-10 11:30"));
        row("seconds before it", "30 * * * *", at("2025-03-10 10:29:59"), at("2025-03-10 10:30"));
        row("seconds into it", "30 * * * *", at("2025-03-10 10:30:59"), at("2025-03-10 11:30"));
        row("milliseconds into it", "30 * * * *", at("2025-03-10 10:30").addMSecs(1),
            at("2025-03-10 11:30"));

        // Steps, ranges with steps, lists.
        row("*/15 within the hour", "*/15 * * * *", at("2025-03-10 10:07"), at("2025-03-10 10:15"));
        row("*/15 to the next hour", "*/15 * * * *", at("2025-03-10 10:45"),
            at("2025-03-10 11:00"));
        row("*/15 to the next day", "*/15 * * * *", at("2025-03-10 23:50"), at("2025-03-11 00:00"));
        row("range with step, next hour", "10-40/10 * * * *", at("2025-03-10 10:41"),
            at("2025-03-10 11:10"));
        row("hours 9-17/4", "0 9-17/4 * * *", at("2025-03-10 13:00"), at("2025-03-10 17:00"));
        row("hours 9-17/4, next day", "0 9-17/4 * * *", at("2025-03-10 17:00"),
            at("2025-03-11 09:00"));
        row("step larger than the range", "*/90 * * * *", at("2025-03-10 10:00"),
            at("2025-03-10 11:00"));
        row("leading zeros", "00005 007 * * *", at("2025-03-10 00:00"), at("2025-03-10 07:05"));
        row("lists", "5,35 1,13 * * *", at("2025-03-10 01:35"), at("2025-03-10 13:05"));
        row("lists, next day", "5,35 1,13 * * *", at("2025-03-10 13:35"), at("2025-03-11 01:05"));
        row("months by step", "0 0 1 */4 *", at("2025-05-01 00:00"), at("2025-09-01 00:00"));

        // Names.
        row("weekdays over a weekend", "0 12 * * MON-FRI", at("2025-03-14 12:00"),
            at("2025-03-17 12:00"));
        row("month names, lower case", "0 0 1 JAN,jul *", at("2025-02-01 00:00"),
            at("2025-07-01 00:00"));
        row("FRI-SUN reaches Sunday", "0 0 * * FRI-SUN", at("2025-03-15 00:00"),
            at("2025-03-16 00:00"));
        row("FRI-SUN from Monday", "0 0 * * FRI-SUN", at("2025-03-10 00:00"),
            at("2025-03-14 00:00"));
        row("5-0 is 5-7", "0 0 * * 5-0", at("2025-03-15 00:00"), at("2025-03-16 00:00"));

        // Sunday as 0, 7, SUN, in a range ending at 7.
        row("Sunday as 0", "0 0 * * 0", at("2025-03-10 00:00"), at("2025-03-16 00:00"));
        row("Sunday as 7", "0 0 * * 7", at("2025-03-10 00:00"), at("2025-03-16 00:00"));
        row("Sunday as SUN", "0 0 * * sun", at("2025-03-10 00:00"), at("2025-03-16 00:00"));
        row("range 5-7", "0 0 * * 5-7", at("2025-03-15 00:00"), at("2025-03-16 00:00"));
        row("*/7 on weekdays is Sunday", "0 0 * * */7", at("2025-03-10 00:00"),
            at("2025-03-16 00:00"));

        // Macros.
        row("@hourly", "@hourly", at("2025-03-10 10:00"), at("2025-03-10 11:00"));
        row("@daily", "@daily", at("2025-03-10 00:00"), at("2025-03-11 00:00"));
        row("@midnight", "@midnight", at("2025-03-10 12:34"), at("2025-03-11 00:00"));
        row("@weekly (Sunday)", "@weekly", at("2025-03-10 00:00"), at("2025-03-16 00:00"));
        row("@monthly", "@monthly", at("2025-01-31 00:00"), at("2025-02-01 00:00"));
        row("@yearly", "@yearly", at("2025-06-01 00:00"), at("2026-01-01 00:00"));
        row("@annually", "@annually", at("2025-01-01 00:00"), at("2026-01-01 00:00"));

        // Day-of-month and day-of-week: either when both are restricted, else both.
        row("13th or Friday: Friday", "0 0 13 * FRI", at("2025-07-10 00:00"),
            at("2025-07-11 00:00"));
        row("13th or Friday: the 13th", "0 0 13 * FRI", at("2025-07-11 00:00"),
            at("2025-07-13 00:00"));
        row("1-31 or Monday: every day", "0 0 1-31 * MON", at("2025-03-11 00:00"),
            at("2025-03-12 00:00"));
        row("30th or Monday in February", "0 0 30 2 MON", at("2025-01-01 00:00"),
            at("2025-02-03 00:00"));
        row("*/2 and Sunday: odd Sundays", "0 0 */2 * SUN", at("2025-03-01 00:00"),
            at("2025-03-09 00:00"));
        row("* and Monday: Mondays", "0 0 * * MON", at("2025-03-11 00:00"), at("2025-03-17 00:00"));
        row("the 15th and *: the 15th", "0 0 15 * *", at("2025-03-16 00:00"),
            at("2025-04-15 00:00"));
        row("the 15th and */1: the 15th", "0 0 15 * */1", at("2025-03-16 00:00"),
            at("2025-04-15 00:00"));

        // Never.
        row("30 February", "0 0 30 2 *", at("2025-01-01 00:00"), never);
        row("31st of short months", "0 0 31 4,6,9,11 *", at("2025-01-01 00:00"), never);
        row("31 February on even weekdays", "0 0 31 2 */2", at("2025-01-01 00:00"), never);

        // `after` in another zone: the schedule is in UTC.
        row("after given at +02:00", "0 0 * * *",
            QDateTime(QDate(2025, 6, 1), QTime(1, 30), Qt::OffsetFromUTC, 2 * 3600),
            at("2025-06-01 00:00"));
        row("after given at -05:00", "0 0 * * *",
            QDateTime(QDate(2025, 6, 1), QTime(20, 0), Qt::OffsetFromUTC, -5 * 3600),
            at("2025-06-03 00:00"));
    }

    void next()
    {
        QFETCH(QString, expression);
        QFETCH(QDateTime, after);
        QFETCH(QDateTime, expected);
        const auto parsed = CronSchedule::parse(expression);
        QVERIFY2(parsed.ok(), qPrintable(parsed.ok() ? QString() : parsed.error().message));
        const QDateTime got = parsed.value().next(after);
        QCOMPARE(got.isValid(), expected.isValid());
        if (expected.isValid()) {
            QCOMPARE(got, expected);
            QCOMPARE(got.timeSpec(), Qt::UTC);
        }
    }

    void nextOfNothing()
    {
        QVERIFY(!CronSchedule().next(at("2025-01-01 00:00")).isValid());
        const auto parsed = CronSchedule::parse(QStringLiteral("* * * * *"));
        QVERIFY(parsed.ok());
        QVERIFY(!parsed.value().next(QDateTime()).isValid());
    }

    void matchesMinuteByMinuteSearch_data()
    {
        QTest::addColumn<int>("model");
        for (int i = 0; i < models().size(); ++i)
            QTest::newRow(models().at(i).expression) << i;
    }

    // From 24 random instants (half of them in the last hour of a month, where most
    // rollovers happen), next() is followed 4 times; every result must equal the naive
    // search from the same instant.
    void matchesMinuteByMinuteSearch()
    {
        QFETCH(int, model);
        const Model &m = models().at(model);
        const auto parsed = CronSchedule::parse(QString::fromLatin1(m.expression));
        QVERIFY2(parsed.ok(), qPrintable(parsed.ok() ? QString() : parsed.error().message));
        const CronSchedule &schedule = parsed.value();

        std::mt19937_64 random(20250310 + model);
        const qint64 from = at("1970-01-01 00:00").toMSecsSinceEpoch();
        const qint64 to = at("2100-01-01 00:00").toMSecsSinceEpoch();
        for (int i = 0; i < 24; ++i) {
            QDateTime t = QDateTime::fromMSecsSinceEpoch(
                from + qint64(random() % quint64(to - from)), Qt::UTC);
            if (i % 2 == 1) {
                const QDate d = t.date();
                t = QDateTime(QDate(d.year(), d.month(), d.daysInMonth()),
                              QTime(23, int(random() % 60), int(random() % 60)), Qt::UTC);
            }
            for (int step = 0; step < 4; ++step) {
                const QDateTime expected = naiveNext(m.fires, t);
                const QDateTime got = schedule.next(t);
                QVERIFY2(expected.isValid(), qPrintable(t.toString(Qt::ISODate)));
                QVERIFY2(got == expected,
                         qPrintable(QStringLiteral("after %1: %2, expected %3")
                                        .arg(t.toString(Qt::ISODate), got.toString(Qt::ISODate),
                                             expected.toString(Qt::ISODate))));
                t = got;
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestCronSchedule)
#include "tst_cronschedule.moc"
