// SPDX-License-Identifier: GPL-3.0-or-later
// IoLoop on Linux epoll, plain HTTP only (IoLoop.h). Level-triggered: a readable socket is
// read until it would block (or 256 KiB, to stay fair to the others), a connection with
// unsent bytes waits for EPOLLOUT. Waits under 2 ms end on a timerfd, so that timing is
// not rounded to epoll_wait's milliseconds. Each event carries the connection id and a generation
// number, so an event for a connection closed (and its id reused) earlier in the same
// epoll_wait batch is recognised and dropped. An eventfd makes wake() work from any thread.
#include "EpollIoLoop.h"

#ifdef Q_OS_LINUX

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <utility>

namespace bulwark {

namespace {
constexpr quint64 kWakeTag = ~quint64(0);
constexpr quint64 kTimerTag = ~quint64(0) - 1;
// Waits shorter than this use the timerfd (epoll_wait counts whole milliseconds); longer
// ones wake a little early through epoll_wait and finish on the timerfd.
constexpr qint64 kFineWaitNs = 2'000'000;
constexpr qsizetype kReadChunk = 64 * 1024;
constexpr qsizetype kReadBudget = 256 * 1024;

quint64 tag(int conn, quint32 generation)
{
    return (quint64(generation) << 32) | quint32(conn);
}
} // namespace

EpollIoLoop::EpollIoLoop(const IoTarget &target, Listener *listener)
    : m_target(target), m_listener(listener), m_readBuffer(kReadChunk, Qt::Uninitialized)
{
    m_epoll = epoll_create1(EPOLL_CLOEXEC);
    m_wakeFd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeTag;
    epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_wakeFd, &ev);
    m_timerFd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    ev.data.u64 = kTimerTag;
    epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_timerFd, &ev);

    // The address once, in the form connect() takes.
    std::memset(&m_address, 0, sizeof m_address);
    bool ok = false;
    const quint32 v4 = target.address.toIPv4Address(&ok);
    if (ok) {
        auto *in = reinterpret_cast<sockaddr_in *>(&m_address);
        in->sin_family = AF_INET;
        in->sin_port = htons(target.port);
        in->sin_addr.s_addr = htonl(v4);
        m_addressLength = sizeof(sockaddr_in);
    } else {
        auto *in6 = reinterpret_cast<sockaddr_in6 *>(&m_address);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(target.port);
        const Q_IPV6ADDR a = target.address.toIPv6Address();
        std::memcpy(&in6->sin6_addr, a.c, 16);
        m_addressLength = sizeof(sockaddr_in6);
    }
}

EpollIoLoop::~EpollIoLoop()
{
    for (Slot &s : m_slots)
        if (s.fd >= 0)
            ::close(s.fd);
    ::close(m_wakeFd);
    ::close(m_timerFd);
    ::close(m_epoll);
}

int EpollIoLoop::open()
{
    int conn;
    if (!m_free.isEmpty()) {
        conn = m_free.takeLast();
    } else {
        conn = int(m_slots.size());
        m_slots.append(Slot{});
    }
    Slot &s = m_slots[conn];
    ++s.generation;
    s.connected = false;
    s.pending.clear();
    s.pendingOffset = 0;
    s.fd = ::socket(m_address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s.fd < 0) {
        failLater(conn, QString::fromLocal8Bit(std::strerror(errno)));
        return conn;
    }
    const int one = 1;
    setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ++m_open;
    if (::connect(s.fd, reinterpret_cast<const sockaddr *>(&m_address), m_addressLength) == 0) {
        s.connected = true;
        arm(conn, EPOLLIN, EPOLL_CTL_ADD);
        m_connectedLater.append(tag(conn, s.generation));
        return conn;
    }
    if (errno != EINPROGRESS) {
        const QString error = QString::fromLocal8Bit(std::strerror(errno));
        ::close(s.fd);
        s.fd = -1;
        --m_open;
        failLater(conn, error);
        return conn;
    }
    arm(conn, EPOLLOUT, EPOLL_CTL_ADD);
    return conn;
}

// A connect that failed inside open() is reported from the next poll(), never from open()
// itself, so callers need not expect a callback while they are opening.
void EpollIoLoop::failLater(int conn, const QString &error)
{
    m_slots[conn].failed = true;
    m_failedLater.append({tag(conn, m_slots[conn].generation), error});
}

void EpollIoLoop::arm(int conn, quint32 events, int op)
{
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag(conn, m_slots[conn].generation);
    epoll_ctl(m_epoll, op, m_slots[conn].fd, &ev);
}

void EpollIoLoop::send(int conn, const char *data, qsizetype size)
{
    Slot &s = m_slots[conn];
    if (s.fd < 0)
        return;
    if (!s.pending.isEmpty() || !s.connected) {
        s.pending.append(data, size);
        return;
    }
    const ssize_t n = ::send(s.fd, data, size_t(size), MSG_NOSIGNAL);
    if (n == size)
        return;
    const qsizetype written = n < 0 ? 0 : qsizetype(n);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        // Reported by the read side (EPOLLERR/EPOLLHUP) on the next poll.
        return;
    }
    s.pending = QByteArray(data + written, size - written);
    s.pendingOffset = 0;
    arm(conn, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
}

void EpollIoLoop::close(int conn)
{
    Slot &s = m_slots[conn];
    if (s.fd >= 0) {
        ::close(s.fd); // also removes it from the epoll set
        s.fd = -1;
        --m_open;
        release(conn);
    } else if (s.failed) { // its failure was not reported yet: now it never is
        release(conn);
    }
}

