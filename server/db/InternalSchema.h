// SPDX-License-Identifier: GPL-3.0-or-later
// Migrations of Bulwark's own tables (not the collections of the schema file): users,
// API keys and the audit log. Append new versions; never edit an applied one.
#pragma once

#include "Migrator.h"

namespace bulwark {

QList<Migration> internalMigrations();

} // namespace bulwark
