"""The competency-query library: ``queries/*.rq`` files with grlc-style headers.

A header is a block of ``#+`` comment lines holding YAML::

    #+ summary: Practices per principle and country
    #+ tags: [practices, coverage]
    #+ defaults:
    #+   - country: place:es

Parameters follow grlc: a variable ``?_name`` (required) or ``?__name`` (optional),
optionally typed by a suffix (``?_country_iri``, ``?_year_integer``). Values are
bound as RDF terms through Oxigraph's ``substitutions`` (never spliced into the
query text), so a parameter variable must be in the SELECT projection (or the
query must be ``SELECT *``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
import yaml

from icgraph.namespaces import expand

_PARAMETER = re.compile(r"\?(__?)([A-Za-z][A-Za-z0-9]*)(?:_(iri|string|integer|decimal|boolean|date|year|en))?\b")
_XSD = "http://www.w3.org/2001/XMLSchema#"


class QueryParameterError(ValueError):
    """A parameter value is missing or not of the parameter's type."""


@dataclass(frozen=True)
class Parameter:
    name: str
    variable: str
    type: str
    required: bool
    default: str | None = None


@dataclass(frozen=True)
class LibraryQuery:
    """One ``.rq`` file of the library."""

    name: str
    path: Path
    text: str
    summary: str
    description: str
    tags: tuple[str, ...]
    parameters: tuple[Parameter, ...] = field(default=())

    def bindings(self, values: dict[str, str]) -> dict[ox.Variable, ox.NamedNode | ox.Literal]:
        """RDF terms for the given parameter values (defaults fill the gaps); raises QueryParameterError."""
        unknown = set(values) - {p.name for p in self.parameters}
        if unknown:
            known = ", ".join(p.name for p in self.parameters) or "none"
            raise QueryParameterError(f"{self.name} has no parameter {', '.join(sorted(unknown))} (its parameters: {known})")
        terms = {}
        for parameter in self.parameters:
            value = values.get(parameter.name, parameter.default)
            if value is None:
                if parameter.required:
                    raise QueryParameterError(f"{self.name} needs the parameter {parameter.name} ({parameter.type})")
                continue
            terms[ox.Variable(parameter.variable)] = to_term(value, parameter.type, parameter.name)
        return terms


def to_term(value: str, kind: str, name: str = "value") -> ox.NamedNode | ox.Literal:
    """Turn a parameter value into an RDF term of the given kind, or raise QueryParameterError."""
    value = str(value).strip()
    try:
        if kind == "iri":
            value = expand(value)
            if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s<>\"{}|\\^`]+$", value):
                raise ValueError("not an absolute IRI or a known prefixed name")
            return ox.NamedNode(value)
        if kind in ("integer", "year"):
            number = int(value)
            datatype = "gYear" if kind == "year" else "integer"
            lexical = f"{number:04d}" if kind == "year" else str(number)
            return ox.Literal(lexical, datatype=ox.NamedNode(_XSD + datatype))
        if kind == "decimal":
            float(value)
            return ox.Literal(value, datatype=ox.NamedNode(_XSD + "decimal"))
        if kind == "boolean":
            if value not in ("true", "false"):
                raise ValueError("use true or false")
            return ox.Literal(value, datatype=ox.NamedNode(_XSD + "boolean"))
        if kind == "date":
            if not re.match(r"^\d{4}-\d{2}-\d{2}$", value):
                raise ValueError("use YYYY-MM-DD")
            return ox.Literal(value, datatype=ox.NamedNode(_XSD + "date"))
        if kind == "en":
            return ox.Literal(value, language="en")
        return ox.Literal(value)
    except ValueError as error:
        raise QueryParameterError(f"parameter {name}: {value!r} is not a valid {kind}: {error}") from error


def without_parameters(results, query: LibraryQuery):
    """SELECT results with the query's parameter variables left out of the head and the rows.

    A parameter must be projected to be bound (``substitutions``), but ``?_year_year`` is plumbing,
    not a column: the result shows the query's public variables only.
    """
    return without_variables(results, {p.variable for p in query.parameters})


def without_variables(results, hidden: set[str]):
    """SELECT results with the variables ``hidden`` left out of the head and the rows (see `without_parameters`),
    and every variable named ``?_...`` (a parameter or an internal variable, by the grlc convention): no
    public result carries an internal column."""
    if not isinstance(results, ox.QuerySolutions):
        return results
    hidden = set(hidden) | {v.value for v in results.variables if v.value.startswith("_")}
    if not any(v.value in hidden for v in results.variables):
        return results
    document = json.loads(results.serialize(format=ox.QueryResultsFormat.JSON))
    document["head"]["vars"] = [v for v in document["head"]["vars"] if v not in hidden]
    for row in document["results"]["bindings"]:
        for variable in hidden:
            row.pop(variable, None)
    return ox.parse_query_results(json.dumps(document).encode("utf-8"), ox.QueryResultsFormat.JSON)


def parse_query_file(path: Path) -> LibraryQuery:
    """Read one ``.rq`` file and its grlc header."""
    text = path.read_text(encoding="utf-8")
    header_lines = [line[2:].removeprefix(" ") for line in text.splitlines() if line.startswith("#+")]
    header = yaml.safe_load("\n".join(header_lines)) if header_lines else {}
    header = header or {}
    defaults: dict[str, str] = {}
    for item in header.get("defaults") or []:
        defaults.update({str(k): str(v) for k, v in item.items()})
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    parameters: dict[str, Parameter] = {}
    for underscores, name, kind in _PARAMETER.findall(body):
        variable = f"{underscores}{name}" + (f"_{kind}" if kind else "")
        parameters.setdefault(
            name,
            Parameter(name=name, variable=variable, type=kind or "string", required=underscores == "_" and name not in defaults, default=defaults.get(name)),
        )
    tags = header.get("tags") or []
    return LibraryQuery(
        name=path.stem,
        path=path,
        text=text,
        summary=str(header.get("summary", "")).strip(),
        description=str(header.get("description", "")).strip(),
        tags=tuple(tags if isinstance(tags, list) else [tags]),
        parameters=tuple(parameters.values()),
    )


def load_library(folder: Path) -> dict[str, LibraryQuery]:
    """Every query of the library by name (the file name without ``.rq``)."""
    return {path.stem: parse_query_file(path) for path in sorted(folder.glob("*.rq"))}


def parse_parameters(pairs: list[str]) -> dict[str, str]:
    """``["key=value", ...]`` from the command line to a dict; raises QueryParameterError on a pair without '='."""
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise QueryParameterError(f"--param takes key=value, not {pair!r}")
        values[key.strip()] = value
    return values
