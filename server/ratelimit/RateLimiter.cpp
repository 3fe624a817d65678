// SPDX-License-Identifier: GPL-3.0-or-later
// See RateLimiter.h. The hot path (check) matches the rules, builds each key in a stack
// buffer, decides it in the store and formats the header lines; for a rule without the
// endpoint scope it allocates once, for the header block.
#include "RateLimiter.h"

#include "Decimal.h"
#include "Metrics.h"
#include "RateLimitRules.h"
#include "RoutePattern.h"
#include "WordHash.h"

#include <algorithm>
#include <cstring>
#include <ctime>

namespace bulwark {

namespace {

// Generations are unique across every limiter in the process, so a worker thread's cached
// rule set can never be mistaken for another limiter's.
std::atomic<quint64> g_lastGeneration{0};

qint64 ceilSeconds(std::chrono::milliseconds d)
{
    return (d.count() + 999) / 1000;
}

void appendNumber(QVarLengthArray<char, 128> &out, qint64 v)
{
    char digits[24];
    out.append(digits, writeDecimal(digits, v) - digits);
}

bool sameSpec(const LimitSpec &a, const LimitSpec &b)
{
    return a.algorithm == b.algorithm && a.limit == b.limit && a.window == b.window &&
           a.burst == b.burst;
}

// All X-Forwarded-For lines of a request, joined by "," (a list split over several lines
// is one list, RFC 9110 5.3).
QByteArray forwardedFor(const HttpRequest &request)
{
    QByteArray joined;
    for (qsizetype i = 0; i < request.headerCount(); ++i) {
        const QByteArrayView name = request.headerName(i);
        if (name.size() == 15 && qstrnicmp(name.data(), 15, "x-forwarded-for", 15) == 0) {
            if (!joined.isEmpty())
                joined.append(',');
            joined.append(request.headerValue(i));
        }
    }
    return joined;
}

} // namespace

struct RateLimiter::Counters
{
    std::atomic<quint64> allowed{0};
    std::atomic<quint64> limited{0};
    std::atomic<quint64> nearLimit{0};
    std::atomic<quint64> shadowLimited{0};
    std::atomic<quint64> storeErrors{0};
};

struct RateLimiter::Rule
{
    RateLimitRuleConfig config;
    RoutePattern pattern;
    QList<QByteArray> methods; // empty: every method
    bool global = false;
    bool endpoint = false;
    bool ip = false;
    bool user = false;
    bool apiKey = false;
    bool redis = false;
    std::shared_ptr<const RateLimitAlgorithm> algorithm;
    qint64 capacity = 0;
    QByteArray keyPrefix;  // "name|", or "name~<spec hash>|" in Redis (a changed rule starts afresh)
    QByteArray policyItem; // RateLimit-Policy: "name";q=60;w=60
    QByteArray stateItem;  // RateLimit: "name";r= (then remaining and ";t=" reset)
    QByteArray legacyPrefix;   // "X-RateLimit-Limit: 60\r\nX-RateLimit-Remaining: "
    QByteArray standardPrefix; // "RateLimit-Policy: <policyItem>\r\nRateLimit: <stateItem>"
    QString description;   // "60 requests per 1m per user"
    std::shared_ptr<Counters> counters;

    bool matches(QByteArrayView method, QStringView path) const
    {
        if (!methods.isEmpty() &&
            std::find(methods.begin(), methods.end(), method) == methods.end())
            return false;
        return pattern.matches(path);
    }
};

struct RateLimiter::RuleSet
{
    std::vector<Rule> rules;
    quint64 generation = 0;
};

RateLimiter::Options RateLimiter::optionsFrom(const RateLimitConfig &config,
                                              const QByteArray &redisKeyPrefix)
{
    Options o;
    o.defaultStore = config.store;
    o.onRedisFailure = config.onRedisFailure;
    o.legacyHeaders = config.legacyHeaders;
    o.standardHeaders = config.standardHeaders;
    o.trustedProxies = CidrSet::parse(config.trustedProxies).value();
    o.allowlist = CidrSet::parse(config.allowlist).value();
    o.exemptAdmins = config.exemptAdmins;
    o.maxKeys = config.maxKeys;
    o.redisKeyPrefix = redisKeyPrefix;
    return o;
}

RateLimiter::RateLimiter(Options options, const Clock &clock, RedisClient *redis)
    : m_options(std::move(options)), m_redis(redis),
      m_memory(MemoryRateStore::Options{64, m_options.maxKeys}, clock),
      m_rules(std::make_shared<RuleSet>())
{
    if (m_redis)
        m_redisStore = std::make_unique<RedisRateStore>(*m_redis, m_options.redisKeyPrefix);
    if (!m_options.wallClock)
        m_options.wallClock = [] {
            return std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::system_clock::now().time_since_epoch());
        };
}

