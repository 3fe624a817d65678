// SPDX-License-Identifier: GPL-3.0-or-later
// See MemoryCache.h.
//
// Implementation decisions:
// - Hash: a wyhash-style 64-bit hash of the key bytes, seeded from QHashSeed::globalSeed()
//   (random per process unless QT_HASH_SEED is set or a program asks for a deterministic
//   seed), so clients cannot aim keys at one probe run or sketch counter. Bits 32.. pick
//   the shard, the low bits the map slot, the top byte the slot tag and a remix the sketch
//   block, so these uses do not correlate.
// - Map: per shard an open-addressing table (linear probing, load at most 4/5,
//   backward-shift deletion, no tombstones) kept as two arrays, one tag byte per slot and
//   the node pointers, so a probe reads 9 bytes and touches a node only on a tag match.
//   Heterogeneous lookup: get() hashes the QByteArrayView and compares it with the key bytes
//   stored behind the node; nothing is allocated.
// - Nodes: one allocation holds the shared_ptr control block, the node and its key (see
//   Node). get() returns an aliasing CacheValuePtr that owns the node, so the one reference
//   count a hit must increment sits next to the fields the lookup already read.
// - Lists: intrusive, circular, with a sentinel. TinyLfu uses three (window, probation,
//   protected); Lru uses the window list alone as the whole shard. Hits queue their list
//   move in a small per-shard buffer that is applied in order before any operation that
//   evicts, removes or replaces (see recordRead), so the order is exact.
// - Hit path: hash, prefetch the sketch block and the map slot, read the clock, lock, one
//   sketch increment, probe, prefetch the node's lines, compare, queue the move, copy one
//   shared_ptr, unlock. No allocation and no atomic besides the mutex and that copy.
// - Sketch: 4 rows of 4-bit counters, width = max(1024, nextPow2(shardBytes / 256)) per
//   row, laid out in 64-byte blocks as in Caffeine: a key's four counters lie in one block
//   (one cache line), one counter per row. Counters saturate at 15; after 10 × width
//   increments every counter is halved. get() records every request (hit or miss); put()
//   records nothing, so the usual get → miss → put sequence counts a request once.
// - Admission: the candidate leaving the window enters probation; while the shard is over
//   its bytes, the candidate's estimate is compared with the probation victim (LRU end;
//   the protected or window LRU end when probation holds only the candidate). The
//   candidate wins only if its estimate is strictly greater: ties keep the incumbent, which
//   is what makes a scan of one-hit keys pass without flushing anything. The loser is
//   evicted; expired entries at the eviction end are dropped first, as expirations. When
//   the window has room to spare, main may use it; a window that grows back then makes
//   main evict from its LRU end without a contest.
// - put() with ttl <= 0 or a null value stores nothing, removes the key's previous value (it
//   is no fresher than the new one) and returns false without counting a rejection. A
//   replacement larger than the shard also removes the previous value.
// - Memory: evicted or replaced entries still held by a reader stay allocated (node and
//   value) until the reader drops its pointer; they are no longer charged. kEntryOverhead
//   (144) covers the real cost on x86-64 glibc: node with control block about 104 bytes
//   plus the allocator's 16-byte header, map 11-23 bytes (9 per slot, load 2/5..4/5). The
//   sketch (2 bytes per column per shard, fixed at construction) is not charged. Evicted
//   values are released under the shard lock, so a value's destructor must not call back
//   into the cache.
#include "MemoryCache.h"

#include <QHashFunctions>
#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <string_view>

namespace bulwark {

namespace {

using TimePoint = std::chrono::steady_clock::time_point;

inline void prefetchForWrite(const void *p)
{
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p, 1);
#else
    Q_UNUSED(p);
#endif
}

inline void prefetchForRead(const void *p)
{
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p, 0);
#else
    Q_UNUSED(p);
#endif
}

// --- hash ----------------------------------------------------------------------------------

constexpr quint64 kSecret0 = 0x2d358dccaa6c78a5ull;
constexpr quint64 kSecret1 = 0x8bb84b93962eacc9ull;
constexpr quint64 kSecret2 = 0x4b33a62ed433d4a3ull;
constexpr quint64 kSecret3 = 0x4d5a2da51de1aa47ull;

