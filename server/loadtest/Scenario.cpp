// SPDX-License-Identifier: GPL-3.0-or-later
// See Scenario.h. Reading is one pass over the parsed QJsonObject by a private Reader that
// knows the file's bytes and their JsonSourceMap: every check that fails returns an Error
// located at the value it is about (at the member name for an unknown member, at the
// nearest parent object for a missing one, inside a string for template and threshold
// errors when the string has no escapes, so that the column is exact). Members are checked
// in a fixed order and unknown ones in file order, so the first error is stable.
//
// The load shape is LoadShape's own parser: the "load" object minus "model" and
// "max_connections" is handed to LoadShape::fromJson; the open model's rate words are
// renamed to its user words on the way in and back in its error messages.
//
// CSV files follow RFC 4180 (quoted fields with "" for a quote, commas and line breaks
// inside quotes, CRLF or LF line ends); blank lines are skipped, a UTF-8 byte order mark
// is dropped, header names are trimmed.
//
// The runtime half (render, verify, extractInto) is on the engine's hot path: render
// appends to one buffer and writes Content-Length by inserting the body's length once the
// body is rendered; verify parses the body as JSON only when a JSON check needs it.
#include "Scenario.h"

#include "ConfigLoader.h"
#include "JsonSourceMap.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QUrl>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace bulwark {

namespace {

constexpr int kMaxWeight = 1'000'000;
constexpr qint64 kMaxTimeoutMs = 10 * 60'000;
constexpr qint64 kMaxWaitMs = 3'600'000;
constexpr qint64 kMaxCsvBytes = 64LL * 1024 * 1024;
constexpr int kMaxConnections = 100'000;

const QStringList kMethods{QStringLiteral("GET"),    QStringLiteral("HEAD"),
                           QStringLiteral("POST"),   QStringLiteral("PUT"),
                           QStringLiteral("PATCH"),  QStringLiteral("DELETE"),
                           QStringLiteral("OPTIONS")};

// The open model's words and the LoadShape words they stand for.
const QList<std::pair<QString, QString>> kRateWords{
    {QStringLiteral("rate"), QStringLiteral("users")},
    {QStringLiteral("start_rate"), QStringLiteral("start_users")},
    {QStringLiteral("min_rate"), QStringLiteral("min_users")},
    {QStringLiteral("step_rate"), QStringLiteral("step_users")},
    {QStringLiteral("spike_rate"), QStringLiteral("spike_users")},
};

QString child(const QString &path, const QString &key)
{
    return path.isEmpty() ? key : path + u'.' + key;
}

QString indexed(const QString &path, qsizetype i)
{
    return path + u'[' + QString::number(i) + u']';
}

// Letters, digits, '_' and '-': CSV table and variable names (they appear in placeholders).
bool isName(const QString &s)
{
    if (s.isEmpty())
        return false;
    for (const QChar c : s)
        if (!(c.isLetterOrNumber() && c.unicode() < 128) && c != u'_' && c != u'-')
            return false;
    return true;
}

// An HTTP token (RFC 9110 tchar).
bool isToken(const QString &s)
{
    if (s.isEmpty())
        return false;
    for (const QChar c : s) {
        const char16_t u = c.unicode();
        const bool ok = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
                        (u >= '0' && u <= '9') ||
                        (u < 128 && QByteArrayView("!#$%&'*+-.^_`|~").contains(char(u)));
        if (!ok)
            return false;
    }
    return true;
}

// Compact JSON text of any value (QJsonDocument only writes arrays and objects).
QByteArray compactJson(const QJsonValue &v)
{
    if (v.isObject())
        return QJsonDocument(v.toObject()).toJson(QJsonDocument::Compact);
    if (v.isArray())
        return QJsonDocument(v.toArray()).toJson(QJsonDocument::Compact);
    const QByteArray wrapped = QJsonDocument(QJsonArray{v}).toJson(QJsonDocument::Compact);
    return wrapped.mid(1, wrapped.size() - 2); // "[...]"
}

// Replaces the LoadShape user words in a text by the open model's rate words.
QString toRateWords(const QString &text)
{
    QString out;
    qsizetype i = 0;
    while (i < text.size()) {
        const QChar c = text.at(i);
        if (!(c.isLower() || c == u'_')) {
            out.append(c);
            ++i;
            continue;
        }
        qsizetype j = i;
        while (j < text.size() && (text.at(j).isLower() || text.at(j) == u'_'))
            ++j;
        QString word = text.mid(i, j - i);
        for (const auto &[rate, users] : kRateWords)
            if (word == users)
                word = rate;
        out.append(word);
        i = j;
    }
    return out;
}

// A "data.0.id" path in a JSON value.
std::optional<QJsonValue> lookup(const QJsonValue &root, QStringView path)
{
    if (root.isUndefined())
        return std::nullopt;
    if (path.isEmpty())
        return root;
    QJsonValue current = root;
    qsizetype start = 0;
    for (;;) {
        qsizetype dot = path.indexOf(u'.', start);
        const QStringView part = path.mid(start, dot < 0 ? path.size() - start : dot - start);
        if (current.isObject()) {
            const QJsonObject o = current.toObject();
            if (!o.contains(part))
                return std::nullopt;
            current = o.value(part);
        } else if (current.isArray()) {
            const QJsonArray a = current.toArray();
            bool ok = false;
            const int index = part.toInt(&ok);
            if (!ok || index < 0 || index >= a.size())
                return std::nullopt;
            current = a.at(index);
        } else {
            return std::nullopt;
        }
        if (dot < 0)
            return current;
        start = dot + 1;
    }
}

QJsonValue documentRoot(QByteArrayView body)
{
    const QJsonDocument doc = QJsonDocument::fromJson(body.toByteArray());
    if (doc.isObject())
        return doc.object();
    if (doc.isArray())
        return doc.array();
    return QJsonValue(QJsonValue::Undefined);
}

// RFC 4180 CSV; `file` names it in errors ("accounts.csv:7: ...").
Result<CsvTable> parseCsv(const QByteArray &data, const QString &file)
{
    const auto fail = [&](int line, const QString &what) {
        return Error{ErrorCode::Unprocessable,
                     line > 0 ? QStringLiteral("%1:%2: %3").arg(file).arg(line).arg(what)
                              : QStringLiteral("%1: %2").arg(file, what)};
    };
    QList<QList<QByteArray>> records;
    QList<int> lines;
    const qsizetype n = data.size();
    qsizetype i = data.startsWith("\xEF\xBB\xBF") ? 3 : 0;
    int line = 1;
    const auto atLineEnd = [&](qsizetype at) {
        return at < n &&
               (data[at] == '\n' || (data[at] == '\r' && (at + 1 >= n || data[at + 1] == '\n')));
    };
    const auto skipLineEnd = [&] {
        if (i < n && data[i] == '\r')
            ++i;
        if (i < n && data[i] == '\n')
            ++i;
        ++line;
    };
    while (i < n) {
        if (atLineEnd(i)) { // a blank line
            skipLineEnd();
            continue;
        }
        const int recordLine = line;
        QList<QByteArray> cells;
        for (;;) {
            QByteArray cell;
            if (i < n && data[i] == '"') {
                const int quoteLine = line;
                ++i;
                for (;;) {
                    if (i >= n)
                        return fail(quoteLine, QStringLiteral("a quoted field is not closed"));
                    const char c = data[i];
                    if (c == '"') {
                        if (i + 1 < n && data[i + 1] == '"') {
                            cell.append('"');
                            i += 2;
                            continue;
                        }
                        ++i;
                        break;
                    }
                    if (c == '\n')
                        ++line;
                    cell.append(c);
                    ++i;
                }
                if (i < n && data[i] != ',' && !atLineEnd(i))
                    return fail(line, QStringLiteral("a closing quote must end its field"));
            } else {
                const qsizetype start = i;
                while (i < n && data[i] != ',' && !atLineEnd(i))
                    ++i;
                cell = data.mid(start, i - start);
            }
            cells.append(cell);
            if (i < n && data[i] == ',') {
                ++i;
                continue;
            }
            if (i < n)
                skipLineEnd();
            break;
        }
        records.append(cells);
        lines.append(recordLine);
    }
    if (records.isEmpty())
        return fail(0, QStringLiteral("empty: the first row must name the columns"));
    CsvTable table;
    for (qsizetype c = 0; c < records.first().size(); ++c) {
        const QString name = QString::fromUtf8(records.first().at(c)).trimmed();
        if (name.isEmpty())
            return fail(lines.first(),
                        QStringLiteral("column %1 of the header has no name").arg(c + 1));
        if (table.columns.contains(name))
            return fail(lines.first(),
                        QStringLiteral("column \"%1\" appears twice in the header").arg(name));
        table.columns.append(name);
    }
    for (qsizetype r = 1; r < records.size(); ++r) {
        const qsizetype cells = records.at(r).size();
        if (cells != table.columns.size())
            return fail(lines.at(r),
                        QStringLiteral("%1 %2, the header has %3")
                            .arg(cells)
                            .arg(cells == 1 ? QStringLiteral("cell") : QStringLiteral("cells"))
                            .arg(table.columns.size()));
        table.rows.append(records.at(r));
    }
    if (table.rows.isEmpty())
        return fail(0, QStringLiteral("no data rows (the first row is the header)"));
    return table;
}

class Reader
{
public:
    Reader(const QByteArray &raw, const QByteArray &blanked, const QString &fileName,
           const QString &baseDir)
        : m_raw(raw), m_blanked(blanked), m_map(JsonSourceMap::build(blanked)),
          m_fileName(fileName), m_baseDir(baseDir)
    {
    }

