// SPDX-License-Identifier: GPL-3.0-or-later
// See ThreadTaskQueue.h.
#include "ThreadTaskQueue.h"

#include <QMetaObject>
#include <QThread>
#include <condition_variable>

namespace bulwark {

ThreadTaskQueue::ThreadTaskQueue(QObject *parent) : QObject(parent) {}

void ThreadTaskQueue::post(std::function<void()> fn)
{
    {
        std::lock_guard lock(m_mutex);
        m_tasks.push_back(std::move(fn));
    }
    QMetaObject::invokeMethod(this, "runPending", Qt::QueuedConnection);
}

void ThreadTaskQueue::runBlocking(const std::function<void()> &fn)
{
    Q_ASSERT(QThread::currentThread() != thread());
    std::mutex doneMutex;
    std::condition_variable doneChanged;
    bool done = false;
    post([&] {
        fn();
        std::lock_guard lock(doneMutex);
        done = true;
        doneChanged.notify_one();
    });
    std::unique_lock lock(doneMutex);
    doneChanged.wait(lock, [&] { return done; });
}

void ThreadTaskQueue::runPending()
{
    for (;;) {
        std::function<void()> task;
        {
            std::lock_guard lock(m_mutex);
            if (m_tasks.empty())
                return;
            task = std::move(m_tasks.front());
            m_tasks.pop_front();
        }
        task();
    }
}

} // namespace bulwark
