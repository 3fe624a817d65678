// SPDX-License-Identifier: GPL-3.0-or-later
// See JobRegistry.h.
#include "JobRegistry.h"

#include <algorithm>

namespace bulwark {

void JobRegistry::registerHandler(const QString &type, JobHandler handler, JobTypeOptions options)
{
    m_entries.insert(type, Entry{type, std::move(handler), std::move(options)});
}

const JobRegistry::Entry *JobRegistry::find(const QString &type) const
{
    auto it = m_entries.constFind(type);
    return it == m_entries.constEnd() ? nullptr : &it.value();
}

QStringList JobRegistry::types() const
{
    QStringList out = m_entries.keys();
    std::sort(out.begin(), out.end());
    return out;
}

JobTypeOptions JobRegistry::defaults(const JobsConfig &config)
{
    JobTypeOptions o;
    o.retry = RetryPolicy::make(config.backoffBase, config.backoffMultiplier, config.backoffMax,
                                config.defaultMaxAttempts, config.backoffJitter);
    o.timeout = config.defaultTimeout;
    return o;
}

Result<bool> JobRegistry::applyConfig(const JobsConfig &config)
{
    QStringList queues;
    for (const JobQueueConfig &q : config.queues)
        queues.append(q.name);
    for (auto it = m_entries.begin(); it != m_entries.end(); ++it) {
        if (!queues.contains(it->options.queue))
            it->options.queue = QStringLiteral("default");
    }
    for (qsizetype i = 0; i < config.types.size(); ++i) {
        const JobTypeConfig &t = config.types.at(i);
        auto it = m_entries.find(t.type);
        if (it == m_entries.end())
            return Error{ErrorCode::Unprocessable,
                         QStringLiteral("jobs.types[%1].type: no job type \"%2\" (known: %3)")
                             .arg(i)
                             .arg(t.type, types().join(QStringLiteral(", ")))};
        JobTypeOptions &o = it->options;
        if (!t.queue.isEmpty()) {
            if (!queues.contains(t.queue))
                return Error{ErrorCode::Unprocessable,
                             QStringLiteral("jobs.types[%1].queue: no queue \"%2\" in jobs.queues")
                                 .arg(i)
                                 .arg(t.queue)};
            o.queue = t.queue;
        }
        if (!t.priority.isEmpty())
            o.priority = jobPriorityFromName(t.priority).value_or(o.priority);
        if (t.maxAttempts > 0)
            o.retry.maxAttempts = t.maxAttempts;
        if (t.backoffBase.count() >= 0)
            o.retry.baseDelay = t.backoffBase;
        if (t.backoffMax.count() >= 0)
            o.retry.maxDelay = t.backoffMax;
        if (t.backoffMultiplier > 0)
            o.retry.multiplier = t.backoffMultiplier;
        if (t.backoffJitter >= 0)
            o.retry.jitter = t.backoffJitter;
        if (t.timeout.count() >= 0)
            o.timeout = t.timeout;
    }
    return true;
}

} // namespace bulwark