    std::optional<Error> read(const QJsonObject &root, Scenario *s);

private:
    using Failed = std::optional<Error>;

    Error failAt(ErrorCode code, const QString &path, const QString &message, int offset) const
    {
        const auto [line, column] = JsonSourceMap::lineColumn(m_raw, offset);
        const QString where = QStringLiteral("%1:%2:%3: ").arg(m_fileName).arg(line).arg(column);
        return Error{code,
                     where + (path.isEmpty() ? message : path + QStringLiteral(": ") + message),
                     QJsonObject{{QStringLiteral("line"), line},
                                 {QStringLiteral("column"), column},
                                 {QStringLiteral("path"), path}}};
    }
    // At the value (or its nearest parent when it is missing).
    Error fail(ErrorCode code, const QString &path, const QString &message) const
    {
        return failAt(code, path, message, m_map.nearestOffset(path));
    }
    // At the member's name.
    Error failAtKey(ErrorCode code, const QString &path, const QString &message) const
    {
        return failAt(code, path, message,
                      m_map.keyOffsetOf(path).value_or(m_map.nearestOffset(path)));
    }
    Error badRequest(const QString &path, const QString &message) const
    {
        return fail(ErrorCode::BadRequest, path, message);
    }
    Error unprocessable(const QString &path, const QString &message) const
    {
        return fail(ErrorCode::Unprocessable, path, message);
    }
    // An error "column N: what" about the text of the string whose opening quote is at
    // `quote`: located at that column when the string has no escapes (then the message
    // drops "column N: "), else at the quote with the message as it is.
    Error failInString(const Error &inner, const QString &path, const QString &text,
                       int quote) const
    {
        const int column = inner.details.value(QStringLiteral("column")).toInt();
        QString message = inner.message;
        int offset = quote;
        bool escaped = quote < 0 || quote >= m_blanked.size() || m_blanked.at(quote) != '"';
        for (qsizetype i = quote + 1; !escaped && i < m_blanked.size() && m_blanked.at(i) != '"';
             ++i)
            escaped = m_blanked.at(i) == '\\';
        if (!escaped && column >= 1 && column <= text.size() + 1) {
            offset = quote + 1 + int(QStringView(text).left(column - 1).toUtf8().size());
            const QString prefix = QStringLiteral("column %1: ").arg(column);
            if (message.startsWith(prefix))
                message = message.mid(prefix.size());
        }
        return failAt(inner.code, path, message, std::max(offset, 0));
    }

    // The object's keys in file order.
    QStringList fileOrder(const QJsonObject &o, const QString &path) const
    {
        QStringList keys = o.keys();
        std::stable_sort(keys.begin(), keys.end(), [&](const QString &a, const QString &b) {
            return m_map.keyOffsetOf(child(path, a)).value_or(std::numeric_limits<int>::max()) <
                   m_map.keyOffsetOf(child(path, b)).value_or(std::numeric_limits<int>::max());
        });
        return keys;
    }

    Failed onlyMembers(const QJsonObject &o, const QString &path, const QStringList &allowed) const
    {
        for (const QString &key : fileOrder(o, path))
            if (!allowed.contains(key))
                return failAtKey(
                    ErrorCode::BadRequest, child(path, key),
                    QStringLiteral("unknown member (%1)").arg(allowed.join(QStringLiteral(", "))));
        return std::nullopt;
    }

