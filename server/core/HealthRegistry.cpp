// SPDX-License-Identifier: GPL-3.0-or-later
// See HealthRegistry.h.
#include "HealthRegistry.h"

namespace bulwark {

void HealthRegistry::add(Check check)
{
    std::unique_lock lock(m_lock);
    m_checks.append(std::move(check));
}

QList<ComponentHealth> HealthRegistry::evaluate() const
{
    std::shared_lock lock(m_lock);
    QList<ComponentHealth> result;
    result.reserve(m_checks.size());
    for (const Check &check : m_checks)
        result.append(check());
    return result;
}

QString healthStateName(ComponentHealth::State state)
{
    switch (state) {
    case ComponentHealth::State::Up: return QStringLiteral("up");
    case ComponentHealth::State::Degraded: return QStringLiteral("degraded");
    case ComponentHealth::State::Down: return QStringLiteral("down");
    }
    return QStringLiteral("down");
}

} // namespace bulwark
