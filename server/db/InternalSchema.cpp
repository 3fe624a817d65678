// SPDX-License-Identifier: GPL-3.0-or-later
// See InternalSchema.h. Passwords are stored as PBKDF2 hash, salt and iteration count; API
// keys only as a hash (the key itself is shown once). The audit log holds no personal data.
#include "InternalSchema.h"

namespace bulwark {

QList<Migration> internalMigrations()
{
    return {
        {1, QStringLiteral("users, api keys, audit log"),
         [](const Dialect &d) {
             const QString ts = d.timestampType();
             return QStringList{
                 QStringLiteral(
                     "CREATE TABLE users ("
                     "id %1, "
                     "email TEXT NOT NULL UNIQUE, "
                     "display_name TEXT NOT NULL DEFAULT '', "
                     "password_hash TEXT, "
                     "password_salt TEXT, "
                     "password_iterations INTEGER, "
                     "role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')), "
                     "disabled BOOLEAN NOT NULL DEFAULT FALSE, "
                     "created_at %2 NOT NULL)")
                     .arg(d.autoIncrementKey(), ts),
                 QStringLiteral("CREATE TABLE api_keys ("
                                "id %1, "
                                "user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE, "
                                "name TEXT NOT NULL DEFAULT '', "
                                "key_hash TEXT NOT NULL UNIQUE, "
                                "created_at %2 NOT NULL, "
                                "last_used_at %2, "
                                "revoked_at %2)")
                     .arg(d.autoIncrementKey(), ts),
                 QStringLiteral("CREATE INDEX api_keys_user ON api_keys (user_id)"),
                 QStringLiteral("CREATE TABLE audit_log ("
                                "id %1, "
                                "at %2 NOT NULL, "
                                "actor TEXT NOT NULL, "
                                "action TEXT NOT NULL, "
                                "detail %3)")
                     .arg(d.autoIncrementKey(), ts, d.jsonType()),
                 QStringLiteral("CREATE INDEX audit_log_at ON audit_log (at)"),
             };
         }},
        {2, QStringLiteral("api key expiry, applied collection definitions"),
         [](const Dialect &d) {
             const QString ts = d.timestampType();
             return QStringList{
                 QStringLiteral("ALTER TABLE api_keys ADD COLUMN expires_at %1").arg(ts),
                 // What SchemaSync last applied for each collection of the schema file: the
                 // next start compares the file against it to tell additions (applied) from
                 // destructive changes (refused unless allowed).
                 QStringLiteral("CREATE TABLE collection_definitions ("
                                "name TEXT PRIMARY KEY, "
                                "definition TEXT NOT NULL, "
                                "applied_at %1 NOT NULL)")
                     .arg(ts),
             };
         }},
        {3, QStringLiteral("job queue, cron runs, queue pauses, webhook deliveries"),
         [](const Dialect &d) {
             // Times in the job tables are Unix milliseconds (BIGINT): they are compared
             // across instances on every claim, and an integer compares and indexes the
             // same way on both databases. Payloads and results are JSON text.
             return QStringList{
                 QStringLiteral("CREATE TABLE jobs ("
                                "id %1, "
                                "type TEXT NOT NULL, "
                                "queue TEXT NOT NULL, "
                                "priority INTEGER NOT NULL, "
                                "state TEXT NOT NULL, "
                                "payload TEXT NOT NULL, "
                                "result TEXT, "
                                "error TEXT, "
                                "progress DOUBLE PRECISION NOT NULL DEFAULT 0, "
                                "progress_message TEXT, "
                                "attempts INTEGER NOT NULL DEFAULT 0, "
                                "max_attempts INTEGER NOT NULL, "
                                "run_at BIGINT NOT NULL, "
                                "created_at BIGINT NOT NULL, "
                                "started_at BIGINT, "
                                "finished_at BIGINT, "
                                "lease_owner TEXT, "
                                "lease_until BIGINT, "
                                "unique_key TEXT, "
                                "cancel_requested INTEGER NOT NULL DEFAULT 0, "
                                "owner_id BIGINT)")
                     .arg(d.autoIncrementKey()),
                 // The claim reads this index in order: ready jobs of one queue and
                 // priority, oldest run_at first.
                 QStringLiteral("CREATE INDEX jobs_ready ON jobs (queue, priority, run_at, id) "
                                "WHERE state IN ('queued', 'retrying')"),
                 QStringLiteral("CREATE INDEX jobs_lease ON jobs (lease_until) "
                                "WHERE state = 'running'"),
                 QStringLiteral("CREATE INDEX jobs_finished ON jobs (state, finished_at)"),
                 QStringLiteral("CREATE INDEX jobs_created ON jobs (created_at)"),
                 QStringLiteral("CREATE INDEX jobs_unique ON jobs (unique_key, created_at) "
                                "WHERE unique_key IS NOT NULL"),
                 QStringLiteral("CREATE INDEX jobs_owner ON jobs (owner_id) "
                                "WHERE owner_id IS NOT NULL"),
                 // Paused queues, shared by every instance.
                 QStringLiteral("CREATE TABLE job_queues ("
                                "name TEXT PRIMARY KEY, "
                                "paused INTEGER NOT NULL DEFAULT 0)"),
                 // The last period each cron entry was enqueued for: an instance enqueues a
                 // period only if it moves this forward (compare-and-set), so each period
                 // runs once across all instances.
                 QStringLiteral("CREATE TABLE job_cron ("
                                "name TEXT PRIMARY KEY, "
                                "last_slot BIGINT NOT NULL)"),
                 QStringLiteral("CREATE TABLE webhook_deliveries ("
                                "id %1, "
                                "webhook TEXT NOT NULL, "
                                "event TEXT NOT NULL, "
                                "delivery_id TEXT NOT NULL, "
                                "job_id BIGINT, "
                                "attempt INTEGER NOT NULL, "
                                "at BIGINT NOT NULL, "
                                "status INTEGER NOT NULL, "
                                "duration_ms BIGINT NOT NULL, "
                                "error TEXT, "
                                "response TEXT)")
                     .arg(d.autoIncrementKey()),
                 QStringLiteral("CREATE INDEX webhook_deliveries_webhook "
                                "ON webhook_deliveries (webhook, id)"),
                 QStringLiteral("CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at)"),
             };
         }},
        {4, QStringLiteral("stored load-test runs"),
         [](const Dialect &) {
             // One row per run of the load tester (LoadTestRunStore). The columns a list
             // shows are plain values; `report` holds the whole RunReport as JSON text (TEXT
             // on both databases, not JSONB: it is rewritten every second while the run
             // lasts and only ever read whole). Times are Unix milliseconds, as in the job
             // tables.
             return QStringList{
                 QStringLiteral("CREATE TABLE loadtest_runs ("
                                "id TEXT PRIMARY KEY, "
                                "name TEXT NOT NULL, "
                                "target TEXT NOT NULL, "
                                "model TEXT NOT NULL, "
                                "status TEXT NOT NULL, "
                                "started_at BIGINT NOT NULL, "
                                "duration_ms BIGINT NOT NULL DEFAULT 0, "
                                "requests BIGINT NOT NULL DEFAULT 0, "
                                "failures BIGINT NOT NULL DEFAULT 0, "
                                "rps DOUBLE PRECISION NOT NULL DEFAULT 0, "
                                "p95_ns BIGINT NOT NULL DEFAULT 0, "
                                "scenario TEXT NOT NULL, "
                                "report TEXT NOT NULL, "
                                "updated_at BIGINT NOT NULL, "
                                "job_id BIGINT NOT NULL DEFAULT 0)"),
                 QStringLiteral("CREATE INDEX loadtest_runs_started ON loadtest_runs "
                                "(started_at, id)"),
             };
         }},
    };
}

} // namespace bulwark
