// SPDX-License-Identifier: GPL-3.0-or-later
// The bridge between the load tester's reports and their rows in the database: db does not
// know RunReport and loadtest does not know SQL, so the composition root converts. Used by
// `bulwark loadtest`, the load-test job and the admin API.
#pragma once

#include "LoadTestRunStore.h"
#include "RunReport.h"

namespace bulwark {

LoadTestRunRow runRow(const RunReport &report);
// The report stored in a row (BadRequest when the stored JSON does not read back).
Result<RunReport> runReport(const LoadTestRunRow &row);

} // namespace bulwark
