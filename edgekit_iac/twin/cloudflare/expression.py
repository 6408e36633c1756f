"""A subset of Cloudflare's Rules language, enough for the expressions rate-limit rules use. Pure.

Supported:
- fields: http.host, http.request.method, http.request.uri, http.request.uri.path,
  http.request.uri.query, http.request.full_uri, http.user_agent, http.referer,
  http.cookie, ip.src, ip.src.country (also ip.geoip.country), ssl (boolean);
- comparisons: eq ==, ne !=, contains, matches ~ (regular expression), lt < le <= gt >
  ge >=, in {"a" "b" ...};
- functions: starts_with(field, "text"), ends_with(field, "text"), lower(field),
  upper(field), len(field);
- logic: not !, and &&, or ||, parentheses, and the literals true/false.

Anything else raises `ExpressionError` naming what was not understood, when the twin
starts, so an expression the twin cannot evaluate is never silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from edgekit_iac.errors import UserError

FIELDS = (
    "http.host", "http.request.method", "http.request.uri", "http.request.uri.path",
    "http.request.uri.query", "http.request.full_uri", "http.user_agent", "http.referer",
    "http.cookie", "ip.src", "ip.src.country", "ip.geoip.country", "ssl",
)
_ALIASES = {"ip.geoip.country": "ip.src.country"}
_COMPARISONS = {
    "eq": "eq", "==": "eq", "ne": "ne", "!=": "ne", "contains": "contains",
    "matches": "matches", "~": "matches", "lt": "lt", "<": "lt", "le": "le", "<=": "le",
    "gt": "gt", ">": "gt", "ge": "ge", ">=": "ge",
}
_TOKEN = re.compile(r'''\s*(?:
    (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>\d+(?:\.\d+)*(?:/\d+)?)
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>~!(){},])
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
)''', re.VERBOSE)

Values = Mapping[str, Any]
Predicate = Callable[[Values], bool]
Operand = Callable[[Values], Any]


class ExpressionError(UserError):
    """An expression uses something the twin does not evaluate, or is malformed."""


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _refuse(expression: str, problem: str) -> ExpressionError:
    return ExpressionError(
        f"rate-limit expression {expression!r}: {problem}; the twin evaluates the fields "
        f"{', '.join(FIELDS)}, comparisons eq/ne/contains/matches/lt/le/gt/ge/in, "
        "starts_with/ends_with/lower/upper/len, and not/and/or"
    )


def _tokens(expression: str) -> list[_Token]:
    tokens, position = [], 0
    while position < len(expression):
        if expression[position:].strip() == "":
            break
        match = _TOKEN.match(expression, position)
        if match is None:
            raise _refuse(expression, f"cannot read {expression[position:position + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append(_Token(kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _tokens(expression)
        self.index = 0

    def fail(self, problem: str) -> ExpressionError:
        return _refuse(self.expression, problem)

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, text: str | None = None) -> _Token:
        token = self.peek()
        if token is None or (text is not None and token.text != text):
            raise self.fail(f"expected {text or 'more'} at token {self.index + 1}")
        self.index += 1
        return token

    def parse(self) -> Predicate:
        predicate = self.disjunction()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek().text!r}")
        return predicate

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.peek() and self.peek().text in ("or", "||"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda v: any(p(v) for p in parts))

    def conjunction(self) -> Predicate:
        parts = [self.negation()]
        while self.peek() and self.peek().text in ("and", "&&"):
            self.take()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else (lambda v: all(p(v) for p in parts))

    def negation(self) -> Predicate:
        if self.peek() and self.peek().text in ("not", "!"):
            self.take()
            inner = self.negation()
            return lambda v: not inner(v)
        return self.primary()

    def primary(self) -> Predicate:
        token = self.peek()
        if token is None:
            raise self.fail("it ends too early")
        if token.text == "(":
            self.take("(")
            inner = self.disjunction()
            self.take(")")
            return inner
        if token.text in ("true", "false"):
            self.take()
            return lambda v, result=token.text == "true": result
        if token.text in ("starts_with", "ends_with"):
            return self.text_test()
        operand = self.operand()
        following = self.peek()
        if following is None or following.text not in (*_COMPARISONS, "in"):
            return lambda v: bool(operand(v))
        return self.comparison(operand)

    def text_test(self) -> Predicate:
        name = self.take().text
        self.take("(")
        operand = self.operand()
        self.take(",")
        literal = self.literal()
        self.take(")")
        if name == "starts_with":
            return lambda v: str(operand(v)).startswith(literal)
        return lambda v: str(operand(v)).endswith(literal)

    def operand(self) -> Operand:
        token = self.take()
        if token.text in ("lower", "upper", "len"):
            self.take("(")
            inner = self.operand()
            self.take(")")
            convert = {"lower": lambda x: str(x).lower(), "upper": lambda x: str(x).upper(),
                       "len": lambda x: len(str(x))}[token.text]
            return lambda v: convert(inner(v))
        if token.kind != "word" or token.text not in FIELDS:
            raise self.fail(f"{token.text!r} is not a field the twin knows")
        name = _ALIASES.get(token.text, token.text)
        return lambda v: v.get(name, "")

    def literal(self) -> Any:
        token = self.take()
        if token.kind == "string":
            return bytes(token.text[1:-1], "utf-8").decode("unicode_escape")
        if token.kind == "number":
            return int(token.text) if token.text.isdigit() else token.text
        raise self.fail(f"expected a value, got {token.text!r}")

    def comparison(self, operand: Operand) -> Predicate:
        word = self.take().text
        if word == "in":
            self.take("{")
            values = set()
            while self.peek() and self.peek().text != "}":
                values.add(self.literal())
            self.take("}")
            return lambda v: operand(v) in values
        op, literal = _COMPARISONS[word], self.literal()
        if op == "matches":
            try:
                pattern = re.compile(str(literal))
            except re.error as exc:
                raise self.fail(f"bad regular expression {literal!r}: {exc}") from exc
            return lambda v: pattern.search(str(operand(v))) is not None
        tests: dict[str, Callable[[Any], bool]] = {
            "eq": lambda x: x == literal, "ne": lambda x: x != literal,
            "contains": lambda x: str(literal) in str(x),
            "lt": lambda x: x < literal, "le": lambda x: x <= literal,
            "gt": lambda x: x > literal, "ge": lambda x: x >= literal,
        }
        test = tests[op]
        return lambda v: test(operand(v))


def compile_expression(expression: str) -> Predicate:
    """A predicate over field values (`{"http.request.uri.path": "/api/x", ...}`)."""
    return _Parser(expression.strip()).parse()


def request_fields(method: str, scheme: str, host: str, path: str, query: str,
                   headers: Mapping[str, str], client_ip: str, country: str) -> dict[str, Any]:
    """The field values of one request (headers keyed by lower-case name)."""
    uri = path + (f"?{query}" if query else "")
    return {
        "http.host": host,
        "http.request.method": method,
        "http.request.uri": uri,
        "http.request.uri.path": path,
        "http.request.uri.query": query,
        "http.request.full_uri": f"{scheme}://{host}{uri}",
        "http.user_agent": headers.get("user-agent", ""),
        "http.referer": headers.get("referer", ""),
        "http.cookie": headers.get("cookie", ""),
        "ip.src": client_ip,
        "ip.src.country": country,
        "ssl": scheme == "https",
    }
