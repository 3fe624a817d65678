// SPDX-License-Identifier: GPL-3.0-or-later
// See SignalWatcher.h.
#include "SignalWatcher.h"

#include <QSocketNotifier>

#ifdef Q_OS_UNIX
#include <atomic>
#include <csignal>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

namespace bulwark {

#ifdef Q_OS_UNIX
namespace {
int g_pipe[2] = {-1, -1};
volatile std::sig_atomic_t g_terminations = 0;

extern "C" void onSignal(int signo)
{
    if (signo == SIGTERM || signo == SIGINT) {
        if (g_terminations > 0)
            _exit(128 + signo);
        g_terminations = g_terminations + 1;
    }
    const char byte = char(signo);
    [[maybe_unused]] const ssize_t n = ::write(g_pipe[1], &byte, 1);
}
} // namespace
#endif

SignalWatcher::SignalWatcher(QObject *parent) : QObject(parent) {}

SignalWatcher::~SignalWatcher()
{
#ifdef Q_OS_UNIX
    std::signal(SIGTERM, SIG_DFL);
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGHUP, SIG_DFL);
#endif
}

bool SignalWatcher::install(QString *error)
{
#ifdef Q_OS_UNIX
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, g_pipe) != 0) {
        *error = QStringLiteral("cannot create the signal pipe");
        return false;
    }
    ::fcntl(g_pipe[0], F_SETFD, FD_CLOEXEC);
    ::fcntl(g_pipe[1], F_SETFD, FD_CLOEXEC);
    ::fcntl(g_pipe[1], F_SETFL, O_NONBLOCK);
    m_notifier = new QSocketNotifier(g_pipe[0], QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &SignalWatcher::onReadable);
    struct sigaction action
    {
    };
    action.sa_handler = onSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    for (int signo : {SIGTERM, SIGINT, SIGHUP})
        sigaction(signo, &action, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
#else
    Q_UNUSED(error);
#endif
    return true;
}

void SignalWatcher::onReadable()
{
#ifdef Q_OS_UNIX
    char byte = 0;
    if (::read(g_pipe[0], &byte, 1) != 1)
        return;
    if (byte == SIGHUP)
        Q_EMIT reloadRequested();
    else
        Q_EMIT terminateRequested(int(byte));
#endif
}

} // namespace bulwark
