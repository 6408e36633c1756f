"""`python -m edgekit_iac logs --stack local [--follow] [--status 5xx] [--path PREFIX]`.

Prints the twin's log lines (`.edgekit/<stack>/logs/*.jsonl`: each distribution's real-time
log, each edge function's own lines) merged by time, one readable line per request:

    2026-12-02 03:04:05.123  images-cdn   192.0.2.44  GET  200 Hit   12.4 ms  /images/...

`--status` keeps a status class or codes (`5xx`, `404`, `4xx,5xx`), `--path` a path prefix,
`--source` one log (a listener or function name), `--trace` one trace across both edges
(the resizer's and the cache wrapper's own lines share field names), `-n` the last N lines
(default 20, 0: all);
`--follow` then keeps printing new lines as they are written, until Ctrl-C; `--json` prints
the matching lines as they are in the files. Works whether or not the twin is running.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from edgekit_iac import paths
from edgekit_iac.errors import UserError
from edgekit_iac.twin import log_reader

FOLLOW_POLL_SECONDS = 0.25


def _lines(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a whole number >= 0 (0: all)")
    return number


def _trace_id(text: str | None) -> str | None:
    if text is None:
        return None
    value = text.strip().lower()
    parts = value.split("-")
    candidate = parts[1] if len(parts) == 4 else value
    if not re.fullmatch(r"[0-9a-f]{32}", candidate):
        raise UserError(f"--trace {text!r}: accepted: a trace id (32 hex digits) or a "
                        "traceparent (00-<trace id>-<span id>-<flags>)")
    return candidate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="local", help="stack whose twin's logs to read")
    parser.add_argument("--state-dir", default=None,
                        help="the twin's state directory (default: .edgekit/<stack>)")
    parser.add_argument("-f", "--follow", action="store_true",
                        help="keep printing new lines until Ctrl-C")
    parser.add_argument("--status", default=None, metavar="FILTER",
                        help=f"only these statuses: {log_reader.STATUS_ACCEPTED}")
    parser.add_argument("--path", default=None, metavar="PREFIX",
                        help="only requests whose path starts with PREFIX, e.g. /images/")
    parser.add_argument("--source", action="append", default=None, metavar="NAME",
                        help="only this log (a listener name such as images-cdn); repeatable")
    parser.add_argument("--trace", default=None, metavar="TRACE_ID",
                        help="only lines of this trace (32 hex digits, or a whole "
                             "traceparent), from every edge")
    parser.add_argument("-n", "--lines", type=_lines, default=20,
                        help="how many of the last matching lines to print first (0: all)")
    parser.add_argument("--json", action="store_true",
                        help="print the matching lines as JSON, as they are in the files")


def _print(item: log_reader.LogEntry, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"source": item.source, **item.fields}), flush=True)
    else:
        print(log_reader.format_line(item), flush=True)


def run(args: argparse.Namespace) -> int:
    statuses = log_reader.parse_status_filter(args.status)
    if args.path is not None and not args.path.startswith("/"):
        raise UserError(f"--path {args.path!r}: accepted: a path prefix starting with /")
    root = Path(args.state_dir).resolve() if args.state_dir else paths.state_dir(args.stack)
    directory = root / "logs"
    if not directory.is_dir():
        raise UserError(f"no twin logs at {directory}: start the twin with "
                        f"`python -m edgekit_iac up --stack {args.stack}` and send it requests")
    trace_id = _trace_id(args.trace)
    log_filter = log_reader.LogFilter(statuses, args.path, frozenset(args.source or ()),
                                      trace_id)
    files = log_reader.LogFiles(directory)
    if not files.paths() and not args.follow:
        print(f"edgekit logs: no log lines yet in {directory}", file=sys.stderr)
        return 0
    matching = log_reader.select(files.read_new(), log_filter)
    for item in matching[-args.lines:] if args.lines else matching:
        _print(item, args.json)
    if files.skipped:
        print(f"edgekit logs: skipped {files.skipped} line(s) that are not JSON objects",
              file=sys.stderr)
    if not args.follow:
        return 0
    try:
        while True:
            time.sleep(FOLLOW_POLL_SECONDS)
            for item in log_reader.select(files.read_new(), log_filter):
                _print(item, args.json)
    except KeyboardInterrupt:
        return 0
