// SPDX-License-Identifier: GPL-3.0-or-later
// Lexer and recursive-descent parser for filter expressions (see FilterExpression.h). The
// lexer is pulled one token at a time, so a lexical error later in the text never hides a
// syntax error earlier in it. Tokens are views into the input; only field names and values
// are copied into the tree. The lexer deliberately groups what it cannot read into one token
// (a run of punctuation like "==" or ";", a name with non-ASCII letters, a malformed number)
// so that messages quote what the user wrote rather than its first character.
#include "FilterExpression.h"

#include <QtNumeric>
#include <algorithm>

namespace bulwark {

QString filterOpName(FilterOp op)
{
    switch (op) {
    case FilterOp::Eq: return QStringLiteral("eq");
    case FilterOp::Ne: return QStringLiteral("ne");
    case FilterOp::Gt: return QStringLiteral("gt");
    case FilterOp::Gte: return QStringLiteral("gte");
    case FilterOp::Lt: return QStringLiteral("lt");
    case FilterOp::Lte: return QStringLiteral("lte");
    case FilterOp::Like: return QStringLiteral("like");
    case FilterOp::In: return QStringLiteral("in");
    case FilterOp::IsNull: return QStringLiteral("is_null");
    }
    return QString();
}

namespace {

struct Token
{
    enum class Kind
    {
        End,
        Word,   // a name or keyword: [A-Za-z_][A-Za-z0-9_]*
        Number, // well-formed, see the grammar
        String,
        LParen,
        RParen,
        Comma,
        Other, // a run of characters that start no token, e.g. "==" or ";"
        Error  // a lexical error; the message is in value
    };
    Kind kind = Kind::End;
    QStringView text; // as written (a string with its quotes)
    int position = 0; // 1-based, in code points
    QString value;    // String: the content with '' unescaped; Error: the message
};

bool isSpace(QChar c)
{
    return c == u' ' || c == u'\t';
}

bool isDigit(QChar c)
{
    return c >= u'0' && c <= u'9';
}

bool isAsciiWordStart(QChar c)
{
    return (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || c == u'_';
}

// Non-ASCII characters are taken into words so that "spört" is reported as one bad name.
bool isWordStart(QChar c)
{
    return isAsciiWordStart(c) || c.unicode() >= 0x80;
}

bool isWordChar(QChar c)
{
    return isWordStart(c) || isDigit(c);
}

bool isPunctuation(QChar c)
{
    return c == u'(' || c == u')' || c == u',' || c == u'\'';
}

// The text quoted for a message: at most 40 UTF-16 units, control characters escaped.
QString quoted(QStringView text, QChar quote = u'"')
{
    constexpr qsizetype MaxShown = 40;
    qsizetype shown = std::min(text.size(), MaxShown);
    if (shown < text.size() && shown > 0 && text[shown - 1].isHighSurrogate())
        --shown;
    QString out(quote);
    for (const QChar c : text.first(shown)) {
        if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            out += QStringLiteral("\\u%1").arg(int(c.unicode()), 4, 16, QLatin1Char('0'));
        else
            out += c;
    }
    if (shown < text.size())
        out += QChar(0x2026); // …
    out += quote;
    return out;
}

QString describe(const Token &token)
{
    switch (token.kind) {
    case Token::Kind::End: return QStringLiteral("end of expression");
    case Token::Kind::String: return quoted(token.text.sliced(1, token.text.size() - 2), u'\'');
    default: return quoted(token.text);
    }
}

class Lexer
{
public:
    explicit Lexer(QStringView text) : m_text(text) {}
    Token next();

private:
    QChar at(qsizetype index) const { return index < m_text.size() ? m_text[index] : QChar(); }
    void advanceTo(qsizetype index);
    Token token(Token::Kind kind, qsizetype end);
    Token error(qsizetype end, QString message);
    Token string();
    Token number();
    Token word();

    QStringView m_text;
    qsizetype m_index = 0; // UTF-16 index of the next unread character
    int m_column = 1;      // its 1-based position in code points
    qsizetype m_start = 0; // where the token being read starts
    int m_startColumn = 1;
};

// Moves to index, counting a surrogate pair as one character.
void Lexer::advanceTo(qsizetype index)
{
    for (; m_index < index; ++m_index) {
        if (!(m_text[m_index].isHighSurrogate() && at(m_index + 1).isLowSurrogate()))
            ++m_column;
    }
}

Token Lexer::token(Token::Kind kind, qsizetype end)
{
    Token t;
    t.kind = kind;
    t.text = m_text.sliced(m_start, end - m_start);
    t.position = m_startColumn;
    advanceTo(end);
    return t;
}

Token Lexer::error(qsizetype end, QString message)
{
    Token t = token(Token::Kind::Error, end);
    t.value = std::move(message);
    return t;
}

Token Lexer::next()
{
    qsizetype i = m_index;
    while (i < m_text.size() && isSpace(m_text[i]))
        ++i;
    advanceTo(i);
    m_start = m_index;
    m_startColumn = m_column;
    if (m_index == m_text.size())
        return token(Token::Kind::End, m_index);

    const QChar c = m_text[m_index];
    if (c == u'(')
        return token(Token::Kind::LParen, m_index + 1);
    if (c == u')')
        return token(Token::Kind::RParen, m_index + 1);
    if (c == u',')
        return token(Token::Kind::Comma, m_index + 1);
    if (c == u'\'')
        return string();
    if (isDigit(c) || (c == u'-' && isDigit(at(m_index + 1))))
        return number();
    if (isWordStart(c))
        return word();

    qsizetype end = m_index + 1;
    while (end < m_text.size() && !isSpace(m_text[end]) && !isPunctuation(m_text[end]) &&
           !isWordChar(m_text[end]))
        ++end;
    return token(Token::Kind::Other, end);
}

Token Lexer::string()
{
    QString value;
    qsizetype segment = m_start + 1; // start of the run not yet copied into value
    for (qsizetype i = segment; i < m_text.size(); ++i) {
        const QChar c = m_text[i];
        if (c == u'\'') {
            value += m_text.sliced(segment, i - segment);
            if (at(i + 1) != u'\'') {
                Token t = token(Token::Kind::String, i + 1);
                t.value = std::move(value);
                return t;
            }
            value += u'\'';
            segment = ++i + 1;
        } else if (c.isNull()) {
            advanceTo(i);
            m_start = i;
            m_startColumn = m_column;
            return error(i + 1, QStringLiteral("a string may not contain the NUL character"));
        }
    }
    return error(m_text.size(),
                 QStringLiteral("unterminated string starting at position %1").arg(m_startColumn));
}

Token Lexer::number()
{
    qsizetype i = m_index;
    if (m_text[i] == u'-')
        ++i;
    while (isDigit(at(i)))
        ++i;
    bool wellFormed = true;
    if (at(i) == u'.') {
        wellFormed = isDigit(at(i + 1));
        for (++i; isDigit(at(i));)
            ++i;
    }
    if (wellFormed && (at(i) == u'e' || at(i) == u'E')) {
        qsizetype j = i + 1;
        if (at(j) == u'+' || at(j) == u'-')
            ++j;
        wellFormed = isDigit(at(j));
        for (i = j; isDigit(at(i));)
            ++i;
    }
    if (wellFormed && !isWordChar(at(i)) && at(i) != u'.')
        return token(Token::Kind::Number, i);

    // Report the whole malformed run, e.g. "5abc", "1.2.3", "7.", "1e+".
    qsizetype end = m_index + 1;
    while (end < m_text.size()) {
        const QChar c = m_text[end];
        const QChar previous = m_text[end - 1];
        const bool sign = (c == u'+' || c == u'-') && (previous == u'e' || previous == u'E');
        if (!isWordChar(c) && c != u'.' && !sign)
            break;
        ++end;
    }
    return error(
        end,
        QStringLiteral("invalid number %1").arg(quoted(m_text.sliced(m_start, end - m_start))));
}

Token Lexer::word()
{
    qsizetype end = m_index;
    bool ascii = true;
    while (end < m_text.size() && isWordChar(m_text[end])) {
        ascii = ascii && m_text[end].unicode() < 0x80;
        ++end;
    }
    if (ascii)
        return token(Token::Kind::Word, end);
    return error(end, QStringLiteral("%1 is not a valid name: names use ASCII letters, digits and "
                                     "_, and strings are in 'single quotes'")
                          .arg(quoted(m_text.sliced(m_start, end - m_start))));
}

bool isKeyword(const Token &token, QLatin1StringView keyword)
{
    return token.kind == Token::Kind::Word && token.text.compare(keyword, Qt::CaseInsensitive) == 0;
}

bool isReserved(const Token &token)
{
    return isKeyword(token, QLatin1StringView("and")) ||
           isKeyword(token, QLatin1StringView("or")) || isKeyword(token, QLatin1StringView("not"));
}

QString expectedValue(const QString &after)
{
    return QStringLiteral("a value ('quoted string', number, true or false) after ") + after;
}

class Parser
{
public:
    explicit Parser(QStringView text) : m_lexer(text) {}
    bool parse(FilterNode &root);
    const FilterSyntaxError &error() const { return m_error; }

private:
    using SubParser = bool (Parser::*)(FilterNode &, int);
    const Token &peek();
    Token take();
    bool fail(int position, QString message);
    bool failFound(const Token &found, const QString &expected, const QString &hint = QString());
    bool parseChain(FilterNode &out, int depth, FilterNode::Kind kind, QLatin1StringView keyword,
                    SubParser operand);
    bool parseOr(FilterNode &out, int depth);
    bool parseAnd(FilterNode &out, int depth);
    bool parseUnary(FilterNode &out, int depth);
    bool parseComparison(FilterNode &out);
    bool parseValue(FilterValue &out, const QString &field, const QString &after);

    Lexer m_lexer;
    Token m_next;
    bool m_peeked = false;
    int m_comparisons = 0;
    FilterSyntaxError m_error;
};

const Token &Parser::peek()
{
    if (!m_peeked) {
        m_next = m_lexer.next();
        m_peeked = true;
    }
    return m_next;
}

Token Parser::take()
{
    peek();
    m_peeked = false;
    return std::move(m_next);
}

bool Parser::fail(int position, QString message)
{
    m_error = {position, std::move(message)};
    return false;
}

// "expected <expected>, found <token>", unless the token is itself a lexical error, which is
// the more precise message.
bool Parser::failFound(const Token &found, const QString &expected, const QString &hint)
{
    if (found.kind == Token::Kind::Error)
        return fail(found.position, found.value);
    return fail(found.position,
                QStringLiteral("expected %1, found %2%3").arg(expected, describe(found), hint));
}

bool Parser::parse(FilterNode &root)
{
    if (!parseOr(root, 0))
        return false;
    const Token &t = peek();
    if (t.kind == Token::Kind::End)
        return true;
    if (t.kind == Token::Kind::RParen)
        return fail(t.position, QStringLiteral("unexpected \")\": there is no \"(\" to close"));
    return failFound(t, QStringLiteral("\"and\", \"or\" or end of expression"));
}

// operand ( keyword operand )*, flattening operands of the same kind into one node.
bool Parser::parseChain(FilterNode &out, int depth, FilterNode::Kind kind,
                        QLatin1StringView keyword, SubParser operand)
{
    FilterNode first;
    if (!(this->*operand)(first, depth))
        return false;
    if (!isKeyword(peek(), keyword)) {
        out = std::move(first);
        return true;
    }
    FilterNode chain;
    chain.kind = kind;
    chain.position = first.position;
    auto append = [&chain, kind](FilterNode &&node) {
        if (node.kind == kind)
            chain.children.append(std::move(node.children));
        else
            chain.children.append(std::move(node));
    };
    append(std::move(first));
    while (isKeyword(peek(), keyword)) {
        take();
        FilterNode next;
        if (!(this->*operand)(next, depth))
            return false;
        append(std::move(next));
    }
    out = std::move(chain);
    return true;
}

bool Parser::parseOr(FilterNode &out, int depth)
{
    return parseChain(out, depth, FilterNode::Kind::Or, QLatin1StringView("or"), &Parser::parseAnd);
}

bool Parser::parseAnd(FilterNode &out, int depth)
{
    return parseChain(out, depth, FilterNode::Kind::And, QLatin1StringView("and"),
                      &Parser::parseUnary);
}

bool Parser::parseUnary(FilterNode &out, int depth)
{
    const bool isNot = isKeyword(peek(), QLatin1StringView("not"));
    if (!isNot && peek().kind != Token::Kind::LParen)
        return parseComparison(out);

    const Token opening = take();
    if (depth >= FilterMaxDepth) {
        return fail(opening.position,
                    QStringLiteral("expression nested deeper than %1 levels of \"(\" and not")
                        .arg(FilterMaxDepth));
    }
    if (isNot) {
        FilterNode operand;
        if (!parseUnary(operand, depth + 1))
            return false;
        out = FilterNode();
        out.kind = FilterNode::Kind::Not;
        out.position = opening.position;
        out.children.append(std::move(operand));
        return true;
    }
    if (!parseOr(out, depth + 1))
        return false;
    const Token &closing = peek();
    if (closing.kind != Token::Kind::RParen) {
        return failFound(
            closing, QStringLiteral("\"and\", \"or\" or \")\" to close the \"(\" at position %1")
                         .arg(opening.position));
    }
    take();
    return true;
}

bool Parser::parseComparison(FilterNode &out)
{
    if (peek().kind != Token::Kind::Word || isReserved(peek()))
        return failFound(peek(), QStringLiteral("a field name, \"(\" or not"));
    const Token fieldToken = take();
    if (fieldToken.text.size() > FilterMaxFieldLength) {
        return fail(fieldToken.position,
                    QStringLiteral("field name %1 is longer than %2 characters")
                        .arg(quoted(fieldToken.text))
                        .arg(FilterMaxFieldLength));
    }
    if (++m_comparisons > FilterMaxComparisons) {
        return fail(
            fieldToken.position,
            QStringLiteral("more than %1 comparisons in one filter").arg(FilterMaxComparisons));
    }
    out = FilterNode();
    out.kind = FilterNode::Kind::Compare;
    out.field = fieldToken.text.toString();
    out.position = fieldToken.position;

    static constexpr FilterOp Ops[] = {FilterOp::Eq,   FilterOp::Ne, FilterOp::Gt,
                                       FilterOp::Gte,  FilterOp::Lt, FilterOp::Lte,
                                       FilterOp::Like, FilterOp::In, FilterOp::IsNull};
    const Token &opToken = peek();
    bool known = false;
    if (opToken.kind == Token::Kind::Word) {
        for (const FilterOp op : Ops) {
            if (opToken.text.compare(filterOpName(op), Qt::CaseInsensitive) == 0) {
                out.op = op;
                known = true;
                break;
            }
        }
    }
    if (!known) {
        return failFound(opToken, QStringLiteral("an operator (eq, ne, gt, gte, lt, lte, like, in, "
                                                 "is_null) after %1")
                                      .arg(quoted(out.field)));
    }
    const int opPosition = take().position;
    const QString opName = filterOpName(out.op);

    if (out.op == FilterOp::IsNull) {
        FilterValue flag;
        flag.kind = FilterValue::Kind::Boolean;
        flag.boolean = true;
        flag.position = opPosition;
        const Token &t = peek();
        if (isKeyword(t, QLatin1StringView("true")) || isKeyword(t, QLatin1StringView("false"))) {
            flag.boolean = isKeyword(t, QLatin1StringView("true"));
            flag.position = take().position;
        } else if (t.kind == Token::Kind::String || t.kind == Token::Kind::Number ||
                   isKeyword(t, QLatin1StringView("null"))) {
            return failFound(t, QStringLiteral("true, false or nothing after is_null"));
        }
        flag.text = flag.boolean ? QStringLiteral("true") : QStringLiteral("false");
        out.values.append(std::move(flag));
        return true;
    }

    if (out.op != FilterOp::In) {
        FilterValue value;
        if (!parseValue(value, out.field, opName))
            return false;
        if (out.op == FilterOp::Like && value.kind != FilterValue::Kind::String) {
            return fail(value.position,
                        QStringLiteral("like needs a pattern in 'single quotes', found %1")
                            .arg(quoted(value.text)));
        }
        out.values.append(std::move(value));
        return true;
    }

    if (peek().kind != Token::Kind::LParen)
        return failFound(peek(), QStringLiteral("\"(\" after in"));
    take();
    if (peek().kind == Token::Kind::RParen)
        return fail(peek().position, QStringLiteral("an in list needs at least one value"));
    for (;;) {
        FilterValue value;
        if (!parseValue(value, out.field,
                        out.values.isEmpty() ? QStringLiteral("\"(\"") : QStringLiteral("\",\"")))
            return false;
        if (out.values.size() == FilterMaxInValues) {
            return fail(
                value.position,
                QStringLiteral("more than %1 values in one in list").arg(FilterMaxInValues));
        }
        out.values.append(std::move(value));
        const Token &separator = peek();
        if (separator.kind == Token::Kind::RParen) {
            take();
            return true;
        }
        if (separator.kind != Token::Kind::Comma)
            return failFound(separator, QStringLiteral("\",\" or \")\" in the in list"));
        take();
    }
}

bool Parser::parseValue(FilterValue &out, const QString &field, const QString &after)
{
    const Token &t = peek();
    out.position = t.position;
    switch (t.kind) {
    case Token::Kind::String:
        out.kind = FilterValue::Kind::String;
        out.text = take().value;
        return true;
    case Token::Kind::Number: {
        const QStringView text = t.text;
        out.text = text.toString();
        bool ok = false;
        if (!text.contains(u'.') && !text.contains(u'e', Qt::CaseInsensitive)) {
            out.integer = text.toLongLong(&ok);
            if (ok) {
                out.kind = FilterValue::Kind::Integer;
                take();
                return true;
            }
        }
        out.real = text.toDouble(&ok); // an integer beyond qint64 lands here too
        if (!ok || !qIsFinite(out.real))
            return fail(t.position, QStringLiteral("number %1 is out of range").arg(quoted(text)));
        out.kind = FilterValue::Kind::Real;
        take();
        return true;
    }
    case Token::Kind::Word:
        if (isKeyword(t, QLatin1StringView("true")) || isKeyword(t, QLatin1StringView("false"))) {
            out.kind = FilterValue::Kind::Boolean;
            out.boolean = isKeyword(t, QLatin1StringView("true"));
            out.text = out.boolean ? QStringLiteral("true") : QStringLiteral("false");
            take();
            return true;
        }
        if (isKeyword(t, QLatin1StringView("null"))) {
            return fail(t.position,
                        QStringLiteral("null is not a value: use \"%1 is_null\" (or \"%1 is_null "
                                       "false\") to test for a missing value")
                            .arg(field));
        }
        return failFound(t, expectedValue(after),
                         QStringLiteral(" (strings are in 'single quotes')"));
    default:
        return failFound(t, expectedValue(after),
                         t.text.startsWith(u'"')
                             ? QStringLiteral(" (strings are in 'single quotes')")
                             : QString());
    }
}

} // namespace

Result<FilterNode, FilterSyntaxError> parseFilter(QStringView text)
{
    if (text.size() > FilterMaxLength) {
        qsizetype characters = 0;
        for (qsizetype i = 0; i < text.size(); ++i) {
            if (!(text[i].isLowSurrogate() && i > 0 && text[i - 1].isHighSurrogate()))
                ++characters;
        }
        if (characters > FilterMaxLength) {
            return FilterSyntaxError{
                FilterMaxLength + 1,
                QStringLiteral("filter expression longer than %1 characters").arg(FilterMaxLength)};
        }
    }
    if (std::all_of(text.begin(), text.end(), isSpace))
        return FilterSyntaxError{1, QStringLiteral("empty filter expression")};

    Parser parser(text);
    FilterNode root;
    if (!parser.parse(root))
        return parser.error();
    return root;
}

} // namespace bulwark
