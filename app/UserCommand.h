// SPDX-License-Identifier: GPL-3.0-or-later
// `bulwark user ...`: manage users and API keys from the shell, on the same database the
// server uses. The configuration is built exactly as the server builds it (defaults <
// --config FILE < BULWARK_* environment < --data-dir), and the database is opened through
// DatabaseSetup (migrations included), so the command never sees a database the server
// would not. Output meant for scripts (ids, keys, the list) goes to stdout, everything else
// to stderr. Exit codes: 0 success, 1 runtime failure (database unreachable, duplicate
// email, unknown user), 2 usage or configuration error.
#pragma once

#include <QStringList>

namespace bulwark {

// arguments: what follows `bulwark user` on the command line ("add", "a@b.example", ...).
// Returns the process exit code.
int runUserCommand(const QStringList &arguments);

} // namespace bulwark