inline void multiply128(quint64 &a, quint64 &b)
{
#if defined(__SIZEOF_INT128__)
    const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
    a = static_cast<quint64>(r);
    b = static_cast<quint64>(r >> 64);
#else
    const quint64 ha = a >> 32, hb = b >> 32, la = quint32(a), lb = quint32(b);
    const quint64 rh = ha * hb, rm0 = ha * lb, rm1 = hb * la, rl = la * lb;
    const quint64 t = rl + (rm0 << 32);
    quint64 c = t < rl;
    const quint64 lo = t + (rm1 << 32);
    c += lo < t;
    b = rh + (rm0 >> 32) + (rm1 >> 32) + c;
    a = lo;
#endif
}

inline quint64 mix(quint64 a, quint64 b)
{
    multiply128(a, b);
    return a ^ b;
}

inline quint64 read8(const uchar *p)
{
    quint64 v;
    std::memcpy(&v, p, 8);
    return v;
}

inline quint64 read4(const uchar *p)
{
    quint32 v;
    std::memcpy(&v, p, 4);
    return v;
}

// wyhash (final version 4) structure; not guaranteed bit-identical to the reference.
quint64 hashBytes(const char *data, size_t len, quint64 seed)
{
    const uchar *p = reinterpret_cast<const uchar *>(data);
    seed ^= mix(seed ^ kSecret0, kSecret1);
    quint64 a = 0, b = 0;
    if (Q_LIKELY(len <= 16)) {
        if (len >= 4) {
            const size_t m = (len >> 3) << 2;
            a = (read4(p) << 32) | read4(p + m);
            b = (read4(p + len - 4) << 32) | read4(p + len - 4 - m);
        } else if (len > 0) {
            a = (quint64(p[0]) << 16) | (quint64(p[len >> 1]) << 8) | p[len - 1];
        }
    } else {
        size_t i = len;
        if (i > 48) {
            quint64 see1 = seed, see2 = seed;
            do {
                seed = mix(read8(p) ^ kSecret1, read8(p + 8) ^ seed);
                see1 = mix(read8(p + 16) ^ kSecret2, read8(p + 24) ^ see1);
                see2 = mix(read8(p + 32) ^ kSecret3, read8(p + 40) ^ see2);
                p += 48;
                i -= 48;
            } while (i > 48);
            seed ^= see1 ^ see2;
        }
        while (i > 16) {
            seed = mix(read8(p) ^ kSecret1, read8(p + 8) ^ seed);
            i -= 16;
            p += 16;
        }
        a = read8(p + i - 16);
        b = read8(p + i - 8);
    }
    a ^= kSecret1;
    b ^= seed;
    multiply128(a, b);
    return mix(a ^ kSecret0 ^ len, b ^ kSecret1);
}

// Equality of n bytes; short keys (the common case) without a call to memcmp.
inline bool bytesEqual(const char *a, const char *b, size_t n)
{
    const uchar *x = reinterpret_cast<const uchar *>(a);
    const uchar *y = reinterpret_cast<const uchar *>(b);
    if (n >= 8) {
        if (n > 16)
            return std::memcmp(a, b, n) == 0;
        // Two overlapping 8-byte words cover 8..16 bytes.
        return ((read8(x) ^ read8(y)) | (read8(x + n - 8) ^ read8(y + n - 8))) == 0;
    }
    if (n >= 4)
        return ((read4(x) ^ read4(y)) | (read4(x + n - 4) ^ read4(y + n - 4))) == 0;
    for (size_t i = 0; i < n; ++i) {
        if (x[i] != y[i])
            return false;
    }
    return true;
}

// --- nodes and lists -----------------------------------------------------------------------

struct Links
{
    Links *prev = nullptr;
    Links *next = nullptr;
};

enum Region : quint8
{
    Window,
    Probation,
    Protected
};

// Where NodeAllocator puts the key bytes of the node being made (set just before, per thread).
thread_local size_t t_keyBytes = 0;
thread_local char *t_keyMemory = nullptr;

