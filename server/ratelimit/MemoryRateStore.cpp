// SPDX-License-Identifier: GPL-3.0-or-later
// See MemoryRateStore.h. The map is a QHash keyed by the bytes and their hash, so a
// decision hashes once and allocates nothing; only a new key copies its bytes (into the
// node itself when they are short).
#include "MemoryRateStore.h"

#include "WordHash.h"

#include <QVarLengthArray>
#include <bit>
#include <cstring>
#include <mutex>
#include <QHash>

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

// A key with its hash, so the map never hashes again. A stored key owns its bytes (inside
// the map's node when they are short: rule, scope and an address or id fit in 48); a key
// built for a lookup only points at the caller's, so a decision allocates nothing.
struct StoredKey
{
    QVarLengthArray<char, 48> owned;
    const char *external = nullptr; // lookups: the caller's bytes
    qsizetype externalSize = 0;
    size_t hash = 0;
    QByteArrayView view() const
    {
        return external ? QByteArrayView(external, externalSize)
                        : QByteArrayView(owned.constData(), owned.size());
    }
    bool operator==(const StoredKey &other) const
    {
        return hash == other.hash && view() == other.view();
    }
};
inline size_t qHash(const StoredKey &key, size_t /*seed*/)
{
    return key.hash; // wordHash already; see fastHash
}

struct Entry
{
    MemoryRateStore::AlgorithmPtr algorithm;
    RateState state;
};

} // namespace

struct MemoryRateStore::Shard
{
    std::mutex mutex;
    // Qt's QHash keeps nodes in arrays per span (no allocation per key), so a lookup
    // touches the span's offsets and the node: two cache lines where std::unordered_map
    // touched three (bucket, the node before, the node).
    QHash<StoredKey, Entry> keys;
    RateTime lastIdleSweep{};

    qint64 dropIdle(RateTime now)
    {
        qint64 dropped = 0;
        for (auto it = keys.begin(); it != keys.end();) {
            if (it->algorithm->idle(it->state, now)) {
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
    StoredKey probe;
    probe.external = key.data();
    probe.externalSize = key.size();
    probe.hash = fastHash(key);
    Shard &shard = shardFor(probe.hash);
    std::lock_guard lock(shard.mutex);
    auto it = shard.keys.find(probe);
    if (it == shard.keys.end()) {
        if (qint64(shard.keys.size()) >= m_maxPerShard) {
            if (now - shard.lastIdleSweep >= std::chrono::seconds(1))
                shard.dropIdle(now);
            if (qint64(shard.keys.size()) >= m_maxPerShard) {
                // Full of live keys: decide on a fresh state and keep nothing (the request
                // passes as a first one would). Evicting instead would reset a live key,
                // and finding one to evict in a QHash is a scan from its first bucket.
                m_untracked.fetch_add(1, std::memory_order_relaxed);
                RateState fresh;
                return algorithm->decide(fresh, now, cost);
            }
        }
        StoredKey stored;
        stored.owned.append(key.data(), key.size());
        stored.hash = probe.hash;
        it = shard.keys.emplace(std::move(stored), Entry{algorithm, {}});
    } else if (it->algorithm != algorithm) {
        *it = Entry{algorithm, {}}; // the rule changed: start afresh under it
    }
    return algorithm->decide(it->state, now, cost);
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
