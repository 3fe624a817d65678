// SPDX-License-Identifier: GPL-3.0-or-later
// Pipeline stages driven through a Pipeline over a Router with test routes: gzip
// compression (Accept-Encoding q-values, types, min size, Vary, round trip), request ids,
// bearer auth under a prefix, and security headers (HSTS only under TLS).

#include "Pipeline.h"
#include "Router.h"
#include "Stages.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QSet>
#include <QTest>
#include <zlib.h>

using namespace bulwark;

namespace {

const QByteArray kToken = "s3cr3t-t0ken-0123456789abcdefABCDEF";

// gzip (RFC 1952) decoder, independent of the code under test.
QByteArray gunzip(const QByteArray &data, bool *ok)
{
    *ok = false;
    z_stream zs{};
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return {};
    QByteArray out;
    char buf[16384];
    zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.constData()));
    zs.avail_in = uInt(data.size());
    int rc = Z_OK;
    while (rc == Z_OK) {
        zs.next_out = reinterpret_cast<Bytef *>(buf);
        zs.avail_out = sizeof buf;
        rc = inflate(&zs, Z_NO_FLUSH);
        out.append(buf, qsizetype(sizeof buf - zs.avail_out));
    }
    *ok = rc == Z_STREAM_END && zs.avail_in == 0;
    inflateEnd(&zs);
    return out;
}

QByteArray textOfSize(int n)
{
    QByteArray out;
    const QByteArray line = "{\"id\": 12345, \"name\": \"a compressible line of JSON-ish text\"}\n";
    while (out.size() < n)
        out += line;
    out.truncate(n);
    return out;
}

QByteArray randomBytes(int n)
{
    QRandomGenerator rng(42); // fixed seed: the same bytes in every run
    QByteArray out(n, Qt::Uninitialized);
    for (int i = 0; i < n; ++i)
        out[i] = char(rng.bounded(256));
    return out;
}

int countHeader(const HttpResponse &r, QByteArrayView name)
{
    int n = 0;
    for (const auto &[k, v] : r.headers)
        if (QByteArrayView(k).compare(name, Qt::CaseInsensitive) == 0)
            ++n;
    return n;
}

} // namespace

class TestStages : public QObject
{
    Q_OBJECT

private:
    Router m_router;

    static RequestContext request(const QByteArray &method, const QString &path,
                                  QList<std::pair<QByteArray, QByteArray>> headers = {})
    {
        RequestContext ctx;
        ctx.request.method = method;
        ctx.request.path = path;
        ctx.request.setHeaders(headers);
        return ctx;
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_router.add("GET", "/text/{size}", [](RequestContext &ctx) {
            return HttpResponse::bytes(textOfSize(ctx.pathParams.value("size").toInt()),
                                       "text/plain; charset=utf-8");
        });
        m_router.add("GET", "/json/{size}", [](RequestContext &ctx) {
            return HttpResponse::bytes(textOfSize(ctx.pathParams.value("size").toInt()),
                                       "application/json");
        });
        m_router.add("GET", "/png", [](RequestContext &) {
            return HttpResponse::bytes(QByteArray(4096, '\0'), "image/png");
        });
        m_router.add("GET", "/random", [](RequestContext &) {
            return HttpResponse::bytes(randomBytes(4096), "text/plain");
        });
        m_router.add("GET", "/encoded", [](RequestContext &) {
            HttpResponse r = HttpResponse::bytes(textOfSize(4096), "text/plain");
            r.setHeader("Content-Encoding", "br");
            return r;
        });
        m_router.add("GET", "/echo-id", [](RequestContext &ctx) {
            return HttpResponse::bytes(ctx.requestId, "text/plain");
        });
        const auto ok = [](RequestContext &) { return HttpResponse::bytes("ok", "text/plain"); };
        m_router.add("GET", "/admin/api/x", ok);
        m_router.add("GET", "/admin/apix", ok);
        m_router.add("GET", "/public", ok);
        m_router.add("GET", "/csp", [](RequestContext &) {
            HttpResponse r = HttpResponse::bytes("<p>", "text/html");
            r.setHeader("Content-Security-Policy", "default-src 'self'");
            return r;
        });
    }

    // ---------------------------------------------------------------- compression