// Allocates the shared_ptr control block of a Node with the key bytes behind it, so that a
// node, its reference count and its key are one allocation. Stateless, so it takes no room
// in the control block.
template <typename T> struct NodeAllocator
{
    using value_type = T;
    NodeAllocator() = default;
    template <typename U> NodeAllocator(const NodeAllocator<U> &) {}
    T *allocate(size_t n)
    {
        char *memory = static_cast<char *>(::operator new(n * sizeof(T) + t_keyBytes));
        t_keyMemory = memory + n * sizeof(T);
        return reinterpret_cast<T *>(memory);
    }
    void deallocate(T *p, size_t) { ::operator delete(p); }
    template <typename U> bool operator==(const NodeAllocator<U> &) const { return true; }
};

// One entry. A node is owned through a shared_ptr (`self`) whose control block shares its
// allocation; get() returns an aliasing pointer to the value that holds the node, so a
// hit's reference-count increment lands in the node's own memory instead of a third cache
// line. Consequences: a node is immutable once published (a replacement is a new node) and
// an erased node lives on, unlinked, until its last reader drops the value.
struct Node : Links
{
    quint64 hash = 0;
    TimePoint expiry;
    qint64 charge = 0;
    const char *keyData = nullptr;
    quint32 keySize = 0;
    quint8 region = Window;
    CacheValuePtr value;
    std::shared_ptr<const Node> self; // the cache's reference; empty once erased

    QByteArrayView key() const { return QByteArrayView(keyData, qsizetype(keySize)); }
    bool keyEquals(QByteArrayView k) const
    {
        return qsizetype(keySize) == k.size() && bytesEqual(keyData, k.data(), keySize);
    }

    static Node *create(quint64 hash, QByteArrayView key, CacheValuePtr value, TimePoint expiry,
                        qint64 charge)
    {
        t_keyBytes = size_t(key.size());
        auto owner = std::allocate_shared<Node>(NodeAllocator<Node>());
        Node *n = owner.get();
        char *keyMemory = t_keyMemory;
        if (!key.isEmpty())
            std::memcpy(keyMemory, key.data(), size_t(key.size()));
        n->keyData = keyMemory;
        n->keySize = quint32(key.size());
        n->hash = hash;
        n->expiry = expiry;
        n->charge = charge;
        n->value = std::move(value);
        n->self = std::move(owner);
        return n;
    }
    // Drops the cache's reference: frees the node now, or when its last reader is done.
    static void release(Node *n) { std::shared_ptr<const Node> owner = std::move(n->self); }
};

std::string_view view(QByteArrayView v)
{
    return std::string_view(v.data(), size_t(v.size()));
}

// Circular doubly linked list with a sentinel; front = most recently used.
class List
{
public:
    List() { reset(); }
    List(const List &) = delete;
    List &operator=(const List &) = delete;

    void reset() { m_head.prev = m_head.next = &m_head; }
    bool empty() const { return m_head.next == &m_head; }
    Node *back() const { return empty() ? nullptr : static_cast<Node *>(m_head.prev); }
    void pushFront(Node *n)
    {
        n->prev = &m_head;
        n->next = m_head.next;
        m_head.next->prev = n;
        m_head.next = n;
    }
    void moveToFront(Node *n)
    {
        if (m_head.next == n)
            return;
        unlink(n);
        pushFront(n);
    }
    static void unlink(Node *n)
    {
        n->prev->next = n->next;
        n->next->prev = n->prev;
    }

private:
    Links m_head;
};

// --- map -----------------------------------------------------------------------------------

// A hit reads the node's first fields, its key (behind the node) and the reference count
// (in the control block before it), which may lie on three cache lines: ask for all of them
// at once so that their misses overlap instead of following one another.
inline void prefetchNode(const Node *n)
{
    const char *p = reinterpret_cast<const char *>(n);
    prefetchForWrite(p - 16);
    prefetchForRead(p + 48);
    prefetchForRead(p + 112);
}

// Open addressing with linear probing on the low bits of the hash, in two arrays: one tag
// byte per slot (0: empty, else the 8 high bits of the hash) and the node pointers. A probe
// dereferences a node only on a tag match, which is another key's 1 time in 255.
class Table
{
public:
    Table() { reset(); }
    Table(const Table &) = delete;
    Table &operator=(const Table &) = delete;

