// SPDX-License-Identifier: GPL-3.0-or-later
// See MemoryRateStore.h. The map is a std::unordered_map keyed by the bytes and their
// hash, with transparent lookup, so a decision hashes once and allocates nothing; only a
// new key copies its bytes (into the node itself when they are short).
#include "MemoryRateStore.h"

#include "WordHash.h"

#include <QVarLengthArray>
#include <bit>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace bulwark {

namespace {

// Keys are hashed once per decision (wordHash, WordHash.h) and the value serves both the
// shard and the map. Qt's qHash (SipHash with a random seed) was a third of a decision's
// time. Keys are rule and scope values the server builds (user ids, addresses), and every
// shard's map is bounded.
inline size_t fastHash(QByteArrayView key)
{
    return size_t(wordHash(key));
}

// A key with its hash, so the map never hashes again; lookups use a view (no allocation).
// Short keys (rule, scope and an address or id fit in 48 bytes) are kept inside the map's
// node, so a lookup touches one allocation, not two.
struct StoredKey
{
    QVarLengthArray<char, 48> bytes;
    size_t hash;
    QByteArrayView view() const { return QByteArrayView(bytes.constData(), bytes.size()); }
};
struct KeyView
{
    QByteArrayView bytes;
    size_t hash;
};

struct KeyHash
{
    using is_transparent = void;
    size_t operator()(const StoredKey &k) const { return k.hash; }
    size_t operator()(const KeyView &k) const { return k.hash; }
};

struct KeyEqual
{
    using is_transparent = void;
    bool operator()(const StoredKey &a, const StoredKey &b) const { return a.view() == b.view(); }
    bool operator()(const StoredKey &a, const KeyView &b) const { return a.view() == b.bytes; }
    bool operator()(const KeyView &a, const StoredKey &b) const { return a.bytes == b.view(); }
};

struct Entry
{
    MemoryRateStore::AlgorithmPtr algorithm;
    RateState state;
};

} // namespace

struct MemoryRateStore::Shard
{
    std::mutex mutex;
    std::unordered_map<StoredKey, Entry, KeyHash, KeyEqual> keys;
    RateTime lastIdleSweep{};

    qint64 dropIdle(RateTime now)
    {
        qint64 dropped = 0;
        for (auto it = keys.begin(); it != keys.end();) {
            if (it->second.algorithm->idle(it->second.state, now)) {
                it = keys.erase(it);
                ++dropped;
            } else {
                ++it;
            }
        }
        lastIdleSweep = now;
        return dropped;
    }
};

MemoryRateStore::MemoryRateStore(Options options, const Clock &clock) : m_clock(clock)
{
    const size_t shards = std::bit_ceil(size_t(qMax(1, options.shards)));
    m_shardMask = shards - 1;
    m_maxPerShard = qMax<qint64>(1, options.maxKeys / qint64(shards));
    for (size_t i = 0; i < shards; ++i)
        m_shards.push_back(std::make_unique<Shard>());
}

MemoryRateStore::~MemoryRateStore() = default;

MemoryRateStore::Shard &MemoryRateStore::shardFor(size_t hash) const
{
    // The high bits: the map uses the same hash's low bits for its buckets.
    return *m_shards[(hash >> 48) & m_shardMask];
}

RateDecision MemoryRateStore::decide(const AlgorithmPtr &algorithm, QByteArrayView key, qint64 cost)
{
    const RateTime now = m_clock.now();
    const KeyView view{key, fastHash(key)};
    Shard &shard = shardFor(view.hash);
    std::lock_guard lock(shard.mutex);
    auto it = shard.keys.find(view);
    if (it == shard.keys.end()) {
        if (qint64(shard.keys.size()) >= m_maxPerShard) {
            if (now - shard.lastIdleSweep >= std::chrono::seconds(1))
                shard.dropIdle(now);
            if (qint64(shard.keys.size()) >= m_maxPerShard) {
                shard.keys.erase(shard.keys.begin());
                m_evictions.fetch_add(1, std::memory_order_relaxed);
            }
        }
        StoredKey stored{{}, view.hash};
        stored.bytes.append(key.data(), key.size());
        it = shard.keys.emplace(std::move(stored), Entry{algorithm, {}}).first;
    } else if (it->second.algorithm != algorithm) {
        it->second = Entry{algorithm, {}}; // the rule changed: start afresh under it
    }
    return algorithm->decide(it->second.state, now, cost);
}

qint64 MemoryRateStore::sweep()
{
    const RateTime now = m_clock.now();
    qint64 dropped = 0;
    for (const auto &shard : m_shards) {
        std::lock_guard lock(shard->mutex);
        dropped += shard->dropIdle(now);
    }
    return dropped;
}

qint64 MemoryRateStore::size() const
{
    qint64 n = 0;
    for (const auto &shard : m_shards) {
        std::lock_guard lock(shard->mutex);
        n += qint64(shard->keys.size());
    }
    return n;
}

} // namespace bulwark
