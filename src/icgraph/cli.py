"""The ``icgraph`` command line: one command per thing a user does, in the order they do it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from icgraph import __version__
from icgraph.config import Settings

class StoreLocationType(click.ParamType):
    """``PATH``, ``oxigraph:PATH`` or ``sparql+http://host:port/path`` (icgraph.backends.parse_location)."""

    name = "STORE"

    def convert(self, value, param, ctx):
        from icgraph.backends import parse_location
        from icgraph.store import StoreError

        try:
            return parse_location(value)
        except StoreError as error:
            self.fail(str(error), param, ctx)


STORE_OPTION = click.option(
    "--store",
    "store",
    type=StoreLocationType(),
    envvar="ICGRAPH_STORE",
    show_envvar=True,
    help="Oxigraph store directory (PATH or oxigraph:PATH; default: .icgraph/store in the project), or a "
    "SPARQL 1.1 store: sparql+http://HOST:PORT/PATH (credentials from ICGRAPH_STORE_USER / ICGRAPH_STORE_PASSWORD; "
    "see docs/triple-stores.md).",
)


def _remote_options(function):
    """--store-update-url / --store-gsp-url: where a remote store takes writes (ignored for Oxigraph)."""
    function = click.option(
        "--store-gsp-url", envvar="ICGRAPH_STORE_GSP_URL", show_envvar=True, metavar="URL",
        help="Remote store: its SPARQL Graph Store Protocol URL (loads whole graphs at once instead of SPARQL Update batches).",
    )(function)
    return click.option(
        "--store-update-url", envvar="ICGRAPH_STORE_UPDATE_URL", show_envvar=True, metavar="URL",
        help="Remote store: its SPARQL Update URL (e.g. Virtuoso http://HOST:8890/sparql-auth).",
    )(function)


def _settings(store=None, update_url: str | None = None, gsp_url: str | None = None) -> Settings:
    from icgraph.backends import RemoteEndpoint

    settings = Settings()
    if store is not None:
        settings.store = store
    if isinstance(settings.store, RemoteEndpoint) and (update_url or gsp_url):
        settings.store = settings.store.with_urls(update_url, gsp_url)
    return settings


def _progress(message: str) -> None:
    click.echo(message, err=True)


def _fail(message: str, code: int = 1) -> None:
    click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="icgraph")
def main() -> None:
    """icgraph: good practices in intercultural integration and multilevel governance, as linked data.

    Build the graph, check it, query it, serve it.
    """


@main.command()
@STORE_OPTION
@_remote_options
@click.option("--strict", is_flag=True, help="Fail on any source line the parser cannot place.")
def build(store, store_update_url: str | None, store_gsp_url: str | None, strict: bool) -> None:
    """Parse the sources, map the curation, infer, validate (SHACL) and load the store.

    Nothing is published unless SHACL finds no violation: the previous store stays in place.
    A remote store (--store sparql+http://...) is loaded as `icgraph load` does.
    """
    from icgraph.backends import RemoteStoreError, SwitchedWrong, is_remote
    from icgraph.build import BuildError, build as run_build
    from icgraph.release import ReleaseError
    from icgraph.ingest.compendium import SourceError
    from icgraph.mapping.curation import CurationError
    from icgraph.store import StoreError
    from icgraph.validate import format_report

    settings = _settings(store, store_update_url, store_gsp_url)
    try:
        result = run_build(settings, strict=strict, progress=_progress)
    except (SourceError, CurationError) as error:
        _fail(str(error))
    except SwitchedWrong as error:
        _switched_wrong(settings, error)
    except (StoreError, RemoteStoreError, SyntaxError) as error:
        _fail(f"the store was not changed: {error}")
    except (BuildError, ReleaseError) as error:
        if error.validation is not None:
            click.echo(format_report(error.validation, "text"), err=True)
        _fail(str(error))
    for problem in result.problems:
        click.secho(f"warning: {problem}", fg="yellow", err=True)
    report = result.validation
    click.echo(f"Built {result.triples} triples in {result.graph_count} named graphs; release {result.release.id} "
               f"is current at {settings.store}")
    click.echo(
        "SHACL: {v} violations, {w} warnings, {i} infos (details: icgraph validate)".format(
            v=len(report.violations), w=len(report.warnings), i=len(report.infos)
        )
    )
    click.echo("Stages: " + ", ".join(f"{stage} {seconds:.2f}s" for stage, seconds in result.timings.items()))
    if is_remote(settings.store):  # the release's answers as the remote store gives them
        _remote_aggregates(result.release, settings)


