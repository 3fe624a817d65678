// SPDX-License-Identifier: GPL-3.0-or-later
// The two cache tiers behind one interface: MemoryCache in this process (L1) in front of
// Redis shared by all instances (L2), either of which can be switched off.
//
// get() asks L1, then L2 (and copies an L2 hit into L1). An entry counts only while its
// tag versions are current (TagVersions) and it has not outlived its stale window; a
// stale-but-servable entry is returned with `stale` set. put() writes both tiers.
//
// Invalidation across instances: a write bumps its tags through one Lua script that
// INCRs each tag's counter in Redis and PUBLISHes the new versions; every instance's
// RedisSubscriber raises its local copy, which makes the entries in its L1 unreachable
// (they are dropped when next met, or evicted). Keys and prefixes are invalidated with
// DEL / SCAN+UNLINK plus a message. No KEYS anywhere.
//
// Redis down: the breaker fails calls fast, L2 is skipped, and writes bump local versions
// only, remembering which tags they bumped. Messages published meanwhile are lost, so L2
// is trusted again only after a resync: push the remembered bumps, read every tag's version
// from Redis, and clear L1 (entries in it may predate writes made on other instances
// during the outage). The resync runs when the subscriber reconnects, or after an
// invalidation failed to reach Redis.
#pragma once

#include "CachedResponse.h"
#include "Clock.h"
#include "Error.h"
#include "MemoryCache.h"
#include "RedisClient.h"
#include "RedisSubscriber.h"
#include "TagVersions.h"

#include <QByteArray>
#include <QSet>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>

namespace bulwark {

class MetricsRegistry;

struct TieredCacheOptions
{
    bool memory = true;
    MemoryCacheOptions memoryOptions;
    QByteArray keyPrefix = "bulwark:"; // Redis keys: <prefix>cache:entry:<key>
    QByteArray instanceId;             // tells this instance's own messages apart
};

class TieredCache
{
public:
    enum class Tier
    {
        Memory,
        Redis
    };
    struct Hit
    {
        std::shared_ptr<const CachedResponse> entry;
        Tier tier = Tier::Memory;
        bool stale = false;
        qint64 ageMs = 0;
    };
    struct TierStats
    {
        quint64 hits = 0;
        quint64 misses = 0;
        quint64 stale = 0;
    };
    struct Stats
    {
        bool memoryEnabled = false;
        MemoryCacheStats memory;
        TierStats memoryTier;
        bool redisEnabled = false;
        TierStats redisTier;
        quint64 redisErrors = 0;        // L2 calls that failed (entry treated as a miss)
        quint64 stores = 0;             // entries stored in at least one tier
        quint64 invalidatedEntries = 0; // dropped because a tag moved
        quint64 tagInvalidations = 0;
        quint64 keyInvalidations = 0;
        quint64 prefixInvalidations = 0;
        quint64 flushes = 0;
        quint64 messagesReceived = 0;
        quint64 resyncs = 0;
        bool redisReady = false; // subscribed and in sync: L2 in use
    };
    struct KeyInfo
    {
        QByteArray key;
        qint64 bytes = 0;
        qint64 ttlMs = 0;
    };
    struct RedisKeyPage
    {
        QList<KeyInfo> keys;
        QByteArray cursor; // "0": no more
    };

    // redis may be null (no L2). Call startSubscriber() once the rest is wired.
    TieredCache(TieredCacheOptions options, const Clock &clock, TagVersions &tags,
                RedisClient *redis);
    ~TieredCache();
    Q_DISABLE_COPY_MOVE(TieredCache)

    void startSubscriber();
    void stopSubscriber();

    std::optional<Hit> get(const QByteArray &key); // getMemory(), then getRedis()
    // The tiers one at a time, for a caller that has work to do between them. A miss is
    // counted per tier asked.
    std::optional<Hit> getMemory(const QByteArray &key);
    std::optional<Hit> getRedis(const QByteArray &key);
    // Stores the entry (storedAtMs, freshMs, staleMs and tags already set) in both tiers.
    void put(const QByteArray &key, std::shared_ptr<const CachedResponse> entry);

    // After a committed write: bumps each tag (O(1) per tag, whatever the entry count).
    void invalidateTags(const QList<int> &tags);
    // Admin: returns the entries removed (L1 and L2 together, as far as known).
    qint64 invalidateKey(const QByteArray &key);
    qint64 invalidatePrefix(const QByteArray &prefix);
    void flush(); // bumps "*": every entry in every instance becomes invalid

    // Wall-clock milliseconds as this cache sees them (driven by the injected Clock).
    qint64 nowMs() const;

    Stats stats() const;
    bool memoryEnabled() const { return m_memory != nullptr; }
    bool redisEnabled() const { return m_redis != nullptr; }
    // Redis configured but not in use right now (down, breaker open, not yet in sync).
    bool redisDegraded() const;
    QString redisState() const; // "off", "up", "connecting", "down"
    QList<KeyInfo> memoryKeys(QByteArrayView prefix, QByteArrayView after, int limit) const;
    Result<RedisKeyPage> redisKeys(const QByteArray &prefix, const QByteArray &cursor, int limit);
    TagVersions &tags() { return m_tags; }
    void addMetrics(MetricsRegistry &registry);

private:
    bool redisReady() const;
    QByteArray entryKey(QByteArrayView key) const { return m_entryPrefix + key.toByteArray(); }
    QByteArray tagKey(int tag) const;
    // The EVAL of kBumpScript that INCRs these tags and publishes their new versions.
    QList<QByteArray> bumpCommand(const QList<int> &tags) const;
    void handleMessage(const QByteArray &message);
    // Pushes local bumps, reads all versions, clears L1. Any thread; one at a time.
    bool resync();
    void publish(const QByteArray &what);
    void countTier(Tier tier, int result);
    Hit classify(std::shared_ptr<const CachedResponse> entry, Tier tier, qint64 now);

    TieredCacheOptions m_options;
    const Clock &m_clock;
    TagVersions &m_tags;
    RedisClient *m_redis;
    std::unique_ptr<MemoryCache> m_memory;
    std::unique_ptr<RedisSubscriber> m_subscriber;
    QByteArray m_entryPrefix;
    QByteArray m_channel;
    std::chrono::steady_clock::time_point m_steadyBase;
    qint64 m_wallBaseMs;

    std::atomic<bool> m_needResync{true};
    std::atomic<qint64> m_lastResyncAttemptMs{0};
    std::mutex m_resyncMutex;
    std::mutex m_dirtyMutex;
    QSet<int> m_dirty; // tags bumped locally while Redis could not be told

    // [tier][hit, miss, stale]
    std::atomic<quint64> m_counts[2][3] = {};
    std::atomic<quint64> m_redisErrors{0};
    std::atomic<quint64> m_stores{0};
    std::atomic<quint64> m_invalidatedEntries{0};
    std::atomic<quint64> m_tagInvalidations{0};
    std::atomic<quint64> m_keyInvalidations{0};
    std::atomic<quint64> m_prefixInvalidations{0};
    std::atomic<quint64> m_flushes{0};
    std::atomic<quint64> m_messages{0};
    std::atomic<quint64> m_resyncs{0};
};

} // namespace bulwark
