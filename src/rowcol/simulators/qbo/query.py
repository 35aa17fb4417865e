"""The subset of QBO's query language the simulator understands.

    SELECT * | COUNT(*) FROM <Entity>
      [WHERE <prop> <op> <value> [AND ...]]     op: = < > <= >= IN (...) LIKE '%x%'
      [ORDERBY <prop> [ASC|DESC] [, ...]]
      [STARTPOSITION n] [MAXRESULTS m]

Keywords and property names are case-insensitive, so `Metadata.LastUpdatedTime` finds
the `MetaData` key. A reference property (`VendorRef`) compares by its `value`. No OR,
JOIN, GROUP BY or projections, as in QBO. STARTPOSITION is 1-based, MAXRESULTS defaults
to 100 and is capped at 1000. Name lists (Vendor, Customer, Account, Term) answer
only active records unless the query says something about `Active`, as QBO does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Final

COMPANY_TZ: Final = timezone(timedelta(hours=-7))
"""The simulated companies keep Pacific (daylight) time, as in Intuit's examples."""
DEFAULT_MAX_RESULTS: Final = 100
MAX_RESULTS_CAP: Final = 1000

Literal = str | Decimal | bool


def _names(text: str) -> frozenset[str]:
    return frozenset(name.lower() for name in text.split())


PROPERTIES: Final[dict[str, frozenset[str]]] = {
    "Vendor": _names(
        "Id SyncToken MetaData DisplayName CompanyName PrintOnCheckName GivenName FamilyName "
        "Active Balance AcctNum TermRef BillAddr PrimaryEmailAddr CurrencyRef Vendor1099"
    ),
    "Customer": _names(
        "Id SyncToken MetaData DisplayName CompanyName PrintOnCheckName GivenName FamilyName "
        "Active Balance PrimaryEmailAddr BillAddr CurrencyRef Taxable Job"
    ),
    "Bill": _names(
        "Id SyncToken MetaData DocNumber TxnDate DueDate VendorRef APAccountRef TotalAmt "
        "Balance CurrencyRef PrivateNote SalesTermRef"
    ),
    "Invoice": _names(
        "Id SyncToken MetaData DocNumber TxnDate DueDate CustomerRef TotalAmt Balance "
        "CurrencyRef EmailStatus PrintStatus"
    ),
    "Account": _names(
        "Id SyncToken MetaData Name FullyQualifiedName Active Classification AccountType "
        "AccountSubType CurrentBalance CurrencyRef SubAccount"
    ),
    "Payment": _names(
        "Id SyncToken MetaData TxnDate CustomerRef TotalAmt UnappliedAmt PaymentRefNum "
        "CurrencyRef DepositToAccountRef"
    ),
    "BillPayment": _names(
        "Id SyncToken MetaData TxnDate VendorRef TotalAmt PayType DocNumber CurrencyRef"
    ),
    "Deposit": _names(
        "Id SyncToken MetaData TxnDate DocNumber TotalAmt CurrencyRef PrivateNote "
        "DepositToAccountRef"
    ),
    "Term": _names("Id SyncToken MetaData Name Active DueDays Type"),
}
NAME_LISTS: Final = frozenset({"Vendor", "Customer", "Account", "Term"})
_ENTITIES: Final = {name.lower(): name for name in PROPERTIES}


