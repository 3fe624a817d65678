// SPDX-License-Identifier: GPL-3.0-or-later
// Half-close for the lingering close used by GuardedSocket and Acceptor: shut down our
// sending side once the last response is flushed, keep reading (and discarding) what the
// client still sends, so the client reads the response instead of a reset.
#pragma once

#include <QtGlobal>

#ifdef Q_OS_WIN
#include <winsock2.h>
#else
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

} // namespace bulwark
