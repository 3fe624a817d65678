// SPDX-License-Identifier: GPL-3.0-or-later
// See ResponseWriter.h.
#include "ResponseWriter.h"

#include "ErrorMapping.h"
#include "Version.h"

#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace bulwark {

QByteArray ResponseWriter::httpDate()
{
    thread_local std::time_t cachedSecond = 0;
    thread_local QByteArray cached;
    const std::time_t now = std::time(nullptr);
    if (now != cachedSecond) {
        std::tm tm{};
#ifdef _WIN32
        gmtime_s(&tm, &now);
#else
        gmtime_r(&now, &tm);
#endif
        // Fixed English names: strftime's %a/%b follow the process locale, which
        // QCoreApplication takes from the environment, and HTTP dates are not localised.
        static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        char buf[64];
        const int n = std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                                    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
                                    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached = QByteArray(buf, qsizetype(n));
        cachedSecond = now;
    }
    return cached;
}

const QByteArray &ResponseWriter::serverHeader()
{
    static const QByteArray value = QByteArrayLiteral("Bulwark/" BULWARK_VERSION);
    return value;
}

QByteArray ResponseWriter::serialize(const HttpResponse &response, const WriteOptions &options)
{
    const int status = response.status;
    const bool bodyless = status == 204 || status == 304 || (status >= 100 && status < 200);
    const bool withBody = !options.headRequest && !bodyless;
    char statusDigits[8];
    const auto statusEnd =
        std::to_chars(statusDigits, statusDigits + sizeof statusDigits, status).ptr;
    char lengthDigits[24];
    const auto lengthEnd =
        std::to_chars(lengthDigits, lengthDigits + sizeof lengthDigits, response.body.size()).ptr;
    const QByteArray reason = reasonPhrase(status);
    const QByteArray date = httpDate();

    // One allocation: the size is computed first (the fixed texts and numbers below add up to <
    // 130).
    qsizetype size =
        192 + reason.size() + date.size() + serverHeader().size() + response.contentType.size();
    for (const auto &[name, value] : response.headers)
        size += name.size() + value.size() + 4;
    size += response.headerLines.size();
    if (withBody)
        size += response.body.size();
    QByteArray out(size, Qt::Uninitialized);
    char *p = out.data();
    auto put = [&p](const char *data, qsizetype n) {
        memcpy(p, data, size_t(n));
        p += n;
    };
    auto putText = [&put](const char *text) { put(text, qsizetype(strlen(text))); };
    auto putBytes = [&put](const QByteArray &b) { put(b.constData(), b.size()); };
    putText(options.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    put(statusDigits, statusEnd - statusDigits);
    putText(" ");
    putBytes(reason);
    putText("\r\nDate: ");
    putBytes(date);
    putText("\r\nServer: ");
    putBytes(serverHeader());
    putText("\r\n");
    if (!response.contentType.isEmpty()) {
        putText("Content-Type: ");
        putBytes(response.contentType);
        putText("\r\n");
    }
    if (!bodyless) {
        putText("Content-Length: ");
        put(lengthDigits, lengthEnd - lengthDigits);
        putText("\r\n");
    }
    if (options.close)
        putText("Connection: close\r\n");
    else if (options.keepAliveHeader)
        putText("Connection: keep-alive\r\n");
    for (const auto &[name, value] : response.headers) {
        putBytes(name);
        putText(": ");
        putBytes(value);
        putText("\r\n");
    }
    putBytes(response.headerLines);
    putText("\r\n");
    if (withBody)
        putBytes(response.body);
    out.truncate(p - out.constData());
    return out;
}

} // namespace bulwark
