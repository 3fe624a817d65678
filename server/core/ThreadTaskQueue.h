// SPDX-License-Identifier: GPL-3.0-or-later
// Runs functions in the thread of the object that owns the queue, posted from any thread.
// It does what QMetaObject::invokeMethod(obj, lambda) does, with one difference that
// matters for testing: the hand-off goes through a std::mutex, which ThreadSanitizer sees,
// while Qt's event queue synchronises through Qt's own futex-based locks, which it cannot
// see in Debian's uninstrumented Qt (every queued lambda would be reported as a race). Qt
// only carries a "run what is pending" call by name, with no data in it.
#pragma once

#include <QObject>
#include <deque>
#include <functional>
#include <mutex>

namespace bulwark {

class ThreadTaskQueue final : public QObject
{
    Q_OBJECT

public:
    // Lives in parent's thread (and moves with it).
    explicit ThreadTaskQueue(QObject *parent);

    // Queues fn; returns at once. Callable from any thread.
    void post(std::function<void()> fn);
    // Queues fn and waits until it has run. Never call it from the queue's own thread.
    void runBlocking(const std::function<void()> &fn);

private:
    Q_INVOKABLE void runPending();

    std::mutex m_mutex;
    std::deque<std::function<void()>> m_tasks;
};

} // namespace bulwark
