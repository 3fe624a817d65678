// SPDX-License-Identifier: GPL-3.0-or-later
// The load tester's latency histogram: constant memory, any number of samples, percentiles
// within 0.4 % of the exact value, mergeable (threads, distributed workers). HdrHistogram's
// log-linear layout: values below 256 ns have a bucket each (exact); above, every power of
// two is split into 128 equal buckets, so a bucket is at most 1/128 of its values wide. A
// quantile is answered with its bucket's midpoint, clamped to the exact min and max: at most
// half a bucket off, under 0.4 %.
// Values are nanoseconds up to 2^44 (about 4.9 hours); larger ones count in the top bucket
// (their max stays exact). 4 864 buckets of 8 bytes: 38 KiB per histogram, whatever the
// number of samples.
//
// Quantiles use the nearest-rank definition: the smallest value v such that at least
// q * count samples are <= v (q = 0 gives the minimum, q = 1 the maximum).
//
// Not thread-safe: each load-generating thread keeps its own and they are merged.
#pragma once

#include <QtGlobal>
#include <array>
#include <limits>
#include <utility>
#include <vector>

namespace bulwark {

class LatencyHistogram
{
public:
    static constexpr int kLinearBits = 8;                   // below 2^8: one bucket per value
    static constexpr int kSubBuckets = 1 << (kLinearBits - 1); // 128 per power of two above
    static constexpr int kMaxBits = 44;                     // values up to 2^44 - 1
    static constexpr int kBuckets = (1 << kLinearBits) + (kMaxBits - kLinearBits) * kSubBuckets;
    static constexpr quint64 kMaxValue = (quint64(1) << kMaxBits) - 1;

    void record(quint64 valueNs, quint64 count = 1);
    void merge(const LatencyHistogram &other);
    void reset();

    quint64 count() const { return m_count; }
    quint64 min() const { return m_count ? m_min : 0; }
    quint64 max() const { return m_max; }
    double mean() const { return m_count ? m_sum / double(m_count) : 0.0; }
    double sum() const { return m_sum; } // of every value recorded, ns
    // Nearest-rank quantile, q in [0, 1] (clamped); 0 when empty.
    quint64 valueAtQuantile(double q) const;

    // The bucket a value falls in, and the range of values it holds (for tests and
    // serialisation).
    static int bucketOf(quint64 value);
    static quint64 bucketLow(int bucket);
    static quint64 bucketHigh(int bucket); // inclusive
    // The number of values counted in a bucket (0 outside [0, kBuckets)).
    quint64 countAt(int bucket) const
    {
        return bucket >= 0 && bucket < kBuckets ? m_counts[size_t(bucket)] : 0;
    }

    // Rebuilds a histogram from its parts, as serialisation saw them: the (bucket, count)
    // pairs of its non-empty buckets (any order; a bucket named twice adds up) and the exact
    // min(), max() and sum(). The result is == to the histogram the parts came from. The
    // parts must be consistent: buckets in [0, kBuckets), min in the lowest non-empty bucket
    // and max in the highest (histogramFromJson checks this first). Pairs with a bucket out
    // of range or a zero count are skipped; no pairs (or only empty ones) give an empty
    // histogram whatever min, max and sum say.
    static LatencyHistogram fromBuckets(const std::vector<std::pair<int, quint64>> &buckets,
                                        quint64 min, quint64 max, double sum);

    // Counts, min and max; not sum(), a double whose last bits can depend on the order of
    // merges once it passes 2^53 ns.
    bool operator==(const LatencyHistogram &other) const
    {
        return m_count == other.m_count && m_min == other.m_min && m_max == other.m_max &&
               m_counts == other.m_counts;
    }

private:
    std::array<quint64, kBuckets> m_counts{};
    quint64 m_count = 0;
    quint64 m_min = std::numeric_limits<quint64>::max();
    quint64 m_max = 0;
    double m_sum = 0;
};

} // namespace bulwark