@main.command()
@STORE_OPTION
@_remote_options
@click.option("--from", "source", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The N-Quads dump to load (default: dumps/icgraph.nq of the current release).")
@click.option("--batch-size", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Remote store without a Graph Store URL: triples per SPARQL Update request.")
def load(store, store_update_url: str | None, store_gsp_url: str | None, source: Path | None, batch_size: int) -> None:
    """Load a dump into the store, atomically for its readers.

    Remote stores: the graphs are written to staging graphs, their triple counts checked against the
    dump, then switched in by one SPARQL Update; on failure the previous data keeps serving.
    An embedded store gets a new release made from the dump (without a SHACL report). A remote store
    loaded from a release's dump records that release (BUILD_DIR/current), whose files the server offers.
    """
    from icgraph.backends import RemoteStoreError, SwitchedWrong, is_remote, publish
    from icgraph.publish import release_from_dump
    from icgraph.release import ReleaseError, activate, current_link, current_release, release_of_dump
    from icgraph.store import StoreError

    settings = _settings(store, store_update_url, store_gsp_url)
    if source is None:
        built = current_release(Settings().store, settings.build_dir)
        if built is None:
            _fail("no release to load from; run `icgraph build` first, or pass --from FILE")
        source = built.dump("icgraph.nq")
    try:
        if is_remote(settings.store):
            serving = publish(source, settings.store, progress=_progress, batch=batch_size)
            loaded = release_of_dump(source)
            if loaded is not None:  # the remote store now holds this release: its files describe it
                activate(settings.store, settings.build_dir, loaded)
                serving += f", release {loaded.id}"
            else:  # a dump of no release: no release's files describe the store any more
                current_link(settings.store, settings.build_dir).unlink(missing_ok=True)
        else:
            made = release_from_dump(source, settings.store, settings.build_dir, settings=settings)
            serving = f"release {made.id} at {settings.store}"
            click.echo("Stages: " + ", ".join(f"{stage} {seconds:.2f}s" for stage, seconds in made.manifest["timings"].items()))
            for name, reason in made.manifest.get("skipped", {}).items():
                click.echo(f"Left out {name}: {reason}")
    except SwitchedWrong as error:
        _switched_wrong(settings, error)
    except (StoreError, RemoteStoreError, ReleaseError, SyntaxError) as error:
        _fail(f"the store was not changed: {error}")
    click.echo(f"Loaded {source} into {serving}")
    if is_remote(settings.store) and loaded is not None:
        _remote_aggregates(loaded, settings)


def _switched_wrong(settings: Settings, error: Exception) -> None:
    """A remote store that switched but does not serve what was sent: no release describes it any more (the
    server then lists its graphs and runs every query in the store, never from a release's answers)."""
    from icgraph.release import current_link

    current_link(settings.store, settings.build_dir).unlink(missing_ok=True)
    _fail(f"the store was changed, but wrongly: {error}. No release describes it now: the server asks the store itself.")


def _remote_aggregates(release, settings: Settings) -> None:
    """Once a release is loaded into a remote store: its aggregates as that store answers them (`write_remote_aggregates`)."""
    from icgraph.precompute import write_remote_aggregates

    try:
        entry = write_remote_aggregates(release, settings)
    except OSError as error:  # the load itself is done: the server runs these queries live
        click.secho(f"warning: the store is loaded, but its precomputed answers could not be written ({error}); "
                    f"the server runs those queries live. Make {release.path} writable and load again.", fg="yellow", err=True)
        return
    click.echo(f"Aggregates: {entry['answers']} answers from the store in {entry['seconds']:.1f} s"
               + (f"; left to the live path: {', '.join(sorted(entry['refused']))}" if entry["refused"] else ""))


@main.command()
@STORE_OPTION
def releases(store) -> None:
    """The releases kept for the store, newest first; `*` marks the one served."""
    from icgraph.release import current_release, list_releases

    settings = _settings(store)
    current = current_release(settings.store, settings.build_dir)
    found = list_releases(settings.store, settings.build_dir)
    if not found:
        _fail(f"no release at {settings.store}; run `icgraph build` first")
    for item in found:
        manifest = item.manifest
        validation = manifest.get("validation") or {}
        shacl = f"{validation.get('Violation', '?')} violations, {validation.get('Warning', '?')} warnings" if validation else "no SHACL report (loaded from a dump)"
        mark = "*" if current and current.id == item.id else " "
        click.echo(f"{mark} {item.id}  {manifest.get('created', '')}  {manifest.get('triples') or 0:>9} triples  {shacl}")


@main.command()
@STORE_OPTION
@click.option("--to", "target", metavar="RELEASE_ID", help="The release to serve (default: the one before the current).")
def rollback(store, target: str | None) -> None:
    """Serve an earlier release again (servers switch at their next request)."""
    from icgraph.release import ReleaseError, rollback as roll_back

    settings = _settings(store)
    try:
        chosen = roll_back(settings.store, settings.build_dir, target)
    except ReleaseError as error:
        _fail(str(error))
    click.echo(f"Release {chosen.id} is current again at {settings.store}")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "ttl", "json"]), default="text", show_default=True)
