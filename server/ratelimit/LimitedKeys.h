// SPDX-License-Identifier: GPL-3.0-or-later
// The keys refused most often ("login|i203.0.113.7"), for the admin API: the Space-Saving
// summary (Metwally et al.), which keeps at most `capacity` counters, and when a new key
// arrives with the table full, takes over the smallest counter (its count + 1, with that
// count as the new key's possible overcount). Every key refused more often than
// total / capacity is in the table, and the counts it reports are upper bounds whose error
// is reported with them. It is touched only when a request is refused, so one mutex is
// enough.
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QHash>
#include <QList>
#include <mutex>

namespace bulwark {

class LimitedKeys
{
public:
    struct Entry
    {
        QByteArray key;
        quint64 count = 0; // at most this many refusals
        quint64 error = 0; // of which up to this many may belong to keys it replaced
    };
    explicit LimitedKeys(int capacity = 256) : m_capacity(capacity) {}

    void record(QByteArrayView key);
    QList<Entry> top(int n) const; // most refused first
    void clear();

private:
    mutable std::mutex m_mutex;
    int m_capacity;
    QHash<QByteArray, Entry> m_entries;
};

} // namespace bulwark
