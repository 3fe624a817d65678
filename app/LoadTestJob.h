// SPDX-License-Identifier: GPL-3.0-or-later
// The loadtest.run job type: runs one load test (LoadTestRunner) on a job worker thread
// and keeps its row in loadtest_runs current once a second, so the admin API and the
// console follow it live from any instance. Admins submit it, usually through
// POST /admin/api/loadtests, which also creates the row. It runs in the "loadtest" queue
// (one run at a time per instance by default) or, when the configuration has no such
// queue, in "default". It is not retried: a load test that failed to run is reported, not
// repeated behind the admin's back. Cancelling the job and POST .../stop both stop it;
// what ran is kept, with status "stopped".
#pragma once

#include "Config.h"
#include "JobRegistry.h"
#include "LoadTestRunStore.h"

namespace bulwark {

class RedisClient;

struct LoadTestJobServices
{
    JobsConfig jobs;
    LoadTestRunStore *runs = nullptr;
    RedisClient *redis = nullptr; // for distributed runs ("workers"); absent without redis.url
};

void registerLoadTestJob(JobRegistry &registry, const LoadTestJobServices &services);

} // namespace bulwark
