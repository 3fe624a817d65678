// SPDX-License-Identifier: GPL-3.0-or-later
// See LoadShape.h. The parser checks the shape name first, then every key against the
// fields that shape uses, then each field in the order the shape lists them, so the first
// error reported is the same whatever order the JSON object's keys came in.
#include "LoadShape.h"

#include "ConfigLoader.h"

#include <QJsonArray>
#include <QStringList>
#include <algorithm>
#include <cmath>
#include <numbers>

namespace bulwark {

namespace {

constexpr int kMaxUsers = 1'000'000;
constexpr qint64 kMaxDurationMs = 7LL * 24 * 3'600'000;
constexpr int kMaxStages = 1000;

struct KindInfo
{
    LoadShape::Kind kind;
    const char *name;
    QStringList fields; // in the order they are checked; "shape" is implied
};

const QList<KindInfo> &kinds()
{
    static const QList<KindInfo> list{
        {LoadShape::Kind::Constant, "constant", {"users", "duration"}},
        {LoadShape::Kind::Ramp, "ramp", {"start_users", "users", "duration"}},
        {LoadShape::Kind::Step, "step", {"step_users", "step_time", "users", "duration"}},
        {LoadShape::Kind::Spike,
         "spike",
         {"users", "spike_users", "spike_start", "spike_duration", "duration"}},
        {LoadShape::Kind::DoubleWave, "double_wave", {"users", "min_users", "duration"}},
        {LoadShape::Kind::Stages, "stages", {"start_users", "stages"}},
    };
    return list;
}

QString kindNames()
{
    QStringList names;
    for (const KindInfo &k : kinds())
        names.append(QString::fromLatin1(k.name));
    return names.join(QStringLiteral(", "));
}

Error badRequest(const QString &message)
{
    return Error{ErrorCode::BadRequest, message};
}
Error unprocessable(const QString &message)
{
    return Error{ErrorCode::Unprocessable, message};
}

// An integer user count from `min` to kMaxUsers.
Result<int> parseCount(const QJsonValue &v, const QString &field, int min = 0)
{
    if (!v.isDouble())
        return badRequest(QStringLiteral("%1: must be a number").arg(field));
    const double d = v.toDouble();
    if (d != std::floor(d) || d < min || d > kMaxUsers)
        return unprocessable(QStringLiteral("%1: must be an integer from %2 to %3")
                                 .arg(field)
                                 .arg(min)
                                 .arg(kMaxUsers));
    return int(d);
}

// A duration from `minMs` to 7 days: "30s", "250ms", "5m", "1h" or a number of seconds.
Result<qint64> parseDuration(const QJsonValue &v, const QString &field, qint64 minMs = 1)
{
    if (!v.isDouble() && !v.isString())
        return badRequest(
            QStringLiteral("%1: must be a string like \"30s\" or a number of seconds").arg(field));
    const std::optional<qint64> ms = ConfigLoader::parseDurationMs(v);
    if (!ms || *ms < minMs || *ms > kMaxDurationMs)
        return unprocessable(QStringLiteral("%1: must be a duration from %2ms to 7 days, like "
                                            "\"30s\" or \"5m\"")
                                 .arg(field)
                                 .arg(minMs));
    return *ms;
}

// from + (to - from) * t / d, rounded half up, exactly: both weights are non-negative, so
// the numerator is too and integer division floors it.
int interpolate(qint64 from, qint64 to, qint64 t, qint64 d)
{
    const qint64 numerator = from * (d - t) + to * t;
    return int((2 * numerator + d) / (2 * d));
}

Result<QList<LoadShape::Stage>> parseStages(const QJsonValue &v)
{
    if (!v.isArray())
        return badRequest(QStringLiteral(
            "stages: must be an array of {\"target\": users, \"duration\": \"1m\"} objects"));
    const QJsonArray items = v.toArray();
    if (items.isEmpty() || items.size() > kMaxStages)
        return unprocessable(QStringLiteral("stages: must have 1 to %1 stages").arg(kMaxStages));
    QList<LoadShape::Stage> stages;
    qint64 total = 0;
    for (qsizetype i = 0; i < items.size(); ++i) {
        const QString at = QStringLiteral("stages[%1]").arg(i);
        if (!items.at(i).isObject())
            return badRequest(at + QStringLiteral(": must be an object with target and duration"));
        const QJsonObject o = items.at(i).toObject();
        for (auto it = o.begin(); it != o.end(); ++it)
            if (it.key() != QStringLiteral("target") && it.key() != QStringLiteral("duration"))
                return badRequest(
                    QStringLiteral("%1.%2: unknown field (target, duration)").arg(at, it.key()));
        LoadShape::Stage stage;
        for (const char *field : {"target", "duration"}) {
            const QString name = at + u'.' + QLatin1String(field);
            if (!o.contains(QLatin1String(field)))
                return unprocessable(name + QStringLiteral(": required"));
            const QJsonValue value = o.value(QLatin1String(field));
            if (qstrcmp(field, "target") == 0) {
                auto r = parseCount(value, name);
                if (!r)
                    return r.error();
                stage.target = r.value();
            } else {
                auto r = parseDuration(value, name);
                if (!r)
                    return r.error();
                stage.durationMs = r.value();
            }
        }
        total += stage.durationMs;
        stages.append(stage);
    }
    if (total > kMaxDurationMs)
        return unprocessable(QStringLiteral("stages: the total duration must be at most 7 days"));
    return stages;
}

} // namespace

int LoadShape::usersAt(qint64 tMs) const
{
    if (tMs < 0 || tMs >= totalDurationMs())
        return 0;
    switch (kind) {
    case Kind::Constant: return users;
    case Kind::Ramp: return interpolate(startUsers, users, tMs, durationMs);
    case Kind::Step: {
        const qint64 steps = stepTimeMs > 0 ? tMs / stepTimeMs : 0;
        return int(std::min<qint64>(users, qint64(stepUsers) * (steps + 1)));
    }
    case Kind::Spike:
        return tMs >= spikeStartMs && tMs - spikeStartMs < spikeDurationMs ? spikeUsers : users;
    case Kind::DoubleWave: {
        const double s = std::sin(2 * std::numbers::pi * double(tMs) / double(durationMs));
        const int wave = int(std::floor(users * s * s + 0.5 + 1e-9));
        return std::max(wave, minUsers);
    }
    case Kind::Stages: {
        qint64 previous = startUsers;
        for (const Stage &stage : stages) {
            if (tMs < stage.durationMs)
                return interpolate(previous, stage.target, tMs, stage.durationMs);
            tMs -= stage.durationMs;
            previous = stage.target;
        }
        return 0;
    }
    }
    return 0;
}

qint64 LoadShape::totalDurationMs() const
{
    if (kind != Kind::Stages)
        return std::max<qint64>(durationMs, 0);
    qint64 total = 0;
    for (const Stage &stage : stages)
        total += std::max<qint64>(stage.durationMs, 0);
    return total;
}

int LoadShape::maxUsers() const
{
    const qint64 total = totalDurationMs();
    if (total <= 0)
        return 0;
    // Every piece is monotone between these times, so the maximum is at one of them.
    QList<qint64> times{0, total - 1};
    switch (kind) {
    case Kind::Constant:
    case Kind::Ramp:
    case Kind::Step: break;
    case Kind::Spike: times << spikeStartMs << spikeStartMs + spikeDurationMs; break;
    case Kind::DoubleWave:
        // sin^2 rises to 1 at d/4 and 3d/4; the whole-millisecond peak is next to them.
        times << total / 4 << total / 4 + 1 << 3 * total / 4 << 3 * total / 4 + 1;
        break;
    case Kind::Stages: {
        qint64 start = 0;
        for (const Stage &stage : stages) {
            times << start << start + stage.durationMs - 1;
            start += stage.durationMs;
        }
        break;
    }
    }
    int best = 0;
    for (qint64 t : std::as_const(times))
        best = std::max(best, usersAt(std::clamp<qint64>(t, 0, total - 1)));
    return best;
}

Result<LoadShape> LoadShape::fromJson(const QJsonObject &o)
{
    const QJsonValue shapeValue = o.value(QStringLiteral("shape"));
    if (shapeValue.isUndefined())
        return unprocessable(QStringLiteral("shape: required, one of %1").arg(kindNames()));
    if (!shapeValue.isString())
        return badRequest(QStringLiteral("shape: must be a string, one of %1").arg(kindNames()));
    const QString shapeName = shapeValue.toString();
    const auto info = std::find_if(kinds().begin(), kinds().end(), [&](const KindInfo &k) {
        return shapeName == QLatin1String(k.name);
    });
    if (info == kinds().end())
        return unprocessable(
            QStringLiteral("shape: \"%1\" is not one of %2").arg(shapeName, kindNames()));

    QStringList allFields;
    for (const KindInfo &k : kinds())
        for (const QString &f : k.fields)
            if (!allFields.contains(f))
                allFields.append(f);
    const QString fieldsOfShape = QStringLiteral("the %1 shape has: shape, %2")
                                      .arg(shapeName, info->fields.join(QStringLiteral(", ")));
    for (auto it = o.begin(); it != o.end(); ++it) {
        if (it.key() == QStringLiteral("shape") || info->fields.contains(it.key()))
            continue;
        if (allFields.contains(it.key()))
            return badRequest(QStringLiteral("%1: not used by the %2 shape (%3)")
                                  .arg(it.key(), shapeName, fieldsOfShape));
        return badRequest(QStringLiteral("%1: unknown field (%2)").arg(it.key(), fieldsOfShape));
    }

    LoadShape s;
    s.kind = info->kind;
    for (const QString &field : info->fields) {
        const QJsonValue v = o.value(field);
        if (v.isUndefined()) {
            if (field == QStringLiteral("start_users") || field == QStringLiteral("min_users"))
                continue; // default 0
            return unprocessable(
                QStringLiteral("%1: required by the %2 shape").arg(field, shapeName));
        }
        std::optional<Error> error;
        auto count = [&](int &out, int min = 0) {
            auto r = parseCount(v, field, min);
            if (r)
                out = r.value();
            else
                error = r.error();
        };
        auto duration = [&](qint64 &out, qint64 minMs = 1) {
            auto r = parseDuration(v, field, minMs);
            if (r)
                out = r.value();
            else
                error = r.error();
        };
        if (field == QStringLiteral("users"))
            count(s.users);
        else if (field == QStringLiteral("start_users"))
            count(s.startUsers);
        else if (field == QStringLiteral("min_users"))
            count(s.minUsers);
        else if (field == QStringLiteral("step_users"))
            count(s.stepUsers, 1);
        else if (field == QStringLiteral("spike_users"))
            count(s.spikeUsers);
        else if (field == QStringLiteral("duration"))
            duration(s.durationMs);
        else if (field == QStringLiteral("step_time"))
            duration(s.stepTimeMs);
        else if (field == QStringLiteral("spike_start"))
            duration(s.spikeStartMs, 0);
        else if (field == QStringLiteral("spike_duration"))
            duration(s.spikeDurationMs);
        else if (field == QStringLiteral("stages")) {
            auto r = parseStages(v);
            if (r)
                s.stages = r.value();
            else
                error = r.error();
        }
        if (error)
            return *error;
    }

    switch (s.kind) {
    case Kind::Step:
        if (s.stepTimeMs >= s.durationMs)
            return unprocessable(QStringLiteral("step_time: must be shorter than duration"));
        break;
    case Kind::Spike:
        if (s.spikeStartMs >= s.durationMs)
            return unprocessable(QStringLiteral("spike_start: must be within duration"));
        if (s.spikeStartMs + s.spikeDurationMs > s.durationMs)
            return unprocessable(QStringLiteral("spike_duration: must end within duration "
                                                "(spike_start + spike_duration <= duration)"));
        break;
    case Kind::DoubleWave:
        if (s.minUsers > s.users)
            return unprocessable(QStringLiteral("min_users: must not exceed users"));
        break;
    default: break;
    }
    return s;
}

QJsonObject LoadShape::toJson() const
{
    QJsonObject o;
    for (const KindInfo &k : kinds()) {
        if (k.kind != kind)
            continue;
        o.insert(QStringLiteral("shape"), QString::fromLatin1(k.name));
        for (const QString &field : k.fields) {
            if (field == QStringLiteral("users"))
                o.insert(field, users);
            else if (field == QStringLiteral("start_users"))
                o.insert(field, startUsers);
            else if (field == QStringLiteral("min_users"))
                o.insert(field, minUsers);
            else if (field == QStringLiteral("step_users"))
                o.insert(field, stepUsers);
            else if (field == QStringLiteral("spike_users"))
                o.insert(field, spikeUsers);
            else if (field == QStringLiteral("duration"))
                o.insert(field, ConfigLoader::formatDurationMs(durationMs));
            else if (field == QStringLiteral("step_time"))
                o.insert(field, ConfigLoader::formatDurationMs(stepTimeMs));
            else if (field == QStringLiteral("spike_start"))
                o.insert(field, ConfigLoader::formatDurationMs(spikeStartMs));
            else if (field == QStringLiteral("spike_duration"))
                o.insert(field, ConfigLoader::formatDurationMs(spikeDurationMs));
            else if (field == QStringLiteral("stages")) {
                QJsonArray items;
                for (const Stage &stage : stages)
                    items.append(
                        QJsonObject{{QStringLiteral("target"), stage.target},
                                    {QStringLiteral("duration"), ConfigLoader::formatDurationMs(stage.durationMs)}});
                o.insert(field, items);
            }
        }
    }
    return o;
}

} // namespace bulwark
