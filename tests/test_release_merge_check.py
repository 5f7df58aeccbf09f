"""A reader opening a release's store knows in O(1) whether its default graph holds the merge
(icgraph.store.release_holds_merge), and knows what the full check (holds_merge) would say."""

from __future__ import annotations

import pyoxigraph as ox

from icgraph.store import holds_merge, release_holds_merge

EX = "http://example.org/"


def test_a_built_release_holds_the_merge_and_the_quick_check_says_so(built):
    store = ox.Store.read_only(str(built.build_result.release.store))
    assert release_holds_merge(store) is True
    assert holds_merge(store) is True


def test_a_store_of_named_graphs_only_is_read_as_their_union(tmp_path):
    """A release written before the merge was loaded has an empty default graph: both checks say no merge."""
    store = ox.Store(str(tmp_path / "store"))
    store.add(ox.Quad(ox.NamedNode(EX + "a"), ox.NamedNode(EX + "p"), ox.Literal("x"), ox.NamedNode(EX + "g")))
    assert release_holds_merge(store) is False
    assert holds_merge(store) is False
    store.add(ox.Quad(ox.NamedNode(EX + "a"), ox.NamedNode(EX + "p"), ox.Literal("x"), ox.DefaultGraph()))
    assert release_holds_merge(store) is True and holds_merge(store) is True


def test_a_reader_of_a_release_uses_the_quick_check(built, monkeypatch):
    from icgraph.server import workers

    def full_check(store):
        raise AssertionError("a release's store is not checked triple by triple")

    monkeypatch.setattr(workers, "holds_merge", full_check)
    reader = workers.local_reader(1 << 24)
    reader.reader_store(str(built.build_result.release.store))
    assert reader.merged is True
