// SPDX-License-Identifier: GPL-3.0-or-later
// MemoryCache: hits, misses and stats; TTL at the exact boundary with a ManualClock;
// replacement and byte accounting; the byte bound under 100 000 random operations for both
// eviction policies (checked after every operation against a model of what may be
// returned); rejection of entries larger than a shard; exact LRU order; TinyLFU keeping
// popular keys through a scan that flushes plain LRU; remove, removePrefix, clear and keys()
// paging; four threads at once with a final consistency check.

#include "ManualClock.h"
#include "MemoryCache.h"

#include <QTest>
#include <algorithm>
#include <atomic>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

using namespace bulwark;
using bulwark::test::ManualClock;
using namespace std::chrono_literals;
using Eviction = MemoryCacheOptions::Eviction;

Q_DECLARE_METATYPE(MemoryCacheOptions::Eviction)

namespace {

class TestValue final : public CacheValue
{
public:
    explicit TestValue(qint64 size, int tag = 0) : m_size(size), m_tag(tag) {}
    qint64 byteSize() const override { return m_size; }
    int tag() const { return m_tag; }

private:
    qint64 m_size;
    int m_tag;
};

std::shared_ptr<const TestValue> value(qint64 size, int tag = 0)
{
    return std::make_shared<const TestValue>(size, tag);
}

int tagOf(const CacheValuePtr &v)
{
    return v ? static_cast<const TestValue &>(*v).tag() : -1;
}

qint64 charge(const QByteArray &key, qint64 valueSize)
{
    return key.size() + valueSize + MemoryCache::kEntryOverhead;
}

MemoryCacheOptions options(qint64 maxBytes, int shards, Eviction eviction = Eviction::TinyLfu)
{
    MemoryCacheOptions o;
    o.maxBytes = maxBytes;
    o.shards = shards;
    o.eviction = eviction;
    return o;
}

QByteArray key(const char *prefix, int i)
{
    return QByteArray(prefix) + QByteArray::number(i).rightJustified(6, '0');
}

// Present and fresh, without counting a request.
bool has(const MemoryCache &cache, const QByteArray &k)
{
    const auto found = cache.keys(k, "", 1);
    return !found.isEmpty() && found.first().key == k;
}

void addPolicyRows()
{
    QTest::addColumn<Eviction>("eviction");
    QTest::newRow("tinylfu") << Eviction::TinyLfu;
    QTest::newRow("lru") << Eviction::Lru;
}

} // namespace