    void acceptsGzip_data()
    {
        QTest::addColumn<QByteArray>("acceptEncoding");
        QTest::addColumn<bool>("accepts");
        QTest::newRow("gzip") << QByteArray("gzip") << true;
        QTest::newRow("GZIP") << QByteArray("GZIP") << true;
        QTest::newRow("x-gzip") << QByteArray("x-gzip") << true;
        QTest::newRow("gzip;q=0") << QByteArray("gzip;q=0") << false;
        QTest::newRow("gzip; q=0.000") << QByteArray("gzip; q=0.000") << false;
        QTest::newRow("gzip;q=0.001") << QByteArray("gzip;q=0.001") << true;
        QTest::newRow("*") << QByteArray("*") << true;
        QTest::newRow("*;q=0") << QByteArray("*;q=0") << false;
        QTest::newRow("identity") << QByteArray("identity") << false;
        QTest::newRow("br, gzip;q=0.5") << QByteArray("br, gzip;q=0.5") << true;
        QTest::newRow("deflate, gzip, br") << QByteArray("deflate, gzip, br") << true;
        QTest::newRow("deflate, br") << QByteArray("deflate, br") << false;
        QTest::newRow("* then gzip;q=0") << QByteArray("*, gzip;q=0") << false;
        QTest::newRow("gzip;q=0 then *") << QByteArray("gzip;q=0, *") << false;
        QTest::newRow("br;q=1, *;q=0.1") << QByteArray("br;q=1, *;q=0.1") << true;
        QTest::newRow("empty") << QByteArray() << false;
        QTest::newRow("gzipped is not gzip") << QByteArray("gzipped") << false;
    }
    void acceptsGzip()
    {
        QFETCH(QByteArray, acceptEncoding);
        QFETCH(bool, accepts);
        QCOMPARE(CompressionStage::acceptsGzip(acceptEncoding), accepts);
    }

    void isCompressible_data()
    {
        QTest::addColumn<QByteArray>("contentType");
        QTest::addColumn<bool>("compressible");
        QTest::newRow("text/plain") << QByteArray("text/plain") << true;
        QTest::newRow("text/html charset") << QByteArray("text/html; charset=utf-8") << true;
        QTest::newRow("text/csv") << QByteArray("text/csv") << true;
        QTest::newRow("application/json") << QByteArray("application/json") << true;
        QTest::newRow("Application/JSON") << QByteArray("Application/JSON") << true;
        QTest::newRow("problem+json") << QByteArray("application/problem+json") << true;
        QTest::newRow("javascript") << QByteArray("application/javascript") << true;
        QTest::newRow("xml") << QByteArray("application/xml") << true;
        QTest::newRow("atom+xml") << QByteArray("application/atom+xml") << true;
        QTest::newRow("svg") << QByteArray("image/svg+xml") << true;
        QTest::newRow("ndjson") << QByteArray("application/x-ndjson") << true;
        QTest::newRow("png") << QByteArray("image/png") << false;
        QTest::newRow("octet-stream") << QByteArray("application/octet-stream") << false;
        QTest::newRow("gzip") << QByteArray("application/gzip") << false;
        QTest::newRow("jsonp lookalike") << QByteArray("application/jsonx") << false;
        QTest::newRow("empty") << QByteArray() << false;
    }
    void isCompressible()
    {
        QFETCH(QByteArray, contentType);
        QFETCH(bool, compressible);
        QCOMPARE(CompressionStage::isCompressible(contentType), compressible);
    }

    void compression_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QByteArray>("acceptEncoding");
        QTest::addColumn<bool>("compressed");
        QTest::addColumn<bool>("vary");

