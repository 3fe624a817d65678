// SPDX-License-Identifier: GPL-3.0-or-later
// `bulwark user ...` as the real executable (BULWARK_BINARY) on a temporary data directory:
// add (with --password-stdin), list as table and JSON, key (printed once, stored only as
// its hash), disable/enable, help texts, and the exit codes: 2 for usage and configuration
// errors, 1 for runtime failures (duplicate email, unknown user, database unreachable).
// One run against a real PostgreSQL from the harness shows the BULWARK_DB_* environment
// is honoured as by the server.
#include "Credentials.h"
#include "ExternalServers.h"

#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QtTest>

using namespace bulwark;
using namespace bulwark::test;

namespace {

QString binary()
{
    return qEnvironmentVariable("BULWARK_BINARY");
}

struct Run
{
    bool finished = false;
    int exitCode = -1;
    QProcess::ExitStatus exitStatus = QProcess::CrashExit;
    QString out;
    QString err;
};

// Runs `bulwark <args>` with only the BULWARK_* variables given in `extraEnv`.
Run run(const QStringList &args, const QByteArray &stdinData = {},
        const QHash<QString, QString> &extraEnv = {})
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const QString &name : env.keys())
        if (name.startsWith(QStringLiteral("BULWARK_")))
            env.remove(name);
    for (auto it = extraEnv.begin(); it != extraEnv.end(); ++it)
        env.insert(it.key(), it.value());
    QProcess proc;
    proc.setProcessEnvironment(env);
    proc.start(binary(), args);
    Run r;
    if (!proc.waitForStarted(10000))
        return r;
    if (!stdinData.isEmpty())
        proc.write(stdinData);
    proc.closeWriteChannel();
    r.finished = proc.waitForFinished(60000);
    if (!r.finished) {
        proc.kill();
        proc.waitForFinished(5000);
    }
    r.exitCode = proc.exitCode();
    r.exitStatus = proc.exitStatus();
    r.out = QString::fromUtf8(proc.readAllStandardOutput());
    r.err = QString::fromUtf8(proc.readAllStandardError());
    return r;
}

QString describe(const Run &r)
{
    return QStringLiteral("exit %1\nstdout: %2\nstderr: %3").arg(r.exitCode).arg(r.out, r.err);
}

} // namespace

class TestUserCommand : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void help();
    void addListKeyDisable();
    void usageErrors_data();
    void usageErrors();
    void databaseUnreachable();
    void worksOnPostgres();

private:
    QStringList dataDirArgs(const QTemporaryDir &dir) const
    {
        return {QStringLiteral("--data-dir"), dir.path()};
    }
};

void TestUserCommand::initTestCase()
{
    QVERIFY2(!binary().isEmpty(), "BULWARK_BINARY is not set (run through ctest)");
    QVERIFY2(QFileInfo(binary()).isExecutable(), qPrintable(binary()));
}

void TestUserCommand::help()
{
    const Run overview = run({QStringLiteral("user"), QStringLiteral("--help")});
    QVERIFY2(overview.finished && overview.exitCode == 0, qPrintable(describe(overview)));
    for (const char *word : {"add EMAIL", "list", "disable ID|EMAIL", "enable ID|EMAIL",
                             "key ID|EMAIL", "--config FILE", "--data-dir DIR", "Exit codes"})
        QVERIFY2(overview.out.contains(QLatin1String(word)), word);

    const Run add = run({QStringLiteral("user"), QStringLiteral("add"), QStringLiteral("--help")});
    QVERIFY2(add.finished && add.exitCode == 0, qPrintable(describe(add)));
    QVERIFY(add.out.contains(QStringLiteral("--password-stdin")));
    QVERIFY(add.out.contains(QStringLiteral("--role")));
    const Run key = run({QStringLiteral("user"), QStringLiteral("key"), QStringLiteral("-h")});
    QVERIFY2(key.finished && key.exitCode == 0, qPrintable(describe(key)));
    QVERIFY(key.out.contains(QStringLiteral("--expires DURATION")));
    QVERIFY(key.out.contains(QStringLiteral("shown only this")));

    const Run top = run({QStringLiteral("--help")});
    QCOMPARE(top.exitCode, 0);
    QVERIFY2(top.out.contains(QStringLiteral("bulwark user <command>")), qPrintable(top.out));
}

