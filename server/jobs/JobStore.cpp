// SPDX-License-Identifier: GPL-3.0-or-later
// See JobStore.h.
#include "JobStore.h"

#include "SqlSession.h"

#include <QJsonDocument>

namespace bulwark {

namespace {

const QString kColumns = QStringLiteral(
    "id, type, queue, priority, state, payload, result, error, progress, progress_message, "
    "attempts, max_attempts, run_at, created_at, started_at, finished_at, lease_owner, "
    "lease_until, unique_key, cancel_requested, owner_id");

std::optional<qint64> optionalInteger(const SqlCell &c)
{
    if (c.kind == SqlCell::Kind::Null)
        return std::nullopt;
    return c.toInteger();
}

JobPriority priorityOf(qint64 v)
{
    return JobPriority(std::clamp<qint64>(v, 0, kJobPriorities - 1));
}

JobRecord recordFrom(const SqlCell *c)
{
    JobRecord r;
    r.id = c[0].toInteger();
    r.type = c[1].toText();
    r.queue = c[2].toText();
    r.priority = priorityOf(c[3].toInteger());
    r.state = jobStateFromName(c[4].toText()).value_or(JobState::Queued);
    r.payload = c[5].toJsonObject();
    r.result = c[6].toJsonObject();
    r.error = c[7].toText();
    r.progress = c[8].toReal();
    r.progressMessage = c[9].toText();
    r.attempts = int(c[10].toInteger());
    r.maxAttempts = int(c[11].toInteger());
    r.runAtMs = c[12].toInteger();
    r.createdAtMs = c[13].toInteger();
    r.startedAtMs = optionalInteger(c[14]);
    r.finishedAtMs = optionalInteger(c[15]);
    r.leaseOwner = c[16].toText();
    r.leaseUntilMs = optionalInteger(c[17]);
    r.uniqueKey = c[18].toText();
    r.cancelRequested = c[19].toInteger() != 0;
    r.ownerId = optionalInteger(c[20]);
    return r;
}

QVariant optionalBind(const std::optional<qint64> &v)
{
    return v ? QVariant(*v) : QVariant(QMetaType::fromType<qint64>());
}

QVariant nullText()
{
    return QVariant(QMetaType::fromType<QString>());
}

// The filter as a WHERE clause (without the keyword; "1=1" when empty) and its binds.
QString whereClause(const JobFilter &f, QVariantList *binds)
{
    QStringList terms;
    if (!f.states.isEmpty()) {
        QStringList names;
        for (JobState s : f.states)
            names.append(QStringLiteral("'%1'").arg(jobStateName(s))); // fixed names only
        terms.append(QStringLiteral("state IN (%1)").arg(names.join(QStringLiteral(", "))));
    }
    if (!f.type.isEmpty()) {
        terms.append(QStringLiteral("type = ?"));
        binds->append(f.type);
    }
    if (!f.queue.isEmpty()) {
        terms.append(QStringLiteral("queue = ?"));
        binds->append(f.queue);
    }
    if (f.priority) {
        terms.append(QStringLiteral("priority = ?"));
        binds->append(int(*f.priority));
    }
    if (f.createdFromMs) {
        terms.append(QStringLiteral("created_at >= ?"));
        binds->append(*f.createdFromMs);
    }
    if (f.createdToMs) {
        terms.append(QStringLiteral("created_at < ?"));
        binds->append(*f.createdToMs);
    }
    if (f.ownerId) {
        terms.append(QStringLiteral("owner_id = ?"));
        binds->append(*f.ownerId);
    }
    if (!f.text.isEmpty()) {
        // LIKE with the wildcards of the text escaped: the text is matched literally.
        QString escaped = f.text;
        escaped.replace(u'\\', QStringLiteral("\\\\"))
            .replace(u'%', QStringLiteral("\\%"))
            .replace(u'_', QStringLiteral("\\_"));
        const QString pattern = u'%' + escaped + u'%';
        // LOWER on both sides: SQLite's LIKE ignores ASCII case, PostgreSQL's does not, and
        // a bulk action must select the same jobs on both.
        terms.append(QStringLiteral("(LOWER(type) LIKE LOWER(?) ESCAPE '\\' OR LOWER(error) "
                                    "LIKE LOWER(?) ESCAPE '\\' OR LOWER(payload) LIKE LOWER(?) "
                                    "ESCAPE '\\')"));
        *binds << pattern << pattern << pattern;
    }
    return terms.isEmpty() ? QStringLiteral("1 = 1") : terms.join(QStringLiteral(" AND "));
}

} // namespace

QString jobStateName(JobState state)
{
    switch (state) {
    case JobState::Queued: return QStringLiteral("queued");
    case JobState::Running: return QStringLiteral("running");
    case JobState::Retrying: return QStringLiteral("retrying");
    case JobState::Succeeded: return QStringLiteral("succeeded");
    case JobState::Dead: return QStringLiteral("dead");
    case JobState::Cancelled: return QStringLiteral("cancelled");
    }
    return QStringLiteral("queued");
}

std::optional<JobState> jobStateFromName(QStringView name)
{
    for (JobState s : {JobState::Queued, JobState::Running, JobState::Retrying,
                       JobState::Succeeded, JobState::Dead, JobState::Cancelled})
        if (name == jobStateName(s))
            return s;
    return std::nullopt;
}

QString jobPriorityName(JobPriority priority)
{
    switch (priority) {
    case JobPriority::Critical: return QStringLiteral("critical");
    case JobPriority::High: return QStringLiteral("high");
    case JobPriority::Normal: return QStringLiteral("normal");
    case JobPriority::Low: return QStringLiteral("low");
    }
    return QStringLiteral("normal");
}

std::optional<JobPriority> jobPriorityFromName(QStringView name)
{
    for (int p = 0; p < kJobPriorities; ++p)
        if (name == jobPriorityName(JobPriority(p)))
            return JobPriority(p);
    return std::nullopt;
}

static QString isoMs(qint64 ms)
{
    return QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC).toString(Qt::ISODateWithMs);
}