        QTest::newRow("large text, gzip")
            << "/text/4096" << QByteArray("gzip, deflate") << true << true;
        QTest::newRow("large json, gzip") << "/json/4096" << QByteArray("gzip") << true << true;
        QTest::newRow("exactly min size") << "/text/1024" << QByteArray("gzip") << true << true;
        QTest::newRow("one below min size") << "/text/1023" << QByteArray("gzip") << false << false;
        QTest::newRow("small") << "/text/100" << QByteArray("gzip") << false << false;
        QTest::newRow("large text, no Accept-Encoding")
            << "/text/4096" << QByteArray() << false << true;
        QTest::newRow("large text, gzip refused")
            << "/text/4096" << QByteArray("gzip;q=0, br") << false << true;
        QTest::newRow("large text, wildcard") << "/text/4096" << QByteArray("*") << true << true;
        QTest::newRow("image") << "/png" << QByteArray("gzip") << false << false;
        QTest::newRow("incompressible") << "/random" << QByteArray("gzip") << false << true;
        QTest::newRow("already encoded") << "/encoded" << QByteArray("gzip") << false << false;
    }
    void compression()
    {
        QFETCH(QString, path);
        QFETCH(QByteArray, acceptEncoding);
        QFETCH(bool, compressed);
        QFETCH(bool, vary);

        Pipeline pipeline(m_router);
        pipeline.append(std::make_shared<CompressionStage>(1024, 6));
        QList<std::pair<QByteArray, QByteArray>> headers;
        if (!acceptEncoding.isNull())
            headers.append({"accept-encoding", acceptEncoding});
        RequestContext ctx = request("GET", path, headers);
        RequestContext plain = request("GET", path);
        const HttpResponse original = m_router.dispatch(plain);
        const HttpResponse r = pipeline.run(ctx);

        QCOMPARE(r.status, 200);
        QCOMPARE(r.contentType, original.contentType);
        QCOMPARE(countHeader(r, "Vary"), vary ? 1 : 0);
        if (vary)
            QCOMPARE(r.header("Vary"), QByteArray("Accept-Encoding"));
        if (compressed) {
            QCOMPARE(r.header("Content-Encoding"), QByteArray("gzip"));
            QVERIFY(r.body.size() < original.body.size());
            QVERIFY(r.body.startsWith("\x1f\x8b")); // gzip magic, not zlib or raw deflate
            bool ok = false;
            QCOMPARE(gunzip(r.body, &ok), original.body);
            QVERIFY(ok);
        } else {
            QCOMPARE(r.header("Content-Encoding"),
                     path == "/encoded" ? QByteArray("br") : QByteArray());
            QCOMPARE(r.body, original.body);
        }
    }

    void gzipRoundTrip_data()
    {
        QTest::addColumn<QByteArray>("data");
        QTest::addColumn<int>("level");
        QTest::newRow("text level 1") << textOfSize(10000) << 1;
        QTest::newRow("text level 9") << textOfSize(10000) << 9;
        QTest::newRow("random") << randomBytes(3000) << 6;
        QTest::newRow("empty") << QByteArray() << 6;
    }
    void gzipRoundTrip()
    {
        QFETCH(QByteArray, data);
        QFETCH(int, level);
        const QByteArray gz = CompressionStage::gzip(data, level);
        QVERIFY(gz.startsWith("\x1f\x8b"));
        bool ok = false;
        QCOMPARE(gunzip(gz, &ok), data);
        QVERIFY(ok);
    }

    // ---------------------------------------------------------------- request id

    void isWellFormed_data()
    {
        QTest::addColumn<QByteArray>("id");
        QTest::addColumn<bool>("wellFormed");
        QTest::newRow("simple") << QByteArray("abc-123") << true;
        QTest::newRow("all allowed characters") << QByteArray("AZaz09-_.:") << true;
        QTest::newRow("uuid") << QByteArray("123e4567-e89b-12d3-a456-426614174000") << true;
        QTest::newRow("128 characters") << QByteArray(128, 'a') << true;
        QTest::newRow("129 characters") << QByteArray(129, 'a') << false;
        QTest::newRow("empty") << QByteArray() << false;
        QTest::newRow("space") << QByteArray("has space") << false;
        QTest::newRow("newline") << QByteArray("a\nb") << false;
        QTest::newRow("CRLF injection") << QByteArray("a\r\nSet-Cookie: x") << false;
        QTest::newRow("slash") << QByteArray("a/b") << false;
        QTest::newRow("quote") << QByteArray("a\"b") << false;
        QTest::newRow("non-ASCII") << QByteArray("caf\xc3\xa9") << false;
    }
    void isWellFormed()
    {
        QFETCH(QByteArray, id);
        QFETCH(bool, wellFormed);
        QCOMPARE(RequestIdStage::isWellFormed(id), wellFormed);
    }

    void requestId_data()
    {
        QTest::addColumn<QByteArray>("given"); // null: no header
        QTest::addColumn<bool>("kept");
        QTest::newRow("well-formed") << QByteArray("client-id.42:x_y") << true;
        QTest::newRow("128 characters") << QByteArray(128, 'z') << true;
        QTest::newRow("none") << QByteArray() << false;
        QTest::newRow("empty") << QByteArray("") << false;
        QTest::newRow("too long") << QByteArray(129, 'z') << false;
        QTest::newRow("spaces") << QByteArray("a b c") << false;
        QTest::newRow("newline") << QByteArray("abc\ndef") << false;
    }
    void requestId()
    {
        QFETCH(QByteArray, given);
        QFETCH(bool, kept);
        Pipeline pipeline(m_router);
        pipeline.append(std::make_shared<RequestIdStage>());
        QList<std::pair<QByteArray, QByteArray>> headers;
        if (!given.isNull())
            headers.append({"x-request-id", given});
        RequestContext ctx = request("GET", "/echo-id", headers);
        const HttpResponse r = pipeline.run(ctx);
        QCOMPARE(r.status, 200);
        const QByteArray id = r.header("X-Request-Id");
        QCOMPARE(countHeader(r, "X-Request-Id"), 1);
        QCOMPARE(ctx.requestId, id);
        QCOMPARE(r.body, id); // the handler saw the same id
        if (kept) {
            QCOMPARE(id, given);
        } else {
            static const QRegularExpression hex32(QStringLiteral("^[0-9a-f]{32}$"));
            QVERIFY2(hex32.match(QString::fromLatin1(id)).hasMatch(), id.constData());
        }
    }

    void generatedIdsDiffer()
    {
        QSet<QByteArray> ids;
        for (int i = 0; i < 100; ++i) {
            const QByteArray id = RequestIdStage::generate();
            QCOMPARE(id.size(), 32);
            QVERIFY(RequestIdStage::isWellFormed(id));
            ids.insert(id);
        }
        QCOMPARE(ids.size(), 100);
    }

    // ---------------------------------------------------------------- bearer auth

    void bearerAuth_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QByteArray>("authorization"); // null: no header
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("message"); // for 401

        const QString needs =
            QStringLiteral("this endpoint needs Authorization: Bearer <admin token>");
        const QString invalid = QStringLiteral("invalid admin token");
        QTest::newRow("missing") << "/admin/api/x" << QByteArray() << 401 << needs;
        QTest::newRow("empty") << "/admin/api/x" << QByteArray("") << 401 << needs;
        QTest::newRow("wrong token")
            << "/admin/api/x" << QByteArray("Bearer wrong") << 401 << invalid;
        QTest::newRow("token plus a byte") << "/admin/api/x"
                                           << "Bearer " + kToken + "x" << 401 << invalid;
        QTest::newRow("token minus a byte") << "/admin/api/x"
                                            << "Bearer " + kToken.chopped(1) << 401 << invalid;
        QTest::newRow("empty token") << "/admin/api/x" << QByteArray("Bearer  ") << 401 << invalid;
        QTest::newRow("scheme only") << "/admin/api/x" << QByteArray("Bearer") << 401 << needs;
        QTest::newRow("no scheme") << "/admin/api/x" << kToken << 401 << needs;
        QTest::newRow("basic") << "/admin/api/x" << QByteArray("Basic YWRtaW46YWRtaW4=") << 401
                               << needs;
        QTest::newRow("right token") << "/admin/api/x"
                                     << "Bearer " + kToken << 200 << QString();
        QTest::newRow("lower-case scheme") << "/admin/api/x"
                                           << "bearer " + kToken << 200 << QString();
        QTest::newRow("upper-case scheme") << "/admin/api/x"
                                           << "BEARER " + kToken << 200 << QString();
        QTest::newRow("trailing space") << "/admin/api/x"
                                        << "Bearer " + kToken + "  " << 200 << QString();
        QTest::newRow("token case matters") << "/admin/api/x"
                                            << "Bearer " + kToken.toUpper() << 401 << invalid;
        QTest::newRow("outside the prefix") << "/public" << QByteArray() << 200 << QString();
        QTest::newRow("prefix lookalike") << "/admin/apix" << QByteArray() << 200 << QString();
        QTest::newRow("unknown path under prefix")
            << "/admin/api/nope" << QByteArray() << 401 << needs;
        QTest::newRow("unknown path, right token") << "/admin/api/nope"
                                                   << "Bearer " + kToken << 404 << QString();
    }
    void bearerAuth()
    {
        QFETCH(QString, path);
        QFETCH(QByteArray, authorization);
        QFETCH(int, status);
        QFETCH(QString, message);

        Pipeline pipeline(m_router);
        pipeline.append(std::make_shared<RequestIdStage>());
        pipeline.append(std::make_shared<BearerAuthStage>(QStringLiteral("/admin/api/"), kToken));
        QList<std::pair<QByteArray, QByteArray>> headers{{"x-request-id", "auth-test-1"}};
        if (!authorization.isNull())
            headers.append({"authorization", authorization});
        RequestContext ctx = request("GET", path, headers);
        const HttpResponse r = pipeline.run(ctx);
        QCOMPARE(r.status, status);
        if (status == 401) {
            QCOMPARE(r.header("WWW-Authenticate"), QByteArray("Bearer realm=\"bulwark-admin\""));
            QCOMPARE(r.contentType, QByteArray("application/json"));
            QCOMPARE(r.body, R"({"error":{"code":"unauthorized","message":")" + message.toUtf8() +
                                 R"(","request_id":"auth-test-1"}})");
            QCOMPARE(ctx.routePattern, QStringLiteral("/admin/api/*"));
        } else {
            QCOMPARE(r.header("WWW-Authenticate"), QByteArray());
            if (status == 200)
                QCOMPARE(r.body, QByteArray("ok"));
        }
        QCOMPARE(r.header("X-Request-Id"), QByteArray("auth-test-1"));
    }

    // ---------------------------------------------------------------- security headers

    void securityHeaders_data()
    {
        QTest::addColumn<bool>("tls");
        QTest::newRow("plain HTTP") << false;
        QTest::newRow("TLS") << true;
    }
    void securityHeaders()
    {
        QFETCH(bool, tls);
        HttpResponse r = HttpResponse::json(QJsonObject{{"a", 1}});
        SecurityHeadersStage::apply(r, tls);
        QCOMPARE(r.header("X-Content-Type-Options"), QByteArray("nosniff"));
        QCOMPARE(r.header("X-Frame-Options"), QByteArray("DENY"));
        QCOMPARE(r.header("Referrer-Policy"), QByteArray("no-referrer"));
        QCOMPARE(r.header("Content-Security-Policy"),
                 QByteArray("default-src 'none'; frame-ancestors 'none'"));
        QCOMPARE(r.header("Strict-Transport-Security"),
                 tls ? QByteArray("max-age=31536000; includeSubDomains") : QByteArray());
        QCOMPARE(r.headers.size(), tls ? 5 : 4);
        // Applying twice changes nothing (setHeader replaces).
        SecurityHeadersStage::apply(r, tls);
        QCOMPARE(r.headers.size(), tls ? 5 : 4);
    }

    void securityHeadersStage_data() { securityHeaders_data(); }
    void securityHeadersStage()
    {
        QFETCH(bool, tls);
        Pipeline pipeline(m_router);
        pipeline.append(std::make_shared<SecurityHeadersStage>(tls));
        RequestContext ctx = request("GET", "/csp");
        const HttpResponse r = pipeline.run(ctx);
        QCOMPARE(r.status, 200);
        QCOMPARE(r.header("X-Content-Type-Options"), QByteArray("nosniff"));
        // A handler's own CSP is kept.
        QCOMPARE(r.header("Content-Security-Policy"), QByteArray("default-src 'self'"));
        QCOMPARE(countHeader(r, "Strict-Transport-Security"), tls ? 1 : 0);

        // Error responses made by the router get them too.
        RequestContext missing = request("GET", "/missing");
        const HttpResponse e = pipeline.run(missing);
        QCOMPARE(e.status, 404);
        QCOMPARE(e.header("X-Frame-Options"), QByteArray("DENY"));
        QCOMPARE(e.header("Content-Security-Policy"),
                 QByteArray("default-src 'none'; frame-ancestors 'none'"));
    }

    // The documented order: security headers > compression > request id > auth > router.
    void fullPipeline()
    {
        Pipeline pipeline(m_router);
        pipeline.append(std::make_shared<SecurityHeadersStage>(true));
        pipeline.append(std::make_shared<CompressionStage>(16, 6));
        pipeline.append(std::make_shared<RequestIdStage>());
        pipeline.append(std::make_shared<BearerAuthStage>(QStringLiteral("/admin/api/"), kToken));

        RequestContext denied =
            request("GET", "/admin/api/x",
                    {{"accept-encoding", "gzip"}, {"x-request-id", "pipeline-request-0001"}});
        const HttpResponse r = pipeline.run(denied);
        QCOMPARE(r.status, 401);
        const QByteArray id = r.header("X-Request-Id");
        QCOMPARE(id, QByteArray("pipeline-request-0001"));
        QCOMPARE(r.header("WWW-Authenticate"), QByteArray("Bearer realm=\"bulwark-admin\""));
        QCOMPARE(r.header("Vary"), QByteArray("Accept-Encoding"));
        QCOMPARE(r.header("Strict-Transport-Security"),
                 QByteArray("max-age=31536000; includeSubDomains"));
        // The 401 body is JSON above the min size: compressed, and it still carries the id.
        QCOMPARE(r.header("Content-Encoding"), QByteArray("gzip"));
        bool ok = false;
        const QJsonObject error =
            QJsonDocument::fromJson(gunzip(r.body, &ok)).object().value("error").toObject();
        QVERIFY(ok);
        QCOMPARE(error.value("code").toString(), QStringLiteral("unauthorized"));
        QCOMPARE(error.value("request_id").toString(), QString::fromLatin1(id));
    }
};

QTEST_GUILESS_MAIN(TestStages)
#include "tst_stages.moc"