@click.option("--strict", is_flag=True, help="Fail on any source line the parser cannot place.")
@click.option("--release", "of_release", is_flag=True,
              help="Validate the current release as it is stored (read through oxrdflib, nothing re-parsed) instead of the sources.")
@STORE_OPTION
def validate(fmt: str, strict: bool, of_release: bool, store) -> None:
    """Validate the data against the SHACL shapes and print the report (exit 1 on a violation)."""
    from icgraph.build import build_dataset
    from icgraph.ingest.compendium import SourceError
    from icgraph.mapping.curation import CurationError
    from icgraph.validate import format_report, validate as run_validation

    settings = _settings(store)
    if of_release:
        from icgraph.store import StoreError, open_graph

        try:
            report = run_validation(open_graph(settings.store), settings)
        except StoreError as error:
            _fail(str(error))
    else:
        try:
            report = build_dataset(settings, strict=strict).validation
        except (SourceError, CurationError) as error:
            _fail(str(error))
    click.echo(format_report(report, fmt))
    if not report.conforms:
        sys.exit(1)


@main.command()
@STORE_OPTION
@_remote_options
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--query-timeout", type=float, envvar="ICGRAPH_QUERY_TIMEOUT", help="Seconds before a query is stopped (default 30).")
@click.option("--update-token-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Enable SPARQL Update with the bearer token in this file.")
@click.option("--access-log/--no-access-log", default=None,
              help="A line per request on standard output, with the client's address and the query (default: off; ICGRAPH_ACCESS_LOG).")
def serve(store, store_update_url: str | None, store_gsp_url: str | None, host: str, port: int,
          query_timeout: float | None, update_token_file: Path | None, access_log: bool | None) -> None:
    """Serve the SPARQL endpoint and the linked-data site on the store (embedded, or a remote SPARQL store)."""
    settings = _settings(store, store_update_url, store_gsp_url)
    if isinstance(settings.store, Path) and settings.store.exists():
        from icgraph.server.processes import start_fork_server

        start_fork_server()  # its imports run on another core while the web application imports
    from icgraph.server.app import serve as run_server

    if query_timeout is not None:
        settings.query_timeout = query_timeout
    if update_token_file is not None:
        settings.update_token = update_token_file.read_text(encoding="utf-8").strip()
    if access_log is not None:
        settings.access_log = access_log
    if isinstance(settings.store, Path) and not settings.store.exists():
        _fail(f"no store at {settings.store}; run `icgraph build` first, or pass --store / set ICGRAPH_STORE")
    run_server(settings, host=host, port=port)


