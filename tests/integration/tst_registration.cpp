// SPDX-License-Identifier: GPL-3.0-or-later
// Self-service registration, POST /api/v1/auth/register, black-box over HTTP against the
// real server (TestServer, SQLite):
//
//   - closed by default: 403 forbidden, before the body is looked at, and no account made;
//   - open (api.open_registration): 201 with {"id", "email"}, Location: /api/v1/me and
//     Cache-Control: no-store, no API key needed; the new account logs in through
//     POST /api/v1/auth/login and GET /api/v1/me shows the role "user", also when the body
//     asks for "admin";
//   - a taken email (in any case) is 409 and leaves the existing account as it was;
//   - each bad body (data rows) is 400 with its own message, and makes no account.
//
// The rules themselves are UserStore::checkNewUser's (shared with `bulwark user add`), so
// the rows here are about the HTTP wording and status, not an exhaustive list of addresses.
// Every registration and login costs a PBKDF2 run (600 000 iterations, ~0.3 s): the test
// keeps them few.
#include "TestSupport.h"

#include <QJsonDocument>
#include <QtTest>

using namespace bulwark;
using namespace bulwark::test;

namespace {

const QString kRegister = QStringLiteral("/api/v1/auth/register");
const QString kLogin = QStringLiteral("/api/v1/auth/login");
const QString kClosed = QStringLiteral("registration is closed (api.open_registration is false)");
const QString kExpectedBody = QStringLiteral(
    "body: expected {\"email\": ..., \"password\": ..., \"display_name\": ... (optional)}");

QString describe(const RawResponse &r)
{
    return QStringLiteral("%1 %2").arg(r.status).arg(QString::fromUtf8(r.body.left(600)));
}

QString errorMessage(const RawResponse &r)
{
    return r.json()
        .value(QStringLiteral("error"))
        .toObject()
        .value(QStringLiteral("message"))
        .toString();
}

// A POST with exactly these body bytes (apiRequest only sends JSON objects).
RawResponse postRaw(quint16 port, const QString &target, const QByteArray &body)
{
    RawResponse r;
    RawHttpClient client;
    if (!client.connectTo(port) ||
        !client.send(request("POST", target.toUtf8(),
                             "Connection: close\r\nContent-Type: application/json\r\n", body)) ||
        !client.readResponse(&r, 10000)) {
        r = RawResponse();
        r.body = client.errorString().toUtf8();
    }
    return r;
}

QJsonObject credentials(const QString &email, const QString &password)
{
    return QJsonObject{{QStringLiteral("email"), email}, {QStringLiteral("password"), password}};
}

} // namespace

class TestRegistration : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup();
    void closedByDefault();
    void registerThenLogin();
    void roleIsAlwaysUser();
    void duplicateEmail();
    void badInput_data();
    void badInput();

private:
    // Starts m_server with api.open_registration as given (the rate limiter off: it allows
    // only a few registrations per address and hour, and every request here comes from
    // 127.0.0.1).
    void startServer(bool openRegistration);
    // The number of accounts in the server's database.
    qsizetype userCount();

    std::unique_ptr<TestServer> m_server;
};

void TestRegistration::startServer(bool openRegistration)
{
    m_server = std::make_unique<TestServer>();
    m_server->config.ratelimit.enabled = false;
    if (openRegistration)
        m_server->config.api.openRegistration = true;
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
}

qsizetype TestRegistration::userCount()
{
    const auto users = m_server->app()->users()->listUsers();
    // The store used a pool connection of the test's thread: give it back.
    m_server->app()->pool()->closeThreadConnections();
    if (!users.ok()) {
        QTest::qFail(qPrintable(users.error().message), __FILE__, __LINE__);
        return -1;
    }
    return users.value().size();
}

void TestRegistration::cleanup()
{
    m_server.reset();
}

void TestRegistration::closedByDefault()
{
    BULWARK_CHECK(startServer(false));
    QVERIFY(!m_server->config.api.openRegistration); // the default, not set by the test

    const RawResponse r =
        apiRequest(m_server->port(), "POST", kRegister, {},
                   credentials(QStringLiteral("eve@example.org"), QStringLiteral("secret pw")));
    BULWARK_CHECK(verifyJsonError(r, 403, QStringLiteral("forbidden")));
    QCOMPARE(errorMessage(r), kClosed);
    QCOMPARE(r.header("Cache-Control"), QByteArray("no-store"));
    // Not a 401: the route is public even while closed, so the answer says why.
    QVERIFY(!r.hasHeader("WWW-Authenticate"));

    // Closed is checked first: a bad body gets the same answer, nothing about the body.
    const RawResponse garbage = postRaw(m_server->port(), kRegister, "{not json");
    BULWARK_CHECK(verifyJsonError(garbage, 403, QStringLiteral("forbidden")));
    QCOMPARE(errorMessage(garbage), kClosed);

    QCOMPARE(userCount(), 0);
}

