// SPDX-License-Identifier: GPL-3.0-or-later
// `bulwark loadtest ...`: the load tester's command line.
//   bulwark loadtest [SCENARIO] --target URL [options]   run a load test (the built-in demo
//                                                        scenario when SCENARIO is absent)
//   bulwark loadtest --worker --redis URL                take part in distributed runs
//   bulwark loadtest list | show RUN | compare A B       stored runs
// A run prints a live progress line on stderr (a terminal line rewritten in place, or a
// line every 10 s when stderr is not a terminal), then the summary table on stdout, writes
// the reports asked for and stores the run in the database the server would use.
// Exit codes: 0 the run passed its thresholds, 1 runtime failure (the target's host does
// not resolve, workers did not come, the database), 2 usage or scenario error, 3 a
// threshold failed, 130 stopped with Ctrl+C (the report of what ran is still printed and
// stored). A target that refuses connections is not a runtime failure: the run measures
// it (connect failures), and its thresholds decide.
#pragma once

#include <QStringList>

namespace bulwark {

int runLoadTestCommand(const QStringList &arguments);

} // namespace bulwark
