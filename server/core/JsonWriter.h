// SPDX-License-Identifier: GPL-3.0-or-later
// Appends JSON text straight to a QByteArray. The data API writes every list and row
// through it instead of building QJsonObjects: a page of 50 rows is ~600 values, and
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
        m_out.append(QByteArray::number(value));
    }
    void real(double value)
    {
        separate();
        if (!qIsFinite(value))
            m_out.append("null");
        else
            m_out.append(QByteArray::number(value, 'g', QLocale::FloatingPointShortest));
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
    // Already-valid JSON text (a stored json field, a nested document).
    void raw(QByteArrayView json)
    {
        separate();
        m_out.append(json);
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

    static void appendString(QByteArray &out, QStringView text)
    {
        out.append('"');
        const QByteArray utf8 = text.toUtf8();
        static const char hex[] = "0123456789abcdef";
        for (char c : utf8) {
            const auto u = static_cast<unsigned char>(c);
            switch (c) {
            case '"': out.append("\\\""); break;
            case '\\': out.append("\\\\"); break;
            case '\n': out.append("\\n"); break;
            case '\r': out.append("\\r"); break;
            case '\t': out.append("\\t"); break;
            default:
                if (u < 0x20) {
                    const char esc[] = {'\\', 'u', '0', '0', hex[u >> 4], hex[u & 15]};
                    out.append(esc, 6);
                } else {
                    out.append(c);
                }
            }
        }
        out.append('"');
    }

private:
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
