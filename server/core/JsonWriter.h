// SPDX-License-Identifier: GPL-3.0-or-later
// Appends JSON text straight to a QByteArray. The data API writes every list, row and
// report through it (result rows through its pointer-level put* helpers, one buffer
// resize a row) instead of building QJsonObjects: a page of 50 rows is ~600 values, and
// building, sorting and serialising a QJsonObject tree for them cost several times more
// than the query that produced them (measured with callgrind on the list benchmark).
// The caller is responsible for structure (commas are handled by the writer, nesting is
// not checked); strings are escaped per RFC 8259, doubles use the shortest round-trip form.
#pragma once

#include <QByteArray>
#include <QJsonDocument>
#include <QJsonValue>
#include <QString>
#include <QVarLengthArray>
#include <charconv>
#include <cstring>

namespace bulwark {

class JsonWriter
{
public:
    explicit JsonWriter(QByteArray &out) : m_out(out) {}

    void beginObject()
    {
        separate();
        m_out.append('{');
        m_first.append(true);
    }
    void endObject()
    {
        m_out.append('}');
        m_first.removeLast();
    }
    void beginArray()
    {
        separate();
        m_out.append('[');
        m_first.append(true);
    }
    void endArray()
    {
        m_out.append(']');
        m_first.removeLast();
    }
    // The next value in an object is preceded by its key.
    void key(QStringView name)
    {
        separate();
        appendString(m_out, name);
        m_out.append(':');
        m_afterKey = true;
    }
    void key(QLatin1StringView name)
    {
        separate();
        m_out.append('"').append(name.data(), name.size()).append("\":");
        m_afterKey = true;
    }
    void string(QStringView text)
    {
        separate();
        appendString(m_out, text);
    }
    void integer(qint64 value)
    {
        separate();
        char buffer[24];
        put(buffer, putInteger(buffer, value) - buffer);
    }
    // Shortest form that reads back as the same double (std::to_chars, no allocation).
    void real(double value)
    {
        separate();
        char buffer[32];
        put(buffer, putReal(buffer, value) - buffer);
    }
    void boolean(bool value)
    {
        separate();
        m_out.append(value ? "true" : "false");
    }
    void null()
    {
        separate();
        m_out.append("null");
    }
    // Bytes appended as they are, with no separator handling: for callers that assemble
    // pre-serialised pieces (the data API's rows and their expansions).
    void rawAppend(QByteArrayView bytes) { put(bytes.data(), bytes.size()); }
    // Pointer-level pieces for callers that size a buffer once and fill it (the data API
    // writes each result row this way: one resize per row instead of one call per value).
    // Each writes at `p` and returns the end; the caller guarantees the room:
    // 2 + 6 * utf8.size() bytes for a string, 24 for an integer, 32 for a real.
    static char *putString(char *p, QByteArrayView utf8)
    {
        static const char hex[] = "0123456789abcdef";
        *p++ = '"';
        for (char ch : utf8) {
            const auto c = static_cast<unsigned char>(ch);
            if (c >= 0x20 && c != '"' && c != '\\') {
                *p++ = ch;
                continue;
            }
            *p++ = '\\';
            switch (c) {
            case '"': *p++ = '"'; break;
            case '\\': *p++ = '\\'; break;
            case '\n': *p++ = 'n'; break;
            case '\r': *p++ = 'r'; break;
            case '\t': *p++ = 't'; break;
            default:
                *p++ = 'u';
                *p++ = '0';
                *p++ = '0';
                *p++ = hex[c >> 4];
                *p++ = hex[c & 15];
            }
        }
        *p++ = '"';
        return p;
    }
    static char *putInteger(char *p, qint64 value) { return std::to_chars(p, p + 24, value).ptr; }
    static char *putReal(char *p, double value)
    {
        if (!qIsFinite(value)) {
            std::memcpy(p, "null", 4);
            return p + 4;
        }
        return std::to_chars(p, p + 32, value).ptr;
    }