QJsonObject JobRecord::toJson(bool withPayload, qint64 nowMs) const
{
    QJsonObject o{{QStringLiteral("id"), double(id)},
                  {QStringLiteral("type"), type},
                  {QStringLiteral("queue"), queue},
                  {QStringLiteral("priority"), jobPriorityName(priority)},
                  {QStringLiteral("state"), jobStateName(state)},
                  {QStringLiteral("progress"), progress},
                  {QStringLiteral("attempts"), attempts},
                  {QStringLiteral("max_attempts"), maxAttempts},
                  {QStringLiteral("run_at"), isoMs(runAtMs)},
                  {QStringLiteral("created_at"), isoMs(createdAtMs)},
                  {QStringLiteral("started_at"),
                   startedAtMs ? QJsonValue(isoMs(*startedAtMs)) : QJsonValue()},
                  {QStringLiteral("finished_at"),
                   finishedAtMs ? QJsonValue(isoMs(*finishedAtMs)) : QJsonValue()},
                  {QStringLiteral("error"), error.isEmpty() ? QJsonValue() : QJsonValue(error)},
                  {QStringLiteral("result"), result.isEmpty() && !isFinished(state)
                                                 ? QJsonValue()
                                                 : QJsonValue(result)}};
    if (!progressMessage.isEmpty())
        o.insert(QStringLiteral("progress_message"), progressMessage);
    if (state == JobState::Queued &&
        runAtMs > (nowMs >= 0 ? nowMs : QDateTime::currentMSecsSinceEpoch()))
        o.insert(QStringLiteral("scheduled"), true);
    if (cancelRequested)
        o.insert(QStringLiteral("cancel_requested"), true);
    if (!uniqueKey.isEmpty())
        o.insert(QStringLiteral("unique_key"), uniqueKey);
    if (ownerId)
        o.insert(QStringLiteral("owner_id"), double(*ownerId));
    if (state == JobState::Running) {
        o.insert(QStringLiteral("lease_owner"), leaseOwner);
        if (leaseUntilMs)
            o.insert(QStringLiteral("lease_until"), isoMs(*leaseUntilMs));
    }
    if (withPayload)
        o.insert(QStringLiteral("payload"), payload);
    return o;
}

QJsonObject JobStore::Delivery::toJson() const
{
    return QJsonObject{{QStringLiteral("id"), double(id)},
                       {QStringLiteral("webhook"), webhook},
                       {QStringLiteral("event"), event},
                       {QStringLiteral("delivery_id"), deliveryId},
                       {QStringLiteral("job_id"), double(jobId)},
                       {QStringLiteral("attempt"), attempt},
                       {QStringLiteral("at"), isoMs(atMs)},
                       {QStringLiteral("status"), status},
                       {QStringLiteral("duration_ms"), double(durationMs)},
                       {QStringLiteral("error"), error.isEmpty() ? QJsonValue() : QJsonValue(error)},
                       {QStringLiteral("response"),
                        response.isEmpty() ? QJsonValue() : QJsonValue(response)}};
}

Result<QList<Enqueued>> JobStore::enqueue(const QList<JobSpec> &specs, qint64 nowMs)
{
    SqlSession sql(m_pool, m_insight);
    const bool postgres = !sql.isSqlite();
    return inWriteTransaction<QList<Enqueued>>(sql, [&]() -> Result<QList<Enqueued>> {
        QList<Enqueued> out;
        out.reserve(specs.size());
        for (const JobSpec &spec : specs) {
            if (!spec.uniqueKey.isEmpty() && spec.uniqueWindowMs > 0) {
                if (postgres) {
                    // Two transactions enqueueing the same key wait for each other here,
                    // so the check below sees the other's job.
                    if (auto locked = sql.select(
                            QStringLiteral("SELECT pg_advisory_xact_lock(hashtext(?))"),
                            {spec.uniqueKey}, [](const SqlCell *, int) { return true; });
                        !locked.ok())
                        return locked.error();
                }
                qint64 existing = 0;
                auto found = sql.select(
                    QStringLiteral("SELECT id FROM jobs WHERE unique_key = ? AND created_at > ? "
                                   "AND state <> 'cancelled' ORDER BY created_at DESC LIMIT 1"),
                    {spec.uniqueKey, nowMs - spec.uniqueWindowMs},
                    [&existing](const SqlCell *c, int) {
                        existing = c[0].toInteger();
                        return false;
                    });
                if (!found.ok())
                    return found.error();
                if (existing > 0) {
                    out.append(Enqueued{existing, true});
                    continue;
                }
            }
            qint64 id = 0;
            auto inserted = sql.select(
                QStringLiteral("INSERT INTO jobs (type, queue, priority, state, payload, "
                               "max_attempts, run_at, created_at, unique_key, owner_id) "
                               "VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?) RETURNING id"),
                {spec.type, spec.queue, int(spec.priority.value_or(JobPriority::Normal)),
                 jsonColumnText(spec.payload), std::max(1, spec.maxAttempts),
                 spec.runAtMs > 0 ? spec.runAtMs : nowMs, nowMs,
                 spec.uniqueKey.isEmpty() ? nullText() : QVariant(spec.uniqueKey),
                 optionalBind(spec.ownerId)},
                [&id](const SqlCell *c, int) {
                    id = c[0].toInteger();
                    return false;
                });
            if (!inserted.ok())
                return inserted.error();
            out.append(Enqueued{id, false});
        }
        return out;
    });
}

