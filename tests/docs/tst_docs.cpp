// SPDX-License-Identifier: GPL-3.0-or-later
// Keeps the documentation honest against the code it describes.
//
// The configuration keys live in one table (ConfigLoader::keys()); this test fails when a
// key is added there without a row in docs/configuration.md or a line in
// resources/bulwark.sample.json, when the docs still list a key that no longer exists,
// when the sample stops loading or drifts from the defaults, and when README.md and
// .ci/run stop agreeing on the commands a developer runs (`./dev.sh run`, `./dev.sh test`).
// The files are read from the source tree named by BULWARK_SOURCE_DIR (set by ctest).
#include "ConfigLoader.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSet>
#include <QTest>

#include <cmath>

using namespace bulwark;

namespace {

QString sourceDir()
{
    const QString fromEnv = qEnvironmentVariable("BULWARK_SOURCE_DIR");
    return fromEnv.isEmpty() ? QStringLiteral(BULWARK_SOURCE_DIR_FALLBACK) : fromEnv;
}

QByteArray readSource(const QString &relative)
{
    QFile file(sourceDir() + QLatin1Char('/') + relative);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return file.readAll();
}

// Follows a dotted key path through nested objects; undefined when any part is missing.
QJsonValue valueAt(const QJsonObject &root, const QString &path)
{
    QJsonValue current = root;
    for (const QString &part : path.split(QLatin1Char('.'))) {
        if (!current.isObject())
            return QJsonValue(QJsonValue::Undefined);
        current = current.toObject().value(part);
    }
    return current;
}

// The value in the unit the loader keeps (bytes, milliseconds), so "10MiB" equals 10485760
// and "30s" equals 30. Returns NaN for values that are not sizes or durations.
double normalised(ConfigKey::Kind kind, const QJsonValue &v)
{
    if (kind == ConfigKey::Kind::Size) {
        if (v.isDouble())
            return v.toDouble();
        const auto bytes = ConfigLoader::parseSize(v.toString());
        return bytes ? double(*bytes) : std::nan("");
    }
    if (kind == ConfigKey::Kind::Duration) {
        if (v.isDouble())
            return v.toDouble() * 1000;
        const auto ms = ConfigLoader::parseDurationMs(v.toString());
        return ms ? double(*ms) : std::nan("");
    }
    return std::nan("");
}

// Lines of README.md that are shell commands of dev.sh, in order.
QStringList readmeCommands(const QByteArray &readme)
{
    QStringList commands;
    for (const QByteArray &raw : readme.split('\n')) {
        const QString line = QString::fromUtf8(raw).trimmed();
        if (line.startsWith(QLatin1String("./dev.sh")))
            commands.append(line);
    }
    return commands;
}

} // namespace

class TestDocs final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void keyDocumented_data();
    void keyDocumented();
    void noStaleKeysInDocs();
    void keyInSample_data();
    void keyInSample();
    void sampleLoads();
    void readmeStartsWithTheTwoCommands();
    void ciRunsTheReadmeTestCommand();

private:
    void keyRows();

    QByteArray m_configurationDoc;
    QByteArray m_sampleRaw;
    QJsonObject m_sample;
    QByteArray m_readme;
    QByteArray m_ciRun;
};

void TestDocs::initTestCase()
{
    QVERIFY2(QFile::exists(sourceDir() + QStringLiteral("/CMakeLists.txt")),
             qPrintable(QStringLiteral("BULWARK_SOURCE_DIR does not point at the source tree: ") +
                        sourceDir()));
    m_configurationDoc = readSource(QStringLiteral("docs/configuration.md"));
    QVERIFY2(!m_configurationDoc.isEmpty(), "docs/configuration.md is missing or empty");
    m_sampleRaw = readSource(QStringLiteral("resources/bulwark.sample.json"));
    QVERIFY2(!m_sampleRaw.isEmpty(), "resources/bulwark.sample.json is missing or empty");
    QJsonParseError error;
    const QJsonDocument doc =
        QJsonDocument::fromJson(ConfigLoader::blankComments(m_sampleRaw), &error);
    QVERIFY2(error.error == QJsonParseError::NoError, qPrintable(error.errorString()));
    QVERIFY(doc.isObject());
    m_sample = doc.object();
    m_readme = readSource(QStringLiteral("README.md"));
    QVERIFY2(!m_readme.isEmpty(), "README.md is missing or empty");
    m_ciRun = readSource(QStringLiteral(".ci/run"));
    QVERIFY2(!m_ciRun.isEmpty(), ".ci/run is missing or empty");
    QVERIFY(!ConfigLoader::keys().isEmpty());
}

