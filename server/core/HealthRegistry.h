// SPDX-License-Identifier: GPL-3.0-or-later
// Components (HTTP listener, data directory, later the database and Redis) register a
// check here; /health and /health/ready ask every check and report which one is down.
// Checks must be cheap and thread-safe: they run on HTTP worker threads.
#pragma once

#include <QList>
#include <QString>
#include <functional>
#include <mutex>
#include <shared_mutex>

namespace bulwark {

struct ComponentHealth
{
    enum class State
    {
        Up,
        Degraded,
        Down
    };
    QString name;
    State state = State::Up;
    QString detail;
    bool required = true; // a required component that is Down makes the process not ready
};

class HealthRegistry
{
public:
    using Check = std::function<ComponentHealth()>;
    void add(Check check);
    QList<ComponentHealth> evaluate() const;

private:
    mutable std::shared_mutex m_lock;
    QList<Check> m_checks;
};

QString healthStateName(ComponentHealth::State state);

} // namespace bulwark