Result<QList<ClaimedJob>> JobStore::claim(const QString &owner, const QString &queue,
                                          std::array<int, kJobPriorities> counts, qint64 nowMs,
                                          qint64 leaseUntilMs)
{
    SqlSession sql(m_pool, m_insight);
    const QString lock = sql.isSqlite() ? QString() : QStringLiteral(" FOR UPDATE SKIP LOCKED");
    const QString statement =
        QStringLiteral("UPDATE jobs SET state = 'running', attempts = attempts + 1, "
                       "lease_owner = ?, lease_until = ?, started_at = ? "
                       "WHERE id IN (SELECT id FROM jobs WHERE state IN ('queued', 'retrying') "
                       "AND queue = ? AND priority = ? AND run_at <= ? ORDER BY run_at, id "
                       "LIMIT ?%1) RETURNING id, type, priority, payload, attempts, "
                       "max_attempts, run_at, created_at, owner_id")
            .arg(lock);
    return inWriteTransaction<QList<ClaimedJob>>(sql, [&]() -> Result<QList<ClaimedJob>> {
        QList<ClaimedJob> claimed;
        std::array<int, kJobPriorities> got{};
        auto take = [&](int priority, int limit) -> Result<int> {
            if (limit <= 0)
                return 0;
            auto rows = sql.select(statement,
                                   {owner, leaseUntilMs, nowMs, queue, priority, nowMs, limit},
                                   [&](const SqlCell *c, int) {
                                       ClaimedJob j;
                                       j.id = c[0].toInteger();
                                       j.type = c[1].toText();
                                       j.queue = queue;
                                       j.priority = priorityOf(c[2].toInteger());
                                       j.payload = c[3].toJsonObject();
                                       j.attempt = int(c[4].toInteger());
                                       j.maxAttempts = int(c[5].toInteger());
                                       j.runAtMs = c[6].toInteger();
                                       j.createdAtMs = c[7].toInteger();
                                       j.ownerId = optionalInteger(c[8]);
                                       claimed.append(std::move(j));
                                       return true;
                                   });
            if (!rows.ok())
                return rows.error();
            return int(rows.value());
        };
        int wanted = 0;
        for (int p = 0; p < kJobPriorities; ++p) {
            wanted += counts[p];
            auto n = take(p, counts[p]);
            if (!n.ok())
                return n.error();
            got[p] = n.value();
        }
        // Slots a priority could not use go to the others, highest first. A priority that
        // filled its share may have more.
        int left = wanted;
        for (int n : got)
            left -= n;
        for (int p = 0; p < kJobPriorities && left > 0; ++p) {
            if (got[p] < counts[p])
                continue; // it ran out already
            auto n = take(p, left);
            if (!n.ok())
                return n.error();
            left -= n.value();
        }
        std::stable_sort(claimed.begin(), claimed.end(),
                         [](const ClaimedJob &a, const ClaimedJob &b) {
                             if (a.priority != b.priority)
                                 return a.priority < b.priority;
                             if (a.runAtMs != b.runAtMs)
                                 return a.runAtMs < b.runAtMs;
                             return a.id < b.id;
                         });
        return claimed;
    });
}

namespace {

// Plain successes (no result object) are stored kSuccessChunk at a time by one statement:
// on PostgreSQL each statement is a round trip, and one per job bounded the queue at a few
// thousand jobs a second. The statement text is fixed (a short chunk repeats its last
// pair), so it is prepared once. The casts type the VALUES for PostgreSQL, which would
// otherwise read them as text.
constexpr int kSuccessChunk = 32;

const QString &successChunkStatement()
{
    static const QString statement = [] {
        QStringList pairs;
        for (int i = 0; i < kSuccessChunk; ++i)
            pairs.append(QStringLiteral("(CAST(? AS BIGINT), CAST(? AS INTEGER))"));
        return QStringLiteral("UPDATE jobs SET state = 'succeeded', result = NULL, error = NULL, "
                              "progress = 1, finished_at = ?, lease_owner = NULL, lease_until = "
                              "NULL, cancel_requested = 0 WHERE lease_owner = ? AND state = 'running' AND (id, attempts) "
                              "IN (VALUES %1) RETURNING id")
            .arg(pairs.join(QStringLiteral(", ")));
    }();
    return statement;
}

} // namespace

