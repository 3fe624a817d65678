// SPDX-License-Identifier: GPL-3.0-or-later
// See Logger.h.
#include "Logger.h"

#include <QDateTime>
#include <QJsonDocument>
#include <atomic>
#include <cstdio>

namespace bulwark {

bool LineSink::open(const QString &path, QString *error)
{
    std::lock_guard lock(m_mutex);
    if (m_file.isOpen())
        m_file.close();
    bool ok = false;
    if (path.isEmpty()) {
        ok = m_file.open(stdout, QIODevice::WriteOnly);
    } else {
        m_file.setFileName(path);
        ok = m_file.open(QIODevice::WriteOnly | QIODevice::Append);
    }
    if (!ok && error)
        *error = m_file.errorString();
    return ok;
}

void LineSink::write(const QByteArray &line)
{
    std::lock_guard lock(m_mutex);
    if (!m_file.isOpen())
        return;
    QByteArray buf;
    buf.reserve(line.size() + 1);
    buf.append(line).append('\n');
    m_file.write(buf);
    m_file.flush();
}

void LineSink::flush()
{
    std::lock_guard lock(m_mutex);
    if (m_file.isOpen())
        m_file.flush();
}

namespace {

std::atomic<int> g_minLevel{1}; // 0 debug, 1 info, 2 warning, 3 error

int severity(QtMsgType type)
{
    switch (type) {
    case QtDebugMsg: return 0;
    case QtInfoMsg: return 1;
    case QtWarningMsg: return 2;
    case QtCriticalMsg:
    case QtFatalMsg: return 3;
    }
    return 1;
}

const char *levelName(QtMsgType type)
{
    switch (type) {
    case QtDebugMsg: return "debug";
    case QtInfoMsg: return "info";
    case QtWarningMsg: return "warning";
    case QtCriticalMsg: return "error";
    case QtFatalMsg: return "fatal";
    }
    return "info";
}

void handler(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    if (severity(type) < g_minLevel.load(std::memory_order_relaxed))
        return;
    // Each worker's QAbstractHttpServer is bound to a QTcpServer that never listens itself
    // (the acceptor thread owns the listening socket and hands connections over); Qt 6.4
    // warns about that once per worker. It is expected, so it is not logged.
    if (context.category && qstrcmp(context.category, "qt.httpserver") == 0 &&
        message.contains(QLatin1String("is not listening")))
        return;
    QJsonObject fields;
    if (context.category && qstrcmp(context.category, "default") != 0)
        fields.insert(QStringLiteral("category"), QString::fromLatin1(context.category));
    const QByteArray line = Logger::format(type, message, fields) + '\n';
    std::fwrite(line.constData(), 1, size_t(line.size()), stderr);
    std::fflush(stderr);
    if (type == QtFatalMsg)
        std::abort();
}

} // namespace

namespace Logger {

void install(const QString &level)
{
    int min = 1;
    if (level == QLatin1String("debug"))
        min = 0;
    else if (level == QLatin1String("warning"))
        min = 2;
    else if (level == QLatin1String("error"))
        min = 3;
    g_minLevel.store(min);
    qInstallMessageHandler(handler);
}

QByteArray format(QtMsgType type, const QString &message, const QJsonObject &fields)
{
    QJsonObject obj;
    obj.insert(QStringLiteral("ts"), QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs));
    obj.insert(QStringLiteral("level"), QLatin1String(levelName(type)));
    obj.insert(QStringLiteral("msg"), message);
    for (auto it = fields.begin(); it != fields.end(); ++it)
        obj.insert(it.key(), it.value());
    return QJsonDocument(obj).toJson(QJsonDocument::Compact);
}

} // namespace Logger
} // namespace bulwark
