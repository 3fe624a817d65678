// SPDX-License-Identifier: GPL-3.0-or-later
// See ReportWriter.h. The text tables share one layout routine (TextTable): every column
// as wide as its widest cell, names left-aligned, numbers right-aligned, so every line of a
// table has the same length. When the table would pass 120 columns the gaps between the
// numbers shrink from two spaces to one, and then the name column is cut. The HTML charts are drawn
// by hand as SVG paths on "nice" axes (ticks at 1, 2 or 5 times a power of ten); a second without a
// response has no latency and leaves a gap in the latency lines instead of a dip to zero.
#include "ReportWriter.h"

#include "Threshold.h"

#include <QJsonDocument>
#include <QSet>
#include <algorithm>
#include <cmath>
#include <optional>

namespace bulwark::ReportWriter {

namespace {

constexpr int kMaxWidth = 120;
constexpr int kMinNameWidth = 16;
const QString kNone = QStringLiteral("-");

struct Quantile
{
    const char *label; // as in the tables and thresholds
    const char *csv;   // CSV column stem
    double q;
};
constexpr std::array<Quantile, 5> kQuantiles{{{"p50", "p50", 0.50},
                                              {"p90", "p90", 0.90},
                                              {"p95", "p95", 0.95},
                                              {"p99", "p99", 0.99},
                                              {"p99.9", "p99_9", 0.999}}};

QString cut(const QString &text, int width)
{
    if (text.size() <= width)
        return text;
    if (width <= 3)
        return text.left(width);
    return text.left(width - 3) + QStringLiteral("...");
}

QString fixed(double v, int decimals)
{
    return QString::number(v, 'f', decimals);
}

QString percent(double fraction)
{
    return fixed(fraction * 100.0, 2) + u'%';
}

QString formatBytes(quint64 bytes)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024)
        return QStringLiteral("%1 B").arg(bytes);
    double v = double(bytes);
    int unit = -1;
    while (v >= 1024 && unit < 3) {
        v /= 1024;
        ++unit;
    }
    return QStringLiteral("%1 %2").arg(fixed(v, 1), QLatin1String(units[unit]));
}

QString formatTime(const QDateTime &t)
{
    if (!t.isValid())
        return kNone;
    return t.toUTC().toString(QStringLiteral("yyyy-MM-dd HH:mm:ss")) + QStringLiteral(" UTC");
}

QString formatRate(double perSecond)
{
    return fixed(perSecond, 1);
}

// An endpoint's latency cells: min, avg, the quantiles, max ("-" without samples).
QStringList latencyCells(const LatencyHistogram &h)
{
    QStringList cells;
    if (h.count() == 0) {
        for (int i = 0; i < 3 + int(kQuantiles.size()); ++i)
            cells.append(kNone);
        return cells;
    }
    cells << formatLatency(double(h.min())) << formatLatency(h.mean());
    for (const Quantile &q : kQuantiles)
        cells << formatLatency(double(h.valueAtQuantile(q.q)));
    cells << formatLatency(double(h.max()));
    return cells;
}

// Rows of cells laid out in aligned columns. Column 0 is the name (left-aligned, cut to fit
// kMaxWidth but never below kMinNameWidth); the others are right-aligned, unless listed in
// leftColumns. A row that is empty is drawn as a rule of dashes.
class TextTable
{
public:
    explicit TextTable(QStringList header, QSet<int> leftColumns = {})
        : m_leftColumns(std::move(leftColumns))
    {
        m_rows.append(std::move(header));
        m_rows.append(QStringList());
    }
    void addRow(QStringList cells) { m_rows.append(std::move(cells)); }
    void addRule() { m_rows.append(QStringList()); }

    QString render(const QString &indent = QString()) const
    {
        const int columns = int(m_rows.first().size());
        QList<int> widths(columns, 0);
        for (const QStringList &row : m_rows)
            for (int c = 0; c < row.size() && c < columns; ++c)
                widths[c] = std::max(widths[c], int(row.at(c).size()));
        // Two spaces between columns; one between the numbers when that saves the names.
        const auto restWith = [&](int gap) {
            int rest = int(indent.size()) + (columns > 1 ? 2 - gap : 0);
            for (int c = 1; c < columns; ++c)
                rest += gap + widths[c];
            return rest;
        };
        const int gap = widths[0] + restWith(2) <= kMaxWidth ? 2 : 1;
        const int rest = restWith(gap);
        widths[0] = std::min(widths[0], std::max(kMaxWidth - rest, kMinNameWidth));
        const int total = widths[0] + rest;

        QString out;
        for (const QStringList &row : m_rows) {
            if (row.isEmpty()) {
                out += indent + QString(total - indent.size(), u'-') + u'\n';
                continue;
            }
            QString line = indent;
            for (int c = 0; c < columns; ++c) {
                const QString cell = cut(c < row.size() ? row.at(c) : QString(), widths[c]);
                if (c > 0)
                    line += QString(c == 1 ? 2 : gap, u' ');
                line += (c == 0 || m_leftColumns.contains(c)) ? cell.leftJustified(widths[c])
                                                              : cell.rightJustified(widths[c]);
            }
            while (line.endsWith(u' ')) // a left-aligned last column
                line.chop(1);
            out += line + u'\n';
        }
        return out;
    }

private:
    QSet<int> m_leftColumns;
    QList<QStringList> m_rows;
};