class TestMemoryCache : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // Same hash seed every run, so a failure reproduces (the cache seeds from it).
    void initTestCase() { QHashSeed::setDeterministicGlobalSeed(); }

    void hitMissAndStats_data() { addPolicyRows(); }
    void hitMissAndStats()
    {
        QFETCH(Eviction, eviction);
        ManualClock clock;
        MemoryCache cache(options(1 << 20, 4, eviction), clock);
        QCOMPARE(cache.maxBytes(), qint64(1 << 20));

        QVERIFY(!cache.get("a"));
        const auto v = value(100, 7);
        QVERIFY(cache.put("a", v, 10s));
        const CacheValuePtr got = cache.get("a");
        QVERIFY(got);
        QCOMPARE(got.get(), v.get()); // the same object, not a copy
        QVERIFY(cache.get(QByteArrayView("a")));
        QVERIFY(!cache.get("b"));

        const MemoryCacheStats s = cache.stats();
        QCOMPARE(s.hits, quint64(2));
        QCOMPARE(s.misses, quint64(2));
        QCOMPARE(s.entries, qint64(1));
        QCOMPARE(s.bytes, charge("a", 100));
        QCOMPARE(s.maxBytes, qint64(1 << 20));
        QCOMPARE(s.evictions, quint64(0));
        QCOMPARE(s.expirations, quint64(0));
        QCOMPARE(s.rejected, quint64(0));
    }

    void emptyKeyAndBinaryKeys()
    {
        ManualClock clock;
        MemoryCache cache(options(1 << 20, 2), clock);
        QVERIFY(cache.put(QByteArray(), value(1, 1), 1s));
        const QByteArray binary("a\0b", 3);
        QVERIFY(cache.put(binary, value(1, 2), 1s));
        QVERIFY(cache.put("a", value(1, 3), 1s));
        QCOMPARE(tagOf(cache.get(QByteArrayView())), 1);
        QCOMPARE(tagOf(cache.get(binary)), 2);
        QCOMPARE(tagOf(cache.get("a")), 3);
        QVERIFY(!cache.get(QByteArray("a\0c", 3)));
    }

    void ttlBoundary_data()
    {
        QTest::addColumn<Eviction>("eviction");
        QTest::addColumn<int>("ttlMs");
        QTest::newRow("tinylfu-1ms") << Eviction::TinyLfu << 1;
        QTest::newRow("tinylfu-1000ms") << Eviction::TinyLfu << 1000;
        QTest::newRow("lru-1ms") << Eviction::Lru << 1;
        QTest::newRow("lru-60000ms") << Eviction::Lru << 60000;
    }
    void ttlBoundary()
    {
        QFETCH(Eviction, eviction);
        QFETCH(int, ttlMs);
        ManualClock clock;
        MemoryCache cache(options(1 << 20, 4, eviction), clock);
        QVERIFY(cache.put("k", value(10), std::chrono::milliseconds(ttlMs)));
        clock.advance(std::chrono::milliseconds(ttlMs - 1));
        QVERIFY(cache.get("k")); // ttl - 1 ms: still fresh
        clock.advance(1ms);
        QVERIFY(!cache.get("k")); // exactly ttl: expired
        const MemoryCacheStats s = cache.stats();
        QCOMPARE(s.hits, quint64(1));
        QCOMPARE(s.misses, quint64(1));
        QCOMPARE(s.expirations, quint64(1));
        QCOMPARE(s.entries, qint64(0)); // the expired entry was removed on access
        QCOMPARE(s.bytes, qint64(0));
    }

    void nonPositiveTtlAndNullValueAreNotStored()
    {
        ManualClock clock;
        MemoryCache cache(options(1 << 20, 4), clock);
        QVERIFY(!cache.put("zero", value(1), 0ms));
        QVERIFY(!cache.put("negative", value(1), -5ms));
        QVERIFY(!cache.put("null", nullptr, 5s));
        QCOMPARE(cache.stats().entries, qint64(0));
        QCOMPARE(cache.stats().rejected, quint64(0));
        // A zero TTL also drops what was there: the caller's newer value is already stale.
        QVERIFY(cache.put("k", value(1), 5s));
        QVERIFY(!cache.put("k", value(1), 0ms));
        QVERIFY(!cache.get("k"));
    }

    void hugeTtlDoesNotOverflow()
    {
        ManualClock clock;
        MemoryCache cache(options(1 << 20, 1), clock);
        QVERIFY(cache.put("k", value(1), std::chrono::milliseconds::max()));
        clock.advance(std::chrono::hours(24 * 365 * 100));
        QVERIFY(cache.get("k"));
        const auto keys = cache.keys("", "", 10);
        QCOMPARE(keys.size(), 1);
        QVERIFY(keys[0].ttlMs > 0);
    }

    void replaceUpdatesBytes_data() { addPolicyRows(); }
    void replaceUpdatesBytes()
    {
        QFETCH(Eviction, eviction);
        ManualClock clock;
        MemoryCache cache(options(1 << 20, 4, eviction), clock);
        QVERIFY(cache.put("key", value(100, 1), 10s));
        QCOMPARE(cache.stats().bytes, charge("key", 100));
        QVERIFY(cache.put("key", value(300, 2), 10s));
        QCOMPARE(cache.stats().bytes, charge("key", 300));
        QCOMPARE(cache.stats().entries, qint64(1));
        QCOMPARE(tagOf(cache.get("key")), 2);
        QVERIFY(cache.put("key", value(5, 3), 10s));
        QCOMPARE(cache.stats().bytes, charge("key", 5));
        QCOMPARE(tagOf(cache.get("key")), 3);
        // A replacement also renews the TTL.
        clock.advance(9s);
        QVERIFY(cache.put("key", value(5, 4), 10s));
        clock.advance(9s);
        QCOMPARE(tagOf(cache.get("key")), 4);
    }

    void valueOutlivesEviction()
    {
        ManualClock clock;
        MemoryCache cache(options(1 << 20, 1, Eviction::Lru), clock);
        QVERIFY(cache.put("k", value(10, 42), 10s));
        const CacheValuePtr held = cache.get("k");
        QVERIFY(cache.put("k", value(10, 43), 10s)); // replaced while held
        QVERIFY(cache.remove("k"));
        cache.clear();
        QCOMPARE(tagOf(held), 42); // still valid (ASan checks the memory)
    }

    void oversizedEntriesRejected_data() { addPolicyRows(); }
    void oversizedEntriesRejected()
    {
        QFETCH(Eviction, eviction);
        ManualClock clock;
        const qint64 shardBytes = 10'000;
        MemoryCache cache(options(4 * shardBytes, 4, eviction), clock);
        const QByteArray big = "big";
        const qint64 fits = shardBytes - big.size() - MemoryCache::kEntryOverhead;

        QVERIFY(!cache.put(big, value(fits + 1), 10s));
        QCOMPARE(cache.stats().rejected, quint64(1));
        QCOMPARE(cache.stats().entries, qint64(0));
        QVERIFY(!cache.get(big));

        // Exactly a shard's share is allowed, and then it fills that shard alone.
        QVERIFY(cache.put(big, value(fits, 1), 10s));
        QCOMPARE(tagOf(cache.get(big)), 1);
        QCOMPARE(cache.stats().bytes, shardBytes);

        // A too large replacement is refused and does not leave the old value behind.
        QVERIFY(!cache.put(big, value(fits + 1, 2), 10s));
        QCOMPARE(cache.stats().rejected, quint64(2));
        QVERIFY(!cache.get(big));
        QCOMPARE(cache.stats().bytes, qint64(0));
    }

    void lruEvictionOrder()
    {
        ManualClock clock;
        const qint64 each = charge(key("k", 0), 100);
        MemoryCache cache(options(4 * each, 1, Eviction::Lru), clock);
        for (int i = 0; i < 4; ++i)
            QVERIFY(cache.put(key("k", i), value(100, i), 10s));
        QCOMPARE(cache.stats().entries, qint64(4));
        // Recency now, most recent first: k3 k2 k1 k0. Touch k0 and k2.
        QVERIFY(cache.get(key("k", 0)));
        QVERIFY(cache.get(key("k", 2)));
        // Order: k2 k0 k3 k1. Each new key evicts the least recently used one.
        QVERIFY(cache.put(key("k", 4), value(100, 4), 10s));
        QVERIFY(!cache.get(key("k", 1)));
        QVERIFY(cache.put(key("k", 5), value(100, 5), 10s));
        QVERIFY(!cache.get(key("k", 3)));
        // Order: k5 k4 k2 k0. A replacement counts as a use: k0 becomes most recent.
        QVERIFY(cache.put(key("k", 0), value(100, 10), 10s));
        QVERIFY(cache.put(key("k", 6), value(100, 6), 10s)); // evicts k2
        QVERIFY(cache.put(key("k", 7), value(100, 7), 10s)); // evicts k4
        QVERIFY(!cache.get(key("k", 2)));
        QVERIFY(!cache.get(key("k", 4)));
        QCOMPARE(tagOf(cache.get(key("k", 0))), 10);
        QCOMPARE(tagOf(cache.get(key("k", 5))), 5);
        QCOMPARE(tagOf(cache.get(key("k", 6))), 6);
        QCOMPARE(tagOf(cache.get(key("k", 7))), 7);
        const MemoryCacheStats s = cache.stats();
        QCOMPARE(s.evictions, quint64(4));
        QCOMPARE(s.entries, qint64(4));
        QCOMPARE(s.bytes, 4 * each);
    }

    void lruBiggerEntryEvictsSeveral()
    {
        ManualClock clock;
        const qint64 each = charge(key("k", 0), 100);
        MemoryCache cache(options(4 * each, 1, Eviction::Lru), clock);
        for (int i = 0; i < 4; ++i)
            QVERIFY(cache.put(key("k", i), value(100, i), 10s));
        // Needs the room of three entries: k0, k1, k2 go (oldest first), k3 stays.
        QVERIFY(cache.put(key("b", 0), value(2 * each + 100, 9), 10s));
        QVERIFY(!cache.get(key("k", 0)));
        QVERIFY(!cache.get(key("k", 1)));
        QVERIFY(!cache.get(key("k", 2)));
        QVERIFY(cache.get(key("k", 3)));
        QVERIFY(cache.get(key("b", 0)));
        QCOMPARE(cache.stats().evictions, quint64(3));
    }

    void expiredEntriesAtTheEvictionEndCountAsExpirations_data() { addPolicyRows(); }
    void expiredEntriesAtTheEvictionEndCountAsExpirations()
    {
        QFETCH(Eviction, eviction);
        ManualClock clock;
        const qint64 each = charge(key("k", 0), 100);
        MemoryCache cache(options(200 * each, 1, eviction), clock);
        for (int i = 0; i < 200; ++i)
            QVERIFY(cache.put(key("k", i), value(100), 1s));
        QCOMPARE(cache.stats().entries, qint64(200));
        clock.advance(1s); // all expired, none touched
        for (int i = 0; i < 200; ++i) {
            QVERIFY(!cache.get(key("n", i))); // counted as a request, as in real use
            QVERIFY(cache.put(key("n", i), value(100), 10s));
        }
        const MemoryCacheStats s = cache.stats();
        QCOMPARE(s.evictions, quint64(0));
        QCOMPARE(s.expirations, quint64(200));
        QVERIFY(s.bytes <= s.maxBytes);
    }

    void tinyLfuKeepsPopularKeysThroughScan_data() { addPolicyRows(); }
    void tinyLfuKeepsPopularKeysThroughScan()
    {
        QFETCH(Eviction, eviction);
        ManualClock clock;
        const qint64 each = charge(key("hot", 0), 100);
        MemoryCache cache(options(100 * each, 1, eviction), clock);
        // 20 popular keys, each requested 10 times (get, put on the first miss).
        for (int round = 0; round < 10; ++round) {
            for (int i = 0; i < 20; ++i) {
                if (!cache.get(key("hot", i)))
                    QVERIFY(cache.put(key("hot", i), value(100, i), 1h));
            }
        }
        // One pass over 2 000 keys that are never asked for again.
        for (int i = 0; i < 2000; ++i) {
            if (!cache.get(key("scn", i)))
                QVERIFY(cache.put(key("scn", i), value(100), 1h));
            const MemoryCacheStats s = cache.stats();
            QVERIFY(s.bytes <= s.maxBytes);
        }
        int popularLeft = 0;
        for (int i = 0; i < 20; ++i)
            popularLeft += cache.get(key("hot", i)) != nullptr;
        const qint64 scanLeft = cache.keys("scn", "", 100'000).size();
        QCOMPARE(cache.stats().entries, qint64(100));
        if (eviction == Eviction::TinyLfu) {
            QCOMPARE(popularLeft, 20); // every popular key survived
            QCOMPARE(scanLeft, qint64(80));
        } else {
            QCOMPARE(popularLeft, 0);        // plain LRU lost them all
            QCOMPARE(scanLeft, qint64(100)); // to the last 100 keys of the scan
            for (int i = 1900; i < 2000; ++i)
                QVERIFY(has(cache, key("scn", i)));
        }
    }

    void tinyLfuAdmitsAKeyMoreFrequentThanTheVictim()
    {
        ManualClock clock;
        const qint64 each = charge(key("old", 0), 100);
        // 100 entries of equal size fill the shard; the window holds one of them.
        MemoryCache cache(options(100 * each, 1), clock);
        const auto request = [&](const QByteArray &k) {
            if (!cache.get(k))
                QVERIFY(cache.put(k, value(100), 1h));
        };
        for (int i = 0; i < 100; ++i)
            request(key("old", i)); // each requested once; old0 ends at probation's LRU end
        QCOMPARE(cache.stats().bytes, 100 * each);

        // new0 enters the window and pushes old99 out; old99 ties with the victim old0, and
        // a tie keeps the victim.
        request(key("new", 0));
        QVERIFY(has(cache, key("new", 0)));
        QVERIFY(!has(cache, key("old", 99)));
        QVERIFY(has(cache, key("old", 0)));
        // new1 pushes new0 out of the window: the same tie, new0 goes.
        request(key("new", 1));
        QVERIFY(!has(cache, key("new", 0)));
        QVERIFY(has(cache, key("old", 0)));
        // new2 is requested five times before it is stored; when new3 pushes it out of the
        // window it is more frequent than old0 and takes its place.
        for (int i = 0; i < 4; ++i)
            QVERIFY(!cache.get(key("new", 2)));
        request(key("new", 2));
        request(key("new", 3));
        QVERIFY(has(cache, key("new", 2)));
        QVERIFY(!has(cache, key("old", 0)));
        QVERIFY(has(cache, key("old", 1)));
        const MemoryCacheStats s = cache.stats();
        QCOMPARE(s.entries, qint64(100));
        QCOMPARE(s.bytes, 100 * each);
        QCOMPARE(s.evictions, quint64(4)); // old99, new0, new1, old0
    }

    void byteBoundUnderRandomOperations_data()
    {
        QTest::addColumn<Eviction>("eviction");
        QTest::addColumn<int>("shards");
        QTest::newRow("tinylfu-1") << Eviction::TinyLfu << 1;
        QTest::newRow("tinylfu-8") << Eviction::TinyLfu << 8;
        QTest::newRow("lru-1") << Eviction::Lru << 1;
        QTest::newRow("lru-8") << Eviction::Lru << 8;
    }
    void byteBoundUnderRandomOperations()
    {
        QFETCH(Eviction, eviction);
        QFETCH(int, shards);
        ManualClock clock;
        const qint64 maxBytes = 64 * 1024;
        MemoryCache cache(options(maxBytes, shards, eviction), clock);
        std::mt19937 rng(12345 + shards);
        // What a hit may return: the last value put for the key, while it is fresh.
        struct Expect
        {
            int tag;
            std::chrono::steady_clock::time_point expiry;
        };
        std::unordered_map<int, Expect> model;
        int nextTag = 1;
        quint64 hits = 0;
        for (int op = 0; op < 100'000; ++op) {
            const int k = int(rng() % 600);
            const QByteArray name = key("r", k);
            const unsigned what = rng() % 100;
            if (what < 45) {
                const CacheValuePtr v = cache.get(name);
                if (v) {
                    ++hits;
                    const auto it = model.find(k);
                    QVERIFY2(it != model.end(), "hit on a key that was removed");
                    QCOMPARE(tagOf(v), it->second.tag);
                    QVERIFY(clock.now() < it->second.expiry);
                }
            } else if (what < 90) {
                // Mostly small, sometimes a large value (up to 2x a shard's share).
                const qint64 size = rng() % 10 == 0 ? qint64(rng() % (2 * maxBytes / shards))
                                                    : qint64(rng() % 2000);
                const auto ttl = std::chrono::milliseconds(1 + rng() % 5000);
                const int tag = nextTag++;
                const bool stored = cache.put(name, value(size, tag), ttl);
                const bool fits = charge(name, size) <= maxBytes / shards;
                QCOMPARE(stored, fits);
                if (stored)
                    model[k] = Expect{tag, clock.now() + ttl};
                else
                    model.erase(k);
            } else if (what < 97) {
                cache.remove(name);
                model.erase(k);
            } else {
                clock.advance(std::chrono::milliseconds(rng() % 300));
            }
            const MemoryCacheStats s = cache.stats();
            QVERIFY2(
                s.bytes <= maxBytes,
                qPrintable(
                    QStringLiteral("op %1: %2 bytes > %3").arg(op).arg(s.bytes).arg(maxBytes)));
            QVERIFY(s.bytes >= 0 && s.entries >= 0);
        }
        const MemoryCacheStats s = cache.stats();
        QCOMPARE(s.hits, hits);
        QVERIFY(s.hits > 1000); // the test exercised hits, not only misses
        QVERIFY(s.evictions > 1000);
        QVERIFY(s.expirations > 100);
        QVERIFY(s.rejected > 100);
        // keys() agrees with stats(): after a far jump no entry is fresh, before it all are
        // accounted for.
        qint64 listed = 0;
        const auto all = cache.keys("", "", 1'000'000);
        for (const auto &info : all)
            listed += info.bytes;
        QVERIFY(listed <= s.bytes);
        QVERIFY(all.size() <= s.entries);
        cache.clear();
        QCOMPARE(cache.stats().bytes, qint64(0));
        QCOMPARE(cache.stats().entries, qint64(0));
    }

    void removeAndRemovePrefix_data() { addPolicyRows(); }
    void removeAndRemovePrefix()
    {
        QFETCH(Eviction, eviction);
        ManualClock clock;
        MemoryCache cache(options(1 << 20, 8, eviction), clock);
        for (int i = 0; i < 50; ++i) {
            QVERIFY(cache.put(key("users/", i), value(10), 10s));
            QVERIFY(cache.put(key("orders/", i), value(10), 10s));
        }
        QVERIFY(cache.remove(key("users/", 3)));
        QVERIFY(!cache.remove(key("users/", 3)));
        QVERIFY(!cache.get(key("users/", 3)));
        QVERIFY(!cache.remove("nope"));

        QCOMPARE(cache.removePrefix("users/"), qint64(49));
        QCOMPARE(cache.removePrefix("users/"), qint64(0));
        for (int i = 0; i < 50; ++i) {
            QVERIFY(!cache.get(key("users/", i)));
            QVERIFY(cache.get(key("orders/", i)));
        }
        QCOMPARE(cache.stats().entries, qint64(50));
        QCOMPARE(cache.stats().bytes, 50 * charge(key("orders/", 0), 10));

        // The empty prefix matches everything; removed entries are gone for good.
        QCOMPARE(cache.removePrefix(""), qint64(50));
        QCOMPARE(cache.stats().entries, qint64(0));
        QCOMPARE(cache.stats().bytes, qint64(0));

        // The cache works normally after mass removal.
        for (int i = 0; i < 50; ++i)
            QVERIFY(cache.put(key("again/", i), value(10, i), 10s));
        for (int i = 0; i < 50; ++i)
            QCOMPARE(tagOf(cache.get(key("again/", i))), i);
    }

    void clearEmptiesButKeepsCounters_data() { addPolicyRows(); }
    void clearEmptiesButKeepsCounters()
    {
        QFETCH(Eviction, eviction);
        ManualClock clock;
        MemoryCache cache(options(1 << 20, 4, eviction), clock);
        for (int i = 0; i < 100; ++i)
            QVERIFY(cache.put(key("k", i), value(10), 10s));
        QVERIFY(cache.get(key("k", 1)));
        cache.clear();
        const MemoryCacheStats s = cache.stats();
        QCOMPARE(s.entries, qint64(0));
        QCOMPARE(s.bytes, qint64(0));
        QCOMPARE(s.hits, quint64(1));
        QVERIFY(!cache.get(key("k", 1)));
        QVERIFY(cache.keys("", "", 10).isEmpty());
        QVERIFY(cache.put(key("k", 1), value(10), 10s));
        QVERIFY(cache.get(key("k", 1)));
    }

    void keysPaging()
    {
        ManualClock clock;
        MemoryCache cache(options(1 << 20, 8), clock);
        // Inserted out of order and spread over the shards.
        for (int i : {5, 1, 9, 3, 7, 2, 8, 4, 6, 0})
            QVERIFY(cache.put(key("p/", i), value(i), std::chrono::seconds(10 + i)));
        QVERIFY(cache.put("q/0", value(1), 10s));
        QVERIFY(cache.put("p", value(1), 10s));             // shorter than the prefix
        QVERIFY(cache.put(key("p/", 99), value(1), 500ms)); // will expire

        clock.advance(500ms);
        auto page = cache.keys("p/", "", 4);
        QCOMPARE(page.size(), 4);
        for (int i = 0; i < 4; ++i) {
            QCOMPARE(page[i].key, key("p/", i));
            QCOMPARE(page[i].bytes, charge(key("p/", i), i));
            QCOMPARE(page[i].ttlMs, qint64((10 + i) * 1000 - 500));
        }
        page = cache.keys("p/", page.last().key, 4);
        QCOMPARE(page.size(), 4);
        QCOMPARE(page.first().key, key("p/", 4));
        QCOMPARE(page.last().key, key("p/", 7));
        page = cache.keys("p/", page.last().key, 4);
        QCOMPARE(page.size(), 2); // p/99 has expired and is left out
        QCOMPARE(page[0].key, key("p/", 8));
        QCOMPARE(page[1].key, key("p/", 9));
        QVERIFY(cache.keys("p/", page.last().key, 4).isEmpty());

        // `after` need not be a stored key; the empty prefix lists everything sorted.
        page = cache.keys("p/", "p/0000045", 100);
        QCOMPARE(page.size(), 5);
        QCOMPARE(page.first().key, key("p/", 5));
        page = cache.keys("", "", 100);
        QCOMPARE(page.size(), 12);
        QCOMPARE(page.first().key, QByteArray("p"));
        QCOMPARE(page.last().key, QByteArray("q/0"));
        QVERIFY(std::is_sorted(page.begin(), page.end(),
                               [](const auto &a, const auto &b) { return a.key < b.key; }));
        QVERIFY(cache.keys("", "", 0).isEmpty());
        QCOMPARE(cache.keys("", "", 1).first().key, QByteArray("p"));
        // keys() does not count as use.
        QCOMPARE(cache.stats().hits, quint64(0));
        QCOMPARE(cache.stats().misses, quint64(0));
    }

    void concurrentUse_data() { addPolicyRows(); }
    void concurrentUse()
    {
        QFETCH(Eviction, eviction);
        SteadyClock clock;
        const qint64 maxBytes = 256 * 1024;
        MemoryCache cache(options(maxBytes, 4, eviction), clock);
        constexpr int kThreads = 4;
        constexpr int kOps = 50'000;
        std::atomic<quint64> gets{0}, badValues{0}, putFailures{0}, overBound{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                std::mt19937 rng(t);
                for (int i = 0; i < kOps; ++i) {
                    const int k = int(rng() % 2000);
                    const QByteArray name = key("c", k);
                    const unsigned what = rng() % 100;
                    if (what < 60) {
                        gets.fetch_add(1, std::memory_order_relaxed);
                        const CacheValuePtr v = cache.get(name);
                        // Every value stored under key k carries tag k.
                        if (v && tagOf(v) != k)
                            badValues.fetch_add(1, std::memory_order_relaxed);
                    } else if (what < 95) {
                        if (!cache.put(name, value(qint64(rng() % 1500), k), 1h))
                            putFailures.fetch_add(1, std::memory_order_relaxed);
                    } else if (what < 99) {
                        cache.remove(name);
                    } else {
                        if (i % 20 == 0)
                            cache.removePrefix(key("c", k).left(5)); // 100 keys

                        if (cache.stats().bytes > maxBytes)
                            overBound.fetch_add(1, std::memory_order_relaxed);
                        cache.keys("c", "", 10);
                    }
                }
            });
        }
        for (auto &t : threads)
            t.join();
        QCOMPARE(badValues.load(), quint64(0));
        QCOMPARE(putFailures.load(), quint64(0));
        QCOMPARE(overBound.load(), quint64(0));
        const MemoryCacheStats s = cache.stats();
        QVERIFY(s.bytes <= maxBytes);
        QCOMPARE(s.hits + s.misses, gets.load());
        QVERIFY(s.hits > 0);
        QVERIFY(s.evictions > 0);
        // The structure is intact: every entry is listed once and the bytes add up.
        const auto all = cache.keys("", "", 1'000'000);
        QCOMPARE(qint64(all.size()), s.entries);
        qint64 listed = 0;
        std::set<QByteArray> unique;
        for (const auto &info : all) {
            listed += info.bytes;
            unique.insert(info.key);
        }
        QCOMPARE(listed, s.bytes);
        QCOMPARE(qint64(unique.size()), s.entries);
        for (const auto &info : all)
            QVERIFY(cache.get(info.key));
        QCOMPARE(cache.removePrefix(""), s.entries);
        QCOMPARE(cache.stats().bytes, qint64(0));
    }
};

QTEST_GUILESS_MAIN(TestMemoryCache)
#include "tst_memorycache.moc"