Result<std::vector<bool>> JobStore::finish(const QString &owner, const QList<JobOutcome> &outcomes,
                                           qint64 nowMs)
{
    SqlSession sql(m_pool, m_insight);
    // run_at changes only for a retry (its next run) and a release (now); it keeps the
    // time a finished job was due.
    // A cancellation requested while the attempt ran wins over a retry or a release (the
    // token may have been cancelled for another reason first, or the request not seen
    // yet): the job ends cancelled instead of running again. A success stands.
    static const QString statement = QStringLiteral(
        "UPDATE jobs SET "
        "state = CASE WHEN cancel_requested = 1 AND CAST(? AS TEXT) IN ('retrying', 'queued') "
        "THEN 'cancelled' ELSE CAST(? AS TEXT) END, "
        "result = ?, error = ?, progress = ?, "
        "finished_at = CASE WHEN cancel_requested = 1 AND CAST(? AS TEXT) IN ('retrying', "
        "'queued') THEN CAST(? AS BIGINT) ELSE CAST(? AS BIGINT) END, "
        "run_at = COALESCE(?, run_at), attempts = ?, lease_owner = NULL, lease_until = NULL, "
        "cancel_requested = 0 "
        "WHERE id = ? AND lease_owner = ? AND attempts = ? AND state = 'running' RETURNING id");
    return inWriteTransaction<std::vector<bool>>(sql, [&]() -> Result<std::vector<bool>> {
        std::vector<bool> applied(outcomes.size(), false);
        std::vector<qsizetype> plain; // indexes of successes without a result
        for (qsizetype i = 0; i < outcomes.size(); ++i) {
            const JobOutcome &o = outcomes.at(i);
            if (o.kind == JobOutcome::Kind::Succeeded && o.result.isEmpty()) {
                plain.push_back(i);
                continue;
            }
            QString state;
            QVariant result = nullText();
            QVariant error = nullText();
            QVariant finished(QMetaType::fromType<qint64>());
            QVariant runAt(QMetaType::fromType<qint64>());
            int attempts = o.attempt;
            double progress = 0;
            switch (o.kind) {
            case JobOutcome::Kind::Succeeded:
                state = QStringLiteral("succeeded");
                result = jsonColumnText(o.result);
                finished = nowMs;
                progress = 1;
                break;
            case JobOutcome::Kind::Failed:
                error = o.error;
                if (o.retryAtMs > 0) {
                    state = QStringLiteral("retrying");
                    runAt = o.retryAtMs;
                } else {
                    state = QStringLiteral("dead");
                    finished = nowMs;
                }
                break;
            case JobOutcome::Kind::Cancelled:
                state = QStringLiteral("cancelled");
                error = o.error.isEmpty() ? QStringLiteral("cancelled") : o.error;
                finished = nowMs;
                break;
            case JobOutcome::Kind::Released:
                // Back to where it was before this claim; the attempt does not count.
                attempts = o.attempt - 1;
                state = attempts > 0 ? QStringLiteral("retrying") : QStringLiteral("queued");
                runAt = nowMs;
                break;
            }
            bool changed = false;
            auto rows = sql.select(statement,
                                   {state, state, result, error, progress, state, nowMs, finished,
                                    runAt, attempts, o.id, owner, o.attempt},
                                   [&changed](const SqlCell *, int) {
                                       changed = true;
                                       return false;
                                   });
            if (!rows.ok())
                return rows.error();
            applied[size_t(i)] = changed;
        }
        for (size_t start = 0; start < plain.size(); start += kSuccessChunk) {
            const size_t end = std::min(plain.size(), start + kSuccessChunk);
            QVariantList binds{nowMs, owner};
            for (size_t k = start; k < start + kSuccessChunk; ++k) {
                const JobOutcome &o = outcomes.at(plain[std::min(k, end - 1)]);
                binds << o.id << o.attempt;
            }
            QSet<qint64> changed;
            auto rows = sql.select(successChunkStatement(), binds, [&changed](const SqlCell *c, int) {
                changed.insert(c[0].toInteger());
                return true;
            });
            if (!rows.ok())
                return rows.error();
            for (size_t k = start; k < end; ++k)
                applied[size_t(plain[k])] = changed.contains(outcomes.at(plain[k]).id);
        }
        return applied;
    });
}

Result<qint64> JobStore::renewLeases(const QString &owner, qint64 leaseUntilMs)
{
    SqlSession sql(m_pool, m_insight);
    return inWriteTransaction<qint64>(sql, [&]() -> Result<qint64> {
        return sql.select(QStringLiteral("UPDATE jobs SET lease_until = ? WHERE lease_owner = ? "
                                         "AND state = 'running' RETURNING id"),
                          {leaseUntilMs, owner}, [](const SqlCell *, int) { return true; });
    });
}

