// SPDX-License-Identifier: GPL-3.0-or-later
// cache_bench: micro-benchmark of the memory cache tier (server/cache/MemoryCache).
//
// Throughput: a cache (default options: 64 shards, 128 MiB, TinyLfu) holds 100 000 keys
// with 100-byte values. Each thread replays its own pre-generated random key order (the
// keys laid out one after the other in one buffer, as a request's key would be at hand)
// for a fixed number of operations, or until 3 s have passed, and reports millions of
// operations per second per thread, for 1 and for 2 threads started together:
//   get_hit      get() of keys that are all present, in uniformly random order;
//   get_hit_zipf the same with Zipf(0.9) popularity (scrambled ranks), the skewed access
//                a cache is for;
//   get_hit_lru, get_hit_zipf_lru  the same on Eviction::Lru, the baseline;
//   put_replace  put() over the same keys (every put replaces; values made beforehand);
//   put_insert   put() of never-seen keys into a full cache (every put evicts one).
//
// Each rate is printed twice: per wall-clock second (`get_hit_t1`) and per second of the
// thread's own CPU time (`get_hit_t1_cpu`); on a shared machine the second one leaves out
// the time the threads waited for a core.
//
// Hit ratio: TinyLfu against Lru with the same MemoryCacheOptions.maxBytes and the
// default 64 shards, on
//   zipf       Zipf(0.9) over 1 000 000 keys, 2 000 000 requests;
//   zipf+scan  the same requests with, after every 50 000 of them, a scan of 20 000 keys
//              that never occur again (800 000 more requests that can only miss);
// for budgets of 1 %, 5 % and 10 % of the bytes of the whole key space. Values are about
// 1 KiB (768..1791 bytes, fixed per key); they only report their size, no bytes are
// allocated. Each request is get(), and put() on a miss. The ratio counts all requests.
// The traces come from a fixed seed and the cache's hash seed is made deterministic with
// QHashSeed::setDeterministicGlobalSeed(), so two runs print the same ratios.
//
// Output, one result per line, `name value unit` or `hit_ratio key=value ...`:
//   get_hit_t1 4.068 Mops/s/thread
//   get_hit_t1_cpu 4.069 Mops/cpu-s
//   hit_ratio trace=zipf budget=1% tinylfu=0.487 lru=0.394
// Options: --quick (100 000 keys and 200 000 requests for the hit ratio, shorter throughput
// runs), --throughput-only, --hit-ratio-only.
#include "MemoryCache.h"

#include <QByteArray>
#include <QHashFunctions>
#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <random>
#include <thread>
#include <vector>

using namespace bulwark;
using Clock64 = std::chrono::steady_clock;

namespace {

class BodyValue final : public CacheValue
{
public:
    explicit BodyValue(qsizetype size) : m_body(size, 'v') {}
    qint64 byteSize() const override { return m_body.size(); }

private:
    QByteArray m_body;
};

// Reports a size without holding the bytes (hit-ratio traces only count).
class SizeValue final : public CacheValue
{
public:
    explicit SizeValue(qint64 size) : m_size(size) {}
    qint64 byteSize() const override { return m_size; }

private:
    qint64 m_size;
};

double uniform01(std::mt19937_64 &rng)
{
    return double(rng() >> 11) * 0x1.0p-53;
}

QByteArray keyName(const char *prefix, quint64 id)
{
    char buffer[48];
    const int n = std::snprintf(buffer, sizeof buffer, "%s:%08llu", prefix,
                                static_cast<unsigned long long>(id));
    return QByteArray(buffer, n);
}

// A sequence of keys stored back to back; views into one buffer.
struct KeyTrace
{
    QByteArray bytes;
    std::vector<quint32> offsets; // size() + 1 entries

