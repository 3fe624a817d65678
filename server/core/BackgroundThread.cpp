// SPDX-License-Identifier: GPL-3.0-or-later
// See BackgroundThread.h. Tasks reach the thread through ThreadTaskQueue (a std::mutex
// hand-off that ThreadSanitizer can see), not through Qt's event queue.
#include "BackgroundThread.h"

#include "ThreadTaskQueue.h"

namespace bulwark {

BackgroundThread::BackgroundThread(QString name, int maxPending)
    : m_name(std::move(name)), m_maxPending(maxPending)
{
}

BackgroundThread::~BackgroundThread()
{
    stop();
}

void BackgroundThread::start()
{
    if (m_thread)
        return;
    m_thread = std::make_unique<QThread>();
    m_thread->setObjectName(m_name);
    m_queue = new ThreadTaskQueue(nullptr);
    m_queue->moveToThread(m_thread.get());
    QObject::connect(m_thread.get(), &QThread::finished, m_queue, &QObject::deleteLater);
    m_running.store(true, std::memory_order_release);
    m_thread->start();
}

void BackgroundThread::stop()
{
    if (!m_thread)
        return;
    m_running.store(false, std::memory_order_release);
    // Runs after whatever is queued before it (those tasks see m_running false and skip).
    // runBlocking, not a post followed by QThread::wait(): its std::mutex hand-off is what
    // tells ThreadSanitizer that the finalizer's writes (closing pool connections) happen
    // before this thread goes on to destroy the pool; Debian's Qt is not instrumented, so
    // QThread::wait() alone is invisible to it.
    if (m_finalizer)
        m_queue->runBlocking(m_finalizer);
    m_thread->quit();
    m_thread->wait();
    m_thread.reset();
    m_queue = nullptr;
}

bool BackgroundThread::post(std::function<void()> task)
{
    if (!m_running.load(std::memory_order_acquire))
        return false;
    if (m_pending.fetch_add(1, std::memory_order_acq_rel) >= m_maxPending) {
        m_pending.fetch_sub(1, std::memory_order_acq_rel);
        return false;
    }
    m_queue->post([this, task = std::move(task)] {
        if (m_running.load(std::memory_order_acquire))
            task();
        m_pending.fetch_sub(1, std::memory_order_acq_rel);
    });
    return true;
}

} // namespace bulwark