Result<QList<JobStore::Expired>> JobStore::requeueExpired(qint64 nowMs)
{
    SqlSession sql(m_pool, m_insight);
    return inWriteTransaction<QList<Expired>>(sql, [&]() -> Result<QList<Expired>> {
        QList<Expired> out;
        // A job someone asked to cancel ends cancelled: its instance died before it could
        // act on the request, and running it again would ignore it.
        auto rows = sql.select(
            QStringLiteral(
                "UPDATE jobs SET state = CASE WHEN cancel_requested = 1 THEN 'cancelled' WHEN "
                "attempts >= max_attempts THEN 'dead' ELSE 'retrying' END, finished_at = CASE "
                "WHEN cancel_requested = 1 OR attempts >= max_attempts THEN CAST(? AS BIGINT) "
                "ELSE NULL END, error = 'the lease expired: the instance running it stopped or "
                "hung', run_at = ?, lease_owner = NULL, lease_until = NULL, cancel_requested = 0 "
                "WHERE state = 'running' AND lease_until < ? RETURNING id, type, queue, "
                "attempts, state"),
            {nowMs, nowMs, nowMs}, [&out](const SqlCell *c, int) {
                Expired e;
                e.id = c[0].toInteger();
                e.type = c[1].toText();
                e.queue = c[2].toText();
                e.attempt = int(c[3].toInteger());
                e.state = jobStateFromName(c[4].toText()).value_or(JobState::Retrying);
                out.append(e);
                return true;
            });
        if (!rows.ok())
            return rows.error();
        return out;
    });
}

Result<QList<qint64>> JobStore::cancelRequested(const QString &owner)
{
    SqlSession sql(m_pool, m_insight);
    QList<qint64> ids;
    auto rows = sql.select(QStringLiteral("SELECT id FROM jobs WHERE lease_owner = ? AND "
                                          "state = 'running' AND cancel_requested = 1"),
                           {owner}, [&ids](const SqlCell *c, int) {
                               ids.append(c[0].toInteger());
                               return true;
                           });
    if (!rows.ok())
        return rows.error();
    return ids;
}

Result<bool> JobStore::saveProgress(const QString &owner, const QList<Progress> &progress)
{
    if (progress.isEmpty())
        return true;
    SqlSession sql(m_pool, m_insight);
    return inWriteTransaction<bool>(sql, [&]() -> Result<bool> {
        for (const Progress &p : progress) {
            auto rows = sql.select(
                QStringLiteral("UPDATE jobs SET progress = ?, progress_message = ? WHERE id = ? "
                               "AND lease_owner = ? AND attempts = ? AND state = 'running'"),
                {p.fraction, p.message.isEmpty() ? nullText() : QVariant(p.message), p.id, owner,
                 p.attempt},
                [](const SqlCell *, int) { return false; });
            if (!rows.ok())
                return rows.error();
        }
        return true;
    });
}

Result<std::optional<JobRecord>> JobStore::get(qint64 id)
{
    SqlSession sql(m_pool, m_insight);
    std::optional<JobRecord> found;
    auto rows = sql.select(QStringLiteral("SELECT %1 FROM jobs WHERE id = ?").arg(kColumns), {id},
                           [&found](const SqlCell *c, int) {
                               found = recordFrom(c);
                               return false;
                           });
    if (!rows.ok())
        return rows.error();
    return found;
}

Result<QList<JobRecord>> JobStore::list(const JobFilter &filter, qint64 beforeId, int limit)
{
    SqlSession sql(m_pool, m_insight);
    QVariantList binds;
    QString where = whereClause(filter, &binds);
    if (beforeId > 0) {
        where += QStringLiteral(" AND id < ?");
        binds.append(beforeId);
    }
    binds.append(limit);
    QList<JobRecord> out;
    auto rows = sql.select(
        QStringLiteral("SELECT %1 FROM jobs WHERE %2 ORDER BY id DESC LIMIT ?").arg(kColumns, where),
        binds, [&out](const SqlCell *c, int) {
            out.append(recordFrom(c));
            return true;
        });
    if (!rows.ok())
        return rows.error();
    return out;
}

namespace {

// The state of job `id`; NotFound when there is none.
Result<JobState> stateOf(SqlSession &sql, qint64 id)
{
    QString state;
    // FOR UPDATE on PostgreSQL: the row cannot change between this read and the caller's
    // writes (SQLite's write transaction already excludes every other writer).
    auto found = sql.select(sql.isSqlite()
                                ? QStringLiteral("SELECT state FROM jobs WHERE id = ?")
                                : QStringLiteral("SELECT state FROM jobs WHERE id = ? FOR UPDATE"),
                            {id},
                            [&state](const SqlCell *c, int) {
                                state = c[0].toText();
                                return false;
                            });
    if (!found.ok())
        return found.error();
    if (state.isEmpty())
        return Error{ErrorCode::NotFound, QStringLiteral("no job %1").arg(id)};
    return jobStateFromName(state).value_or(JobState::Queued);
}

qint64 countRows(SqlSession &sql, const QString &statement, const QVariantList &binds,
                 Error *error)
{
    auto rows = sql.select(statement, binds, [](const SqlCell *, int) { return true; });
    if (!rows.ok()) {
        *error = rows.error();
        return -1;
    }
    return rows.value();
}

// The statements behind cancel, retry and remove, for the jobs `where` selects (a filter,
// or "id = ?"); inside the caller's write transaction. Each returns how many jobs changed.
Result<qint64> cancelWhere(SqlSession &sql, const QString &where, const QVariantList &binds,
                           qint64 nowMs)
{
    Error error;
    // Waiting jobs end at once; running ones are asked to stop (their instance acts on it).
    const qint64 waiting = countRows(
        sql,
        QStringLiteral("UPDATE jobs SET state = 'cancelled', finished_at = ?, error = 'cancelled "
                       "before it ran' WHERE state IN ('queued', 'retrying') AND %1 RETURNING id")
            .arg(where),
        QVariantList{nowMs} + binds, &error);
    if (waiting < 0)
        return error;
    const qint64 running = countRows(sql,
                                     QStringLiteral("UPDATE jobs SET cancel_requested = 1 WHERE "
                                                    "state = 'running' AND %1 RETURNING id")
                                         .arg(where),
                                     binds, &error);
    if (running < 0)
        return error;
    return waiting + running;
}

Result<qint64> retryWhere(SqlSession &sql, const QString &where, const QVariantList &binds,
                          qint64 nowMs)
{
    Error error;
    // Dead and cancelled jobs start over with a fresh attempt budget; retrying ones run now.
    const qint64 finished = countRows(
        sql,
        QStringLiteral("UPDATE jobs SET state = 'queued', attempts = 0, run_at = ?, finished_at = "
                       "NULL, started_at = NULL, cancel_requested = 0, progress = 0, "
                       "progress_message = NULL WHERE state IN ('dead', 'cancelled') AND %1 "
                       "RETURNING id")
            .arg(where),
        QVariantList{nowMs} + binds, &error);
    if (finished < 0)
        return error;
    const qint64 retrying = countRows(
        sql,
        QStringLiteral("UPDATE jobs SET run_at = ? WHERE state = 'retrying' AND %1 RETURNING id")
            .arg(where),
        QVariantList{nowMs} + binds, &error);
    if (retrying < 0)
        return error;
    return finished + retrying;
}

Result<qint64> removeWhere(SqlSession &sql, const QString &where, const QVariantList &binds)
{
    return sql.select(
        QStringLiteral("DELETE FROM jobs WHERE state <> 'running' AND %1 RETURNING id").arg(where),
        binds, [](const SqlCell *, int) { return true; });
}

const QString kById = QStringLiteral("id = ?");

} // namespace