    qint64 size() const { return qint64(m_size); }

    // Starts loading the slot of hash. Runs without the shard lock, before it is taken, so
    // the miss overlaps the clock read and the locking: it reads relaxed copies of the
    // arrays' address and mask (plain loads on common CPUs), and a stale copy only makes a
    // useless prefetch, which never faults.
    void prefetchSlot(quint64 hash) const
    {
        const size_t i = hash & m_hintMask.load(std::memory_order_relaxed);
        const quintptr tags = m_hintTags.load(std::memory_order_relaxed);
        const quintptr nodes = m_hintNodes.load(std::memory_order_relaxed);
        prefetchForRead(reinterpret_cast<const void *>(tags + i));
        prefetchForRead(reinterpret_cast<const void *>(nodes + i * sizeof(Node *)));
    }

    Node *find(quint64 hash, QByteArrayView key) const
    {
        const quint8 tag = tagOf(hash);
        for (size_t i = hash & m_mask;; i = (i + 1) & m_mask) {
            const quint8 t = m_tags[i];
            if (t == tag) {
                Node *n = m_nodes[i];
                prefetchNode(n);
                if (n->hash == hash && n->keyEquals(key))
                    return n;
            } else if (t == 0) {
                return nullptr;
            }
        }
    }

    void insert(Node *n)
    {
        if ((m_size + 1) * 5 > (m_mask + 1) * 4)
            rehash((m_mask + 1) * 2);
        place(n);
        ++m_size;
    }

    void erase(const Node *n)
    {
        size_t i = slotOf(n);
        // Backward-shift deletion: pull later entries of the run into the hole unless that
        // would move one before its home slot.
        for (size_t j = i;;) {
            j = (j + 1) & m_mask;
            if (m_tags[j] == 0)
                break;
            const size_t home = m_nodes[j]->hash & m_mask;
            if (((j - home) & m_mask) >= ((j - i) & m_mask)) {
                m_tags[i] = m_tags[j];
                m_nodes[i] = m_nodes[j];
                i = j;
            }
        }
        m_tags[i] = 0;
        m_nodes[i] = nullptr;
        --m_size;
    }

    // Puts fresh (same hash and key) in old's slot.
    void replace(const Node *old, Node *fresh) { m_nodes[slotOf(old)] = fresh; }

    template <typename F> void forEach(F &&f) const
    {
        for (size_t i = 0; i <= m_mask; ++i) {
            if (m_tags[i])
                f(m_nodes[i]);
        }
    }

    // Gives memory back after mass removal.
    void shrinkToFit()
    {
        size_t slots = kInitialSlots;
        while (m_size * 5 > slots * 2) // leave the table at most 40 % full
            slots *= 2;
        if (slots < m_mask + 1)
            rehash(slots);
    }

    // Forgets every node (the caller owns and frees them).
    void reset()
    {
        m_tags = std::make_unique<quint8[]>(kInitialSlots);
        m_nodes = std::make_unique<Node *[]>(kInitialSlots);
        m_mask = kInitialSlots - 1;
        m_size = 0;
        publishHint();
    }

private:
    static constexpr size_t kInitialSlots = 16;

    static quint8 tagOf(quint64 hash)
    {
        const quint8 t = quint8(hash >> 56);
        return t ? t : 1;
    }

    size_t slotOf(const Node *n) const
    {
        size_t i = n->hash & m_mask;
        while (m_nodes[i] != n)
            i = (i + 1) & m_mask;
        return i;
    }

    void place(Node *n)
    {
        size_t i = n->hash & m_mask;
        while (m_tags[i])
            i = (i + 1) & m_mask;
        m_tags[i] = tagOf(n->hash);
        m_nodes[i] = n;
    }

    void rehash(size_t slots)
    {
        std::unique_ptr<quint8[]> oldTags = std::move(m_tags);
        std::unique_ptr<Node *[]> oldNodes = std::move(m_nodes);
        const size_t oldSlots = m_mask + 1;
        m_tags = std::make_unique<quint8[]>(slots);
        m_nodes = std::make_unique<Node *[]>(slots);
        m_mask = slots - 1;
        for (size_t i = 0; i < oldSlots; ++i) {
            if (oldTags[i])
                place(oldNodes[i]);
        }
        publishHint();
    }

