"""Syntax errors that explain themselves: line and column, the token at fault, and a one-line hint.

The parsers say where they stopped and which grammar rules they expected there: Oxigraph
("error at 1:29: expected one of Prefix not found, ['%'], ['A' ..= 'Z' | ... '\\u{037F}'..]")
and rdflib ("Expected {SelectQuery | ConstructQuery ...}, found 'SELEKT'"). A person needs the
cause in words. `explain` looks at the text itself (the same token scanner as the server's
checks: strings, IRIs and comments skipped whole) for the common mistakes, in this order:

- an update sent to the query endpoint, or a query sent to the update endpoint;
- a query that does not start with SELECT, ASK, CONSTRUCT or DESCRIBE (with "did you mean");
- a prefix used but not declared (for an icgraph prefix, the exact PREFIX line to add);
- a variable selected next to aggregates but missing from GROUP BY;
- a word that is no SPARQL keyword where a keyword must be (``LIMT``, with "did you mean");

and otherwise keeps the parser's position with its expectations trimmed to the readable ones
(keywords and punctuation; never a list of Unicode ranges).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from icgraph.namespaces import PREFIXES
from icgraph.sparql.text import scan_tokens

QUERY_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
UPDATE_OPERATIONS = ("INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH")
AGGREGATES = {"COUNT", "SUM", "MIN", "MAX", "AVG", "SAMPLE", "GROUP_CONCAT"}

#: Every keyword and built-in function name of SPARQL 1.1 (and Oxigraph's extensions), for "did you mean".
KEYWORDS = frozenset(
    """
    BASE PREFIX SELECT DISTINCT REDUCED AS CONSTRUCT WHERE DESCRIBE ASK FROM NAMED GROUP BY HAVING ORDER ASC DESC
    LIMIT OFFSET VALUES LOAD SILENT INTO CLEAR DROP CREATE ADD TO MOVE COPY INSERT DATA DELETE WITH USING DEFAULT
    GRAPH ALL OPTIONAL SERVICE BIND UNDEF MINUS UNION FILTER A IN NOT EXISTS SEPARATOR LATERAL TRUE FALSE
    STR LANG LANGMATCHES DATATYPE BOUND IRI URI BNODE RAND ABS CEIL FLOOR ROUND CONCAT STRLEN UCASE LCASE
    ENCODE_FOR_URI CONTAINS STRSTARTS STRENDS STRBEFORE STRAFTER YEAR MONTH DAY HOURS MINUTES SECONDS TIMEZONE
    TZ NOW UUID STRUUID MD5 SHA1 SHA256 SHA384 SHA512 COALESCE IF STRLANG STRDT SAMETERM ISIRI ISURI ISBLANK
    ISLITERAL ISNUMERIC REGEX SUBSTR REPLACE COUNT SUM MIN MAX AVG SAMPLE GROUP_CONCAT TRIPLE SUBJECT PREDICATE
    OBJECT ISTRIPLE ADJUST
    """.split()
)
#: Words after which a keyword must come, at the top level of a query (outside braces).
_CLAUSE_KEYWORDS = ("WHERE", "GROUP", "BY", "HAVING", "ORDER", "LIMIT", "OFFSET", "VALUES", "FROM", "NAMED")

_PREFIXED_NAME = re.compile(r"(?<![\w?$.:-])([A-Za-z][\w.-]*)?:")
_PLAIN_WORD = re.compile(r"^[A-Za-z_]+$")
_OXIGRAPH_POSITION = re.compile(r"error at (\d+):(\d+):\s*(.*)", re.DOTALL)
_RDFLIB_POSITION = re.compile(r"line:?\s*(\d+),?\s*col(?:umn)?:?\s*(\d+)")
_CHARACTER_CLASS = re.compile(r"\[(?:'(?:\\.|[^'])*'|[^\]'])*\]")


@dataclass
class SyntaxProblem:
    """What is wrong with a query or update, where, and what to do about it."""

    kind: str  # update-at-query-endpoint, query-at-update-endpoint, unknown-form, undeclared-prefix, not-grouped, unknown-keyword, syntax
    line: int
    column: int
    token: str
    detail: str  # what is wrong, in words
    hint: str  # one line: what to do
    what: str = "query"

    def message(self) -> str:
        at = f', at "{self.token}"' if self.token else ""
        return f"Syntax error in the {self.what} at line {self.line}, column {self.column}{at}: {self.detail}\nHint: {self.hint}"

    def as_json(self) -> dict:
        return {"kind": self.kind, "line": self.line, "column": self.column, "token": self.token, "detail": self.detail,
                "hint": self.hint}


def explain(text: str, parser_message: str, what: str = "query") -> SyntaxProblem:
    """The problem with ``text`` (a query, or an update when ``what`` is "update"), which a parser refused with ``parser_message``."""
    tokens = [(offset, token, braces) for offset, token, braces, _ in scan_tokens(text)]
    for check in (_wrong_operation, _undeclared_prefix, _not_grouped, _unknown_keyword, _unbalanced):
        problem = check(text, tokens, what)
        if problem is not None:
            return problem
    return _from_parser(text, tokens, parser_message, what)


# ---------------------------------------------------------------------------
# Positions and tokens
# ---------------------------------------------------------------------------


def _line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of ``offset``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _offset(text: str, line: int, column: int) -> int:
    starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
    start = starts[min(max(line, 1), len(starts)) - 1]
    return min(start + max(column, 1) - 1, len(text))


def _problem(text: str, offset: int, token: str, kind: str, detail: str, hint: str, what: str) -> SyntaxProblem:
    line, column = _line_column(text, offset)
    return SyntaxProblem(kind, line, column, token, detail, hint, what)


def _body(tokens: list) -> list:
    """The tokens after the prologue (PREFIX name, BASE): the first one is the query form or update operation."""
    index = 0
    while index < len(tokens):
        word = tokens[index][1].upper()
        if word == "PREFIX":
            index += 2  # PREFIX and the prefix name; the IRI is skipped by the scanner
        elif word == "BASE":
            index += 1
        else:
            break
    return tokens[index:]


def _suggestion(word: str, choices) -> str | None:
    close = difflib.get_close_matches(word.upper(), list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


# ---------------------------------------------------------------------------
# The common mistakes
# ---------------------------------------------------------------------------


def _wrong_operation(text: str, tokens: list, what: str) -> SyntaxProblem | None:
    body = _body(tokens)
    if not body:
        return None
    offset, word, _ = body[0]
    upper = word.upper()
    if what == "query" and upper in UPDATE_OPERATIONS:
        return _problem(
            text, offset, word, "update-at-query-endpoint", f"{upper} makes this a SPARQL update, and /sparql answers queries only.",
            "Send updates with POST to /update (form field 'update', or Content-Type application/sparql-update) "
            "with an 'Authorization: Bearer <token>' header.", what,
        )
    if what == "update" and upper in QUERY_FORMS:
        return _problem(
            text, offset, word, "query-at-update-endpoint", f"{upper} makes this a SPARQL query, and /update applies updates only.",
            "Send queries to /sparql (GET ?query=..., or POST).", what,
        )
    allowed = QUERY_FORMS if what == "query" else UPDATE_OPERATIONS
    if upper in allowed or upper in UPDATE_OPERATIONS + QUERY_FORMS:
        return None
    guess = _suggestion(word, allowed + ("PREFIX", "BASE"))
    starts = "SELECT, ASK, CONSTRUCT or DESCRIBE" if what == "query" else "INSERT, DELETE, LOAD, CLEAR, CREATE, DROP, COPY, MOVE, ADD or WITH"
    return _problem(
        text, offset, word, "unknown-form", f"a {what} must start with {starts} (after any PREFIX and BASE lines).",
        (f"Did you mean {guess}? " if guess else "") + f"Start the {what} with {starts}.", what,
    )


def _undeclared_prefix(text: str, tokens: list, what: str) -> SyntaxProblem | None:
    declared, used = set(), []
    for index, (offset, word, _) in enumerate(tokens):
        if word.upper() == "PREFIX" and index + 1 < len(tokens):
            declared.add(tokens[index + 1][1].rstrip(":"))
            continue
        if index > 0 and tokens[index - 1][1].upper() == "PREFIX":
            continue
        if word[:1] in "?$@" or word[:2] == "_:":
            continue
        for match in _PREFIXED_NAME.finditer(word):
            used.append((offset + match.start(), match.group(1) or "", word))
    for offset, prefix, word in used:
        if prefix in declared:
            continue
        if prefix in PREFIXES:
            line = f"PREFIX {prefix}: <{PREFIXES[prefix]}>"
            hint = f"Add this line at the top of the {what}: {line}"
            detail = f"the prefix {prefix}: is not declared ({prefix}: is an icgraph prefix, but every {what} must declare the prefixes it uses)."
        else:
            hint = f"Declare it at the top of the {what}: PREFIX {prefix}: <namespace IRI>, or write the full IRI in <...>."
            detail = f"the prefix {prefix}: is not declared."
        return _problem(text, offset, word, "undeclared-prefix", detail, hint, what)
    return None


def _not_grouped(text: str, tokens: list, what: str) -> SyntaxProblem | None:
    if what != "query":
        return None
    body = _body(tokens)
    if not body or body[0][1].upper() != "SELECT":
        return None
    projected: list[tuple[int, str]] = []  # bare variables of the SELECT clause
    aggregate, depth, previous = False, 0, ""
    for offset, word, braces in body[1:]:
        upper = word.upper()
        if braces > 0 or word == "{" or upper in ("WHERE", "FROM"):
            break
        if word == "(":
            depth += 1
        elif word == ")":
            depth -= 1
        elif upper in AGGREGATES:
            aggregate = True
        elif word[:1] in "?$" and depth == 0 and previous.upper() != "AS":
            projected.append((offset, word[1:]))
        previous = word
    grouped, in_group_by, found_group_by = set(), False, False
    for index, (offset, word, braces) in enumerate(tokens):
        if braces != 0:
            continue
        upper = word.upper()
        if upper == "BY" and index > 0 and tokens[index - 1][1].upper() == "GROUP":
            in_group_by = found_group_by = True
        elif upper in ("HAVING", "ORDER", "LIMIT", "OFFSET", "VALUES"):
            in_group_by = False
        elif in_group_by and word[:1] in "?$":
            grouped.add(word[1:])
    if not (aggregate or found_group_by):
        return None
    for offset, name in projected:
        if name not in grouped:
            return _problem(
                text, offset, "?" + name, "not-grouped",
                f"?{name} is selected, but the query groups its results (GROUP BY or an aggregate such as COUNT) and ?{name} is not grouped.",
                f"Add ?{name} to GROUP BY" + (" (GROUP BY ... ?" + name + ")" if found_group_by else f" (GROUP BY ?{name})")
                + f", or wrap it in an aggregate: (SAMPLE(?{name}) AS ?any_{name}).", what,
            )
    return None


def _unknown_keyword(text: str, tokens: list, what: str) -> SyntaxProblem | None:
    """A plain word outside braces, where only keywords stand, that is no SPARQL keyword (``LIMT``)."""
    body = _body(tokens)
    seen_group = False
    for offset, word, braces in body[1:]:
        if word == "{":
            seen_group = True
        if braces != 0 or not seen_group or not _PLAIN_WORD.match(word) or word.upper() in KEYWORDS:
            continue
        guess = _suggestion(word, _CLAUSE_KEYWORDS)
        return _problem(
            text, offset, word, "unknown-keyword", f"{word} is not a SPARQL keyword.",
            (f"Did you mean {guess}? " if guess else "")
            + "After the WHERE clause come GROUP BY, HAVING, ORDER BY, LIMIT, OFFSET and VALUES.", what,
        )
    return None


def _unbalanced(text: str, tokens: list, what: str) -> SyntaxProblem | None:
    """A brace or parenthesis never closed, or closed without being opened."""
    pairs, stack = {"}": "{", ")": "("}, []
    for offset, word, _ in tokens:
        if word in "{(":
            stack.append((offset, word))
        elif word in pairs:
            if stack and stack[-1][1] != pairs[word]:
                break  # the innermost open one is the one left unclosed
            if not stack:
                return _problem(text, offset, word, "unbalanced", f"this {word} closes nothing that is open here.",
                                f"Remove it, or open it with {pairs[word]} where the group or expression starts.", what)
            stack.pop()
    if stack:
        offset, word = stack[-1]
        closer = "}" if word == "{" else ")"
        return _problem(text, offset, word, "unbalanced", f"this {word} is never closed.", f"Add the {closer} that closes it.", what)
    return None


# ---------------------------------------------------------------------------
# Anything else: the parser's position, its expectations made readable
# ---------------------------------------------------------------------------


def readable_expectations(message: str) -> list[str]:
    """The keywords and punctuation of a parser's "expected one of ..." (character classes and internal names dropped)."""
    said = re.sub(r"^.*?expected (?:one of )?", "", message, count=1, flags=re.DOTALL | re.IGNORECASE)
    said = _CHARACTER_CLASS.sub("", said)
    items = []
    for item in re.split(r",\s+|\s+\|\s+", said.replace("\n", " ")):
        item = item.strip().strip("{}").strip()
        if not item or " " in item or item.startswith("[") or "\\u" in item:
            continue  # character classes, and Oxigraph's messages in place of a rule ("Prefix not found")
        items.append(item)
    return list(dict.fromkeys(items))[:10]


