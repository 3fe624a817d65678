// SPDX-License-Identifier: GPL-3.0-or-later
// Structured logging. Application messages (qDebug/qInfo/qWarning/qCritical from our code
// and from Qt) become one JSON object per line on standard error, so journald, Loki or jq
// read them without a custom parser. LineSink is the thread-safe writer the access log
// also uses: one mutex-guarded write per line, which keeps lines whole when several worker
// threads log at once.
#pragma once

#include <QFile>
#include <QJsonObject>
#include <QString>
#include <QtGlobal>
#include <mutex>

namespace bulwark {

class LineSink
{
public:
    // Empty path: standard output. Returns false with *error set if the file cannot be opened.
    bool open(const QString &path, QString *error);
    void write(const QByteArray &line); // line without the trailing newline
    void flush();

private:
    std::mutex m_mutex;
    QFile m_file;
};

namespace Logger {
// Installs the message handler. level: "debug", "info", "warning" or "error".
void install(const QString &level);
// Formats one log line; fields are merged into the object after ts/level/msg.
QByteArray format(QtMsgType type, const QString &message, const QJsonObject &fields = {});
} // namespace Logger

} // namespace bulwark