    void publishHint()
    {
        m_hintTags.store(quintptr(m_tags.get()), std::memory_order_relaxed);
        m_hintNodes.store(quintptr(m_nodes.get()), std::memory_order_relaxed);
        m_hintMask.store(m_mask, std::memory_order_relaxed);
    }

    std::unique_ptr<quint8[]> m_tags;
    std::unique_ptr<Node *[]> m_nodes;
    size_t m_mask = 0;
    size_t m_size = 0;
    std::atomic<quintptr> m_hintTags{0};
    std::atomic<quintptr> m_hintNodes{0};
    std::atomic<size_t> m_hintMask{0};
};

// --- frequency sketch ----------------------------------------------------------------------

// Count-min sketch, 4 rows × width 4-bit counters. Blocks of 8 words (64 bytes); row r of a
// block is words 2r and 2r+1 (32 counters), so one key's counters share a cache line.
class Sketch
{
public:
    void init(qint64 shardBytes)
    {
        quint64 width = std::bit_ceil(quint64(std::max<qint64>(shardBytes, 0) / 256));
        width = std::clamp<quint64>(width, 1024, quint64(1) << 28);
        m_blockBits = std::countr_zero(width / 32);
        m_words.reset(new quint64[width / 4]());
        m_wordCount = size_t(width / 4);
        m_sampleSize = 10 * width;
        m_additions = 0;
    }
    void prefetch(quint64 hash) const { prefetchForWrite(blockFor(hash)); }

    void increment(quint64 hash)
    {
        quint64 *block = blockFor(hash);
        const quint64 selectors = selectorsFor(hash);
        bool added = false;
        for (int row = 0; row < 4; ++row) {
            const unsigned s = unsigned(selectors >> (row * 8));
            quint64 &word = block[(row << 1) | (s & 1)];
            const unsigned shift = ((s >> 1) & 15) << 2;
            if (((word >> shift) & 15) != 15) {
                word += quint64(1) << shift;
                added = true;
            }
        }
        if (added && ++m_additions >= m_sampleSize)
            halve();
    }

    unsigned frequency(quint64 hash) const
    {
        const quint64 *block = blockFor(hash);
        const quint64 selectors = selectorsFor(hash);
        unsigned result = 15;
        for (int row = 0; row < 4; ++row) {
            const unsigned s = unsigned(selectors >> (row * 8));
            const quint64 word = block[(row << 1) | (s & 1)];
            result = std::min(result, unsigned(word >> (((s >> 1) & 15) << 2)) & 15u);
        }
        return result;
    }

    void clear()
    {
        std::fill_n(m_words.get(), m_wordCount, 0);
        m_additions = 0;
    }

private:
    quint64 *blockFor(quint64 hash) const
    {
        const quint64 spread = hash * 0x9e3779b97f4a7c15ull;
        const size_t block = m_blockBits ? size_t(spread >> (64 - m_blockBits)) : 0;
        return m_words.get() + block * 8;
    }
    static quint64 selectorsFor(quint64 hash)
    {
        return ((hash ^ (hash >> 29)) * 0xbf58476d1ce4e5b9ull) >> 32;
    }
    void halve()
    {
        for (size_t i = 0; i < m_wordCount; ++i)
            m_words[i] = (m_words[i] >> 1) & 0x7777777777777777ull;
        m_additions /= 2;
    }

    std::unique_ptr<quint64[]> m_words;
    size_t m_wordCount = 0;
    int m_blockBits = 0;
    quint64 m_sampleSize = 0;
    quint64 m_additions = 0;
};

TimePoint expiryFor(TimePoint now, std::chrono::milliseconds ttl)
{
    const auto room = std::chrono::duration_cast<std::chrono::milliseconds>(TimePoint::max() - now);
    return ttl >= room ? TimePoint::max() : now + ttl;
}

} // namespace

// --- shard ---------------------------------------------------------------------------------

struct alignas(64) MemoryCache::Shard
{
    Shard(qint64 cap, bool lfu)
        : capacity(cap), windowMax(cap / 100), protectedMax((cap - cap / 100) * 8 / 10),
          tinyLfu(lfu)
    {
        if (tinyLfu)
            sketch.init(cap);
    }
    ~Shard() { freeAll(); }