void TestDocs::keyRows()
{
    QTest::addColumn<int>("index");
    for (int i = 0; i < ConfigLoader::keys().size(); ++i)
        QTest::newRow(qPrintable(ConfigLoader::keys().at(i).path)) << i;
}

void TestDocs::keyDocumented_data()
{
    keyRows();
}

// Each key has its own table row ("| `server.max_body` | size | ..."), not just a mention.
void TestDocs::keyDocumented()
{
    QFETCH(int, index);
    const ConfigKey &key = ConfigLoader::keys().at(index);
    const QByteArray row = "| `" + key.path.toUtf8() + "` |";
    bool found = false;
    for (const QByteArray &line : m_configurationDoc.split('\n'))
        found = found || line.trimmed().startsWith(row);
    QVERIFY2(
        found,
        qPrintable(QStringLiteral("docs/configuration.md has no table row for %1").arg(key.path)));
}

void TestDocs::noStaleKeysInDocs()
{
    QSet<QString> known;
    for (const ConfigKey &key : ConfigLoader::keys())
        known.insert(key.path);
    static const QRegularExpression row(
        QStringLiteral("^\\|\\s*`([a-z_]+(?:\\.[a-z_]+)+)`\\s*\\|"));
    for (const QByteArray &line : m_configurationDoc.split('\n')) {
        const auto m = row.match(QString::fromUtf8(line).trimmed());
        if (m.hasMatch())
            QVERIFY2(
                known.contains(m.captured(1)),
                qPrintable(QStringLiteral("docs/configuration.md documents %1, which is not a key")
                               .arg(m.captured(1))));
    }
}

void TestDocs::keyInSample_data()
{
    keyRows();
}

// The sample sets every key, at its default.
void TestDocs::keyInSample()
{
    QFETCH(int, index);
    const ConfigKey &key = ConfigLoader::keys().at(index);
    const QJsonValue v = valueAt(m_sample, key.path);
    QVERIFY2(
        !v.isUndefined(),
        qPrintable(QStringLiteral("resources/bulwark.sample.json does not set %1").arg(key.path)));
    switch (key.kind) {
    case ConfigKey::Kind::Size:
    case ConfigKey::Kind::Duration:
        QCOMPARE(normalised(key.kind, v), normalised(key.kind, key.defaultValue));
        break;
    case ConfigKey::Kind::Integer:
    case ConfigKey::Kind::Real:
        QVERIFY(v.isDouble());
        QCOMPARE(v.toDouble(), key.defaultValue.toDouble());
        break;
    case ConfigKey::Kind::Bool:
        QVERIFY(v.isBool());
        QCOMPARE(v.toBool(), key.defaultValue.toBool());
        break;
    case ConfigKey::Kind::List:
        QVERIFY(v.isArray());
        QCOMPARE(v.toArray(), key.defaultValue.toArray());
        break;
    default: QVERIFY(v.isString()); QCOMPARE(v.toString(), key.defaultValue.toString());
    }
}

void TestDocs::sampleLoads()
{
    ConfigLoader::Sources sources;
    sources.file = sourceDir() + QStringLiteral("/resources/bulwark.sample.json");
    sources.environment = QProcessEnvironment(); // no BULWARK_* from the test's environment
    const auto loaded = ConfigLoader::load(sources);
    QVERIFY2(loaded, qPrintable(loaded ? QString() : loaded.error().join(QLatin1Char('\n'))));
}

void TestDocs::readmeStartsWithTheTwoCommands()
{
    const QStringList commands = readmeCommands(m_readme);
    QVERIFY2(commands.size() >= 2, "README.md shows fewer than two ./dev.sh commands");
    QCOMPARE(commands.at(0), QStringLiteral("./dev.sh run"));
    QCOMPARE(commands.at(1), QStringLiteral("./dev.sh test"));
    // "In the first lines": both come within the first 20 lines, before any section.
    const QList<QByteArray> lines = m_readme.split('\n');
    int seen = 0;
    int i = 0;
    for (; i < lines.size() && seen < 2; ++i) {
        const QByteArray line = lines.at(i).trimmed();
        if (line.startsWith("./dev.sh"))
            ++seen;
        else
            QVERIFY2(!line.startsWith("## "),
                     "README.md has a section before the two ./dev.sh commands");
    }
    QVERIFY2(seen == 2 && i <= 20,
             "the two ./dev.sh commands are not in the first 20 lines of README.md");
}

void TestDocs::ciRunsTheReadmeTestCommand()
{
    const QList<QByteArray> lines = m_ciRun.trimmed().split('\n');
    QVERIFY(lines.first().startsWith("#!"));
    QCOMPARE(QString::fromUtf8(lines.last().trimmed()), readmeCommands(m_readme).value(1));
}

QTEST_GUILESS_MAIN(TestDocs)
#include "tst_docs.moc"
