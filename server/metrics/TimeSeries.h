// SPDX-License-Identifier: GPL-3.0-or-later
// Fixed-capacity ring buffer of one-second samples for the console's live charts. One
// sample holds every headline series at that second, so a chart window is one contiguous
// read. Memory is constant: capacity x series doubles (3600 x 10 x 8 bytes = 281 KiB).
// Thread-safe: one writer (the sampler timer) and any number of readers (admin API).
#pragma once

#include <QJsonObject>
#include <QStringList>
#include <mutex>
#include <vector>

namespace bulwark {

class TimeSeries
{
public:
    TimeSeries(QStringList seriesNames, int capacitySeconds);

    // values must have one entry per series name.
    void append(qint64 epochSeconds, const std::vector<double> &values);
    // {"interval": 1, "series": ["rps", ...], "t": [...], "values": {"rps": [...], ...}}
    // with the newest `seconds` samples (at most the capacity).
    QJsonObject toJson(int seconds) const;
    int size() const;
    int capacity() const { return m_capacity; }
    const QStringList &names() const { return m_names; }

private:
    QStringList m_names;
    int m_capacity;
    mutable std::mutex m_mutex;
    std::vector<qint64> m_times;
    std::vector<double> m_values; // capacity x names, row per sample
    int m_next = 0;
    int m_count = 0;
};

} // namespace bulwark
