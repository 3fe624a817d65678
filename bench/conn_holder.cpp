// SPDX-License-Identifier: GPL-3.0-or-later
// conn_holder: opens N real idle keep-alive HTTP connections to a server on the loopback
// interface and holds them, so the benchmark can read the server's memory with 10 000
// connections open (the figure the issue asks for).
//
// Each connection does a non-blocking connect, sends one request
//   GET /health/live HTTP/1.1 (Host, Connection: keep-alive)   (the path is --path)
// and reads the whole response (status line, headers, Content-Length body). Only a 200
// answer without "Connection: close" counts: that connection is then an idle keep-alive
// connection as a browser or a proxy would leave it. A bounded number of connections is in
// the connecting/requesting phase at a time (--concurrency), so the server's listen backlog
// is not flooded; each attempt has a timeout and failed attempts are retried a bounded
// number of times. --connect-only skips the request (connections that were never used; the
// difference shows what a server keeps per connection after a request). Plain POSIX
// sockets and poll(2), no Qt, so the holder's own event loop
// costs nothing measurable and its descriptors are all it needs.
//
// Output (standard output, one line per event, flushed):
//   READY open=N requested=N failed=F setup_ms=T      once the set-up phase is over
//   LOST n=K open=M                                    when the server closes some (at most 1/s)
//   END open=M closed_by_server=K held_ms=T            before the connections are closed
// It holds the connections for --seconds S, or until standard input reaches end of file
// when standard input is a pipe, FIFO, socket or terminal (a /dev/null or file stdin is
// ignored, so it can run in the background), or until SIGINT/SIGTERM. Everything is bounded:
// count <= 60000, set-up time <= --setup-timeout, hold time <= 3600 s. Loopback only.
//
// Exit codes: 0 all requested connections were opened, 1 some could not be, 2 usage.
#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_stop = 0;
void onSignal(int)
{
    g_stop = 1;
}

struct Options
{
    std::string host = "127.0.0.1";
    int port = 0;
    long count = 10000;
    long seconds = 60;
    std::string path = "/health/live";
    long concurrency = 256;
    long attemptTimeoutMs = 10000;
    long retries = 3;
    long setupTimeoutS = 120;
    bool connectOnly = false;
};

void usage(const char *argv0)
{
    std::fprintf(
        stderr,
        "usage: %s --port P [--host 127.0.0.1] [--count N] [--seconds S] [--path /health/live]\n"
        "          [--concurrency C] [--attempt-timeout-ms MS] [--retries R] [--setup-timeout S]\n"
        "          [--connect-only]\n"
        "Opens N idle keep-alive HTTP connections to a loopback server and holds them S seconds.\n"
        "--connect-only skips the request: the connections are open but have never been used.\n",
        argv0);
}

bool parseLong(const char *text, long min, long max, long *out)
{
    char *end = nullptr;
    errno = 0;
    const long v = std::strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool parseArgs(int argc, char **argv, Options *o)
{
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--connect-only") {
            o->connectOnly = true;
            continue;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "%s: %s needs a value\n", argv[0], argv[i]);
            return false;
        }
        const char *v = argv[++i];
        long n = 0;
        bool ok = true;
        if (a == "--host")
            o->host = v;
        else if (a == "--path")
            o->path = v;
        else if (a == "--port") {
            ok = parseLong(v, 1, 65535, &n);
            o->port = int(n);
        } else if (a == "--count")
            ok = parseLong(v, 1, 60000, &o->count);
        else if (a == "--seconds")
            ok = parseLong(v, 0, 3600, &o->seconds);
        else if (a == "--concurrency")
            ok = parseLong(v, 1, 4096, &o->concurrency);
        else if (a == "--attempt-timeout-ms")
            ok = parseLong(v, 10, 120000, &o->attemptTimeoutMs);
        else if (a == "--retries")
            ok = parseLong(v, 0, 20, &o->retries);
        else if (a == "--setup-timeout")
            ok = parseLong(v, 1, 3600, &o->setupTimeoutS);
        else {
            std::fprintf(stderr, "%s: unknown option %s\n", argv[0], argv[i - 1]);
            return false;
        }
        if (!ok) {
            std::fprintf(stderr, "%s: bad value for %s: %s\n", argv[0], argv[i - 1], v);
            return false;
        }
    }
    if (o->port == 0) {
        std::fprintf(stderr, "%s: --port is required\n", argv[0]);
        return false;
    }
    if (o->path.empty() || o->path[0] != '/' ||
        o->path.find_first_of("\r\n ") != std::string::npos) {
        std::fprintf(stderr, "%s: --path must be an absolute path without spaces\n", argv[0]);
        return false;
    }
    return true;
}

