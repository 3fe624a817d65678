// SPDX-License-Identifier: GPL-3.0-or-later
// The forms a load-test run is shown in, all computed from a RunReport alone (a finished
// run, a live one, or one read back from the database) so that a stored run re-renders
// exactly as it was printed:
//   summaryTable  the terminal summary at the end of `bulwark loadtest`: plain ASCII,
//                 aligned columns, within 120 columns for endpoint names of normal length
//                 (longer ones are cut with "...");
//   toJson        RunReport::toJson, indented;
//   toCsv         the per-endpoint table (one row per endpoint and an "all" row, latencies
//                 in milliseconds with 3 decimals), RFC 4180 (CRLF, quoted when needed);
//   seriesCsv     the per-second series, same conventions;
//   toHtml        one self-contained XHTML file: inline CSS and inline SVG charts, no
//                 script and no external reference, every string from the report escaped.
//                 It parses as XML (the tests check it with QXmlStreamReader);
//   compare       `bulwark loadtest compare A B`: B against A, metric by metric.
//
// Latencies read as people say them: "850ns", "850us", "12.3ms", "1.20s" (formatLatency).
// An endpoint without a latency sample shows "-" (text) or an empty cell (CSV).
#pragma once

#include "RunReport.h"

#include <QByteArray>
#include <QString>

namespace bulwark {

namespace ReportWriter {

// ns as "999ns", "850us", "12.3ms", "1.20s" (rounded; a value that rounds up to the next
// unit is shown in it: 999.96 ms is "1.00s").
QString formatLatency(double ns);

QString summaryTable(const RunReport &report);
QByteArray toJson(const RunReport &report);
QByteArray toCsv(const RunReport &report);
QByteArray seriesCsv(const RunReport &report);
QByteArray toHtml(const RunReport &report);

// A table of requests/s, error rate, p50, p90, p95, p99, p99.9 and max, then p95 and
// requests/s of each endpoint present in both runs, with A, B and the change of B against
// A ("+12.3 %"), judged "better", "worse" or "same" (lower is better for latencies and the
// error rate, higher for requests/s; a change from 0 is "n/a" but still judged). Endpoints
// found in only one run are listed after the table.
QString compare(const RunReport &a, const RunReport &b);

} // namespace ReportWriter

} // namespace bulwark
