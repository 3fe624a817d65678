// SPDX-License-Identifier: GPL-3.0-or-later
// Where each value of a JSON document sits in its text, so that a semantic error found in
// the parsed QJsonObject ("weight must be from 1 to 1000000") can be reported as
// file:line:column, like a syntax error.
//
// build() runs a small recursive-descent scanner over the bytes (comments already blanked
// by ConfigLoader::blankComments, so offsets are those of the original file) and records,
// for every value, its path and the byte offset of its first character; for object
// members also the offset of the member name's opening quote. Paths join object members
// with '.' and put array indexes in brackets: "user_classes[0].tasks[1].weight"; the root
// is "". Member names are decoded (escapes, \u sequences) so that they match the keys of
// the QJsonObject. A duplicated member keeps its last occurrence, as QJsonDocument does.
//
// The scanner trusts that the text is JSON (QJsonDocument accepted it) but never reads out
// of bounds on garbage: it stops at the first thing it does not understand and keeps what
// it recorded so far. Nesting deeper than 1024 levels is not followed.
#pragma once

#include <QByteArray>
#include <QHash>
#include <QString>
#include <optional>
#include <utility>

namespace bulwark {

class JsonSourceMap
{
public:
    static JsonSourceMap build(const QByteArray &json);

    // The offset of the value's first character ('{', '[', '"', a digit...), if recorded.
    std::optional<int> offsetOf(const QString &path) const;
    // The offset of an object member's name (its opening quote), if recorded.
    std::optional<int> keyOffsetOf(const QString &path) const;
    // offsetOf(path), or that of the nearest parent that exists ("a.b[2].c" falls back to
    // "a.b[2]", "a.b", "a", ""); 0 when not even the root was recorded.
    int nearestOffset(const QString &path) const;
    // The parent of a path: "a.b[2]" -> "a.b", "a.b" -> "a", "a" -> "", "" -> "".
    static QString parentPath(const QString &path);

    // The 1-based line and column of a byte offset in data (clamped to its size). Columns
    // count characters, not bytes: a UTF-8 sequence is one column.
    static std::pair<int, int> lineColumn(const QByteArray &data, int offset);

    qsizetype size() const { return m_values.size(); }

private:
    QHash<QString, int> m_values;
    QHash<QString, int> m_keys;
};

} // namespace bulwark
