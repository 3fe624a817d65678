// SPDX-License-Identifier: GPL-3.0-or-later
// See ErrorMapping.h.
#include "ErrorMapping.h"

namespace bulwark {

int httpStatusFor(ErrorCode code)
{
    switch (code) {
    case ErrorCode::BadRequest: return 400;
    case ErrorCode::Unauthorized: return 401;
    case ErrorCode::Forbidden: return 403;
    case ErrorCode::NotFound: return 404;
    case ErrorCode::MethodNotAllowed: return 405;
    case ErrorCode::RequestTimeout: return 408;
    case ErrorCode::Conflict: return 409;
    case ErrorCode::PreconditionFailed: return 412;
    case ErrorCode::Gone: return 410;
    case ErrorCode::PayloadTooLarge: return 413;
    case ErrorCode::UriTooLong: return 414;
    case ErrorCode::HeadersTooLarge: return 431;
    case ErrorCode::Unprocessable: return 422;
    case ErrorCode::RateLimited: return 429;
    case ErrorCode::Internal: return 500;
    case ErrorCode::NotImplemented: return 501;
    case ErrorCode::Unavailable: return 503;
    case ErrorCode::VersionNotSupported: return 505;
    }
    return 500;
}

QByteArray reasonPhrase(int status)
{
    switch (status) {
    case 100: return QByteArrayLiteral("Continue");
    case 200: return QByteArrayLiteral("OK");
    case 201: return QByteArrayLiteral("Created");
    case 202: return QByteArrayLiteral("Accepted");
    case 204: return QByteArrayLiteral("No Content");
    case 206: return QByteArrayLiteral("Partial Content");
    case 301: return QByteArrayLiteral("Moved Permanently");
    case 302: return QByteArrayLiteral("Found");
    case 304: return QByteArrayLiteral("Not Modified");
    case 400: return QByteArrayLiteral("Bad Request");
    case 401: return QByteArrayLiteral("Unauthorized");
    case 403: return QByteArrayLiteral("Forbidden");
    case 404: return QByteArrayLiteral("Not Found");
    case 405: return QByteArrayLiteral("Method Not Allowed");
    case 408: return QByteArrayLiteral("Request Timeout");
    case 409: return QByteArrayLiteral("Conflict");
    case 410: return QByteArrayLiteral("Gone");
    case 412: return QByteArrayLiteral("Precondition Failed");
    case 413: return QByteArrayLiteral("Content Too Large");
    case 414: return QByteArrayLiteral("URI Too Long");
    case 415: return QByteArrayLiteral("Unsupported Media Type");
    case 422: return QByteArrayLiteral("Unprocessable Content");
    case 429: return QByteArrayLiteral("Too Many Requests");
    case 431: return QByteArrayLiteral("Request Header Fields Too Large");
    case 499: return QByteArrayLiteral("Client Closed Request");
    case 500: return QByteArrayLiteral("Internal Server Error");
    case 501: return QByteArrayLiteral("Not Implemented");
    case 502: return QByteArrayLiteral("Bad Gateway");
    case 503: return QByteArrayLiteral("Service Unavailable");
    case 504: return QByteArrayLiteral("Gateway Timeout");
    case 505: return QByteArrayLiteral("HTTP Version Not Supported");
    default: return QByteArrayLiteral("Status");
    }
}

HttpResponse errorResponse(ErrorCode code, const QString &message, const QByteArray &requestId)
{
    return errorResponse(Error{code, message}, requestId);
}

HttpResponse errorResponse(const Error &e, const QByteArray &requestId)
{
    const ErrorCode code = e.code;
    QJsonObject error = e.details;
    error.insert(QStringLiteral("code"), errorCodeName(code));
    error.insert(QStringLiteral("message"), e.message);
    if (!requestId.isEmpty())
        error.insert(QStringLiteral("request_id"), QString::fromLatin1(requestId));
    HttpResponse response =
        HttpResponse::json(QJsonObject{{QStringLiteral("error"), error}}, httpStatusFor(code));
    response.noStore();
    // A 503 is temporary by definition here (pool exhausted, database restarting, draining):
    // tell clients when to come back instead of letting them hammer.
    if (code == ErrorCode::Unavailable)
        response.setHeader(QByteArrayLiteral("Retry-After"), QByteArrayLiteral("1"));
    return response;
}

} // namespace bulwark
