// SPDX-License-Identifier: GPL-3.0-or-later
// The baseline of the HTTP benchmarks: the plain Qt 6.4 QHttpServer "hello world", with
// nothing of Bulwark in it. One route answers a fixed body built once at start. By default
// it is GET /debug/bytes (the query is ignored) with the same 1024-byte body of 'x'
// (text/plain) that Bulwark's GET /debug/bytes?n=1024 answers, so wrk sends both servers
// byte-identical requests and gets the same body back: Qt 6.4's parser reads requests one
// byte per QIODevice::read call, so a longer request line alone costs measurable time, and
// the comparison must not hide that in the paths. The (mimeType, data) constructor is used
// so Qt does not sniff the MIME type of every body (see DESIGN.md).
//
// bench/run_cache_bench.sh moves the route to Bulwark's path and answers a body of the size
// and type of a cached API response (--path /api/v1/activities --size N --type
// application/json); request headers, such as the Authorization header wrk sends to both
// servers, are ignored. A MIME type containing "json" gets a valid JSON body of exactly
// --size bytes when it is at least 8 ({"x":"xx...x"}); any other type, and smaller sizes,
// get --size bytes of 'x'.
//
// QHttpServer is single-threaded: everything runs on the main thread's event loop.
// Usage: bulwark_hello_qhttpserver [PORT] [--path P] [--size N] [--type MIME]
//   PORT         0 or nothing picks a free port
//   --path P     the route, an absolute path without query (default /debug/bytes)
//   --size N     body bytes, 0..16777216 (default 1024)
//   --type MIME  Content-Type of the body (default text/plain)
// It listens on 127.0.0.1 only and prints "port N" on standard output once listening.
#include <QCoreApplication>
#include <QHostAddress>
#include <QHttpServer>
#include <QHttpServerResponse>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

bool parseLong(const char *text, long min, long max, long *out)
{
    char *end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || value < min || value > max)
        return false;
    *out = value;
    return true;
}

int usage(const char *self)
{
    std::fprintf(stderr, "usage: %s [PORT] [--path P] [--size N] [--type MIME]\n", self);
    return 2;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);

    long requested = 0;
    long size = 1024;
    QString path = QStringLiteral("/debug/bytes");
    QByteArray mimeType = QByteArrayLiteral("text/plain");
    bool portSeen = false;
    for (int i = 1; i < argc; ++i) {
        const char *arg = argv[i];
        const bool hasValue = i + 1 < argc;
        if (std::strcmp(arg, "--path") == 0 && hasValue) {
            path = QString::fromUtf8(argv[++i]);
            if (!path.startsWith(u'/') || path.contains(u'?') || path.contains(u'<')) {
                std::fprintf(stderr, "%s: --path must start with / and hold no query or <arg>\n",
                             argv[0]);
                return 2;
            }
        } else if (std::strcmp(arg, "--size") == 0 && hasValue) {
            if (!parseLong(argv[++i], 0, 16L * 1024 * 1024, &size)) {
                std::fprintf(stderr, "%s: --size must be an integer from 0 to 16777216\n", argv[0]);
                return 2;
            }
        } else if (std::strcmp(arg, "--type") == 0 && hasValue) {
            mimeType = QByteArray(argv[++i]);
            if (mimeType.isEmpty() || mimeType.contains('\r') || mimeType.contains('\n')) {
                std::fprintf(stderr, "%s: --type must be a non-empty single-line MIME type\n",
                             argv[0]);
                return 2;
            }
        } else if (arg[0] != '-' && !portSeen) {
            portSeen = true;
            if (!parseLong(arg, 0, 65535, &requested)) {
                std::fprintf(stderr, "%s: PORT must be an integer from 0 to 65535\n", argv[0]);
                return 2;
            }
        } else {
            return usage(argv[0]);
        }
    }

    QByteArray body(qsizetype(size), 'x');
    if (mimeType.contains("json") && size >= 8) {
        std::memcpy(body.data(), "{\"x\":\"", 6);
        std::memcpy(body.data() + size - 2, "\"}", 2);
    }

    QHttpServer server;
    server.route(path, [mimeType, body] { return QHttpServerResponse(mimeType, body); });

    const quint16 port = server.listen(QHostAddress::LocalHost, quint16(requested));
    if (port == 0) {
        std::fprintf(stderr, "%s: cannot listen on 127.0.0.1:%ld\n", argv[0], requested);
        return 1;
    }
    std::printf("port %u\n", unsigned(port));
    std::fflush(stdout);
    return app.exec();
}
