// SPDX-License-Identifier: GPL-3.0-or-later
// See TagVersions.h.
#include "TagVersions.h"

namespace bulwark {

TagVersions::TagVersions(const QStringList &names)
    : m_names(QStringList{QStringLiteral("*")} + names),
      m_versions(new std::atomic<quint64>[size_t(m_names.size())])
{
    m_names.removeDuplicates();
    for (qsizetype i = 0; i < m_names.size(); ++i)
        m_versions[size_t(i)].store(0, std::memory_order_relaxed);
}

TagSnapshot TagVersions::snapshot(const QList<int> &tags) const
{
    TagSnapshot out;
    out.append({kAll, version(kAll)});
    for (int tag : tags)
        if (tag != kAll)
            out.append({tag, version(tag)});
    return out;
}

bool TagVersions::current(const TagSnapshot &snapshot) const
{
    for (const auto &[tag, v] : snapshot)
        if (version(tag) != v)
            return false;
    return true;
}

void TagVersions::raiseTo(int index, quint64 v)
{
    std::atomic<quint64> &slot = m_versions[size_t(index)];
    quint64 seen = slot.load(std::memory_order_acquire);
    while (seen < v && !slot.compare_exchange_weak(seen, v, std::memory_order_acq_rel))
        ;
}

} // namespace bulwark