    std::mutex mutex;
    const qint64 capacity;
    const qint64 windowMax;
    const qint64 protectedMax;
    const bool tinyLfu;

    qint64 bytes = 0;          // all regions
    qint64 windowBytes = 0;    // Window region (Lru: unused)
    qint64 protectedBytes = 0; // Protected region
    List window;               // Lru: the whole shard
    List probation;
    List protectedList;
    Table table;
    Sketch sketch;

    // Hits whose list move is still to be done, oldest first (see recordRead).
    static constexpr int kReadBuffer = 32;
    int readCount = 0;
    Node *reads[kReadBuffer];

    quint64 hits = 0;
    quint64 misses = 0;
    quint64 evictions = 0;
    quint64 expirations = 0;
    quint64 rejected = 0;

    // Unlinks n from its list and region; the total and the map are left alone.
    void detach(Node *n)
    {
        List::unlink(n);
        if (n->region == Window)
            windowBytes -= n->charge;
        else if (n->region == Protected)
            protectedBytes -= n->charge;
    }

    void erase(Node *n)
    {
        detach(n);
        table.erase(n);
        bytes -= n->charge;
        Node::release(n);
    }

    // Puts fresh in old's place (list position, region, map slot); returns old's owner.
    std::shared_ptr<const Node> replace(Node *old, Node *fresh)
    {
        fresh->region = old->region;
        fresh->prev = old->prev;
        fresh->next = old->next;
        old->prev->next = fresh;
        old->next->prev = fresh;
        const qint64 delta = fresh->charge - old->charge;
        if (old->region == Window)
            windowBytes += delta;
        else if (old->region == Protected)
            protectedBytes += delta;
        bytes += delta;
        table.replace(old, fresh);
        return std::move(old->self);
    }

    // Removes n to make room (or because it expired) and counts which of the two it was.
    void evict(Node *n, TimePoint now)
    {
        if (n->expiry <= now)
            ++expirations;
        else
            ++evictions;
        erase(n);
    }

    // A hit's move to the front of its list is queued and done in batches: moving a node
    // writes to its two list neighbours, two cache misses that would otherwise stall the
    // hit (the unlock waits for the stores); a batch prefetches all neighbours first so
    // their misses overlap. The queue is drained before anything that reads list order or
    // removes a node, so the resulting order is exactly that of moving at once.
    void recordRead(Node *n)
    {
        reads[readCount] = n;
        if (++readCount == kReadBuffer)
            drainReads();
    }
    void drainReads()
    {
        const int count = readCount;
        readCount = 0;
        for (int i = 0; i < count; ++i) {
            prefetchForWrite(reads[i]->prev);
            prefetchForWrite(reads[i]->next);
        }
        for (int i = 0; i < count; ++i)
            onAccess(reads[i]);
    }

    void onAccess(Node *n)
    {
        if (!tinyLfu) {
            window.moveToFront(n);
            return;
        }
        switch (n->region) {
        case Window: window.moveToFront(n); break;
        case Protected: protectedList.moveToFront(n); break;
        default:
            List::unlink(n);
            n->region = Protected;
            protectedList.pushFront(n);
            protectedBytes += n->charge;
            demoteProtected();
            break;
        }
    }

    // Protected over its share: its LRU end goes back to probation.
    void demoteProtected()
    {
        while (protectedBytes > protectedMax) {
            Node *n = protectedList.back();
            detach(n);
            n->region = Probation;
            probation.pushFront(n);
        }
    }

    // Restores the byte bounds after an insert or a replacement.
    void maintain(TimePoint now)
    {
        if (!tinyLfu) {
            while (bytes > capacity)
                evict(window.back(), now);
            return;
        }
        demoteProtected();
        while (windowBytes > windowMax) {
            Node *candidate = window.back();
            detach(candidate);
            candidate->region = Probation;
            probation.pushFront(candidate);
            if (candidate->expiry <= now) {
                ++expirations;
                erase(candidate);
                continue;
            }
            admit(candidate, now);
        }
        // The window may have grown back into room the main area was using.
        while (bytes > capacity) {
            Node *victim = probation.back();
            if (!victim)
                victim = protectedList.back();
            if (!victim)
                victim = window.back();
            evict(victim, now);
        }
    }