    void append(const QByteArray &key)
    {
        if (offsets.empty())
            offsets.push_back(0);
        bytes.append(key);
        offsets.push_back(quint32(bytes.size()));
    }
    size_t size() const { return offsets.empty() ? 0 : offsets.size() - 1; }
    QByteArrayView at(size_t i) const
    {
        return QByteArrayView(bytes.constData() + offsets[i], offsets[i + 1] - offsets[i]);
    }
};

struct Throughput
{
    quint64 ops = 0;
    double seconds = 0;    // wall time
    double cpuSeconds = 0; // this thread's CPU time
    quint64 check = 0;     // hits, or successful puts
};

double threadCpuSeconds()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

struct Rate
{
    double wall = 0; // M ops per wall second, mean per thread
    double cpu = 0;  // M ops per CPU second, mean per thread
};

constexpr double kMaxSeconds = 3.0;

// Runs body(thread, begin, end) in chunks until `ops` operations or kMaxSeconds, on
// `threads` threads released together; returns the mean rate per thread in M ops/s.
template <typename Body> Rate runThreads(int threads, quint64 ops, quint64 *check, Body body)
{
    std::vector<Throughput> results(static_cast<size_t>(threads));
    std::barrier start(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            start.arrive_and_wait();
            const auto begin = Clock64::now();
            const double cpuBegin = threadCpuSeconds();
            Throughput &r = results[size_t(t)];
            constexpr quint64 kChunk = 1 << 16;
            while (r.ops < ops) {
                const quint64 n = std::min(kChunk, ops - r.ops);
                r.check += body(t, r.ops, r.ops + n);
                r.ops += n;
                r.seconds = std::chrono::duration<double>(Clock64::now() - begin).count();
                if (r.seconds > kMaxSeconds)
                    break;
            }
            r.cpuSeconds = threadCpuSeconds() - cpuBegin;
        });
    }
    for (auto &w : workers)
        w.join();
    Rate rate;
    *check = 0;
    for (const auto &r : results) {
        rate.wall += double(r.ops) / r.seconds / 1e6 / threads;
        rate.cpu += double(r.ops) / r.cpuSeconds / 1e6 / threads;
        *check += r.check;
    }
    return rate;
}

// Wall-clock rate, and the rate per CPU second of each thread: on a shared machine the
// second one leaves out the time the threads were not running.
void print(const char *name, int threads, const Rate &rate)
{
    std::printf("%s_t%d %.3f Mops/s/thread\n", name, threads, rate.wall);
    std::printf("%s_t%d_cpu %.3f Mops/cpu-s\n", name, threads, rate.cpu);
}

// Zipf(s) ranks over n items by inverse CDF (a table of n doubles, binary search).
class Zipf
{
public:
    Zipf(quint64 n, double s) : m_cdf(n)
    {
        double sum = 0;
        for (quint64 i = 0; i < n; ++i) {
            sum += 1.0 / std::pow(double(i + 1), s);
            m_cdf[i] = sum;
        }
        for (double &c : m_cdf)
            c /= sum;
    }
    quint64 next(std::mt19937_64 &rng) const
    {
        const double u = uniform01(rng);
        const auto it = std::lower_bound(m_cdf.begin(), m_cdf.end(), u);
        return std::min<quint64>(quint64(it - m_cdf.begin()), m_cdf.size() - 1);
    }

private:
    std::vector<double> m_cdf;
};

