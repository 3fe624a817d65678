// SPDX-License-Identifier: GPL-3.0-or-later
// Versioned tags: how a write invalidates every cached response that depends on a
// collection in O(1), without finding those responses. Each tag (a collection name, plus
// "*" on which every entry depends) has a version number. A response is stored with the
// versions of its tags as they were *before* its handler ran; when it is read back, any
// tag whose version has moved since makes it invalid (and it is dropped). A write bumps
// the versions of the collections it changed after it commits: one atomic increment per
// tag, whatever the number of entries.
//
// Reading versions before the handler runs is what makes this safe against a write that
// commits while a response is being computed: that response carries the old version and
// is never served.
//
// With Redis, the authoritative versions live there (INCR) and reach the other instances
// by pub/sub; TieredCache keeps this local copy in step. The set of tags is fixed at
// start (the schema's collections); versions are lock-free atomics.
#pragma once

#include <QString>
#include <QStringList>
#include <QVarLengthArray>
#include <atomic>
#include <memory>

namespace bulwark {

using TagSnapshot = QVarLengthArray<std::pair<int, quint64>, 4>; // tag index, version

class TagVersions
{
public:
    static constexpr int kAll = 0; // "*": every entry depends on it (flush)

    explicit TagVersions(const QStringList &names);
    Q_DISABLE_COPY_MOVE(TagVersions)

    int size() const { return int(m_names.size()); }
    int indexOf(QStringView name) const { return int(m_names.indexOf(name)); }
    const QString &name(int index) const { return m_names.at(index); }
    const QStringList &names() const { return m_names; }

    quint64 version(int index) const
    {
        return m_versions[size_t(index)].load(std::memory_order_acquire);
    }
    // The versions of `tags` now, "*" included, for an entry about to be computed.
    TagSnapshot snapshot(const QList<int> &tags) const;
    // True while none of the snapshot's tags has moved.
    bool current(const TagSnapshot &snapshot) const;

    // A local bump (no Redis, or Redis unreachable): returns the new version.
    quint64 bump(int index)
    {
        return m_versions[size_t(index)].fetch_add(1, std::memory_order_acq_rel) + 1;
    }
    // Raises the version to at least v (versions from Redis only grow between resyncs).
    void raiseTo(int index, quint64 v);
    // Sets the version exactly (a resync with Redis, whose counters may have restarted).
    void set(int index, quint64 v)
    {
        m_versions[size_t(index)].store(v, std::memory_order_release);
    }

private:
    QStringList m_names;
    std::unique_ptr<std::atomic<quint64>[]> m_versions;
};

} // namespace bulwark
