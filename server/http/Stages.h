// SPDX-License-Identifier: GPL-3.0-or-later
// The pipeline stages of step 1. Each is small, stateless after construction (or
// thread-safe), and does one thing; the order is set in app/ (see Pipeline.h).
#pragma once

#include "Config.h"
#include "HttpMetrics.h"
#include "Logger.h"
#include "Pipeline.h"

#include <atomic>

namespace bulwark {

// Accepts a client's X-Request-Id when it is 1..128 characters of [A-Za-z0-9._:-],
// otherwise generates 128 random bits in hex; echoes it in the response.
class RequestIdStage final : public Stage
{
public:
    HttpResponse handle(RequestContext &ctx, const Next &next) override;
    static bool isWellFormed(const QByteArray &id);
    static QByteArray generate();
};

// X-Content-Type-Options, X-Frame-Options, Referrer-Policy, a restrictive CSP for the
// JSON API, and Strict-Transport-Security when serving TLS.
class SecurityHeadersStage final : public Stage
{
public:
    explicit SecurityHeadersStage(bool tls) : m_tls(tls) {}
    HttpResponse handle(RequestContext &ctx, const Next &next) override;
    // Also used for responses that never enter the pipeline (framing errors, 503 at the cap).
    static void apply(HttpResponse &response, bool tls);

private:
    bool m_tls;
};

// gzip for bodies >= minSize of compressible types when Accept-Encoding allows gzip
// (q-values honoured); adds Vary: Accept-Encoding to every response that could have been
// compressed. Skipped when the result would not be smaller.
class CompressionStage final : public Stage
{
public:
    CompressionStage(int minSize, int level) : m_minSize(minSize), m_level(level) {}
    HttpResponse handle(RequestContext &ctx, const Next &next) override;
    static bool acceptsGzip(const QByteArray &acceptEncoding);
    static bool isCompressible(const QByteArray &contentType);
    static QByteArray gzip(const QByteArray &data, int level);

private:
    int m_minSize;
    int m_level;
};

// Request counters and latency histograms by method and route pattern, and the in-flight gauge.
class MetricsStage final : public Stage
{
public:
    explicit MetricsStage(HttpMetrics &metrics) : m_metrics(metrics) {}
    HttpResponse handle(RequestContext &ctx, const Next &next) override;

private:
    HttpMetrics &m_metrics;
};

// One JSON line per request (or a random sample; errors >= 500 always).
class AccessLogStage final : public Stage
{
public:
    AccessLogStage(LineSink &sink, AccessLogMode mode, double sampleRate)
        : m_sink(sink), m_mode(mode), m_sampleRate(sampleRate) {}
    HttpResponse handle(RequestContext &ctx, const Next &next) override;

private:
    LineSink &m_sink;
    AccessLogMode m_mode;
    double m_sampleRate;
};

// Everything under `prefix` needs "Authorization: Bearer <token>"; compared in constant time.
class BearerAuthStage final : public Stage
{
public:
    BearerAuthStage(QString prefix, QByteArray token) : m_prefix(std::move(prefix)), m_token(std::move(token)) {}
    HttpResponse handle(RequestContext &ctx, const Next &next) override;
    static bool constantTimeEquals(QByteArrayView a, QByteArrayView b);

private:
    QString m_prefix;
    QByteArray m_token;
};

} // namespace bulwark
