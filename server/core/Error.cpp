// SPDX-License-Identifier: GPL-3.0-or-later
// Names of the error codes as they appear in JSON error bodies and logs.
#include "Error.h"

namespace bulwark {

QString errorCodeName(ErrorCode code)
{
    switch (code) {
    case ErrorCode::BadRequest: return QStringLiteral("bad_request");
    case ErrorCode::Unauthorized: return QStringLiteral("unauthorized");
    case ErrorCode::Forbidden: return QStringLiteral("forbidden");
    case ErrorCode::NotFound: return QStringLiteral("not_found");
    case ErrorCode::MethodNotAllowed: return QStringLiteral("method_not_allowed");
    case ErrorCode::RequestTimeout: return QStringLiteral("request_timeout");
    case ErrorCode::Conflict: return QStringLiteral("conflict");
    case ErrorCode::PreconditionFailed: return QStringLiteral("precondition_failed");
    case ErrorCode::Gone: return QStringLiteral("gone");
    case ErrorCode::PayloadTooLarge: return QStringLiteral("payload_too_large");
    case ErrorCode::UriTooLong: return QStringLiteral("uri_too_long");
    case ErrorCode::HeadersTooLarge: return QStringLiteral("headers_too_large");
    case ErrorCode::Unprocessable: return QStringLiteral("validation_failed");
    case ErrorCode::RateLimited: return QStringLiteral("rate_limited");
    case ErrorCode::Internal: return QStringLiteral("internal");
    case ErrorCode::NotImplemented: return QStringLiteral("not_implemented");
    case ErrorCode::Unavailable: return QStringLiteral("unavailable");
    case ErrorCode::VersionNotSupported: return QStringLiteral("http_version_not_supported");
    }
    return QStringLiteral("internal");
}

} // namespace bulwark
