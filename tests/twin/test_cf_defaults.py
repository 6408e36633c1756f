"""The `cf` geo fields the twin gives a Worker describe one place, never two."""

from __future__ import annotations

from edgekit_iac.twin.cloudflare.workers_host import CfDefaults
from edgekit_iac.twin.http_io import EdgeRequest


def cf_for(*headers: tuple[str, str], defaults: CfDefaults | None = None) -> dict:
    return (defaults or CfDefaults()).for_request(EdgeRequest("GET", "/", list(headers)))


def test_without_headers_the_default_place_is_whole():
    cf = cf_for()
    assert (cf["country"], cf["colo"], cf["city"]) == ("US", "SFO", "San Francisco")
    assert cf["timezone"] == "America/Los_Angeles"


def test_another_country_does_not_keep_the_default_city():
    cf = cf_for(("X-Edgekit-Cf-Country", "no"))
    assert cf["country"] == "NO"
    assert "city" not in cf and "timezone" not in cf and "continent" not in cf
    assert cf["colo"] == "SFO"  # the data centre that answered is still the twin's


def test_all_three_headers_give_that_place():
    cf = cf_for(("X-Edgekit-Cf-Country", "NO"), ("X-Edgekit-Cf-Colo", "osl"),
                ("X-Edgekit-Cf-City", "Oslo"))
    assert (cf["country"], cf["colo"], cf["city"]) == ("NO", "OSL", "Oslo")


def test_the_default_country_named_again_keeps_its_city():
    assert cf_for(("X-Edgekit-Cf-Country", "US"))["city"] == "San Francisco"
    oslo = CfDefaults(country="NO", colo="OSL", city="Oslo")
    assert cf_for(("X-Edgekit-Cf-Country", "no"), defaults=oslo)["city"] == "Oslo"


def test_the_geo_reply_says_unknown_for_the_city_it_was_not_given():
    import json

    from edgekit_iac.functions.hello_geo.geo_reply import reply

    answer = json.loads(reply("GET", cf_for(("X-Edgekit-Cf-Country", "NO"))).body)
    assert answer["country"] == "NO" and answer["city"] == "unknown"
