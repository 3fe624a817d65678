// SPDX-License-Identifier: GPL-3.0-or-later
// The request pipeline: an ordered list of stages ending in the router. Each stage has one
// method that either answers (returns a response without calling next) or passes on
// (calls next and may adjust what comes back), so "on the way in" and "on the way out"
// work sit together in one small class. The order is set in one place, the composition
// root (app/), following DESIGN.md:
//   metrics+access log > security headers > compression > request id > auth > ... > router
// Stages are shared by all worker threads and must be thread-safe; they run synchronously.
#pragma once

#include "HttpRequest.h"
#include "HttpResponse.h"
#include "Router.h"

#include <memory>
#include <vector>

namespace bulwark {

class Pipeline;

class Next
{
public:
    Next(const Pipeline &pipeline, size_t index) : m_pipeline(pipeline), m_index(index) {}
    HttpResponse operator()(RequestContext &ctx) const;

private:
    const Pipeline &m_pipeline;
    size_t m_index;
};

class Stage
{
public:
    virtual ~Stage() = default;
    virtual HttpResponse handle(RequestContext &ctx, const Next &next) = 0;
};

class Pipeline
{
public:
    explicit Pipeline(const Router &router) : m_router(router) {}
    void append(std::shared_ptr<Stage> stage) { m_stages.push_back(std::move(stage)); }
    HttpResponse run(RequestContext &ctx) const { return Next(*this, 0)(ctx); }
    // The rest of the pipeline after `stage`, for work a stage starts outside a request
    // (cache warming); the whole pipeline if stage is not in it.
    Next nextAfter(const Stage *stage) const
    {
        for (size_t i = 0; i < m_stages.size(); ++i)
            if (m_stages[i].get() == stage)
                return Next(*this, i + 1);
        return Next(*this, 0);
    }

private:
    friend class Next;
    const Router &m_router;
    std::vector<std::shared_ptr<Stage>> m_stages;
};

inline HttpResponse Next::operator()(RequestContext &ctx) const
{
    if (m_index < m_pipeline.m_stages.size())
        return m_pipeline.m_stages[m_index]->handle(ctx, Next(m_pipeline, m_index + 1));
    return m_pipeline.m_router.dispatch(ctx);
}

} // namespace bulwark