    Failed object(const QJsonValue &v, const QString &path, QJsonObject *out) const
    {
        if (!v.isObject())
            return badRequest(path, QStringLiteral("must be an object"));
        *out = v.toObject();
        return std::nullopt;
    }

    Failed string(const QJsonValue &v, const QString &path, QString *out) const
    {
        if (!v.isString())
            return badRequest(path, QStringLiteral("must be a string"));
        *out = v.toString();
        return std::nullopt;
    }

    Failed integer(const QJsonValue &v, const QString &path, int min, int max, int *out) const
    {
        const QString message =
            QStringLiteral("must be an integer from %1 to %2").arg(min).arg(max);
        if (!v.isDouble())
            return badRequest(path, message);
        const double d = v.toDouble();
        if (d != std::floor(d) || d < min || d > max)
            return unprocessable(path, message);
        *out = int(d);
        return std::nullopt;
    }

    Failed duration(const QJsonValue &v, const QString &path, qint64 minMs, qint64 maxMs,
                    qint64 *out) const
    {
        if (!v.isDouble() && !v.isString())
            return badRequest(
                path, QStringLiteral("must be a string like \"10s\" or a number of seconds"));
        const std::optional<qint64> ms = ConfigLoader::parseDurationMs(v);
        if (!ms || *ms < minMs || *ms > maxMs)
            return unprocessable(path, QStringLiteral("must be a duration from %1 to %2, like "
                                                      "\"1s\" or \"250ms\"")
                                           .arg(ConfigLoader::formatDurationMs(minMs), ConfigLoader::formatDurationMs(maxMs)));
        *out = *ms;
        return std::nullopt;
    }

    // Compiles a template held by the string at `path` (a member name when atKey).
    Failed compile(const QString &text, Template::Mode mode, const QString &path, Template *out,
                   bool atKey = false) const
    {
        auto t = Template::compile(text, mode, m_csv);
        if (!t) {
            const int quote =
                atKey ? m_map.keyOffsetOf(path).value_or(-1) : m_map.offsetOf(path).value_or(-1);
            return failInString(t.error(), path, text,
                                quote >= 0 ? quote : m_map.nearestOffset(path));
        }
        *out = t.value();
        return std::nullopt;
    }

    Failed readCsv(const QJsonValue &v, Scenario *s);
    Failed readLoad(const QJsonValue &v, LoadSpec *load) const;
    Failed readThresholds(const QJsonValue &v, QList<Threshold> *out) const;
    Failed readUserClass(const QJsonValue &v, const QString &path, int index,
                         UserClassSpec *out) const;
    Failed readWait(const QJsonValue &v, const QString &path, WaitSpec *out) const;
    Failed readTask(const QJsonValue &v, const QString &path, int index, TaskSpec *out) const;
    Failed readRequests(const QJsonValue &v, const QString &path, bool nonEmpty,
                        QList<RequestSpec> *out) const;
    Failed readRequest(const QJsonValue &v, const QString &path, RequestSpec *out) const;
    Failed checkBodyTemplates(const QJsonValue &v, const QString &path) const;
    Failed readCheck(const QJsonValue &v, const QString &path, CheckSpec *out) const;

