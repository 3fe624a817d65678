// SPDX-License-Identifier: GPL-3.0-or-later
// See Template.h. compile() does all the text work once: it splits the text into literal
// bytes (already encoded for the mode) and placeholder segments with their arguments
// parsed and checked. render() is then a loop over the segments that only appends to the
// output: numbers are formatted with std::to_chars into a stack buffer, escaping goes byte
// by byte through lookup tables, random values come from the context's generator (no
// locks, no QUuid), and nothing is converted from QString except for {{now}}.
//
// Json mode works on the JSON text string by string: each string is decoded, parsed like a
// Text template, and written back with its literal parts JSON-escaped; a string that is
// one number placeholder loses its quotes (not a member name: that would not be JSON).
#include "Template.h"

#include <QDateTime>
#include <QJsonObject>
#include <charconv>
#include <limits>

namespace bulwark {

namespace {

using Segment = Template::Segment;
using Kind = Segment::Kind;

const char kNames[] = "seq, random, choice, csv, token, var, vu, now, uuid";

Error compileError(int column, const QString &what)
{
    return Error{ErrorCode::Unprocessable, QStringLiteral("column %1: %2").arg(column).arg(what),
                 QJsonObject{{QStringLiteral("column"), column}}};
}

// Unreserved characters and sub-delims (RFC 3986): written as they are in a path.
constexpr bool urlSafe(uchar c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '!' || c == '$' || c == '&' || c == '\'' ||
           c == '(' || c == ')' || c == '*' || c == '+' || c == ',' || c == ';' || c == '=';
}

const char kHex[] = "0123456789ABCDEF";
const char kLowerHex[] = "0123456789abcdef";

void appendPercentEncoded(QByteArrayView value, QByteArray *out)
{
    for (const char ch : value) {
        const uchar c = uchar(ch);
        if (urlSafe(c)) {
            out->append(ch);
        } else {
            const char encoded[3] = {'%', kHex[c >> 4], kHex[c & 15]};
            out->append(encoded, 3);
        }
    }
}

// The content of a JSON string (without quotes) for UTF-8 bytes.
void appendJsonEscaped(QByteArrayView value, QByteArray *out)
{
    for (const char ch : value) {
        const uchar c = uchar(ch);
        if (c >= 0x20 && c != '"' && c != '\\') {
            out->append(ch);
            continue;
        }
        char escaped[6] = {'\\', 0, 0, 0, 0, 0};
        qsizetype length = 2;
        switch (c) {
        case '"': escaped[1] = '"'; break;
        case '\\': escaped[1] = '\\'; break;
        case '\n': escaped[1] = 'n'; break;
        case '\r': escaped[1] = 'r'; break;
        case '\t': escaped[1] = 't'; break;
        case '\b': escaped[1] = 'b'; break;
        case '\f': escaped[1] = 'f'; break;
        default:
            escaped[1] = 'u';
            escaped[2] = '0';
            escaped[3] = '0';
            escaped[4] = kHex[c >> 4];
            escaped[5] = kHex[c & 15];
            length = 6;
        }
        out->append(escaped, length);
    }
}

template <typename Int> void appendNumber(Int value, QByteArray *out)
{
    char buffer[24];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    out->append(buffer, result.ptr - buffer);
}

std::mt19937_64 &generator(TemplateContext &ctx)
{
    if (ctx.rng)
        return *ctx.rng;
    static thread_local std::mt19937_64 fallback{std::random_device{}()};
    return fallback;
}

// Splits the inside of a placeholder into words; `i` is at the first character after "{{"
// and ends after "}}".
Result<QStringList> placeholderWords(const QString &s, qsizetype &i, int column)
{
    QStringList words;
    const qsizetype n = s.size();
    for (;;) {
        while (i < n && s.at(i).isSpace())
            ++i;
        if (i >= n)
            return compileError(column, QStringLiteral("unclosed placeholder (missing }})"));
        if (s.at(i) == u'}' && i + 1 < n && s.at(i + 1) == u'}') {
            i += 2;
            return words;
        }
        QString word;
        if (s.at(i) == u'"') {
            ++i;
            while (i < n && s.at(i) != u'"') {
                if (s.at(i) == u'\\' && i + 1 < n)
                    ++i;
                word.append(s.at(i++));
            }
            if (i >= n)
                return compileError(column, QStringLiteral("unclosed quote in placeholder"));
            ++i;
        } else {
            while (i < n && !s.at(i).isSpace() && s.at(i) != u'"' &&
                   !(s.at(i) == u'}' && i + 1 < n && s.at(i + 1) == u'}'))
                word.append(s.at(i++));
        }
        words.append(word);
    }
}

QString listed(const QStringList &names)
{
    return names.isEmpty() ? QStringLiteral("none") : names.join(QStringLiteral(", "));
}

// A placeholder from its words; `column` is where its "{{" is.
Result<Segment> placeholder(const QStringList &words, const QHash<QString, CsvTable> &csv,
                            int column)
{
    if (words.isEmpty())
        return compileError(column,
                            QStringLiteral("empty placeholder (%1)").arg(QLatin1String(kNames)));
    const QString &name = words.first();
    const qsizetype arguments = words.size() - 1;
    Segment seg;
    static const QHash<QString, Kind> plain{
        {QStringLiteral("seq"), Kind::Seq},   {QStringLiteral("token"), Kind::Token},
        {QStringLiteral("vu"), Kind::Vu},     {QStringLiteral("now"), Kind::Now},
        {QStringLiteral("uuid"), Kind::Uuid},
    };
    if (const auto it = plain.constFind(name); it != plain.cend()) {
        if (arguments != 0)
            return compileError(column, QStringLiteral("%1 takes no arguments").arg(name));
        seg.kind = *it;
        return seg;
    }
    if (name == QLatin1String("random")) {
        if (arguments != 2)
            return compileError(column,
                                QStringLiteral("random takes two integers: {{random A B}}"));
        qint64 bounds[2] = {0, 0};
        for (int k = 0; k < 2; ++k) {
            bool ok = false;
            bounds[k] = words.at(k + 1).toLongLong(&ok);
            if (!ok)
                return compileError(
                    column,
                    QStringLiteral("random: \"%1\" is not a 64-bit integer").arg(words.at(k + 1)));
        }
        if (bounds[0] > bounds[1])
            return compileError(
                column,
                QStringLiteral("random: %1 is greater than %2").arg(bounds[0]).arg(bounds[1]));
        seg.kind = Kind::Random;
        seg.low = bounds[0];
        seg.high = bounds[1];
        return seg;
    }
    if (name == QLatin1String("choice")) {
        if (arguments == 0)
            return compileError(column, QStringLiteral("choice takes at least one word"));
        seg.kind = Kind::Choice;
        for (qsizetype k = 1; k < words.size(); ++k)
            seg.words.append(words.at(k).toUtf8());
        return seg;
    }
    if (name == QLatin1String("var")) {
        if (arguments != 1 || words.at(1).isEmpty())
            return compileError(column, QStringLiteral("var takes one name: {{var NAME}}"));
        seg.kind = Kind::Var;
        seg.table = words.at(1);
        return seg;
    }
    if (name == QLatin1String("csv")) {
        if (arguments != 1)
            return compileError(column,
                                QStringLiteral("csv takes one argument: {{csv NAME.COLUMN}}"));
        const QString &ref = words.at(1);
        if (!ref.contains(u'.'))
            return compileError(column,
                                QStringLiteral("csv: expected NAME.COLUMN, not \"%1\"").arg(ref));
        // A table name may itself hold dots: try every split, the first that names a table.
        for (qsizetype dot = ref.indexOf(u'.'); dot >= 0; dot = ref.indexOf(u'.', dot + 1)) {
            const auto it = csv.constFind(ref.left(dot));
            if (it == csv.cend())
                continue;
            const QString columnName = ref.mid(dot + 1);
            const int index = it->columnIndex(columnName);
            if (index < 0)
                return compileError(column, QStringLiteral("csv: table \"%1\" has no column "
                                                           "\"%2\" (columns: %3)")
                                                .arg(it.key(), columnName, listed(it->columns)));
            seg.kind = Kind::Csv;
            seg.table = it.key();
            seg.column = index;
            return seg;
        }
        QStringList tables = csv.keys();
        tables.sort();
        return compileError(column, QStringLiteral("csv: no table \"%1\" (tables: %2)")
                                        .arg(ref.left(ref.indexOf(u'.')), listed(tables)));
    }
    return compileError(
        column, QStringLiteral("unknown placeholder \"%1\" (%2)").arg(name, QLatin1String(kNames)));
}

// Parses a value with placeholders into segments (literals as UTF-8, not yet encoded for
// a mode). columnOf(i) is the column reported for the character at index i.
template <typename ColumnOf>
Result<QList<Segment>> parseValue(const QString &s, const QHash<QString, CsvTable> &csv,
                                  ColumnOf columnOf)
{
    QList<Segment> segments;
    QString literal;
    auto flush = [&] {
        if (literal.isEmpty())
            return;
        Segment seg;
        seg.literal = literal.toUtf8();
        segments.append(seg);
        literal.clear();
    };
    const qsizetype n = s.size();
    qsizetype i = 0;
    while (i < n) {
        const QChar c = s.at(i);
        if (c == u'\\' && i + 2 < n && s.at(i + 1) == u'{' && s.at(i + 2) == u'{') {
            literal.append(QLatin1String("{{"));
            i += 3;
            continue;
        }
        if (c == u'{' && i + 1 < n && s.at(i + 1) == u'{') {
            const int column = columnOf(i);
            i += 2;
            auto words = placeholderWords(s, i, column);
            if (!words)
                return words.error();
            auto seg = placeholder(words.value(), csv, column);
            if (!seg)
                return seg.error();
            flush();
            segments.append(seg.value());
            continue;
        }
        literal.append(c);
        ++i;
    }
    flush();
    return segments;
}

bool isNumber(Kind kind)
{
    return kind == Kind::Seq || kind == Kind::Random || kind == Kind::Vu;
}

// Decodes the JSON string whose opening quote is at s[i]; `positions` gets the index in s
// of each decoded character. Returns the index after the closing quote, or -1.
qsizetype decodeJsonString(const QString &s, qsizetype i, QString *value,
                           QList<qsizetype> *positions)
{
    const qsizetype n = s.size();
    ++i;
    while (i < n) {
        const QChar c = s.at(i);
        if (c == u'"')
            return i + 1;
        if (c != u'\\') {
            value->append(c);
            positions->append(i);
            ++i;
            continue;
        }
        if (i + 1 >= n)
            return -1;
        const qsizetype start = i;
        QChar decoded;
        switch (s.at(i + 1).unicode()) {
        case '"': decoded = u'"'; break;
        case '\\': decoded = u'\\'; break;
        case '/': decoded = u'/'; break;
        case 'b': decoded = u'\b'; break;
        case 'f': decoded = u'\f'; break;
        case 'n': decoded = u'\n'; break;
        case 'r': decoded = u'\r'; break;
        case 't': decoded = u'\t'; break;
        case 'u': {
            bool ok = false;
            const uint code = s.mid(i + 2, 4).toUInt(&ok, 16);
            if (!ok || i + 6 > n)
                return -1;
            decoded = QChar(char16_t(code));
            i += 4;
            break;
        }
        default: return -1;
        }
        i += 2;
        value->append(decoded);
        positions->append(start);
    }
    return -1;
}

Result<QList<Segment>> compileJson(const QString &s, const QHash<QString, CsvTable> &csv)
{
    QList<Segment> segments;
    QByteArray literal;
    auto flush = [&] {
        if (literal.isEmpty())
            return;
        Segment seg;
        seg.literal = literal;
        segments.append(seg);
        literal.clear();
    };
    const qsizetype n = s.size();
    qsizetype i = 0;
    while (i < n) {
        if (s.at(i) != u'"') {
            const qsizetype start = i;
            while (i < n && s.at(i) != u'"')
                ++i;
            literal.append(QStringView(s).mid(start, i - start).toUtf8());
            continue;
        }
        QString value;
        QList<qsizetype> positions;
        const qsizetype end = decodeJsonString(s, i, &value, &positions);
        if (end < 0) { // not JSON after all: the rest as it is
            literal.append(QStringView(s).mid(i).toUtf8());
            break;
        }
        if (!value.contains(QLatin1String("{{"))) {
            literal.append(QStringView(s).mid(i, end - i).toUtf8());
            i = end;
            continue;
        }
        qsizetype after = end;
        while (after < n && s.at(after).isSpace())
            ++after;
        const bool isKey = after < n && s.at(after) == u':';
        auto parts = parseValue(value, csv, [&](qsizetype k) { return int(positions.at(k)) + 1; });
        if (!parts)
            return parts.error();
        const QList<Segment> &list = parts.value();
        if (!isKey && list.size() == 1 && isNumber(list.first().kind)) {
            flush();
            Segment seg = list.first();
            seg.bareNumber = true;
            segments.append(seg);
        } else {
            literal.append('"');
            for (const Segment &part : list) {
                if (part.kind == Kind::Literal) {
                    appendJsonEscaped(part.literal, &literal);
                } else {
                    flush();
                    segments.append(part);
                }
            }
            literal.append('"');
        }
        i = end;
    }
    flush();
    return segments;
}

} // namespace

Result<Template> Template::compile(const QString &text, Mode mode,
                                   const QHash<QString, CsvTable> &csv)
{
    Template t;
    t.m_source = text;
    t.m_mode = mode;
    if (mode == Mode::Json) {
        auto segments = compileJson(text, csv);
        if (!segments)
            return segments.error();
        t.m_segments = segments.value();
    } else {
        auto segments = parseValue(text, csv, [](qsizetype i) { return int(i) + 1; });
        if (!segments)
            return segments.error();
        t.m_segments = segments.value();
    }
    return t;
}

bool Template::isConstant() const
{
    for (const Segment &seg : m_segments)
        if (seg.kind != Kind::Literal)
            return false;
    return true;
}

void Template::render(TemplateContext &ctx, QByteArray *out) const
{
    const auto value = [this, out](QByteArrayView v) {
        switch (m_mode) {
        case Mode::Text: out->append(v); break;
        case Mode::Path: appendPercentEncoded(v, out); break;
        case Mode::Json: appendJsonEscaped(v, out); break;
        }
    };
    for (const Segment &seg : m_segments) {
        switch (seg.kind) {
        case Kind::Literal: out->append(seg.literal); break;
        case Kind::Seq: {
            quint64 next = 0;
            if (ctx.seqNext) {
                next = *ctx.seqNext;
                *ctx.seqNext += ctx.seqStride;
            }
            appendNumber(next, out);
            break;
        }
        case Kind::Random:
            appendNumber(std::uniform_int_distribution<qint64>(seg.low, seg.high)(generator(ctx)),
                         out);
            break;
        case Kind::Vu: appendNumber(ctx.vu, out); break;
        case Kind::Choice: {
            const qsizetype count = seg.words.size();
            const qsizetype pick =
                count > 1 ? std::uniform_int_distribution<qsizetype>(0, count - 1)(generator(ctx))
                          : 0;
            if (count > 0)
                value(seg.words.at(pick));
            break;
        }
        case Kind::Csv: {
            if (!ctx.csv)
                break;
            const auto it = ctx.csv->constFind(seg.table);
            if (it == ctx.csv->cend() || it->rows.isEmpty())
                break;
            const auto &row =
                it->rows.at(qsizetype(quint64(ctx.csvRow) % quint64(it->rows.size())));
            if (seg.column >= 0 && seg.column < row.size())
                value(row.at(seg.column));
            break;
        }
        case Kind::Token: {
            if (ctx.vars) {
                const auto it = ctx.vars->constFind(QStringLiteral("token"));
                if (it != ctx.vars->cend() && !it->isEmpty()) {
                    value(*it);
                    break;
                }
            }
            value(ctx.runToken);
            break;
        }
        case Kind::Var: {
            if (!ctx.vars)
                break;
            const auto it = ctx.vars->constFind(seg.table);
            if (it != ctx.vars->cend())
                value(*it);
            break;
        }
        case Kind::Now: {
            const QString now = QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
            char text[40]; // "2024-05-01T12:00:00.123Z": ASCII
            qsizetype length = 0;
            for (const QChar c : now)
                if (length < qsizetype(sizeof text))
                    text[length++] = char(c.unicode());
            value(QByteArrayView(text, length));
            break;
        }
        case Kind::Uuid: {
            std::mt19937_64 &rng = generator(ctx);
            quint64 hi = rng();
            quint64 lo = rng();
            hi = (hi & ~quint64(0xF000)) | quint64(0x4000);             // version 4
            lo = (lo & ~(quint64(0xC0) << 56)) | (quint64(0x80) << 56); // variant 10
            char text[36];
            int p = 0;
            for (int nibble = 15; nibble >= 0; --nibble) {
                if (p == 8 || p == 13 || p == 18)
                    text[p++] = '-';
                text[p++] = kLowerHex[(hi >> (nibble * 4)) & 15];
            }
            for (int nibble = 15; nibble >= 0; --nibble) {
                if (p == 18 || p == 23)
                    text[p++] = '-';
                text[p++] = kLowerHex[(lo >> (nibble * 4)) & 15];
            }
            out->append(text, 36);
            break;
        }
        }
    }
}

} // namespace bulwark
