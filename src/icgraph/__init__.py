"""icgraph: a knowledge graph of good practices in intercultural integration and multilevel governance."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("icgraph")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