class QueryError(Exception):
    """A query QBO would refuse: `code` 4000 for a parse error, 4001 for a bad name."""

    def __init__(self, code: str, message: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.message = message
        self.detail = detail


def _parse_error(detail: str) -> QueryError:
    return QueryError("4000", "Error parsing query", f"QueryParserError: {detail}")


def _validation_error(detail: str) -> QueryError:
    return QueryError("4001", "Invalid query", f"QueryValidationError: {detail}")


@dataclass(frozen=True, slots=True)
class Condition:
    path: tuple[str, ...]
    op: str
    values: tuple[Literal, ...]


@dataclass(frozen=True, slots=True)
class Ordering:
    path: tuple[str, ...]
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    entity: str
    count: bool = False
    where: tuple[Condition, ...] = ()
    order_by: tuple[Ordering, ...] = ()
    start_position: int = 1
    max_results: int = DEFAULT_MAX_RESULTS
    explicit: frozenset[str] = field(default_factory=frozenset)


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.|'')*')
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),*])
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    position = 0
    text = text.strip().rstrip(";")
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip() == "":
                break
            raise _parse_error(f"unexpected text at {text[position : position + 20]!r}")
        kind = match.lastgroup or ""
        out.append(_Token(kind, match.group(kind)))
        position = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def next(self) -> _Token:
        token = self.peek()
        if token is None:
            raise _parse_error("unexpected end of query")
        self.at += 1
        return token

    def at_text(self, text: str) -> bool:
        token = self.peek()
        return token is not None and token.text == text

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.lower() in words:
            self.at += 1
            return token.text.lower()
        return None

    def expect_keyword(self, word: str) -> None:
        if self.keyword(word) is None:
            found = self.peek()
            raise _parse_error(f"expected {word.upper()}, found {found.text if found else 'end'}")

    def expect(self, text: str) -> None:
        token = self.next()
        if token.text != text:
            raise _parse_error(f"expected {text!r}, found {token.text!r}")

    def integer(self) -> int:
        token = self.next()
        if token.kind != "number" or "." in token.text or token.text.startswith("-"):
            raise _parse_error(f"expected a whole number, found {token.text!r}")
        return int(token.text)

    def literal(self) -> Literal:
        token = self.next()
        if token.kind == "string":
            inner = token.text[1:-1]
            return re.sub(r"\\(.)|''", lambda m: m.group(1) or "'", inner)
        if token.kind == "number":
            try:
                return Decimal(token.text)
            except InvalidOperation:
                raise _parse_error(f"bad number {token.text!r}") from None
        if token.kind == "word" and token.text.lower() in ("true", "false"):
            return token.text.lower() == "true"
        raise _parse_error(f"expected a value, found {token.text!r}")

    def path(self) -> tuple[str, ...]:
        token = self.next()
        if token.kind != "word":
            raise _parse_error(f"expected a property, found {token.text!r}")
        return tuple(token.text.split("."))


def parse(text: str) -> Query:
    parser = _Parser(text)
    parser.expect_keyword("select")
    count = False
    if parser.keyword("count"):
        parser.expect("(")
        parser.expect("*")
        parser.expect(")")
        count = True
    else:
        parser.expect("*")
    parser.expect_keyword("from")
    entity_token = parser.next()
    entity = _ENTITIES.get(entity_token.text.lower())
    if entity_token.kind != "word" or entity is None:
        raise _validation_error(f"entity {entity_token.text!r} is not supported")
    known = PROPERTIES[entity]

    def checked(path: tuple[str, ...]) -> tuple[str, ...]:
        if path[0].lower() not in known:
            raise _validation_error(f"property {'.'.join(path)} not found for entity {entity}")
        return path

    where: list[Condition] = []
    if parser.keyword("where"):
        while True:
            path = checked(parser.path())
            if parser.keyword("in"):
                parser.expect("(")
                values = [parser.literal()]
                while parser.at_text(","):
                    parser.next()
                    values.append(parser.literal())
                parser.expect(")")
                where.append(Condition(path, "in", tuple(values)))
            elif parser.keyword("like"):
                value = parser.literal()
                if not isinstance(value, str):
                    raise _parse_error("LIKE needs a string")
                where.append(Condition(path, "like", (value,)))
            else:
                operator = parser.next()
                if operator.kind != "op" or operator.text in ("!=", "<>"):
                    raise _parse_error(f"unsupported operator {operator.text!r}")
                where.append(Condition(path, operator.text, (parser.literal(),)))
            if parser.keyword("and") is None:
                break
            if parser.keyword("or"):
                raise _parse_error("OR is not supported")
    order: list[Ordering] = []
    if parser.keyword("orderby", "order"):
        if parser.tokens[parser.at - 1].text.lower() == "order":
            parser.expect_keyword("by")
        while True:
            path = checked(parser.path())
            direction = parser.keyword("asc", "desc")
            order.append(Ordering(path, direction == "desc"))
            if not parser.at_text(","):
                break
            parser.next()
    start, limit = 1, DEFAULT_MAX_RESULTS
    while parser.peek() is not None:
        word = parser.keyword("startposition", "maxresults")
        if word is None:
            raise _parse_error(f"unexpected {parser.next().text!r}")
        number = parser.integer()
        if word == "startposition":
            start = max(1, number)
        else:
            limit = min(max(1, number), MAX_RESULTS_CAP)
    return Query(
        entity=entity,
        count=count,
        where=tuple(where),
        order_by=tuple(order),
        start_position=start,
        max_results=limit,
        explicit=frozenset(c.path[0].lower() for c in where),
    )


