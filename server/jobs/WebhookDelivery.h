// SPDX-License-Identifier: GPL-3.0-or-later
// Webhooks: the signed JSON body Bulwark POSTs to a subscriber's URL when an event
// happens, the signature scheme, and one delivery attempt. Retrying, scheduling and
// recording attempts belong to the job that calls deliverWebhook().
//
// Signature (the scheme Stripe uses, so receivers know it):
//   Bulwark-Signature: t=<unix seconds>,v1=<lowercase hex HMAC-SHA256(secret, "<t>.<body>")>
// Signing the timestamp with the body lets a receiver refuse a replayed request: it
// recomputes the HMAC over "<t>.<raw body>", compares in constant time, and checks that t is
// recent (verifyWebhookSignature() does all three). The receiver must use the raw bytes it
// received, not a re-serialisation of the parsed JSON.
//
// One attempt is one HTTP/1.1 POST on a fresh connection, in the calling thread, bounded by
// a total timeout, cancellable, never following redirects (a 3xx is a failure to deliver:
// following it would send the signed body to a place the subscriber did not configure).
// See WebhookDelivery.cpp for how the request is made and why.
#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QString>
#include <QUrl>
#include <chrono>
#include <functional>

namespace bulwark {

// "<lowercase hex HMAC-SHA256(secret, "<unixSeconds>.<body>")>" (64 characters).
QByteArray webhookSignature(const QByteArray &secret, qint64 unixSeconds, const QByteArray &body);
// "t=<unixSeconds>,v1=<webhookSignature(...)>": the value of the Bulwark-Signature header.
QByteArray webhookSignatureHeader(const QByteArray &secret, qint64 unixSeconds,
                                  const QByteArray &body);

// For receivers (and tests): parses a Bulwark-Signature header value ("t=...,v1=...";
// elements in any order, spaces around them allowed, several v1 accepted so a sender can
// sign with an old and a new secret during a rotation; unknown elements ignored), checks
// that t is within toleranceSeconds of nowUnixSeconds (either way) and that one v1 matches,
// comparing in constant time. Returns an empty string when valid, else the reason.
QString verifyWebhookSignature(const QByteArray &secret, const QByteArray &header,
                               const QByteArray &body, qint64 nowUnixSeconds,
                               qint64 toleranceSeconds = 300);

// The JSON body, compact, keys in this order:
// {"id": deliveryId, "event": event, "created_at": "2023-11-14T22:13:20.123Z", "data": payload}
QByteArray webhookBody(const QString &deliveryId, const QString &event, qint64 emittedAtMs,
                       const QJsonObject &payload);

// The outcome of one attempt.
struct WebhookAttempt
{
    int status = 0;             // HTTP status of the final response; 0: no HTTP response
    QString error;              // empty when a response (of any status) was received
    QByteArray responseSnippet; // the first bytes of the response body, at most 2048
    qint64 durationMs = 0;      // from the call to the return
    bool success() const { return status >= 200 && status < 300; }
};

// POSTs `body` to `url` (http or https) with the headers Content-Type: application/json,
// User-Agent: Bulwark-Webhooks/<version>, Bulwark-Event, Bulwark-Delivery,
// Bulwark-Timestamp (unixSeconds) and Bulwark-Signature (signed with secret at
// unixSeconds), plus Authorization: Basic when the URL has user info. Blocks the calling
// thread for at most `timeout` (DNS, connect, TLS, request and response together), and
// needs no event loop running in it (any thread, a QCoreApplication must exist). No proxy,
// no redirects, no cookies, no connection reuse; TLS peers are verified against the system
// CAs. `cancelled` (may be empty) is polled about every 50 ms; when it returns true the
// request is aborted with error "cancelled". A timeout gives error "timeout ...".
// Once the status line and headers have arrived the attempt has a status; the body is
// read only as far as the snippet needs, and a body cut short (timeout, cancel, closed
// connection) does not change the status or set an error.
// Must not be called from a thread that is running a Qt event loop it cannot afford to
// re-enter (it runs a local QEventLoop; job worker threads do not have one).
WebhookAttempt deliverWebhook(const QUrl &url, const QByteArray &secret, const QString &event,
                              const QString &deliveryId, const QByteArray &body, qint64 unixSeconds,
                              std::chrono::milliseconds timeout,
                              const std::function<bool()> &cancelled);

} // namespace bulwark