    QByteArray m_raw;
    QByteArray m_blanked;
    JsonSourceMap m_map;
    QString m_fileName;
    QString m_baseDir;
    QHash<QString, CsvTable> m_csv;
};

std::optional<Error> Reader::read(const QJsonObject &root, Scenario *s)
{
    if (auto e = onlyMembers(
            root, QString(),
            {QStringLiteral("name"), QStringLiteral("description"), QStringLiteral("target"),
             QStringLiteral("token"), QStringLiteral("timeout"), QStringLiteral("csv"),
             QStringLiteral("load"), QStringLiteral("thresholds"), QStringLiteral("user_classes")}))
        return e;

    s->name = QFileInfo(m_fileName).completeBaseName();
    if (s->name.isEmpty())
        s->name = QStringLiteral("scenario");
    if (root.contains(QStringLiteral("name"))) {
        if (auto e = string(root.value(QStringLiteral("name")), QStringLiteral("name"), &s->name))
            return e;
    }
    if (root.contains(QStringLiteral("description"))) {
        if (auto e = string(root.value(QStringLiteral("description")),
                            QStringLiteral("description"), &s->description))
            return e;
    }
    if (root.contains(QStringLiteral("target"))) {
        const QString path = QStringLiteral("target");
        if (auto e = string(root.value(path), path, &s->target))
            return e;
        const QUrl url(s->target, QUrl::StrictMode);
        const QString scheme = url.scheme();
        if (!url.isValid() || (scheme != u"http" && scheme != u"https") || url.host().isEmpty() ||
            !(url.path().isEmpty() || url.path() == u"/") || url.hasQuery() || url.hasFragment() ||
            !url.userInfo().isEmpty())
            return unprocessable(path, QStringLiteral("must be an http:// or https:// URL with a "
                                                      "host and no path, like "
                                                      "\"http://127.0.0.1:8080\""));
    }
    if (root.contains(QStringLiteral("token"))) {
        QString token;
        if (auto e = string(root.value(QStringLiteral("token")), QStringLiteral("token"), &token))
            return e;
        for (const QChar c : token)
            if (c.unicode() < 0x20 || c.unicode() == 0x7f)
                return unprocessable(QStringLiteral("token"),
                                     QStringLiteral("must not contain control characters"));
        s->token = token.toUtf8();
    }
    if (root.contains(QStringLiteral("timeout"))) {
        if (auto e = duration(root.value(QStringLiteral("timeout")), QStringLiteral("timeout"), 1,
                              kMaxTimeoutMs, &s->timeoutMs))
            return e;
    }
    if (root.contains(QStringLiteral("csv"))) {
        if (auto e = readCsv(root.value(QStringLiteral("csv")), s))
            return e;
    }
    if (!root.contains(QStringLiteral("load")))
        return unprocessable(QStringLiteral("load"), QStringLiteral("required"));
    if (auto e = readLoad(root.value(QStringLiteral("load")), &s->load))
        return e;
    if (root.contains(QStringLiteral("thresholds"))) {
        if (auto e = readThresholds(root.value(QStringLiteral("thresholds")), &s->thresholds))
            return e;
    }

    const QString classesPath = QStringLiteral("user_classes");
    if (!root.contains(classesPath))
        return unprocessable(classesPath, QStringLiteral("required"));
    const QJsonValue classes = root.value(classesPath);
    if (!classes.isArray())
        return badRequest(classesPath, QStringLiteral("must be an array of user classes"));
    if (classes.toArray().isEmpty())
        return unprocessable(classesPath, QStringLiteral("needs at least one user class"));
    const QJsonArray classArray = classes.toArray();
    for (qsizetype i = 0; i < classArray.size(); ++i) {
        UserClassSpec spec;
        if (auto e = readUserClass(classArray.at(i), indexed(classesPath, i), int(i), &spec))
            return e;
        s->userClasses.append(spec);
    }
    return std::nullopt;
}

std::optional<Error> Reader::readCsv(const QJsonValue &v, Scenario *s)
{
    const QString path = QStringLiteral("csv");
    if (!v.isObject())
        return badRequest(path, QStringLiteral("must be an object of table names and CSV files, "
                                               "like {\"accounts\": \"accounts.csv\"}"));
    const QJsonObject o = v.toObject();
    for (const QString &name : fileOrder(o, path)) {
        const QString at = child(path, name);
        if (!isName(name))
            return failAtKey(ErrorCode::Unprocessable, at,
                             QStringLiteral("a table name is letters, digits, '_' and '-'"));
        QString file;
        if (auto e = string(o.value(name), at, &file))
            return e;
        QFile f(QDir(m_baseDir).filePath(file));
        if (!f.open(QIODevice::ReadOnly))
            return unprocessable(at,
                                 QStringLiteral("cannot read %1: %2").arg(file, f.errorString()));
        if (f.size() > kMaxCsvBytes)
            return unprocessable(at, QStringLiteral("%1 is larger than 64 MiB").arg(file));
        const QByteArray data = f.read(kMaxCsvBytes + 1);
        if (data.size() > kMaxCsvBytes)
            return unprocessable(at, QStringLiteral("%1 is larger than 64 MiB").arg(file));
        auto table = parseCsv(data, file);
        if (!table)
            return unprocessable(at, table.error().message);
        table.value().name = name;
        m_csv.insert(name, table.value());
    }
    s->csv = m_csv;
    return std::nullopt;
}

std::optional<Error> Reader::readLoad(const QJsonValue &v, LoadSpec *load) const
{
    const QString path = QStringLiteral("load");
    QJsonObject o;
    if (auto e = object(v, path, &o))
        return e;
    load->model = LoadSpec::Model::Closed;
    const QString modelPath = child(path, QStringLiteral("model"));
    if (o.contains(QStringLiteral("model"))) {
        QString model;
        if (auto e = string(o.value(QStringLiteral("model")), modelPath, &model))
            return e;
        if (model == u"open")
            load->model = LoadSpec::Model::Open;
        else if (model != u"closed")
            return unprocessable(modelPath, QStringLiteral("must be \"closed\" or \"open\""));
    }
    const bool open = load->model == LoadSpec::Model::Open;
    const QString connectionsPath = child(path, QStringLiteral("max_connections"));
    if (o.contains(QStringLiteral("max_connections"))) {
        if (!open)
            return failAtKey(ErrorCode::BadRequest, connectionsPath,
                             QStringLiteral("only for the open model"));
        if (auto e = integer(o.value(QStringLiteral("max_connections")), connectionsPath, 1,
                             kMaxConnections, &load->maxConnections))
            return e;
    }

    QJsonObject shape = o;
    shape.remove(QStringLiteral("model"));
    shape.remove(QStringLiteral("max_connections"));
    if (open) {
        for (const QString &key : fileOrder(shape, path))
            for (const auto &[rate, users] : kRateWords)
                if (key == users)
                    return failAtKey(ErrorCode::BadRequest, child(path, key),
                                     QStringLiteral("the open model counts arrivals per second: "
                                                    "use \"%1\"")
                                         .arg(rate));
        for (const auto &[rate, users] : kRateWords) {
            if (shape.contains(rate)) {
                shape.insert(users, shape.value(rate));
                shape.remove(rate);
            }
        }
    }
    if (!shape.contains(QStringLiteral("shape")))
        shape.insert(QStringLiteral("shape"), shape.contains(QStringLiteral("stages"))
                                                  ? QStringLiteral("stages")
                                                  : QStringLiteral("constant"));
    auto parsed = LoadShape::fromJson(shape);
    if (!parsed) {
        QString message = parsed.error().message;
        QString field;
        const qsizetype colon = message.indexOf(QStringLiteral(": "));
        if (colon > 0) {
            field = message.left(colon);
            message = message.mid(colon + 2);
        }
        if (open) {
            field = toRateWords(field);
            message = toRateWords(message);
        }
        const QString at = field.isEmpty() ? path : child(path, field);
        if (message.startsWith(QStringLiteral("unknown field")) ||
            message.startsWith(QStringLiteral("not used by")))
            return failAtKey(parsed.error().code, at, message);
        return fail(parsed.error().code, at, message);
    }
    load->shape = parsed.value();
    return std::nullopt;
}

std::optional<Error> Reader::readThresholds(const QJsonValue &v, QList<Threshold> *out) const
{
    const QString path = QStringLiteral("thresholds");
    if (!v.isArray())
        return badRequest(path, QStringLiteral("must be an array like [\"p95 < 200ms\"]"));
    const QJsonArray items = v.toArray();
    for (qsizetype i = 0; i < items.size(); ++i) {
        const QString at = indexed(path, i);
        if (!items.at(i).isString())
            return badRequest(at, QStringLiteral("must be a string like \"p95 < 200ms\""));
        const QString text = items.at(i).toString();
        auto t = Threshold::parse(text);
        if (!t)
            return failInString(t.error(), at, text, m_map.nearestOffset(at));
        out->append(t.value());
    }
    return std::nullopt;
}

std::optional<Error> Reader::readUserClass(const QJsonValue &v, const QString &path, int index,
                                           UserClassSpec *out) const
{
    QJsonObject o;
    if (auto e = object(v, path, &o))
        return e;
    if (auto e =
            onlyMembers(o, path,
                        {QStringLiteral("name"), QStringLiteral("weight"), QStringLiteral("wait"),
                         QStringLiteral("on_start"), QStringLiteral("tasks")}))
        return e;
    out->name = QStringLiteral("class %1").arg(index + 1);
    if (o.contains(QStringLiteral("name"))) {
        if (auto e = string(o.value(QStringLiteral("name")), child(path, QStringLiteral("name")),
                            &out->name))
            return e;
    }
    if (o.contains(QStringLiteral("weight"))) {
        if (auto e = integer(o.value(QStringLiteral("weight")),
                             child(path, QStringLiteral("weight")), 1, kMaxWeight, &out->weight))
            return e;
    }
    if (o.contains(QStringLiteral("wait"))) {
        if (auto e = readWait(o.value(QStringLiteral("wait")), child(path, QStringLiteral("wait")),
                              &out->wait))
            return e;
    }
    if (o.contains(QStringLiteral("on_start"))) {
        if (auto e = readRequests(o.value(QStringLiteral("on_start")),
                                  child(path, QStringLiteral("on_start")), false, &out->onStart))
            return e;
    }
    const QString tasksPath = child(path, QStringLiteral("tasks"));
    if (!o.contains(QStringLiteral("tasks")))
        return unprocessable(tasksPath, QStringLiteral("required"));
    const QJsonValue tasks = o.value(QStringLiteral("tasks"));
    if (!tasks.isArray())
        return badRequest(tasksPath, QStringLiteral("must be an array of tasks"));
    const QJsonArray taskArray = tasks.toArray();
    if (taskArray.isEmpty())
        return unprocessable(tasksPath, QStringLiteral("needs at least one task"));
    for (qsizetype i = 0; i < taskArray.size(); ++i) {
        TaskSpec task;
        if (auto e = readTask(taskArray.at(i), indexed(tasksPath, i), int(i), &task))
            return e;
        out->tasks.append(task);
    }
    return std::nullopt;
}

std::optional<Error> Reader::readWait(const QJsonValue &v, const QString &path, WaitSpec *out) const
{
    QJsonObject o;
    if (auto e = object(v, path, &o))
        return e;
    const QStringList kinds{QStringLiteral("between"), QStringLiteral("constant"),
                            QStringLiteral("pacing")};
    if (auto e = onlyMembers(o, path, kinds))
        return e;
    const QStringList keys = fileOrder(o, path);
    if (keys.isEmpty())
        return unprocessable(path, QStringLiteral("needs one of between, constant, pacing"));
    if (keys.size() > 1)
        return failAtKey(ErrorCode::BadRequest, child(path, keys.at(1)),
                         QStringLiteral("between, constant and pacing exclude each other"));
    const QString kind = keys.first();
    const QString at = child(path, kind);
    const QJsonValue value = o.value(kind);
    if (kind == u"constant") {
        out->kind = WaitSpec::Kind::Constant;
        return duration(value, at, 0, kMaxWaitMs, &out->minMs);
    }
    if (kind == u"pacing") {
        out->kind = WaitSpec::Kind::Pacing;
        return duration(value, at, 1, kMaxWaitMs, &out->minMs);
    }
    out->kind = WaitSpec::Kind::Between;
    if (!value.isArray() || value.toArray().size() != 2)
        return badRequest(at, QStringLiteral("must be [min, max], like [\"1s\", \"3s\"]"));
    const QJsonArray bounds = value.toArray();
    if (auto e = duration(bounds.at(0), indexed(at, 0), 0, kMaxWaitMs, &out->minMs))
        return e;
    if (auto e = duration(bounds.at(1), indexed(at, 1), 0, kMaxWaitMs, &out->maxMs))
        return e;
    if (out->maxMs < out->minMs)
        return unprocessable(indexed(at, 1),
                             QStringLiteral("must not be shorter than the minimum"));
    return std::nullopt;
}

std::optional<Error> Reader::readTask(const QJsonValue &v, const QString &path, int index,
                                      TaskSpec *out) const
{
    QJsonObject o;
    if (auto e = object(v, path, &o))
        return e;
    if (auto e = onlyMembers(o, path,
                             {QStringLiteral("name"), QStringLiteral("weight"),
                              QStringLiteral("requests"), QStringLiteral("request")}))
        return e;
    if (o.contains(QStringLiteral("weight"))) {
        if (auto e = integer(o.value(QStringLiteral("weight")),
                             child(path, QStringLiteral("weight")), 1, kMaxWeight, &out->weight))
            return e;
    }
    const bool many = o.contains(QStringLiteral("requests"));
    const bool one = o.contains(QStringLiteral("request"));
    if (many && one) {
        const QStringList keys = fileOrder(o, path);
        const QString second =
            keys.indexOf(QStringLiteral("request")) > keys.indexOf(QStringLiteral("requests"))
                ? QStringLiteral("request")
                : QStringLiteral("requests");
        return failAtKey(ErrorCode::BadRequest, child(path, second),
                         QStringLiteral("request and requests exclude each other"));
    }
    if (!many && !one)
        return unprocessable(child(path, QStringLiteral("requests")),
                             QStringLiteral("required (or \"request\" for a single one)"));
    if (many) {
        if (auto e = readRequests(o.value(QStringLiteral("requests")),
                                  child(path, QStringLiteral("requests")), true, &out->requests))
            return e;
    } else {
        RequestSpec request;
        if (auto e = readRequest(o.value(QStringLiteral("request")),
                                 child(path, QStringLiteral("request")), &request))
            return e;
        out->requests.append(request);
    }
    out->name = out->requests.size() == 1 ? out->requests.first().name
                                          : QStringLiteral("task %1").arg(index + 1);
    if (o.contains(QStringLiteral("name"))) {
        if (auto e = string(o.value(QStringLiteral("name")), child(path, QStringLiteral("name")),
                            &out->name))
            return e;
    }
    return std::nullopt;
}

std::optional<Error> Reader::readRequests(const QJsonValue &v, const QString &path, bool nonEmpty,
                                          QList<RequestSpec> *out) const
{
    if (!v.isArray())
        return badRequest(path, QStringLiteral("must be an array of requests"));
    const QJsonArray items = v.toArray();
    if (nonEmpty && items.isEmpty())
        return unprocessable(path, QStringLiteral("needs at least one request"));
    for (qsizetype i = 0; i < items.size(); ++i) {
        RequestSpec request;
        if (auto e = readRequest(items.at(i), indexed(path, i), &request))
            return e;
        out->append(request);
    }
    return std::nullopt;
}

std::optional<Error> Reader::readRequest(const QJsonValue &v, const QString &path,
                                         RequestSpec *out) const
{
    QJsonObject o;
    if (auto e = object(v, path, &o))
        return e;
    if (auto e =
            onlyMembers(o, path,
                        {QStringLiteral("name"), QStringLiteral("method"), QStringLiteral("path"),
                         QStringLiteral("headers"), QStringLiteral("body"), QStringLiteral("auth"),
                         QStringLiteral("checks"), QStringLiteral("extract")}))
        return e;

    QString method = QStringLiteral("GET");
    if (o.contains(QStringLiteral("method"))) {
        const QString at = child(path, QStringLiteral("method"));
        if (auto e = string(o.value(QStringLiteral("method")), at, &method))
            return e;
        method = method.toUpper();
        if (!kMethods.contains(method))
            return unprocessable(
                at, QStringLiteral("must be one of %1").arg(kMethods.join(QStringLiteral(", "))));
    }
    out->method = method.toLatin1();

    const QString pathPath = child(path, QStringLiteral("path"));
    if (!o.contains(QStringLiteral("path")))
        return unprocessable(pathPath, QStringLiteral("required"));
    QString target;
    if (auto e = string(o.value(QStringLiteral("path")), pathPath, &target))
        return e;
    if (!target.startsWith(u'/'))
        return unprocessable(pathPath, QStringLiteral("must start with /"));
    if (auto e = compile(target, Template::Mode::Path, pathPath, &out->path))
        return e;
    // Literal text goes out as written: it must not break the request line.
    for (qsizetype i = 0; i < target.size(); ++i) {
        if (target.at(i) == u'{' && i + 1 < target.size() && target.at(i + 1) == u'{' &&
            (i == 0 || target.at(i - 1) != u'\\')) {
            const qsizetype close = target.indexOf(QStringLiteral("}}"), i + 2);
            i = close < 0 ? target.size() : close + 1;
            continue;
        }
        const char16_t c = target.at(i).unicode();
        if (c <= 0x20 || c == 0x7f) {
            const Error inner{ErrorCode::Unprocessable,
                              QStringLiteral("column %1: must not contain spaces or control "
                                             "characters (percent-encode them)")
                                  .arg(i + 1),
                              QJsonObject{{QStringLiteral("column"), int(i + 1)}}};
            return failInString(inner, pathPath, target, m_map.nearestOffset(pathPath));
        }
    }

    out->name = QString::fromLatin1(out->method) + u' ' + target.left(target.indexOf(u'?'));
    if (o.contains(QStringLiteral("name"))) {
        if (auto e = string(o.value(QStringLiteral("name")), child(path, QStringLiteral("name")),
                            &out->name))
            return e;
    }

    if (o.contains(QStringLiteral("headers"))) {
        const QString at = child(path, QStringLiteral("headers"));
        QJsonObject headers;
        if (auto e = object(o.value(QStringLiteral("headers")), at, &headers))
            return e;
        static const QStringList reserved{QStringLiteral("host"), QStringLiteral("content-length"),
                                          QStringLiteral("transfer-encoding"),
                                          QStringLiteral("connection")};
        for (const QString &name : fileOrder(headers, at)) {
            const QString headerPath = child(at, name);
            if (!isToken(name))
                return failAtKey(ErrorCode::Unprocessable, headerPath,
                                 QStringLiteral("not a valid header name"));
            if (reserved.contains(name.toLower()))
                return failAtKey(ErrorCode::Unprocessable, headerPath,
                                 QStringLiteral("set by the load tester, not by a scenario"));
            QString value;
            if (auto e = string(headers.value(name), headerPath, &value))
                return e;
            if (value.contains(u'\r') || value.contains(u'\n'))
                return unprocessable(headerPath, QStringLiteral("must not contain line breaks"));
            Template t;
            if (auto e = compile(value, Template::Mode::Text, headerPath, &t))
                return e;
            out->headers.append({name.toLatin1(), t});
        }
    }

    if (o.contains(QStringLiteral("body"))) {
        const QString at = child(path, QStringLiteral("body"));
        const QJsonValue body = o.value(QStringLiteral("body"));
        if (auto e = checkBodyTemplates(body, at))
            return e;
        auto t =
            Template::compile(QString::fromUtf8(compactJson(body)), Template::Mode::Json, m_csv);
        if (!t) // checkBodyTemplates found every error already; this is a safety net
            return fail(t.error().code, at, t.error().message);
        out->body = t.value();
    }

    if (o.contains(QStringLiteral("auth"))) {
        const QJsonValue auth = o.value(QStringLiteral("auth"));
        if (!auth.isBool())
            return badRequest(child(path, QStringLiteral("auth")),
                              QStringLiteral("must be true or false"));
        out->auth = auth.toBool();
    }

    if (o.contains(QStringLiteral("checks"))) {
        const QString at = child(path, QStringLiteral("checks"));
        const QJsonValue checks = o.value(QStringLiteral("checks"));
        if (!checks.isArray())
            return badRequest(at, QStringLiteral("must be an array of checks"));
        const QJsonArray items = checks.toArray();
        for (qsizetype i = 0; i < items.size(); ++i) {
            CheckSpec check;
            if (auto e = readCheck(items.at(i), indexed(at, i), &check))
                return e;
            out->checks.append(check);
        }
    }

    if (o.contains(QStringLiteral("extract"))) {
        const QString at = child(path, QStringLiteral("extract"));
        QJsonObject extract;
        if (auto e = object(o.value(QStringLiteral("extract")), at, &extract))
            return e;
        for (const QString &name : fileOrder(extract, at)) {
            const QString varPath = child(at, name);
            if (!isName(name))
                return failAtKey(ErrorCode::Unprocessable, varPath,
                                 QStringLiteral("a variable name is letters, digits, '_' and '-'"));
            QString jsonPath;
            if (auto e = string(extract.value(name), varPath, &jsonPath))
                return e;
            out->extract.append({name, jsonPath});
        }
    }
    return std::nullopt;
}

std::optional<Error> Reader::checkBodyTemplates(const QJsonValue &v, const QString &path) const
{
    if (v.isString()) {
        Template t;
        return compile(v.toString(), Template::Mode::Text, path, &t);
    }
    if (v.isArray()) {
        const QJsonArray items = v.toArray();
        for (qsizetype i = 0; i < items.size(); ++i)
            if (auto e = checkBodyTemplates(items.at(i), indexed(path, i)))
                return e;
    } else if (v.isObject()) {
        const QJsonObject o = v.toObject();
        for (const QString &key : fileOrder(o, path)) {
            Template t;
            if (auto e = compile(key, Template::Mode::Text, child(path, key), &t, true))
                return e;
            if (auto e = checkBodyTemplates(o.value(key), child(path, key)))
                return e;
        }
    }
    return std::nullopt;
}

std::optional<Error> Reader::readCheck(const QJsonValue &v, const QString &path,
                                       CheckSpec *out) const
{
    QJsonObject o;
    if (auto e = object(v, path, &o))
        return e;
    if (auto e = onlyMembers(o, path,
                             {QStringLiteral("status"), QStringLiteral("body_contains"),
                              QStringLiteral("json"), QStringLiteral("exists"),
                              QStringLiteral("equals")}))
        return e;
    QStringList kinds;
    for (const QString &key : fileOrder(o, path))
        if (key == u"status" || key == u"body_contains" || key == u"json")
            kinds.append(key);
    if (kinds.isEmpty())
        return unprocessable(path, QStringLiteral("needs one of status, body_contains, json"));
    if (kinds.size() > 1)
        return failAtKey(ErrorCode::BadRequest, child(path, kinds.at(1)),
                         QStringLiteral("status, body_contains and json exclude each other (one "
                                        "check per object)"));
    const QString kind = kinds.first();
    const QString at = child(path, kind);
    if (kind != u"json") {
        for (const char *onlyJson : {"exists", "equals"})
            if (o.contains(QLatin1String(onlyJson)))
                return failAtKey(ErrorCode::BadRequest, child(path, QString::fromLatin1(onlyJson)),
                                 QStringLiteral("only with \"json\""));
    }
    if (kind == u"status") {
        out->kind = CheckSpec::Kind::Status;
        const QJsonValue value = o.value(kind);
        if (value.isDouble()) {
            int status = 0;
            if (auto e = integer(value, at, 100, 599, &status))
                return e;
            out->statuses.append(status);
        } else if (value.isArray() && !value.toArray().isEmpty()) {
            const QJsonArray items = value.toArray();
            for (qsizetype i = 0; i < items.size(); ++i) {
                int status = 0;
                if (auto e = integer(items.at(i), indexed(at, i), 100, 599, &status))
                    return e;
                out->statuses.append(status);
            }
        } else {
            return badRequest(at, QStringLiteral("must be a status or an array of statuses"));
        }
        QStringList texts;
        for (int status : std::as_const(out->statuses))
            texts.append(QString::number(status));
        out->description = QStringLiteral("status in [%1]").arg(texts.join(QStringLiteral(", ")));
        return std::nullopt;
    }
    if (kind == u"body_contains") {
        out->kind = CheckSpec::Kind::BodyContains;
        QString text;
        if (auto e = string(o.value(kind), at, &text))
            return e;
        if (text.isEmpty())
            return unprocessable(at, QStringLiteral("must not be empty"));
        out->text = text.toUtf8();
        out->description = QStringLiteral("body contains \"%1\"").arg(text);
        return std::nullopt;
    }
    if (auto e = string(o.value(kind), at, &out->jsonPath))
        return e;
    const bool exists = o.contains(QStringLiteral("exists"));
    const bool equals = o.contains(QStringLiteral("equals"));
    if (exists && equals) {
        const QStringList keys = fileOrder(o, path);
        const QString second =
            keys.indexOf(QStringLiteral("exists")) > keys.indexOf(QStringLiteral("equals"))
                ? QStringLiteral("exists")
                : QStringLiteral("equals");
        return failAtKey(ErrorCode::BadRequest, child(path, second),
                         QStringLiteral("exists and equals exclude each other"));
    }
    if (!exists && !equals)
        return unprocessable(path, QStringLiteral("a json check needs \"exists\" or \"equals\""));
    if (exists) {
        const QJsonValue value = o.value(QStringLiteral("exists"));
        if (!value.isBool())
            return badRequest(child(path, QStringLiteral("exists")),
                              QStringLiteral("must be true or false"));
        out->kind = CheckSpec::Kind::JsonExists;
        out->negate = !value.toBool();
        out->description = QStringLiteral("json %1 %2")
                               .arg(out->jsonPath, out->negate ? QStringLiteral("does not exist")
                                                               : QStringLiteral("exists"));
        return std::nullopt;
    }
    out->kind = CheckSpec::Kind::JsonEquals;
    out->expected = o.value(QStringLiteral("equals"));
    out->description = QStringLiteral("json %1 == %2")
                           .arg(out->jsonPath, QString::fromUtf8(compactJson(out->expected)));
    return std::nullopt;
}

} // namespace