// The threshold's actual value in its metric's unit, found by parsing its text again.
QString formatActual(const ThresholdResult &t, const RunReport &report)
{
    const auto parsed = Threshold::parse(t.text);
    if (!std::isfinite(t.actual))
        return kNone;
    if (!parsed.ok())
        return QString::number(t.actual, 'g', 6);
    const Threshold &th = parsed.value();
    if (th.isLatency())
        return report.overall.latency.count() ? formatLatency(t.actual)
                                              : QStringLiteral("none (no responses)");
    if (th.metric == Threshold::Metric::ErrorRate)
        return percent(t.actual);
    return formatRate(t.actual) + QStringLiteral("/s");
}

QString failureBreakdown(const EndpointStats &e)
{
    QStringList parts;
    for (int k = 0; k < kFailureKinds; ++k) {
        if (e.failures[size_t(k)])
            parts.append(QStringLiteral("%1 %2")
                             .arg(failureKindName(FailureKind(k)))
                             .arg(e.failures[size_t(k)]));
    }
    return parts.join(QStringLiteral(", "));
}

// --- CSV ---

QString csvField(const QString &text)
{
    if (!text.contains(u',') && !text.contains(u'"') && !text.contains(u'\n') &&
        !text.contains(u'\r'))
        return text;
    QString quoted = text;
    quoted.replace(u'"', QStringLiteral("\"\""));
    return u'"' + quoted + u'"';
}

QString ms(double ns)
{
    return fixed(ns / 1e6, 3);
}

QByteArray csvLines(const QList<QStringList> &rows)
{
    QByteArray out;
    for (const QStringList &row : rows)
        out += row.join(u',').toUtf8() + "\r\n";
    return out;
}

QStringList csvEndpointRow(const QString &name, const EndpointStats &e)
{
    QStringList row{csvField(name), QString::number(e.requests), QString::number(e.succeeded()),
                    QString::number(e.failed())};
    for (quint64 f : e.failures)
        row.append(QString::number(f));
    row << fixed(e.errorRate(), 6) << QString::number(e.bytesReceived);
    const LatencyHistogram &h = e.latency;
    const bool any = h.count() > 0;
    row << (any ? ms(double(h.min())) : QString()) << (any ? ms(h.mean()) : QString());
    for (const Quantile &q : kQuantiles)
        row << (any ? ms(double(h.valueAtQuantile(q.q))) : QString());
    row << (any ? ms(double(h.max())) : QString());
    return row;
}

// --- HTML ---

// Escapes text for XHTML content and double-quoted attributes. Characters XML 1.0 does not
// allow (controls other than tab and line breaks, lone surrogates, U+FFFE/U+FFFF) become
// U+FFFD, so that any name in a report still gives a well-formed document.
QString esc(const QString &text)
{
    QString out;
    out.reserve(text.size() + text.size() / 8);
    for (qsizetype i = 0; i < text.size(); ++i) {
        const QChar c = text.at(i);
        const char16_t u = c.unicode();
        if (c.isHighSurrogate() && i + 1 < text.size() && text.at(i + 1).isLowSurrogate()) {
            out += c;
            out += text.at(++i);
            continue;
        }
        switch (u) {
        case u'<': out += QStringLiteral("&lt;"); continue;
        case u'>': out += QStringLiteral("&gt;"); continue;
        case u'&': out += QStringLiteral("&amp;"); continue;
        case u'"': out += QStringLiteral("&quot;"); continue;
        case u'\'': out += QStringLiteral("&#39;"); continue;
        default: break;
        }
        const bool invalid = (u < 0x20 && u != u'\t' && u != u'\n' && u != u'\r') ||
                             c.isSurrogate() || u == 0xFFFE || u == 0xFFFF;
        out += invalid ? QChar(QChar::ReplacementCharacter) : c;
    }
    return out;
}

QString num(double v)
{
    return QString::number(v, 'f', 1);
}

// 1, 2 or 5 times a power of ten, near `raw`.
double niceStep(double raw)
{
    if (!(raw > 0))
        return 1;
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    const double n = raw / magnitude;
    const double step = n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10;
    return step * magnitude;
}

QString tickLabel(double v, double step)
{
    const int decimals = step >= 1 ? 0 : int(std::ceil(-std::log10(step) - 1e-9));
    return QString::number(v, 'f', std::clamp(decimals, 0, 6));
}

struct ChartLine
{
    QString label;
    QString color;
    QList<std::optional<double>> values; // one per x; nothing leaves a gap
};

