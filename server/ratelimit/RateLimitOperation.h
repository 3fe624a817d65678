// SPDX-License-Identifier: GPL-3.0-or-later
// One operation of a batch request as the request it stands for (e.g. POST
// /api/v1/activities), which the rate limiter counts like that request. Its own header so
// that the data API, which lists a batch's operations, needs nothing else of the limiter.
#pragma once

#include <QByteArray>
#include <QString>

namespace bulwark {

struct RateLimitOperation
{
    QByteArray method;
    QString path;
};

} // namespace bulwark