void EpollIoLoop::release(int conn)
{
    Slot &s = m_slots[conn];
    ++s.generation; // events still queued for it are now stale
    s.connected = false;
    s.failed = false;
    s.pending.clear();
    m_free.append(conn);
}

void EpollIoLoop::closeWithError(int conn, const QString &error)
{
    Slot &s = m_slots[conn];
    const bool wasConnected = s.connected;
    if (s.fd >= 0) {
        ::close(s.fd);
        s.fd = -1;
        --m_open;
    }
    release(conn);
    m_listener->onClosed(conn, wasConnected, error);
}

void EpollIoLoop::flushPending(int conn)
{
    Slot &s = m_slots[conn];
    while (s.pendingOffset < s.pending.size()) {
        const ssize_t n = ::send(s.fd, s.pending.constData() + s.pendingOffset,
                                 size_t(s.pending.size() - s.pendingOffset), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            closeWithError(conn, QString::fromLocal8Bit(std::strerror(errno)));
            return;
        }
        s.pendingOffset += n;
    }
    s.pending.clear();
    s.pendingOffset = 0;
    arm(conn, EPOLLIN, EPOLL_CTL_MOD);
}

void EpollIoLoop::poll(qint64 timeoutNs)
{
    // Deferred callbacks of open() first: they are due now.
    if (!m_connectedLater.isEmpty() || !m_failedLater.isEmpty()) {
        const auto connected = std::exchange(m_connectedLater, {});
        const auto failed = std::exchange(m_failedLater, {});
        for (quint64 t : connected) {
            const int conn = int(quint32(t));
            if (m_slots[conn].generation == quint32(t >> 32) && m_slots[conn].fd >= 0)
                m_listener->onConnected(conn);
        }
        for (const auto &[t, error] : failed) {
            const int conn = int(quint32(t));
            if (m_slots[conn].generation == quint32(t >> 32) && m_slots[conn].failed) {
                release(conn);
                m_listener->onClosed(conn, false, error);
            }
        }
        timeoutNs = 0;
    }
    // epoll_wait counts whole milliseconds, which would add up to 1 ms to every open-model
    // request (they are measured from their intended time): short waits end on the timerfd,
    // long ones wake up to 1 ms early and the caller polls again for the rest.
    int timeoutMs = 0;
    if (timeoutNs >= kFineWaitNs) {
        timeoutMs = int(qMin<qint64>(timeoutNs / 1'000'000, 1000));
    } else if (timeoutNs > 0) {
        itimerspec its{};
        its.it_value.tv_nsec = long(timeoutNs);
        timerfd_settime(m_timerFd, 0, &its, nullptr);
        timeoutMs = 3; // a bound in case the timer is lost; it is not
    }
    epoll_event events[256];
    const int n = epoll_wait(m_epoll, events, 256, timeoutMs);
    for (int i = 0; i < n; ++i) {
        const quint64 t = events[i].data.u64;
        if (t == kWakeTag || t == kTimerTag) {
            quint64 drain;
            [[maybe_unused]] const auto r =
                ::read(t == kWakeTag ? m_wakeFd : m_timerFd, &drain, sizeof drain);
            continue;
        }
        const int conn = int(quint32(t));
        if (conn >= m_slots.size() || m_slots[conn].generation != quint32(t >> 32) ||
            m_slots[conn].fd < 0)
            continue; // closed earlier in this batch
        Slot &s = m_slots[conn];
        const quint32 ev = events[i].events;
        if (!s.connected) {
            int error = 0;
            socklen_t len = sizeof error;
            getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &error, &len);
            if (error != 0 || (ev & (EPOLLERR | EPOLLHUP))) {
                closeWithError(conn,
                               QString::fromLocal8Bit(std::strerror(error ? error : ECONNREFUSED)));
                continue;
            }
            s.connected = true;
            if (s.pending.isEmpty())
                arm(conn, EPOLLIN, EPOLL_CTL_MOD);
            const quint32 generation = s.generation;
            m_listener->onConnected(conn);
            if (m_slots[conn].generation != generation || m_slots[conn].fd < 0)
                continue;
            if (!m_slots[conn].pending.isEmpty())
                flushPending(conn);
            continue;
        }
        if (ev & EPOLLOUT) {
            flushPending(conn);
            if (m_slots[conn].generation != quint32(t >> 32) || m_slots[conn].fd < 0)
                continue;
        }
        if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
            readFrom(conn);
    }
}

void EpollIoLoop::readFrom(int conn)
{
    const quint32 generation = m_slots[conn].generation;
    qsizetype total = 0;
    while (total < kReadBudget) {
        const int fd = m_slots[conn].fd;
        const ssize_t n = ::recv(fd, m_readBuffer.data(), size_t(kReadChunk), 0);
        if (n > 0) {
            total += n;
            m_listener->onData(conn, m_readBuffer.constData(), qsizetype(n));
            if (m_slots[conn].generation != generation || m_slots[conn].fd < 0)
                return; // the listener closed it
            if (n < kReadChunk)
                return;
            continue;
        }
        if (n == 0) {
            closeWithError(conn, QStringLiteral("the server closed the connection"));
            return;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (errno == EINTR)
            continue;
        closeWithError(conn, QString::fromLocal8Bit(std::strerror(errno)));
        return;
    }
}

void EpollIoLoop::wake()
{
    const quint64 one = 1;
    [[maybe_unused]] const auto r = ::write(m_wakeFd, &one, sizeof one);
}

} // namespace bulwark

#endif // Q_OS_LINUX