# Evaluation ----------------------------------------------------------------------------


def resolve(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value at a dotted path, matching keys case-insensitively; a reference
    (`{"value": ..., "name": ...}`) stands for its value."""
    current: Any = record
    for segment in path:
        if not isinstance(current, dict):
            return None
        lowered = segment.lower()
        current = next((v for k, v in current.items() if k.lower() == lowered), None)
    if isinstance(current, dict) and "value" in current:
        return current["value"]
    return current


def _instant(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=COMPANY_TZ)
    return moment.astimezone(UTC)


def _comparable(actual: Any, literal: Literal) -> tuple[Any, Any] | None:
    if isinstance(literal, bool) or isinstance(actual, bool):
        if isinstance(actual, bool) and isinstance(literal, bool):
            return actual, literal
        if isinstance(actual, bool) and isinstance(literal, str):
            return actual, literal.lower() == "true"
        return None
    if isinstance(actual, Decimal | int):
        try:
            return Decimal(actual), Decimal(literal)
        except InvalidOperation:
            return None
    if isinstance(actual, str):
        if isinstance(literal, Decimal):
            try:
                return Decimal(actual), literal
            except InvalidOperation:
                return actual, str(literal)
        if "T" in actual and len(actual) > 10:
            left, right = _instant(actual), _instant(literal)
            if left is not None and right is not None:
                return left, right
        if actual.isdigit() and literal.isdigit():
            return int(actual), int(literal)
        return actual, literal
    return None


def _like(actual: Any, pattern: str) -> bool:
    if not isinstance(actual, str):
        return False
    regex = ".*".join(re.escape(part) for part in pattern.split("%"))
    return re.fullmatch(regex, actual, re.IGNORECASE | re.DOTALL) is not None


def _holds(record: dict[str, Any], condition: Condition) -> bool:
    actual = resolve(record, condition.path)
    if actual is None:
        return False
    if condition.op == "like":
        return _like(actual, str(condition.values[0]))
    if condition.op == "in":
        return any(_holds(record, Condition(condition.path, "=", (v,))) for v in condition.values)
    pair = _comparable(actual, condition.values[0])
    if pair is None:
        return False
    left, right = pair
    try:
        match condition.op:
            case "=":
                return bool(left == right)
            case "<":
                return bool(left < right)
            case ">":
                return bool(left > right)
            case "<=":
                return bool(left <= right)
            case ">=":
                return bool(left >= right)
    except TypeError:
        return False
    return False


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (3, "")
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, Decimal | int):
        return (0, Decimal(value))
    if isinstance(value, str):
        if value.isdigit():
            return (0, Decimal(value))
        moment = _instant(value) if "T" in value and len(value) > 10 else None
        if moment is not None:
            return (1, moment)
        return (2, value.lower())
    return (2, str(value))


def select(query: Query, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records matching the WHERE clause, ordered (Id by default), not yet paged."""
    matching = [r for r in records if all(_holds(r, c) for c in query.where)]
    if query.entity in NAME_LISTS and "active" not in query.explicit:
        matching = [r for r in matching if r.get("Active", True) is True]
    matching.sort(key=lambda r: _sort_key(r.get("Id")))
    for ordering in reversed(query.order_by):
        present = [r for r in matching if resolve(r, ordering.path) is not None]
        absent = [r for r in matching if resolve(r, ordering.path) is None]
        present.sort(
            key=lambda r: _sort_key(resolve(r, ordering.path)), reverse=ordering.descending
        )
        matching = present + absent
    return matching


def page(query: Query, matching: list[dict[str, Any]]) -> list[dict[str, Any]]:
    start = query.start_position - 1
    return matching[start : start + query.max_results]
