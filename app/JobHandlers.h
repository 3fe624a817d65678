// SPDX-License-Identifier: GPL-3.0-or-later
// The built-in job types and the webhook subscriptions, registered by the composition root
// (they need services from several modules: the GDPR export, the cache, the store).
//   noop            does nothing (or sleeps, or fails its first attempts): for checking
//                   and benchmarking the queue; admins submit it
//   gdpr.export     writes the caller's export to <data_dir>/exports, downloadable once;
//                   any signed-in user submits it (POST /api/v1/me/export)
//   cache.warm      computes the cache.warm responses into the cache; admins
//   db.maintenance  SQLite: PRAGMA optimize + WAL checkpoint (+ VACUUM on request);
//                   PostgreSQL: ANALYZE (+ VACUUM); admins, and cron nightly
//   jobs.prune      deletes finished jobs and delivery logs past jobs.retention, dead jobs
//                   past jobs.dead_retention or above jobs.dead_max, and expired export
//                   files; admins, and cron hourly
//   webhook.deliver one signed POST of one event to one webhook; the server enqueues it
//                   for every event a webhook subscribed to
// Every handler is idempotent: running it again after a crash repeats its effect rather
// than doubling it (an export writes a new file; a delivery carries the same delivery id,
// which receivers use to drop duplicates).
#pragma once

#include "Config.h"
#include "EventBus.h"
#include "GdprController.h"
#include "JobQueue.h"

namespace bulwark {

struct BuiltinJobServices
{
    JobsConfig jobs;
    WebhooksConfig webhooks;
    QString exportDir;
    JobStore *store = nullptr;
    ConnectionPool *pool = nullptr;
    QueryInsight *insight = nullptr;
    const GdprController *gdpr = nullptr;
    // Warms the configured responses; returns how many were stored (absent: no cache).
    std::function<int()> warmCache;
};

void registerBuiltinJobs(JobRegistry &registry, const BuiltinJobServices &services);

// For every event a webhook subscribed to, enqueues a webhook.deliver job. Job events of
// webhook.deliver jobs themselves are never delivered (a webhook on job.failed would
// otherwise feed itself). Returns the subscription ids.
QList<quint64> subscribeWebhooks(EventBus &events, JobQueue &jobs,
                                 const QList<WebhookConfig> &webhooks);

} // namespace bulwark
