// SPDX-License-Identifier: GPL-3.0-or-later
// See TimeSeries.h.
#include "TimeSeries.h"

#include <QJsonArray>

namespace bulwark {

TimeSeries::TimeSeries(QStringList seriesNames, int capacitySeconds)
    : m_names(std::move(seriesNames)), m_capacity(qMax(1, capacitySeconds)),
      m_times(size_t(m_capacity)), m_values(size_t(m_capacity) * size_t(m_names.size()))
{
}

void TimeSeries::append(qint64 epochSeconds, const std::vector<double> &values)
{
    std::lock_guard lock(m_mutex);
    const size_t width = size_t(m_names.size());
    m_times[size_t(m_next)] = epochSeconds;
    for (size_t i = 0; i < width; ++i)
        m_values[size_t(m_next) * width + i] = i < values.size() ? values[i] : 0.0;
    m_next = (m_next + 1) % m_capacity;
    m_count = qMin(m_count + 1, m_capacity);
}

int TimeSeries::size() const
{
    std::lock_guard lock(m_mutex);
    return m_count;
}

QJsonObject TimeSeries::toJson(int seconds) const
{
    std::lock_guard lock(m_mutex);
    const int n = qBound(0, seconds, m_count);
    const size_t width = size_t(m_names.size());
    QJsonArray times;
    std::vector<QJsonArray> columns(width);
    for (int k = n; k > 0; --k) {
        const size_t row = size_t((m_next - k + m_capacity) % m_capacity);
        times.append(m_times[row]);
        for (size_t i = 0; i < width; ++i)
            columns[i].append(m_values[row * width + i]);
    }
    QJsonObject values;
    for (size_t i = 0; i < width; ++i)
        values.insert(m_names[qsizetype(i)], columns[i]);
    return QJsonObject{{QStringLiteral("interval"), 1},
                       {QStringLiteral("series"), QJsonArray::fromStringList(m_names)},
                       {QStringLiteral("t"), times},
                       {QStringLiteral("values"), values}};
}

} // namespace bulwark
