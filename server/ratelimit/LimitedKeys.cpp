// SPDX-License-Identifier: GPL-3.0-or-later
// See LimitedKeys.h. Finding the smallest counter is a linear scan of at most `capacity`
// entries, done only when a new key arrives with the table full (refusals of keys already
// counted are one hash lookup).
#include "LimitedKeys.h"

#include <algorithm>

namespace bulwark {

void LimitedKeys::record(QByteArrayView key)
{
    std::lock_guard lock(m_mutex);
    const QByteArray k = key.toByteArray();
    if (auto it = m_entries.find(k); it != m_entries.end()) {
        ++it->count;
        return;
    }
    if (m_capacity <= 0)
        return; // no room at all (and no smallest counter to take over)
    if (m_entries.size() < m_capacity) {
        m_entries.insert(k, Entry{k, 1, 0});
        return;
    }
    auto smallest = m_entries.begin();
    for (auto it = m_entries.begin(); it != m_entries.end(); ++it)
        if (it->count < smallest->count)
            smallest = it;
    const quint64 floor = smallest->count;
    m_entries.erase(smallest);
    m_entries.insert(k, Entry{k, floor + 1, floor});
}

QList<LimitedKeys::Entry> LimitedKeys::top(int n) const
{
    QList<Entry> all;
    {
        std::lock_guard lock(m_mutex);
        all = m_entries.values();
    }
    std::sort(all.begin(), all.end(), [](const Entry &a, const Entry &b) {
        return a.count != b.count ? a.count > b.count : a.key < b.key;
    });
    if (all.size() > n)
        all.resize(n);
    return all;
}

void LimitedKeys::clear()
{
    std::lock_guard lock(m_mutex);
    m_entries.clear();
}

} // namespace bulwark
