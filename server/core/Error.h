// SPDX-License-Identifier: GPL-3.0-or-later
// The one error vocabulary of Bulwark. Every failure that reaches a client is one of these
// codes; http/ErrorMapping.cpp maps each to its HTTP status in exactly one function, and
// every error body has the same JSON shape. Keeping the enum here (not in http/) lets
// headless services report errors without knowing about HTTP.
#pragma once

#include <QJsonObject>
#include <QString>
#include <QStringView>
#include <utility>
#include <variant>

namespace bulwark {

enum class ErrorCode
{
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    Conflict,           // 409: the request clashes with existing state (duplicate email)
    PreconditionFailed, // 412: If-Match did not match
    Gone,               // 410: it existed and is no more (a one-time download taken)
    PayloadTooLarge,
    UriTooLong,
    HeadersTooLarge,
    Unprocessable, // 422: well-formed, but a value fails validation
    RateLimited,
    Internal,
    NotImplemented,
    Unavailable,
    VersionNotSupported,
};

// Stable machine-readable name used in the JSON body, e.g. "payload_too_large".
QString errorCodeName(ErrorCode code);

struct Error
{
    ErrorCode code = ErrorCode::Internal;
    QString message;
    // Extra members of the error object, e.g. "fields" with one message per invalid field
    // (422) or "position" of a malformed filter (400).
    QJsonObject details = {};
};

// A value or an error. Small on purpose: C++20 has no std::expected yet.
template <typename T, typename E = Error> class Result
{
public:
    Result(T value) : m_data(std::in_place_index<0>, std::move(value)) {}
    Result(E error) : m_data(std::in_place_index<1>, std::move(error)) {}

    bool ok() const { return m_data.index() == 0; }
    explicit operator bool() const { return ok(); }
    const T &value() const & { return std::get<0>(m_data); }
    T &value() & { return std::get<0>(m_data); }
    T &&value() && { return std::get<0>(std::move(m_data)); }
    const E &error() const { return std::get<1>(m_data); }

private:
    std::variant<T, E> m_data;
};

} // namespace bulwark
