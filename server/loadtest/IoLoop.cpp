// SPDX-License-Identifier: GPL-3.0-or-later
// See IoLoop.h: picks the implementation.
#include "IoLoop.h"

#include "EpollIoLoop.h"
#include "QtIoLoop.h"

namespace bulwark {

std::unique_ptr<IoLoop> IoLoop::create(Kind kind, const IoTarget &target, Listener *listener)
{
#ifdef Q_OS_LINUX
    if (kind != Kind::Qt && !target.tls)
        return std::make_unique<EpollIoLoop>(target, listener);
#endif
    if (kind == Kind::Epoll)
        return nullptr;
    return std::make_unique<QtIoLoop>(target, listener);
}

const char *IoLoop::kindName(Kind kind)
{
    switch (kind) {
    case Kind::Auto: return "auto";
    case Kind::Qt: return "qt";
    case Kind::Epoll: return "epoll";
    }
    return "auto";
}

} // namespace bulwark