    // candidate sits at the front of probation; while the shard is over its bytes it meets
    // the victims at the LRU end one by one and the less frequent of the two goes.
    void admit(Node *candidate, TimePoint now)
    {
        int candidateFrequency = -1;
        while (bytes > capacity) {
            Node *victim = probation.back();
            if (victim == candidate)
                victim = protectedList.back();
            if (!victim)
                victim = window.back();
            if (!victim)
                return; // cannot happen: candidate->charge <= capacity
            if (victim->expiry <= now) {
                ++expirations;
                erase(victim);
                continue;
            }
            if (candidateFrequency < 0)
                candidateFrequency = int(sketch.frequency(candidate->hash));
            ++evictions;
            if (candidateFrequency > int(sketch.frequency(victim->hash))) {
                erase(victim);
            } else {
                erase(candidate);
                return;
            }
        }
    }

    void freeAll()
    {
        readCount = 0;
        table.forEach([](Node *n) { Node::release(n); });
        table.reset();
        window.reset();
        probation.reset();
        protectedList.reset();
        bytes = windowBytes = protectedBytes = 0;
    }
};

// --- MemoryCache ---------------------------------------------------------------------------

MemoryCache::MemoryCache(MemoryCacheOptions options, const Clock &clock)
    : m_clock(clock), m_maxBytes(std::max<qint64>(options.maxBytes, 0)),
      m_seed(QHashSeed::globalSeed())
{
    const int requested = options.shards > 0 ? options.shards : 64;
    const quint64 count = std::bit_ceil(quint64(std::min(requested, 1 << 16)));
    const qint64 perShard = m_maxBytes / qint64(count);
    const bool tinyLfu = options.eviction == MemoryCacheOptions::Eviction::TinyLfu;
    m_shards.reserve(count);
    for (quint64 i = 0; i < count; ++i)
        m_shards.push_back(std::make_unique<Shard>(perShard, tinyLfu));
    m_shardMask = count - 1;
}

MemoryCache::~MemoryCache() = default;

MemoryCache::Shard &MemoryCache::shardFor(quint64 hash) const
{
    return *m_shards[(hash >> 32) & m_shardMask];
}

quint64 MemoryCache::hashOf(QByteArrayView key) const
{
    return hashBytes(key.data(), size_t(key.size()), m_seed);
}

CacheValuePtr MemoryCache::get(QByteArrayView key)
{
    const quint64 hash = hashOf(key);
    Shard &shard = shardFor(hash);
    if (shard.tinyLfu)
        shard.sketch.prefetch(hash); // the sketch's memory never moves: no lock needed
    shard.table.prefetchSlot(hash);
    const TimePoint now = m_clock.now();
    std::lock_guard lock(shard.mutex);
    if (shard.tinyLfu)
        shard.sketch.increment(hash);
    Node *n = shard.table.find(hash, key);
    if (!n) {
        ++shard.misses;
        return {};
    }
    if (n->expiry <= now) {
        ++shard.expirations;
        ++shard.misses;
        shard.drainReads();
        shard.erase(n);
        return {};
    }
    ++shard.hits;
    shard.recordRead(n);
    return CacheValuePtr(n->self, n->value.get());
}

bool MemoryCache::put(const QByteArray &key, CacheValuePtr value, std::chrono::milliseconds ttl)
{
    const quint64 hash = hashOf(key);
    Shard &shard = shardFor(hash);
    const TimePoint now = m_clock.now();
    const bool wanted = value && ttl.count() > 0;
    const qint64 charge = wanted ? key.size() + value->byteSize() + kEntryOverhead : 0;
    const bool fits =
        charge <= shard.capacity && key.size() <= qsizetype(std::numeric_limits<quint32>::max());
    // Allocated before the lock is taken; the replaced node is dropped after it is released.
    Node *fresh = wanted && fits
                      ? Node::create(hash, key, std::move(value), expiryFor(now, ttl), charge)
                      : nullptr;
    std::shared_ptr<const Node> replaced;
    std::lock_guard lock(shard.mutex);
    shard.drainReads();
    Node *n = shard.table.find(hash, key);
    if (!fresh) {
        if (n)
            shard.erase(n);
        if (wanted)
            ++shard.rejected;
        return false;
    }
    if (n) {
        replaced = shard.replace(n, fresh);
        shard.onAccess(fresh); // a replacement counts as a use
    } else {
        fresh->region = Window;
        shard.table.insert(fresh);
        shard.window.pushFront(fresh);
        shard.windowBytes += charge;
        shard.bytes += charge;
    }
    shard.maintain(now);
    return true;
}