void TestRegistration::registerThenLogin()
{
    BULWARK_CHECK(startServer(true));
    const QString password = QStringLiteral("correct horse battery staple");
    QJsonObject body = credentials(QStringLiteral("  Ana.New@Example.ORG "), password);
    body.insert(QStringLiteral("display_name"), QStringLiteral("  Ana  "));

    // No Authorization header: the route is public.
    const RawResponse created = apiRequest(m_server->port(), "POST", kRegister, {}, body);
    QVERIFY2(created.status == 201, qPrintable(describe(created)));
    QCOMPARE(created.header("Location"), QByteArray("/api/v1/me"));
    QCOMPARE(created.header("Cache-Control"), QByteArray("no-store"));
    QVERIFY2(created.header("Content-Type").startsWith("application/json"),
             created.header("Content-Type").constData());
    const QJsonObject account = created.json();
    QCOMPARE(account.size(), 2);
    const qint64 id = account.value(QStringLiteral("id")).toInteger();
    QVERIFY2(id > 0, created.body.constData());
    // Stored and answered as `bulwark user add` stores it: trimmed, lower case.
    QCOMPARE(account.value(QStringLiteral("email")).toString(),
             QStringLiteral("ana.new@example.org"));

    const RawResponse login =
        apiRequest(m_server->port(), "POST", kLogin, {},
                   credentials(QStringLiteral("ANA.NEW@example.org"), password));
    QVERIFY2(login.status == 200, qPrintable(describe(login)));
    const QByteArray token = login.json().value(QStringLiteral("token")).toString().toLatin1();
    QVERIFY2(token.startsWith("bwk_"), login.body.constData());

    const RawResponse me = apiRequest(m_server->port(), "GET", QStringLiteral("/api/v1/me"), token);
    QVERIFY2(me.status == 200, qPrintable(describe(me)));
    const QJsonObject user = me.json();
    QCOMPARE(user.value(QStringLiteral("id")).toInteger(), id);
    QCOMPARE(user.value(QStringLiteral("email")).toString(), QStringLiteral("ana.new@example.org"));
    QCOMPARE(user.value(QStringLiteral("display_name")).toString(), QStringLiteral("Ana"));
    QCOMPARE(user.value(QStringLiteral("role")).toString(), QStringLiteral("user"));

    // A wrong password is still refused: the account has the password it was given.
    const RawResponse wrong =
        apiRequest(m_server->port(), "POST", kLogin, {},
                   credentials(QStringLiteral("ana.new@example.org"), QStringLiteral("nope")));
    BULWARK_CHECK(verifyJsonError(wrong, 401, QStringLiteral("unauthorized")));
}

void TestRegistration::roleIsAlwaysUser()
{
    BULWARK_CHECK(startServer(true));
    // Members the endpoint does not know are ignored; "role" in particular grants nothing.
    QJsonObject body = credentials(QStringLiteral("mallory@example.org"), QStringLiteral("pw"));
    body.insert(QStringLiteral("role"), QStringLiteral("admin"));
    body.insert(QStringLiteral("admin"), true);
    const RawResponse created = apiRequest(m_server->port(), "POST", kRegister, {}, body);
    QVERIFY2(created.status == 201, qPrintable(describe(created)));
    const qint64 id = created.json().value(QStringLiteral("id")).toInteger();

    // Without a display_name the account has an empty one. Its role, read with a key made
    // through the store (one PBKDF2 login fewer): "user".
    const QByteArray token = newTestKey(*m_server->app(), id);
    QVERIFY(!token.isEmpty());
    const RawResponse me = apiRequest(m_server->port(), "GET", QStringLiteral("/api/v1/me"), token);
    QVERIFY2(me.status == 200, qPrintable(describe(me)));
    QCOMPARE(me.json().value(QStringLiteral("role")).toString(), QStringLiteral("user"));
    QCOMPARE(me.json().value(QStringLiteral("display_name")).toString(), QString());
}

