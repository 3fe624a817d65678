// SPDX-License-Identifier: GPL-3.0-or-later
// See LatencyHistogram.h.
#include "LatencyHistogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace bulwark {

int LatencyHistogram::bucketOf(quint64 value)
{
    value = std::min(value, kMaxValue);
    if (value < (quint64(1) << kLinearBits))
        return int(value);
    // The leading 1 at bit `top` (>= kLinearBits); the next kLinearBits - 1 bits pick the
    // sub-bucket.
    const int top = 63 - std::countl_zero(value);
    const int shift = top - (kLinearBits - 1);
    const int sub = int(value >> shift) - kSubBuckets; // 0 .. kSubBuckets - 1
    return (1 << kLinearBits) + (top - kLinearBits) * kSubBuckets + sub;
}

quint64 LatencyHistogram::bucketLow(int bucket)
{
    if (bucket < (1 << kLinearBits))
        return quint64(bucket);
    const int rest = bucket - (1 << kLinearBits);
    const int top = kLinearBits + rest / kSubBuckets;
    const int shift = top - (kLinearBits - 1);
    return quint64(kSubBuckets + rest % kSubBuckets) << shift;
}

quint64 LatencyHistogram::bucketHigh(int bucket)
{
    if (bucket < (1 << kLinearBits))
        return quint64(bucket);
    const int top = kLinearBits + (bucket - (1 << kLinearBits)) / kSubBuckets;
    const int shift = top - (kLinearBits - 1);
    return bucketLow(bucket) + (quint64(1) << shift) - 1;
}

void LatencyHistogram::record(quint64 valueNs, quint64 count)
{
    if (count == 0)
        return;
    m_counts[size_t(bucketOf(valueNs))] += count;
    m_count += count;
    m_min = std::min(m_min, valueNs);
    m_max = std::max(m_max, valueNs);
    m_sum += double(valueNs) * double(count);
}

void LatencyHistogram::merge(const LatencyHistogram &other)
{
    for (int i = 0; i < kBuckets; ++i)
        m_counts[size_t(i)] += other.m_counts[size_t(i)];
    m_count += other.m_count;
    m_min = std::min(m_min, other.m_min);
    m_max = std::max(m_max, other.m_max);
    m_sum += other.m_sum;
}

LatencyHistogram LatencyHistogram::fromBuckets(const std::vector<std::pair<int, quint64>> &buckets,
                                               quint64 min, quint64 max, double sum)
{
    LatencyHistogram h;
    for (const auto &[bucket, count] : buckets) {
        if (bucket < 0 || bucket >= kBuckets || count == 0)
            continue;
        h.m_counts[size_t(bucket)] += count;
        h.m_count += count;
    }
    if (h.m_count == 0)
        return LatencyHistogram();
    h.m_min = min;
    h.m_max = max;
    h.m_sum = sum;
    return h;
}

void LatencyHistogram::reset()
{
    *this = LatencyHistogram();
}

quint64 LatencyHistogram::valueAtQuantile(double q) const
{
    if (m_count == 0)
        return 0;
    q = std::clamp(std::isnan(q) ? 0.0 : q, 0.0, 1.0);
    if (q == 0.0)
        return m_min;
    if (q == 1.0)
        return m_max;
    // Nearest rank: the ceil(q * count)-th smallest sample (1-based).
    const quint64 rank = std::max<quint64>(1, quint64(std::ceil(q * double(m_count))));
    quint64 seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
        seen += m_counts[size_t(i)];
        if (seen >= rank) {
            const quint64 low = bucketLow(i);
            const quint64 mid = low + (bucketHigh(i) - low) / 2;
            return std::clamp(mid, m_min, m_max);
        }
    }
    return m_max;
}

} // namespace bulwark
