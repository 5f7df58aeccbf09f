"""icgraph: a knowledge graph of good practices in intercultural integration and multilevel governance."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("icgraph")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"


def open_graph(location=None, union: bool = True):
    """The current release (of ``location``, default: the settings' store) as a read-only rdflib Dataset
    backed by Oxigraph (see `icgraph.store.open_graph`)."""
    from icgraph.config import Settings
    from icgraph.store import open_graph as _open_graph

    return _open_graph(Settings().store if location is None else location, union=union)