// The target, restricted to the loopback range: 127.0.0.0/8 or ::1.
struct Target
{
    sockaddr_storage addr{};
    socklen_t len = 0;
    int family = AF_INET;
};

bool resolveLoopback(const std::string &host, int port, Target *t)
{
    std::string h = host == "localhost" ? std::string("127.0.0.1") : host;
    if (h.size() > 2 && h.front() == '[' && h.back() == ']')
        h = h.substr(1, h.size() - 2);
    in_addr v4{};
    in6_addr v6{};
    if (inet_pton(AF_INET, h.c_str(), &v4) == 1) {
        if ((ntohl(v4.s_addr) >> 24) != 127)
            return false;
        auto *sa = reinterpret_cast<sockaddr_in *>(&t->addr);
        sa->sin_family = AF_INET;
        sa->sin_port = htons(uint16_t(port));
        sa->sin_addr = v4;
        t->len = sizeof(sockaddr_in);
        t->family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&v6))
            return false;
        auto *sa = reinterpret_cast<sockaddr_in6 *>(&t->addr);
        sa->sin6_family = AF_INET6;
        sa->sin6_port = htons(uint16_t(port));
        sa->sin6_addr = v6;
        t->len = sizeof(sockaddr_in6);
        t->family = AF_INET6;
        return true;
    }
    return false;
}

// Raises the soft descriptor limit to the hard one; returns the soft limit in force.
rlim_t raiseFileLimit()
{
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return 1024;
    if (limit.rlim_cur < limit.rlim_max) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            return raised.rlim_cur;
    }
    return limit.rlim_cur;
}

enum class State
{
    Pending,
    Connecting,
    Sending,
    Reading,
    Idle,
    Failed,
    Closed
};

struct Conn
{
    int fd = -1;
    State state = State::Pending;
    int attempts = 0;
    size_t sent = 0;
    std::string in;
    Clock::time_point deadline{};
};

struct Counters
{
    long failed = 0;
    long retried = 0;
    long badStatus = 0;
    long closeHeader = 0;
    std::string lastError;
};

void closeFd(Conn &c)
{
    if (c.fd >= 0)
        ::close(c.fd);
    c.fd = -1;
}

bool hasTokenCI(std::string_view haystack, std::string_view needle)
{
    if (needle.size() > haystack.size())
        return false;
    for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
        size_t j = 0;
        while (j < needle.size() &&
               std::tolower(static_cast<unsigned char>(haystack[i + j])) == needle[j])
            ++j;
        if (j == needle.size())
            return true;
    }
    return false;
}

