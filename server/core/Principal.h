// SPDX-License-Identifier: GPL-3.0-or-later
// Who a request acts for, once authentication has succeeded: the user's id and whether
// that user is an administrator. A plain value kept in core (not in db/) so the http layer
// can carry it from the auth stage to the handlers without depending on the database.
#pragma once

#include <QtGlobal>

namespace bulwark {

struct Principal
{
    qint64 userId = 0;
    bool admin = false;
    qint64 keyId = 0; // the API key the request came with (0 for a password login)
};

} // namespace bulwark