bool RequestSpec::needsBody() const
{
    if (!extract.isEmpty())
        return true;
    for (const CheckSpec &check : checks)
        if (check.kind != CheckSpec::Kind::Status)
            return true;
    return false;
}

void RequestSpec::render(TemplateContext &ctx, const QByteArray &hostHeader, QByteArray *out) const
{
    out->reserve(out->size() + 256 + path.source().size() + (body ? body->source().size() : 0));
    out->append(method);
    out->append(' ');
    path.render(ctx, out);
    out->append(" HTTP/1.1\r\nHost: ");
    out->append(hostHeader);
    out->append("\r\n");
    for (const auto &[name, value] : headers) {
        out->append(name);
        out->append(": ");
        value.render(ctx, out);
        out->append("\r\n");
    }
    if (auth) {
        const QByteArray *token = &ctx.runToken;
        if (ctx.vars) {
            const auto it = ctx.vars->constFind(QStringLiteral("token"));
            if (it != ctx.vars->cend() && !it->isEmpty())
                token = &*it;
        }
        if (!token->isEmpty()) {
            out->append("Authorization: Bearer ");
            out->append(*token);
            out->append("\r\n");
        }
    }
    if (!body) {
        out->append("\r\n");
        return;
    }
    out->append("Content-Type: application/json\r\nContent-Length: ");
    const qsizetype lengthAt = out->size();
    body->render(ctx, out);
    char length[32];
    auto end = std::to_chars(length, length + 24, out->size() - lengthAt).ptr;
    *end++ = '\r';
    *end++ = '\n';
    *end++ = '\r';
    *end++ = '\n';
    out->insert(lengthAt, QByteArrayView(length, end - length));
}