void throughput(bool quick)
{
    const int keyCount = 100'000;
    const quint64 ops = quick ? 2'000'000 : 10'000'000;
    const size_t traceLength = 1 << 20;

    CoarseClock clock; // as the server uses it
    std::vector<QByteArray> keys;
    keys.reserve(keyCount);
    for (int i = 0; i < keyCount; ++i)
        keys.push_back(keyName("item", quint64(i)));

    std::vector<KeyTrace> traces(2);
    for (int t = 0; t < 2; ++t) {
        std::mt19937_64 rng(1000 + t);
        for (size_t i = 0; i < traceLength; ++i)
            traces[size_t(t)].append(keys[rng() % keyCount]);
    }
    const auto ttl = std::chrono::hours(1);

    // The same keys requested with Zipf(0.9) popularity, ranks scrambled over the key
    // space (as in Caffeine's GetPutBenchmark): the access pattern a cache exists for,
    // where popular entries stay in the CPU caches. The uniform order above touches a
    // random entry of ~25 MB each time, so it mostly measures main-memory latency.
    std::vector<KeyTrace> zipfTraces(2);
    {
        const Zipf zipf(quint64(keyCount), 0.9);
        std::vector<int> rankToKey(static_cast<size_t>(keyCount));
        for (int i = 0; i < keyCount; ++i)
            rankToKey[size_t(i)] = i;
        std::shuffle(rankToKey.begin(), rankToKey.end(), std::mt19937_64(7));
        for (int t = 0; t < 2; ++t) {
            std::mt19937_64 rng(2000 + t);
            for (size_t i = 0; i < traceLength; ++i)
                zipfTraces[size_t(t)].append(keys[size_t(rankToKey[zipf.next(rng)])]);
        }
    }

    // The same gets on the plain-LRU mode of the same class, as the baseline measured in
    // the same run (no sketch to update on a hit).
    MemoryCacheOptions lru;
    lru.eviction = MemoryCacheOptions::Eviction::Lru;
    struct GetRun
    {
        const char *name;
        const std::vector<KeyTrace> *order;
        MemoryCacheOptions options;
    };
    for (const GetRun &run :
         {GetRun{"get_hit", &traces, {}}, GetRun{"get_hit_zipf", &zipfTraces, {}},
          GetRun{"get_hit_lru", &traces, lru}, GetRun{"get_hit_zipf_lru", &zipfTraces, lru}})
        for (int threads : {1, 2}) {
            const char *name = run.name;
            const std::vector<KeyTrace> *order = run.order;
            MemoryCache cache(run.options, clock);
            for (const QByteArray &k : keys)
                cache.put(k, std::make_shared<BodyValue>(100), ttl);
            quint64 hits = 0;
            const Rate rate = runThreads(threads, ops, &hits, [&](int t, quint64 b, quint64 e) {
                const KeyTrace &trace = (*order)[size_t(t)];
                quint64 h = 0;
                for (quint64 i = b; i < e; ++i)
                    h += cache.get(trace.at(i & (traceLength - 1))) != nullptr;
                return h;
            });
            const auto s = cache.stats();
            print(name, threads, rate);
            if (s.misses != 0 || hits != s.hits)
                std::printf("warning %s_t%d misses=%llu\n", name, threads,
                            static_cast<unsigned long long>(s.misses));
            std::fflush(stdout);
        }

    // Values made beforehand so that the loop measures the cache, not the allocator.
    std::vector<CacheValuePtr> values;
    for (int i = 0; i < 256; ++i)
        values.push_back(std::make_shared<BodyValue>(100));

    for (int threads : {1, 2}) {
        MemoryCache cache(MemoryCacheOptions{}, clock);
        for (const QByteArray &k : keys)
            cache.put(k, values[0], ttl);
        // put() takes a QByteArray: one per trace position, made beforehand.
        std::vector<std::vector<QByteArray>> putKeys(static_cast<size_t>(threads));
        for (int t = 0; t < threads; ++t) {
            const KeyTrace &trace = traces[size_t(t)];
            putKeys[size_t(t)].reserve(traceLength);
            for (size_t i = 0; i < traceLength; ++i)
                putKeys[size_t(t)].push_back(trace.at(i).toByteArray());
        }
        quint64 stored = 0;
        const Rate rate = runThreads(threads, ops / 2, &stored, [&](int t, quint64 b, quint64 e) {
            const auto &pk = putKeys[size_t(t)];
            quint64 n = 0;
            for (quint64 i = b; i < e; ++i)
                n += cache.put(pk[i & (traceLength - 1)], values[i & 255], ttl);
            return n;
        });
        print("put_replace", threads, rate);
        std::fflush(stdout);
    }

    for (int threads : {1, 2}) {
        // Room for about half the keys: every put of a new key evicts (or is refused).
        MemoryCacheOptions options;
        options.maxBytes = qint64(keyCount) * (13 + 100 + MemoryCache::kEntryOverhead) / 2;
        MemoryCache cache(options, clock);
        for (const QByteArray &k : keys)
            cache.put(k, values[0], ttl);
        const quint64 insertOps = ops / 4;
        std::vector<std::vector<QByteArray>> newKeys(static_cast<size_t>(threads));
        for (int t = 0; t < threads; ++t) {
            newKeys[size_t(t)].reserve(insertOps);
            for (quint64 i = 0; i < insertOps; ++i)
                newKeys[size_t(t)].push_back(keyName(t ? "newB" : "newA", i));
        }
        quint64 stored = 0;
        const Rate rate = runThreads(threads, insertOps, &stored, [&](int t, quint64 b, quint64 e) {
            const auto &nk = newKeys[size_t(t)];
            quint64 n = 0;
            for (quint64 i = b; i < e; ++i)
                n += cache.put(nk[i], values[i & 255], ttl);
            return n;
        });
        const auto s = cache.stats();
        print("put_insert", threads, rate);
        if (s.bytes > s.maxBytes)
            std::printf("warning put_insert bytes=%lld > max=%lld\n",
                        static_cast<long long>(s.bytes), static_cast<long long>(s.maxBytes));
        std::fflush(stdout);
    }
}

