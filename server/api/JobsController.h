// SPDX-License-Identifier: GPL-3.0-or-later
// The job queue over HTTP.
//   Users (/api/v1, signed in):
//     POST /api/v1/jobs                 submit a job of a type their role may submit
//                                       -> 202 + Location (200 with "duplicate" when a unique
//                                       job of the same key exists within its window)
//     GET  /api/v1/jobs                 their own jobs (state=, type=, before=, limit=)
//     GET  /api/v1/jobs/{id}            one of their jobs (others' are 404)
//     POST /api/v1/jobs/{id}/cancel     cancel one of their jobs
//     GET  /api/v1/jobs/{id}/download   the file a finished GDPR export wrote; once: the
//                                       file is deleted after it was sent
//     POST /api/v1/me/export            shorthand for submitting gdpr.export
//   Admins (/admin/api, admin token):
//     GET  /admin/api/jobs              list with filters (state, type, queue, priority,
//                                       from, to, q, owner) and paging (before, limit)
//     POST /admin/api/jobs              submit any registered type; {"jobs": [...]} submits
//                                       up to 1000 in one transaction
//     GET  /admin/api/jobs/{id}; POST .../{id}/cancel; POST .../{id}/retry; DELETE .../{id}
//     POST /admin/api/jobs/bulk         {"action": "cancel"|"retry"|"delete", "filter": {..}}
//     GET  /admin/api/jobs/dead; POST /admin/api/jobs/dead/requeue; POST .../dead/purge
//     GET  /admin/api/jobs/queues; POST /admin/api/jobs/queues/{name}/pause|resume
//     GET  /admin/api/jobs/stats        depth per queue and priority, running, throughput,
//                                       failure rate, wait and run-time histograms
//     GET  /admin/api/jobs/types        what can be submitted, with each type's settings
//     GET  /admin/api/webhooks; GET /admin/api/webhooks/{name}/deliveries
// One filter grammar serves lists and bulk actions (query parameters or a JSON object with
// the same names); a bulk action with an empty filter must say "all": true.
#pragma once

#include "Config.h"
#include "JobQueue.h"
#include "Router.h"

namespace bulwark {

class JobsController
{
public:
    JobsController(JobQueue &jobs, QString exportDir, QList<WebhookConfig> webhooks)
        : m_jobs(jobs), m_exportDir(std::move(exportDir)), m_webhooks(std::move(webhooks))
    {
    }
    void registerRoutes(Router &router);
    // The filter grammar shared by lists and bulk actions; `value(name)` reads one field.
    static Result<JobFilter> parseFilter(const std::function<QString(const QString &)> &value);

private:
    HttpResponse submit(RequestContext &ctx, bool admin, const QJsonObject &body);
    Result<JobSpec> parseSpec(const RequestContext &ctx, bool admin, const QJsonObject &body) const;
    HttpResponse list(RequestContext &ctx, bool admin, std::optional<JobFilter> forced = {});
    HttpResponse getOne(RequestContext &ctx, bool admin);
    HttpResponse cancel(RequestContext &ctx, bool admin);
    HttpResponse retry(RequestContext &ctx);
    HttpResponse remove(RequestContext &ctx);
    HttpResponse bulk(RequestContext &ctx, const QString &action, bool deadOnly);
    HttpResponse download(RequestContext &ctx);
    HttpResponse queues(RequestContext &ctx);
    HttpResponse pause(RequestContext &ctx, bool paused);
    HttpResponse stats(RequestContext &ctx);
    HttpResponse types(RequestContext &ctx);
    HttpResponse deliveries(RequestContext &ctx);
    // The job, if the caller may see it (admins: any; users: their own).
    Result<JobRecord> visibleJob(RequestContext &ctx, bool admin);

    JobQueue &m_jobs;
    QString m_exportDir;
    QList<WebhookConfig> m_webhooks;
};

} // namespace bulwark