def _token_at(text: str, tokens: list, offset: int) -> tuple[int, str]:
    """The token at ``offset``, or the last one before it (parsers report where they stopped)."""
    best = (offset, "")
    for start, word, _ in tokens:
        if start > offset:
            break
        best = (start, word)
    return best


def _from_parser(text: str, tokens: list, parser_message: str, what: str) -> SyntaxProblem:
    match = _OXIGRAPH_POSITION.search(parser_message) or _RDFLIB_POSITION.search(parser_message)
    if match:
        offset = _offset(text, int(match.group(1)), int(match.group(2)))
    else:
        offset = len(text)
    start, token = _token_at(text, tokens, offset)
    expected = readable_expectations(parser_message) if "xpected" in parser_message else []
    if "unbound" in parser_message.lower() and not expected:
        detail = "a variable of the SELECT clause is not bound by the query."
    elif expected:
        detail = "the parser expected " + (expected[0] if len(expected) == 1 else "one of " + ", ".join(expected)) + " here."
    else:
        detail = "the parser could not read the text from here."
    if token in ("{", "}", "(", ")") or not token:
        hint = "Check that braces and parentheses are balanced and each triple pattern has a subject, a predicate and an object."
    else:
        hint = f"Check the {what} just before and at {token}: a missing or misspelt word, a missing '.', or an unbalanced brace."
    return _problem(text, start if token else offset, token, "syntax", detail, hint, what)
