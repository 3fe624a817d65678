// SPDX-License-Identifier: GPL-3.0-or-later
// RoutePattern: parse errors with their exact messages (no leading slash, a segment that is
// neither plain nor a {name}, "**" anywhere but last, "**" where the caller forbids it) and
// matching: literal segments, {name} (one non-empty segment), a trailing "/**" (the prefix
// itself and anything below it, but not a longer sibling like "/admin/apix"), "/**" (every
// path), and paths longer or shorter than the pattern.
#include "RoutePattern.h"

#include <QTest>

using namespace bulwark;

Q_DECLARE_METATYPE(RoutePattern::Rest)

class TestRoutePattern : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parseErrors_data();
    void parseErrors();
    void parseAccepts_data();
    void parseAccepts();
    void matching_data();
    void matching();
    void defaultConstructedMatchesNothing();
};

void TestRoutePattern::parseErrors_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<RoutePattern::Rest>("rest");
    QTest::addColumn<QString>("message");

    const auto allowed = RoutePattern::Rest::Allowed;
    const auto forbidden = RoutePattern::Rest::Forbidden;
    const QString noSlash = QStringLiteral("must be a path starting with /");
    QTest::newRow("empty") << QString() << allowed << noSlash;
    QTest::newRow("no leading slash") << QStringLiteral("api/v1") << allowed << noSlash;
    QTest::newRow("bare **") << QStringLiteral("**") << allowed << noSlash;
    QTest::newRow("unclosed brace")
        << QStringLiteral("/api/{x") << allowed
        << QStringLiteral("\"{x\" is neither a plain segment nor a {name}");
    QTest::newRow("closing brace only")
        << QStringLiteral("/api/x}") << allowed
        << QStringLiteral("\"x}\" is neither a plain segment nor a {name}");
    QTest::newRow("empty name") << QStringLiteral("/api/{}") << allowed
                                << QStringLiteral("\"{}\" is neither a plain segment nor a {name}");
    QTest::newRow("name starts with a digit")
        << QStringLiteral("/api/{1x}") << allowed
        << QStringLiteral("\"{1x}\" is neither a plain segment nor a {name}");
    QTest::newRow("name with a dash")
        << QStringLiteral("/api/{a-b}") << allowed
        << QStringLiteral("\"{a-b}\" is neither a plain segment nor a {name}");
    QTest::newRow("brace inside a segment")
        << QStringLiteral("/api/x{id}") << allowed
        << QStringLiteral("\"x{id}\" is neither a plain segment nor a {name}");
    QTest::newRow("star inside a segment")
        << QStringLiteral("/api/a*b") << allowed
        << QStringLiteral("\"a*b\" is neither a plain segment nor a {name}");
    QTest::newRow("single star") << QStringLiteral("/api/*") << allowed
                                 << QStringLiteral("\"*\" is neither a plain segment nor a {name}");
    QTest::newRow("** glued to text")
        << QStringLiteral("/api/**x") << allowed
        << QStringLiteral("\"**x\" is neither a plain segment nor a {name}");
    QTest::newRow("** not last") << QStringLiteral("/api/**/x") << allowed
                                 << QStringLiteral("\"**\" may only be the last segment");
    QTest::newRow("** twice") << QStringLiteral("/**/**") << allowed
                              << QStringLiteral("\"**\" may only be the last segment");
    QTest::newRow("** forbidden") << QStringLiteral("/admin/api/**") << forbidden
                                  << QStringLiteral("\"**\" is not allowed here; name the route");
    QTest::newRow("/** forbidden") << QStringLiteral("/**") << forbidden
                                   << QStringLiteral("\"**\" is not allowed here; name the route");
}

void TestRoutePattern::parseErrors()
{
    QFETCH(QString, text);
    QFETCH(RoutePattern::Rest, rest);
    QFETCH(QString, message);
    const auto p = RoutePattern::parse(text, rest);
    QVERIFY(!p.ok());
    QCOMPARE(p.error().code, ErrorCode::BadRequest);
    QCOMPARE(p.error().message, message);
}

void TestRoutePattern::parseAccepts_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<RoutePattern::Rest>("rest");

    QTest::newRow("root") << QStringLiteral("/") << RoutePattern::Rest::Forbidden;
    QTest::newRow("literal") << QStringLiteral("/api/v1/auth/login")
                             << RoutePattern::Rest::Forbidden;
    QTest::newRow("names") << QStringLiteral("/api/v1/{collection}/{id_2}")
                           << RoutePattern::Rest::Forbidden;
    QTest::newRow("dots and dashes")
        << QStringLiteral("/api/v1/me/export.json-x") << RoutePattern::Rest::Forbidden;
    QTest::newRow("rest") << QStringLiteral("/admin/api/**") << RoutePattern::Rest::Allowed;
    QTest::newRow("everything") << QStringLiteral("/**") << RoutePattern::Rest::Allowed;
    QTest::newRow("name then rest")
        << QStringLiteral("/api/v1/{collection}/**") << RoutePattern::Rest::Allowed;
}

