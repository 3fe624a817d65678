// SPDX-License-Identifier: GPL-3.0-or-later
// See CachedResponse.h. The wire form is little-endian fixed-width integers and
// length-prefixed byte strings: no QDataStream (it would copy through a QBuffer) and
// nothing to parse but lengths, each checked against what is left.
#include "CachedResponse.h"

#include <QtEndian>
#include <cstring>

namespace bulwark {

namespace {

constexpr char kMagic[4] = {'B', 'W', 'C', '1'};

void putInt(QByteArray &out, qint64 v)
{
    char b[8];
    qToLittleEndian(v, b);
    out.append(b, 8);
}

void putBytes(QByteArray &out, QByteArrayView bytes)
{
    putInt(out, bytes.size());
    out.append(bytes.data(), bytes.size());
}

class Reader
{
public:
    explicit Reader(QByteArrayView bytes) : m_rest(bytes) {}
    bool ok() const { return m_ok; }
    qint64 integer()
    {
        if (m_rest.size() < 8) {
            m_ok = false;
            return 0;
        }
        const qint64 v = qFromLittleEndian<qint64>(m_rest.data());
        m_rest = m_rest.sliced(8);
        return v;
    }
    QByteArray bytes()
    {
        const qint64 n = integer();
        if (!m_ok || n < 0 || n > m_rest.size()) {
            m_ok = false;
            return {};
        }
        QByteArray out(m_rest.data(), n);
        m_rest = m_rest.sliced(n);
        return out;
    }
    bool magic()
    {
        if (m_rest.size() < 4 || std::memcmp(m_rest.data(), kMagic, 4) != 0)
            return false;
        m_rest = m_rest.sliced(4);
        return true;
    }
    bool atEnd() const { return m_rest.isEmpty(); }

private:
    QByteArrayView m_rest;
    bool m_ok = true;
};

} // namespace

qint64 CachedResponse::byteSize() const
{
    qint64 n = qint64(sizeof(CachedResponse)) + contentType.size() + body.size() + 2 * route.size();
    for (const auto &[name, value] : headers)
        n += name.size() + value.size() + 2 * qint64(sizeof(QByteArray));
    return n;
}

QByteArray CachedResponse::serialize(const TagVersions &tagNames) const
{
    QByteArray out;
    out.reserve(body.size() + 256);
    out.append(kMagic, 4);
    putInt(out, status);
    putInt(out, storedAtMs);
    putInt(out, freshMs);
    putInt(out, staleMs);
    putInt(out, tags.size());
    for (const auto &[tag, version] : tags) {
        putBytes(out, tagNames.name(tag).toUtf8());
        putInt(out, qint64(version));
    }
    putBytes(out, route.toUtf8());
    putBytes(out, contentType);
    putInt(out, headers.size());
    for (const auto &[name, value] : headers) {
        putBytes(out, name);
        putBytes(out, value);
    }
    putBytes(out, body);
    return out;
}

std::shared_ptr<CachedResponse> CachedResponse::deserialize(QByteArrayView bytes,
                                                            const TagVersions &tagNames)
{
    Reader in(bytes);
    if (!in.magic())
        return nullptr;
    auto r = std::make_shared<CachedResponse>();
    r->status = int(in.integer());
    r->storedAtMs = in.integer();
    r->freshMs = in.integer();
    r->staleMs = in.integer();
    const qint64 tagCount = in.integer();
    if (!in.ok() || tagCount < 0 || tagCount > 1024)
        return nullptr;
    for (qint64 i = 0; i < tagCount; ++i) {
        const QByteArray name = in.bytes();
        const qint64 version = in.integer();
        const int index = tagNames.indexOf(QString::fromUtf8(name));
        if (!in.ok() || index < 0)
            return nullptr; // a tag this instance does not know: cannot check it
        r->tags.append({index, quint64(version)});
    }
    r->route = QString::fromUtf8(in.bytes());
    r->contentType = in.bytes();
    const qint64 headerCount = in.integer();
    if (!in.ok() || headerCount < 0 || headerCount > 1024)
        return nullptr;
    for (qint64 i = 0; i < headerCount; ++i) {
        QByteArray name = in.bytes();
        QByteArray value = in.bytes();
        r->headers.append({std::move(name), std::move(value)});
    }
    r->body = in.bytes();
    if (!in.ok() || !in.atEnd())
        return nullptr;
    return r;
}

} // namespace bulwark
