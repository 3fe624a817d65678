// SPDX-License-Identifier: GPL-3.0-or-later
// See JsonSourceMap.h. The scanner mirrors the JSON grammar closely enough to find where
// each value starts; it does not validate numbers or literals (QJsonDocument already did)
// and treats any run of number/literal characters as one scalar.
#include "JsonSourceMap.h"

namespace bulwark {

namespace {

constexpr int kMaxDepth = 1024;

class Scanner
{
public:
    Scanner(const QByteArray &data, QHash<QString, int> *values, QHash<QString, int> *keys)
        : m_data(data.constData()), m_size(data.size()), m_values(values), m_keys(keys)
    {
    }

    // Scans one value at the current position (after white space) and records it under
    // `path`. False on anything that is not JSON.
    bool value(const QString &path, int depth)
    {
        skipSpace();
        if (m_pos >= m_size || depth > kMaxDepth)
            return false;
        m_values->insert(path, int(m_pos));
        switch (m_data[m_pos]) {
        case '{': return object(path, depth);
        case '[': return array(path, depth);
        case '"': return string(nullptr);
        default: return scalar();
        }
    }

private:
    void skipSpace()
    {
        while (m_pos < m_size && (m_data[m_pos] == ' ' || m_data[m_pos] == '\t' ||
                                  m_data[m_pos] == '\n' || m_data[m_pos] == '\r'))
            ++m_pos;
    }

    bool at(char c)
    {
        skipSpace();
        return m_pos < m_size && m_data[m_pos] == c;
    }

    bool object(const QString &path, int depth)
    {
        ++m_pos; // '{'
        if (at('}')) {
            ++m_pos;
            return true;
        }
        for (;;) {
            if (!at('"'))
                return false;
            const int keyOffset = int(m_pos);
            QString key;
            if (!string(&key))
                return false;
            const QString child = path.isEmpty() ? key : path + u'.' + key;
            m_keys->insert(child, keyOffset);
            if (!at(':'))
                return false;
            ++m_pos;
            if (!value(child, depth + 1))
                return false;
            if (at(',')) {
                ++m_pos;
                continue;
            }
            if (at('}')) {
                ++m_pos;
                return true;
            }
            return false;
        }
    }

    bool array(const QString &path, int depth)
    {
        ++m_pos; // '['
        if (at(']')) {
            ++m_pos;
            return true;
        }
        for (int index = 0;; ++index) {
            if (!value(path + u'[' + QString::number(index) + u']', depth + 1))
                return false;
            if (at(',')) {
                ++m_pos;
                continue;
            }
            if (at(']')) {
                ++m_pos;
                return true;
            }
            return false;
        }
    }

    static int hexDigit(char c)
    {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        return -1;
    }

    // Four hex digits at `at`, or -1.
    int hex4(qsizetype at) const
    {
        if (at + 4 > m_size)
            return -1;
        int v = 0;
        for (qsizetype i = at; i < at + 4; ++i) {
            const int d = hexDigit(m_data[i]);
            if (d < 0)
                return -1;
            v = v * 16 + d;
        }
        return v;
    }

    // A string at the opening quote; decodes it into *decoded when that is not null.
    bool string(QString *decoded)
    {
        ++m_pos; // '"'
        while (m_pos < m_size) {
            const char c = m_data[m_pos];
            if (c == '"') {
                ++m_pos;
                return true;
            }
            if (c != '\\') {
                const qsizetype start = m_pos;
                while (m_pos < m_size && m_data[m_pos] != '"' && m_data[m_pos] != '\\')
                    ++m_pos;
                if (decoded)
                    decoded->append(QString::fromUtf8(m_data + start, m_pos - start));
                continue;
            }
            if (m_pos + 1 >= m_size)
                return false;
            const char e = m_data[m_pos + 1];
            m_pos += 2;
            char16_t unit = 0;
            switch (e) {
            case '"': unit = u'"'; break;
            case '\\': unit = u'\\'; break;
            case '/': unit = u'/'; break;
            case 'b': unit = u'\b'; break;
            case 'f': unit = u'\f'; break;
            case 'n': unit = u'\n'; break;
            case 'r': unit = u'\r'; break;
            case 't': unit = u'\t'; break;
            case 'u': {
                const int v = hex4(m_pos);
                if (v < 0)
                    return false;
                m_pos += 4;
                unit = char16_t(v);
                break;
            }
            default: return false;
            }
            // Surrogate pairs arrive as two \u escapes; appended one unit at a time they
            // form the right QString.
            if (decoded)
                decoded->append(QChar(unit));
        }
        return false;
    }

    bool scalar()
    {
        const qsizetype start = m_pos;
        while (m_pos < m_size) {
            const char c = m_data[m_pos];
            if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                c == '-' || c == '+' || c == '.')
                ++m_pos;
            else
                break;
        }
        return m_pos > start;
    }

    const char *m_data;
    qsizetype m_size;
    qsizetype m_pos = 0;
    QHash<QString, int> *m_values;
    QHash<QString, int> *m_keys;
};

} // namespace

JsonSourceMap JsonSourceMap::build(const QByteArray &json)
{
    JsonSourceMap map;
    Scanner scanner(json, &map.m_values, &map.m_keys);
    scanner.value(QString(), 0);
    return map;
}

std::optional<int> JsonSourceMap::offsetOf(const QString &path) const
{
    const auto it = m_values.constFind(path);
    if (it == m_values.cend())
        return std::nullopt;
    return *it;
}

std::optional<int> JsonSourceMap::keyOffsetOf(const QString &path) const
{
    const auto it = m_keys.constFind(path);
    if (it == m_keys.cend())
        return std::nullopt;
    return *it;
}

int JsonSourceMap::nearestOffset(const QString &path) const
{
    QString p = path;
    for (;;) {
        if (const auto offset = offsetOf(p))
            return *offset;
        if (p.isEmpty())
            return 0;
        p = parentPath(p);
    }
}

QString JsonSourceMap::parentPath(const QString &path)
{
    if (path.endsWith(u']')) {
        const qsizetype bracket = path.lastIndexOf(u'[');
        return bracket < 0 ? QString() : path.left(bracket);
    }
    const qsizetype dot = path.lastIndexOf(u'.');
    return dot < 0 ? QString() : path.left(dot);
}

std::pair<int, int> JsonSourceMap::lineColumn(const QByteArray &data, int offset)
{
    offset = qBound(0, offset, int(data.size()));
    int line = 1;
    int column = 1;
    for (int i = 0; i < offset; ++i) {
        const uchar c = uchar(data[i]);
        if (c == '\n') {
            ++line;
            column = 1;
        } else if ((c & 0xC0) != 0x80) {
            ++column; // a UTF-8 continuation byte is part of the previous character
        }
    }
    return {line, column};
}

} // namespace bulwark