constexpr double kChartWidth = 880;
constexpr double kChartHeight = 280;
constexpr double kLeft = 64;
constexpr double kRight = 20;
constexpr double kTop = 40;
constexpr double kBottom = 46;

QString svgChart(const QString &title, const QString &yTitle, const QList<double> &xs,
                 const QList<ChartLine> &lines)
{
    double xMin = *std::min_element(xs.cbegin(), xs.cend());
    double xMax = *std::max_element(xs.cbegin(), xs.cend());
    if (xMax - xMin < 1) { // a single second: in the middle (no ticks below 0)
        xMin -= 1;
        xMax += 1;
    }
    double yMax = 0;
    for (const ChartLine &line : lines)
        for (const auto &v : line.values)
            if (v)
                yMax = std::max(yMax, *v);
    const double yStep = niceStep((yMax > 0 ? yMax : 1) / 5);
    yMax = std::max(yStep, std::ceil((yMax > 0 ? yMax : 1) / yStep - 1e-9) * yStep);
    const double xStep = std::max(1.0, niceStep((xMax - xMin) / 8));

    const double plotW = kChartWidth - kLeft - kRight;
    const double plotH = kChartHeight - kTop - kBottom;
    const auto px = [&](double x) { return kLeft + (x - xMin) / (xMax - xMin) * plotW; };
    const auto py = [&](double y) { return kTop + plotH - y / yMax * plotH; };

    QString svg;
    svg += QStringLiteral("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"%1\" "
                          "height=\"%2\" viewBox=\"0 0 %1 %2\" role=\"img\">\n")
               .arg(kChartWidth)
               .arg(kChartHeight);
    svg += QStringLiteral("<title>%1</title>\n").arg(esc(title));
    svg += QStringLiteral("<rect class=\"plot\" x=\"%1\" y=\"%2\" width=\"%3\" height=\"%4\"/>\n")
               .arg(num(kLeft), num(kTop), num(plotW), num(plotH));
    // Y ticks and grid.
    for (double y = 0; y <= yMax + yStep / 2; y += yStep) {
        svg +=
            QStringLiteral("<line class=\"grid\" x1=\"%1\" y1=\"%2\" x2=\"%3\" y2=\"%2\"/>"
                           "<text class=\"tick\" x=\"%4\" y=\"%5\" text-anchor=\"end\">%6</text>\n")
                .arg(num(kLeft), num(py(y)), num(kLeft + plotW), num(kLeft - 6), num(py(y) + 4),
                     esc(tickLabel(y, yStep)));
    }
    // X ticks.
    for (double x = std::max(0.0, std::ceil(xMin / xStep) * xStep); x <= xMax + 1e-9; x += xStep) {
        svg += QStringLiteral(
                   "<line class=\"axis\" x1=\"%1\" y1=\"%2\" x2=\"%1\" y2=\"%3\"/>"
                   "<text class=\"tick\" x=\"%1\" y=\"%4\" text-anchor=\"middle\">%5</text>\n")
                   .arg(num(px(x)), num(kTop + plotH), num(kTop + plotH + 5),
                        num(kTop + plotH + 18), esc(tickLabel(x, xStep)));
    }
    // Axes and their titles.
    svg += QStringLiteral("<line class=\"axis\" x1=\"%1\" y1=\"%2\" x2=\"%1\" y2=\"%3\"/>"
                          "<line class=\"axis\" x1=\"%1\" y1=\"%3\" x2=\"%4\" y2=\"%3\"/>\n")
               .arg(num(kLeft), num(kTop), num(kTop + plotH), num(kLeft + plotW));
    svg += QStringLiteral("<text class=\"axis-title\" x=\"%1\" y=\"%2\" "
                          "text-anchor=\"middle\">seconds since the start</text>\n")
               .arg(num(kLeft + plotW / 2), num(kChartHeight - 8));
    svg += QStringLiteral("<text class=\"axis-title\" x=\"14\" y=\"%1\" text-anchor=\"middle\" "
                          "transform=\"rotate(-90 14 %1)\">%2</text>\n")
               .arg(num(kTop + plotH / 2), esc(yTitle));
    // Lines: a path per line, broken where a value is missing; lone points as dots.
    for (const ChartLine &line : lines) {
        QString d;
        QString dots;
        for (qsizetype i = 0; i < line.values.size() && i < xs.size(); ++i) {
            if (!line.values.at(i))
                continue;
            const bool prev = i > 0 && line.values.at(i - 1).has_value();
            const bool next = i + 1 < line.values.size() && line.values.at(i + 1).has_value();
            const QString point = num(px(xs.at(i))) + u' ' + num(py(*line.values.at(i)));
            d += (prev ? QStringLiteral("L") : QStringLiteral("M")) + point + u' ';
            if (!prev && !next)
                dots += QStringLiteral("<circle cx=\"%1\" cy=\"%2\" r=\"3\" fill=\"%3\"/>")
                            .arg(num(px(xs.at(i))), num(py(*line.values.at(i))), line.color);
        }
        if (!d.isEmpty())
            svg += QStringLiteral("<path d=\"%1\" fill=\"none\" stroke=\"%2\" "
                                  "stroke-width=\"1.6\"/>\n")
                       .arg(d.trimmed(), line.color);
        if (!dots.isEmpty())
            svg += dots + u'\n';
    }
    // Legend, above the plot.
    double lx = kLeft;
    for (const ChartLine &line : lines) {
        svg += QStringLiteral("<rect x=\"%1\" y=\"14\" width=\"14\" height=\"4\" fill=\"%2\"/>"
                              "<text class=\"legend\" x=\"%3\" y=\"20\">%4</text>\n")
                   .arg(num(lx), line.color, num(lx + 20), esc(line.label));
        lx += 40 + 7.5 * double(line.label.size());
    }
    svg += QStringLiteral("</svg>\n");
    return svg;
}

