// SPDX-License-Identifier: GPL-3.0-or-later
// `bulwark seed`: fills the built-in fitness demo schema with deterministic demo data, so
// that a fresh install has something real to serve and to load-test.
//
// Deterministic: the same --seed, --users and --rows give the same rows (timestamps are
// laid out backwards from a fixed date, not from "now"). Fast: rows are written in one
// transaction per collection through prepared multi-row INSERTs (500 rows a statement),
// with ids assigned by the seeder so that splits can point at their activity without
// reading anything back; on PostgreSQL the id sequences are moved past them afterwards.
//
// What --rows means: the number of activities, spread evenly over the users. Each run,
// walk or hike also gets one split per whole kilometre (at most 30); each user gets three
// nutrition entries a day and one body measurement a week over the span of their
// activities. The summary line counts every row written.
#pragma once

#include "ConnectionPool.h"
#include "Error.h"
#include "UserStore.h"

#include <QStringList>
#include <functional>

namespace bulwark {

struct SeedOptions
{
    int users = 10;
    qint64 activities = 1000;
    quint64 seed = 42;
};

struct SeedSummary
{
    QList<qint64> userIds;
    qint64 activities = 0;
    qint64 splits = 0;
    qint64 nutrition = 0;
    qint64 body = 0;
    qint64 total() const { return activities + splits + nutrition + body; }
};

class DemoSeeder
{
public:
    DemoSeeder(ConnectionPool &pool, UserStore &users, SeedOptions options);
    // `progress` is called with rows written so far, now and then.
    Result<SeedSummary> run(const std::function<void(qint64)> &progress = {});

private:
    ConnectionPool &m_pool;
    UserStore &m_users;
    SeedOptions m_options;
};

// The command: arguments are those after `bulwark seed`. Exit codes as the server's.
int runSeedCommand(const QStringList &arguments);

} // namespace bulwark
