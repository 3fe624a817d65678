// SPDX-License-Identifier: GPL-3.0-or-later
// See TieredCache.h. The resync loop is the subtle part: a write that bumps a tag while a
// resync is reading versions from Redis leaves that tag dirty again, and the loop runs
// another round, so a local bump is never overwritten by an older Redis value and always
// reaches the other instances.
#include "TieredCache.h"

#include "Metrics.h"

#include <QDateTime>
#include <thread>

namespace bulwark {

namespace {

// KEYS: the tags' counters. ARGV[1]: channel, ARGV[2]: "<instance> tags", ARGV[3..]: tag
// names. INCRs every counter and publishes "<instance> tags name=version ..." atomically.
const QByteArray kBumpScript =
    QByteArrayLiteral("local msg = ARGV[2] local out = {} "
                      "for i, key in ipairs(KEYS) do local v = redis.call('INCR', key) out[i] = v "
                      "msg = msg .. ' ' .. ARGV[2 + i] .. '=' .. v end "
                      "redis.call('PUBLISH', ARGV[1], msg) return out");

enum Outcome
{
    kHit = 0,
    kMiss = 1,
    kStale = 2
};

QByteArray globEscape(QByteArrayView text)
{
    QByteArray out;
    out.reserve(text.size() + 8);
    for (char c : text) {
        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\')
            out.append('\\');
        out.append(c);
    }
    return out;
}

} // namespace

TieredCache::TieredCache(TieredCacheOptions options, const Clock &clock, TagVersions &tags,
                         RedisClient *redis)
    : m_options(std::move(options)), m_clock(clock), m_tags(tags), m_redis(redis),
      m_entryPrefix(m_options.keyPrefix + "cache:entry:"),
      m_channel(m_options.keyPrefix + "cache:invalidate"), m_steadyBase(clock.now()),
      m_wallBaseMs(QDateTime::currentMSecsSinceEpoch())
{
    if (m_options.memory)
        m_memory = std::make_unique<MemoryCache>(m_options.memoryOptions, clock);
}

TieredCache::~TieredCache()
{
    stopSubscriber();
}

void TieredCache::startSubscriber()
{
    if (!m_redis || m_subscriber)
        return;
    m_subscriber = std::make_unique<RedisSubscriber>(
        m_redis->options(), QByteArrayList{m_channel},
        [this](const QByteArray &, const QByteArray &message) { handleMessage(message); },
        [this] {
            // Messages may have been missed while disconnected: nothing from Redis is
            // trusted until the resync is done. A few quick tries here; after that the next
            // request retries (redisReady() stays false meanwhile).
            m_needResync.store(true, std::memory_order_release);
            for (int attempt = 0; attempt < 5 && !resync(); ++attempt)
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            m_redis->closeThreadConnection();
        });
    m_subscriber->start();
}

void TieredCache::stopSubscriber()
{
    if (m_subscriber)
        m_subscriber->stop();
}

qint64 TieredCache::nowMs() const
{
    return m_wallBaseMs +
           std::chrono::duration_cast<std::chrono::milliseconds>(m_clock.now() - m_steadyBase)
               .count();
}

QList<QByteArray> TieredCache::bumpCommand(const QList<int> &tags) const
{
    QList<QByteArray> args{QByteArrayLiteral("EVAL"), kBumpScript, QByteArray::number(tags.size())};
    for (int tag : tags)
        args.append(tagKey(tag));
    args.append(m_channel);
    args.append(m_options.instanceId + " tags");
    for (int tag : tags)
        args.append(m_tags.name(tag).toUtf8());
    return args;
}

QByteArray TieredCache::tagKey(int tag) const
{
    return m_options.keyPrefix + "cache:tag:" + m_tags.name(tag).toUtf8();
}

bool TieredCache::redisReady() const
{
    return m_redis && m_subscriber && m_subscriber->isSubscribed() &&
           !m_needResync.load(std::memory_order_acquire);
}

void TieredCache::countTier(Tier tier, int result)
{
    m_counts[int(tier)][result].fetch_add(1, std::memory_order_relaxed);
}

TieredCache::Hit TieredCache::classify(std::shared_ptr<const CachedResponse> entry, Tier tier,
                                       qint64 now)
{
    const bool stale = now >= entry->storedAtMs + entry->freshMs;
    const qint64 age = qMax<qint64>(0, now - entry->storedAtMs);
    countTier(tier, stale ? kStale : kHit);
    return Hit{std::move(entry), tier, stale, age};
}

std::optional<TieredCache::Hit> TieredCache::get(const QByteArray &key)
{
    if (auto hit = getMemory(key))
        return hit;
    return getRedis(key);
}

std::optional<TieredCache::Hit> TieredCache::getMemory(const QByteArray &key)
{
    if (!m_memory)
        return std::nullopt;
    const qint64 now = nowMs();
    if (CacheValuePtr value = m_memory->get(key)) {
        auto entry = std::static_pointer_cast<const CachedResponse>(value);
        if (m_tags.current(entry->tags) && now < entry->expiresAtMs())
            return classify(std::move(entry), Tier::Memory, now);
        m_memory->remove(key);
        m_invalidatedEntries.fetch_add(1, std::memory_order_relaxed);
    }
    countTier(Tier::Memory, kMiss);
    return std::nullopt;
}

std::optional<TieredCache::Hit> TieredCache::getRedis(const QByteArray &key)
{
    if (!m_redis)
        return std::nullopt;
    const qint64 now = nowMs();
    if (!redisReady()) {
        // Retry a resync that the subscriber could not finish, at most every 100 ms.
        qint64 last = m_lastResyncAttemptMs.load(std::memory_order_relaxed);
        if (m_subscriber && m_subscriber->isSubscribed() &&
            m_needResync.load(std::memory_order_acquire) && now - last >= 100 &&
            m_lastResyncAttemptMs.compare_exchange_strong(last, now))
            resync();
        if (!redisReady())
            return std::nullopt;
    }
    auto reply = m_redis->command({QByteArrayLiteral("GET"), entryKey(key)});
    if (!reply.ok()) {
        m_redisErrors.fetch_add(1, std::memory_order_relaxed);
        countTier(Tier::Redis, kMiss);
        return std::nullopt;
    }
    if (reply.value().type != RedisReply::Type::String) {
        countTier(Tier::Redis, kMiss);
        return std::nullopt;
    }
    std::shared_ptr<const CachedResponse> entry =
        CachedResponse::deserialize(reply.value().string, m_tags);
    if (!entry || !m_tags.current(entry->tags) || now >= entry->expiresAtMs()) {
        countTier(Tier::Redis, kMiss);
        return std::nullopt;
    }
    if (m_memory)
        m_memory->put(key, entry, std::chrono::milliseconds(entry->expiresAtMs() - now));
    return classify(std::move(entry), Tier::Redis, now);
}

void TieredCache::put(const QByteArray &key, std::shared_ptr<const CachedResponse> entry)
{
    const qint64 ttl = entry->expiresAtMs() - nowMs();
    if (ttl <= 0)
        return;
    bool stored = m_memory && m_memory->put(key, entry, std::chrono::milliseconds(ttl));
    if (redisReady()) {
        auto reply =
            m_redis->command({QByteArrayLiteral("SET"), entryKey(key), entry->serialize(m_tags),
                              QByteArrayLiteral("PX"), QByteArray::number(ttl)});
        if (reply.ok())
            stored = true;
        else
            m_redisErrors.fetch_add(1, std::memory_order_relaxed);
    }
    if (stored) // in at least one tier
        m_stores.fetch_add(1, std::memory_order_relaxed);
}

void TieredCache::invalidateTags(const QList<int> &tags)
{
    if (tags.isEmpty())
        return;
    m_tagInvalidations.fetch_add(quint64(tags.size()), std::memory_order_relaxed);
    const bool all = tags.contains(TagVersions::kAll);
    if (redisReady()) {
        auto reply = m_redis->command(bumpCommand(tags));
        if (reply.ok() && reply.value().type == RedisReply::Type::Array &&
            reply.value().elements.size() == tags.size()) {
            for (qsizetype i = 0; i < tags.size(); ++i)
                m_tags.raiseTo(tags.at(i), quint64(reply.value().elements.at(i).integer));
            if (all && m_memory)
                m_memory->clear();
            return;
        }
        m_redisErrors.fetch_add(1, std::memory_order_relaxed);
    }
    // Redis cannot be told now: bump here, remember it, and resync before L2 is used again.
    for (int tag : tags)
        m_tags.bump(tag);
    if (m_redis) {
        {
            std::lock_guard lock(m_dirtyMutex);
            for (int tag : tags)
                m_dirty.insert(tag);
        }
        m_needResync.store(true, std::memory_order_release);
    }
    if (all && m_memory)
        m_memory->clear();
}

bool TieredCache::resync()
{
    std::unique_lock lock(m_resyncMutex, std::try_to_lock);
    if (!lock.owns_lock())
        return false;
    for (int round = 0; round < 10; ++round) {
        QList<int> dirty;
        {
            std::lock_guard dirtyLock(m_dirtyMutex);
            dirty = m_dirty.values();
        }
        if (!dirty.isEmpty()) {
            auto pushed = m_redis->command(bumpCommand(dirty));
            if (!pushed.ok() || pushed.value().isError())
                return false;
            std::lock_guard dirtyLock(m_dirtyMutex);
            for (int tag : dirty)
                m_dirty.remove(tag);
        }
        QList<QByteArray> args{QByteArrayLiteral("MGET")};
        for (int tag = 0; tag < m_tags.size(); ++tag)
            args.append(tagKey(tag));
        auto versions = m_redis->command(args);
        if (!versions.ok() || versions.value().elements.size() != m_tags.size())
            return false;
        for (int tag = 0; tag < m_tags.size(); ++tag)
            m_tags.set(tag, versions.value().elements.at(tag).string.toULongLong());
        if (m_memory)
            m_memory->clear();
        std::lock_guard dirtyLock(m_dirtyMutex);
        if (m_dirty.isEmpty()) {
            m_needResync.store(false, std::memory_order_release);
            m_resyncs.fetch_add(1, std::memory_order_relaxed);
            return true;
        }
        // A write bumped a tag meanwhile: push it too, or set() above may have undone it.
    }
    return false;
}

void TieredCache::handleMessage(const QByteArray &message)
{
    m_messages.fetch_add(1, std::memory_order_relaxed);
    const qsizetype first = message.indexOf(' ');
    const qsizetype second = first < 0 ? -1 : message.indexOf(' ', first + 1);
    if (second < 0)
        return;
    const QByteArrayView from = QByteArrayView(message).first(first);
    const QByteArrayView kind = QByteArrayView(message).sliced(first + 1, second - first - 1);
    const QByteArrayView rest = QByteArrayView(message).sliced(second + 1);
    if (kind == "tags") {
        for (const QByteArray &pair : rest.toByteArray().split(' ')) {
            const qsizetype eq = pair.lastIndexOf('=');
            const int tag = eq < 0 ? -1 : m_tags.indexOf(QString::fromUtf8(pair.first(eq)));
            if (tag < 0)
                continue;
            m_tags.raiseTo(tag, pair.sliced(eq + 1).toULongLong());
            if (tag == TagVersions::kAll && m_memory && from != m_options.instanceId)
                m_memory->clear();
        }
    } else if (from == m_options.instanceId || !m_memory) {
        return; // done locally already
    } else if (kind == "key") {
        m_memory->remove(rest);
    } else if (kind == "prefix") {
        m_memory->removePrefix(rest);
    }
}

void TieredCache::publish(const QByteArray &what)
{
    if (!redisReady())
        return;
    if (!m_redis
             ->command({QByteArrayLiteral("PUBLISH"), m_channel, m_options.instanceId + ' ' + what})
             .ok())
        m_redisErrors.fetch_add(1, std::memory_order_relaxed);
}

qint64 TieredCache::invalidateKey(const QByteArray &key)
{
    m_keyInvalidations.fetch_add(1, std::memory_order_relaxed);
    qint64 removed = m_memory && m_memory->remove(key) ? 1 : 0;
    if (redisReady()) {
        auto reply = m_redis->command({QByteArrayLiteral("DEL"), entryKey(key)});
        if (reply.ok())
            removed += reply.value().integer;
        publish("key " + key);
    }
    return removed;
}

qint64 TieredCache::invalidatePrefix(const QByteArray &prefix)
{
    m_prefixInvalidations.fetch_add(1, std::memory_order_relaxed);
    qint64 removed = m_memory ? m_memory->removePrefix(prefix) : 0;
    if (!redisReady())
        return removed;
    // SCAN walks the keyspace in steps (never blocking Redis like KEYS); an admin action,
    // never on the request path.
    QByteArray cursor = "0";
    const QByteArray match = globEscape(entryKey(prefix)) + '*';
    do {
        auto page =
            m_redis->command({QByteArrayLiteral("SCAN"), cursor, QByteArrayLiteral("MATCH"), match,
                              QByteArrayLiteral("COUNT"), QByteArrayLiteral("1000")});
        if (!page.ok() || page.value().elements.size() != 2)
            break;
        cursor = page.value().elements.at(0).string;
        QList<QByteArray> unlink{QByteArrayLiteral("UNLINK")};
        for (const RedisReply &k : page.value().elements.at(1).elements)
            unlink.append(k.string);
        if (unlink.size() > 1) {
            auto done = m_redis->command(unlink);
            if (done.ok())
                removed += done.value().integer;
        }
    } while (cursor != "0");
    publish("prefix " + prefix);
    return removed;
}

void TieredCache::flush()
{
    m_flushes.fetch_add(1, std::memory_order_relaxed);
    invalidateTags({TagVersions::kAll});
}

bool TieredCache::redisDegraded() const
{
    return m_redis && !redisReady();
}

QString TieredCache::redisState() const
{
    if (!m_redis)
        return QStringLiteral("off");
    if (redisReady())
        return m_redis->breakerState() == CircuitBreaker::State::Closed ? QStringLiteral("up")
                                                                        : QStringLiteral("down");
    if (m_subscriber && m_subscriber->isSubscribed())
        return QStringLiteral("syncing");
    return QStringLiteral("down");
}

TieredCache::Stats TieredCache::stats() const
{
    Stats s;
    auto tier = [this](Tier t) {
        return TierStats{m_counts[int(t)][kHit].load(std::memory_order_relaxed),
                         m_counts[int(t)][kMiss].load(std::memory_order_relaxed),
                         m_counts[int(t)][kStale].load(std::memory_order_relaxed)};
    };
    s.memoryEnabled = m_memory != nullptr;
    if (m_memory)
        s.memory = m_memory->stats();
    s.memoryTier = tier(Tier::Memory);
    s.redisEnabled = m_redis != nullptr;
    s.redisTier = tier(Tier::Redis);
    s.redisErrors = m_redisErrors.load(std::memory_order_relaxed);
    s.stores = m_stores.load(std::memory_order_relaxed);
    s.invalidatedEntries = m_invalidatedEntries.load(std::memory_order_relaxed);
    s.tagInvalidations = m_tagInvalidations.load(std::memory_order_relaxed);
    s.keyInvalidations = m_keyInvalidations.load(std::memory_order_relaxed);
    s.prefixInvalidations = m_prefixInvalidations.load(std::memory_order_relaxed);
    s.flushes = m_flushes.load(std::memory_order_relaxed);
    s.messagesReceived = m_messages.load(std::memory_order_relaxed);
    s.resyncs = m_resyncs.load(std::memory_order_relaxed);
    s.redisReady = redisReady();
    return s;
}

QList<TieredCache::KeyInfo> TieredCache::memoryKeys(QByteArrayView prefix, QByteArrayView after,
                                                    int limit) const
{
    QList<KeyInfo> out;
    if (!m_memory)
        return out;
    for (const MemoryCacheKeyInfo &k : m_memory->keys(prefix, after, limit))
        out.append({k.key, k.bytes, k.ttlMs});
    return out;
}

Result<TieredCache::RedisKeyPage> TieredCache::redisKeys(const QByteArray &prefix,
                                                         const QByteArray &cursor, int limit)
{
    if (!m_redis)
        return Error{ErrorCode::NotFound, QStringLiteral("no Redis tier is configured")};
    auto page = m_redis->command({QByteArrayLiteral("SCAN"), cursor.isEmpty() ? "0" : cursor,
                                  QByteArrayLiteral("MATCH"), globEscape(entryKey(prefix)) + '*',
                                  QByteArrayLiteral("COUNT"), QByteArray::number(limit)});
    if (!page.ok())
        return page.error();
    if (page.value().elements.size() != 2)
        return Error{ErrorCode::Internal, QStringLiteral("unexpected SCAN reply")};
    RedisKeyPage out;
    out.cursor = page.value().elements.at(0).string;
    const QList<RedisReply> &keys = page.value().elements.at(1).elements;
    if (keys.isEmpty())
        return out;
    // One round trip for the sizes and TTLs of the whole page.
    QList<QList<QByteArray>> commands;
    for (const RedisReply &k : keys) {
        commands.append({QByteArrayLiteral("STRLEN"), k.string});
        commands.append({QByteArrayLiteral("PTTL"), k.string});
    }
    auto details = m_redis->pipeline(commands);
    for (qsizetype i = 0; i < keys.size(); ++i) {
        KeyInfo info;
        info.key = keys.at(i).string.mid(m_entryPrefix.size());
        if (details.ok() && details.value().size() == commands.size()) {
            info.bytes = details.value().at(2 * i).integer;
            info.ttlMs = details.value().at(2 * i + 1).integer;
        }
        out.keys.append(info);
    }
    return out;
}

void TieredCache::addMetrics(MetricsRegistry &registry)
{
    registry.addCollector([this](QByteArray &out) {
        const Stats s = stats();
        auto head = [&out](const char *name, const char *type, const char *help) {
            out.append("# HELP ").append(name).append(' ').append(help).append('\n');
            out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
        };
        auto line = [&out](const char *name, const QByteArray &labels, double v) {
            out.append(name);
            if (!labels.isEmpty())
                out.append('{').append(labels).append('}');
            out.append(' ').append(MetricsRegistry::formatNumber(v)).append('\n');
        };
        head("bulwark_cache_requests_total", "counter",
             "Response-cache lookups by tier and result (hit, miss, stale).");
        for (const auto &[tier, name] :
             {std::pair{Tier::Memory, "memory"}, {Tier::Redis, "redis"}}) {
            if ((tier == Tier::Memory && !s.memoryEnabled) ||
                (tier == Tier::Redis && !s.redisEnabled))
                continue;
            const TierStats &t = tier == Tier::Memory ? s.memoryTier : s.redisTier;
            const QByteArray base = QByteArray("tier=\"") + name + "\",result=";
            line("bulwark_cache_requests_total", base + "\"hit\"", double(t.hits));
            line("bulwark_cache_requests_total", base + "\"miss\"", double(t.misses));
            line("bulwark_cache_requests_total", base + "\"stale\"", double(t.stale));
        }
        if (s.memoryEnabled) {
            head("bulwark_cache_evictions_total", "counter",
                 "Entries the memory tier removed to stay within cache.memory.max_bytes.");
            line("bulwark_cache_evictions_total", "tier=\"memory\"", double(s.memory.evictions));
            head("bulwark_cache_expirations_total", "counter",
                 "Entries the memory tier removed because their time to live had passed.");
            line("bulwark_cache_expirations_total", "tier=\"memory\"",
                 double(s.memory.expirations));
            head("bulwark_cache_entries", "gauge", "Entries held by the memory tier.");
            line("bulwark_cache_entries", "tier=\"memory\"", double(s.memory.entries));
            head("bulwark_cache_bytes", "gauge", "Bytes held by the memory tier.");
            line("bulwark_cache_bytes", "tier=\"memory\"", double(s.memory.bytes));
            head("bulwark_cache_max_bytes", "gauge", "The memory tier's byte bound.");
            line("bulwark_cache_max_bytes", "tier=\"memory\"", double(s.memory.maxBytes));
        }
        head("bulwark_cache_invalidations_total", "counter",
             "Invalidations by kind: tag (a write changed a collection), key, prefix, flush.");
        line("bulwark_cache_invalidations_total", "kind=\"tag\"", double(s.tagInvalidations));
        line("bulwark_cache_invalidations_total", "kind=\"key\"", double(s.keyInvalidations));
        line("bulwark_cache_invalidations_total", "kind=\"prefix\"", double(s.prefixInvalidations));
        line("bulwark_cache_invalidations_total", "kind=\"flush\"", double(s.flushes));
        if (m_redis) {
            const RedisClient::Stats r = m_redis->stats();
            head("bulwark_redis_errors_total", "counter",
                 "Redis calls that failed (unreachable, timed out, or refused by the open "
                 "circuit breaker).");
            line("bulwark_redis_errors_total", {}, double(r.failures));
            head("bulwark_redis_breaker_state", "gauge",
                 "Redis circuit breaker: 0 closed, 1 half-open, 2 open.");
            const CircuitBreaker::State b = m_redis->breakerState();
            line("bulwark_redis_breaker_state", {},
                 b == CircuitBreaker::State::Closed     ? 0
                 : b == CircuitBreaker::State::HalfOpen ? 1
                                                        : 2);
            head("bulwark_cache_redis_up", "gauge",
                 "1 while the Redis tier is in use (connected and in sync), else 0.");
            line("bulwark_cache_redis_up", {}, s.redisReady ? 1 : 0);
        }
    });
}

} // namespace bulwark