// Per-key value size, ~1 KiB, fixed for a key.
qint64 valueSize(quint64 id)
{
    quint64 x = (id + 1) * 0x9e3779b97f4a7c15ull;
    x ^= x >> 31;
    return 768 + qint64(x % 1024);
}

struct Request
{
    quint64 id;
    bool scan;
};

double replay(const std::vector<Request> &trace, MemoryCacheOptions::Eviction eviction,
              qint64 maxBytes)
{
    CoarseClock clock; // as the server uses it
    MemoryCacheOptions options;
    options.maxBytes = maxBytes;
    options.eviction = eviction;
    MemoryCache cache(options, clock);
    quint64 hits = 0;
    for (const Request &r : trace) {
        const QByteArray key = keyName(r.scan ? "scan" : "zipf", r.id);
        if (cache.get(key)) {
            ++hits;
        } else {
            cache.put(key, std::make_shared<SizeValue>(valueSize(r.id)), std::chrono::hours(24));
        }
    }
    return double(hits) / double(trace.size());
}

void hitRatio(bool quick)
{
    const quint64 keys = quick ? 100'000 : 1'000'000;
    const quint64 requests = quick ? 200'000 : 2'000'000;
    const quint64 scanEvery = quick ? 10'000 : 50'000;
    const quint64 scanLength = quick ? 4'000 : 20'000;

    std::mt19937_64 rng(42);
    const Zipf zipf(keys, 0.9);
    std::vector<Request> plain;
    plain.reserve(requests);
    for (quint64 i = 0; i < requests; ++i)
        plain.push_back({zipf.next(rng), false});
    std::vector<Request> scanned;
    quint64 nextScanKey = 0;
    for (quint64 i = 0; i < requests; ++i) {
        scanned.push_back(plain[i]);
        if ((i + 1) % scanEvery == 0) {
            for (quint64 j = 0; j < scanLength; ++j)
                scanned.push_back({nextScanKey++, true});
        }
    }

    qint64 spaceBytes = 0;
    for (quint64 id = 0; id < keys; ++id)
        spaceBytes += keyName("zipf", id).size() + valueSize(id) + MemoryCache::kEntryOverhead;

    struct Trace
    {
        const char *name;
        const std::vector<Request> *requests;
    };
    for (const Trace &t : {Trace{"zipf", &plain}, Trace{"zipf+scan", &scanned}}) {
        for (int percent : {1, 5, 10}) {
            const qint64 budget = spaceBytes * percent / 100;
            const double lfu = replay(*t.requests, MemoryCacheOptions::Eviction::TinyLfu, budget);
            const double lru = replay(*t.requests, MemoryCacheOptions::Eviction::Lru, budget);
            std::printf("hit_ratio trace=%s budget=%d%% tinylfu=%.3f lru=%.3f\n", t.name, percent,
                        lfu, lru);
            std::fflush(stdout);
        }
    }
}

} // namespace

int main(int argc, char **argv)
{
    bool quick = false;
    bool doThroughput = true, doHitRatio = true;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quick") == 0) {
            quick = true;
        } else if (std::strcmp(argv[i], "--throughput-only") == 0) {
            doHitRatio = false;
        } else if (std::strcmp(argv[i], "--hit-ratio-only") == 0) {
            doThroughput = false;
        } else {
            std::fprintf(stderr, "usage: %s [--quick] [--throughput-only | --hit-ratio-only]\n",
                         argv[0]);
            return 2;
        }
    }
    QHashSeed::setDeterministicGlobalSeed();
    if (doThroughput)
        throughput(quick);
    if (doHitRatio)
        hitRatio(quick);
    return 0;
}