// Looks at what was read so far. Returns 1 when a complete acceptable response is in,
// 0 when more bytes are needed, -1 when the response is unacceptable (error in *why).
int checkResponse(const std::string &in, std::string *why)
{
    const size_t end = in.find("\r\n\r\n");
    if (end == std::string::npos) {
        if (in.size() > 64 * 1024) {
            *why = "response headers larger than 64 KiB";
            return -1;
        }
        return 0;
    }
    const std::string_view head(in.data(), end + 2);
    if (head.size() < 12 || head.substr(0, 5) != "HTTP/") {
        *why = "not an HTTP response";
        return -1;
    }
    const size_t sp = head.find(' ');
    const int status =
        sp == std::string_view::npos ? 0 : std::atoi(std::string(head.substr(sp + 1, 3)).c_str());
    long contentLength = 0;
    bool close = false;
    size_t pos = head.find("\r\n") + 2;
    while (pos < head.size()) {
        const size_t eol = head.find("\r\n", pos);
        const std::string_view line = head.substr(pos, eol - pos);
        pos = eol + 2;
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos)
            continue;
        std::string name(line.substr(0, colon));
        for (char &ch : name)
            ch = char(std::tolower(static_cast<unsigned char>(ch)));
        const std::string_view value = line.substr(colon + 1);
        if (name == "content-length")
            contentLength = std::atol(std::string(value).c_str());
        else if (name == "connection" && hasTokenCI(value, "close"))
            close = true;
        else if (name == "transfer-encoding") {
            *why = "chunked responses are not supported by conn_holder";
            return -1;
        }
    }
    if (in.size() < end + 4 + size_t(contentLength))
        return 0;
    if (status != 200) {
        *why = "status " + std::to_string(status);
        return -1;
    }
    if (close) {
        *why = "server answered Connection: close";
        return -1;
    }
    return 1;
}

class Holder
{
public:
    Holder(const Options &o, const Target &t) : m_o(o), m_t(t), m_conns(size_t(o.count))
    {
        m_request = "GET " + o.path + " HTTP/1.1\r\nHost: " + o.host + ":" +
                    std::to_string(o.port) +
                    "\r\nUser-Agent: bulwark-conn-holder\r\nConnection: keep-alive\r\n\r\n";
    }

    // Set-up phase: every connection ends Idle or Failed, or the deadline passes.
    void setup()
    {
        const auto start = Clock::now();
        const auto deadline = start + std::chrono::seconds(m_o.setupTimeoutS);
        size_t next = 0;
        std::vector<size_t> active;
        std::vector<pollfd> fds;
        active.reserve(size_t(m_o.concurrency));
        while (!g_stop) {
            while (active.size() < size_t(m_o.concurrency) && next < m_conns.size()) {
                begin(m_conns[next]);
                if (m_conns[next].state != State::Failed && m_conns[next].state != State::Idle)
                    active.push_back(next);
                ++next;
            }
            if (active.empty())
                break;
            const auto now = Clock::now();
            if (now >= deadline) {
                for (size_t i : active)
                    fail(m_conns[i], "set-up deadline passed");
                active.clear();
                break;
            }
            fds.clear();
            for (size_t i : active) {
                const Conn &c = m_conns[i];
                fds.push_back(pollfd{c.fd, short(c.state == State::Reading ? POLLIN : POLLOUT), 0});
            }
            const int r = ::poll(fds.data(), nfds_t(fds.size()), 50);
            if (r < 0 && errno != EINTR) {
                std::perror("conn_holder: poll");
                break;
            }
            const auto after = Clock::now();
            std::vector<size_t> still;
            still.reserve(active.size());
            for (size_t k = 0; k < active.size(); ++k) {
                Conn &c = m_conns[active[k]];
                if (r > 0 && fds[k].revents != 0)
                    step(c, fds[k].revents);
                if ((c.state == State::Connecting || c.state == State::Sending ||
                     c.state == State::Reading) &&
                    after >= c.deadline)
                    retryOrFail(c, "attempt timed out");
                if (c.state == State::Connecting || c.state == State::Sending ||
                    c.state == State::Reading)
                    still.push_back(active[k]);
            }
            active.swap(still);
        }
        for (Conn &c : m_conns)
            if (c.state != State::Idle && c.state != State::Failed) {
                closeFd(c);
                c.state = State::Failed;
                ++m_counters.failed;
            }
        m_setupMs =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    }

    long open() const { return m_open; }
    const Counters &counters() const { return m_counters; }
    long setupMs() const { return m_setupMs; }