@main.command()
@click.argument("query")
@STORE_OPTION
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "tsv", "json", "xml", "ttl", "nt"]), default="table", show_default=True)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="A parameter of a library query (repeatable).")
def query(query: str, store: Path | None, fmt: str, params: tuple[str, ...]) -> None:
    """Run QUERY (a .rq file, or the name of a query in queries/) on the store."""
    from icgraph.queries import QueryParameterError, load_library, parse_parameters, parse_query_file, without_variables
    from icgraph.results import format_results
    from icgraph.backends import open_store
    from icgraph.store import StoreError, default_dataset

    settings = _settings(store)
    path = Path(query)
    try:
        if path.suffix == ".rq" or path.exists():
            if not path.exists():
                _fail(f"no query file {path}")
            library_query = parse_query_file(path)
        else:
            library = load_library(settings.queries_dir)
            if query not in library:
                _fail(f"no query named {query!r} in {settings.queries_dir}; `icgraph queries` lists them")
            library_query = library[query]
        bindings = library_query.bindings(parse_parameters(list(params)))
    except QueryParameterError as error:
        _fail(str(error), code=2)
    try:
        db = open_store(settings.store)
    except StoreError as error:
        _fail(str(error))
    try:
        results = db.query(library_query.text, **default_dataset(db), substitutions=bindings or None)
    except SyntaxError as error:
        _fail(f"{library_query.path}: {error}", code=2)
    except (OSError, RuntimeError) as error:
        _fail(f"{library_query.path}: {error}", code=2)
    sys.stdout.buffer.write(format_results(without_variables(results, set()), fmt))  # no ?_ column
    sys.stdout.flush()


@main.command("queries")
def list_queries() -> None:
    """List the queries of the library with their summaries and parameters."""
    from icgraph.queries import load_library

    for name, item in load_library(_settings().queries_dir).items():
        params = " ".join(f"{p.name}={p.default or '?'}" for p in item.parameters)
        click.echo(f"{name:40} {item.summary}" + (f"  [{params}]" if params else ""))


@main.command()
@STORE_OPTION
def stats(store: Path | None) -> None:
    """Triples per named graph and entities per class."""
    from icgraph.stats import store_statistics
    from icgraph.backends import open_store
    from icgraph.store import StoreError

    try:
        db = open_store(_settings(store).store)
    except StoreError as error:
        _fail(str(error))
    statistics = store_statistics(db)
    click.echo("Triples per named graph")
    for graph, count in statistics.triples_per_graph.items():
        click.echo(f"  {count:>8}  {graph}")
    click.echo(f"  {statistics.total_triples:>8}  (all)")
    click.echo("Entities per class")
    for cls, count in statistics.entities_per_class.items():
        click.echo(f"  {count:>8}  {cls}")


_DATASET_FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["trig", "nq", "ttl", "nt", "jsonld"]), default="trig", show_default=True
)
_DATASET_OUTPUT = click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: standard output)."
)


