// SPDX-License-Identifier: GPL-3.0-or-later
// What the memory cache stores: an immutable value shared by pointer, so a hit costs one
// reference-count increment and readers never copy the bytes. Each value says how many
// bytes it occupies; MemoryCache charges that (plus the key and a fixed per-entry
// overhead) against cache.memory.max_bytes.
#pragma once

#include <QtGlobal>
#include <memory>

namespace bulwark {

class CacheValue
{
public:
    virtual ~CacheValue() = default;
    // Heap bytes this value holds (bodies, headers), not counting the key.
    virtual qint64 byteSize() const = 0;
};

using CacheValuePtr = std::shared_ptr<const CacheValue>;

} // namespace bulwark
