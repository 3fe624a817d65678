// SPDX-License-Identifier: GPL-3.0-or-later
// Templated values of a load-test scenario: a path, a header value or a JSON body with
// {{...}} placeholders, compiled once when the scenario is read and rendered for every
// request without parsing again (a vector of literal and placeholder segments).
//
// Placeholders (whitespace inside the braces is free):
//   {{seq}}                  a counter unique across the whole run (threads and workers):
//                            the context hands out seqBase, seqBase + seqStride, ...
//   {{random A B}}           an integer drawn uniformly from [A, B] (A <= B, 64-bit)
//   {{choice a b "c d"}}     one of the words (a quoted word may hold spaces), uniformly
//   {{csv NAME.COLUMN}}      the column of the current row of CSV table NAME (the row is
//                            the virtual user's: see TemplateContext::csvRow)
//   {{token}}                the virtual user's token: its variable "token" if a step
//                            extracted one, else the run's token (--token)
//   {{var NAME}}             a variable the virtual user extracted from a response
//   {{vu}}                   the virtual user's number (0, 1, ...; unique in the run)
//   {{now}}                  the current UTC time, ISO 8601 with milliseconds
//   {{uuid}}                 a random UUID (without braces)
// A literal "{{" is written "\{{" (in a JSON file: "\\{{").
//
// Modes: Text renders values as they are (paths get them percent-encoded where they are
// not URL-safe: Mode::Path). Json is for the text of a JSON body: values are escaped for a
// JSON string, and a JSON string that is exactly one placeholder of a number ({{seq}},
// {{random A B}}, {{vu}}) renders as a bare number, so "{"n": "{{random 1 9}}"}" sends
// {"n": 7}.
//
// compile() errors name the column (1-based, in details "column") of the placeholder that
// is wrong: "column 12: unknown placeholder \"rnd\" (seq, random, choice, csv, token, var,
// vu, now, uuid)"; csv names and columns are checked against the tables given.
#pragma once

#include "Error.h"

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QString>
#include <QStringList>
#include <random>

namespace bulwark {

// A CSV file of a scenario, read once: its header row names the columns.
struct CsvTable
{
    QString name;
    QStringList columns;
    QList<QList<QByteArray>> rows; // each has columns.size() cells
    int columnIndex(const QString &column) const { return columns.indexOf(column); }
};

// What a render needs from its virtual user and run. Owned by the engine thread; never
// shared between threads.
struct TemplateContext
{
    quint64 vu = 0;
    quint64 *seqNext = nullptr; // the thread's next sequence value; advanced by seqStride
    quint64 seqStride = 1;
    std::mt19937_64 *rng = nullptr;
    const QHash<QString, CsvTable> *csv = nullptr;
    qsizetype csvRow = 0; // the row every {{csv ...}} uses (taken modulo the table size)
    const QHash<QString, QByteArray> *vars = nullptr;
    QByteArray runToken;
};

class Template
{
public:
    enum class Mode
    {
        Text,
        Path,
        Json
    };

    Template() = default;
    static Result<Template> compile(const QString &text, Mode mode,
                                    const QHash<QString, CsvTable> &csv = {});

    // Appends the rendered text to *out.
    void render(TemplateContext &ctx, QByteArray *out) const;
    QByteArray render(TemplateContext &ctx) const
    {
        QByteArray out;
        render(ctx, &out);
        return out;
    }
    bool isConstant() const;
    const QString &source() const { return m_source; }

    // The segments, public so that the implementation file can define them; treat as
    // opaque.
    struct Segment;

private:
    QString m_source;
    Mode m_mode = Mode::Text;
    QList<Segment> m_segments;
};

struct Template::Segment
{
    enum class Kind
    {
        Literal,
        Seq,
        Random,
        Choice,
        Csv,
        Token,
        Var,
        Vu,
        Now,
        Uuid
    };
    Kind kind = Kind::Literal;
    QByteArray literal;       // Literal
    qint64 low = 0, high = 0; // Random
    QList<QByteArray> words;  // Choice
    QString table;            // Csv: table name; Var: variable name
    int column = -1;          // Csv
    bool bareNumber = false;  // Json mode: written without the surrounding quotes
};

} // namespace bulwark