RequestSpec::Verdict RequestSpec::verify(const ResponseView &response) const
{
    Verdict verdict;
    bool statusChecked = false;
    bool needsJson = false;
    for (const CheckSpec &check : checks) {
        if (check.kind == CheckSpec::Kind::Status) {
            statusChecked = true;
            if (!check.statuses.contains(response.status)) {
                verdict.statusFailed = true;
                verdict.failedCheck = check.description;
                return verdict;
            }
        } else if (check.kind != CheckSpec::Kind::BodyContains) {
            needsJson = true;
        }
    }
    if (!statusChecked && response.status >= 400) {
        verdict.statusFailed = true;
        verdict.failedCheck = QStringLiteral("status < 400");
        return verdict;
    }
    const QJsonValue root = needsJson ? documentRoot(response.body) : QJsonValue();
    for (const CheckSpec &check : checks) {
        bool passed = true;
        switch (check.kind) {
        case CheckSpec::Kind::Status: continue;
        case CheckSpec::Kind::BodyContains: passed = response.body.contains(check.text); break;
        case CheckSpec::Kind::JsonExists:
            passed = lookup(root, check.jsonPath).has_value() != check.negate;
            break;
        case CheckSpec::Kind::JsonEquals: {
            const auto found = lookup(root, check.jsonPath);
            if (!found)
                passed = false;
            else if (found->isDouble() && check.expected.isDouble())
                passed = found->toDouble() == check.expected.toDouble();
            else
                passed = *found == check.expected;
            break;
        }
        }
        if (!passed) {
            verdict.failedCheck = check.description;
            return verdict;
        }
    }
    return verdict;
}

