// SPDX-License-Identifier: GPL-3.0-or-later
// What RedisClient and RedisSubscriber both do with a raw hiredis context: open it (TCP or
// unix socket, connect timeout, command timeout on every later read and write, AUTH,
// SELECT) and say why it failed in words an operator can act on. Internal to server/redis;
// nothing outside includes hiredis.
#pragma once

#include "RedisClient.h"

#include <QList>
#include <QString>
#include <chrono>

struct redisContext;
struct timeval;

namespace bulwark::hiredis {

timeval toTimeval(std::chrono::milliseconds ms);

// Why the context failed. A read that hit SO_RCVTIMEO surfaces in hiredis 0.14 as
// REDIS_ERR_IO with errno EAGAIN ("Resource temporarily unavailable"): that is reported as
// "timed out after N ms".
QString contextError(const redisContext *ctx, int savedErrno, std::chrono::milliseconds timeout);

// Argument arrays for redis*CommandArgv; valid while `args` lives.
struct Argv
{
    explicit Argv(const QList<QByteArray> &args);
    std::vector<const char *> pointers;
    std::vector<size_t> lengths;
    int count() const { return int(pointers.size()); }
};

// A connected, authenticated context with the command timeout set, or null with the reason
// ("connect failed: ...", "AUTH failed: ...") in *error. The caller owns it (redisFree).
redisContext *openContext(const RedisOptions &options, QString *error);

} // namespace bulwark::hiredis