Result<JobStore::CancelResult> JobStore::cancel(qint64 id, qint64 nowMs)
{
    SqlSession sql(m_pool, m_insight);
    return inWriteTransaction<CancelResult>(sql, [&]() -> Result<CancelResult> {
        const auto state = stateOf(sql, id);
        if (!state.ok())
            return state.error();
        if (isFinished(state.value()))
            return Error{ErrorCode::Conflict,
                         QStringLiteral("job %1 is already %2").arg(id).arg(jobStateName(state.value()))};
        if (auto done = cancelWhere(sql, kById, {id}, nowMs); !done.ok())
            return done.error();
        return state.value() == JobState::Running ? CancelResult{JobState::Running, true}
                                                  : CancelResult{JobState::Cancelled, false};
    });
}

Result<JobRecord> JobStore::retry(qint64 id, qint64 nowMs)
{
    {
        SqlSession sql(m_pool, m_insight);
        auto done = inWriteTransaction<bool>(sql, [&]() -> Result<bool> {
            const auto state = stateOf(sql, id);
            if (!state.ok())
                return state.error();
            const JobState s = state.value();
            if (s != JobState::Dead && s != JobState::Cancelled && s != JobState::Retrying)
                return Error{ErrorCode::Conflict,
                             QStringLiteral("job %1 is %2; only dead, cancelled and retrying "
                                            "jobs can be retried")
                                 .arg(id)
                                 .arg(jobStateName(s))};
            if (auto retried = retryWhere(sql, kById, {id}, nowMs); !retried.ok())
                return retried.error();
            return true;
        });
        if (!done.ok())
            return done.error();
    }
    auto record = get(id);
    if (!record.ok())
        return record.error();
    if (!record.value())
        return Error{ErrorCode::NotFound, QStringLiteral("no job %1").arg(id)};
    return *record.value();
}

Result<bool> JobStore::remove(qint64 id)
{
    SqlSession sql(m_pool, m_insight);
    return inWriteTransaction<bool>(sql, [&]() -> Result<bool> {
        const auto state = stateOf(sql, id);
        if (!state.ok())
            return state.error();
        if (state.value() == JobState::Running)
            return Error{ErrorCode::Conflict,
                         QStringLiteral("job %1 is running; cancel it first").arg(id)};
        if (auto removed = removeWhere(sql, kById, {id}); !removed.ok())
            return removed.error();
        return true;
    });
}

Result<qint64> JobStore::cancelMatching(const JobFilter &filter, qint64 nowMs)
{
    SqlSession sql(m_pool, m_insight);
    QVariantList binds;
    const QString where = whereClause(filter, &binds);
    return inWriteTransaction<qint64>(sql, [&] { return cancelWhere(sql, where, binds, nowMs); });
}

Result<qint64> JobStore::retryMatching(const JobFilter &filter, qint64 nowMs)
{
    SqlSession sql(m_pool, m_insight);
    QVariantList binds;
    const QString where = whereClause(filter, &binds);
    return inWriteTransaction<qint64>(sql, [&] { return retryWhere(sql, where, binds, nowMs); });
}

Result<qint64> JobStore::removeMatching(const JobFilter &filter)
{
    SqlSession sql(m_pool, m_insight);
    QVariantList binds;
    const QString where = whereClause(filter, &binds);
    return inWriteTransaction<qint64>(sql, [&] { return removeWhere(sql, where, binds); });
}

