// SPDX-License-Identifier: GPL-3.0-or-later
// See HiredisConnection.h.
#include "HiredisConnection.h"

#include <QFile>
#include <cerrno>
#include <hiredis.h>
#include <vector>

namespace bulwark::hiredis {

timeval toTimeval(std::chrono::milliseconds ms)
{
    const qint64 total = std::max<qint64>(1, ms.count());
    timeval tv{};
    tv.tv_sec = decltype(tv.tv_sec)(total / 1000);
    tv.tv_usec = decltype(tv.tv_usec)((total % 1000) * 1000);
    return tv;
}

QString contextError(const redisContext *ctx, int savedErrno, std::chrono::milliseconds timeout)
{
    if (!ctx)
        return QStringLiteral("out of memory");
    if (ctx->err == REDIS_ERR_IO && (savedErrno == EAGAIN || savedErrno == EWOULDBLOCK))
        return QStringLiteral("timed out after %1 ms").arg(timeout.count());
    if (ctx->err == 0)
        return QStringLiteral("no reply");
    return QString::fromLocal8Bit(ctx->errstr);
}

Argv::Argv(const QList<QByteArray> &args)
{
    pointers.reserve(size_t(args.size()));
    lengths.reserve(size_t(args.size()));
    for (const QByteArray &a : args) {
        pointers.push_back(a.constData());
        lengths.push_back(size_t(a.size()));
    }
}

namespace {

// Sends one command on a freshly opened connection (AUTH, SELECT) and checks the reply.
bool setupCommand(redisContext *ctx, const QList<QByteArray> &args, QString *what,
                  std::chrono::milliseconds timeout)
{
    Argv argv(args);
    errno = 0;
    auto *reply = static_cast<redisReply *>(
        redisCommandArgv(ctx, argv.count(), argv.pointers.data(), argv.lengths.data()));
    if (!reply) {
        *what = contextError(ctx, errno, timeout);
        return false;
    }
    const bool ok = reply->type != REDIS_REPLY_ERROR;
    if (!ok)
        *what = QString::fromUtf8(reply->str, qsizetype(reply->len));
    freeReplyObject(reply);
    return ok;
}

} // namespace

redisContext *openContext(const RedisOptions &options, QString *error)
{
    const timeval connectTimeout = toTimeval(options.connectTimeout);
    errno = 0;
    redisContext *ctx =
        options.unixSocket.isEmpty()
            ? redisConnectWithTimeout(options.host.toUtf8().constData(), options.port,
                                      connectTimeout)
            : redisConnectUnixWithTimeout(QFile::encodeName(options.unixSocket).constData(),
                                          connectTimeout);
    if (!ctx || ctx->err) {
        *error = QStringLiteral("connect failed: %1")
                     .arg(contextError(ctx, errno, options.connectTimeout));
        if (ctx)
            redisFree(ctx);
        return nullptr;
    }
    auto fail = [ctx](QString *error, QString message) {
        *error = std::move(message);
        redisFree(ctx);
        return nullptr;
    };
    if (redisSetTimeout(ctx, toTimeval(options.commandTimeout)) != REDIS_OK)
        return fail(error, QStringLiteral("cannot set the command timeout: %1")
                               .arg(contextError(ctx, errno, options.commandTimeout)));
    QString what;
    if (!options.password.isEmpty() &&
        !setupCommand(ctx, {QByteArrayLiteral("AUTH"), options.password}, &what,
                      options.commandTimeout))
        return fail(error, QStringLiteral("AUTH failed: %1").arg(what));
    if (options.database != 0 &&
        !setupCommand(ctx, {QByteArrayLiteral("SELECT"), QByteArray::number(options.database)},
                      &what, options.commandTimeout))
        return fail(error, QStringLiteral("SELECT %1 failed: %2").arg(options.database).arg(what));
    return ctx;
}

} // namespace bulwark::hiredis