    // Already-valid JSON text (a stored json field, a nested document).
    void raw(QByteArrayView json)
    {
        separate();
        put(json.data(), json.size());
    }
    void value(const QJsonValue &v)
    {
        switch (v.type()) {
        case QJsonValue::Null:
        case QJsonValue::Undefined: null(); break;
        case QJsonValue::Bool: boolean(v.toBool()); break;
        case QJsonValue::Double: {
            const double d = v.toDouble();
            if (d == double(qint64(d)) && qAbs(d) < 9e15)
                integer(qint64(d));
            else
                real(d);
            break;
        }
        case QJsonValue::String: string(v.toString()); break;
        case QJsonValue::Array:
            raw(QJsonDocument(v.toArray()).toJson(QJsonDocument::Compact));
            break;
        case QJsonValue::Object:
            raw(QJsonDocument(v.toObject()).toJson(QJsonDocument::Compact));
            break;
        }
    }

    // Escapes and UTF-8-encodes in one pass straight into `out`'s buffer: a page of rows
    // is mostly short ASCII strings, and appending them one char at a time (with a
    // capacity check each) was a third of the list endpoint's CPU time (callgrind).
    static void appendString(QByteArray &out, QStringView text)
    {
        static const char hex[] = "0123456789abcdef";
        const qsizetype start = out.size();
        // At most 6 bytes per UTF-16 unit (\u00XX); UTF-8 needs at most 3.
        out.resize(start + 2 + text.size() * 6);
        char *p = out.data() + start;
        *p++ = '"';
        const char16_t *s = text.utf16();
        const char16_t *end = s + text.size();
        while (s < end) {
            const char16_t c = *s++;
            if (c < 0x80) {
                if (c >= 0x20 && c != '"' && c != '\\') {
                    *p++ = char(c);
                    continue;
                }
                *p++ = '\\';
                switch (c) {
                case '"': *p++ = '"'; break;
                case '\\': *p++ = '\\'; break;
                case '\n': *p++ = 'n'; break;
                case '\r': *p++ = 'r'; break;
                case '\t': *p++ = 't'; break;
                default:
                    *p++ = 'u';
                    *p++ = '0';
                    *p++ = '0';
                    *p++ = hex[c >> 4];
                    *p++ = hex[c & 15];
                }
            } else if (c < 0x800) {
                *p++ = char(0xc0 | (c >> 6));
                *p++ = char(0x80 | (c & 0x3f));
            } else if (QChar::isHighSurrogate(c) && s < end && QChar::isLowSurrogate(*s)) {
                const char32_t u = QChar::surrogateToUcs4(c, *s++);
                *p++ = char(0xf0 | (u >> 18));
                *p++ = char(0x80 | ((u >> 12) & 0x3f));
                *p++ = char(0x80 | ((u >> 6) & 0x3f));
                *p++ = char(0x80 | (u & 0x3f));
            } else {
                // A lone surrogate cannot be encoded: U+FFFD, as QString::toUtf8 does.
                const char16_t u = QChar::isSurrogate(c) ? char16_t(0xfffd) : c;
                *p++ = char(0xe0 | (u >> 12));
                *p++ = char(0x80 | ((u >> 6) & 0x3f));
                *p++ = char(0x80 | (u & 0x3f));
            }
        }
        *p++ = '"';
        out.resize(p - out.constData());
    }

private:
    // QByteArray::append(QByteArrayView) goes through the general insert(); growing by
    // resize() and copying is about half the instructions for the short pieces written here.
    void put(const char *data, qsizetype size)
    {
        const qsizetype at = m_out.size();
        m_out.resize(at + size);
        std::memcpy(m_out.data() + at, data, size_t(size));
    }

    void separate()
    {
        if (m_afterKey) {
            m_afterKey = false;
            return;
        }
        if (m_first.isEmpty())
            return;
        if (m_first.last())
            m_first.last() = false;
        else
            m_out.append(',');
    }

    QByteArray &m_out;
    QVarLengthArray<bool, 8> m_first; // per open container: nothing written in it yet
    bool m_afterKey = false;
};

} // namespace bulwark