Result<bool> JobStore::setPaused(const QString &queue, bool paused)
{
    SqlSession sql(m_pool, m_insight);
    return inWriteTransaction<bool>(sql, [&]() -> Result<bool> {
        auto set = sql.exec(QStringLiteral("INSERT INTO job_queues (name, paused) VALUES (?, ?) "
                                           "ON CONFLICT (name) DO UPDATE SET paused = "
                                           "excluded.paused"),
                            {queue, paused ? 1 : 0});
        if (!set.ok())
            return set.error();
        return true;
    });
}

Result<QSet<QString>> JobStore::pausedQueues()
{
    SqlSession sql(m_pool, m_insight);
    QSet<QString> paused;
    auto rows = sql.select(QStringLiteral("SELECT name FROM job_queues WHERE paused = 1"), {},
                           [&paused](const SqlCell *c, int) {
                               paused.insert(c[0].toText());
                               return true;
                           });
    if (!rows.ok())
        return rows.error();
    return paused;
}

Result<JobStore::Stats> JobStore::stats(qint64 nowMs)
{
    SqlSession sql(m_pool, m_insight);
    if (auto begun = sql.beginRead(); !begun.ok())
        return begun.error();
    Stats stats;
    QHash<QPair<QString, int>, int> index;
    auto depthOf = [&](const QString &queue, int priority) -> Depth & {
        const auto key = qMakePair(queue, priority);
        auto it = index.find(key);
        if (it == index.end()) {
            it = index.insert(key, int(stats.depth.size()));
            stats.depth.append(Depth{queue, priorityOf(priority)});
        }
        return stats.depth[*it];
    };
    // GROUP BY by position: PostgreSQL sees two placeholders as two different expressions
    // and would refuse the SELECT's CASE as neither grouped nor aggregated.
    auto rows = sql.select(
        QStringLiteral(
            "SELECT queue, priority, state, CASE WHEN run_at <= ? THEN 1 ELSE 0 END, COUNT(*) "
            "FROM jobs WHERE state IN ('queued', 'retrying', 'running') "
            "GROUP BY 1, 2, 3, 4"),
        {nowMs}, [&](const SqlCell *c, int) {
            Depth &d = depthOf(c[0].toText(), int(c[1].toInteger()));
            const QString state = c[2].toText();
            const bool due = c[3].toInteger() != 0;
            const qint64 n = c[4].toInteger();
            if (state == QLatin1String("running"))
                d.running += n;
            else if (due)
                d.ready += n;
            else if (state == QLatin1String("retrying"))
                d.retrying += n;
            else
                d.scheduled += n;
            return true;
        });
    if (!rows.ok())
        return rows.error();
    std::sort(stats.depth.begin(), stats.depth.end(), [](const Depth &a, const Depth &b) {
        return a.queue != b.queue ? a.queue < b.queue : a.priority < b.priority;
    });
    auto dead = sql.select(QStringLiteral("SELECT COUNT(*) FROM jobs WHERE state = 'dead'"), {},
                           [&stats](const SqlCell *c, int) {
                               stats.dead = c[0].toInteger();
                               return false;
                           });
    if (!dead.ok())
        return dead.error();
    auto finished = sql.select(
        QStringLiteral("SELECT state, SUM(CASE WHEN finished_at >= ? THEN 1 ELSE 0 END), "
                       "COUNT(*) FROM jobs WHERE state IN ('succeeded', 'dead', 'cancelled') "
                       "AND finished_at >= ? GROUP BY state"),
        {nowMs - 60'000, nowMs - 3'600'000}, [&stats](const SqlCell *c, int) {
            stats.lastMinute.insert(c[0].toText(), c[1].toInteger());
            stats.lastHour.insert(c[0].toText(), c[2].toInteger());
            return true;
        });
    if (!finished.ok())
        return finished.error();
    // Attempts that failed within the hour: jobs retrying now, and jobs that went dead.
    auto failed = sql.select(
        QStringLiteral("SELECT COUNT(*) FROM jobs WHERE (state = 'retrying' AND started_at >= ?) "
                       "OR (state = 'dead' AND finished_at >= ?)"),
        {nowMs - 3'600'000, nowMs - 3'600'000}, [&stats](const SqlCell *c, int) {
            stats.failedLastHour = c[0].toInteger();
            return false;
        });
    if (!failed.ok())
        return failed.error();
    sql.rollback();
    return stats;
}

Result<JobStore::Pruned> JobStore::prune(qint64 nowMs, qint64 retentionMs, qint64 deadRetentionMs,
                                         qint64 deadMax)
{
    SqlSession sql(m_pool, m_insight);
    return inWriteTransaction<Pruned>(sql, [&]() -> Result<Pruned> {
        Pruned pruned;
        auto finished = sql.select(
            QStringLiteral("DELETE FROM jobs WHERE state IN ('succeeded', 'cancelled') AND "
                           "finished_at < ? RETURNING id"),
            {nowMs - retentionMs}, [](const SqlCell *, int) { return true; });
        if (!finished.ok())
            return finished.error();
        pruned.finished = finished.value();
        auto dead = sql.select(
            QStringLiteral("DELETE FROM jobs WHERE state = 'dead' AND finished_at < ? RETURNING id"),
            {nowMs - deadRetentionMs}, [](const SqlCell *, int) { return true; });
        if (!dead.ok())
            return dead.error();
        pruned.dead = dead.value();
        // Above the cap, the oldest dead jobs go first.
        // SQLite needs a LIMIT before an OFFSET (-1: none); PostgreSQL takes OFFSET alone.
        auto over = sql.select(
            QStringLiteral("DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = "
                           "'dead' ORDER BY finished_at DESC, id DESC %1OFFSET ?) RETURNING id")
                .arg(sql.isSqlite() ? QStringLiteral("LIMIT -1 ") : QString()),
            {deadMax}, [](const SqlCell *, int) { return true; });
        if (!over.ok())
            return over.error();
        pruned.dead += over.value();
        auto deliveries = sql.select(
            QStringLiteral("DELETE FROM webhook_deliveries WHERE at < ? RETURNING id"),
            {nowMs - retentionMs}, [](const SqlCell *, int) { return true; });
        if (!deliveries.ok())
            return deliveries.error();
        pruned.deliveries = deliveries.value();
        return pruned;
    });
}

