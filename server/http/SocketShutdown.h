// SPDX-License-Identifier: GPL-3.0-or-later
// Half-close for the lingering close used by GuardedSocket and Acceptor: shut down our
// sending side once the last response is flushed, keep reading (and discarding) what the
// client still sends, so the client reads the response instead of a reset. And the check
// whether a client has already gone, for handlers too costly to run for nobody.
#pragma once

#include <QtGlobal>

#ifdef Q_OS_WIN
#include <winsock2.h>
#else
#include <cerrno>
#include <sys/socket.h>
#endif

namespace bulwark {

inline void shutdownWrite(qintptr descriptor)
{
    if (descriptor < 0)
        return;
#ifdef Q_OS_WIN
    ::shutdown(SOCKET(descriptor), SD_SEND);
#else
    ::shutdown(int(descriptor), SHUT_WR);
#endif
}

// True when the peer has closed or reset the connection (all it sent has been read): a
// one-byte MSG_PEEK that reads 0 (end of stream) or fails with anything but "no data yet".
inline bool peerHasClosed(qintptr descriptor)
{
    if (descriptor < 0)
        return false;
#ifdef Q_OS_WIN
    return false; // not detected on Windows (never built there yet): requests just run
#else
    char c;
    const ssize_t n = ::recv(int(descriptor), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
#endif
}

} // namespace bulwark
