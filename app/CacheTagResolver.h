// SPDX-License-Identifier: GPL-3.0-or-later
// Which collections a cached response depends on, from its path: a collection route
// depends on its collection and on those its ?expand= pulls in; a report on the
// collections it declares in depends_on (all of them if it declares none). nullopt: not a
// collection or report this schema serves (/api/v1/me, a typo, a deeper path): do not
// cache. Paths outside /api/v1/ that a policy names depend on nothing and live out their
// TTL.
// It lives in app/ because only the composition root knows both the schema (db/) and the
// cache (cache/).
#pragma once

#include "CollectionSchema.h"
#include "ResponseCacheStage.h"
#include "TagVersions.h"

#include <memory>

namespace bulwark {

// `tags` must outlive the resolver.
ResponseCacheStage::TagResolver cacheTagResolver(std::shared_ptr<const CollectionSchema> schema,
                                                 const TagVersions &tags);

} // namespace bulwark
