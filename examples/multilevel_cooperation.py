"""Which level pairs cooperate most, and through which networks?

A worked example of a governance-mapping question answered end to end on icgraph:
SPARQL on the built store -> pandas tables -> one figure.

    .venv/bin/icgraph build                                  # once: builds the store
    .venv/bin/python examples/multilevel_cooperation.py      # prints the tables, writes the figure

Options: ``--store PATH`` (default: the project's store, or $ICGRAPH_STORE) and ``--output FILE``
(default: docs/figures/multilevel-cooperation.png; an .svg suffix writes SVG).

How the question is made precise
--------------------------------
* Two agents *cooperate* when they take part in the same practice. The inference step records each
  such pair as an ``icg:CooperationEdge`` (graph:inferred) with the governance level of both ends and
  ``icg:crossesLevels true`` when the levels differ (vertical cooperation). Agents are named
  organisations and generic actor groups ("local authorities"), since a practice that names "the
  municipalities" and a ministry is local-national cooperation even if no city is named.
* A level pair *cooperates more* when it does so in more practices (not more agent pairs, which
  would favour practices that list many partners).
* A network cooperates *through* a level pair when it is itself a participant (``icg:Network``) of a
  practice in which that pair of levels cooperates: the network is in the room where cities meet
  ministries, or regions meet European bodies.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from icgraph import analysis
from icgraph.config import PROJECT_DIR, Settings
from icgraph.store import open_store

# Step 1 -- which pairs of levels cooperate, in how many practices (vertical cooperation only).
LEVEL_PAIRS = """
SELECT ?fromLevel ?toLevel (COUNT(DISTINCT ?practice) AS ?practices) WHERE {
  ?edge a icg:CooperationEdge ; icg:viaPractice ?practice ; icg:crossesLevels true ;
        icg:fromLevel ?from ; icg:toLevel ?to .
  ?from skos:notation ?fromLevel ; icg:rank ?fromRank .
  ?to skos:notation ?toLevel ; icg:rank ?toRank .
}
GROUP BY ?fromLevel ?toLevel ?fromRank ?toRank
ORDER BY DESC(?practices) ?fromRank ?toRank
"""

# Step 2 -- the networks taking part in those practices, per level pair.
NETWORKS_PER_PAIR = """
SELECT ?fromLevel ?toLevel ?network ?networkName (COUNT(DISTINCT ?practice) AS ?practices) WHERE {
  ?edge a icg:CooperationEdge ; icg:viaPractice ?practice ; icg:crossesLevels true ;
        icg:fromLevel/skos:notation ?fromLevel ; icg:toLevel/skos:notation ?toLevel .
  ?practice icg:hasParticipation/icg:agent ?network .
  ?network a icg:Network ; skos:prefLabel ?networkName .
  FILTER (LANGMATCHES(LANG(?networkName), "en"))
}
GROUP BY ?fromLevel ?toLevel ?network ?networkName
"""


def answer(store) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two tables that answer the question: level pairs by practices, and networks x level pairs."""
    pairs = analysis.run_query(LEVEL_PAIRS, store)
    pairs["pair"] = pairs["fromLevel"] + "–" + pairs["toLevel"]

    networks = analysis.run_query(NETWORKS_PER_PAIR, store)
    networks["pair"] = networks["fromLevel"] + "–" + networks["toLevel"]
    # networks x level pairs, columns in the order of step 1, the networks present in most practices first
    table = networks.pivot_table(index="networkName", columns="pair", values="practices", aggfunc="sum", fill_value=0)
    table = table.reindex(columns=[p for p in pairs["pair"] if p in table.columns])
    table = table.loc[table.sum(axis=1).sort_values(ascending=False, kind="stable").index]
    return pairs, table.astype("int64")


def draw(pairs: pd.DataFrame, table: pd.DataFrame, output: Path, top_networks: int = 12) -> None:
    """Left: cross-level pairs by practices. Right: which networks take part, per pair."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 5.5), dpi=100, layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 2.2])

    ordered = pairs.iloc[::-1]
    left.barh(ordered["pair"], ordered["practices"], color="#0072B2")
    for y, value in enumerate(ordered["practices"]):
        left.text(value + 0.3, y, str(value), va="center", fontsize=8)
    left.set_xlabel("practices in which the two levels cooperate")
    left.set_title("Which level pairs cooperate most", fontsize=11)
    left.spines[["top", "right"]].set_visible(False)
    left.tick_params(axis="y", labelsize=8)

    shown = table.head(top_networks)
    image = right.imshow(shown.to_numpy(), cmap="Oranges", aspect="auto", vmin=0)
    top = max(int(shown.to_numpy().max()), 1) if len(shown) else 1
    for (i, j), value in pd.DataFrame(shown.to_numpy()).stack().items():
        if value:
            right.text(j, i, str(value), ha="center", va="center", fontsize=8,
                       color="white" if value > 0.6 * top else "black")
    right.set_xticks(range(len(shown.columns)), shown.columns, rotation=40, ha="right", fontsize=8)
    right.set_yticks(range(len(shown)), [n if len(n) <= 55 else n[:54] + "…" for n in shown.index], fontsize=8)
    right.set_title(f"…and through which networks (top {len(shown)}, practices per level pair)", fontsize=11)
    fig.colorbar(image, ax=right, shrink=0.7, label="practices")
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=110, facecolor="white", metadata={"Date": None} if output.suffix == ".svg" else {"Software": None})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=None, help="the Oxigraph store (default: the project's, or $ICGRAPH_STORE)")
    parser.add_argument("--output", type=Path, default=PROJECT_DIR / "docs" / "figures" / "multilevel-cooperation.png")
    args = parser.parse_args()

    store = open_store(args.store or Settings().store)
    pairs, table = answer(store)

    print("Level pairs that cooperate across levels, by number of practices:")
    print(pairs[["pair", "practices"]].to_string(index=False))
    top = pairs.head(3)["pair"].tolist()
    print(f"\nNetworks taking part in the practices of the top pairs ({', '.join(top)}):")
    print(table[[p for p in top if p in table.columns]].loc[lambda t: t.sum(axis=1) > 0].head(10).to_string())
    bridges = analysis.bridging_networks(store)
    print("\nNetworks whose members and partners span several levels:")
    print(bridges[["label", "levels", "members", "partners"]].head(10).to_string(index=False))

    draw(pairs, table, args.output)
    print(f"\nFigure: {args.output}")


if __name__ == "__main__":
    main()
