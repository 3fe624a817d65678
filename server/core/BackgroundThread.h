// SPDX-License-Identifier: GPL-3.0-or-later
// A thread with an event loop that runs posted tasks one after another: for work that must
// not hold up the thread that asked for it (refreshing a stale cache entry after the stale
// copy was served, warming the cache at start). Tasks may use the database pool (the
// thread has an event loop, so the pool can ask it to give back an idle connection).
//
// The queue is bounded: post() refuses a task when `maxPending` are waiting, so a burst of
// stale hits cannot pile up work; the caller then simply does not refresh this time.
// stop() lets the running task finish, drops the rest, runs the finalizer in the thread
// (closing its database and Redis connections) and joins. post() may be called from any
// thread, but not while stop() runs: the owner stops the threads that post first (the
// server stops its HTTP workers before this thread).
#pragma once

#include <QThread>
#include <atomic>
#include <functional>
#include <memory>

namespace bulwark {

class ThreadTaskQueue;

class BackgroundThread
{
public:
    explicit BackgroundThread(QString name, int maxPending = 1000);
    ~BackgroundThread(); // stops
    Q_DISABLE_COPY_MOVE(BackgroundThread)

    void setFinalizer(std::function<void()> finalizer) { m_finalizer = std::move(finalizer); }
    void start();
    void stop();
    // False when the queue is full or the thread is not running.
    bool post(std::function<void()> task);
    int pending() const { return m_pending.load(std::memory_order_relaxed); }

private:
    QString m_name;
    int m_maxPending;
    std::unique_ptr<QThread> m_thread;
    ThreadTaskQueue *m_queue = nullptr; // lives in m_thread
    std::function<void()> m_finalizer;
    std::atomic<int> m_pending{0};
    std::atomic<bool> m_running{false};
};

} // namespace bulwark