    // Hold phase: watch the idle connections (a server that closes one is noticed) and,
    // when it is a pipe or terminal, standard input.
    void hold(long seconds, bool watchStdin)
    {
        const auto start = Clock::now();
        const auto end = start + std::chrono::seconds(seconds);
        std::vector<pollfd> fds;
        std::vector<size_t> index;
        bool rebuild = true;
        long lostSinceReport = 0;
        auto lastReport = start;
        char scratch[4096];
        while (!g_stop) {
            const auto now = Clock::now();
            if (now >= end)
                break;
            if (rebuild) {
                fds.clear();
                index.clear();
                if (watchStdin)
                    fds.push_back(pollfd{STDIN_FILENO, POLLIN, 0});
                for (size_t i = 0; i < m_conns.size(); ++i)
                    if (m_conns[i].state == State::Idle) {
                        fds.push_back(pollfd{m_conns[i].fd, POLLIN, 0});
                        index.push_back(i);
                    }
                rebuild = false;
            }
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(end - now).count();
            const int r =
                ::poll(fds.data(), nfds_t(fds.size()), int(std::min<long long>(left, 1000)));
            if (r < 0 && errno != EINTR) {
                std::perror("conn_holder: poll");
                break;
            }
            size_t first = 0;
            if (watchStdin) {
                first = 1;
                if (r > 0 && fds[0].revents != 0) {
                    const ssize_t n = ::read(STDIN_FILENO, scratch, sizeof scratch);
                    if (n <= 0)
                        break; // end of file: stop holding
                }
            }
            for (size_t k = first; r > 0 && k < fds.size(); ++k) {
                if (fds[k].revents == 0)
                    continue;
                Conn &c = m_conns[index[k - first]];
                const ssize_t n = ::recv(c.fd, scratch, sizeof scratch, 0);
                if (n > 0)
                    continue; // unexpected bytes on an idle connection: discarded
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                    continue;
                closeFd(c);
                c.state = State::Closed;
                --m_open;
                ++m_closedByServer;
                ++lostSinceReport;
                rebuild = true;
            }
            if (lostSinceReport > 0 && Clock::now() - lastReport >= std::chrono::seconds(1)) {
                std::printf("LOST n=%ld open=%ld\n", lostSinceReport, m_open);
                std::fflush(stdout);
                lostSinceReport = 0;
                lastReport = Clock::now();
            }
        }
        if (lostSinceReport > 0)
            std::printf("LOST n=%ld open=%ld\n", lostSinceReport, m_open);
        m_heldMs =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    }

    long closedByServer() const { return m_closedByServer; }
    long heldMs() const { return m_heldMs; }

    void closeAll()
    {
        for (Conn &c : m_conns)
            closeFd(c);
        m_open = 0;
    }

private:
    void begin(Conn &c)
    {
        ++c.attempts;
        c.sent = 0;
        c.in.clear();
        c.fd = ::socket(m_t.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) {
            fail(c, std::string("socket: ") + std::strerror(errno));
            return;
        }
        const int one = 1;
        ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c.deadline = Clock::now() + std::chrono::milliseconds(m_o.attemptTimeoutMs);
        if (::connect(c.fd, reinterpret_cast<const sockaddr *>(&m_t.addr), m_t.len) == 0) {
            c.state =
                State::Connecting; // poll reports it writable at once; step() goes on from there
            return;
        }
        if (errno == EINPROGRESS) {
            c.state = State::Connecting;
            return;
        }
        retryOrFail(c, std::string("connect: ") + std::strerror(errno));
    }

