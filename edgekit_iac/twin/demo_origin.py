"""The demo origin: a small weather JSON API the local stack's cache wrapper sits in front of.

Started and stopped with the twin (and stoppable on its own from the status page, to
watch the cache wrapper serve stale). Its answers carry the caching headers a real API
would send, so each of the wrapper's rules has something to act on:

    GET /api/weather?city=Oslo     current conditions   Cache-Control: public, max-age=60
    GET /api/forecast?city=Oslo    3-day forecast       Cache-Control: public, max-age=300
    GET /api/session               sets a session cookie (with public, max-age=60: the
                                   Set-Cookie alone must keep it out of shared caches)
    GET /api/me                    per-user data        Cache-Control: private
    GET /api/health                liveness             Cache-Control: no-store
    GET /api/whoami                what identity reached the origin: the X-Auth-* headers
                                   (the auth Worker's claims), whether an Authorization
                                   header came, the cookie names   Cache-Control: no-store
    GET /api/cities                the known cities     Cache-Control: public, max-age=3600
    GET /.well-known/jwks.json     the twin's JWT keys (public halves), what the local
                                   auth Worker trusts   Cache-Control: public, max-age=300

Unknown cities are a 404 (cacheable, max-age=30). Data is made up from the city name, so
the same city gives the same weather; every answer says how many requests the origin has
served (`X-Origin-Requests`), which shows the cache's offload.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
import threading
import time
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs

from edgekit_iac.twin.auth_keys import JWKS_CACHE_CONTROL, JWKS_PATH
from edgekit_iac.twin.http_io import EdgeRequest, EdgeResponse, Listener

CITIES = ("Oslo", "London", "Berlin", "Paris", "Madrid", "Tokyo", "Sydney", "Nairobi",
          "Lima", "Toronto", "New York", "Singapore", "Mumbai", "Cairo", "Reykjavik")
CONDITIONS = ("clear", "partly cloudy", "overcast", "light rain", "showers", "snow", "fog",
              "windy")


def _seed(city: str, salt: str = "") -> int:
    return int.from_bytes(hashlib.sha256(f"{city.lower()}|{salt}".encode()).digest()[:4], "big")


def conditions(city: str, day: int = 0) -> dict[str, Any]:
    seed = _seed(city, str(day))
    return {
        "temperature_c": round(-10 + (seed % 400) / 10, 1),
        "conditions": CONDITIONS[seed % len(CONDITIONS)],
        "humidity_pct": 30 + seed % 65,
        "wind_kph": seed % 45,
    }


def _known(city: str | None) -> str | None:
    if not city:
        return None
    return next((name for name in CITIES if name.lower() == city.strip().lower()), None)


class WeatherApi:
    """The origin's request handler (an `App`); `jwks` is the JWKS document it serves."""

    def __init__(self, jwks: bytes | None = None) -> None:
        self._served = itertools.count(1)
        self._jwks = jwks

    def __call__(self, request: EdgeRequest) -> EdgeResponse:
        served = next(self._served)
        if request.method not in ("GET", "HEAD"):
            return self._json(405, {"error": "method not allowed"}, "no-store", served,
                              [("Allow", "GET, HEAD")])
        query = {k: v[0] for k, v in parse_qs(request.query).items()}
        route = request.path.rstrip("/") or "/"
        if route == JWKS_PATH and self._jwks is not None:
            return EdgeResponse(200, [("Content-Type", "application/json"),
                                      ("Cache-Control", JWKS_CACHE_CONTROL)], self._jwks)
        if route in ("/", "/api"):
            return self._json(200, {"service": "edgekit demo weather API",
                                    "endpoints": ["/api/weather?city=Oslo", "/api/forecast?"
                                                  "city=Oslo", "/api/cities", "/api/session",
                                                  "/api/me", "/api/whoami", "/api/health"]},
                              "public, max-age=3600", served)
        if route == "/api/cities":
            return self._json(200, {"cities": list(CITIES)}, "public, max-age=3600", served)
        if route == "/api/whoami":
            seen = {"auth_headers": {k.lower(): v for k, v in request.headers
                                     if k.lower().startswith("x-auth-")},
                    "authorization": request.header("authorization") is not None,
                    "cookies": sorted({pair.split("=")[0].strip()
                                       for k, v in request.headers if k.lower() == "cookie"
                                       for pair in v.split(";") if pair.strip()})}
            return self._json(200, seen, "no-store", served)
        if route == "/api/health":
            return self._json(200, {"ok": True}, "no-store", served)
        if route == "/api/session":
            token = secrets.token_hex(8)
            return self._json(200, {"session": "started"}, "public, max-age=60", served,
                              [("Set-Cookie", f"session={token}; Path=/; HttpOnly; "
                                              "SameSite=Lax")])
        if route == "/api/me":
            return self._json(200, {"user": "demo", "plan": "free"}, "private, max-age=60",
                              served)
        if route in ("/api/weather", "/api/forecast"):
            city = _known(query.get("city"))
            if city is None:
                return self._json(404, {"error": "unknown city", "known": list(CITIES)},
                                  "public, max-age=30", served)
            if route == "/api/weather":
                body = {"city": city, **conditions(city), "observed_at": int(time.time())}
                return self._json(200, body, "public, max-age=60", served)
            days = [{"day": day, **conditions(city, day)} for day in range(1, 4)]
            return self._json(200, {"city": city, "days": days}, "public, max-age=300", served)
        return self._json(404, {"error": "no such endpoint"}, "public, max-age=30", served)

    @staticmethod
    def _json(status: int, body: dict[str, Any], cache_control: str, served: int,
              extra: list[tuple[str, str]] | None = None) -> EdgeResponse:
        headers = [("Content-Type", "application/json"), ("Cache-Control", cache_control),
                   ("Date", formatdate(usegmt=True)), ("X-Origin-Requests", str(served)),
                   *(extra or [])]
        return EdgeResponse(status, headers, json.dumps(body).encode())


class DemoOrigin:
    """The weather API on 127.0.0.1:port; `stop()`/`start()` keep the same port."""

    name = "demo-origin"

    def __init__(self, port: int = 0, jwks: bytes | None = None) -> None:
        self.api = WeatherApi(jwks)
        self._lock = threading.Lock()
        self._listener: Listener | None = Listener(self.name, self.api, port).start()
        self.port = self._listener.port
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._listener is not None

    def stop(self) -> None:
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None

    def start(self) -> None:
        with self._lock:
            if self._listener is None:
                self._listener = Listener(self.name, self.api, self.port).start()
