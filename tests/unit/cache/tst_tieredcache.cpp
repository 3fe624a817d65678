// SPDX-License-Identifier: GPL-3.0-or-later
// The cache's logic without a network: TieredCache with the memory tier only and a manual
// clock (fresh, stale and expired entries; tag invalidation by versions, flush, keys and
// prefixes), CachedResponse's wire form (round trip; truncated, corrupt and foreign input
// rejected), CachePolicies (route matching, query normalisation, keys per user, escaping,
// hashing of long keys) and TagVersions.
#include "CachePolicies.h"
#include "CachedResponse.h"
#include "ManualClock.h"
#include "TieredCache.h"

#include <QtTest>

using namespace bulwark;
using namespace bulwark::test;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<CachedResponse> entry(qint64 storedAt, qint64 freshMs, qint64 staleMs,
                                      TagSnapshot tags, QByteArray body = "body")
{
    auto e = std::make_shared<CachedResponse>();
    e->status = 200;
    e->contentType = "application/json";
    e->headers = {{"ETag", "\"abc\""}, {"Vary", "Authorization"}};
    e->body = std::move(body);
    e->storedAtMs = storedAt;
    e->freshMs = freshMs;
    e->staleMs = staleMs;
    e->route = QStringLiteral("/api/v1/{collection}");
    e->tags = std::move(tags);
    return e;
}

HttpRequest requestFor(const QString &path, const QByteArray &query,
                       QList<std::pair<QByteArray, QByteArray>> headers = {})
{
    HttpRequest r;
    r.method = "GET";
    r.path = path;
    r.rawQuery = query;
    r.setHeaders(headers);
    return r;
}

} // namespace

class TestTieredCache : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void freshStaleExpired();
    void tagBumpDropsDependentEntriesOnly();
    void flushDropsEverything();
    void keyAndPrefixInvalidation();
    void tagVersions();
    void wireFormatRoundTrip();
    void wireFormatRejectsBadInput_data();
    void wireFormatRejectsBadInput();
    void routeMatching_data();
    void routeMatching();
    void keys_data();
    void keys();
    void longKeysAreHashed();
};

void TestTieredCache::freshStaleExpired()
{
    ManualClock clock;
    TagVersions tags({"activities"});
    TieredCache cache({}, clock, tags, nullptr);
    const qint64 now = cache.nowMs();
    cache.put("k", entry(now, 1000, 500, tags.snapshot({1})));
    auto hit = cache.get("k");
    QVERIFY(hit);
    QVERIFY(!hit->stale);
    QCOMPARE(hit->ageMs, 0);
    QCOMPARE(hit->tier, TieredCache::Tier::Memory);
    clock.advance(999ms);
    hit = cache.get("k");
    QVERIFY(hit && !hit->stale);
    QCOMPARE(hit->ageMs, 999);
    clock.advance(1ms); // the TTL is over: stale, still served
    hit = cache.get("k");
    QVERIFY(hit && hit->stale);
    clock.advance(499ms);
    QVERIFY(cache.get("k") && cache.get("k")->stale);
    clock.advance(1ms); // the stale window is over too
    QVERIFY(!cache.get("k"));
    const TieredCache::Stats s = cache.stats();
    QCOMPARE(s.memoryTier.hits, 2u);
    QCOMPARE(s.memoryTier.stale, 3u);
    QCOMPARE(s.memoryTier.misses, 1u);
    QCOMPARE(s.stores, 1u);
    // An entry whose time is already over is not stored.
    cache.put("old", entry(cache.nowMs() - 2000, 1000, 500, tags.snapshot({})));
    QVERIFY(!cache.get("old"));
}