void TestUserCommand::addListKeyDisable()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QStringList common = dataDirArgs(dir);
    const QString user = QStringLiteral("user");

    const Run alice = run(QStringList{user, QStringLiteral("add"),
                                      QStringLiteral("Alice@Example.org"), QStringLiteral("--name"),
                                      QStringLiteral("Alice A."), QStringLiteral("--role"),
                                      QStringLiteral("admin"), QStringLiteral("--password-stdin")} +
                              common,
                          "horse-battery-staple\n");
    QVERIFY2(alice.finished && alice.exitCode == 0, qPrintable(describe(alice)));
    QVERIFY2(QRegularExpression(QStringLiteral("^\\d+\\n$")).match(alice.out).hasMatch(),
             qPrintable(alice.out));
    const qint64 aliceId = alice.out.trimmed().toLongLong();

    const Run bob =
        run(QStringList{user, QStringLiteral("add"), QStringLiteral("bob@example.org")} + common);
    QVERIFY2(bob.exitCode == 0, qPrintable(describe(bob)));
    const qint64 bobId = bob.out.trimmed().toLongLong();
    QVERIFY(bobId > aliceId);

    const Run dup =
        run(QStringList{user, QStringLiteral("add"), QStringLiteral("ALICE@example.org")} + common);
    QVERIFY2(dup.finished && dup.exitCode == 1, qPrintable(describe(dup)));
    QVERIFY2(dup.err.startsWith(QStringLiteral("bulwark: user: ")), qPrintable(dup.err));
    QVERIFY2(dup.err.contains(QStringLiteral("already exists")), qPrintable(dup.err));
    QVERIFY(dup.out.isEmpty());

    // The table: a header and one line per user, columns aligned.
    const Run table = run(QStringList{user, QStringLiteral("list")} + common);
    QVERIFY2(table.exitCode == 0, qPrintable(describe(table)));
    const QStringList lines = table.out.split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 3);
    QVERIFY2(lines.at(0).startsWith(QStringLiteral("ID")), qPrintable(table.out));
    const qsizetype emailColumn = lines.at(0).indexOf(QStringLiteral("EMAIL"));
    const qsizetype roleColumn = lines.at(0).indexOf(QStringLiteral("ROLE"));
    QVERIFY(emailColumn > 0 && roleColumn > emailColumn);
    QCOMPARE(lines.at(1).indexOf(QStringLiteral("alice@example.org")), emailColumn);
    QCOMPARE(lines.at(2).indexOf(QStringLiteral("bob@example.org")), emailColumn);
    QCOMPARE(lines.at(1).mid(roleColumn, 5), QStringLiteral("admin"));
    QCOMPARE(lines.at(2).mid(roleColumn, 4), QStringLiteral("user"));
    QVERIFY(lines.at(1).contains(QStringLiteral("Alice A.")));

    const Run json =
        run(QStringList{user, QStringLiteral("list"), QStringLiteral("--json")} + common);
    QVERIFY2(json.exitCode == 0, qPrintable(describe(json)));
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(json.out.toUtf8(), &pe);
    QVERIFY2(pe.error == QJsonParseError::NoError && doc.isArray(), qPrintable(json.out));
    const QJsonArray users = doc.array();
    QCOMPARE(users.size(), 2);
    const QJsonObject a = users.at(0).toObject();
    QCOMPARE(a.value("id").toInteger(), aliceId);
    QCOMPARE(a.value("email").toString(), QStringLiteral("alice@example.org"));
    QCOMPARE(a.value("display_name").toString(), QStringLiteral("Alice A."));
    QCOMPARE(a.value("role").toString(), QStringLiteral("admin"));
    QCOMPARE(a.value("disabled").toBool(), false);
    QCOMPARE(a.value("has_password").toBool(), true);
    QVERIFY(QDateTime::fromString(a.value("created_at").toString(), Qt::ISODateWithMs).isValid());
    QCOMPARE(users.at(1).toObject().value("has_password").toBool(), false);

    // A key: printed once on stdout, the notice on stderr, only the hash in the database.
    const Run key =
        run(QStringList{user, QStringLiteral("key"), QStringLiteral("alice@example.org"),
                        QStringLiteral("--name"), QStringLiteral("ci"), QStringLiteral("--expires"),
                        QStringLiteral("720h")} +
            common);
    QVERIFY2(key.exitCode == 0, qPrintable(describe(key)));
    const QString token = key.out.trimmed();
    QVERIFY2(QRegularExpression(QStringLiteral("^bwk_[A-Za-z0-9_-]{43}$")).match(token).hasMatch(),
             qPrintable(key.out));
    QVERIFY2(key.err.contains(QStringLiteral("shown only once")), qPrintable(key.err));
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), "check");
        db.setDatabaseName(dir.filePath(QStringLiteral("bulwark.db")));
        QVERIFY(db.open());
        QSqlQuery q(db);
        QVERIFY(q.exec(QStringLiteral("SELECT user_id, name, key_hash, expires_at FROM api_keys")));
        QVERIFY(q.next());
        QCOMPARE(q.value(0).toLongLong(), aliceId);
        QCOMPARE(q.value(1).toString(), QStringLiteral("ci"));
        QCOMPARE(q.value(2).toString().toLatin1(), Credentials::apiKeyHash(token.toLatin1()));
        const QDateTime expires = QDateTime::fromString(q.value(3).toString(), Qt::ISODateWithMs);
        const qint64 days = QDateTime::currentDateTimeUtc().daysTo(expires);
        QVERIFY2(days >= 29 && days <= 30, qPrintable(q.value(3).toString()));
        QVERIFY(!q.next());
    }
    QSqlDatabase::removeDatabase(QStringLiteral("check"));

    // Disable by id, enable by email.
    const Run disable =
        run(QStringList{user, QStringLiteral("disable"), QString::number(bobId)} + common);
    QVERIFY2(disable.exitCode == 0, qPrintable(describe(disable)));
    QVERIFY2(disable.out.contains(QStringLiteral("bob@example.org")) &&
                 disable.out.contains(QStringLiteral("disabled")),
             qPrintable(disable.out));
    const Run again = run(
        QStringList{user, QStringLiteral("disable"), QStringLiteral("bob@example.org")} + common);
    QVERIFY2(again.exitCode == 0 && again.out.contains(QStringLiteral("already")),
             qPrintable(describe(again)));
    const Run listed =
        run(QStringList{user, QStringLiteral("list"), QStringLiteral("--json")} + common);
    QCOMPARE(
        QJsonDocument::fromJson(listed.out.toUtf8()).array().at(1).toObject().value("disabled"),
        QJsonValue(true));
    const Run table2 = run(QStringList{user, QStringLiteral("list")} + common);
    QVERIFY2(table2.out.contains(QStringLiteral("disabled")), qPrintable(table2.out));
    const Run enable = run(
        QStringList{user, QStringLiteral("enable"), QStringLiteral("bob@example.org")} + common);
    QVERIFY2(enable.exitCode == 0 && enable.out.contains(QStringLiteral("enabled")),
             qPrintable(describe(enable)));

    const Run unknown =
        run(QStringList{user, QStringLiteral("disable"), QStringLiteral("nobody@example.org")} +
            common);
    QVERIFY2(unknown.exitCode == 1, qPrintable(describe(unknown)));
    QVERIFY2(unknown.err.startsWith(QStringLiteral("bulwark: user: ")), qPrintable(unknown.err));
    const Run noKey =
        run(QStringList{user, QStringLiteral("key"), QStringLiteral("424242")} + common);
    QVERIFY2(noKey.exitCode == 1 && noKey.out.isEmpty(), qPrintable(describe(noKey)));
}

