// SPDX-License-Identifier: GPL-3.0-or-later
// The filter language of the data API: the `filter` parameter of
// `GET /api/v1/{collection}?filter=...`, e.g. `sport eq 'run' and distance_m gt 5000`, parsed
// into a small tree. The parser is pure and knows nothing about the schema: the SQL builder
// checks each field name and value type against the collection and binds every value, so no
// request text ever becomes SQL text. Here it only has to be strict, bounded and helpful.
//
// It is a hand-written recursive-descent parser over a lazy lexer, one token of look-ahead,
// so the first error in reading order is the one reported, always with a 1-based position
// counted in characters (Unicode code points, not UTF-16 units). Keywords and operators are
// case-insensitive, field names case-sensitive; `and`, `or` and `not` are reserved and cannot
// be field names. `and` binds tighter than `or`, `not` tighter than both. Chains of the same
// connective are flattened (`a and (b and c)` is one And with three children), since the SQL
// is the same and the tree stays shallow. Input is bounded in length, nesting, comparisons and
// `in` list size, so the work per request is small and the recursion shallow.
//
//   expr       := or
//   or         := and ( "or" and )*
//   and        := unary ( "and" unary )*
//   unary      := "not" unary | "(" expr ")" | comparison
//   comparison := field ( eq | ne | gt | gte | lt | lte | like ) value
//               | field "in" "(" value ( "," value )* ")"
//               | field "is_null" [ "true" | "false" ]      -- bare is_null means true
//   field      := [A-Za-z_][A-Za-z0-9_]*                    -- at most 64 characters
//   value      := 'string' | number | true | false          -- '' inside a string is a quote
//   number     := [-] digits [ "." digits ] [ (e|E) [+|-] digits ]
//
// `like` takes a string pattern. `null` is not a value (the error points to `is_null`).
// Strings may hold any character except NUL (which PostgreSQL cannot store in text).
#pragma once

#include "Error.h"

#include <QList>
#include <QString>
#include <QStringView>

namespace bulwark {

enum class FilterOp
{
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    Like,
    In,
    IsNull
};

// The operator as written in the language: "eq", "ne", ..., "in", "is_null".
QString filterOpName(FilterOp op);

struct FilterValue
{
    enum class Kind
    {
        String,
        Integer,
        Real, // a fraction or exponent, or an integer beyond qint64
        Boolean
    };
    Kind kind = Kind::String;
    QString text; // String: the content, quotes unescaped; others: as written (booleans lower)
    qint64 integer = 0;
    double real = 0;
    bool boolean = false;
    int position = 0; // 1-based character position, for type errors the SQL builder reports
};

struct FilterNode
{
    enum class Kind
    {
        And,
        Or,
        Not,
        Compare
    };
    Kind kind = Kind::Compare;
    QList<FilterNode> children; // And/Or: two or more, never of their own kind; Not: one
    QString field;              // Compare only
    FilterOp op = FilterOp::Eq;
    QList<FilterValue> values; // Compare: one; In: 1..1000; IsNull: one Boolean
    // 1-based character position: of the field for Compare (for errors the SQL builder
    // reports, such as an unknown field), of "not" for Not, of the first operand for And/Or.
    int position = 0;
};

struct FilterSyntaxError
{
    int position = 0; // 1-based character position of the offending token
    QString message;  // without the position, e.g. `expected "(" after in, found 'a'`
};

// Limits; each exceeded one is a syntax error of its own.
inline constexpr int FilterMaxLength = 8192;     // characters in the whole expression
inline constexpr int FilterMaxDepth = 32;        // nested "(" and "not"
inline constexpr int FilterMaxComparisons = 100; // comparisons in the whole expression
inline constexpr int FilterMaxInValues = 1000;   // values in one in list
inline constexpr int FilterMaxFieldLength = 64;  // characters in a field name

// Parses a filter expression. Empty or whitespace-only text is an error; the caller decides
// whether an absent `filter` parameter means "no filter".
Result<FilterNode, FilterSyntaxError> parseFilter(QStringView text);

} // namespace bulwark