void TestTieredCache::tagBumpDropsDependentEntriesOnly()
{
    ManualClock clock;
    TagVersions tags({"activities", "splits"});
    TieredCache cache({}, clock, tags, nullptr);
    const int activities = tags.indexOf(u"activities");
    const int splits = tags.indexOf(u"splits");
    const qint64 now = cache.nowMs();
    cache.put("a", entry(now, 60'000, 0, tags.snapshot({activities})));
    cache.put("s", entry(now, 60'000, 0, tags.snapshot({splits})));
    cache.put("both", entry(now, 60'000, 0, tags.snapshot({activities, splits})));
    cache.put("none", entry(now, 60'000, 0, tags.snapshot({})));
    // An entry computed before a write (its snapshot predates the bump) is never served.
    const TagSnapshot before = tags.snapshot({activities});
    cache.invalidateTags({activities});
    cache.put("late", entry(now, 60'000, 0, before));
    QVERIFY(!cache.get("a"));
    QVERIFY(!cache.get("both"));
    QVERIFY(!cache.get("late"));
    QVERIFY(cache.get("s"));
    QVERIFY(cache.get("none"));
    QCOMPARE(cache.stats().invalidatedEntries, 3u);
    QCOMPARE(cache.stats().tagInvalidations, 1u);
    // Entries are dropped when met, not by a scan: O(1) per bumped tag.
    QCOMPARE(cache.stats().memory.entries, 2);
}

void TestTieredCache::flushDropsEverything()
{
    ManualClock clock;
    TagVersions tags({"activities"});
    TieredCache cache({}, clock, tags, nullptr);
    cache.put("a", entry(cache.nowMs(), 60'000, 0, tags.snapshot({1})));
    cache.put("b", entry(cache.nowMs(), 60'000, 0, tags.snapshot({})));
    const TagSnapshot before = tags.snapshot({});
    cache.flush();
    QVERIFY(!cache.get("a"));
    QVERIFY(!cache.get("b"));
    cache.put("c", entry(cache.nowMs(), 60'000, 0, before)); // computed before the flush
    QVERIFY(!cache.get("c"));
    QCOMPARE(cache.stats().flushes, 1u);
}

void TestTieredCache::keyAndPrefixInvalidation()
{
    ManualClock clock;
    TagVersions tags({});
    TieredCache cache({}, clock, tags, nullptr);
    for (const char *key : {"/api/v1/a?x|u=1", "/api/v1/a?y|u=1", "/api/v1/b|u=1"})
        cache.put(key, entry(cache.nowMs(), 60'000, 0, tags.snapshot({})));
    QCOMPARE(cache.invalidateKey("/api/v1/b|u=1"), 1);
    QCOMPARE(cache.invalidateKey("/api/v1/b|u=1"), 0);
    QCOMPARE(cache.memoryKeys("/api/v1/", {}, 10).size(), 2);
    QCOMPARE(cache.invalidatePrefix("/api/v1/a"), 2);
    QVERIFY(cache.memoryKeys({}, {}, 10).isEmpty());
    QVERIFY(!cache.redisDegraded());
    QCOMPARE(cache.redisState(), QStringLiteral("off"));
    QVERIFY(!cache.redisKeys({}, "0", 10).ok());
}

void TestTieredCache::tagVersions()
{
    TagVersions tags({"a", "b", "a"});
    QCOMPARE(tags.size(), 3); // "*", a, b
    QCOMPARE(tags.name(TagVersions::kAll), QStringLiteral("*"));
    QCOMPARE(tags.indexOf(u"b"), 2);
    QCOMPARE(tags.indexOf(u"nope"), -1);
    const TagSnapshot snap = tags.snapshot({1, 1});
    QCOMPARE(snap.size(), 3); // "*" always, then as asked
    QVERIFY(tags.current(snap));
    QCOMPARE(tags.bump(1), 1u);
    QVERIFY(!tags.current(snap));
    tags.raiseTo(1, 0); // never lowers
    QCOMPARE(tags.version(1), 1u);
    tags.raiseTo(1, 7);
    QCOMPARE(tags.version(1), 7u);
    tags.set(1, 2); // a resync sets exactly
    QCOMPARE(tags.version(1), 2u);
}

void TestTieredCache::wireFormatRoundTrip()
{
    TagVersions tags({"activities", "splits"});
    tags.set(2, 41);
    const auto original = entry(1'700'000'000'000, 300'000, 30'000, tags.snapshot({2}),
                                QByteArray("\0\1binary\xff", 10));
    const QByteArray wire = original->serialize(tags);
    // Another instance whose schema lists the tags in another order reads the same names.
    TagVersions other({"splits", "activities", "extra"});
    const auto copy = CachedResponse::deserialize(wire, other);
    QVERIFY(copy);
    QCOMPARE(copy->status, 200);
    QCOMPARE(copy->contentType, original->contentType);
    QCOMPARE(copy->headers, original->headers);
    QCOMPARE(copy->body, original->body);
    QCOMPARE(copy->storedAtMs, original->storedAtMs);
    QCOMPARE(copy->freshMs, original->freshMs);
    QCOMPARE(copy->staleMs, original->staleMs);
    QCOMPARE(copy->route, QStringLiteral("/api/v1/{collection}"));
    QCOMPARE(copy->tags.size(), 2);
    QCOMPARE(other.name(copy->tags.at(1).first), QStringLiteral("splits"));
    QCOMPARE(copy->tags.at(1).second, 41u);
    QCOMPARE(copy->header("etag"), QByteArray("\"abc\""));
}

void TestTieredCache::wireFormatRejectsBadInput_data()
{
    QTest::addColumn<QByteArray>("wire");
    QTest::addColumn<bool>("useOtherSchema");
    TagVersions tags({"activities"});
    const QByteArray good = entry(1, 2, 3, tags.snapshot({1}))->serialize(tags);
    QTest::newRow("empty") << QByteArray() << false;
    QTest::newRow("wrong magic") << QByteArray("BWC9") + good.mid(4) << false;
    QTest::newRow("truncated") << good.left(good.size() - 1) << false;
    QTest::newRow("trailing bytes") << good + "x" << false;
    QByteArray hugeLength = good;
    hugeLength.replace(hugeLength.size() - 4 - 8, 8, QByteArray(8, '\x7f'));
    QTest::newRow("body length past the end") << hugeLength << false;
    QTest::newRow("unknown tag") << good << true;
}

void TestTieredCache::wireFormatRejectsBadInput()
{
    QFETCH(QByteArray, wire);
    QFETCH(bool, useOtherSchema);
    TagVersions tags({"activities"});
    TagVersions other({"splits"});
    QVERIFY(!CachedResponse::deserialize(wire, useOtherSchema ? other : tags));
}

void TestTieredCache::routeMatching_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("route"); // empty: no policy
    QTest::newRow("special report first") << "/api/v1/reports/nutrition_vs_body"
                                          << "/api/v1/reports/nutrition_vs_body";
    QTest::newRow("other report") << "/api/v1/reports/weekly_distance"
                                  << "/api/v1/reports/{name}";
    QTest::newRow("list") << "/api/v1/activities"
                          << "/api/v1/{collection}";
    QTest::newRow("row") << "/api/v1/activities/12"
                         << "/api/v1/{collection}/{id}";
    QTest::newRow("too deep") << "/api/v1/activities/12/x"
                              << "";
    QTest::newRow("empty segment") << "/api/v1/"
                                   << "";
    QTest::newRow("other prefix") << "/admin/api/cache"
                                  << "";
}

void TestTieredCache::routeMatching()
{
    QFETCH(QString, path);
    QFETCH(QString, route);
    const CachePolicies policies(CacheConfig{}.routes);
    const CacheRouteConfig *policy = policies.match(path);
    QCOMPARE(policy ? policy->route : QString(), route);
}

void TestTieredCache::keys_data()
{
    QTest::addColumn<QByteArray>("query");
    QTest::addColumn<bool>("varyQuery");
    QTest::addColumn<qint64>("user"); // 0: anonymous
    QTest::addColumn<QByteArray>("key");
    QTest::newRow("sorted") << QByteArray("sort=-id&limit=5") << true << qint64(7)
                            << QByteArray("/api/v1/a?limit=5&sort=-id|u=7");
    QTest::newRow("repeated names keep their order")
        << QByteArray("b=2&a=1&b=1") << true << qint64(7)
        << QByteArray("/api/v1/a?a=1&b=2&b=1|u=7");
    QTest::newRow("empty parameters dropped")
        << QByteArray("&&a=1&") << true << qint64(7) << QByteArray("/api/v1/a?a=1|u=7");
    QTest::newRow("query ignored")
        << QByteArray("a=1") << false << qint64(7) << QByteArray("/api/v1/a|u=7");
    QTest::newRow("anonymous") << QByteArray("a=1") << true << qint64(0)
                               << QByteArray("/api/v1/a?a=1");
    QTest::newRow("a forged user part is escaped")
        << QByteArray("a=1|u=8") << true << qint64(7) << QByteArray("/api/v1/a?a=1%7Cu=8|u=7");
}

void TestTieredCache::keys()
{
    QFETCH(QByteArray, query);
    QFETCH(bool, varyQuery);
    QFETCH(qint64, user);
    QFETCH(QByteArray, key);
    CacheRouteConfig policy;
    policy.varyQuery = varyQuery;
    const HttpRequest r = requestFor("/api/v1/a", query);
    QCOMPARE(CachePolicies::key(policy, r, user ? std::optional<qint64>(user) : std::nullopt), key);
}

void TestTieredCache::longKeysAreHashed()
{
    CacheRouteConfig policy;
    policy.varyHeaders = {"accept-language"};
    const HttpRequest a =
        requestFor("/api/v1/a", QByteArray(400, 'q'), {{"Accept-Language", "de"}});
    const HttpRequest b =
        requestFor("/api/v1/a", QByteArray(400, 'q'), {{"Accept-Language", "fr"}});
    const QByteArray ka = CachePolicies::key(policy, a, 1);
    const QByteArray kb = CachePolicies::key(policy, b, 1);
    QVERIFY(ka.size() <= CachePolicies::kMaxKeyLength);
    QVERIFY(ka.startsWith("/api/v1/a|#"));
    QVERIFY(ka != kb);
    QCOMPARE(CachePolicies::key(policy, a, 2) == ka, false); // the user is in the hash
    QCOMPARE(CachePolicies::key(policy, a, 1), ka);          // and it is stable
    const HttpRequest shortOne = requestFor("/api/v1/a", "x=1", {{"Accept-Language", "de"}});
    QCOMPARE(CachePolicies::key(policy, shortOne, 1),
             QByteArray("/api/v1/a?x=1|u=1|accept-language=de"));
}

QTEST_GUILESS_MAIN(TestTieredCache)
#include "tst_tieredcache.moc"
