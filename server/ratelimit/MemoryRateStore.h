// SPDX-License-Identifier: GPL-3.0-or-later
// Rate-limit state kept in this process: a map from a key (rule and scope value, e.g.
// "api|u42") to its RateState, split into shards with one mutex each so that worker
// threads rarely meet. Decisions for one key are serialised by its shard's lock, so two
// concurrent requests of one client never both take the last token.
//
// Each entry remembers the algorithm (the rule's, shared) it was decided with. When a
// rule is changed live, its keys start afresh under the new limits at their next request.
//
// Bounded: a shard holds at most maxKeys / shards keys. When one is full it drops the keys
// whose state no longer matters (RateLimitAlgorithm::idle: a fresh state would decide the
// same), at most once a second, and if it is still full a new key is decided on a fresh
// state that is not kept (untracked(): it passes as a first request would, until room
// frees up). Keys already held keep their state, and the bound errs on the side of
// letting requests through, never of refusing them. sweep() drops idle keys in every
// shard; the owner runs it every few seconds.
#pragma once

#include "Clock.h"
#include "RateLimitAlgorithm.h"

#include <QByteArray>
#include <QByteArrayView>
#include <atomic>
#include <memory>
#include <vector>

namespace bulwark {

class MemoryRateStore
{
public:
    struct Options
    {
        int shards = 64; // rounded up to a power of two
        qint64 maxKeys = 1'000'000;
    };
    using AlgorithmPtr = std::shared_ptr<const RateLimitAlgorithm>;

    MemoryRateStore(Options options, const Clock &clock);
    ~MemoryRateStore();
    Q_DISABLE_COPY_MOVE(MemoryRateStore)

    RateDecision decide(const AlgorithmPtr &algorithm, QByteArrayView key, qint64 cost = 1);
    qint64 sweep(); // returns the keys dropped
    qint64 size() const;
    // Decisions made without keeping state because the key's shard was full of live keys.
    quint64 untracked() const { return m_untracked.load(std::memory_order_relaxed); }

private:
    struct Shard;
    Shard &shardFor(size_t hash) const;

    const Clock &m_clock;
    qint64 m_maxPerShard;
    std::vector<std::unique_ptr<Shard>> m_shards;
    size_t m_shardMask;
    std::atomic<quint64> m_untracked{0};
};

} // namespace bulwark