void TestUserCommand::usageErrors_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<QString>("message");
    QTest::newRow("no command") << QStringList{} << QByteArray() << "Usage: bulwark user";
    QTest::newRow("unknown command") << QStringList{"frob"} << QByteArray() << "unknown command";
    QTest::newRow("option first") << QStringList{"--json", "list"} << QByteArray()
                                  << "give the command first";
    QTest::newRow("add without email")
        << QStringList{"add"} << QByteArray() << "add: missing EMAIL";
    QTest::newRow("add bad email")
        << QStringList{"add", "not-an-email"} << QByteArray() << "not a valid email";
    QTest::newRow("add bad role") << QStringList{"add", "a@example.org", "--role", "root"}
                                  << QByteArray() << "--role";
    QTest::newRow("add empty password") << QStringList{"add", "a@example.org", "--password-stdin"}
                                        << QByteArray("\n") << "password is empty";
    QTest::newRow("add no password line")
        << QStringList{"add", "a@example.org", "--password-stdin"} << QByteArray() << "no line";
    QTest::newRow("unknown option") << QStringList{"list", "--bogus"} << QByteArray() << "bogus";
    QTest::newRow("list extra argument")
        << QStringList{"list", "extra"} << QByteArray() << "unexpected argument";
    QTest::newRow("key without user")
        << QStringList{"key"} << QByteArray() << "key: missing ID|EMAIL";
    QTest::newRow("key bad duration")
        << QStringList{"key", "1", "--expires", "soon"} << QByteArray() << "--expires";
    QTest::newRow("missing config file")
        << QStringList{"list", "--config", "/nonexistent/bulwark.json"} << QByteArray()
        << "/nonexistent/bulwark.json";
}