void RequestSpec::extractInto(QByteArrayView body, QHash<QString, QByteArray> *vars) const
{
    if (extract.isEmpty())
        return;
    const QJsonValue root = documentRoot(body);
    for (const auto &[name, jsonPath] : extract) {
        const auto found = lookup(root, jsonPath);
        if (!found || found->isUndefined())
            continue;
        vars->insert(name, found->isString() ? found->toString().toUtf8() : compactJson(*found));
    }
}

int UserClassSpec::taskWeightTotal() const
{
    int total = 0;
    for (const TaskSpec &task : tasks)
        total += task.weight;
    return total;
}

int Scenario::userClassWeightTotal() const
{
    int total = 0;
    for (const UserClassSpec &c : userClasses)
        total += c.weight;
    return total;
}

Result<Scenario> Scenario::parse(const QByteArray &json, const QString &fileName,
                                 const QString &baseDir)
{
    const QByteArray blanked = ConfigLoader::blankComments(json);
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(blanked, &parseError);
    if (parseError.error != QJsonParseError::NoError) {
        const auto [line, column] = JsonSourceMap::lineColumn(json, parseError.offset);
        return Error{ErrorCode::BadRequest,
                     QStringLiteral("%1:%2:%3: %4")
                         .arg(fileName)
                         .arg(line)
                         .arg(column)
                         .arg(parseError.errorString()),
                     QJsonObject{{QStringLiteral("line"), line},
                                 {QStringLiteral("column"), column},
                                 {QStringLiteral("path"), QString()}}};
    }
    Reader reader(json, blanked, fileName, baseDir);
    if (!doc.isObject()) {
        int offset = 0;
        while (offset < blanked.size() && QChar(blanked.at(offset)).isSpace())
            ++offset;
        const auto [line, column] = JsonSourceMap::lineColumn(json, offset);
        return Error{ErrorCode::BadRequest,
                     QStringLiteral("%1:%2:%3: a scenario must be a JSON object")
                         .arg(fileName)
                         .arg(line)
                         .arg(column),
                     QJsonObject{{QStringLiteral("line"), line},
                                 {QStringLiteral("column"), column},
                                 {QStringLiteral("path"), QString()}}};
    }
    Scenario s;
    if (auto e = reader.read(doc.object(), &s))
        return *e;
    s.source = doc.object();
    return s;
}