void TestRoutePattern::parseAccepts()
{
    QFETCH(QString, text);
    QFETCH(RoutePattern::Rest, rest);
    const auto p = RoutePattern::parse(text, rest);
    QVERIFY2(p.ok(), qPrintable(p.ok() ? QString() : p.error().message));
    QCOMPARE(p.value().text(), text);
}

void TestRoutePattern::matching_data()
{
    QTest::addColumn<QString>("pattern");
    QTest::addColumn<QString>("path");
    QTest::addColumn<bool>("matches");

    // Literal segments compare exactly, whole segments only.
    QTest::newRow("literal equal") << "/api/v1/auth/login"
                                   << "/api/v1/auth/login" << true;
    QTest::newRow("literal other") << "/api/v1/auth/login"
                                   << "/api/v1/auth/logout" << false;
    QTest::newRow("literal case") << "/api/v1/auth/login"
                                  << "/api/v1/auth/LOGIN" << false;
    QTest::newRow("literal prefix of segment") << "/api/v1/auth/login"
                                               << "/api/v1/auth/log" << false;
    QTest::newRow("literal longer path") << "/api/v1/auth/login"
                                         << "/api/v1/auth/login/x" << false;
    QTest::newRow("literal trailing slash") << "/api/v1/auth/login"
                                            << "/api/v1/auth/login/" << false;
    QTest::newRow("literal shorter path") << "/api/v1/auth/login"
                                          << "/api/v1/auth" << false;
    QTest::newRow("root matches root") << "/"
                                       << "/" << true;
    QTest::newRow("root not below") << "/"
                                    << "/api" << false;
    // {name}: exactly one non-empty segment.
    QTest::newRow("name") << "/api/v1/{collection}"
                          << "/api/v1/activities" << true;
    QTest::newRow("two names") << "/api/v1/{collection}/{id}"
                               << "/api/v1/activities/12" << true;
    QTest::newRow("name empty segment") << "/api/v1/{collection}"
                                        << "/api/v1/" << false;
    QTest::newRow("name empty inner segment") << "/api/v1/{collection}/{id}"
                                              << "/api/v1//12" << false;
    QTest::newRow("name missing") << "/api/v1/{collection}"
                                  << "/api/v1" << false;
    QTest::newRow("name too deep") << "/api/v1/{collection}"
                                   << "/api/v1/activities/12" << false;
    QTest::newRow("name literal mismatch") << "/api/v1/{collection}"
                                           << "/api/v2/activities" << false;
    // A trailing "/**": the prefix itself and everything below it.
    QTest::newRow("rest: the prefix") << "/admin/api/**"
                                      << "/admin/api" << true;
    QTest::newRow("rest: prefix slash") << "/admin/api/**"
                                        << "/admin/api/" << true;
    QTest::newRow("rest: one below") << "/admin/api/**"
                                     << "/admin/api/stats" << true;
    QTest::newRow("rest: deep below") << "/admin/api/**"
                                      << "/admin/api/ratelimit/rules/x" << true;
    QTest::newRow("rest: sibling with prefix") << "/admin/api/**"
                                               << "/admin/apix" << false;
    QTest::newRow("rest: sibling below") << "/admin/api/**"
                                         << "/admin/apix/stats" << false;
    QTest::newRow("rest: parent") << "/admin/api/**"
                                  << "/admin" << false;
    QTest::newRow("rest: other") << "/admin/api/**"
                                 << "/api/v1/admin/api" << false;
    QTest::newRow("rest: root") << "/admin/api/**"
                                << "/" << false;
    QTest::newRow("rest after name") << "/api/v1/{collection}/**"
                                     << "/api/v1/activities/12/splits" << true;
    QTest::newRow("rest after name, name only") << "/api/v1/{collection}/**"
                                                << "/api/v1/activities" << true;
    QTest::newRow("rest after name, empty name") << "/api/v1/{collection}/**"
                                                 << "/api/v1/" << false;
    // "/**": every path.
    QTest::newRow("everything: root") << "/**"
                                      << "/" << true;
    QTest::newRow("everything: one") << "/**"
                                     << "/health" << true;
    QTest::newRow("everything: deep") << "/**"
                                      << "/api/v1/activities/12/splits" << true;
}

void TestRoutePattern::matching()
{
    QFETCH(QString, pattern);
    QFETCH(QString, path);
    QFETCH(bool, matches);
    const auto p = RoutePattern::parse(pattern, RoutePattern::Rest::Allowed);
    QVERIFY2(p.ok(), qPrintable(p.ok() ? QString() : p.error().message));
    QCOMPARE(p.value().matches(path), matches);
}

void TestRoutePattern::defaultConstructedMatchesNothing()
{
    const RoutePattern p;
    QVERIFY(!p.matches(u"/"));
    QVERIFY(!p.matches(u"/api"));
    QVERIFY(p.text().isEmpty());
}

QTEST_GUILESS_MAIN(TestRoutePattern)
#include "tst_routepattern.moc"
