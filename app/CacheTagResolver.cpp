// SPDX-License-Identifier: GPL-3.0-or-later
// See CacheTagResolver.h.
#include "CacheTagResolver.h"

namespace bulwark {
ResponseCacheStage::TagResolver cacheTagResolver(std::shared_ptr<const CollectionSchema> schema,
                                                 const TagVersions &tags)
{
    return [schema, &tags](const HttpRequest &request) -> std::optional<QList<int>> {
        static const QString api = QStringLiteral("/api/v1/");
        if (!request.path.startsWith(api))
            return QList<int>{};
        // "<first>" or "<first>/<second>"; anything deeper is not a data route.
        const QStringView rest = QStringView(request.path).sliced(api.size());
        const qsizetype slash = rest.indexOf(u'/');
        const QStringView first = slash < 0 ? rest : rest.first(slash);
        const QStringView second = slash < 0 ? QStringView() : rest.sliced(slash + 1);
        if (second.contains(u'/'))
            return std::nullopt;
        QList<int> out;
        auto all = [&] {
            for (const CollectionDef &c : schema->collections())
                out.append(tags.indexOf(c.name));
        };
        if (slash >= 0 && first == QLatin1String("reports")) {
            const ReportDef *report = schema->report(second);
            if (!report)
                return std::nullopt;
            for (const QString &name : report->dependsOn)
                if (const int tag = tags.indexOf(name); tag >= 0)
                    out.append(tag);
            if (out.isEmpty())
                all();
            return out;
        }
        const CollectionDef *c = schema->collection(first);
        if (!c)
            return std::nullopt;
        out.append(tags.indexOf(c->name));
        const QString expand = request.queryValue("expand");
        if (!expand.isEmpty()) {
            const auto children = schema->backReferences(c->name);
            for (const QString &name : expand.split(',')) {
                const FieldDef *f = c->field(name.trimmed());
                QString target = f ? f->references : QString();
                for (const auto &child : children)
                    if (child.collection == name.trimmed())
                        target = child.collection;
                if (const int tag = tags.indexOf(target); tag >= 0)
                    out.append(tag);
            }
        }
        return out;
    };
}

} // namespace bulwark