Result<std::optional<qint64>> JobStore::enqueueCronSlot(const QString &name, qint64 slotMs,
                                                        const JobSpec &spec, qint64 nowMs)
{
    SqlSession sql(m_pool, m_insight);
    return inWriteTransaction<std::optional<qint64>>(
        sql, [&]() -> Result<std::optional<qint64>> {
            // Insert the row if this entry never ran; then move it forward only if it is
            // behind this slot. Exactly one transaction wins each slot.
            if (auto created = sql.exec(QStringLiteral("INSERT INTO job_cron (name, last_slot) "
                                                       "VALUES (?, ?) ON CONFLICT (name) DO "
                                                       "NOTHING"),
                                        {name, slotMs - 1});
                !created.ok())
                return created.error();
            bool won = false;
            auto moved = sql.select(QStringLiteral("UPDATE job_cron SET last_slot = ? WHERE "
                                                   "name = ? AND last_slot < ? RETURNING name"),
                                    {slotMs, name, slotMs}, [&won](const SqlCell *, int) {
                                        won = true;
                                        return false;
                                    });
            if (!moved.ok())
                return moved.error();
            if (!won)
                return std::optional<qint64>();
            qint64 id = 0;
            auto inserted = sql.select(
                QStringLiteral("INSERT INTO jobs (type, queue, priority, state, payload, "
                               "max_attempts, run_at, created_at) VALUES (?, ?, ?, 'queued', ?, "
                               "?, ?, ?) RETURNING id"),
                {spec.type, spec.queue, int(spec.priority.value_or(JobPriority::Normal)),
                 jsonColumnText(spec.payload), std::max(1, spec.maxAttempts), nowMs, nowMs},
                [&id](const SqlCell *c, int) {
                    id = c[0].toInteger();
                    return false;
                });
            if (!inserted.ok())
                return inserted.error();
            return std::optional<qint64>(id);
        });
}

Result<std::optional<qint64>> JobStore::lastCronSlot(const QString &name)
{
    SqlSession sql(m_pool, m_insight);
    std::optional<qint64> slot;
    auto rows = sql.select(QStringLiteral("SELECT last_slot FROM job_cron WHERE name = ?"), {name},
                           [&slot](const SqlCell *c, int) {
                               slot = c[0].toInteger();
                               return false;
                           });
    if (!rows.ok())
        return rows.error();
    return slot;
}

Result<bool> JobStore::recordDelivery(const Delivery &d)
{
    SqlSession sql(m_pool, m_insight);
    return inWriteTransaction<bool>(sql, [&]() -> Result<bool> {
        auto inserted = sql.exec(
            QStringLiteral("INSERT INTO webhook_deliveries (webhook, event, delivery_id, job_id, "
                           "attempt, at, status, duration_ms, error, response) VALUES (?, ?, ?, "
                           "?, ?, ?, ?, ?, ?, ?)"),
            {d.webhook, d.event, d.deliveryId, d.jobId, d.attempt, d.atMs, d.status, d.durationMs,
             d.error.isEmpty() ? nullText() : QVariant(d.error),
             d.response.isEmpty() ? nullText() : QVariant(d.response)});
        if (!inserted.ok())
            return inserted.error();
        return true;
    });
}

Result<QList<JobStore::Delivery>> JobStore::deliveries(const QString &webhook, qint64 beforeId,
                                                       int limit)
{
    SqlSession sql(m_pool, m_insight);
    QList<Delivery> out;
    auto rows = sql.select(
        QStringLiteral("SELECT id, webhook, event, delivery_id, job_id, attempt, at, status, "
                       "duration_ms, error, response FROM webhook_deliveries WHERE webhook = ? "
                       "AND id < ? ORDER BY id DESC LIMIT ?"),
        {webhook, beforeId > 0 ? beforeId : std::numeric_limits<qint64>::max(), limit},
        [&out](const SqlCell *c, int) {
            Delivery d;
            d.id = c[0].toInteger();
            d.webhook = c[1].toText();
            d.event = c[2].toText();
            d.deliveryId = c[3].toText();
            d.jobId = c[4].toInteger();
            d.attempt = int(c[5].toInteger());
            d.atMs = c[6].toInteger();
            d.status = int(c[7].toInteger());
            d.durationMs = c[8].toInteger();
            d.error = c[9].toText();
            d.response = c[10].toText();
            out.append(d);
            return true;
        });
    if (!rows.ok())
        return rows.error();
    return out;
}

} // namespace bulwark