@main.group(invoke_without_command=True)
@STORE_OPTION
@_DATASET_FORMAT
@_DATASET_OUTPUT
@click.pass_context
def export(ctx: click.Context, store: Path | None, fmt: str, output: Path | None) -> None:
    """Export the data: the whole dataset (the default), the actor network, or a query result as a table.

    `icgraph export --format trig -o FILE` is short for `icgraph export dataset --format trig -o FILE`.
    """
    if ctx.invoked_subcommand is not None:
        given = [name for name in ("fmt", "output") if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
        if given:
            _fail(f"put --format / --output after the subcommand: icgraph export {ctx.invoked_subcommand} --format ...", code=2)
        ctx.obj = store
        return
    _export_dataset(store, fmt, output)


@export.command("dataset")
@STORE_OPTION
@_DATASET_FORMAT
@_DATASET_OUTPUT
@click.pass_context
def export_dataset(ctx: click.Context, store: Path | None, fmt: str, output: Path | None) -> None:
    """The whole dataset: TriG / N-Quads keep the named graphs; Turtle, N-Triples, JSON-LD give the union."""
    _export_dataset(store or ctx.obj, fmt, output)


def _export_dataset(store: Path | None, fmt: str, output: Path | None) -> None:
    from icgraph.export import export_store
    from icgraph.backends import open_store
    from icgraph.store import StoreError

    try:
        db = open_store(_settings(store).store)
    except StoreError as error:
        _fail(str(error))
    if output is None:
        export_store(db, fmt, sys.stdout.buffer)
    else:
        with output.open("wb") as stream:
            export_store(db, fmt, stream)


@main.group()
def report() -> None:
    """Reports for people who review the data."""


@report.command("curation")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write Markdown here (default: standard output).")
def report_curation(output: Path | None) -> None:
    """Per practice: its actors, roles and levels next to the source lines that support them."""
    from icgraph.review import curation_report

    text = curation_report(_settings())
    if output is None:
        click.echo(text)
    else:
        output.write_text(text, encoding="utf-8")


# --- accounts for contributions (icgraph.contributions.accounts) ---

STATE_DIR_OPTION = click.option(
    "--state-dir", type=click.Path(file_okay=False, path_type=Path), envvar="ICGRAPH_STATE_DIR", show_envvar=True,
    help="Durable server state (default: .icgraph/state in the project).",
)


def _state_dir(state_dir: Path | None) -> Path:
    return state_dir or Settings().state_dir


@main.group()
def users() -> None:
    """Accounts that may submit practices (contributor), decide on them (reviewer) or both and more (admin)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["contributor", "reviewer", "admin"]), default="contributor", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input instead of a prompt.")
@STATE_DIR_OPTION
def users_add(name: str, role: str, password_stdin: bool, state_dir: Path | None) -> None:
    """Create the account NAME; the password is asked for (never given on the command line)."""
    from icgraph.contributions.accounts import AccountError, add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = add_user(_state_dir(state_dir), name, role, password)
    except AccountError as error:
        _fail(str(error), code=2)
    click.echo(f"added {user.name} ({user.role})")


@users.command("list")
@STATE_DIR_OPTION
def users_list(state_dir: Path | None) -> None:
    """The accounts, with their roles."""
    from icgraph.contributions.accounts import list_users

    for user, created in list_users(_state_dir(state_dir)):
        click.echo(f"{user.name}\t{user.role}\t{created}")


@users.command("remove")
@click.argument("name")
@STATE_DIR_OPTION
def users_remove(name: str, state_dir: Path | None) -> None:
    """Remove the account NAME, its sessions and API tokens (its submissions and their history stay)."""
    from icgraph.contributions.accounts import AccountError, remove_user

    try:
        remove_user(_state_dir(state_dir), name)
    except AccountError as error:
        _fail(str(error), code=2)
    click.echo(f"removed {name}")


@users.command("token")
@click.argument("name")
@click.option("--label", default="api", show_default=True, help="What the token is for (shown nowhere but the database).")
@STATE_DIR_OPTION
def users_token(name: str, label: str, state_dir: Path | None) -> None:
    """Print a new API token for NAME (send it as `Authorization: Bearer TOKEN`); it is shown only this once."""
    from icgraph.contributions.accounts import AccountError, new_token

    try:
        click.echo(new_token(_state_dir(state_dir), name, label))
    except AccountError as error:
        _fail(str(error), code=2)


# --- analysis: the actor network, query tables and figures (icgraph.analysis; needs the `analysis` extra) ---


def _analysis():
    try:
        from icgraph import analysis
    except ImportError as error:  # pandas / networkx / matplotlib missing
        _fail(f"{error}; install the analysis extra: pip install -e '.[analysis]'")
    return analysis


def _analysis_store(store: Path | None):
    from icgraph.backends import open_store
    from icgraph.store import StoreError

    try:
        return open_store(_settings(store).store)
    except StoreError as error:
        _fail(str(error))


@export.command("network")
@STORE_OPTION
@click.option("--format", "fmt", type=click.Choice(["graphml", "gexf", "csv"]), default="graphml", show_default=True)
@click.option("--output", "-o", type=click.Path(path_type=Path),
              help="File to write (a folder for csv: nodes.csv + edges.csv). Default: icgraph-network.FORMAT "
                   "(icgraph-network/ for csv).")
@click.option("--practices-only", is_flag=True, help="Leave out ties that come only from partnerships.")
@click.pass_context
def export_network(ctx: click.Context, store: Path | None, fmt: str, output: Path | None, practices_only: bool) -> None:
    """The actor cooperation network (organisations that share a practice or a partnership).

    GraphML and GEXF open in Gephi, Cytoscape, yEd and networkx; lists (the practices an edge stands
    for, its role pairs) are joined with spaces. Attributes: docs/analysis.md.
    """
    import networkx as nx

    analysis = _analysis()
    db = _analysis_store(store or ctx.obj)
    graph = analysis.network_for_export(analysis.cooperation_network(db, partnerships=not practices_only))
    output = output or Path("icgraph-network" if fmt == "csv" else f"icgraph-network.{fmt}")
    if fmt == "csv":
        output.mkdir(parents=True, exist_ok=True)
        nodes, edges = analysis.network_tables(graph)
        nodes.to_csv(output / "nodes.csv", index=False)
        edges.to_csv(output / "edges.csv", index=False)
        written = f"{output / 'nodes.csv'} and {output / 'edges.csv'}"
    elif fmt == "graphml":
        nx.write_graphml(graph, output)
        written = str(output)
    else:
        nx.write_gexf(graph, output)
        written = str(output)
    what = "a practice" if practices_only else "a practice or a partnership"
    click.echo(f"{graph.number_of_nodes()} actors (those that take part in {what}), {graph.number_of_edges()} ties -> {written}")


@export.command("table")
@click.argument("query")
@STORE_OPTION
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default=None,
              help="Default: from the --output suffix (.parquet, else csv).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="A parameter of a library query (repeatable).")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
@click.pass_context
def export_table(ctx: click.Context, query: str, store: Path | None, fmt: str | None, params: tuple[str, ...], output: Path) -> None:
    """The result of QUERY (a library query name or a .rq file) as a CSV or Parquet table.

    Parquet keeps the column types (integers, years, booleans, dates); it needs pyarrow (the analysis extra).
    """
    from icgraph.queries import QueryParameterError, parse_parameters

    analysis = _analysis()
    fmt = fmt or ("parquet" if output.suffix == ".parquet" else "csv")
    text = query
    if query.endswith(".rq"):
        if not Path(query).exists():
            _fail(f"no query file {query}")
        text = Path(query).read_text(encoding="utf-8")
    try:
        table = analysis.run_query(text, _analysis_store(store or ctx.obj), **parse_parameters(list(params)))
    except KeyError as error:
        _fail(str(error.args[0]))
    except QueryParameterError as error:
        _fail(str(error), code=2)
    except SyntaxError as error:
        _fail(f"{query}: {error}", code=2)
    if fmt == "parquet":
        try:
            table.to_parquet(output, index=False)
        except ImportError:
            _fail("writing Parquet needs pyarrow: pip install -e '.[analysis]'")
    else:
        table.to_csv(output, index=False)
    click.echo(f"{len(table)} rows, {len(table.columns)} columns -> {output}")


@main.command()
@STORE_OPTION
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to write into (default: docs/figures in the project).")
def figures(store: Path | None, output: Path | None) -> None:
    """Draw the governance-mapping figures as PNG and SVG: practices by principle and country, level-pair
    matrix, actor network coloured by level, timeline of practices."""
    analysis = _analysis()
    settings = _settings(store)
    db = _analysis_store(store)
    output = output or settings.project_dir / "docs" / "figures"
    for path in analysis.write_figures(output, db, settings):
        click.echo(f"{path.stat().st_size // 1024:>5} KB  {path}")


if __name__ == "__main__":  # pragma: no cover
    main()