void TestUserCommand::usageErrors()
{
    QFETCH(QStringList, args);
    QFETCH(QByteArray, input);
    QFETCH(QString, message);
    QTemporaryDir dir;
    const Run r = run(QStringList{QStringLiteral("user")} + args +
                          (args.isEmpty() ? QStringList() : dataDirArgs(dir)),
                      input);
    QVERIFY2(r.finished && r.exitStatus == QProcess::NormalExit, qPrintable(describe(r)));
    QVERIFY2(r.exitCode == 2, qPrintable(describe(r)));
    QVERIFY2(r.err.contains(message), qPrintable(r.err));
    QVERIFY2(r.err.startsWith(QStringLiteral("bulwark: user: ")), qPrintable(r.err));
    QVERIFY(r.out.isEmpty());
}

void TestUserCommand::databaseUnreachable()
{
    QTemporaryDir dir;
    const QHash<QString, QString> env{
        {QStringLiteral("BULWARK_DB_DRIVER"), QStringLiteral("postgres")},
        {QStringLiteral("BULWARK_DB_POSTGRES_PORT"), QString::number(freeLoopbackPort())},
        {QStringLiteral("BULWARK_DB_POOL_ACQUIRE_TIMEOUT"), QStringLiteral("1s")},
    };
    const Run r = run(
        QStringList{QStringLiteral("user"), QStringLiteral("list")} + dataDirArgs(dir), {}, env);
    QVERIFY2(r.finished && r.exitCode == 1, qPrintable(describe(r)));
    QVERIFY2(r.err.startsWith(QStringLiteral("bulwark: user: ")), qPrintable(r.err));
    QVERIFY2(r.err.contains(QStringLiteral("unreachable")), qPrintable(r.err));
}

void TestUserCommand::worksOnPostgres()
{
    PostgresServer pg;
    QVERIFY2(pg.start(), qPrintable(pg.errorString()));
    QTemporaryDir dir;
    const QHash<QString, QString> env{
        {QStringLiteral("BULWARK_DB_DRIVER"), QStringLiteral("postgres")},
        {QStringLiteral("BULWARK_DB_POSTGRES_HOST"), pg.host()},
        {QStringLiteral("BULWARK_DB_POSTGRES_PORT"), QString::number(pg.port())},
        {QStringLiteral("BULWARK_DB_POSTGRES_USER"), pg.user()},
        {QStringLiteral("BULWARK_DB_POSTGRES_NAME"), pg.database()},
    };
    const QStringList common = dataDirArgs(dir);
    const Run add =
        run(QStringList{QStringLiteral("user"), QStringLiteral("add"),
                        QStringLiteral("pg@example.org"), QStringLiteral("--password-stdin")} +
                common,
            "pw\n", env);
    QVERIFY2(add.exitCode == 0, qPrintable(describe(add)));
    const Run key = run(QStringList{QStringLiteral("user"), QStringLiteral("key"),
                                    QStringLiteral("pg@example.org"), QStringLiteral("--expires"),
                                    QStringLiteral("90m")} +
                            common,
                        {}, env);
    QVERIFY2(key.exitCode == 0 && key.out.startsWith(QStringLiteral("bwk_")),
             qPrintable(describe(key)));
    const Run list =
        run(QStringList{QStringLiteral("user"), QStringLiteral("list"), QStringLiteral("--json")} +
                common,
            {}, env);
    QVERIFY2(list.exitCode == 0, qPrintable(describe(list)));
    const QJsonArray users = QJsonDocument::fromJson(list.out.toUtf8()).array();
    QCOMPARE(users.size(), 1);
    QCOMPARE(users.at(0).toObject().value("email").toString(), QStringLiteral("pg@example.org"));
    QVERIFY(!QFileInfo::exists(dir.filePath(QStringLiteral("bulwark.db")))); // not SQLite
    pg.stop();
}

QTEST_GUILESS_MAIN(TestUserCommand)
#include "tst_user_command.moc"