RateLimiter::~RateLimiter() = default;

Result<bool> RateLimiter::setRules(const QList<RateLimitRuleConfig> &rules)
{
    auto set = std::make_shared<RuleSet>();
    std::lock_guard lock(m_rulesMutex);
    const RuleSet &old = *m_rules;
    for (const RateLimitRuleConfig &c : rules) {
        // The header buffer of check() is sized for what parseRateLimitRules allows; rules
        // that did not come through it are held to the same bounds here.
        if (c.name.isEmpty() || c.name.size() > 40 || c.limit < 1 || c.limit > 1'000'000'000 ||
            c.burst < 0 || c.burst > 1'000'000'000)
            return Error{ErrorCode::BadRequest,
                         QStringLiteral("rule \"%1\": name or limits out of bounds").arg(c.name)};
        Rule r;
        r.config = c;
        auto pattern = RoutePattern::parse(c.route, RoutePattern::Rest::Allowed);
        const auto algorithm = rateAlgorithmFromName(c.algorithm);
        if (!pattern.ok() || !algorithm)
            return Error{ErrorCode::BadRequest,
                         QStringLiteral("rule \"%1\": invalid route or algorithm").arg(c.name)};
        r.pattern = std::move(pattern.value());
        for (const QString &m : c.methods)
            r.methods.append(m.toLatin1());
        r.global = c.scope.contains(QStringLiteral("global"));
        r.endpoint = c.scope.contains(QStringLiteral("endpoint"));
        r.ip = c.scope.contains(QStringLiteral("ip"));
        r.user = c.scope.contains(QStringLiteral("user"));
        r.apiKey = c.scope.contains(QStringLiteral("api_key"));
        r.redis = (c.store.isEmpty() ? m_options.defaultStore : c.store) == QStringLiteral("redis");
        if (r.redis && !m_redisStore)
            return Error{ErrorCode::BadRequest,
                         QStringLiteral("rule \"%1\" keeps its counters in redis, which needs "
                                        "redis.url")
                             .arg(c.name)};
        const LimitSpec spec = LimitSpec::make(*algorithm, c.limit, c.window, c.burst);
        for (const Rule &o : old.rules) {
            if (o.config.name != c.name)
                continue;
            r.counters = o.counters;
            if (o.redis == r.redis && sameSpec(o.algorithm->spec(), spec))
                r.algorithm = o.algorithm;
        }
        if (!r.counters)
            r.counters = std::make_shared<Counters>();
        if (!r.algorithm)
            r.algorithm = RateLimitAlgorithm::create(spec);
        r.capacity = RateLimitAlgorithm::capacityOf(r.algorithm->spec());
        r.keyPrefix = c.name.toLatin1();
        if (r.redis) {
            const QByteArray fingerprint = QByteArray::number(int(*algorithm)) + '/' +
                                           QByteArray::number(c.limit) + '/' +
                                           QByteArray::number(qint64(c.window.count())) + '/' +
                                           QByteArray::number(c.burst);
            r.keyPrefix += '~' + QByteArray::number(quint32(wordHash(fingerprint)), 16);
        }
        r.keyPrefix += '|';
        r.stateItem = '"' + c.name.toLatin1() + "\";r=";
        r.policyItem = '"' + c.name.toLatin1() + "\";q=" + QByteArray::number(c.limit);
        if (c.window.count() % 1000 == 0)
            r.policyItem += ";w=" + QByteArray::number(qint64(c.window.count() / 1000));
        r.legacyPrefix = "X-RateLimit-Limit: " + QByteArray::number(c.limit) +
                         "\r\nX-RateLimit-Remaining: ";
        r.standardPrefix = "RateLimit-Policy: " + r.policyItem + "\r\nRateLimit: " + r.stateItem;
        r.description = QStringLiteral("%1 requests per %2 per %3")
                            .arg(c.limit)
                            .arg(rateLimitWindowText(c.window), c.scope.join(QStringLiteral(" and ")));
        set->rules.push_back(std::move(r));
    }
    set->generation = g_lastGeneration.fetch_add(1) + 1;
    m_rules = set;
    m_generation.store(set->generation, std::memory_order_release);
    return true;
}

QList<RateLimitRuleConfig> RateLimiter::rules() const
{
    std::lock_guard lock(m_rulesMutex);
    QList<RateLimitRuleConfig> out;
    for (const Rule &r : m_rules->rules)
        out.append(r.config);
    return out;
}

const RateLimiter::RuleSet &RateLimiter::current() const
{
    // Each worker keeps the set it last saw and reads the shared pointer again only when the
    // generation moved: the hot path is one atomic load, with no reference counting.
    struct Cached
    {
        quint64 generation = 0;
        std::shared_ptr<const RuleSet> set;
    };
    thread_local Cached cached;
    if (cached.generation != m_generation.load(std::memory_order_acquire) || !cached.set) {
        std::lock_guard lock(m_rulesMutex);
        cached.set = m_rules;
        cached.generation = m_rules->generation;
    }
    return *cached.set;
}

QHostAddress RateLimiter::clientOf(const HttpRequest &request) const
{
    if (m_options.trustedProxies.isEmpty())
        return request.peer; // X-Forwarded-For is not even read
    return clientAddress(request.peer, forwardedFor(request), m_options.trustedProxies);
}

void RateLimiter::appendKey(QVarLengthArray<char, 128> &key, const Rule &rule,
                            const RateLimitOperation *op, const RateLimitQuery &query,
                            AddressKey &address) const
{
    key.append(rule.keyPrefix.constData(), rule.keyPrefix.size());
    if (rule.global) {
        key.append('*');
        return;
    }
    bool first = true;
    auto part = [&key, &first](char tag) {
        if (!first)
            key.append('|');
        first = false;
        key.append(tag);
    };
    auto appendAddress = [&] {
        if (address.size < 0)
            address.size = m_options.trustedProxies.isEmpty()
                               ? writeRateLimitAddressKey(query.request.peer, address.bytes)
                               : writeRateLimitAddressKey(clientOf(query.request), address.bytes);
        key.append(address.bytes, address.size);
    };
    if (rule.endpoint) {
        part('e');
        QByteArrayView method = op ? QByteArrayView(op->method) : query.request.method;
        if (method == "HEAD")
            method = "GET"; // the same handler and work: one budget
        const QStringView path = op ? QStringView(op->path) : QStringView(query.request.path);
        const QByteArray endpoint =
            (m_options.endpoint ? m_options.endpoint(method, path) : path.toString()).toUtf8();
        key.append(method.data(), method.size());
        key.append(' ');
        key.append(endpoint.constData(), endpoint.size());
    }
    if (rule.ip) {
        part('i');
        appendAddress();
    }
    if (rule.user) {
        if (query.principal) {
            part('u');
            appendNumber(key, query.principal->userId);
        } else {
            part('i');
            appendAddress();
        }
    }
    if (rule.apiKey) {
        if (query.principal && query.principal->keyId > 0) {
            part('k');
            appendNumber(key, query.principal->keyId);
        } else {
            part('i');
            appendAddress();
        }
    }
}

RateLimitVerdict RateLimiter::check(const RateLimitQuery &query)
{
    RateLimitVerdict verdict;
    const RuleSet &set = current();
    if (set.rules.empty())
        return verdict;
    const HttpRequest &request = query.request;

    // The rules that apply, with what the request costs each.
    QVarLengthArray<std::pair<const Rule *, qint64>, 8> applying;
    for (const Rule &rule : set.rules) {
        qint64 cost = 0;
        if (query.operations)
            for (const RateLimitOperation &op : *query.operations)
                cost += rule.matches(op.method, op.path) ? 1 : 0;
        if (cost == 0 && rule.matches(request.method, request.path))
            cost = 1;
        if (cost > 0)
            applying.append({&rule, cost});
    }
    if (applying.isEmpty())
        return verdict;
    if (m_options.exemptAdmins && query.principal && query.principal->admin)
        return verdict;
    AddressKey address;
    if (!m_options.allowlist.isEmpty()) {
        const QHostAddress client = clientOf(request);
        if (m_options.allowlist.contains(client))
            return verdict;
        address.size = writeRateLimitAddressKey(client, address.bytes);
    }

    struct Enforced
    {
        const Rule *rule;
        RateDecision decision;
    };
    QVarLengthArray<Enforced, 8> enforced;
    const Rule *refusedBy = nullptr;
    RateDecision refusal;
    qint64 refusedCost = 0;
    bool storeRefused = false;

    // A rule decided several times for one request (endpoint scope, one decision per batch
    // operation) is reported once, with its tightest decision: the headers name each policy
    // once, whatever the batch's size.
    auto enforce = [&enforced](const Rule &rule, const RateDecision &d) {
        for (Enforced &e : enforced)
            if (e.rule == &rule) {
                if (!d.allowed || d.remaining < e.decision.remaining)
                    e.decision = d;
                return;
            }
        enforced.append({&rule, d});
    };

    // Decides one key of a rule; false when the request is refused.
    auto decide = [&](const Rule &rule, const RateLimitOperation *op, qint64 cost) {
        QVarLengthArray<char, 128> key;
        appendKey(key, rule, op, query, address);
        const QByteArrayView keyView(key.constData(), key.size());
        Counters &counters = *rule.counters;
        RateDecision d;
        if (rule.redis) {
            auto decided = m_redisStore->decide(*rule.algorithm, keyView, cost,
                                                m_options.wallClock());
            if (decided.ok()) {
                d = decided.value();
            } else {
                counters.storeErrors.fetch_add(1, std::memory_order_relaxed);
                if (m_options.onRedisFailure == QStringLiteral("local")) {
                    d = m_memory.decide(rule.algorithm, keyView, cost);
                } else if (m_options.onRedisFailure == QStringLiteral("closed") &&
                           !rule.config.shadow) {
                    refusedBy = &rule; // counted as store_error only

                    storeRefused = true;
                    return false;
                } else {
                    return true; // open (or a shadow rule): no decision, no headers
                }
            }
        } else {
            d = m_memory.decide(rule.algorithm, keyView, cost);
        }
        if (d.allowed) {
            counters.allowed.fetch_add(1, std::memory_order_relaxed);
            if (d.remaining * 5 <= d.limit)
                counters.nearLimit.fetch_add(1, std::memory_order_relaxed);
            if (!rule.config.shadow)
                enforce(rule, d);
            return true;
        }
        if (rule.config.shadow) {
            counters.shadowLimited.fetch_add(1, std::memory_order_relaxed);
            return true;
        }
        counters.limited.fetch_add(1, std::memory_order_relaxed);
        QByteArray shown = rule.config.name.toLatin1() + '|';
        shown.append(keyView.sliced(rule.keyPrefix.size()));
        m_limitedKeys.record(shown);
        refusedBy = &rule;
        refusal = d;
        refusedCost = cost;
        enforce(rule, d);
        return false;
    };

    for (const auto &[rule, cost] : applying) {
        bool passed = true;
        if (rule->endpoint && query.operations && cost > 0) {
            // Operations reach different endpoints: one decision per matching operation.
            bool any = false;
            for (const RateLimitOperation &op : *query.operations) {
                if (!rule->matches(op.method, op.path))
                    continue;
                any = true;
                if (!(passed = decide(*rule, &op, 1)))
                    break;
            }
            if (!any)
                passed = decide(*rule, nullptr, 1);
        } else {
            passed = decide(*rule, nullptr, cost);
        }
        if (!passed)
            break;
    }

    if (refusedBy) {
        const Rule &rule = *refusedBy;
        verdict.allowed = false;
        verdict.route = rule.config.route;
        verdict.rule = rule.config.name;
        if (storeRefused) {
            // Not the client's fault: 503, as for any dependency that is down; no
            // rate-limit headers (the rule that refused has no count to report).
            verdict.code = ErrorCode::Unavailable;
            verdict.retryAfterSeconds = 1;
            verdict.message = QStringLiteral("rule \"%1\" cannot be checked: its store (Redis) is "
                                             "unavailable and ratelimit.on_redis_failure is "
                                             "closed")
                                  .arg(rule.config.name);
        } else {
            if (refusedCost > rule.capacity) { // 413, no Retry-After: waiting would not help
                verdict.code = ErrorCode::PayloadTooLarge;
                verdict.message =
                    QStringLiteral("rule \"%1\" allows %2; this request counts %3 (one per batch "
                                   "operation) and can never pass: split it")
                        .arg(rule.config.name, rule.description)
                        .arg(refusedCost);
            } else {
                verdict.retryAfterSeconds = std::max<qint64>(1, ceilSeconds(refusal.retryAfter));
            }
            if (verdict.retryAfterSeconds > 0)
                verdict.message = QStringLiteral("rate limit exceeded: rule \"%1\" allows %2; "
                                                 "retry in %3 s")
                                      .arg(rule.config.name, rule.description)
                                      .arg(verdict.retryAfterSeconds);
        }
    }
    if (enforced.isEmpty() || storeRefused)
        return verdict;

    // The legacy headers describe one policy: the refusing one, or the one closest to its
    // limit (the fewest requests left; then the longest wait for a full budget).
    const Enforced *binding = &enforced.last();
    for (const Enforced &e : enforced)
        if (!e.decision.allowed)
            binding = &e;
    if (binding->decision.allowed)
        for (const Enforced &e : enforced)
            if (e.decision.remaining < binding->decision.remaining ||
                (e.decision.remaining == binding->decision.remaining &&
                 e.decision.resetAfter > binding->decision.resetAfter))
                binding = &e;
    // Every line is formatted on the stack and copied once into an exactly sized array. The
    // fixed parts come precomputed per rule (Rule::legacyPrefix, standardPrefix), so the
    // common case (one rule) formats three numbers.
    char buffer[2048];
    char *at = buffer;
    char *const end = buffer + sizeof buffer;
    auto put = [&at](const char *s, qsizetype n) {
        std::memcpy(at, s, size_t(n));
        at += n;
    };
    auto bytes = [&put](const QByteArray &b) { put(b.constData(), b.size()); };
    auto number = [&at](qint64 v) { at = writeDecimal(at, v); };
    if (!m_options.legacyHeaders && !m_options.standardHeaders)
        return verdict;
    char remaining[24];
    const qsizetype remainingLength = writeDecimal(remaining, binding->decision.remaining) - remaining;
    if (m_options.legacyHeaders) {
        // X-RateLimit-Limit is what Remaining counts down from: a token bucket's or GCRA's
        // burst, else the limit.
        if (binding->decision.limit == binding->rule->config.limit) {
            bytes(binding->rule->legacyPrefix);
        } else {
            put("X-RateLimit-Limit: ", 19);
            number(binding->decision.limit);
            put("\r\nX-RateLimit-Remaining: ", 25);
        }
        put(remaining, remainingLength);
        put("\r\nX-RateLimit-Reset: ", 21);
        number(qint64(std::time(nullptr)) + ceilSeconds(binding->decision.resetAfter));
        put("\r\n", 2);
    }
    if (m_options.standardHeaders && enforced.size() == 1) {
        bytes(binding->rule->standardPrefix);
        put(remaining, remainingLength);
        put(";t=", 3);
        number(ceilSeconds(binding->decision.resetAfter));
        put("\r\n", 2);
    } else if (m_options.standardHeaders) {
        // draft-ietf-httpapi-ratelimit-headers-10: every policy that applied, each with its
        // quota (q) and window (w, whole seconds), and what is left of it (r) and in how many
        // seconds it is back in full (t). As many rules as fit in the buffer are named, the
        // same in both (at least ten with 40-character names and the largest numbers).
        qsizetype reported = 0;
        qsizetype room = (end - at) - 40;
        for (const Enforced &e : enforced) {
            room -= e.rule->policyItem.size() + e.rule->stateItem.size() + 60;
            if (room < 0)
                break;
            ++reported;
        }
        put("RateLimit-Policy: ", 18);
        for (qsizetype i = 0; i < reported; ++i) {
            if (i > 0)
                put(", ", 2);
            bytes(enforced[i].rule->policyItem);
        }
        put("\r\nRateLimit: ", 13);
        for (qsizetype i = 0; i < reported; ++i) {
            if (i > 0)
                put(", ", 2);
            bytes(enforced[i].rule->stateItem);
            number(enforced[i].decision.remaining);
            put(";t=", 3);
            number(ceilSeconds(enforced[i].decision.resetAfter));
        }
        put("\r\n", 2);
    }
    verdict.headerLines = QByteArray(buffer, at - buffer);
    return verdict;
}

QList<std::pair<QByteArray, QByteArray>> RateLimitVerdict::headers() const
{
    QList<std::pair<QByteArray, QByteArray>> out;
    for (const QByteArray &line : headerLines.split('\n')) {
        const qsizetype colon = line.indexOf(':');
        if (colon > 0)
            out.append({line.left(colon), line.mid(colon + 1).trimmed()});
    }
    return out;
}

QList<RateLimiter::RuleStats> RateLimiter::stats() const
{
    std::shared_ptr<const RuleSet> set;
    {
        std::lock_guard lock(m_rulesMutex);
        set = m_rules;
    }
    QList<RuleStats> out;
    for (const Rule &r : set->rules) {
        RuleStats s;
        s.name = r.config.name;
        s.allowed = r.counters->allowed.load(std::memory_order_relaxed);
        s.limited = r.counters->limited.load(std::memory_order_relaxed);
        s.nearLimit = r.counters->nearLimit.load(std::memory_order_relaxed);
        s.shadowLimited = r.counters->shadowLimited.load(std::memory_order_relaxed);
        s.storeErrors = r.counters->storeErrors.load(std::memory_order_relaxed);
        out.append(s);
    }
    return out;
}

quint64 RateLimiter::totalLimited() const
{
    quint64 n = 0;
    for (const RuleStats &s : stats())
        n += s.limited;
    return n;
}

quint64 RateLimiter::totalDecisions() const
{
    quint64 n = 0;
    for (const RuleStats &s : stats())
        n += s.allowed + s.limited + s.shadowLimited + s.storeErrors;
    return n;
}

void RateLimiter::resetStats()
{
    std::shared_ptr<const RuleSet> set;
    {
        std::lock_guard lock(m_rulesMutex);
        set = m_rules;
    }
    for (const Rule &r : set->rules) {
        r.counters->allowed = 0;
        r.counters->limited = 0;
        r.counters->nearLimit = 0;
        r.counters->shadowLimited = 0;
        r.counters->storeErrors = 0;
    }
    m_limitedKeys.clear();
}

bool RateLimiter::usesRedis() const
{
    std::lock_guard lock(m_rulesMutex);
    return std::any_of(m_rules->rules.begin(), m_rules->rules.end(),
                       [](const Rule &r) { return r.redis; });
}

void RateLimiter::addMetrics(MetricsRegistry &registry)
{
    registry.addCollector([this](QByteArray &out) {
        const QList<RuleStats> all = stats();
        out.append("# HELP bulwark_ratelimit_decisions_total Rate-limit decisions by rule and "
                   "result: allowed, limited, shadow_limited (a shadow rule would have refused), "
                   "store_error (Redis could not decide; ratelimit.on_redis_failure applied).\n"
                   "# TYPE bulwark_ratelimit_decisions_total counter\n");
        for (const RuleStats &s : all) {
            const QByteArray base =
                "bulwark_ratelimit_decisions_total{rule=\"" + s.name.toLatin1() + "\",result=\"";
            for (const auto &[result, value] :
                 {std::pair{"allowed", s.allowed}, {"limited", s.limited},
                  {"shadow_limited", s.shadowLimited}, {"store_error", s.storeErrors}})
                out.append(base).append(result).append("\"} ").append(QByteArray::number(value)).append('\n');
        }
        out.append("# HELP bulwark_ratelimit_near_limit_total Allowed requests that had used 80 % "
                   "or more of their rule's limit.\n"
                   "# TYPE bulwark_ratelimit_near_limit_total counter\n");
        for (const RuleStats &s : all)
            out.append("bulwark_ratelimit_near_limit_total{rule=\"")
                .append(s.name.toLatin1())
                .append("\"} ")
                .append(QByteArray::number(s.nearLimit))
                .append('\n');
        out.append("# HELP bulwark_ratelimit_memory_keys Counters held by the memory store.\n"
                   "# TYPE bulwark_ratelimit_memory_keys gauge\n"
                   "bulwark_ratelimit_memory_keys ")
            .append(QByteArray::number(m_memory.size()))
            .append('\n');
        out.append("# HELP bulwark_ratelimit_memory_untracked_total Decisions the memory store "
                   "did not keep because ratelimit.max_keys was reached (those clients pass "
                   "as on a first request).\n"
                   "# TYPE bulwark_ratelimit_memory_untracked_total counter\n"
                   "bulwark_ratelimit_memory_untracked_total ")
            .append(QByteArray::number(m_memory.untracked()))
            .append('\n');
    });
}

} // namespace bulwark
