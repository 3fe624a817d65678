// SPDX-License-Identifier: GPL-3.0-or-later
// The in-process cache tier: a byte-bounded, sharded map from keys to immutable values
// with a per-entry time to live.
//
// Eviction is W-TinyLFU (Einziger, Friedman, Manes: "TinyLFU: A Highly Efficient Cache
// Admission Policy", 2017, as in Caffeine): each shard has a small LRU window (1 % of its
// bytes) in front of a segmented-LRU main area (probation 20 %, protected 80 %). An entry
// leaving the window enters the main area only if a count-min sketch of recent access
// frequencies (4-bit counters, halved periodically so that old popularity fades) says it
// is used more often than the entry it would push out. One-hit wonders and scans therefore
// pass through the window without flushing the popular entries, which is where plain LRU
// loses (bench/cache_bench measures both on the same traces). Eviction::Lru turns the
// admission filter off (the whole shard is one LRU list) for that comparison.
//
// Sharding: the key's 64-bit hash picks a shard; each shard has its own mutex, map, lists
// and sketch, so threads rarely meet. Sizes are charged as key bytes + value->byteSize() +
// kEntryOverhead, and no shard ever holds more than its share of max_bytes: the byte bound
// holds at every instant, not just on average. An entry larger than a shard's share is not
// stored (put returns false).
//
// Expiry is checked on access (an expired entry is a miss and is removed) and when entries
// reach the eviction end of a list; both count as expirations. Time comes from the
// injected Clock (the server passes a CoarseClock: expiry at the kernel tick's resolution, a
// few ms) so tests move time by hand.
#pragma once

#include "CacheValue.h"
#include "Clock.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <chrono>
#include <memory>
#include <vector>

namespace bulwark {

struct MemoryCacheOptions
{
    enum class Eviction
    {
        TinyLfu,
        Lru // plain LRU of the same byte budget, for comparisons
    };
    qint64 maxBytes = 128 * 1024 * 1024;
    int shards = 0; // 0: 64; otherwise rounded up to a power of two
    Eviction eviction = Eviction::TinyLfu;
};

struct MemoryCacheStats
{
    quint64 hits = 0;
    quint64 misses = 0;
    quint64 evictions = 0;   // removed to make room (admission losers included)
    quint64 expirations = 0; // removed because their TTL passed
    quint64 rejected = 0;    // put() of a value larger than a shard
    qint64 entries = 0;
    qint64 bytes = 0;
    qint64 maxBytes = 0;
};

struct MemoryCacheKeyInfo
{
    QByteArray key;
    qint64 bytes = 0; // charged bytes
    qint64 ttlMs = 0; // remaining time to live
};

class MemoryCache
{
public:
    // Bytes charged per entry besides its key and value (node, map slot, list links).
    // At least what an entry really costs on x86-64 glibc (see MemoryCache.cpp), so that
    // max_bytes bounds the memory used, not just the bytes counted.
    static constexpr qint64 kEntryOverhead = 144;

    MemoryCache(MemoryCacheOptions options, const Clock &clock);
    ~MemoryCache();
    Q_DISABLE_COPY_MOVE(MemoryCache)

    // The value, or null on a miss or an expired entry. Counts a hit or a miss and records
    // the access in the frequency sketch.
    CacheValuePtr get(QByteArrayView key);
    // Stores or replaces. ttl <= 0 is not stored. Returns false when the entry is larger
    // than a shard can hold (counted in `rejected`). A new entry may be evicted at once by
    // the admission filter; that still returns true.
    bool put(const QByteArray &key, CacheValuePtr value, std::chrono::milliseconds ttl);
    bool remove(QByteArrayView key);
    // Removes every key starting with prefix; returns how many. Walks all shards (admin use).
    qint64 removePrefix(QByteArrayView prefix);
    void clear();

    MemoryCacheStats stats() const;
    // Keys starting with prefix, sorted, strictly after `after` (empty: from the start), at
    // most limit of them; expired entries are left out. Walks all shards (admin use).
    QList<MemoryCacheKeyInfo> keys(QByteArrayView prefix, QByteArrayView after, int limit) const;

    qint64 maxBytes() const { return m_maxBytes; }

private:
    struct Shard;
    Shard &shardFor(quint64 hash) const;
    quint64 hashOf(QByteArrayView key) const;

    const Clock &m_clock;
    qint64 m_maxBytes;
    quint64 m_seed; // hash seed: QHashSeed::globalSeed()
    std::vector<std::unique_ptr<Shard>> m_shards;
    quint64 m_shardMask;
};

} // namespace bulwark
