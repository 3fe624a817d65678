// SPDX-License-Identifier: GPL-3.0-or-later
// ratelimit_bench: what one in-memory rate-limit decision costs, per algorithm.
//
// For each algorithm a MemoryRateStore (default options) decides for 10 000 keys (like
// "api|ip|10.0.x.y") in a pre-generated random order with a generous limit (so most
// requests pass and the state keeps changing, the common case), 2 000 000 decisions per
// run, 7 runs; it prints the median and the fastest and slowest run in nanoseconds per
// decision, and the same for the algorithm alone on one state (no map, no lock):
//   decide_ns algorithm=gcra store_median=62.1 store_min=60.3 store_max=70.2 bare_median=9.8
// Target (issue "Step 4"): median <= 100 ns per decision through the store.
//
// Then the whole RateLimiter::check the pipeline stage calls, for a request from one of
// 10 000 client addresses under one per-ip rule (sliding counter, generous limit): rule
// matching, the address key, the store decision and the five header values:
//   check_ns rule=per_ip headers=on median=... min=... max=...
// and the same with both header sets off, and for a request no rule matches (the floor).
#include "MemoryRateStore.h"
#include "RateLimiter.h"

#include <QByteArray>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

using namespace bulwark;

namespace {

double nsPerOp(const std::chrono::steady_clock::time_point begin, quint64 ops)
{
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - begin)
               .count() /
           double(ops);
}

} // namespace

int main()
{
    constexpr int kKeys = 10'000;
    constexpr quint64 kOps = 2'000'000;
    constexpr int kRuns = 7;
    std::vector<QByteArray> keys;
    for (int i = 0; i < kKeys; ++i)
        keys.push_back("api|ip|10.0." + QByteArray::number(i / 256) + '.' +
                       QByteArray::number(i % 256));
    std::mt19937_64 rng(42);
    std::vector<int> order(1 << 20);
    for (int &k : order)
        k = int(rng() % kKeys);

    CoarseClock clock; // decisions compare against deadlines of milliseconds and more
    for (RateAlgorithm algorithm :
         {RateAlgorithm::TokenBucket, RateAlgorithm::SlidingLog, RateAlgorithm::SlidingCounter,
          RateAlgorithm::FixedWindow, RateAlgorithm::Gcra}) {
        LimitSpec spec;
        spec.algorithm = algorithm;
        spec.limit = 1000;
        spec.window = std::chrono::milliseconds(1000);
        const MemoryRateStore::AlgorithmPtr rule = RateLimitAlgorithm::create(spec);
        std::vector<double> store;
        std::vector<double> bare;
        quint64 allowed = 0;
        for (int run = 0; run < kRuns; ++run) {
            MemoryRateStore s({}, clock);
            auto begin = std::chrono::steady_clock::now();
            for (quint64 i = 0; i < kOps; ++i)
                allowed += s.decide(rule, keys[size_t(order[i & (order.size() - 1)])]).allowed;
            store.push_back(nsPerOp(begin, kOps));
            RateState state;
            const auto now = std::chrono::steady_clock::now();
            begin = std::chrono::steady_clock::now();
            for (quint64 i = 0; i < kOps; ++i)
                allowed += rule->decide(state, now + std::chrono::microseconds(i)).allowed;
            bare.push_back(nsPerOp(begin, kOps));
        }
        std::sort(store.begin(), store.end());
        std::sort(bare.begin(), bare.end());
        std::printf("decide_ns algorithm=%s store_median=%.1f store_min=%.1f store_max=%.1f "
                    "bare_median=%.1f allowed=%llu\n",
                    qPrintable(rateAlgorithmName(algorithm)), store[kRuns / 2], store.front(),
                    store.back(), bare[kRuns / 2], static_cast<unsigned long long>(allowed));
        std::fflush(stdout);
    }

    // The limiter as the stage calls it.
    std::vector<HttpRequest> requests(kKeys);
    for (int i = 0; i < kKeys; ++i) {
        requests[size_t(i)].method = "GET";
        requests[size_t(i)].path = QStringLiteral("/api/v1/activities");
        requests[size_t(i)].peer = QHostAddress(quint32((10u << 24) | quint32(i)));
    }
    RateLimitRuleConfig perIp;
    perIp.name = QStringLiteral("per_ip");
    perIp.route = QStringLiteral("/api/**");
    perIp.scope = {QStringLiteral("ip")};
    perIp.limit = 1'000'000;
    perIp.window = std::chrono::milliseconds(60'000);
    struct Case
    {
        const char *label;
        bool headers;
        const char *path;
    };
    for (const Case &c : {Case{"per_ip headers=on", true, "/api/v1/activities"},
                          Case{"per_ip headers=off", false, "/api/v1/activities"},
                          Case{"no_rule_matches", true, "/health"}}) {
        RateLimiter::Options options;
        options.legacyHeaders = c.headers;
        options.standardHeaders = c.headers;
        RateLimiter limiter(options, clock, nullptr);
        if (!limiter.setRules({perIp}).ok())
            return 1;
        for (HttpRequest &r : requests)
            r.path = QString::fromLatin1(c.path);
        std::vector<double> runs;
        quint64 passed = 0;
        constexpr quint64 kChecks = 1'000'000;
        for (int run = 0; run < kRuns; ++run) {
            const auto begin = std::chrono::steady_clock::now();
            for (quint64 i = 0; i < kChecks; ++i) {
                const RateLimitQuery query{requests[size_t(order[i & (order.size() - 1)])]};
                passed += limiter.check(query).allowed;
            }
            runs.push_back(nsPerOp(begin, kChecks));
        }
        std::sort(runs.begin(), runs.end());
        std::printf("check_ns rule=%s median=%.1f min=%.1f max=%.1f allowed=%llu\n", c.label,
                    runs[kRuns / 2], runs.front(), runs.back(),
                    static_cast<unsigned long long>(passed));
        std::fflush(stdout);
    }
    return 0;
}
