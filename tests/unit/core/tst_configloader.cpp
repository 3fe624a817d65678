// SPDX-License-Identifier: GPL-3.0-or-later
// ConfigLoader: JSON files with comments (syntax errors as file:line:column), unknown keys,
// types, bounds, enums, the defaults < file < environment < flags layering, cross-key rules,
// the list keys checked item by item (cache, jobs, webhooks), and the value grammar
// (parseSize, parseDurationMs, parseListen, blankComments).

#include "ConfigLoader.h"
#include "EventNames.h"

#include <QProcessEnvironment>
#include <QTemporaryDir>
#include <QTest>

using namespace bulwark;

Q_DECLARE_METATYPE(std::optional<qint64>)

namespace {
const QString kToken32 = QStringLiteral("0123456789abcdef0123456789abcdef");
}

class TestConfigLoader : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    int m_fileNo = 0;

    QString writeFile(const QByteArray &content)
    {
        const QString path = m_dir.filePath(QStringLiteral("config-%1.json").arg(++m_fileNo));
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
            qFatal("cannot write %s", qPrintable(path));
        f.write(content);
        return path;
    }

    static ConfigLoader::Sources sources(const QString &file = {},
                                         const QProcessEnvironment &env = QProcessEnvironment(),
                                         const QHash<QString, QString> &flags = {})
    {
        ConfigLoader::Sources s;
        s.file = file;
        s.environment = env;
        s.flags = flags;
        return s;
    }

