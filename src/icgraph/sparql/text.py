"""SPARQL as text: a tokenizer that skips strings, IRIs and comments, the query form, and
parameters bound by a VALUES block (never pasted into the text).

Used by the remote store (`icgraph.backends`) to bind substitutions the way Oxigraph does,
and by the server's checks (`icgraph.server.security`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pyoxigraph as ox


_IRI = re.compile(r"<[^<>\"{}|^`\\\x00-\x20]*>")
_WORD = re.compile(r"[^\s{}()\[\];,.<\"'#]+(?:\.[^\s{}()\[\];,.<\"'#]+)*")


def _skip_whole(text: str, i: int) -> int | None:
    """The offset past the comment, string or IRI that starts at ``i``, or None when none starts there."""
    c, n = text[i], len(text)
    if c == "#":
        while i < n and text[i] not in "\r\n":
            i += 1
        return i
    if c in "\"'":
        quote = c * 3 if text.startswith(c * 3, i) else c
        i += len(quote)
        while i < n and not text.startswith(quote, i):
            i += 2 if text[i] == "\\" else 1
        return i + len(quote)
    if c == "<" and (match := _IRI.match(text, i)):
        return match.end()
    return None


def scan_tokens(text: str) -> Iterator[tuple[int, str, int, int]]:
    """(offset, token, brace depth, parenthesis depth) of SPARQL's braces, parentheses and words.

    Strings, IRIs and comments are skipped whole, so a ``{`` or a keyword inside them never counts.
    Shared by `bind_substitutions` and the server's `icgraph.server.security.add_protocol_dataset`.
    """
    i, braces, parens, n = 0, 0, 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace() or c in ";,.[]":
            i += 1
        elif (end := _skip_whole(text, i)) is not None:
            i = end
        elif c == "{":
            yield i, c, braces, parens
            braces += 1
            i += 1
        elif c == "}":
            braces -= 1
            yield i, c, braces, parens
            i += 1
        elif c == "(":
            yield i, c, braces, parens
            parens += 1
            i += 1
        elif c == ")":
            parens -= 1
            yield i, c, braces, parens
            i += 1
        else:
            match = _WORD.match(text, i)
            if not match:  # an operator such as < > = ! used outside an IRI
                i += 1
                continue
            yield i, match.group(), braces, parens
            i = match.end()


def normalised(text: str) -> str:
    """The query with its comments removed and each run of white space outside strings and IRIs made one space.

    Two texts that differ only in layout or comments normalise alike (the result cache's key,
    `icgraph.server.result_cache`); strings and IRIs are copied as they are.
    """
    out: list[str] = []
    i, n, space = 0, len(text), False
    while i < n:
        c = text[i]
        if c.isspace():
            space, i = True, i + 1
            continue
        start = i
        end = _skip_whole(text, i)
        if c == "#":
            space, i = True, end
            continue
        if end is not None:
            i = end
        else:
            i += 1
            while i < n and not text[i].isspace() and text[i] not in "#\"'<":
                i += 1
        if space and out:
            out.append(" ")
        out.append(text[start:i])
        space = False
    return "".join(out)


def query_form(text: str) -> str:
    """SELECT, ASK, CONSTRUCT or DESCRIBE: the first such keyword outside braces."""
    for _, token, braces, _ in scan_tokens(text):
        if braces == 0 and token.upper() in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE"):
            return token.upper()
    raise SyntaxError("not a SPARQL query (no SELECT, ASK, CONSTRUCT or DESCRIBE)")


def values_block(substitutions: dict) -> str:
    """``VALUES (?a ?b) { (<iri> "lit"^^<dt>) }`` with each term written by pyoxigraph (N-Triples syntax)."""
    names, terms = [], []
    for variable, term in substitutions.items():
        variable = variable if isinstance(variable, ox.Variable) else ox.Variable(str(variable).lstrip("?$"))
        if isinstance(term, ox.BlankNode):
            raise ValueError(f"?{variable.value}: a blank node cannot be bound on a remote store (SPARQL VALUES takes no blank nodes)")
        if not isinstance(term, (ox.NamedNode, ox.Literal)):
            raise ValueError(f"?{variable.value}: only IRIs and literals can be bound on a remote store, not {term!r}")
        names.append(str(variable))
        terms.append(str(term))
    return f"VALUES ({' '.join(names)}) {{ ({' '.join(terms)}) }}"


def bind_substitutions(text: str, substitutions: dict | None) -> str:
    """The query with ``substitutions`` bound by a VALUES block at the start of its WHERE clause.

    That block is joined with everything else in the outermost group *before* OPTIONAL, MINUS,
    FILTER, GROUP BY, aggregates, projection, ORDER BY and LIMIT apply, so the answer is the one
    Oxigraph gives for the same ``substitutions`` (SEP-0007): aggregates count only the bound
    rows, the variable keeps its value in the projection, LIMIT counts bound rows. (A trailing
    VALUES after the query, or a wrapping ``SELECT * { VALUES .. { query } }``, would join only
    after grouping and slicing, and a CONSTRUCT cannot be wrapped.) Like Oxigraph, a SELECT must
    project each substituted variable. One difference remains: a variable used *only* inside a
    sub-SELECT that does not project it is a different variable there, and stays unbound.
    """
    if not substitutions:
        return text
    return insert_in_where(text, values_block(substitutions), check=substitutions)


def insert_in_where(text: str, block: str, check: dict | None = None) -> str:
    """``text`` with ``block`` (a VALUES block or group patterns) opening its outermost WHERE clause.

    There it is joined with everything else in the query's top-level group before OPTIONAL,
    FILTER, grouping and slicing (see `bind_substitutions`). ``check``: substitutions whose
    variables a SELECT must project, as Oxigraph requires.
    """
    tokens = list(scan_tokens(text))
    form_index = next(
        (k for k, (_, tok, braces, _) in enumerate(tokens) if braces == 0 and tok.upper() in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")),
        None,
    )
    if form_index is None:
        raise SyntaxError("not a SPARQL query (no SELECT, ASK, CONSTRUCT or DESCRIBE)")
    form = tokens[form_index][1].upper()
    rest = tokens[form_index + 1:]
    if form == "SELECT" and check:
        _check_projection(rest, check)
    top_braces = [offset for offset, tok, braces, _ in rest if tok == "{" and braces == 0]
    if form == "CONSTRUCT":
        following = next((tok for _, tok, _, _ in rest), "")
        if following.upper() == "WHERE":  # CONSTRUCT WHERE { T }: spell it out as CONSTRUCT { T } WHERE { VALUES .. T }
            start = top_braces[0]
            end = next(offset for offset, tok, braces, _ in rest if tok == "}" and braces == 0 and offset > start)
            template = text[start + 1:end]
            where_offset = next(offset for offset, tok, _, _ in rest if tok.upper() == "WHERE")
            return f"{text[:where_offset]}{{{template}}} WHERE {{ {block}\n{template}}}{text[end + 1:]}"
        top_braces = top_braces[1:]  # skip the template
    if not top_braces:
        raise SyntaxError(f"this {form} query has no WHERE clause to bind parameters in")
    at = top_braces[0] + 1
    return f"{text[:at]} {block}\n{text[at:]}"


def bind_update(text: str, substitutions: dict) -> str:
    """An update with ``substitutions`` bound by a VALUES block opening each operation's WHERE group.

    For icgraph's own updates on a remote store (pyoxigraph's ``Store.update`` takes no
    substitutions, and a remote store gets text): values are written as RDF terms by pyoxigraph,
    never pasted. Every variable must be bound in every WHERE group, so each operation names
    them all; an operation without a WHERE clause (DROP, MOVE) cannot take parameters.
    """
    block = values_block(substitutions)
    tokens = list(scan_tokens(text))
    openings = [
        tokens[k + 1][0] + 1
        for k, (_, token, braces, _) in enumerate(tokens[:-1])
        if braces == 0 and token.upper() == "WHERE" and tokens[k + 1][1] == "{"
    ]
    if not openings:
        raise SyntaxError("this update has no WHERE clause to bind parameters in")
    for at in reversed(openings):
        text = f"{text[:at]} {block}\n{text[at:]}"
    return text


def _check_projection(tokens: list, substitutions: dict) -> None:
    projected: set[str] = set()
    previous = ""
    for _, token, braces, parens in tokens:
        if braces > 0 or token == "{" or token.upper() in ("WHERE", "FROM"):
            break
        if token == "*" and parens == 0:
            return
        if token[:1] in "?$":
            if parens == 0 or previous.upper() == "AS":
                projected.add(token[1:])
        previous = token
    for variable in substitutions:
        name = variable.value if isinstance(variable, ox.Variable) else str(variable).lstrip("?$")
        if name not in projected:
            raise RuntimeError(f"The SPARQL query does not contains variable ?{name} in its SELECT projection")
