// SPDX-License-Identifier: GPL-3.0-or-later
// All pipeline stages of the HTTP layer, for the composition root and tests that wire a
// whole pipeline. Each stage is small, thread-safe, does one thing, and lives in its own
// file; the order is set in app/ServerApp.cpp (see Pipeline.h).
#pragma once

#include "AccessLogStage.h"
#include "BearerAuthStage.h"
#include "CompressionStage.h"
#include "MetricsStage.h"
#include "RequestIdStage.h"
#include "SecurityHeadersStage.h"