Result<Scenario> Scenario::fromFile(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return Error{file.exists() ? ErrorCode::BadRequest : ErrorCode::NotFound,
                     QStringLiteral("%1: cannot read: %2").arg(path, file.errorString())};
    return parse(file.readAll(), path, QFileInfo(path).absolutePath());
}

Result<bool> Scenario::applyOverrides(const LoadOverrides &overrides)
{
    LoadShape shape = load.shape;
    const bool open = load.model == LoadSpec::Model::Open;
    auto bad = [](const QString &message) { return Error{ErrorCode::BadRequest, message}; };
    if (open && overrides.users)
        return bad(QStringLiteral("users: the scenario uses the open model; give rate"));
    if (!open && overrides.rate)
        return bad(QStringLiteral("rate: the scenario uses the closed model; give users"));
    QStringList given;
    if (overrides.durationMs) {
        given.append(QStringLiteral("duration"));
        const qint64 ms = *overrides.durationMs;
        if (ms < 1 || ms > 7LL * 24 * 3'600'000)
            return bad(QStringLiteral("duration: must be from 1ms to 7d"));
        if (shape.kind == LoadShape::Kind::Stages) {
            // Every stage keeps its share of the run (at least 1 ms); the last takes the
            // rounding, so the total is exactly the duration asked for.
            const qint64 before = shape.totalDurationMs();
            if (ms < shape.stages.size())
                return bad(QStringLiteral("duration: shorter than 1ms per stage"));
            qint64 used = 0;
            for (qsizetype i = 0; i < shape.stages.size(); ++i) {
                LoadShape::Stage &stage = shape.stages[i];
                const qsizetype left = shape.stages.size() - i - 1;
                stage.durationMs = i + 1 == shape.stages.size()
                                       ? ms - used
                                       : std::clamp<qint64>(stage.durationMs * ms / before, 1,
                                                            ms - used - left);
                used += stage.durationMs;
            }
        } else {
            shape.durationMs = ms;
        }
    }
    const std::optional<int> peak = open ? overrides.rate : overrides.users;
    if (peak) {
        const QString name = open ? QStringLiteral("rate") : QStringLiteral("users");
        given.append(name);
        if (*peak < 1 || *peak > 1'000'000)
            return bad(QStringLiteral("%1: must be an integer from 1 to 1000000").arg(name));
        // Every count of the shape scales so that its highest becomes the peak: a ramp keeps
        // its start's share, a spike its baseline's, a double wave its minimum's.
        int highest = std::max({shape.users, shape.startUsers, shape.spikeUsers});
        for (const LoadShape::Stage &stage : shape.stages)
            highest = std::max(highest, stage.target);
        if (highest == 0)
            return bad(QStringLiteral("%1: the shape has no %2 to scale").arg(name, name));
        auto scale = [&](int v) { return int((qint64(v) * *peak + highest / 2) / highest); };
        shape.users = scale(shape.users);
        shape.startUsers = scale(shape.startUsers);
        shape.minUsers = scale(shape.minUsers);
        shape.spikeUsers = scale(shape.spikeUsers);
        if (shape.kind == LoadShape::Kind::Step) // the step, at most the (new) cap
            shape.stepUsers = std::clamp(scale(shape.stepUsers), 1, std::max(1, shape.users));
        for (LoadShape::Stage &stage : shape.stages)
            stage.target = scale(stage.target);
    }
    // The changed shape must hold by the rules of a scenario file.
    auto checked = LoadShape::fromJson(shape.toJson());
    if (!checked.ok()) {
        const QString message = open ? toRateWords(checked.error().message) : checked.error().message;
        return bad(QStringLiteral("%1: the shape would not hold: %2")
                       .arg(given.join(QStringLiteral(" and ")), message));
    }
    load.shape = checked.value();
    return true;
}

} // namespace bulwark