QString htmlCell(const QString &text, bool number = true)
{
    return number ? QStringLiteral("<td class=\"n\">%1</td>").arg(esc(text))
                  : QStringLiteral("<td>%1</td>").arg(esc(text));
}

QString htmlEndpointRow(const EndpointStats &e, const QString &name, bool total)
{
    QString row = total ? QStringLiteral("<tr class=\"total\">") : QStringLiteral("<tr>");
    row += htmlCell(name, false) + htmlCell(QString::number(e.requests)) +
           htmlCell(QString::number(e.failed())) + htmlCell(percent(e.errorRate()));
    for (const QString &cell : latencyCells(e.latency))
        row += htmlCell(cell);
    row += htmlCell(failureBreakdown(e), false);
    return row + QStringLiteral("</tr>\n");
}

const char *const kCss = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 940px; color: #1f2328; background: #fff; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #d0d7de; padding-bottom: 0.2em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { padding: 0.25em 0.6em; border-bottom: 1px solid #eaeef2; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 600; border-top: 2px solid #d0d7de; }
table.kv th { font-weight: normal; color: #57606a; }
.pass { color: #1a7f37; font-weight: 600; }
.fail { color: #cf222e; font-weight: 600; }
.note { color: #57606a; font-style: italic; }
svg.chart { display: block; margin: 0.5em 0 1.5em 0; max-width: 100%; height: auto; }
svg .plot { fill: #fafbfc; stroke: none; }
svg .grid { stroke: #e5e8eb; stroke-width: 1; }
svg .axis { stroke: #57606a; stroke-width: 1; }
svg text { font-family: system-ui, sans-serif; font-size: 11px; fill: #57606a; }
svg .axis-title { font-size: 12px; fill: #1f2328; }
svg .legend { font-size: 12px; fill: #1f2328; }
pre { background: #f6f8fa; padding: 0.8em; overflow: auto; font-size: 0.85em; }
)";

// Change of b against a, as "+12.3 %" ("n/a" from 0, "+0.0 %" when both are 0).
QString change(double a, double b)
{
    if (a == 0)
        return b == 0 ? QStringLiteral("+0.0 %") : QStringLiteral("n/a");
    const double pct = (b - a) / a * 100.0;
    return (pct >= 0 ? QStringLiteral("+") : QString()) + fixed(pct, 1) + QStringLiteral(" %");
}

QString verdict(double a, double b, bool lowerIsBetter)
{
    if (a == b)
        return QStringLiteral("same");
    return (b < a) == lowerIsBetter ? QStringLiteral("better") : QStringLiteral("worse");
}

QString runLabel(const RunReport &r)
{
    QStringList parts{r.scenarioName.isEmpty() ? QStringLiteral("(unnamed)") : r.scenarioName};
    parts << formatTime(r.startedAt);
    if (!r.id.isEmpty())
        parts << QStringLiteral("id %1").arg(r.id.left(8));
    if (!r.target.isEmpty())
        parts << r.target;
    return cut(parts.join(QStringLiteral(", ")), kMaxWidth - 5);
}

} // namespace

QString formatLatency(double ns)
{
    if (!std::isfinite(ns) || ns < 0)
        return kNone;
    if (std::llround(ns) < 1000)
        return QStringLiteral("%1ns").arg(std::llround(ns));
    if (std::llround(ns / 1e3) < 1000)
        return QStringLiteral("%1us").arg(std::llround(ns / 1e3));
    if (std::round(ns / 1e5) < 10000) // below 999.95 ms
        return fixed(ns / 1e6, 1) + QStringLiteral("ms");
    return fixed(ns / 1e9, 2) + u's';
}

namespace {

// The failure messages of every endpoint, most frequent first (at most 20 lines).
struct ErrorLine
{
    quint64 count = 0;
    QString endpoint;
    QString message;
};

QList<ErrorLine> errorLines(const RunReport &r)
{
    QList<ErrorLine> lines;
    for (const EndpointStats &e : r.endpoints)
        for (auto it = e.errors.begin(); it != e.errors.end(); ++it)
            lines.append(ErrorLine{it.value(), e.name, it.key()});
    std::stable_sort(lines.begin(), lines.end(),
                     [](const ErrorLine &a, const ErrorLine &b) { return a.count > b.count; });
    if (lines.size() > 20)
        lines.resize(20);
    return lines;
}

} // namespace

QString summaryTable(const RunReport &r)
{
    const int valueWidth = kMaxWidth - 16;
    const auto line = [valueWidth](const QString &key, const QString &value) {
        return QStringLiteral("  %1%2\n").arg(key.leftJustified(14), cut(value, valueWidth));
    };
    QString out = QStringLiteral("Bulwark load test\n");
    out += line(QStringLiteral("scenario"), r.scenarioName.isEmpty() ? kNone : r.scenarioName);
    out += line(QStringLiteral("target"), r.target.isEmpty() ? kNone : r.target);
    out += line(QStringLiteral("model"), r.model.isEmpty() ? kNone : r.model);
    out += line(QStringLiteral("started"), formatTime(r.startedAt));
    out += line(QStringLiteral("duration"), fixed(r.durationSeconds, 1) + QStringLiteral(" s"));
    out += line(QStringLiteral("load"), QStringLiteral("%1 worker%2, %3 thread%4")
                                            .arg(r.workers)
                                            .arg(r.workers == 1 ? "" : "s")
                                            .arg(r.threads)
                                            .arg(r.threads == 1 ? "" : "s"));
    out += line(QStringLiteral("peak users"), QString::number(r.peakUsers));
    QString status = r.status.isEmpty() ? kNone : r.status.toUpper();
    if (!r.thresholds.isEmpty()) {
        const auto passed = std::count_if(r.thresholds.cbegin(), r.thresholds.cend(),
                                          [](const ThresholdResult &t) { return t.passed; });
        status +=
            QStringLiteral(" (%1 of %2 thresholds passed)").arg(passed).arg(r.thresholds.size());
    }
    out += line(QStringLiteral("status"), status);
    if (!r.error.isEmpty())
        out += line(QStringLiteral("error"), r.error);
    if (!r.id.isEmpty())
        out += line(QStringLiteral("id"), r.id);

    const EndpointStats &all = r.overall;
    out += QStringLiteral("\nTotals\n");
    out += line(QStringLiteral("requests"), QString::number(all.requests));
    out += line(QStringLiteral("succeeded"), QString::number(all.succeeded()));
    const QString breakdown = failureBreakdown(all);
    out += line(QStringLiteral("failed"),
                QString::number(all.failed()) +
                    (breakdown.isEmpty() ? QString() : QStringLiteral(" (%1)").arg(breakdown)));
    out += line(QStringLiteral("error rate"), percent(all.errorRate()));
    out += line(QStringLiteral("requests/s"), formatRate(r.requestsPerSecond()));
    out += line(
        QStringLiteral("received"),
        QStringLiteral("%1 (%2 bytes)").arg(formatBytes(all.bytesReceived)).arg(all.bytesReceived));
    if (r.dropped || r.model == QLatin1String("open"))
        out += line(QStringLiteral("dropped"),
                    QStringLiteral("%1 (arrivals never sent: the queue for a connection was full, or "
                                   "they still waited when the run ended)").arg(r.dropped));
    if (r.interrupted)
        out += line(QStringLiteral("interrupted"),
                    QStringLiteral("%1 (in flight at the stop, not counted)").arg(r.interrupted));

    QStringList header{QStringLiteral("Endpoint"), QStringLiteral("Requests"),
                       QStringLiteral("Failed"),   QStringLiteral("Error%"),
                       QStringLiteral("Min"),      QStringLiteral("Avg")};
    for (const Quantile &q : kQuantiles)
        header << QString::fromLatin1(q.label);
    header << QStringLiteral("Max");
    TextTable table(header);
    const auto row = [](const QString &name, const EndpointStats &e) {
        return QStringList{name, QString::number(e.requests), QString::number(e.failed()),
                           percent(e.errorRate())} +
               latencyCells(e.latency);
    };
    for (const EndpointStats &e : r.endpoints)
        table.addRow(row(e.name, e));
    if (!r.endpoints.isEmpty())
        table.addRule();
    table.addRow(row(QStringLiteral("all"), all));
    out += u'\n' + table.render();

    const QList<ErrorLine> errors = errorLines(r);
    if (!errors.isEmpty()) {
        out += QStringLiteral("\nErrors (most frequent first)\n");
        for (const ErrorLine &e : errors)
            out += QStringLiteral("  %1  %2: %3\n")
                       .arg(QString::number(e.count).rightJustified(10), cut(e.endpoint, 40),
                            cut(e.message, 60));
    }

    out += QStringLiteral("\nThresholds\n");
    if (r.thresholds.isEmpty()) {
        out += QStringLiteral("  none\n");
    } else {
        int textWidth = 0;
        for (const ThresholdResult &t : r.thresholds)
            textWidth = std::max(textWidth, int(t.text.size()));
        textWidth = std::min(textWidth, 60);
        for (const ThresholdResult &t : r.thresholds)
            out += QStringLiteral("  %1  %2  actual %3\n")
                       .arg(t.passed ? QStringLiteral("PASS") : QStringLiteral("FAIL"),
                            cut(t.text, textWidth).leftJustified(textWidth), formatActual(t, r));
    }
    return out;
}

QByteArray toJson(const RunReport &report)
{
    return QJsonDocument(report.toJson()).toJson(QJsonDocument::Indented);
}

QByteArray toCsv(const RunReport &r)
{
    QStringList header{QStringLiteral("endpoint"), QStringLiteral("requests"),
                       QStringLiteral("succeeded"), QStringLiteral("failed")};
    for (int k = 0; k < kFailureKinds; ++k)
        header << failureKindName(FailureKind(k));
    header << QStringLiteral("error_rate") << QStringLiteral("bytes_received")
           << QStringLiteral("min_ms") << QStringLiteral("avg_ms");
    for (const Quantile &q : kQuantiles)
        header << QString::fromLatin1(q.csv) + QStringLiteral("_ms");
    header << QStringLiteral("max_ms");
    QList<QStringList> rows{header};
    for (const EndpointStats &e : r.endpoints)
        rows.append(csvEndpointRow(e.name, e));
    rows.append(csvEndpointRow(QStringLiteral("all"), r.overall));
    return csvLines(rows);
}

QByteArray seriesCsv(const RunReport &r)
{
    QList<QStringList> rows{{QStringLiteral("second"), QStringLiteral("requests"),
                             QStringLiteral("failures"), QStringLiteral("active_users"),
                             QStringLiteral("target_rate"), QStringLiteral("p50_ms"),
                             QStringLiteral("p90_ms"), QStringLiteral("p95_ms"),
                             QStringLiteral("p99_ms"), QStringLiteral("max_ms")}};
    for (const SecondSample &s : r.series) {
        const bool any = s.max > 0; // a second without a response has no latency
        const auto lat = [any](quint64 ns) { return any ? ms(double(ns)) : QString(); };
        rows.append({QString::number(s.second), QString::number(s.requests),
                     QString::number(s.failures), QString::number(s.activeUsers),
                     fixed(s.targetRate, 3), lat(s.p50), lat(s.p90), lat(s.p95), lat(s.p99),
                     lat(s.max)});
    }
    return csvLines(rows);
}

QByteArray toHtml(const RunReport &r)
{
    const QString title =
        QStringLiteral("Load test: %1")
            .arg(r.scenarioName.isEmpty() ? QStringLiteral("(unnamed)") : r.scenarioName);
    QString h;
    h += QStringLiteral(
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" "
        "lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n");
    h += QStringLiteral("<title>%1</title>\n<style>%2</style>\n</head>\n<body>\n")
             .arg(esc(title), QString::fromLatin1(kCss));
    h += QStringLiteral("<h1>%1</h1>\n").arg(esc(title));

    // Summary.
    const bool good = r.status == QLatin1String("passed");
    const bool bad = r.status == QLatin1String("failed") || r.status == QLatin1String("error");
    const EndpointStats &all = r.overall;
    QList<std::pair<QString, QString>> facts{
        {QStringLiteral("Target"), r.target},
        {QStringLiteral("Model"), r.model},
        {QStringLiteral("Started"), formatTime(r.startedAt)},
        {QStringLiteral("Duration"), fixed(r.durationSeconds, 1) + QStringLiteral(" s")},
        {QStringLiteral("Workers"), QString::number(r.workers)},
        {QStringLiteral("Threads"), QString::number(r.threads)},
        {QStringLiteral("Peak users"), QString::number(r.peakUsers)},
    };
    h += QStringLiteral("<h2>Summary</h2>\n<table class=\"kv\">\n");
    h += QStringLiteral("<tr><th>Status</th><td class=\"%1\">%2</td></tr>\n")
             .arg(good  ? QStringLiteral("pass")
                  : bad ? QStringLiteral("fail")
                        : QString(),
                  esc(r.status.isEmpty() ? kNone : r.status));
    if (!r.error.isEmpty())
        facts.prepend({QStringLiteral("Error"), r.error});
    facts << std::pair{QStringLiteral("Requests"), QString::number(all.requests)}
          << std::pair{QStringLiteral("Succeeded"), QString::number(all.succeeded())}
          << std::pair{QStringLiteral("Failed"),
                       QString::number(all.failed()) +
                           (all.failed() ? QStringLiteral(" (%1)").arg(failureBreakdown(all))
                                         : QString())}
          << std::pair{QStringLiteral("Error rate"), percent(all.errorRate())}
          << std::pair{QStringLiteral("Requests/s"), formatRate(r.requestsPerSecond())}
          << std::pair{QStringLiteral("Received"), QStringLiteral("%1 (%2 bytes)")
                                                       .arg(formatBytes(all.bytesReceived))
                                                       .arg(all.bytesReceived)};
    if (r.dropped || r.model == QLatin1String("open"))
        facts << std::pair{QStringLiteral("Dropped"), QString::number(r.dropped)};
    if (r.interrupted)
        facts << std::pair{QStringLiteral("Interrupted"), QString::number(r.interrupted)};
    if (!r.id.isEmpty())
        facts << std::pair{QStringLiteral("Run id"), r.id};
    for (const auto &[key, value] : facts)
        h += QStringLiteral("<tr><th>%1</th><td>%2</td></tr>\n").arg(esc(key), esc(value));
    h += QStringLiteral("</table>\n");

    // Endpoints.
    h += QStringLiteral("<h2>Endpoints</h2>\n<table>\n<thead><tr><th>Endpoint</th>"
                        "<th class=\"n\">Requests</th><th class=\"n\">Failed</th>"
                        "<th class=\"n\">Error %</th><th class=\"n\">Min</th>"
                        "<th class=\"n\">Avg</th>");
    for (const Quantile &q : kQuantiles)
        h += QStringLiteral("<th class=\"n\">%1</th>").arg(QLatin1String(q.label));
    h += QStringLiteral("<th class=\"n\">Max</th><th>Failures</th></tr></thead>\n<tbody>\n");
    for (const EndpointStats &e : r.endpoints)
        h += htmlEndpointRow(e, e.name, false);
    h += htmlEndpointRow(all, QStringLiteral("all"), true);
    h += QStringLiteral("</tbody>\n</table>\n");

    // Why requests failed.
    const QList<ErrorLine> errors = errorLines(r);
    if (!errors.isEmpty()) {
        h += QStringLiteral("<h2>Errors</h2>\n<table>\n<thead><tr><th class=\"n\">Count</th>"
                            "<th>Endpoint</th><th>Error</th></tr></thead>\n<tbody>\n");
        for (const ErrorLine &e : errors)
            h += QStringLiteral("<tr><td class=\"n\">%1</td><td>%2</td><td>%3</td></tr>\n")
                     .arg(e.count)
                     .arg(esc(e.endpoint), esc(e.message));
        h += QStringLiteral("</tbody>\n</table>\n");
    }

    // Thresholds.
    h += QStringLiteral("<h2>Thresholds</h2>\n");
    if (r.thresholds.isEmpty()) {
        h += QStringLiteral("<p class=\"note\">No thresholds were set.</p>\n");
    } else {
        h += QStringLiteral("<table>\n<thead><tr><th>Result</th><th>Threshold</th>"
                            "<th class=\"n\">Actual</th></tr></thead>\n<tbody>\n");
        for (const ThresholdResult &t : r.thresholds)
            h += QStringLiteral("<tr><td class=\"%1\">%2</td><td>%3</td><td class=\"n\">%4</td>"
                                "</tr>\n")
                     .arg(t.passed ? QStringLiteral("pass") : QStringLiteral("fail"),
                          t.passed ? QStringLiteral("PASS") : QStringLiteral("FAIL"), esc(t.text),
                          esc(formatActual(t, r)));
        h += QStringLiteral("</tbody>\n</table>\n");
    }

    // Charts.
    h += QStringLiteral("<h2>Over time</h2>\n");
    if (r.series.isEmpty()) {
        h += QStringLiteral("<p class=\"note\">No per-second data was recorded for this run, "
                            "so there are no charts.</p>\n");
    } else {
        QList<double> xs;
        ChartLine requests{QStringLiteral("requests/s"), QStringLiteral("#0969da"), {}};
        ChartLine errors{QStringLiteral("errors/s"), QStringLiteral("#cf222e"), {}};
        ChartLine p50{QStringLiteral("p50"), QStringLiteral("#1a7f37"), {}};
        ChartLine p95{QStringLiteral("p95"), QStringLiteral("#bf8700"), {}};
        ChartLine p99{QStringLiteral("p99"), QStringLiteral("#cf222e"), {}};
        ChartLine users{r.model == QLatin1String("open") ? QStringLiteral("requests in flight")
                                                         : QStringLiteral("active users"),
                        QStringLiteral("#8250df"),
                        {}};
        ChartLine rate{QStringLiteral("target arrivals/s"), QStringLiteral("#0969da"), {}};
        for (const SecondSample &s : r.series) {
            xs.append(double(s.second));
            requests.values.append(double(s.requests));
            errors.values.append(double(s.failures));
            const bool any = s.max > 0;
            const auto latency = [any](quint64 ns) {
                return any ? std::optional<double>(double(ns) / 1e6) : std::nullopt;
            };
            p50.values.append(latency(s.p50));
            p95.values.append(latency(s.p95));
            p99.values.append(latency(s.p99));
            users.values.append(double(s.activeUsers));
            rate.values.append(s.targetRate);
        }
        h += QStringLiteral("<h3>Throughput</h3>\n");
        h += svgChart(QStringLiteral("Requests and errors per second"),
                      QStringLiteral("per second"), xs, {requests, errors});
        h += QStringLiteral("<h3>Latency</h3>\n");
        h += svgChart(QStringLiteral("Latency percentiles per second"), QStringLiteral("ms"), xs,
                      {p50, p95, p99});
        h += QStringLiteral("<h3>Load</h3>\n");
        QList<ChartLine> load{users};
        if (r.model == QLatin1String("open"))
            load.append(rate);
        h += svgChart(r.model == QLatin1String("open")
                          ? QStringLiteral("Requests in flight and target arrival rate")
                          : QStringLiteral("Active virtual users"),
                      r.model == QLatin1String("open") ? QStringLiteral("count, per second")
                                                       : QStringLiteral("users"),
                      xs, load);
    }

    if (!r.scenario.isEmpty()) {
        h += QStringLiteral("<h2>Scenario</h2>\n<pre>%1</pre>\n")
                 .arg(esc(
                     QString::fromUtf8(QJsonDocument(r.scenario).toJson(QJsonDocument::Indented))));
    }
    h += QStringLiteral("<p class=\"note\">Generated by Bulwark.</p>\n</body>\n</html>\n");
    return h.toUtf8();
}

QString compare(const RunReport &a, const RunReport &b)
{
    QString out = QStringLiteral("Comparing load-test runs (change: B against A)\n");
    out += QStringLiteral("  A  %1\n").arg(runLabel(a));
    out += QStringLiteral("  B  %1\n\n").arg(runLabel(b));

    TextTable table({QStringLiteral("Metric"), QStringLiteral("A"), QStringLiteral("B"),
                     QStringLiteral("Change"), QStringLiteral("")},
                    {4});
    const auto rateRow = [&table](const QString &name, double va, double vb) {
        table.addRow(
            {name, formatRate(va), formatRate(vb), change(va, vb), verdict(va, vb, false)});
    };
    const auto latencyRow = [&table](const QString &name, const LatencyHistogram &ha,
                                     const LatencyHistogram &hb, double q) {
        const auto at = [q](const LatencyHistogram &h) {
            return q >= 1 ? double(h.max()) : double(h.valueAtQuantile(q));
        };
        const double va = at(ha), vb = at(hb);
        table.addRow({name, ha.count() ? formatLatency(va) : kNone,
                      hb.count() ? formatLatency(vb) : kNone, change(va, vb),
                      verdict(va, vb, true)});
    };
    rateRow(QStringLiteral("requests/s"), a.requestsPerSecond(), b.requestsPerSecond());
    {
        const double ea = a.overall.errorRate(), eb = b.overall.errorRate();
        table.addRow({QStringLiteral("error rate"), percent(ea), percent(eb), change(ea, eb),
                      verdict(ea, eb, true)});
    }
    for (const Quantile &q : kQuantiles)
        latencyRow(QString::fromLatin1(q.label), a.overall.latency, b.overall.latency, q.q);
    latencyRow(QStringLiteral("max"), a.overall.latency, b.overall.latency, 1.0);

    QStringList onlyA;
    QStringList onlyB;
    bool anyCommon = false;
    for (const EndpointStats &ea : a.endpoints) {
        const auto eb = std::find_if(b.endpoints.cbegin(), b.endpoints.cend(),
                                     [&ea](const EndpointStats &e) { return e.name == ea.name; });
        if (eb == b.endpoints.cend()) {
            onlyA.append(ea.name);
            continue;
        }
        if (!anyCommon)
            table.addRule();
        anyCommon = true;
        const QString name = cut(ea.name, 40);
        latencyRow(name + QStringLiteral(": p95"), ea.latency, eb->latency, 0.95);
        const auto rps = [](const RunReport &r, const EndpointStats &e) {
            return r.durationSeconds > 0 ? double(e.requests) / r.durationSeconds : 0.0;
        };
        rateRow(name + QStringLiteral(": requests/s"), rps(a, ea), rps(b, *eb));
    }
    for (const EndpointStats &eb : b.endpoints) {
        if (std::none_of(a.endpoints.cbegin(), a.endpoints.cend(),
                         [&eb](const EndpointStats &e) { return e.name == eb.name; }))
            onlyB.append(eb.name);
    }
    out += table.render();

    const auto quoted = [](const QStringList &names) {
        QStringList q;
        for (const QString &n : names)
            q.append(u'"' + cut(n, 60) + u'"');
        return q.join(QStringLiteral(", "));
    };
    if (!onlyA.isEmpty() || !onlyB.isEmpty())
        out += u'\n';
    if (!onlyA.isEmpty())
        out += QStringLiteral("Only in A: %1\n").arg(quoted(onlyA));
    if (!onlyB.isEmpty())
        out += QStringLiteral("Only in B: %1\n").arg(quoted(onlyB));
    return out;
}

} // namespace bulwark::ReportWriter
