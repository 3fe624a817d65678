// SPDX-License-Identifier: GPL-3.0-or-later
// See SeedCommand.h.
#include "SeedCommand.h"

#include "CommandSupport.h"
#include "SqlSession.h"

#include <QCommandLineParser>
#include <QDateTime>
#include <QElapsedTimer>
#include <QRegularExpression>
#include <cstdio>
#include <random>

namespace bulwark {

namespace {

constexpr int kRowsPerStatement = 500;

// Collects rows and writes them kRowsPerStatement at a time with one prepared statement
// (and one more for the remainder at the end).
class BulkInserter
{
public:
    // `parent`: rows this table references are flushed before this table's rows.
    BulkInserter(SqlSession &sql, QString table, QStringList columns,
                 BulkInserter *parent = nullptr)
        : m_sql(sql), m_table(std::move(table)), m_columns(std::move(columns)), m_parent(parent)
    {
    }

    Result<bool> add(QVariantList row)
    {
        m_values += row;
        if (++m_rows == kRowsPerStatement)
            return flush();
        return true;
    }

    Result<bool> flush()
    {
        if (m_rows == 0)
            return true;
        if (m_parent)
            if (auto r = m_parent->flush(); !r.ok())
                return r;
        QStringList quoted;
        for (const QString &c : std::as_const(m_columns))
            quoted.append(u'"' + c + u'"');
        const QString one =
            u'(' + QStringList(m_columns.size(), QStringLiteral("?")).join(u',') + u')';
        const QString sql =
            QStringLiteral("INSERT INTO \"%1\" (%2) VALUES %3")
                .arg(m_table, quoted.join(u','), QStringList(m_rows, one).join(u','));
        auto done = m_sql.exec(sql, m_values);
        m_values.clear();
        m_rows = 0;
        if (!done.ok())
            return done.error();
        return true;
    }

private:
    SqlSession &m_sql;
    QString m_table;
    QStringList m_columns;
    BulkInserter *m_parent;
    QVariantList m_values;
    int m_rows = 0;
};

struct Sport
{
    const char *name;
    int weight;              // share of activities, in percent
    double minKm, maxKm;     // distance range
    double minPace, maxPace; // seconds per km
    bool splits;
};

const Sport kSports[] = {
    {"run", 40, 3, 21, 270, 420, true},  {"ride", 25, 15, 90, 100, 180, false},
    {"walk", 15, 2, 8, 540, 780, true},  {"swim", 10, 0.5, 3, 1100, 1500, false},
    {"hike", 10, 5, 20, 600, 900, true},
};

const char *kTitles[] = {"Morning", "Lunch", "Evening", "Easy", "Long", "Tempo", "Recovery"};
const char *kFoods[] = {"Oatmeal", "Eggs",   "Chicken salad", "Rice and beans", "Pasta",
                        "Apple",   "Yogurt", "Salmon",        "Sandwich",       "Nuts"};
const char *kMeals[] = {"breakfast", "lunch", "dinner", "snack"};

} // namespace

DemoSeeder::DemoSeeder(ConnectionPool &pool, UserStore &users, SeedOptions options)
    : m_pool(pool), m_users(users), m_options(options)
{
}

Result<SeedSummary> DemoSeeder::run(const std::function<void(qint64)> &progress)
{
    SeedSummary summary;
    for (int u = 1; u <= m_options.users; ++u) {
        const QString email = QStringLiteral("demo%1@example.com").arg(u);
        auto existing = m_users.findUser(email);
        if (existing.ok()) {
            summary.userIds.append(existing.value().id);
            continue;
        }
        auto id = m_users.addUser(email, QStringLiteral("Demo User %1").arg(u), std::nullopt);
        if (!id.ok())
            return id.error();
        summary.userIds.append(id.value());
    }

    SqlSession sql(m_pool, nullptr);
    auto nextId = [&sql](const QString &table) -> Result<qint64> {
        auto q = sql.exec(QStringLiteral("SELECT COALESCE(MAX(id), 0) FROM \"%1\"").arg(table));
        if (!q.ok())
            return q.error();
        const qint64 next = q.value()->next() ? q.value()->value(0).toLongLong() + 1 : 1;
        q.value()->finish();
        return next;
    };
    if (auto begun = sql.beginWrite(); !begun.ok())
        return begun.error();
    auto activityId = nextId(QStringLiteral("activities"));
    auto splitId = nextId(QStringLiteral("splits"));
    auto nutritionId = nextId(QStringLiteral("nutrition_entries"));
    auto bodyId = nextId(QStringLiteral("body_measurements"));
    for (const auto *r : {&activityId, &splitId, &nutritionId, &bodyId})
        if (!r->ok())
            return r->error();
    qint64 nextActivity = activityId.value(), nextSplit = splitId.value(),
           nextNutrition = nutritionId.value(), nextBody = bodyId.value();

    std::mt19937_64 random(m_options.seed);
    auto uniform = [&random](double lo, double hi) {
        return std::uniform_real_distribution<double>(lo, hi)(random);
    };
    auto pick = [&random](int n) {
        return int(std::uniform_int_distribution<int>(0, n - 1)(random));
    };
    // Everything is laid out backwards from this instant, so output does not depend on
    // when the command runs.
    const QDateTime end(QDate(2026, 11, 1), QTime(0, 0), Qt::UTC);
    const QString now = end.toString(Qt::ISODateWithMs);

    BulkInserter activities(sql, QStringLiteral("activities"),
                            {QStringLiteral("id"), QStringLiteral("created_at"),
                             QStringLiteral("updated_at"), QStringLiteral("user_id"),
                             QStringLiteral("sport"), QStringLiteral("title"),
                             QStringLiteral("started_at"), QStringLiteral("duration_s"),
                             QStringLiteral("distance_m"), QStringLiteral("elevation_gain_m"),
                             QStringLiteral("avg_heart_rate"), QStringLiteral("private")});
    BulkInserter splits(sql, QStringLiteral("splits"),
                        {QStringLiteral("id"), QStringLiteral("created_at"),
                         QStringLiteral("updated_at"), QStringLiteral("user_id"),
                         QStringLiteral("activity_id"), QStringLiteral("km"),
                         QStringLiteral("duration_s"), QStringLiteral("avg_heart_rate"),
                         QStringLiteral("elevation_change_m")},
                        &activities);
    BulkInserter nutrition(
        sql, QStringLiteral("nutrition_entries"),
        {QStringLiteral("id"), QStringLiteral("created_at"), QStringLiteral("updated_at"),
         QStringLiteral("user_id"), QStringLiteral("eaten_at"), QStringLiteral("meal"),
         QStringLiteral("food"), QStringLiteral("kcal"), QStringLiteral("protein_g"),
         QStringLiteral("carbs_g"), QStringLiteral("fat_g")});
    BulkInserter body(sql, QStringLiteral("body_measurements"),
                      {QStringLiteral("id"), QStringLiteral("created_at"),
                       QStringLiteral("updated_at"), QStringLiteral("user_id"),
                       QStringLiteral("measured_at"), QStringLiteral("weight_kg"),
                       QStringLiteral("body_fat_pct"), QStringLiteral("muscle_mass_kg"),
                       QStringLiteral("source")});

    qint64 written = 0;
    qint64 nextReport = 100'000;
    auto report = [&] {
        if (progress && written >= nextReport) {
            progress(written);
            nextReport += 100'000;
        }
    };
    const int userCount = summary.userIds.size();
    for (int u = 0; u < userCount; ++u) {
        const qint64 userId = summary.userIds.at(u);
        const qint64 mine =
            m_options.activities / userCount + (u < m_options.activities % userCount ? 1 : 0);
        const int restingHr = 50 + pick(20);
        QDateTime at = end;
        for (qint64 i = 0; i < mine; ++i) {
            at = at.addSecs(-qint64(uniform(8, 44) * 3600));
            int roll = pick(100);
            const Sport *sport = &kSports[0];
            for (const Sport &s : kSports) {
                if (roll < s.weight) {
                    sport = &s;
                    break;
                }
                roll -= s.weight;
            }
            const double km = uniform(sport->minKm, sport->maxKm);
            const double pace = uniform(sport->minPace, sport->maxPace);
            const int duration = int(km * pace);
            const int hr = restingHr + 60 + pick(60);
            const qint64 id = nextActivity++;
            const QString started = at.toString(Qt::ISODateWithMs);
            if (auto r =
                    activities.add({id, now, now, userId, QString::fromLatin1(sport->name),
                                    QStringLiteral("%1 %2").arg(QLatin1String(kTitles[pick(7)]),
                                                                QLatin1String(sport->name)),
                                    started, duration, std::round(km * 1000.0 * 10) / 10,
                                    std::round(uniform(0, km * 15)), hr, pick(10) == 0});
                !r.ok())
                return r.error();
            ++summary.activities;
            ++written;
            if (sport->splits) {
                const int whole = qMin(int(km), 30);
                for (int k = 1; k <= whole; ++k) {
                    if (auto r = splits.add({nextSplit++, now, now, userId, id, k,
                                             std::round(pace * uniform(0.9, 1.1) * 10) / 10,
                                             hr - 5 + pick(10), std::round(uniform(-20, 20))});
                        !r.ok())
                        return r.error();
                    ++summary.splits;
                    ++written;
                }
            }
            report();
        }
        // Nutrition and body measurements over the last year of this user's activities.
        const QDateTime from = qMax(at, end.addDays(-365));
        double weight = uniform(55, 95);
        for (QDateTime day = from; day < end; day = day.addDays(1)) {
            for (int meal = 0; meal < 3; ++meal) {
                const QDateTime eaten = day.addSecs(qint64(7 + meal * 5) * 3600 + pick(3600));
                if (auto r = nutrition.add(
                        {nextNutrition++, now, now, userId, eaten.toString(Qt::ISODateWithMs),
                         QString::fromLatin1(kMeals[meal]), QString::fromLatin1(kFoods[pick(10)]),
                         300 + pick(600), std::round(uniform(5, 50)), std::round(uniform(20, 120)),
                         std::round(uniform(5, 40))});
                    !r.ok())
                    return r.error();
                ++summary.nutrition;
                ++written;
            }
            if (day.date().dayOfWeek() == 1) {
                weight += uniform(-0.6, 0.5);
                if (auto r = body.add({nextBody++, now, now, userId,
                                       day.addSecs(6 * 3600 + 30 * 60).toString(Qt::ISODateWithMs),
                                       std::round(weight * 10) / 10,
                                       std::round(uniform(12, 30) * 10) / 10,
                                       std::round(weight * uniform(0.38, 0.45) * 10) / 10,
                                       QStringLiteral("{\"device\":\"scale\"}")});
                    !r.ok())
                    return r.error();
                ++summary.body;
                ++written;
            }
            report();
        }
    }
    for (BulkInserter *inserter : {&activities, &splits, &nutrition, &body})
        if (auto r = inserter->flush(); !r.ok())
            return r.error();
    if (sql.dialect().name() == QLatin1String("postgres")) {
        // Ids were assigned here: move each sequence past them.
        for (const char *table :
             {"activities", "splits", "nutrition_entries", "body_measurements"}) {
            auto r = sql.exec(QStringLiteral("SELECT setval(pg_get_serial_sequence('%1', 'id'), "
                                             "(SELECT COALESCE(MAX(id), 1) FROM \"%1\"))")
                                  .arg(QLatin1String(table)));
            if (!r.ok())
                return r.error();
        }
    }
    if (auto committed = sql.commit(); !committed.ok())
        return committed.error();
    // Fresh statistics for the planner after a bulk load.
    sql.execUnprepared(QStringLiteral("ANALYZE"));
    return summary;
}

int runSeedCommand(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Fills the built-in fitness demo schema with deterministic demo data: --users demo\n"
        "users (demo1@example.com, ...; API keys only, no passwords) and --rows activities\n"
        "spread over them, plus per-km splits of runs, walks and hikes, three nutrition\n"
        "entries a day and a weekly body measurement for the last year. The same options\n"
        "give the same data. Prints an API key for the first demo user (shown once)."));
    parser.addHelpOption();
    const QCommandLineOption users(QStringLiteral("users"),
                                   QStringLiteral("Demo users (default 10)."), QStringLiteral("n"),
                                   QStringLiteral("10"));
    const QCommandLineOption rows(QStringLiteral("rows"),
                                  QStringLiteral("Activities in total (default 1000)."),
                                  QStringLiteral("m"), QStringLiteral("1000"));
    const QCommandLineOption seed(QStringLiteral("seed"),
                                  QStringLiteral("Random seed (default 42)."), QStringLiteral("s"),
                                  QStringLiteral("42"));
    const QCommandLineOption ifEmpty(QStringLiteral("if-empty"),
                                     QStringLiteral("Do nothing when activities already exist."));
    const QCommandLineOption noKey(QStringLiteral("no-key"),
                                   QStringLiteral("Do not create and print an API key."));
    parser.addOptions({users, rows, seed, ifEmpty, noKey});
    addCommonCommandOptions(parser);
    if (!parser.parse(QStringList{QStringLiteral("bulwark seed")} + arguments)) {
        std::fprintf(stderr, "bulwark: seed: %s\nTry 'bulwark seed --help'.\n",
                     qPrintable(parser.errorText()));
        return 2;
    }
    if (parser.isSet(QStringLiteral("help"))) {
        // QCommandLineParser names the program from argv[0]; this is a subcommand.
        QString help = parser.helpText();
        help.replace(QRegularExpression(QStringLiteral("^Usage: \\S+")),
                     QStringLiteral("Usage: bulwark seed"));
        std::fputs(qPrintable(help), stdout);
        return 0;
    }
    if (!parser.positionalArguments().isEmpty()) {
        std::fprintf(stderr, "bulwark: seed: unexpected argument '%s'\n",
                     qPrintable(parser.positionalArguments().first()));
        return 2;
    }
    bool ok1 = false, ok2 = false, ok3 = false;
    SeedOptions options;
    options.users = parser.value(users).toInt(&ok1);
    options.activities = parser.value(rows).toLongLong(&ok2);
    options.seed = parser.value(seed).toULongLong(&ok3);
    if (!ok1 || options.users < 1 || options.users > 1'000'000) {
        std::fprintf(stderr, "bulwark: seed: --users must be an integer from 1 to 1000000\n");
        return 2;
    }
    if (!ok2 || options.activities < 0 || options.activities > 100'000'000) {
        std::fprintf(stderr, "bulwark: seed: --rows must be an integer from 0 to 100000000\n");
        return 2;
    }
    if (!ok3) {
        std::fprintf(stderr, "bulwark: seed: --seed must be a non-negative integer\n");
        return 2;
    }

    CommandDatabase database(QStringLiteral("seed"));
    if (auto code = database.open(parser))
        return *code;
    if (!database.config().db.schema.isEmpty()) {
        std::fprintf(stderr,
                     "bulwark: seed: seed fills the built-in demo schema, but db.schema is %s\n",
                     qPrintable(database.config().db.schema));
        return 2;
    }
    if (parser.isSet(ifEmpty)) {
        SqlSession sql(database.pool(), nullptr);
        auto q = sql.exec(QStringLiteral("SELECT 1 FROM activities LIMIT 1"));
        if (!q.ok()) {
            std::fprintf(stderr, "bulwark: seed: %s\n", qPrintable(q.error().message));
            return 1;
        }
        const bool any = q.value()->next();
        q.value()->finish();
        if (any) {
            std::fprintf(stderr, "bulwark: seed: activities exist already; nothing to do\n");
            return 0;
        }
    }
    QElapsedTimer timer;
    timer.start();
    DemoSeeder seeder(database.pool(), database.users(), options);
    auto summary = seeder.run([&timer](qint64 written) {
        std::fprintf(stderr, "\rbulwark: seed: %lld rows (%.1f s)", qlonglong(written),
                     double(timer.elapsed()) / 1000.0);
        std::fflush(stderr);
    });
    if (!summary.ok()) {
        std::fprintf(stderr, "\nbulwark: seed: %s\n", qPrintable(summary.error().message));
        return 1;
    }
    const double seconds = double(timer.elapsed()) / 1000.0;
    const SeedSummary &s = summary.value();
    std::fprintf(stderr,
                 "\rbulwark: seed: %lld rows in %.1f s (%.0f rows/s): %d users, %lld activities, "
                 "%lld splits, %lld nutrition entries, %lld body measurements\n",
                 qlonglong(s.total()), seconds, seconds > 0 ? double(s.total()) / seconds : 0.0,
                 int(s.userIds.size()), qlonglong(s.activities), qlonglong(s.splits),
                 qlonglong(s.nutrition), qlonglong(s.body));
    if (!parser.isSet(noKey) && !s.userIds.isEmpty()) {
        auto key = database.users().createApiKey(s.userIds.first(), QStringLiteral("seed"));
        if (!key.ok()) {
            std::fprintf(stderr, "bulwark: seed: %s\n", qPrintable(key.error().message));
            return 1;
        }
        std::fprintf(stderr, "bulwark: seed: API key for demo1@example.com (shown once):\n");
        std::printf("%s\n", key.value().token.constData());
    }
    return 0;
}

} // namespace bulwark
