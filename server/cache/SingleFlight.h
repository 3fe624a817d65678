// SPDX-License-Identifier: GPL-3.0-or-later
// Single-flight: when many threads miss the same key at once, the first one (the leader)
// computes the value and the others wait for its result instead of computing it again (a
// cache stampede on a slow report would otherwise run it once per waiting request).
//
// A waiter gives up after `maxWait` and computes the value itself, so a stuck leader
// delays others by at most that long. If the leader's result is not shareable (the loader
// says so), each waiter computes its own. Keys are forgotten as soon as the leader is done:
// this is not a cache, only a meeting point for concurrent misses.
#pragma once

#include <QByteArray>
#include <QHash>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace bulwark {

template <typename T> class SingleFlight
{
public:
    struct Outcome
    {
        T value;
        bool shared = false; // true: computed by another caller
    };
    // load returns the value and whether waiters may use it.
    using Loader = std::function<std::pair<T, bool>()>;

    Outcome run(const QByteArray &key, const Loader &load,
                std::chrono::milliseconds maxWait = std::chrono::milliseconds(30'000))
    {
        std::shared_ptr<Call> call;
        bool leader = false;
        {
            std::lock_guard lock(m_mutex);
            auto it = m_calls.find(key);
            if (it == m_calls.end()) {
                call = std::make_shared<Call>();
                m_calls.insert(key, call);
                leader = true;
            } else {
                call = it.value();
            }
        }
        if (leader) {
            std::pair<T, bool> result;
            try {
                result = load();
            } catch (...) {
                finish(key, call, std::nullopt);
                throw;
            }
            finish(key, call, result.second ? std::optional<T>(result.first) : std::nullopt);
            return Outcome{std::move(result.first), false};
        }
        {
            std::unique_lock lock(call->mutex);
            if (call->cv.wait_for(lock, maxWait, [&] { return call->done; }) && call->value) {
                m_sharedCount.fetch_add(1, std::memory_order_relaxed);
                return Outcome{*call->value, true};
            }
        }
        return Outcome{load().first, false};
    }

    // Calls that waited for a leader and used its result, since start.
    quint64 sharedCount() const { return m_sharedCount.load(std::memory_order_relaxed); }
    int inFlight() const
    {
        std::lock_guard lock(m_mutex);
        return int(m_calls.size());
    }

private:
    struct Call
    {
        std::mutex mutex;
        std::condition_variable cv;
        bool done = false;
        std::optional<T> value;
    };

    void finish(const QByteArray &key, const std::shared_ptr<Call> &call, std::optional<T> value)
    {
        {
            std::lock_guard lock(m_mutex);
            m_calls.remove(key);
        }
        {
            std::lock_guard lock(call->mutex);
            call->value = std::move(value);
            call->done = true;
        }
        call->cv.notify_all();
    }

    mutable std::mutex m_mutex;
    QHash<QByteArray, std::shared_ptr<Call>> m_calls;
    std::atomic<quint64> m_sharedCount{0};
};

} // namespace bulwark
