// SPDX-License-Identifier: GPL-3.0-or-later
// The one ErrorCode -> HTTP mapping: status and name of every code, the JSON error body
// {"error":{"code","message","request_id"}}, reason phrases, and the Result type.

#include "Error.h"
#include "ErrorMapping.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QSet>
#include <QTest>

using namespace bulwark;

namespace {
const QList<ErrorCode> kAllCodes = {
    ErrorCode::BadRequest,       ErrorCode::Unauthorized,
    ErrorCode::Forbidden,        ErrorCode::NotFound,
    ErrorCode::MethodNotAllowed, ErrorCode::RequestTimeout,
    ErrorCode::PayloadTooLarge,  ErrorCode::UriTooLong,
    ErrorCode::HeadersTooLarge,  ErrorCode::RateLimited,
    ErrorCode::Internal,         ErrorCode::NotImplemented,
    ErrorCode::Unavailable,      ErrorCode::VersionNotSupported, ErrorCode::Conflict,
    ErrorCode::PreconditionFailed, ErrorCode::Gone, ErrorCode::Unprocessable,
};
} // namespace

class TestErrorMapping : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void mapping_data()
    {
        QTest::addColumn<ErrorCode>("code");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("name");
        QTest::newRow("BadRequest") << ErrorCode::BadRequest << 400 << "bad_request";
        QTest::newRow("Unauthorized") << ErrorCode::Unauthorized << 401 << "unauthorized";
        QTest::newRow("Forbidden") << ErrorCode::Forbidden << 403 << "forbidden";
        QTest::newRow("NotFound") << ErrorCode::NotFound << 404 << "not_found";
        QTest::newRow("MethodNotAllowed")
            << ErrorCode::MethodNotAllowed << 405 << "method_not_allowed";
        QTest::newRow("RequestTimeout") << ErrorCode::RequestTimeout << 408 << "request_timeout";
        QTest::newRow("PayloadTooLarge")
            << ErrorCode::PayloadTooLarge << 413 << "payload_too_large";
        QTest::newRow("UriTooLong") << ErrorCode::UriTooLong << 414 << "uri_too_long";
        QTest::newRow("HeadersTooLarge")
            << ErrorCode::HeadersTooLarge << 431 << "headers_too_large";
        QTest::newRow("RateLimited") << ErrorCode::RateLimited << 429 << "rate_limited";
        QTest::newRow("Internal") << ErrorCode::Internal << 500 << "internal";
        QTest::newRow("NotImplemented") << ErrorCode::NotImplemented << 501 << "not_implemented";
        QTest::newRow("Unavailable") << ErrorCode::Unavailable << 503 << "unavailable";
        QTest::newRow("Conflict") << ErrorCode::Conflict << 409 << "conflict";
        QTest::newRow("PreconditionFailed")
            << ErrorCode::PreconditionFailed << 412 << "precondition_failed";
        QTest::newRow("Gone") << ErrorCode::Gone << 410 << "gone";
        QTest::newRow("Unprocessable") << ErrorCode::Unprocessable << 422 << "validation_failed";
        QTest::newRow("VersionNotSupported")
            << ErrorCode::VersionNotSupported << 505 << "http_version_not_supported";
    }
    void mapping()
    {
        QFETCH(ErrorCode, code);
        QFETCH(int, status);
        QFETCH(QString, name);
        QCOMPARE(httpStatusFor(code), status);
        QCOMPARE(errorCodeName(code), name);
        // Every mapped status has its own reason phrase.
        QVERIFY(bulwark::reasonPhrase(status) != QByteArray("Status"));

        const HttpResponse r = errorResponse(code, QStringLiteral("it failed"), "req-1");
        QCOMPARE(r.status, status);
        QCOMPARE(r.contentType, QByteArray("application/json"));
        QCOMPARE(r.header("Cache-Control"), QByteArray("no-store"));
        QCOMPARE(r.body, R"({"error":{"code":")" + name.toLatin1() +
                             R"(","message":"it failed","request_id":"req-1"}})");
    }

    void everyCodeCovered()
    {
        // The table above has one row per enumerator; names are unique.
        QSet<QString> names;
        QSet<int> statuses;
        for (ErrorCode c : kAllCodes) {
            names.insert(errorCodeName(c));
            statuses.insert(httpStatusFor(c));
        }
        QCOMPARE(names.size(), kAllCodes.size());
        QCOMPARE(statuses.size(), kAllCodes.size());
        QCOMPARE(int(ErrorCode::VersionNotSupported) + 1, int(kAllCodes.size()));
    }

    void bodyShape_data()
    {
        QTest::addColumn<QString>("message");
        QTest::addColumn<QByteArray>("requestId");
        QTest::newRow("with request id") << "no route for /x" << QByteArray("abc123");
        QTest::newRow("without request id") << "no route for /x" << QByteArray();
        QTest::newRow("quotes and newline") << "bad \"value\"\nhere \\ there" << QByteArray("r");
        QTest::newRow("unicode") << QString::fromUtf8("caf\xc3\xa9 \xe2\x9c\x93")
                                 << QByteArray("r");
        QTest::newRow("empty message") << "" << QByteArray("r");
    }
    void bodyShape()
    {
        QFETCH(QString, message);
        QFETCH(QByteArray, requestId);
        const HttpResponse r = errorResponse(ErrorCode::RateLimited, message, requestId);
        QCOMPARE(r.status, 429);
        QJsonParseError pe;
        const QJsonDocument doc = QJsonDocument::fromJson(r.body, &pe);
        QCOMPARE(pe.error, QJsonParseError::NoError);
        QVERIFY(doc.isObject());
        QCOMPARE(doc.object().keys(), QStringList{"error"});
        const QJsonObject error = doc.object().value("error").toObject();
        if (requestId.isEmpty()) {
            QCOMPARE(error.keys(), (QStringList{"code", "message"}));
        } else {
            QCOMPARE(error.keys(), (QStringList{"code", "message", "request_id"}));
            QCOMPARE(error.value("request_id").toString(), QString::fromLatin1(requestId));
        }
        QCOMPARE(error.value("code").toString(), QStringLiteral("rate_limited"));
        QCOMPARE(error.value("message").toString(), message);
    }

    void exactBodyWithoutRequestId()
    {
        const HttpResponse r =
            errorResponse(ErrorCode::NotFound, QStringLiteral("no route for /nope"));
        QCOMPARE(r.body,
                 QByteArray(R"({"error":{"code":"not_found","message":"no route for /nope"}})"));
        QCOMPARE(r.headers.size(), qsizetype(1)); // Cache-Control only
    }

    void reasonPhrases_data()
    {
        QTest::addColumn<int>("status");
        QTest::addColumn<QByteArray>("phrase");
        QTest::newRow("100") << 100 << QByteArray("Continue");
        QTest::newRow("200") << 200 << QByteArray("OK");
        QTest::newRow("201") << 201 << QByteArray("Created");
        QTest::newRow("204") << 204 << QByteArray("No Content");
        QTest::newRow("304") << 304 << QByteArray("Not Modified");
        QTest::newRow("400") << 400 << QByteArray("Bad Request");
        QTest::newRow("401") << 401 << QByteArray("Unauthorized");
        QTest::newRow("404") << 404 << QByteArray("Not Found");
        QTest::newRow("405") << 405 << QByteArray("Method Not Allowed");
        QTest::newRow("408") << 408 << QByteArray("Request Timeout");
        QTest::newRow("413") << 413 << QByteArray("Content Too Large");
        QTest::newRow("414") << 414 << QByteArray("URI Too Long");
        QTest::newRow("429") << 429 << QByteArray("Too Many Requests");
        QTest::newRow("431") << 431 << QByteArray("Request Header Fields Too Large");
        QTest::newRow("500") << 500 << QByteArray("Internal Server Error");
        QTest::newRow("501") << 501 << QByteArray("Not Implemented");
        QTest::newRow("503") << 503 << QByteArray("Service Unavailable");
        QTest::newRow("505") << 505 << QByteArray("HTTP Version Not Supported");
        QTest::newRow("unknown") << 299 << QByteArray("Status");
    }
    void reasonPhrases()
    {
        QFETCH(int, status);
        QFETCH(QByteArray, phrase);
        QCOMPARE(bulwark::reasonPhrase(status), phrase);
    }

    void result()
    {
        Result<int> ok(42);
        QVERIFY(ok.ok());
        QVERIFY(bool(ok));
        QCOMPARE(ok.value(), 42);

        Result<int> failed(Error{ErrorCode::Forbidden, QStringLiteral("no")});
        QVERIFY(!failed.ok());
        QCOMPARE(failed.error().code, ErrorCode::Forbidden);
        QCOMPARE(failed.error().message, QStringLiteral("no"));

        Result<QString, QStringList> list(QStringList{"a", "b"});
        QVERIFY(!list.ok());
        QCOMPARE(list.error(), (QStringList{"a", "b"}));

        QCOMPARE(Error{}.code, ErrorCode::Internal);
    }
};

QTEST_GUILESS_MAIN(TestErrorMapping)
#include "tst_errormapping.moc"
