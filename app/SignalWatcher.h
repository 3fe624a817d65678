// SPDX-License-Identifier: GPL-3.0-or-later
// Turns SIGTERM, SIGINT and SIGHUP into a Qt signal on the main thread (self-pipe: the
// async-signal handler only writes one byte). A second SIGTERM/SIGINT while the first is
// being handled ends the process at once with 128 + signal number, as operators expect
// from pressing Ctrl+C twice.
#pragma once

#include <QObject>

class QSocketNotifier;

namespace bulwark {

class SignalWatcher final : public QObject
{
    Q_OBJECT

public:
    explicit SignalWatcher(QObject *parent = nullptr);
    ~SignalWatcher() override;
    bool install(QString *error);

Q_SIGNALS:
    void terminateRequested(int signalNumber);
    void reloadRequested();

private:
    void onReadable();
    QSocketNotifier *m_notifier = nullptr;
};

} // namespace bulwark