private Q_SLOTS:
    void structDefaultsMatchTheKeyTable();
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void defaults()
    {
        const auto result = ConfigLoader::load(sources());
        QVERIFY2(result.ok(), qPrintable(result.ok() ? QString() : result.error().join('\n')));
        const Config &c = result.value();
        QCOMPARE(c.server.address, QHostAddress(QHostAddress::LocalHost));
        QCOMPARE(c.server.port, quint16(8080));
        QCOMPARE(c.server.threads, 0);
        QCOMPARE(c.server.dataDir, QString());
        QCOMPARE(c.server.maxBody, qint64(10 * 1024 * 1024));
        QCOMPARE(c.server.maxRequestLine, 8 * 1024);
        QCOMPARE(c.server.maxHeaderField, 8 * 1024);
        QCOMPARE(c.server.maxHeaderTotal, 64 * 1024);
        QCOMPARE(c.server.maxHeaderCount, 100);
        QCOMPARE(c.server.headerTimeout.count(), 10'000);
        QCOMPARE(c.server.bodyTimeout.count(), 30'000);
        QCOMPARE(c.server.idleTimeout.count(), 15'000);
        QCOMPARE(c.server.shutdownGrace.count(), 30'000);
        QCOMPARE(c.server.maxConnections, 10'000);
        QVERIFY(!c.server.tls.enabled());
        QCOMPARE(c.server.debugEndpoints, false);
        QCOMPARE(c.http.requestId, true);
        QCOMPARE(c.http.securityHeaders, true);
        QCOMPARE(c.http.metrics, true);
        QCOMPARE(c.http.compression, true);
        QCOMPARE(c.http.compressionMinSize, 1024);
        QCOMPARE(c.http.compressionLevel, 6);
        QCOMPARE(c.log.level, QStringLiteral("info"));
        QCOMPARE(c.log.access, AccessLogMode::On);
        QCOMPARE(c.log.accessSampleRate, 0.01);
        QCOMPARE(c.log.accessFile, QString());
        QCOMPARE(c.admin.token, QString());
        QCOMPARE(c.sourceFile, QString());
    }

    void goodFile()
    {
        const QByteArray json =
            "{\n"
            "  // a line comment with \"quotes\" and /* a fake block start\n"
            "  \"server\": {\n"
            "    \"listen\": \"[::1]:9090\",\n"
            "    \"threads\": 4,\n"
            "    \"data_dir\": \"/var/lib/bulwark//data /* not a comment */\",\n"
            "    \"max_body\": \"1MiB\",\n"
            "    \"max_request_line\": 4096,\n"
            "    \"header_timeout\": \"250ms\",\n"
            "    \"idle_timeout\": 2,            /* bare numbers are seconds */\n"
            "    \"shutdown_grace\": 0.5,\n"
            "    \"max_connections\": 50,\n"
            "    \"tls\": { \"cert\": \"/etc/bulwark/cert.pem\", \"key\": \"/etc/bulwark/key.pem\" "
            "},\n"
            "    \"debug_endpoints\": true\n"
            "  },\n"
            "  /* block\n"
            "     comment */\n"
            "  \"http\": { \"compression\": false, \"compression_level\": 9, "
            "\"compression_min_size\": \"2KiB\" },\n"
            "  \"log\": { \"level\": \"debug\", \"access\": \"sampled\", \"access_sample_rate\": "
            "0.5 },\n"
            "  \"admin\": { \"token\": \"0123456789abcdef0123456789abcdef\" }\n"
            "}\n";
        const QString path = writeFile(json);
        const auto result = ConfigLoader::load(sources(path));
        QVERIFY2(result.ok(), qPrintable(result.ok() ? QString() : result.error().join('\n')));
        const Config &c = result.value();
        QCOMPARE(c.sourceFile, path);
        QCOMPARE(c.server.address, QHostAddress(QStringLiteral("::1")));
        QCOMPARE(c.server.port, quint16(9090));
        QCOMPARE(c.server.threads, 4);
        QCOMPARE(c.server.dataDir, QStringLiteral("/var/lib/bulwark//data /* not a comment */"));
        QCOMPARE(c.server.maxBody, qint64(1024 * 1024));
        QCOMPARE(c.server.maxRequestLine, 4096);
        QCOMPARE(c.server.headerTimeout.count(), 250);
        QCOMPARE(c.server.idleTimeout.count(), 2000);
        QCOMPARE(c.server.shutdownGrace.count(), 500);
        QCOMPARE(c.server.maxConnections, 50);
        QCOMPARE(c.server.tls.certFile, QStringLiteral("/etc/bulwark/cert.pem"));
        QCOMPARE(c.server.tls.keyFile, QStringLiteral("/etc/bulwark/key.pem"));
        QVERIFY(c.server.tls.enabled());
        QCOMPARE(c.server.debugEndpoints, true);
        QCOMPARE(c.http.compression, false);
        QCOMPARE(c.http.compressionLevel, 9);
        QCOMPARE(c.http.compressionMinSize, 2048);
        QCOMPARE(c.log.level, QStringLiteral("debug"));
        QCOMPARE(c.log.access, AccessLogMode::Sampled);
        QCOMPARE(c.log.accessSampleRate, 0.5);
        QCOMPARE(c.admin.token, kToken32);
        // Keys not in the file keep their defaults.
        QCOMPARE(c.server.maxHeaderCount, 100);
        QCOMPARE(c.server.bodyTimeout.count(), 30'000);
    }

    // Qt's parser reports some errors at the offending character and some just past the
    // token it read last; the loader must turn that offset into the right line and column
    // of the raw file, comments included.
    void syntaxErrors_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("where"); // "line:column: message"

        QTest::newRow("missing colon")
            << QByteArray("{\n  \"server\": {\n    \"threads\" 4\n  }\n}\n")
            << "3:16: missing name separator";
        QTest::newRow("trailing comma")
            << QByteArray("{\n  \"server\": {\n    \"threads\": 4,\n  }\n}\n")
            << "4:4: object is missing after a comma";
        QTest::newRow("unterminated object")
            << QByteArray("{\n  \"server\": {\n    \"threads\": 4\n  }\n")
            << "5:1: unterminated object";
        QTest::newRow("bare word")
            << QByteArray("{\n  \"server\": {\n    \"debug_endpoints\": yes\n  }\n}\n")
            << "3:24: illegal number";
        QTest::newRow("one line") << QByteArray(R"({"server": {"threads": @}})")
                                  << "1:24: illegal number";
        QTest::newRow("after line and block comments")
            << QByteArray("// Bulwark configuration\n"
                          "/* a block comment\n"
                          "   over two lines */ {\n"
                          "  \"server\": { // inline \"quoted\"\n"
                          "    /* before */ \"debug_endpoints\": yes\n"
                          "  }\n"
                          "}\n")
            << "5:37: illegal number";
        QTest::newRow("block comment ends on the error line")
            << QByteArray("{\n"
                          "  /* one\n"
                          "     two */ \"server\": {\"threads\" 4}\n"
                          "}\n")
            << "3:35: missing name separator";
        QTest::newRow("comment markers inside a string before the error")
            << QByteArray("{\n"
                          "  \"server\": {\n"
                          "    \"data_dir\": \"/x//y/*z*/\\\"//\", // real comment\n"
                          "    \"debug_endpoints\": yes\n"
                          "  }\n"
                          "}\n")
            << "4:24: illegal number";
    }
    void syntaxErrors()
    {
        QFETCH(QByteArray, json);
        QFETCH(QString, where);
        const QString path = writeFile(json);
        const auto result = ConfigLoader::load(sources(path));
        QVERIFY(!result.ok());
        QCOMPARE(result.error(), QStringList{path + ':' + where});
    }

    void notAnObject()
    {
        const QString path = writeFile("[1, 2]\n");
        const auto result = ConfigLoader::load(sources(path));
        QVERIFY(!result.ok());
        QCOMPARE(result.error(),
                 QStringList{path + QStringLiteral(":1:1: the top level must be a JSON object")});
    }

    void unreadableFile()
    {
        const QString path = m_dir.filePath(QStringLiteral("does-not-exist.json"));
        const auto result = ConfigLoader::load(sources(path));
        QVERIFY(!result.ok());
        QCOMPARE(result.error().size(), 1);
        QVERIFY2(result.error().first().startsWith(path + QStringLiteral(": cannot read: ")),
                 qPrintable(result.error().first()));
    }

    // Errors about one key: "<origin>: <key path>: <message>".
    void keyErrors_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("error"); // after "<file>: "

        // unknown keys and misplaced objects
        QTest::newRow("typo") << QByteArray(R"({"server": {"listne": "127.0.0.1:80"}})")
                              << "server.listne: unknown key";
        QTest::newRow("unknown section")
            << QByteArray(R"({"sever": {"threads": 2}})") << "sever: unknown key";
        QTest::newRow("unknown nested")
            << QByteArray(R"({"server": {"tls": {"crt": "a"}}})") << "server.tls.crt: unknown key";
        QTest::newRow("section not an object")
            << QByteArray(R"({"server": 5})") << "server: must be an object";
        // wrong types
        QTest::newRow("integer as string") << QByteArray(R"({"server": {"threads": "four"}})")
                                           << "server.threads: must be an integer";
        QTest::newRow("integer with fraction") << QByteArray(R"({"server": {"threads": 1.5}})")
                                               << "server.threads: must be an integer";
        QTest::newRow("bool as string") << QByteArray(R"({"http": {"compression": "yes"}})")
                                        << "http.compression: must be true or false";
        QTest::newRow("string as number")
            << QByteArray(R"({"server": {"data_dir": 5}})") << "server.data_dir: must be a string";
        QTest::newRow("listen as number") << QByteArray(R"({"server": {"listen": 8080}})")
                                          << "server.listen: must be an ADDRESS:PORT string";
        QTest::newRow("size with unknown unit")
            << QByteArray(R"({"server": {"max_body": "10 parsecs"}})")
            << R"(server.max_body: must be a size (bytes, or a string like "10MiB"))";
        QTest::newRow("negative size")
            << QByteArray(R"({"server": {"max_body": -1}})")
            << R"(server.max_body: must be a size (bytes, or a string like "10MiB"))";
        QTest::newRow("duration word")
            << QByteArray(R"({"server": {"idle_timeout": "soon"}})")
            << R"(server.idle_timeout: must be a duration (seconds, or a string like "10s" or "250ms"))";
        QTest::newRow("real as string") << QByteArray(R"({"log": {"access_sample_rate": "half"}})")
                                        << "log.access_sample_rate: must be a number";
        QTest::newRow("enum as number") << QByteArray(R"({"log": {"level": 3}})")
                                        << "log.level: must be one of the listed values";
        // out of range, with the key path and the bounds in the key's unit
        QTest::newRow("threads too many") << QByteArray(R"({"server": {"threads": 300}})")
                                          << "server.threads: must be between 0 and 256";
        QTest::newRow("threads negative") << QByteArray(R"({"server": {"threads": -1}})")
                                          << "server.threads: must be between 0 and 256";
        QTest::newRow("level 0") << QByteArray(R"({"http": {"compression_level": 0}})")
                                 << "http.compression_level: must be between 1 and 9";
        QTest::newRow("body over 4GiB")
            << QByteArray(R"({"server": {"max_body": "5GiB"}})")
            << "server.max_body: must be between 0 bytes and 4294967296 bytes";
        QTest::newRow("size beyond 64 bits")
            << QByteArray(R"({"server": {"max_body": 1e30}})")
            << "server.max_body: must be between 0 bytes and 4294967296 bytes";
        QTest::newRow("request line under 64")
            << QByteArray(R"({"server": {"max_request_line": 10}})")
            << "server.max_request_line: must be between 64 bytes and 1048576 bytes";
        QTest::newRow("timeout 5ms") << QByteArray(R"({"server": {"header_timeout": "5ms"}})")
                                     << "server.header_timeout: must be between 10ms and 3600000ms";
        QTest::newRow("timeout 2h") << QByteArray(R"({"server": {"body_timeout": "2h"}})")
                                    << "server.body_timeout: must be between 10ms and 3600000ms";
        QTest::newRow("sample rate 1.5") << QByteArray(R"({"log": {"access_sample_rate": 1.5}})")
                                         << "log.access_sample_rate: must be between 0 and 1";
        QTest::newRow("connections 0") << QByteArray(R"({"server": {"max_connections": 0}})")
                                       << "server.max_connections: must be between 1 and 1000000";
        // enums and listen values
        QTest::newRow("level verbose")
            << QByteArray(R"({"log": {"level": "verbose"}})")
            << R"(log.level: must be one of debug, info, warning, error, not "verbose")";
        QTest::newRow("access always")
            << QByteArray(R"({"log": {"access": "always"}})")
            << R"(log.access: must be one of on, off, sampled, not "always")";
        QTest::newRow("enum is case-sensitive")
            << QByteArray(R"({"log": {"level": "DEBUG"}})")
            << R"(log.level: must be one of debug, info, warning, error, not "DEBUG")";
        QTest::newRow("listen without port")
            << QByteArray(R"({"server": {"listen": "127.0.0.1"}})")
            << R"(server.listen: "127.0.0.1" is not ADDRESS:PORT (for example 127.0.0.1:8080 or [::1]:8080))";
        // jobs.* and webhooks.* (their lists are in jobsLists)
        QTest::newRow("jobs enabled as string") << QByteArray(R"({"jobs": {"enabled": "yes"}})")
                                                << "jobs.enabled: must be true or false";
        QTest::newRow("jobs workers 0") << QByteArray(R"({"jobs": {"workers": 0}})")
                                        << "jobs.workers: must be between 1 and 256";
        QTest::newRow("jobs workers 257") << QByteArray(R"({"jobs": {"workers": 257}})")
                                          << "jobs.workers: must be between 1 and 256";
        QTest::newRow("jobs claim_batch 1001") << QByteArray(R"({"jobs": {"claim_batch": 1001}})")
                                               << "jobs.claim_batch: must be between 1 and 1000";
        QTest::newRow("jobs poll_interval 5ms")
            << QByteArray(R"({"jobs": {"poll_interval": "5ms"}})")
            << "jobs.poll_interval: must be between 10ms and 60000ms";
        QTest::newRow("jobs poll_interval 2m")
            << QByteArray(R"({"jobs": {"poll_interval": "2m"}})")
            << "jobs.poll_interval: must be between 10ms and 60000ms";
        QTest::newRow("jobs lease 999ms") << QByteArray(R"({"jobs": {"lease": "999ms"}})")
                                          << "jobs.lease: must be between 1000ms and 3600000ms";
        QTest::newRow("jobs lease 2h") << QByteArray(R"({"jobs": {"lease": "2h"}})")
                                       << "jobs.lease: must be between 1000ms and 3600000ms";
        QTest::newRow("jobs retention 30s")
            << QByteArray(R"({"jobs": {"retention": "30s"}})")
            << "jobs.retention: must be between 60000ms and 315360000000ms";
        QTest::newRow("jobs retention 3651 days")
            << QByteArray(R"({"jobs": {"retention": "87624h"}})")
            << "jobs.retention: must be between 60000ms and 315360000000ms";
        QTest::newRow("jobs retention word")
            << QByteArray(R"({"jobs": {"retention": "a week"}})")
            << R"(jobs.retention: must be a duration (seconds, or a string like "10s" or "250ms"))";
        QTest::newRow("jobs dead_retention 59s")
            << QByteArray(R"({"jobs": {"dead_retention": 59}})")
            << "jobs.dead_retention: must be between 60000ms and 315360000000ms";
        QTest::newRow("jobs dead_max negative")
            << QByteArray(R"({"jobs": {"dead_max": -1}})")
            << "jobs.dead_max: must be between 0 and 1000000000";
        QTest::newRow("jobs dead_max 2e9") << QByteArray(R"({"jobs": {"dead_max": 2e9}})")
                                           << "jobs.dead_max: must be between 0 and 1000000000";
        QTest::newRow("jobs dead_max fraction")
            << QByteArray(R"({"jobs": {"dead_max": 0.5}})") << "jobs.dead_max: must be an integer";
        QTest::newRow("jobs default_timeout 0.5s")
            << QByteArray(R"({"jobs": {"default_timeout": 0.5}})")
            << "jobs.default_timeout: must be between 1000ms and 604800000ms";
        QTest::newRow("jobs default_timeout 8 days")
            << QByteArray(R"({"jobs": {"default_timeout": "192h"}})")
            << "jobs.default_timeout: must be between 1000ms and 604800000ms";
        QTest::newRow("jobs default_max_attempts 0")
            << QByteArray(R"({"jobs": {"default_max_attempts": 0}})")
            << "jobs.default_max_attempts: must be between 1 and 100";
        QTest::newRow("jobs default_max_attempts 101")
            << QByteArray(R"({"jobs": {"default_max_attempts": 101}})")
            << "jobs.default_max_attempts: must be between 1 and 100";
        QTest::newRow("jobs backoff base 2 days")
            << QByteArray(R"({"jobs": {"backoff": {"base": "48h"}}})")
            << "jobs.backoff.base: must be between 0ms and 86400000ms";
        QTest::newRow("jobs backoff max 8 days")
            << QByteArray(R"({"jobs": {"backoff": {"max": "192h"}}})")
            << "jobs.backoff.max: must be between 0ms and 604800000ms";
        QTest::newRow("jobs backoff multiplier 0.5")
            << QByteArray(R"({"jobs": {"backoff": {"multiplier": 0.5}}})")
            << "jobs.backoff.multiplier: must be between 1 and 10";
        QTest::newRow("jobs backoff multiplier 11")
            << QByteArray(R"({"jobs": {"backoff": {"multiplier": 11}}})")
            << "jobs.backoff.multiplier: must be between 1 and 10";
        QTest::newRow("jobs backoff jitter 1.5")
            << QByteArray(R"({"jobs": {"backoff": {"jitter": 1.5}}})")
            << "jobs.backoff.jitter: must be between 0 and 1";
        QTest::newRow("jobs backoff jitter negative")
            << QByteArray(R"({"jobs": {"backoff": {"jitter": -0.1}}})")
            << "jobs.backoff.jitter: must be between 0 and 1";
        QTest::newRow("jobs backoff jitter as string")
            << QByteArray(R"({"jobs": {"backoff": {"jitter": "half"}}})")
            << "jobs.backoff.jitter: must be a number";
        QTest::newRow("jobs backoff not an object")
            << QByteArray(R"({"jobs": {"backoff": "1s"}})") << "jobs.backoff: must be an object";
        QTest::newRow("jobs backoff unknown") << QByteArray(R"({"jobs": {"backoff": {"min": 1}}})")
                                              << "jobs.backoff.min: unknown key";
        QTest::newRow("jobs unknown")
            << QByteArray(R"({"jobs": {"threads": 4}})") << "jobs.threads: unknown key";
        QTest::newRow("jobs export_ttl 31 days")
            << QByteArray(R"({"jobs": {"export_ttl": "744h"}})")
            << "jobs.export_ttl: must be between 60000ms and 2592000000ms";
        QTest::newRow("jobs export_ttl 59s")
            << QByteArray(R"({"jobs": {"export_ttl": "59s"}})")
            << "jobs.export_ttl: must be between 60000ms and 2592000000ms";
        QTest::newRow("webhooks timeout 99ms")
            << QByteArray(R"({"webhooks": {"timeout": "99ms"}})")
            << "webhooks.timeout: must be between 100ms and 300000ms";
        QTest::newRow("webhooks timeout 6m")
            << QByteArray(R"({"webhooks": {"timeout": "6m"}})")
            << "webhooks.timeout: must be between 100ms and 300000ms";
        QTest::newRow("webhooks max_attempts 0")
            << QByteArray(R"({"webhooks": {"max_attempts": 0}})")
            << "webhooks.max_attempts: must be between 1 and 100";
        QTest::newRow("webhooks max_attempts 101")
            << QByteArray(R"({"webhooks": {"max_attempts": 101}})")
            << "webhooks.max_attempts: must be between 1 and 100";
        QTest::newRow("webhooks unknown")
            << QByteArray(R"({"webhooks": {"secret": "x"}})") << "webhooks.secret: unknown key";
    }
    void keyErrors()
    {
        QFETCH(QByteArray, json);
        QFETCH(QString, error);
        const QString path = writeFile(json);
        const auto result = ConfigLoader::load(sources(path));
        QVERIFY(!result.ok());
        QCOMPARE(result.error(), QStringList{path + QStringLiteral(": ") + error});
    }

    void allErrorsReported()
    {
        const QString path =
            writeFile(R"({"server": {"threads": 999, "listne": "x"}, "log": {"level": "loud"}})");
        const auto result = ConfigLoader::load(sources(path));
        QVERIFY(!result.ok());
        const QStringList errors = result.error();
        QCOMPARE(errors.size(), 3);
        QVERIFY(errors.contains(path + QStringLiteral(": server.listne: unknown key")));
        QVERIFY(
            errors.contains(path + QStringLiteral(": server.threads: must be between 0 and 256")));
        QVERIFY(errors.contains(
            path + QStringLiteral(
                       R"(: log.level: must be one of debug, info, warning, error, not "loud")")));
    }

    void enumValues_data()
    {
        QTest::addColumn<QString>("access");
        QTest::addColumn<AccessLogMode>("mode");
        QTest::newRow("on") << "on" << AccessLogMode::On;
        QTest::newRow("off") << "off" << AccessLogMode::Off;
        QTest::newRow("sampled") << "sampled" << AccessLogMode::Sampled;
    }
    void enumValues()
    {
        QFETCH(QString, access);
        QFETCH(AccessLogMode, mode);
        const QString path =
            writeFile(QStringLiteral(R"({"log": {"access": "%1", "level": "warning"}})")
                          .arg(access)
                          .toUtf8());
        const auto result = ConfigLoader::load(sources(path));
        QVERIFY(result.ok());
        QCOMPARE(result.value().log.access, mode);
        QCOMPARE(result.value().log.level, QStringLiteral("warning"));
    }

    // defaults < file < environment < flags, for a size, an enum and an integer.
    void layering_data()
    {
        QTest::addColumn<bool>("file");
        QTest::addColumn<bool>("env");
        QTest::addColumn<bool>("flag");
        QTest::addColumn<qint64>("maxBody");
        QTest::addColumn<QString>("level");
        QTest::addColumn<int>("threads");

        QTest::newRow("defaults") << false << false << false << qint64(10 * 1024 * 1024) << "info"
                                  << 0;
        QTest::newRow("file") << true << false << false << qint64(1 * 1024 * 1024) << "debug" << 1;
        QTest::newRow("env over default")
            << false << true << false << qint64(2 * 1024 * 1024) << "warning" << 2;
        QTest::newRow("env over file")
            << true << true << false << qint64(2 * 1024 * 1024) << "warning" << 2;
        QTest::newRow("flag over default")
            << false << false << true << qint64(3 * 1024 * 1024) << "error" << 3;
        QTest::newRow("flag over file")
            << true << false << true << qint64(3 * 1024 * 1024) << "error" << 3;
        QTest::newRow("flag over env")
            << false << true << true << qint64(3 * 1024 * 1024) << "error" << 3;
        QTest::newRow("flag over env over file")
            << true << true << true << qint64(3 * 1024 * 1024) << "error" << 3;
    }
    void layering()
    {
        QFETCH(bool, file);
        QFETCH(bool, env);
        QFETCH(bool, flag);
        QFETCH(qint64, maxBody);
        QFETCH(QString, level);
        QFETCH(int, threads);

        ConfigLoader::Sources s;
        if (file)
            s.file = writeFile(
                R"({"server": {"max_body": "1MiB", "threads": 1}, "log": {"level": "debug"}})");
        if (env) {
            s.environment.insert(QStringLiteral("BULWARK_SERVER_MAX_BODY"), QStringLiteral("2MiB"));
            s.environment.insert(QStringLiteral("BULWARK_LOG_LEVEL"), QStringLiteral("warning"));
            s.environment.insert(QStringLiteral("BULWARK_SERVER_THREADS"), QStringLiteral("2"));
        }
        // Unrelated variables are ignored.
        s.environment.insert(QStringLiteral("SERVER_MAX_BODY"), QStringLiteral("garbage"));
        if (flag) {
            s.flags.insert(QStringLiteral("server.max_body"), QStringLiteral("3145728"));
            s.flags.insert(QStringLiteral("log.level"), QStringLiteral("error"));
            s.flags.insert(QStringLiteral("server.threads"), QStringLiteral("3"));
        }
        const auto result = ConfigLoader::load(s);
        QVERIFY2(result.ok(), qPrintable(result.ok() ? QString() : result.error().join('\n')));
        QCOMPARE(result.value().server.maxBody, maxBody);
        QCOMPARE(result.value().log.level, level);
        QCOMPARE(result.value().server.threads, threads);
    }

    // Raw strings from the environment and flags go through the same validation, and the
    // error names the layer the bad value came from.
    void rawValues_data()
    {
        QTest::addColumn<QString>("key");
        QTest::addColumn<QString>("raw");
        QTest::addColumn<bool>("asFlag");
        QTest::addColumn<QString>("error"); // empty: accepted

        QTest::newRow("bool yes") << "server.debug_endpoints"
                                  << "yes" << false << "";
        QTest::newRow("bool ON") << "http.compression"
                                 << " ON " << true << "";
        QTest::newRow("bool maybe env")
            << "http.compression"
            << "maybe" << false
            << "environment BULWARK_HTTP_COMPRESSION: http.compression: must be true or false";
        QTest::newRow("integer word env")
            << "server.threads"
            << "many" << false
            << "environment BULWARK_SERVER_THREADS: server.threads: must be an integer";
        QTest::newRow("integer out of range flag")
            << "server.threads"
            << "257" << true << "command line: server.threads: must be between 0 and 256";
        QTest::newRow("duration flag") << "server.idle_timeout"
                                       << "90s" << true << "";
        QTest::newRow("duration bad flag")
            << "server.idle_timeout"
            << "later" << true
            << R"(command line: server.idle_timeout: must be a duration (seconds, or a string like "10s" or "250ms"))";
        QTest::newRow("listen env") << "server.listen"
                                    << "0.0.0.0:80" << false << "";
        QTest::newRow("listen bad env")
            << "server.listen"
            << "0.0.0.0:99999" << false
            << R"(environment BULWARK_SERVER_LISTEN: server.listen: "0.0.0.0:99999" is not ADDRESS:PORT (for example 127.0.0.1:8080 or [::1]:8080))";
        QTest::newRow("size env") << "server.max_body"
                                  << "512KiB" << false << "";
        QTest::newRow("enum bad flag")
            << "log.access"
            << "sometimes" << true
            << R"(command line: log.access: must be one of on, off, sampled, not "sometimes")";
    }
    void rawValues()
    {
        QFETCH(QString, key);
        QFETCH(QString, raw);
        QFETCH(bool, asFlag);
        QFETCH(QString, error);
        ConfigLoader::Sources s;
        if (asFlag)
            s.flags.insert(key, raw);
        else
            s.environment.insert(ConfigLoader::environmentName(key), raw);
        const auto result = ConfigLoader::load(s);
        if (error.isEmpty()) {
            QVERIFY2(result.ok(), qPrintable(result.ok() ? QString() : result.error().join('\n')));
        } else {
            QVERIFY(!result.ok());
            QCOMPARE(result.error(), QStringList{error});
        }
    }

    void rawValuesApplied()
    {
        ConfigLoader::Sources s;
        s.environment.insert(QStringLiteral("BULWARK_SERVER_DEBUG_ENDPOINTS"),
                             QStringLiteral("yes"));
        s.environment.insert(QStringLiteral("BULWARK_SERVER_LISTEN"),
                             QStringLiteral("localhost:81"));
        s.environment.insert(QStringLiteral("BULWARK_SERVER_IDLE_TIMEOUT"), QStringLiteral("5"));
        s.environment.insert(QStringLiteral("BULWARK_SERVER_TLS_CERT"), QStringLiteral("/c.pem"));
        s.environment.insert(QStringLiteral("BULWARK_SERVER_TLS_KEY"), QStringLiteral("/k.pem"));
        s.flags.insert(QStringLiteral("http.compression"), QStringLiteral("off"));
        s.flags.insert(QStringLiteral("log.access_sample_rate"), QStringLiteral("0.25"));
        s.flags.insert(QStringLiteral("server.header_timeout"), QStringLiteral("1.5s"));
        const auto result = ConfigLoader::load(s);
        QVERIFY2(result.ok(), qPrintable(result.ok() ? QString() : result.error().join('\n')));
        const Config &c = result.value();
        QCOMPARE(c.server.debugEndpoints, true);
        QCOMPARE(c.server.address, QHostAddress(QHostAddress::LocalHost));
        QCOMPARE(c.server.port, quint16(81));
        QCOMPARE(c.server.idleTimeout.count(), 5000);
        QCOMPARE(c.server.tls.certFile, QStringLiteral("/c.pem"));
        QCOMPARE(c.server.tls.keyFile, QStringLiteral("/k.pem"));
        QCOMPARE(c.http.compression, false);
        QCOMPARE(c.log.accessSampleRate, 0.25);
        QCOMPARE(c.server.headerTimeout.count(), 1500);
    }

    void environmentName_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QString>("name");
        QTest::newRow("max_body") << "server.max_body"
                                  << "BULWARK_SERVER_MAX_BODY";
        QTest::newRow("tls.cert") << "server.tls.cert"
                                  << "BULWARK_SERVER_TLS_CERT";
        QTest::newRow("log.level") << "log.level"
                                   << "BULWARK_LOG_LEVEL";
    }
    void environmentName()
    {
        QFETCH(QString, path);
        QFETCH(QString, name);
        QCOMPARE(ConfigLoader::environmentName(path), name);
    }

    void keyTable()
    {
        // Every key's default is valid: loading nothing succeeds (checked in defaults());
        // paths are unique and each has help text.
        QSet<QString> seen;
        for (const ConfigKey &key : ConfigLoader::keys()) {
            QVERIFY2(!seen.contains(key.path), qPrintable(key.path));
            seen.insert(key.path);
            QVERIFY2(!key.help.isEmpty(), qPrintable(key.path));
            QVERIFY2(bool(key.apply), qPrintable(key.path));
        }
        QVERIFY(seen.contains(QStringLiteral("server.max_body")));
        QVERIFY(seen.contains(QStringLiteral("admin.token")));
    }

    void crossKeyRules_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QStringList>("errors");

        QTest::newRow("cert without key")
            << QByteArray(R"({"server": {"tls": {"cert": "/c.pem"}}})")
            << QStringList{"server.tls: cert and key must be given together"};
        QTest::newRow("key without cert")
            << QByteArray(R"({"server": {"tls": {"key": "/k.pem"}}})")
            << QStringList{"server.tls: cert and key must be given together"};
        QTest::newRow("cert and key")
            << QByteArray(R"({"server": {"tls": {"cert": "/c.pem", "key": "/k.pem"}}})")
            << QStringList{};
        QTest::newRow("short token")
            << QByteArray(R"({"admin": {"token": "0123456789abcdef0123456789abcde"}})")
            << QStringList{"admin.token: must be at least 32 characters"};
        QTest::newRow("token of 32")
            << QByteArray(R"({"admin": {"token": "0123456789abcdef0123456789abcdef"}})")
            << QStringList{};
        QTest::newRow("empty token") << QByteArray(R"({"admin": {"token": ""}})") << QStringList{};
        QTest::newRow("field over total")
            << QByteArray(
                   R"({"server": {"max_header_field": "8KiB", "max_headers_total": "4KiB"}})")
            << QStringList{"server.max_header_field: must not exceed server.max_headers_total"};
        QTest::newRow("no cache tier")
            << QByteArray(R"({"cache": {"memory": {"enabled": false}}})")
            << QStringList{"cache.memory.enabled: with the memory tier off the cache needs Redis "
                           "(redis.url and cache.redis.enabled); or set cache.enabled to false"};
        QTest::newRow("redis tier alone")
            // (URLs not in raw strings: moc's tokenizer takes their // for a comment)
            << QByteArray("{\"cache\": {\"memory\": {\"enabled\": false}}, "
                          "\"redis\": {\"url\": \"redis://h\"}}")
            << QStringList{};
        QTest::newRow("no cache at all")
            << QByteArray(R"({"cache": {"enabled": false, "memory": {"enabled": false}}})")
            << QStringList{};
        QTest::newRow("redis url scheme")
            << QByteArray("{\"redis\": {\"url\": \"http://h:6379\"}}")
            << QStringList{"redis.url: invalid Redis URL \"http://h:6379\": the scheme must be "
                           "redis:// or unix://"};
        QTest::newRow("redis url port, password not shown")
            << QByteArray("{\"redis\": {\"url\": \"redis://:s3cret@h:99999\"}}")
            << QStringList{"redis.url: invalid Redis URL \"redis://h:99999\": malformed URL"};
        QTest::newRow("backoff order")
            << QByteArray(R"({"redis": {"backoff_min": "3s", "backoff_max": "1s"}})")
            << QStringList{"redis.backoff_min: must not exceed redis.backoff_max"};
        QTest::newRow("two rules")
            << QByteArray(R"({"server": {"tls": {"key": "/k.pem"}}, "admin": {"token": "short"}})")
            << QStringList{"server.tls: cert and key must be given together",
                           "admin.token: must be at least 32 characters"};
        QTest::newRow("jobs backoff order")
            << QByteArray(R"({"jobs": {"backoff": {"base": "10m", "max": "5m"}}})")
            << QStringList{"jobs.backoff.base: must not exceed jobs.backoff.max"};
        QTest::newRow("jobs backoff equal")
            << QByteArray(R"({"jobs": {"backoff": {"base": "5m", "max": "5m"}}})") << QStringList{};
        QTest::newRow("jobs backoff zero")
            << QByteArray(R"({"jobs": {"backoff": {"base": 0, "max": 0}}})") << QStringList{};
        QTest::newRow("jobs type queue unknown")
            << QByteArray(R"({"jobs": {"types": [{"type": "webhook.deliver", "queue": "hooks"}]}})")
            << QStringList{"jobs.types: type \"webhook.deliver\" names queue \"hooks\", which is "
                           "not in jobs.queues"};
        QTest::newRow("jobs type queue of the defaults")
            << QByteArray(
                   R"({"jobs": {"types": [{"type": "webhook.deliver", "queue": "webhooks"}]}})")
            << QStringList{};
        QTest::newRow("jobs type queue no longer listed")
            << QByteArray(R"({"jobs": {"queues": [{"name": "default"}], "types": [{"type": "a", )"
                          R"("queue": "default"}, {"type": "b", "queue": "webhooks"}, )"
                          R"({"type": "c", "queue": "maintenance"}]}})")
            << QStringList{
                   "jobs.types: type \"b\" names queue \"webhooks\", which is not in jobs.queues",
                   "jobs.types: type \"c\" names queue \"maintenance\", which is not in "
                   "jobs.queues"};
        QTest::newRow("jobs type queue listed")
            << QByteArray(R"({"jobs": {"queues": [{"name": "default"}, {"name": "bulk"}], )"
                          R"("types": [{"type": "report.render", "queue": "bulk"}]}})")
            << QStringList{};
    }
    void crossKeyRules()
    {
        QFETCH(QByteArray, json);
        QFETCH(QStringList, errors);
        const auto result = ConfigLoader::load(sources(writeFile(json)));
        if (errors.isEmpty()) {
            QVERIFY2(result.ok(), qPrintable(result.ok() ? QString() : result.error().join('\n')));
        } else {
            QVERIFY(!result.ok());
            QCOMPARE(result.error(), errors);
        }
    }

    // cache.routes and cache.warm: JSON arrays checked item by item, with the item's index.
    void cacheLists_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("error"); // empty: valid
        QTest::newRow("routes")
            << QByteArray(
                   R"({"cache": {"routes": [{"route": "/api/v1/{collection}", "ttl": "1m", )"
                   R"("vary": ["query", "user", "header:Accept-Language"]}, {"route": "/x", "ttl": 2}]}})")
            << QString();
        QTest::newRow("empty routes") << QByteArray(R"({"cache": {"routes": []}})") << QString();
        QTest::newRow("not an array") << QByteArray(R"({"cache": {"routes": {"route": "/x"}}})")
                                      << QStringLiteral("cache.routes: must be a JSON array");
        QTest::newRow("item not an object")
            << QByteArray(R"({"cache": {"routes": ["/x"]}})")
            << QStringLiteral("cache.routes: [0]: must be an object with route and ttl");
        QTest::newRow("relative route")
            << QByteArray(
                   R"({"cache": {"routes": [{"route": "/a", "ttl": "1s"}, {"route": "x", "ttl": "1s"}]}})")
            << QStringLiteral("cache.routes: [1].route: must be a path starting with /");
        QTest::newRow("bad segment")
            // (not a raw string: moc's tokenizer would count the lone brace)
            << QByteArray("{\"cache\": {\"routes\": [{\"route\": \"/a/{b\", \"ttl\": \"1s\"}]}}")
            << QStringLiteral(
                   "cache.routes: [0].route: \"{b\" is neither a plain segment nor a {name}");
        QTest::newRow("bad ttl")
            << QByteArray(R"({"cache": {"routes": [{"route": "/a", "ttl": "soon"}]}})")
            << QStringLiteral("cache.routes: [0].ttl: must be a duration between 1ms and 30 days, "
                              "like \"5m\"");
        QTest::newRow("missing ttl") << QByteArray(R"({"cache": {"routes": [{"route": "/a"}]}})")
                                     << QStringLiteral("cache.routes: [0].ttl: must be a duration "
                                                       "between 1ms and 30 days, like \"5m\"");
        QTest::newRow("bad vary")
            << QByteArray(
                   R"({"cache": {"routes": [{"route": "/a", "ttl": 1, "vary": ["cookie"]}]}})")
            << QStringLiteral(
                   "cache.routes: [0].vary: \"cookie\" is not query, path, user or header:NAME");
        QTest::newRow("unknown route key")
            << QByteArray(R"({"cache": {"routes": [{"route": "/a", "ttl": 1, "tll": 2}]}})")
            << QStringLiteral("cache.routes: [0].tll: unknown key (route, ttl, vary)");
        QTest::newRow("warm")
            << QByteArray(
                   R"({"cache": {"warm": [{"path": "/api/v1/reports/x?a=1", "user": "a@b.c"}]}})")
            << QString();
        QTest::newRow("warm without user")
            << QByteArray(R"({"cache": {"warm": [{"path": "/api/v1/x"}]}})")
            << QStringLiteral(
                   "cache.warm: [0].user: the user (id or e-mail) to warm the response for");
        QTest::newRow("warm relative path")
            << QByteArray(R"({"cache": {"warm": [{"path": "api", "user": "1"}]}})")
            << QStringLiteral(
                   "cache.warm: [0]: must be an object with a path starting with / and a user");
    }
    void cacheLists()
    {
        QFETCH(QByteArray, json);
        QFETCH(QString, error);
        const QString file = writeFile(json);
        const auto result = ConfigLoader::load(sources(file));
        if (error.isEmpty()) {
            QVERIFY2(result.ok(), qPrintable(result.ok() ? QString() : result.error().join('\n')));
            return;
        }
        QVERIFY(!result.ok());
        QCOMPARE(result.error(), QStringList{file + QStringLiteral(": ") + error});
    }

    void cacheRoutesParsed()
    {
        const auto result = ConfigLoader::load(sources(writeFile(
            R"({"cache": {"routes": [{"route": "/r/{x}", "ttl": "90s", "vary": ["header:X-Lang"]}]}})")));
        QVERIFY(result.ok());
        const QList<CacheRouteConfig> routes = result.value().cache.routes;
        QCOMPARE(routes.size(), 1);
        QCOMPARE(routes.at(0).route, QStringLiteral("/r/{x}"));
        QCOMPARE(routes.at(0).ttl, Milliseconds(90'000));
        QCOMPARE(routes.at(0).varyQuery, false); // vary given without "query"
        QCOMPARE(routes.at(0).varyHeaders, QStringList{QStringLiteral("x-lang")});
        // From the environment, as JSON text.
        ConfigLoader::Sources env;
        env.environment.insert(QStringLiteral("BULWARK_CACHE_ROUTES"),
                               QStringLiteral(R"([{"route": "/e", "ttl": "1m"}])"));
        const auto fromEnv = ConfigLoader::load(env);
        QVERIFY(fromEnv.ok());
        QCOMPARE(fromEnv.value().cache.routes.size(), 1);
        QCOMPARE(fromEnv.value().cache.routes.at(0).varyQuery, true);
        env.environment.insert(QStringLiteral("BULWARK_CACHE_ROUTES"), QStringLiteral("[oops"));
        const auto broken = ConfigLoader::load(env);
        QVERIFY(!broken.ok());
        QCOMPARE(
            broken.error(),
            QStringList{"environment BULWARK_CACHE_ROUTES: cache.routes: must be a JSON array"});
    }

    // jobs.queues, jobs.types, jobs.cron and webhooks.endpoints: JSON arrays checked item by
    // item; an error names the item's index and field.
    void jobsLists_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("error"); // empty: valid

        const QString nameRule = QStringLiteral(
            "must be 1 to 63 characters of a-z, 0-9, _ and -, starting with a letter");
        const QString typeRule = QStringLiteral(
            "must be 1 to 63 characters of a-z, 0-9, _, . and -, starting with a letter");
        const QByteArray longName(63, 'q');

        // jobs.queues
        QTest::newRow("queues")
            << QByteArray(R"({"jobs": {"queues": [{"name": "default", "concurrency": 256}, )"
                          R"({"name": "a_b-9"}, {"name": ")" +
                          longName + R"(", "concurrency": 1}]}})")
            << QString();
        QTest::newRow("queues not an array")
            << QByteArray(R"({"jobs": {"queues": {"name": "default"}}})")
            << QStringLiteral("jobs.queues: must be a JSON array");
        QTest::newRow("queue not an object")
            << QByteArray(R"({"jobs": {"queues": ["default"]}})")
            << QStringLiteral("jobs.queues: [0]: must be an object with name and concurrency");
        QTest::newRow("queue unknown key")
            << QByteArray(R"({"jobs": {"queues": [{"name": "default", "workers": 2}]}})")
            << QStringLiteral("jobs.queues: [0].workers: unknown key (name, concurrency)");
        QTest::newRow("queue without name")
            << QByteArray(R"({"jobs": {"queues": [{"name": "default"}, {"concurrency": 2}]}})")
            << "jobs.queues: [1].name: " + nameRule;
        QTest::newRow("queue name upper case")
            << QByteArray(R"({"jobs": {"queues": [{"name": "Default"}]}})")
            << "jobs.queues: [0].name: " + nameRule;
        QTest::newRow("queue name with a dot")
            << QByteArray(R"({"jobs": {"queues": [{"name": "default"}, {"name": "a.b"}]}})")
            << "jobs.queues: [1].name: " + nameRule;
        QTest::newRow("queue name starts with a digit")
            << QByteArray(R"({"jobs": {"queues": [{"name": "default"}, {"name": "9a"}]}})")
            << "jobs.queues: [1].name: " + nameRule;
        QTest::newRow("queue name of 64")
            << QByteArray(R"({"jobs": {"queues": [{"name": "default"}, {"name": "q)" + longName +
                          R"("}]}})")
            << "jobs.queues: [1].name: " + nameRule;
        QTest::newRow("queue name twice")
            << QByteArray(R"({"jobs": {"queues": [{"name": "default"}, {"name": "x"}, )"
                          R"({"name": "default"}]}})")
            << QStringLiteral("jobs.queues: [2].name: \"default\" is already used by [0]");
        QTest::newRow("queue concurrency 0")
            << QByteArray(R"({"jobs": {"queues": [{"name": "default", "concurrency": 0}]}})")
            << QStringLiteral("jobs.queues: [0].concurrency: must be between 1 and 256");
        QTest::newRow("queue concurrency 257")
            << QByteArray(R"({"jobs": {"queues": [{"name": "default", "concurrency": 257}]}})")
            << QStringLiteral("jobs.queues: [0].concurrency: must be between 1 and 256");
        QTest::newRow("queue concurrency fraction")
            << QByteArray(R"({"jobs": {"queues": [{"name": "default", "concurrency": 1.5}]}})")
            << QStringLiteral("jobs.queues: [0].concurrency: must be an integer");
        QTest::newRow("queue concurrency as string")
            << QByteArray(R"({"jobs": {"queues": [{"name": "default", "concurrency": "4"}]}})")
            << QStringLiteral("jobs.queues: [0].concurrency: must be an integer");
        QTest::newRow("queues without default")
            << QByteArray(R"({"jobs": {"queues": [{"name": "webhooks", "concurrency": 2}]}})")
            << QStringLiteral("jobs.queues: must contain a queue named \"default\" (jobs go "
                              "there unless their type names another)");
        QTest::newRow("no queues")
            << QByteArray(R"({"jobs": {"queues": []}})")
            << QStringLiteral("jobs.queues: must contain a queue named \"default\" (jobs go "
                              "there unless their type names another)");

        // jobs.types
        QTest::newRow("types")
            << QByteArray(
                   R"({"jobs": {"types": [{"type": "webhook.deliver", "queue": )"
                   R"("webhooks", "priority": "high", "max_attempts": 8, "backoff_base": )"
                   R"("10s", "backoff_max": "1h", "backoff_multiplier": 2, )"
                   R"("backoff_jitter": 0.5, "timeout": "30s"}, {"type": "a"}, )"
                   R"({"type": "b", "backoff_base": 0, "backoff_max": 0, "max_attempts": )"
                   R"(100, "backoff_multiplier": 10, "backoff_jitter": 1, "timeout": "168h"}]}})")
            << QString();
        QTest::newRow("no types") << QByteArray(R"({"jobs": {"types": []}})") << QString();
        QTest::newRow("type not an object")
            << QByteArray(R"({"jobs": {"types": ["webhook.deliver"]}})")
            << QStringLiteral("jobs.types: [0]: must be an object with a type and the settings "
                              "to override");
        QTest::newRow("type missing")
            << QByteArray(R"({"jobs": {"types": [{"queue": "default"}]}})")
            << "jobs.types: [0].type: " + typeRule;
        QTest::newRow("type upper case")
            << QByteArray(R"({"jobs": {"types": [{"type": "Webhook.deliver"}]}})")
            << "jobs.types: [0].type: " + typeRule;
        QTest::newRow("type starts with a dot")
            << QByteArray(R"({"jobs": {"types": [{"type": ".a"}]}})")
            << "jobs.types: [0].type: " + typeRule;
        QTest::newRow("type twice")
            << QByteArray(
                   R"({"jobs": {"types": [{"type": "a.b"}, {"type": "a.b", "timeout": 5}]}})")
            << QStringLiteral("jobs.types: [1].type: \"a.b\" is already used by [0]");
        QTest::newRow("type unknown field")
            << QByteArray(R"({"jobs": {"types": [{"type": "a", "retries": 3}]}})")
            << QStringLiteral("jobs.types: [0].retries: unknown key (type, queue, priority, "
                              "max_attempts, backoff_base, backoff_max, backoff_multiplier, "
                              "backoff_jitter, timeout)");
        QTest::newRow("type queue not a name")
            << QByteArray(R"({"jobs": {"types": [{"type": "a", "queue": "Hooks"}]}})")
            << QStringLiteral("jobs.types: [0].queue: must name a queue of jobs.queues");
        QTest::newRow("type queue empty")
            << QByteArray(R"({"jobs": {"types": [{"type": "a", "queue": ""}]}})")
            << QStringLiteral("jobs.types: [0].queue: must name a queue of jobs.queues");
        QTest::newRow("type priority urgent")
            << QByteArray(R"({"jobs": {"types": [{"type": "a", "priority": "urgent"}]}})")
            << QStringLiteral("jobs.types: [0].priority: must be one of critical, high, normal, "
                              "low, not \"urgent\"");
        QTest::newRow("type priority number")
            << QByteArray(R"({"jobs": {"types": [{"type": "a", "priority": 1}]}})")
            << QStringLiteral("jobs.types: [0].priority: must be one of the listed values");
        QTest::newRow("type max_attempts 0")
            << QByteArray(R"({"jobs": {"types": [{"type": "a", "max_attempts": 0}]}})")
            << QStringLiteral("jobs.types: [0].max_attempts: must be between 1 and 100");
        QTest::newRow("type max_attempts 101")
            << QByteArray(R"({"jobs": {"types": [{"type": "a", "max_attempts": 101}]}})")
            << QStringLiteral("jobs.types: [0].max_attempts: must be between 1 and 100");
        QTest::newRow("type backoff_base 2 days")
            << QByteArray(R"({"jobs": {"types": [{"type": "a", "backoff_base": "48h"}]}})")
            << QStringLiteral("jobs.types: [0].backoff_base: must be between 0ms and 86400000ms");
        QTest::newRow("type backoff_base word")
            << QByteArray(R"({"jobs": {"types": [{"type": "a", "backoff_base": "soon"}]}})")
            << QStringLiteral("jobs.types: [0].backoff_base: must be a duration (seconds, or a "
                              "string like \"10s\" or \"250ms\")");
        QTest::newRow("type backoff_max 8 days")
            << QByteArray(R"({"jobs": {"types": [{"type": "a", "backoff_max": "192h"}]}})")
            << QStringLiteral("jobs.types: [0].backoff_max: must be between 0ms and 604800000ms");
        QTest::newRow("type backoff_multiplier 0.5")
            << QByteArray(R"({"jobs": {"types": [{"type": "a", "backoff_multiplier": 0.5}]}})")
            << QStringLiteral("jobs.types: [0].backoff_multiplier: must be between 1 and 10");
        QTest::newRow("type backoff_jitter 2")
            << QByteArray(R"({"jobs": {"types": [{"type": "a", "backoff_jitter": 2}]}})")
            << QStringLiteral("jobs.types: [0].backoff_jitter: must be between 0 and 1");
        QTest::newRow("type backoff_jitter -1 is not writable")
            << QByteArray(R"({"jobs": {"types": [{"type": "a", "backoff_jitter": -1}]}})")
            << QStringLiteral("jobs.types: [0].backoff_jitter: must be between 0 and 1");
        QTest::newRow("type timeout 500ms")
            << QByteArray(R"({"jobs": {"types": [{"type": "a", "timeout": "500ms"}]}})")
            << QStringLiteral("jobs.types: [0].timeout: must be between 1000ms and 604800000ms");
        QTest::newRow("type backoff order")
            << QByteArray(
                   R"({"jobs": {"types": [{"type": "a", "backoff_base": "2m", "backoff_max": "1m"}]}})")
            << QStringLiteral("jobs.types: [0].backoff_base: must not exceed backoff_max");
        QTest::newRow("type backoff_base alone above the global max")
            << QByteArray(R"({"jobs": {"types": [{"type": "a", "backoff_base": "1h"}]}})")
            << QString();
        QTest::newRow("type first bad field wins")
            << QByteArray(
                   R"({"jobs": {"types": [{"type": "a", "timeout": 0, "max_attempts": 0}]}})")
            << QStringLiteral("jobs.types: [0].max_attempts: must be between 1 and 100");

        // jobs.cron
        QTest::newRow("cron")
            << QByteArray(R"({"jobs": {"cron": [{"name": "nightly", "schedule": "30 3 * * *", )"
                          R"("type": "db.maintenance", "payload": {"vacuum": true}, "priority": )"
                          R"("low"}, {"name": "weekdays", "schedule": "*/15 9-17 * JAN-JUN )"
                          R"(MON-FRI", "type": "report.render"}, {"name": "daily", )"
                          R"("schedule": " @daily ", "type": "x", "payload": {}}]}})")
            << QString();
        QTest::newRow("no cron") << QByteArray(R"({"jobs": {"cron": []}})") << QString();
        QTest::newRow("cron not an object")
            << QByteArray(R"({"jobs": {"cron": ["30 3 * * *"]}})")
            << QStringLiteral("jobs.cron: [0]: must be an object with name, schedule and type");
        QTest::newRow("cron unknown key")
            << QByteArray(R"({"jobs": {"cron": [{"name": "n", "schedule": "* * * * *", )"
                          R"("type": "t", "every": "1h"}]}})")
            << QStringLiteral("jobs.cron: [0].every: unknown key (name, schedule, type, payload, "
                              "priority)");
        QTest::newRow("cron name bad")
            << QByteArray(
                   R"({"jobs": {"cron": [{"name": "my job", "schedule": "* * * * *", "type": "t"}]}})")
            << "jobs.cron: [0].name: " + nameRule;
        QTest::newRow("cron name twice")
            << QByteArray(R"({"jobs": {"cron": [{"name": "n", "schedule": "* * * * *", )"
                          R"("type": "t"}, {"name": "n", "schedule": "@hourly", "type": "u"}]}})")
            << QStringLiteral("jobs.cron: [1].name: \"n\" is already used by [0]");
        QTest::newRow("cron schedule missing")
            << QByteArray(R"({"jobs": {"cron": [{"name": "n", "type": "t"}]}})")
            << QStringLiteral("jobs.cron: [0].schedule: must be a five-field cron expression "
                              "like \"30 3 * * *\" (UTC)");
        QTest::newRow("cron schedule as number")
            << QByteArray(R"({"jobs": {"cron": [{"name": "n", "schedule": 5, "type": "t"}]}})")
            << QStringLiteral("jobs.cron: [0].schedule: must be a five-field cron expression "
                              "like \"30 3 * * *\" (UTC)");
        QTest::newRow("cron hour 24")
            << QByteArray(
                   R"({"jobs": {"cron": [{"name": "n", "schedule": "0 24 * * *", "type": "t"}]}})")
            << QStringLiteral("jobs.cron: [0].schedule: field 2 (hour): 24 is out of range 0-23");
        QTest::newRow("cron four fields")
            << QByteArray(
                   R"({"jobs": {"cron": [{"name": "n", "schedule": "* * * *", "type": "t"}]}})")
            << QStringLiteral("jobs.cron: [0].schedule: expected 5 fields, got 4");
        QTest::newRow("cron empty schedule")
            << QByteArray(R"({"jobs": {"cron": [{"name": "n", "schedule": "", "type": "t"}]}})")
            << QStringLiteral("jobs.cron: [0].schedule: expected 5 fields, got 0");
        QTest::newRow("cron unknown macro")
            << QByteArray(
                   R"({"jobs": {"cron": [{"name": "n", "schedule": "@reboot", "type": "t"}]}})")
            << QStringLiteral("jobs.cron: [0].schedule: unknown macro \"@reboot\" (known: "
                              "@yearly, @annually, @monthly, @weekly, @daily, @midnight, "
                              "@hourly)");
        QTest::newRow("cron never fires")
            << QByteArray(
                   R"({"jobs": {"cron": [{"name": "n", "schedule": " 0 0 30 2 * ", "type": "t"}]}})")
            << QStringLiteral("jobs.cron: [0].schedule: \"0 0 30 2 *\" matches no date, so it "
                              "would never fire");
        QTest::newRow("cron type missing")
            << QByteArray(R"({"jobs": {"cron": [{"name": "n", "schedule": "@daily"}]}})")
            << "jobs.cron: [0].type: " + typeRule;
        QTest::newRow("cron type bad")
            << QByteArray(
                   R"({"jobs": {"cron": [{"name": "n", "schedule": "@daily", "type": "Db"}]}})")
            << "jobs.cron: [0].type: " + typeRule;
        QTest::newRow("cron payload array")
            << QByteArray(R"({"jobs": {"cron": [{"name": "n", "schedule": "@daily", "type": )"
                          R"("t", "payload": [1]}]}})")
            << QStringLiteral("jobs.cron: [0].payload: must be a JSON object");
        QTest::newRow("cron payload as text")
            << QByteArray(R"({"jobs": {"cron": [{"name": "n", "schedule": "@daily", "type": )"
                          R"("t", "payload": "{}"}]}})")
            << QStringLiteral("jobs.cron: [0].payload: must be a JSON object");
        QTest::newRow("cron priority urgent")
            << QByteArray(R"({"jobs": {"cron": [{"name": "n", "schedule": "@daily", "type": )"
                          R"("t", "priority": "urgent"}]}})")
            << QStringLiteral("jobs.cron: [0].priority: must be one of critical, high, normal, "
                              "low, not \"urgent\"");

        // webhooks.endpoints (URLs not in raw strings: moc takes their // for a comment)
        const QByteArray secret = "0123456789abcdef"; // 16 characters
        const auto hook = [&](const QByteArray &fields) {
            return "{\"webhooks\": {\"endpoints\": [" + fields + "]}}";
        };
        QTest::newRow("endpoints")
            << hook("{\"name\": \"crm\", \"url\": \"https://example.com/hook\", \"events\": "
                    "[\"record.created\", \"job.dead\"], \"secret\": \"" +
                    secret +
                    "\"}, {\"name\": \"all\", \"url\": \"http://10.0.0.5:8081/in?x=1\", "
                    "\"events\": [\"*\"], \"secret\": \"" +
                    secret + "\"}")
            << QString();
        QTest::newRow("endpoints every event name")
            << hook("{\"name\": \"crm\", \"url\": \"https://example.com/hook\", \"events\": "
                    "[\"record.created\", \"record.updated\", \"record.deleted\", "
                    "\"user.deleted\", \"job.succeeded\", \"job.failed\", \"job.dead\", "
                    "\"ratelimit.exceeded\", \"cache.invalidated\", \"config.reloaded\"], "
                    "\"secret\": \"" +
                    secret + "\"}")
            << QString();
        QTest::newRow("no endpoints") << hook("") << QString();
        QTest::newRow("endpoints not an array")
            << QByteArray(R"({"webhooks": {"endpoints": {"name": "crm"}}})")
            << QStringLiteral("webhooks.endpoints: must be a JSON array");
        QTest::newRow("endpoint not an object")
            << hook("\"crm\"")
            << QStringLiteral(
                   "webhooks.endpoints: [0]: must be an object with name, url, events and secret");
        QTest::newRow("endpoint unknown key")
            << hook("{\"name\": \"crm\", \"url\": \"https://example.com/\", \"events\": "
                    "[\"*\"], \"secret\": \"" +
                    secret + "\", \"headers\": {}}")
            << QStringLiteral(
                   "webhooks.endpoints: [0].headers: unknown key (name, url, events, secret)");
        QTest::newRow("endpoint name missing")
            << hook("{\"url\": \"https://example.com/\", \"events\": [\"*\"], \"secret\": \"" +
                    secret + "\"}")
            << "webhooks.endpoints: [0].name: " + nameRule;
        QTest::newRow("endpoint name twice")
            << hook("{\"name\": \"crm\", \"url\": \"https://a.example/\", \"events\": [\"*\"], "
                    "\"secret\": \"" +
                    secret +
                    "\"}, {\"name\": \"crm\", \"url\": \"https://b.example/\", \"events\": "
                    "[\"*\"], \"secret\": \"" +
                    secret + "\"}")
            << QStringLiteral("webhooks.endpoints: [1].name: \"crm\" is already used by [0]");
        const QString urlRule =
            QStringLiteral("webhooks.endpoints: [0].url: must be an http:// or https:// URL "
                           "with a host");
        const auto withUrl = [&](const QByteArray &url) {
            return hook("{\"name\": \"crm\", " + url + "\"events\": [\"*\"], \"secret\": \"" +
                        secret + "\"}");
        };
        QTest::newRow("endpoint url missing") << withUrl("") << urlRule;
        QTest::newRow("endpoint url as number") << withUrl("\"url\": 80, ") << urlRule;
        QTest::newRow("endpoint url ftp")
            << withUrl("\"url\": \"ftp://example.com/x\", ") << urlRule;
        QTest::newRow("endpoint url without scheme")
            << withUrl("\"url\": \"example.com/hook\", ") << urlRule;
        QTest::newRow("endpoint url without host")
            << withUrl("\"url\": \"https:///hook\", ") << urlRule;
        QTest::newRow("endpoint url with a space")
            << withUrl("\"url\": \"https://exa mple.com/\", ") << urlRule;
        QTest::newRow("endpoint url ftp with a password, not repeated")
            << withUrl("\"url\": \"ftp://user:pw@example.com/\", ") << urlRule;
        const QString eventsRule = QStringLiteral(
            "webhooks.endpoints: [0].events: must be a non-empty array of event names, like "
            "[\"record.created\"], or [\"*\"] for all");
        const auto withEvents = [&](const QByteArray &events) {
            return hook("{\"name\": \"crm\", \"url\": \"https://example.com/\", " + events +
                        "\"secret\": \"" + secret + "\"}");
        };
        QTest::newRow("endpoint events missing") << withEvents("") << eventsRule;
        QTest::newRow("endpoint events empty") << withEvents("\"events\": [], ") << eventsRule;
        QTest::newRow("endpoint events as string")
            << withEvents("\"events\": \"record.created\", ") << eventsRule;
        QTest::newRow("endpoint events with a number")
            << withEvents("\"events\": [\"job.dead\", 1], ") << eventsRule;
        QTest::newRow("endpoint event unknown")
            << withEvents("\"events\": [\"job.dead\", \"record.create\"], ")
            << QStringLiteral("webhooks.endpoints: [0].events: \"record.create\" is not an event "
                              "name (record.created, record.updated, record.deleted, "
                              "user.deleted, job.succeeded, job.failed, job.dead, "
                              "ratelimit.exceeded, cache.invalidated, config.reloaded, or \"*\" "
                              "for all)");
        const QString secretRule = QStringLiteral(
            "webhooks.endpoints: [0].secret: must be a string of at least 16 characters");
        const auto withSecret = [&](const QByteArray &secretField) {
            return hook("{\"name\": \"crm\", \"url\": \"https://example.com/\", \"events\": "
                        "[\"*\"]" +
                        secretField + "}");
        };
        QTest::newRow("endpoint secret missing") << withSecret("") << secretRule;
        QTest::newRow("endpoint secret of 15, not repeated")
            << withSecret(", \"secret\": \"0123456789abcde\"") << secretRule;
        QTest::newRow("endpoint secret as number")
            << withSecret(", \"secret\": 1234567890123456789") << secretRule;
    }
    void jobsLists()
    {
        QFETCH(QByteArray, json);
        QFETCH(QString, error);
        const QString file = writeFile(json);
        const auto result = ConfigLoader::load(sources(file));
        if (error.isEmpty()) {
            QVERIFY2(result.ok(), qPrintable(result.ok() ? QString() : result.error().join('\n')));
            return;
        }
        QVERIFY(!result.ok());
        QCOMPARE(result.error(), QStringList{file + QStringLiteral(": ") + error});
    }

    void jobsAndWebhooksParsed()
    {
        const QByteArray json =
            "{\"jobs\": {\"enabled\": false, \"workers\": 8, \"claim_batch\": 10, "
            "\"poll_interval\": \"50ms\", \"lease\": \"1m\", \"retention\": \"336h\", "
            "\"dead_retention\": \"36h\", \"dead_max\": 0, \"default_timeout\": 90, "
            "\"default_max_attempts\": 3, \"backoff\": {\"base\": \"250ms\", \"max\": \"1h\", "
            "\"multiplier\": 1.5, \"jitter\": 0}, \"export_ttl\": \"2h\", "
            "\"queues\": [{\"name\": \"default\", \"concurrency\": 3}, {\"name\": \"bulk\"}], "
            "\"types\": [{\"type\": \"webhook.deliver\", \"queue\": \"bulk\", \"priority\": "
            "\"high\", \"max_attempts\": 8, \"backoff_base\": \"10s\", \"backoff_max\": \"1h\", "
            "\"backoff_multiplier\": 3, \"backoff_jitter\": 0.25, \"timeout\": \"30s\"}, "
            "{\"type\": \"gdpr.export\", \"timeout\": \"1h\"}], "
            "\"cron\": [{\"name\": \"nightly\", \"schedule\": \"  30 3 * * *  \", \"type\": "
            "\"db.maintenance\", \"payload\": {\"vacuum\": true, \"tables\": [\"a\", \"b\"]}, "
            "\"priority\": \"low\"}, {\"name\": \"hourly\", \"schedule\": \"@hourly\", "
            "\"type\": \"jobs.prune\"}]}, "
            "\"webhooks\": {\"endpoints\": [{\"name\": \"crm\", \"url\": "
            "\"https://example.com/hook\", \"events\": [\"record.created\", \"job.dead\"], "
            "\"secret\": \"0123456789abcdef\"}], \"timeout\": \"2s\", \"max_attempts\": 3}}";
        const auto result = ConfigLoader::load(sources(writeFile(json)));
        QVERIFY2(result.ok(), qPrintable(result.ok() ? QString() : result.error().join('\n')));
        const JobsConfig &j = result.value().jobs;
        QCOMPARE(j.enabled, false);
        QCOMPARE(j.workers, 8);
        QCOMPARE(j.claimBatch, 10);
        QCOMPARE(j.pollInterval, Milliseconds(50));
        QCOMPARE(j.lease, Milliseconds(60'000));
        QCOMPARE(j.retention, Milliseconds(14LL * 86'400'000));
        QCOMPARE(j.deadRetention, Milliseconds(36LL * 3'600'000));
        QCOMPARE(j.deadMax, qint64(0));
        QCOMPARE(j.defaultTimeout, Milliseconds(90'000));
        QCOMPARE(j.defaultMaxAttempts, 3);
        QCOMPARE(j.backoffBase, Milliseconds(250));
        QCOMPARE(j.backoffMax, Milliseconds(3'600'000));
        QCOMPARE(j.backoffMultiplier, 1.5);
        QCOMPARE(j.backoffJitter, 0.0);
        QCOMPARE(j.exportTtl, Milliseconds(7'200'000));
        QCOMPARE(j.queues.size(), 2);
        QVERIFY(j.queues.at(0) == (JobQueueConfig{QStringLiteral("default"), 3}));
        QVERIFY(j.queues.at(1) == (JobQueueConfig{QStringLiteral("bulk"), 1}));
        QCOMPARE(j.types.size(), 2);
        const JobTypeConfig &deliver = j.types.at(0);
        QCOMPARE(deliver.type, QStringLiteral("webhook.deliver"));
        QCOMPARE(deliver.queue, QStringLiteral("bulk"));
        QCOMPARE(deliver.priority, QStringLiteral("high"));
        QCOMPARE(deliver.maxAttempts, 8);
        QCOMPARE(deliver.backoffBase, Milliseconds(10'000));
        QCOMPARE(deliver.backoffMax, Milliseconds(3'600'000));
        QCOMPARE(deliver.backoffMultiplier, 3.0);
        QCOMPARE(deliver.backoffJitter, 0.25);
        QCOMPARE(deliver.timeout, Milliseconds(30'000));
        // Fields left out keep the "handler's value" markers.
        JobTypeConfig exportType;
        exportType.type = QStringLiteral("gdpr.export");
        exportType.timeout = Milliseconds(3'600'000);
        QVERIFY(j.types.at(1) == exportType);
        QCOMPARE(j.types.at(1).queue, QString());
        QCOMPARE(j.types.at(1).priority, QString());
        QCOMPARE(j.types.at(1).maxAttempts, 0);
        QCOMPARE(j.types.at(1).backoffBase, Milliseconds(-1));
        QCOMPARE(j.types.at(1).backoffMax, Milliseconds(-1));
        QCOMPARE(j.types.at(1).backoffMultiplier, 0.0);
        QCOMPARE(j.types.at(1).backoffJitter, -1.0);
        QCOMPARE(j.cron.size(), 2);
        QVERIFY(j.cron.at(0) ==
                (CronJobConfig{QStringLiteral("nightly"), QStringLiteral("30 3 * * *"),
                               QStringLiteral("db.maintenance"),
                               QStringLiteral(R"({"tables":["a","b"],"vacuum":true})"),
                               QStringLiteral("low")}));
        QVERIFY(j.cron.at(1) ==
                (CronJobConfig{QStringLiteral("hourly"), QStringLiteral("@hourly"),
                               QStringLiteral("jobs.prune"), QStringLiteral("{}"), QString()}));
        const WebhooksConfig &w = result.value().webhooks;
        QCOMPARE(w.endpoints.size(), 1);
        QCOMPARE(w.endpoints.at(0).name, QStringLiteral("crm"));
        QCOMPARE(w.endpoints.at(0).url, QStringLiteral("https://example.com/hook"));
        QCOMPARE(w.endpoints.at(0).events,
                 (QStringList{QStringLiteral("record.created"), QStringLiteral("job.dead")}));
        QCOMPARE(w.endpoints.at(0).secret, QStringLiteral("0123456789abcdef"));
        QCOMPARE(w.timeout, Milliseconds(2000));
        QCOMPARE(w.maxAttempts, 3);

        // The lists from the environment and the command line, as JSON text.
        ConfigLoader::Sources s;
        s.environment.insert(
            QStringLiteral("BULWARK_WEBHOOKS_ENDPOINTS"),
            QStringLiteral("[{\"name\": \"a\", \"url\": \"http://h/\", \"events\": [\"*\"], "
                           "\"secret\": \"0123456789abcdef\"}]"));
        s.environment.insert(QStringLiteral("BULWARK_JOBS_RETENTION"), QStringLiteral("72h"));
        s.flags.insert(QStringLiteral("jobs.queues"), QStringLiteral(R"([{"name": "default"}])"));
        s.flags.insert(QStringLiteral("jobs.backoff.jitter"), QStringLiteral("0.75"));
        const auto layered = ConfigLoader::load(s);
        QVERIFY2(layered.ok(), qPrintable(layered.ok() ? QString() : layered.error().join('\n')));
        QCOMPARE(layered.value().webhooks.endpoints.size(), 1);
        QCOMPARE(layered.value().webhooks.endpoints.at(0).events, QStringList{"*"});
        QCOMPARE(layered.value().jobs.retention, Milliseconds(3LL * 86'400'000));
        QCOMPARE(layered.value().jobs.queues.size(), 1);
        QCOMPARE(layered.value().jobs.backoffJitter, 0.75);
        s.environment.insert(QStringLiteral("BULWARK_WEBHOOKS_ENDPOINTS"),
                             QStringLiteral(R"([{"name": "a"}])"));
        s.flags.insert(QStringLiteral("jobs.cron"), QStringLiteral("not json"));
        const auto broken = ConfigLoader::load(s);
        QVERIFY(!broken.ok());
        QCOMPARE(
            broken.error(),
            (QStringList{"command line: jobs.cron: must be a JSON array",
                         "environment BULWARK_WEBHOOKS_ENDPOINTS: webhooks.endpoints: [0].url: "
                         "must be an http:// or https:// URL with a host"}));
    }

    // The event names are a contract with the EventBus and with webhook subscribers.
    void eventNames()
    {
        QCOMPARE(knownEventNames(),
                 (QStringList{"record.created", "record.updated", "record.deleted", "user.deleted",
                              "job.succeeded", "job.failed", "job.dead", "ratelimit.exceeded",
                              "cache.invalidated", "config.reloaded"}));
    }

    void parseSize_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<std::optional<qint64>>("bytes");
        using O = std::optional<qint64>;
        QTest::newRow("plain") << "1024" << O(1024);
        QTest::newRow("zero") << "0" << O(0);
        QTest::newRow("B") << "12B" << O(12);
        QTest::newRow("KB") << "1KB" << O(1000);
        QTest::newRow("KiB") << "512KiB" << O(512 * 1024);
        QTest::newRow("MB") << "3MB" << O(3'000'000);
        QTest::newRow("MiB") << "10MiB" << O(10 * 1024 * 1024);
        QTest::newRow("GB") << "2GB" << O(2'000'000'000);
        QTest::newRow("GiB") << "4GiB" << O(4LL * 1024 * 1024 * 1024);
        QTest::newRow("spaces") << "  2 GiB " << O(2LL * 1024 * 1024 * 1024);
        QTest::newRow("empty") << "" << O();
        QTest::newRow("unit only") << "MiB" << O();
        QTest::newRow("fraction") << "1.5MiB" << O();
        QTest::newRow("negative") << "-1" << O();
        QTest::newRow("lower-case unit") << "10mib" << O();
        QTest::newRow("TB") << "1TB" << O();
        QTest::newRow("garbage after") << "10MiBx" << O();
        QTest::newRow("too many digits") << "99999999999999999999" << O();
        QTest::newRow("overflow by unit") << "9223372036854775807GiB" << O();
        QTest::newRow("largest") << "9223372036854775807" << O(std::numeric_limits<qint64>::max());
    }
    void parseSize()
    {
        QFETCH(QString, text);
        QFETCH(std::optional<qint64>, bytes);
        QCOMPARE(ConfigLoader::parseSize(text), bytes);
    }

    void parseDurationMs_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<std::optional<qint64>>("ms");
        using O = std::optional<qint64>;
        QTest::newRow("seconds") << "10s" << O(10'000);
        QTest::newRow("milliseconds") << "250ms" << O(250);
        QTest::newRow("minutes") << "2m" << O(120'000);
        QTest::newRow("hours") << "1h" << O(3'600'000);
        QTest::newRow("bare number is seconds") << "10" << O(10'000);
        QTest::newRow("fraction") << "1.5s" << O(1500);
        QTest::newRow("spaces") << " 10 ms " << O(10);
        QTest::newRow("zero") << "0" << O(0);
        QTest::newRow("empty") << "" << O();
        QTest::newRow("negative") << "-1s" << O();
        QTest::newRow("days") << "5d" << O();
        QTest::newRow("unit first") << "s10" << O();
        QTest::newRow("upper-case") << "10S" << O();
        QTest::newRow("two numbers") << "1 2s" << O();
        QTest::newRow("huge") << "99999999999999999h" << O();
    }
    void parseDurationMs()
    {
        QFETCH(QString, text);
        QFETCH(std::optional<qint64>, ms);
        QCOMPARE(ConfigLoader::parseDurationMs(text), ms);
    }

    void parseListen_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("valid");
        QTest::addColumn<QString>("address");
        QTest::addColumn<int>("port");
        QTest::newRow("ipv4") << "127.0.0.1:8080" << true << "127.0.0.1" << 8080;
        QTest::newRow("any ipv4") << "0.0.0.0:80" << true << "0.0.0.0" << 80;
        QTest::newRow("ipv6 in brackets") << "[::1]:8080" << true << "::1" << 8080;
        QTest::newRow("any ipv6") << "[::]:443" << true << "::" << 443;
        QTest::newRow("localhost") << "localhost:9000" << true << "127.0.0.1" << 9000;
        QTest::newRow("port 0") << "127.0.0.1:0" << true << "127.0.0.1" << 0;
        QTest::newRow("port 65535") << "127.0.0.1:65535" << true << "127.0.0.1" << 65535;
        QTest::newRow("port 65536") << "127.0.0.1:65536" << false << "" << 0;
        QTest::newRow("port 99999") << "127.0.0.1:99999" << false << "" << 0;
        QTest::newRow("missing port") << "127.0.0.1" << false << "" << 0;
        QTest::newRow("empty port") << "127.0.0.1:" << false << "" << 0;
        QTest::newRow("missing host") << ":8080" << false << "" << 0;
        QTest::newRow("signed port") << "127.0.0.1:+80" << false << "" << 0;
        QTest::newRow("port with letters") << "127.0.0.1:80a" << false << "" << 0;
        QTest::newRow("ipv6 without brackets") << "::1:8080" << false << "" << 0;
        QTest::newRow("ipv6 brackets without port") << "[::1]" << false << "" << 0;
        QTest::newRow("hostname") << "example.com:80" << false << "" << 0;
        QTest::newRow("bad ipv4") << "256.0.0.1:80" << false << "" << 0;
        QTest::newRow("empty") << "" << false << "" << 0;
    }
    void parseListen()
    {
        QFETCH(QString, text);
        QFETCH(bool, valid);
        QFETCH(QString, address);
        QFETCH(int, port);
        const auto parsed = ConfigLoader::parseListen(text);
        QCOMPARE(parsed.has_value(), valid);
        if (valid) {
            QCOMPARE(parsed->first, QHostAddress(address));
            QCOMPARE(int(parsed->second), port);
        }
    }

    void blankComments_data()
    {
        QTest::addColumn<QByteArray>("input");
        QTest::addColumn<QByteArray>("output");
        QTest::newRow("no comments") << QByteArray(R"({"a": 1})") << QByteArray(R"({"a": 1})");
        QTest::newRow("line comment")
            << QByteArray("{\"a\": 1} // note\n") << QByteArray("{\"a\": 1}        \n");
        QTest::newRow("line comment at end of file")
            << QByteArray("{} //x") << QByteArray("{}    ");
        QTest::newRow("block comment")
            << QByteArray("{/* x */\"a\": 1}") << QByteArray("{       \"a\": 1}");
        QTest::newRow("block comment keeps line breaks")
            << QByteArray("/* a\r\nb\n */{}") << QByteArray("     \n \n   {}");
        QTest::newRow("empty block comment") << QByteArray("/**/{}") << QByteArray("    {}");
        QTest::newRow("slash star slash is not closed")
            << QByteArray("/*/ x */{}") << QByteArray("        {}");
        QTest::newRow("stars inside") << QByteArray("/** x **/1") << QByteArray("         1");
        QTest::newRow("unterminated block") << QByteArray("{} /* open") << QByteArray("{}        ");
        QTest::newRow("markers in strings")
            << QByteArray("{\"u\": \"http://x/*y*/\"}") << QByteArray("{\"u\": \"http://x/*y*/\"}");
        QTest::newRow("escaped quote in string")
            << QByteArray("{\"u\": \"a\\\"//b\"} // c") << QByteArray("{\"u\": \"a\\\"//b\"}     ");
        QTest::newRow("escaped backslash ends string")
            << QByteArray("{\"u\": \"a\\\\\"} // c") << QByteArray("{\"u\": \"a\\\\\"}     ");
        QTest::newRow("single slash") << QByteArray("1 / 2") << QByteArray("1 / 2");
    }
    void blankComments()
    {
        QFETCH(QByteArray, input);
        QFETCH(QByteArray, output);
        const QByteArray blanked = ConfigLoader::blankComments(input);
        QCOMPARE(blanked, output);
        QCOMPARE(blanked.size(), input.size());
    }
};

// Config's member initialisers and the key table's defaults are two spellings of the
// same defaults; they must not drift apart.
void TestConfigLoader::structDefaultsMatchTheKeyTable()
{
    ConfigLoader::Sources sources; // no file, empty environment, no flags
    const auto loaded = ConfigLoader::load(sources);
    QVERIFY(loaded.ok());
    QVERIFY(loaded.value() == Config{});
}

QTEST_GUILESS_MAIN(TestConfigLoader)
#include "tst_configloader.moc"
