// SPDX-License-Identifier: GPL-3.0-or-later
// See WorkerHttpServer.h: turns the request Qt parsed (plus what the framer learned) into
// an HttpRequest, runs the pipeline and hands the serialised response to the connection.
#include "WorkerHttpServer.h"

#include "ErrorMapping.h"
#include "GuardedSocket.h"
#include "ResponseWriter.h"

#include <QHttpServerRequest>

namespace bulwark {

namespace {
// origin-form "/p/a%20th?q=1" or absolute-form "http://host/p?q=1" -> decoded path, raw query.
void splitTarget(const QByteArray &target, QString *path, QByteArray *rawQuery)
{
    QByteArrayView t(target);
    if (!t.startsWith('/') && t != "*") { // absolute-form: drop scheme and authority
        const qsizetype authority = t.indexOf("//");
        const qsizetype slash = authority < 0 ? -1 : t.indexOf('/', authority + 2);
        t = slash < 0 ? QByteArrayView("/") : t.sliced(slash);
    }
    const qsizetype hash = t.indexOf('#');
    if (hash >= 0)
        t = t.first(hash);
    const qsizetype question = t.indexOf('?');
    const QByteArrayView rawPath = question < 0 ? t : t.first(question);
    if (question >= 0)
        *rawQuery = t.sliced(question + 1).toByteArray();
    *path = rawPath.contains('%')
                ? QString::fromUtf8(QByteArray::fromPercentEncoding(rawPath.toByteArray()))
                : QString::fromLatin1(rawPath);
}
} // namespace

bool WorkerHttpServer::handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
{
    auto *connection = qobject_cast<GuardedSocket *>(socket);
    if (!connection)
        return false;
    serve(connection, m_shared, request.body());
    return true;
}

void WorkerHttpServer::serve(GuardedSocket *connection, const ListenerShared &shared,
                             QByteArray body)
{
    const FramedRequest &framed = connection->currentRequest();
    RequestContext ctx;
    HttpRequest &r = ctx.request;
    r.method = framed.method;
    splitTarget(framed.target, &r.path, &r.rawQuery);
    r.head = framed.raw;
    r.headerSpans = framed.headers;
    r.body = std::move(body);
    r.peer = connection->peerAddress();
    r.version = framed.version;
    r.tls = connection->isTls();
    r.socketDescriptor = connection->innerDescriptor();
    r.received = connection->receivedAt();

    HttpResponse response;
    try {
        response = shared.pipeline->run(ctx);
    } catch (const std::exception &e) {
        qCritical("unhandled exception in handler for %s: %s", qPrintable(r.path), e.what());
        response =
            errorResponse(ErrorCode::Internal, QStringLiteral("internal error"), ctx.requestId);
    }
    const bool close = connection->responseMustClose();
    WriteOptions options;
    options.version = framed.version;
    options.headRequest = r.isHead();
    options.close = close;
    options.keepAliveHeader = framed.version == 10 && !close;
    connection->sendResponse(ResponseWriter::serialize(response, options), close);
}

} // namespace bulwark
