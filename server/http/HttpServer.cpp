// SPDX-License-Identifier: GPL-3.0-or-later
// See HttpServer.h.
#include "HttpServer.h"

#include "Acceptor.h"
#include "HttpWorker.h"
#include "ListenerShared.h"
#include "ThreadTaskQueue.h"

#include <QFile>
#include <QSslCertificate>
#include <QSslKey>
#include <QSslSocket>
#include <QThread>

namespace bulwark {

struct HttpServer::Private
{
    ListenerShared shared;
    QThread acceptorThread;
    Acceptor *acceptor = nullptr;
    std::vector<std::unique_ptr<QThread>> workerThreads;
    std::vector<HttpWorker *> workers;
    quint16 port = 0;
    std::atomic<bool> accepting{false}; // read by health checks on worker threads
    bool started = false;
};

HttpServer::HttpServer(const ServerConfig &config, bool securityHeaders, const Pipeline &pipeline,
                       HttpMetrics &metrics, QObject *parent)
    : QObject(parent), d(std::make_unique<Private>())
{
    d->shared.config = config;
    d->shared.limits = FramingLimits{config.maxRequestLine, config.maxHeaderField,
                                     config.maxHeaderTotal, config.maxHeaderCount, config.maxBody};
    d->shared.pipeline = &pipeline;
    d->shared.metrics = &metrics;
    d->shared.securityHeaders = securityHeaders;
}

HttpServer::~HttpServer()
{
    stop();
}

namespace {
bool loadTls(const TlsConfig &tls, QSslConfiguration *out, QString *error)
{
    if (!QSslSocket::supportsSsl()) {
        *error = QStringLiteral("server.tls: this Qt build has no TLS backend available");
        return false;
    }
    const QList<QSslCertificate> chain = QSslCertificate::fromPath(tls.certFile, QSsl::Pem);
    if (chain.isEmpty()) {
        *error = QStringLiteral("server.tls.cert: no PEM certificate could be read from %1")
                     .arg(tls.certFile);
        return false;
    }
    QFile keyFile(tls.keyFile);
    if (!keyFile.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("server.tls.key: cannot read %1: %2")
                     .arg(tls.keyFile, keyFile.errorString());
        return false;
    }
    const QByteArray pem = keyFile.readAll();
    QSslKey key(pem, QSsl::Rsa, QSsl::Pem);
    if (key.isNull())
        key = QSslKey(pem, QSsl::Ec, QSsl::Pem);
    if (key.isNull()) {
        *error =
            QStringLiteral("server.tls.key: %1 is not an unencrypted PEM RSA or EC private key")
                .arg(tls.keyFile);
        return false;
    }
    QSslConfiguration conf = QSslConfiguration::defaultConfiguration();
    conf.setLocalCertificateChain(chain);
    conf.setPrivateKey(key);
    conf.setPeerVerifyMode(QSslSocket::VerifyNone);
    conf.setProtocol(QSsl::TlsV1_2OrLater);
    *out = conf;
    return true;
}
} // namespace

bool HttpServer::start(QString *error)
{
    if (d->started)
        return true;
    const ServerConfig &config = d->shared.config;
    if (config.tls.enabled()) {
        if (!loadTls(config.tls, &d->shared.ssl, error))
            return false;
        d->shared.tls = true;
    }

    const int threads = config.threads > 0 ? config.threads : qMax(1, QThread::idealThreadCount());
    for (int i = 0; i < threads; ++i) {
        auto thread = std::make_unique<QThread>();
        thread->setObjectName(QStringLiteral("http-worker-%1").arg(i));
        auto *worker = new HttpWorker(d->shared);
        worker->moveToThread(thread.get());
        connect(thread.get(), &QThread::finished, worker, &QObject::deleteLater);
        thread->start();
        worker->tasks().runBlocking([worker] { worker->init(); });
        d->workers.push_back(worker);
        d->workerThreads.push_back(std::move(thread));
    }

    d->acceptor = new Acceptor(d->shared, d->workers);
    d->acceptor->moveToThread(&d->acceptorThread);
    d->acceptorThread.setObjectName(QStringLiteral("http-acceptor"));
    d->acceptorThread.start();
    bool listening = false;
    QString listenError;
    Acceptor *acceptor = d->acceptor;
    acceptor->tasks().runBlocking([&] {
        acceptor->setListenBacklogSize(1024);
        listening = acceptor->listen(config.address, config.port);
        if (!listening)
            listenError = acceptor->errorString();
        else
            d->port = acceptor->serverPort();
    });
    d->started = true;
    if (!listening) {
        *error = QStringLiteral("server.listen: cannot listen on %1:%2: %3")
                     .arg(config.address.toString())
                     .arg(config.port)
                     .arg(listenError);
        stop();
        return false;
    }
    d->accepting = true;
    return true;
}

void HttpServer::setRejectionLog(std::function<void(const AccessRecord &)> log)
{
    Q_ASSERT(!d->started);
    d->shared.onRejected = std::move(log);
}

void HttpServer::setThreadFinalizer(std::function<void()> finalizer)
{
    Q_ASSERT(!d->started);
    d->shared.threadFinalizer = std::move(finalizer);
}

quint16 HttpServer::port() const
{
    return d->port;
}
QHostAddress HttpServer::address() const
{
    return d->shared.config.address;
}
bool HttpServer::isTls() const
{
    return d->shared.tls;
}
int HttpServer::threadCount() const
{
    return int(d->workers.size());
}
bool HttpServer::isAccepting() const
{
    return d->accepting;
}
int HttpServer::openConnections() const
{
    return d->shared.openConnections.load();
}

void HttpServer::beginDrain()
{
    if (!d->started)
        return;
    d->shared.draining.store(true);
    if (d->accepting) {
        Acceptor *acceptor = d->acceptor;
        acceptor->tasks().runBlocking([acceptor] { acceptor->close(); });
        d->accepting = false;
    }
    for (HttpWorker *worker : d->workers)
        worker->tasks().post([worker] { worker->drain(); });
}

void HttpServer::stop()
{
    if (!d->started)
        return;
    d->started = false;
    d->accepting = false;
    if (d->acceptor) {
        Acceptor *acceptor = d->acceptor;
        acceptor->tasks().runBlocking([acceptor] { acceptor->close(); });
    }
    d->acceptorThread.quit();
    d->acceptorThread.wait();
    // Its thread has finished, so the acceptor (and the 503 sockets it still owns) can be
    // deleted from here.
    delete d->acceptor;
    d->acceptor = nullptr;
    for (size_t i = 0; i < d->workers.size(); ++i) {
        HttpWorker *worker = d->workers[i];
        worker->tasks().runBlocking([worker] { worker->shutdown(); });
        d->workerThreads[i]->quit();
        d->workerThreads[i]->wait();
    }
    d->workers.clear();
    d->workerThreads.clear();
}

} // namespace bulwark
