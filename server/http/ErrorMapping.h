// SPDX-License-Identifier: GPL-3.0-or-later
// The one place where an ErrorCode becomes an HTTP status, and where every error body is
// built: {"error": {"code": "...", "message": "...", "request_id": "..."}}.
#pragma once

#include "Error.h"
#include "HttpResponse.h"

namespace bulwark {

int httpStatusFor(ErrorCode code);
QByteArray reasonPhrase(int status);
HttpResponse errorResponse(ErrorCode code, const QString &message,
                           const QByteArray &requestId = {});
HttpResponse errorResponse(const Error &error, const QByteArray &requestId = {});

} // namespace bulwark
