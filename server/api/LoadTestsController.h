// SPDX-License-Identifier: GPL-3.0-or-later
// Load tests over the admin API (admin token). A run is a loadtest.run job, so it has the
// job queue's durability, cancellation and history; its measurements live in
// loadtest_runs, written by the job once a second while it runs.
//   POST   /admin/api/loadtests              start a run (LoadTestRuns.h: the request)
//                                            -> 202 {"id", "job_id", "status": "queued"}
//   GET    /admin/api/loadtests              runs, newest first (limit, offset), without
//                                            their reports
//   GET    /admin/api/loadtests/{id}         one run: its report (live while it runs)
//   GET    /admin/api/loadtests/{id}/series  the per-second series from second `since`
//                                            (default 0) and "next": what to ask for next;
//                                            what the console polls once a second
//   POST   /admin/api/loadtests/{id}/stop    ask a queued or running run to stop (202; a
//                                            queued one's job is cancelled too); 409 when
//                                            it has ended
//   DELETE /admin/api/loadtests/{id}         forget a run that has ended (409 while it runs)
// {id} is a run id or a unique prefix of at least 8 characters.
#pragma once

#include "JobQueue.h"
#include "LoadTestRunStore.h"
#include "Router.h"

namespace bulwark {

class LoadTestsController
{
public:
    // `distributed`: the server has Redis (redis.url), so runs may have remote workers.
    LoadTestsController(LoadTestRunStore &runs, JobQueue &jobs, bool distributed)
        : m_runs(runs), m_jobs(jobs), m_distributed(distributed)
    {
    }
    void registerRoutes(Router &router);

    static constexpr const char *kJobType = "loadtest.run";

private:
    HttpResponse start(RequestContext &ctx);
    HttpResponse list(RequestContext &ctx);
    HttpResponse getOne(RequestContext &ctx);
    HttpResponse series(RequestContext &ctx);
    HttpResponse stop(RequestContext &ctx);
    HttpResponse remove(RequestContext &ctx);
    // The run by id or prefix, its status brought up to date with its job's: a run whose
    // job ended without finishing it (cancelled while queued, dead after its instance
    // died) would otherwise stay "queued" or "running" for ever.
    Result<LoadTestRunRow> current(const QString &idOrPrefix);
    LoadTestRunRow reconcile(LoadTestRunRow row);

    LoadTestRunStore &m_runs;
    JobQueue &m_jobs;
    bool m_distributed = false;
};

} // namespace bulwark