    void step(Conn &c, short revents)
    {
        if (c.state == State::Connecting) {
            int err = 0;
            socklen_t len = sizeof err;
            if (::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                err = errno;
            if (err != 0) {
                retryOrFail(c, std::string("connect: ") + std::strerror(err));
                return;
            }
            c.state = State::Sending;
            if (m_o.connectOnly) {
                c.state = State::Idle;
                ++m_open;
                return;
            }
        }
        if (c.state == State::Sending) {
            while (c.sent < m_request.size()) {
                const ssize_t n = ::send(c.fd, m_request.data() + c.sent, m_request.size() - c.sent,
                                         MSG_NOSIGNAL);
                if (n > 0) {
                    c.sent += size_t(n);
                    continue;
                }
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                    return;
                retryOrFail(c, std::string("send: ") + std::strerror(errno));
                return;
            }
            c.state = State::Reading;
            return;
        }
        if (c.state == State::Reading) {
            char buf[4096];
            for (;;) {
                const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
                if (n > 0) {
                    c.in.append(buf, size_t(n));
                    continue;
                }
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                    break;
                // Closed (0) or error before a complete response.
                std::string why;
                if (checkResponse(c.in, &why) < 0)
                    terminal(c, why);
                else
                    retryOrFail(c, n == 0 ? "closed before the response was complete"
                                          : std::string("recv: ") + std::strerror(errno));
                return;
            }
            std::string why;
            const int verdict = checkResponse(c.in, &why);
            if (verdict > 0) {
                std::string().swap(c.in);
                c.state = State::Idle;
                ++m_open;
            } else if (verdict < 0) {
                terminal(c, why);
            }
            (void)revents;
        }
    }

    // An answer that retrying would not change (a 503 from a connection cap, a close).
    void terminal(Conn &c, const std::string &why)
    {
        if (why.rfind("status", 0) == 0)
            ++m_counters.badStatus;
        else if (why.find("Connection: close") != std::string::npos)
            ++m_counters.closeHeader;
        fail(c, why);
    }

    void retryOrFail(Conn &c, const std::string &why)
    {
        closeFd(c);
        if (c.attempts <= m_o.retries && !g_stop) {
            ++m_counters.retried;
            begin(c);
            return;
        }
        fail(c, why);
    }

    void fail(Conn &c, const std::string &why)
    {
        closeFd(c);
        c.state = State::Failed;
        ++m_counters.failed;
        m_counters.lastError = why;
    }

    const Options &m_o;
    const Target &m_t;
    std::vector<Conn> m_conns;
    std::string m_request;
    Counters m_counters;
    long m_open = 0;
    long m_closedByServer = 0;
    long m_setupMs = 0;
    long m_heldMs = 0;
};

bool stdinIsWatchable()
{
    struct stat st
    {
    };
    if (::fstat(STDIN_FILENO, &st) != 0)
        return false;
    return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || ::isatty(STDIN_FILENO);
}

} // namespace

int main(int argc, char **argv)
{
    Options o;
    if (argc == 1 ||
        (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0))) {
        usage(argv[0]);
        return argc == 1 ? 2 : 0;
    }
    if (!parseArgs(argc, argv, &o)) {
        usage(argv[0]);
        return 2;
    }
    Target target;
    if (!resolveLoopback(o.host, o.port, &target)) {
        std::fprintf(stderr,
                     "%s: --host must be a numeric loopback address (127.0.0.0/8 or ::1), not %s\n",
                     argv[0], o.host.c_str());
        return 2;
    }
    const rlim_t limit = raiseFileLimit();
    const rlim_t needed = rlim_t(o.count) + 32;
    if (limit < needed) {
        std::fprintf(
            stderr,
            "%s: %ld connections need about %llu descriptors but the limit is %llu; raise the hard "
            "limit (ulimit -Hn) first\n",
            argv[0], o.count, static_cast<unsigned long long>(needed),
            static_cast<unsigned long long>(limit));
        return 2;
    }

    struct sigaction sa
    {
    };
    sa.sa_handler = onSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    Holder holder(o, target);
    holder.setup();
    const Counters &c = holder.counters();
    std::printf("READY open=%ld requested=%ld failed=%ld retried=%ld bad_status=%ld conn_close=%ld "
                "setup_ms=%ld%s%s\n",
                holder.open(), o.count, c.failed, c.retried, c.badStatus, c.closeHeader,
                holder.setupMs(), c.lastError.empty() ? "" : " last_error=", c.lastError.c_str());
    std::fflush(stdout);

    holder.hold(o.seconds, stdinIsWatchable());
    std::printf("END open=%ld closed_by_server=%ld held_ms=%ld\n", holder.open(),
                holder.closedByServer(), holder.heldMs());
    std::fflush(stdout);
    const bool complete = holder.open() + holder.closedByServer() == o.count;
    holder.closeAll();
    return complete ? 0 : 1;
}
