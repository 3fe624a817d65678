// SPDX-License-Identifier: GPL-3.0-or-later
// The baseline of the HTTP benchmark: the plain Qt 6.4 QHttpServer "hello world", with
// nothing of Bulwark in it. One route, GET /debug/bytes (the query is ignored), answers
// the same 1024-byte body of 'x' (text/plain) that Bulwark's GET /debug/bytes?n=1024
// answers, so wrk sends both servers byte-identical requests and gets the same body back:
// Qt 6.4's parser reads requests one byte per QIODevice::read call, so a longer request
// line alone costs measurable time, and the comparison must not hide that in the paths. The
// (mimeType, data) constructor is used so Qt does not sniff the MIME type of every body (see
// DESIGN.md).
//
// QHttpServer is single-threaded: everything runs on the main thread's event loop.
// Usage: bulwark_hello_qhttpserver [PORT]   (0 or nothing picks a free port)
// It listens on 127.0.0.1 only and prints "port N" on standard output once listening.
#include <QCoreApplication>
#include <QHostAddress>
#include <QHttpServer>
#include <QHttpServerResponse>
#include <cstdio>
#include <cstdlib>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);

    long requested = 0;
    if (argc > 2) {
        std::fprintf(stderr, "usage: %s [PORT]\n", argv[0]);
        return 2;
    }
    if (argc == 2) {
        char *end = nullptr;
        requested = std::strtol(argv[1], &end, 10);
        if (end == argv[1] || *end != '\0' || requested < 0 || requested > 65535) {
            std::fprintf(stderr, "%s: PORT must be an integer from 0 to 65535\n", argv[0]);
            return 2;
        }
    }

    const QByteArray mimeType = QByteArrayLiteral("text/plain");
    const QByteArray body(1024, 'x');

    QHttpServer server;
    server.route(QStringLiteral("/debug/bytes"),
                 [mimeType, body] { return QHttpServerResponse(mimeType, body); });

    const quint16 port = server.listen(QHostAddress::LocalHost, quint16(requested));
    if (port == 0) {
        std::fprintf(stderr, "%s: cannot listen on 127.0.0.1:%ld\n", argv[0], requested);
        return 1;
    }
    std::printf("port %u\n", unsigned(port));
    std::fflush(stdout);
    return app.exec();
}