bool MemoryCache::remove(QByteArrayView key)
{
    const quint64 hash = hashOf(key);
    Shard &shard = shardFor(hash);
    const TimePoint now = m_clock.now();
    std::lock_guard lock(shard.mutex);
    shard.drainReads();
    Node *n = shard.table.find(hash, key);
    if (!n)
        return false;
    const bool live = n->expiry > now;
    if (!live)
        ++shard.expirations;
    shard.erase(n);
    return live;
}

qint64 MemoryCache::removePrefix(QByteArrayView prefix)
{
    const TimePoint now = m_clock.now();
    qint64 removed = 0;
    std::vector<Node *> doomed;
    for (const auto &shard : m_shards) {
        std::lock_guard lock(shard->mutex);
        shard->drainReads();
        doomed.clear();
        shard->table.forEach([&](Node *n) {
            if (n->key().startsWith(prefix))
                doomed.push_back(n);
        });
        for (Node *n : doomed) {
            if (n->expiry > now)
                ++removed;
            else
                ++shard->expirations;
            shard->erase(n);
        }
        if (!doomed.empty())
            shard->table.shrinkToFit();
    }
    return removed;
}

void MemoryCache::clear()
{
    for (const auto &shard : m_shards) {
        std::lock_guard lock(shard->mutex);
        shard->freeAll();
        if (shard->tinyLfu)
            shard->sketch.clear();
    }
}

MemoryCacheStats MemoryCache::stats() const
{
    MemoryCacheStats s;
    for (const auto &shard : m_shards) {
        std::lock_guard lock(shard->mutex);
        s.hits += shard->hits;
        s.misses += shard->misses;
        s.evictions += shard->evictions;
        s.expirations += shard->expirations;
        s.rejected += shard->rejected;
        s.entries += shard->table.size();
        s.bytes += shard->bytes;
    }
    s.maxBytes = m_maxBytes;
    return s;
}

QList<MemoryCacheKeyInfo> MemoryCache::keys(QByteArrayView prefix, QByteArrayView after,
                                            int limit) const
{
    QList<MemoryCacheKeyInfo> out;
    if (limit <= 0)
        return out;
    const TimePoint now = m_clock.now();
    // A max-heap of the `limit` smallest matching keys seen so far.
    std::vector<MemoryCacheKeyInfo> heap;
    const auto keyLess = [](const MemoryCacheKeyInfo &a, const MemoryCacheKeyInfo &b) {
        return view(a.key) < view(b.key);
    };
    for (const auto &shard : m_shards) {
        std::lock_guard lock(shard->mutex);
        shard->table.forEach([&](const Node *n) {
            const std::string_view k = view(n->key());
            if (n->expiry <= now || !n->key().startsWith(prefix) ||
                (!after.isEmpty() && k <= view(after)))
                return;
            if (heap.size() == size_t(limit)) {
                if (!(k < view(heap.front().key)))
                    return;
                std::pop_heap(heap.begin(), heap.end(), keyLess);
                heap.pop_back();
            }
            MemoryCacheKeyInfo info;
            info.key = n->key().toByteArray();
            info.bytes = n->charge;
            info.ttlMs = std::chrono::ceil<std::chrono::milliseconds>(n->expiry - now).count();
            heap.push_back(std::move(info));
            std::push_heap(heap.begin(), heap.end(), keyLess);
        });
    }
    std::sort_heap(heap.begin(), heap.end(), keyLess);
    out.reserve(qsizetype(heap.size()));
    for (auto &info : heap)
        out.push_back(std::move(info));
    return out;
}

} // namespace bulwark