void TestRegistration::duplicateEmail()
{
    BULWARK_CHECK(startServer(true));
    const RawResponse first = apiRequest(
        m_server->port(), "POST", kRegister, {},
        credentials(QStringLiteral("bob@example.org"), QStringLiteral("first password")));
    QVERIFY2(first.status == 201, qPrintable(describe(first)));

    // The same address in another case is the same account.
    const RawResponse second = apiRequest(
        m_server->port(), "POST", kRegister, {},
        credentials(QStringLiteral("BOB@Example.org"), QStringLiteral("second password")));
    BULWARK_CHECK(verifyJsonError(second, 409, QStringLiteral("conflict")));
    QCOMPARE(errorMessage(second),
             QStringLiteral("email: an account with this email address already exists"));
    QCOMPARE(second.header("Cache-Control"), QByteArray("no-store"));
    // Nothing but code, message and request id: no user id, no account detail.
    QCOMPARE(second.json().value(QStringLiteral("error")).toObject().keys(),
             (QStringList{QStringLiteral("code"), QStringLiteral("message"),
                          QStringLiteral("request_id")}));

    // The existing account is untouched: its password still works, the second one does not.
    QCOMPARE(userCount(), 1);
    const RawResponse old = apiRequest(
        m_server->port(), "POST", kLogin, {},
        credentials(QStringLiteral("bob@example.org"), QStringLiteral("first password")));
    QVERIFY2(old.status == 200, qPrintable(describe(old)));
    const RawResponse taken = apiRequest(
        m_server->port(), "POST", kLogin, {},
        credentials(QStringLiteral("bob@example.org"), QStringLiteral("second password")));
    BULWARK_CHECK(verifyJsonError(taken, 401, QStringLiteral("unauthorized")));
}

void TestRegistration::badInput_data()
{
    QTest::addColumn<QByteArray>("body");
    // The whole error message, or (wholeMessage false) how it starts.
    QTest::addColumn<QString>("message");
    QTest::addColumn<bool>("wholeMessage");

    const auto json = [](const QJsonObject &o) {
        return QJsonDocument(o).toJson(QJsonDocument::Compact);
    };
    const auto withEmail = [&](const QString &email) {
        return json(credentials(email, QStringLiteral("a fine password")));
    };
    const auto badEmail = [](const QString &email) {
        return QStringLiteral("email: '%1' is not a valid email address: it needs exactly one "
                              "'@' with text on both sides, no spaces, at most 254 characters")
            .arg(email);
    };

    QTest::newRow("invalid JSON") << QByteArray("{\"email\": ") << "body: invalid JSON at byte"
                                  << false;
    QTest::newRow("empty body") << QByteArray() << "body: invalid JSON at byte" << false;
    QTest::newRow("array") << QByteArray("[]") << "body: expected a JSON object" << true;
    QTest::newRow("no email") << json({{"password", "a fine password"}}) << kExpectedBody << true;
    QTest::newRow("no password") << json({{"email", "pat@example.org"}}) << kExpectedBody << true;
    QTest::newRow("email not a string")
        << json({{"email", 42}, {"password", "a fine password"}}) << kExpectedBody << true;
    QTest::newRow("password not a string")
        << json({{"email", "pat@example.org"}, {"password", QJsonValue::Null}}) << kExpectedBody
        << true;
    QTest::newRow("display_name not a string")
        << json({{"email", "pat@example.org"},
                 {"password", "a fine password"},
                 {"display_name", QJsonObject{{"first", "Pat"}}}})
        << "display_name: expected a string" << true;
    QTest::newRow("empty email") << withEmail(QString()) << badEmail(QString()) << true;
    QTest::newRow("no @") << withEmail("pat.example.org") << badEmail("pat.example.org") << true;
    QTest::newRow("two @") << withEmail("pat@home@example.org") << badEmail("pat@home@example.org")
                           << true;
    QTest::newRow("nothing before @")
        << withEmail("@example.org") << badEmail("@example.org") << true;
    QTest::newRow("nothing after @") << withEmail("pat@") << badEmail("pat@") << true;
    QTest::newRow("space inside") << withEmail("pat smith@example.org")
                                  << badEmail("pat smith@example.org") << true;
    const QString tooLong = QStringLiteral("a@") + QString(253, QLatin1Char('b')); // 255
    QTest::newRow("email too long") << withEmail(tooLong) << badEmail(tooLong) << true;
    QTest::newRow("empty password")
        << json(credentials(QStringLiteral("pat@example.org"), QString()))
        << "password: the password is empty" << true;
}

void TestRegistration::badInput()
{
    QFETCH(QByteArray, body);
    QFETCH(QString, message);
    QFETCH(bool, wholeMessage);
    BULWARK_CHECK(startServer(true)); // a fresh one per row (cleanup() ends each)

    const RawResponse r = postRaw(m_server->port(), kRegister, body);
    BULWARK_CHECK(verifyJsonError(r, 400, QStringLiteral("bad_request")));
    if (wholeMessage)
        QCOMPARE(errorMessage(r), message);
    else
        QVERIFY2(errorMessage(r).startsWith(message), qPrintable(describe(r)));
    QCOMPARE(r.header("Cache-Control"), QByteArray("no-store"));
    QCOMPARE(userCount(), 0); // and no account made
}

QTEST_GUILESS_MAIN(TestRegistration)
#include "tst_registration.moc"
