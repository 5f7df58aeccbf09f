"""What the editor's result views (static/js/result-views.js) need from the server: country codes.

``GET /api/country-codes`` maps ISO 3166-1 alpha-2 and alpha-3 codes (``ES``, ``ESP``) to the numeric
code (``724``), which is the id of each country in the vendored world-atlas: with it the map view
places a result's country IRIs (place:es) and code columns. From pycountry, the same table the
governance map uses (server/maps.py); it never changes while the server runs, so it is cached.
"""

from __future__ import annotations

from functools import cache

import pycountry
from fastapi import APIRouter
from fastapi.responses import JSONResponse

router = APIRouter(tags=["Web pages"])


@cache
def country_codes() -> dict[str, str]:
    codes: dict[str, str] = {}
    for country in pycountry.countries:
        codes[country.alpha_2] = country.numeric
        codes[country.alpha_3] = country.numeric
    return codes


@router.get("/api/country-codes", summary="ISO 3166-1 alpha-2 and alpha-3 codes to numeric codes (the ids of world-atlas)")
async def country_codes_api() -> JSONResponse:
    return JSONResponse(country_codes(), headers={"Cache-Control": "public, max-age=86400"})
