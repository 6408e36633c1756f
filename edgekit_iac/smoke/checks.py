"""What `edgekit smoke` expects of each public endpoint, decided from the answers alone.

Each check is a pure function of the answer(s) one probe got and returns a `Verdict`: passed
or not, what was expected and what came back, in words for the report.

    image         GET /images/<W>x<H>/<key> -> 200; an image/* type whose bytes Pillow decodes
                  as that very type; at most W x H pixels; cacheable at the edge
                  (Cache-Control with a positive max-age or s-maxage, and none of no-store,
                  no-cache, private).
    cached-api-1  GET <api path> -> 200 application/json from the cache wrapper: X-Edge-Cache
                  MISS (fetched and stored) or HIT (an earlier request stored it). BYPASS
                  (the answer may not be cached), STALE (the origin is failing) or no header
                  (not answered by the wrapper) fail.
    cached-api-2  the same request again -> 200, X-Edge-Cache HIT, and the same body as the
                  first answer: the copy the first request stored is what the second gets.
    geo-api       GET / -> 200 application/json object with non-empty string `country`,
                  `colo` and `city`, and Cache-Control no-store (it differs per visitor).
    auth-no-token GET <auth path> without credentials -> 401 from the JWT auth Worker, with
                  a `WWW-Authenticate: Bearer` challenge: nothing reaches the origin unsigned.
    auth-token    the same GET with `Authorization: Bearer <token>` -> 200: the Worker
                  accepted the token and the origin answered.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

JSON = "application/json"
GEO_FIELDS = ("country", "colo", "city")
UNCACHEABLE_DIRECTIVES = ("no-store", "no-cache", "private")
SNIPPET_CHARS = 100


@dataclass(frozen=True)
class HttpAnswer:
    """What one GET got: an HTTP answer, or `error` when none came (refused, timed out...)."""

    url: str
    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    elapsed_ms: float = 0.0
    error: str | None = None

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    @property
    def media_type(self) -> str:
        return self.header("content-type").split(";", 1)[0].strip().lower()

    def summary(self, detail: str = "") -> str:
        """Status, type and `detail`, and for a non-200 answer the start of its body."""
        if self.status is None:
            return f"no answer ({self.error})"
        shown = f"{self.status} {self.media_type or '(no content type)'}"
        if detail:
            shown += f", {detail}"
        if self.status != 200 and self.body:
            shown += f": {_snippet(self.body)}"
        return shown


@dataclass(frozen=True)
class Verdict:
    passed: bool
    expected: str
    got: str


def _snippet(body: bytes) -> str:
    text = " ".join(body[: SNIPPET_CHARS * 4].decode("utf-8", "replace").split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 3] + "..."


def cache_directives(cache_control: str) -> dict[str, str]:
    """`Cache-Control` as {directive: value}, names lower-case ("" for a bare directive)."""
    directives = {}
    for part in cache_control.split(","):
        name, _, value = part.strip().partition("=")
        if name:
            directives[name.strip().lower()] = value.strip().strip('"')
    return directives


def edge_cacheable(cache_control: str) -> bool:
    """Whether a shared cache may keep the answer for a while."""
    directives = cache_directives(cache_control)
    if any(name in directives for name in UNCACHEABLE_DIRECTIVES):
        return False
    ages = [directives.get("s-maxage"), directives.get("max-age")]
    return any(age is not None and age.isdigit() and int(age) > 0 for age in ages)


def check_image(answer: HttpAnswer, box: tuple[int, int]) -> Verdict:
    width, height = box
    expected = f"200 image/* decoding to at most {width}x{height}, cacheable"
    if answer.status != 200 or not answer.media_type.startswith("image/"):
        return Verdict(False, expected, answer.summary())
    from PIL import Image  # only this check needs Pillow

    try:
        with Image.open(io.BytesIO(answer.body)) as image:
            image.load()
            decoded_type = Image.MIME.get(image.format or "", f"({image.format})")
            size = image.size
    except Exception as error:  # Pillow raises many types for bytes that are no image
        return Verdict(False, expected, f"200 {answer.media_type} that does not decode: "
                                        f"{type(error).__name__}: {error}")
    got = f"200 {answer.media_type} {size[0]}x{size[1]}"
    if decoded_type != answer.media_type:
        return Verdict(False, expected, f"{got}, but the bytes are {decoded_type}")
    if size[0] > width or size[1] > height:
        return Verdict(False, expected, f"{got}, larger than {width}x{height}")
    cache_control = answer.header("cache-control")
    if not edge_cacheable(cache_control):
        return Verdict(False, expected,
                       f"{got}, not cacheable (Cache-Control: {cache_control or 'absent'})")
    return Verdict(True, expected, f"{got}, Cache-Control: {cache_control}")


def _cache_problem(answer: HttpAnswer) -> str | None:
    """Why a cached-API answer is wrong whatever its X-Edge-Cache, or None."""
    state = answer.header("x-edge-cache").upper()
    if answer.status != 200 or answer.media_type != JSON:
        return answer.summary(f"X-Edge-Cache {state}" if state else "")
    if not state:
        return "200 without X-Edge-Cache: not answered by the cache wrapper"
    if state == "BYPASS":
        reason = answer.header("x-edge-cache-reason") or "no reason given"
        return f"200 X-Edge-Cache BYPASS ({reason}): the answer may not be cached"
    if state == "STALE":
        return "200 X-Edge-Cache STALE: the origin is failing, a stale copy was served"
    return None


def check_cache_fill(answer: HttpAnswer) -> Verdict:
    expected = f"200 {JSON}, X-Edge-Cache MISS, HIT or REVALIDATED"
    problem = _cache_problem(answer)
    state = answer.header("x-edge-cache").upper()
    # REVALIDATED: a stale copy the origin confirmed with a 304, stored again.
    if problem is None and state not in ("MISS", "HIT", "REVALIDATED"):
        problem = f"200 X-Edge-Cache {state}"
    if problem:
        return Verdict(False, expected, problem)
    return Verdict(True, expected, f"200 {JSON}, X-Edge-Cache {state}")


def check_cache_hit(first: HttpAnswer, second: HttpAnswer) -> Verdict:
    expected = f"200 {JSON}, X-Edge-Cache HIT, the body of the first answer"
    problem = _cache_problem(second)
    state = second.header("x-edge-cache").upper()
    if problem is None and state != "HIT":
        problem = f"200 X-Edge-Cache {state}: the first answer was not stored"
    if problem is None and second.body != first.body:
        problem = "200 X-Edge-Cache HIT with a body other than the first answer's"
    if problem:
        return Verdict(False, expected, problem)
    return Verdict(True, expected, f"200 {JSON}, X-Edge-Cache HIT, same body")


def check_geo(answer: HttpAnswer) -> Verdict:
    expected = f"200 {JSON} with {', '.join(GEO_FIELDS)}; Cache-Control no-store"
    if answer.status != 200 or answer.media_type != JSON:
        return Verdict(False, expected, answer.summary())
    try:
        document = json.loads(answer.body)
    except ValueError:
        return Verdict(False, expected, f"200 {JSON} that is not JSON: {_snippet(answer.body)}")
    if not isinstance(document, dict):
        return Verdict(False, expected, f"200 {JSON} {type(document).__name__}, not an object")
    missing = [name for name in GEO_FIELDS
               if not (isinstance(document.get(name), str) and document[name].strip())]
    if missing:
        return Verdict(False, expected, f"200 {JSON} without {', '.join(missing)}: "
                                        f"{_snippet(answer.body)}")
    cache_control = answer.header("cache-control")
    if "no-store" not in cache_directives(cache_control):
        return Verdict(False, expected, f"200 {JSON}, cacheable by others "
                                        f"(Cache-Control: {cache_control or 'absent'})")
    where = ", ".join(f"{name}={document[name]}" for name in GEO_FIELDS)
    return Verdict(True, expected, f"200 {JSON} {where}, no-store")


def check_auth_refused(answer: HttpAnswer) -> Verdict:
    expected = "401 with WWW-Authenticate: Bearer"
    challenge = answer.header("www-authenticate")
    if answer.status != 401:
        return Verdict(False, expected, answer.summary())
    if not challenge.lower().startswith("bearer"):
        return Verdict(False, expected, f"401 without a Bearer challenge "
                                        f"(WWW-Authenticate: {challenge or 'absent'})")
    return Verdict(True, expected, f"401, WWW-Authenticate: {_snippet(challenge.encode())}")


def check_auth_accepted(answer: HttpAnswer) -> Verdict:
    expected = "200 from the origin behind the auth Worker"
    if answer.status == 401:  # RFC 6750: the challenge says why the token was refused
        challenge = answer.header("www-authenticate") or "absent"
        return Verdict(False, expected, f"401, the token was refused (WWW-Authenticate: "
                                        f"{_snippet(challenge.encode())})")
    if answer.status != 200:
        return Verdict(False, expected, answer.summary())
    return Verdict(True, expected, answer.summary())


@dataclass(frozen=True)
class CheckResult:
    """One line of the report; `verdict` None means the stack has no such endpoint."""

    name: str
    url: str
    verdict: Verdict | None
    elapsed_ms: float = 0.0
    note: str = ""

    @property
    def outcome(self) -> str:
        if self.verdict is None:
            return "SKIP"
        return "PASS" if self.verdict.passed else "FAIL"


def report_lines(results: Sequence[CheckResult]) -> list[str]:
    """One line per check (outcome, name, time, URL, expected, got), then a summary."""
    width = max((len(result.name) for result in results), default=0)
    lines = []
    for result in results:
        head = f"{result.outcome}  {result.name.ljust(width)}"
        if result.verdict is None:
            lines.append(f"{head}  {'-':>7}     {result.note}")
            continue
        lines.append(f"{head}  {result.elapsed_ms:>7.0f} ms  GET {result.url}  expected "
                     f"{result.verdict.expected}; got {result.verdict.got}")
        if result.note and not result.verdict.passed:
            lines.append(f"      hint: {result.note}")
    counts = {outcome: sum(r.outcome == outcome for r in results)
              for outcome in ("PASS", "FAIL", "SKIP")}
    failed = [result.name for result in results if result.outcome == "FAIL"]
    summary = f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped"
    lines.append(f"{summary}: {', '.join(failed)} failed" if failed else summary)
    return lines


def all_passed(results: Sequence[CheckResult]) -> bool:
    return not any(result.outcome == "FAIL" for result in results)
