"""`python -m edgekit_iac up --stack local`: serve a stack on 127.0.0.1 until Ctrl-C or `down`.

Prints the endpoints (also written to .edgekit/<stack>/endpoints.json) and example
requests once everything listens, then runs until SIGINT/SIGTERM and stops cleanly.
"""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import threading
from pathlib import Path

from edgekit_iac import paths
from edgekit_iac.release import stack_files
from edgekit_iac.twin import ports
from edgekit_iac.twin.cloudflare.workers_host import CfDefaults
from edgekit_iac.twin.supervisor import RunningTwin, TwinOptions, preflight, start_twin

MAX_ENVIRONMENTS = 64


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="local", help="stack to serve (default: local)")
    parser.add_argument(
        "--port-base", type=int, default=ports.DEFAULT_BASE,
        help="status page on BASE, S3 on BASE+1, distributions and Workers from BASE+2 in "
             "name order, the demo origin where the stack's origin URL says; 0 = free ports "
             f"(default: {ports.DEFAULT_BASE})")
    parser.add_argument(
        "--port", action="append", default=[], metavar="NAME=PORT",
        help="pin one listener's port, e.g. --port images-cdn=8080 (repeatable; names are "
             "the logical resource names, status, s3, demo-origin)")
    defaults = CfDefaults()
    parser.add_argument("--cf-country", default=defaults.country,
                        help=f"request.cf.country for Workers, viewer country for "
                             f"CloudFront (default: {defaults.country})")
    parser.add_argument("--cf-colo", default=defaults.colo,
                        help=f"request.cf.colo for Workers (default: {defaults.colo})")
    parser.add_argument("--cf-city", default=defaults.city,
                        help=f"request.cf.city for Workers (default: {defaults.city})")
    parser.add_argument("--state-dir", default=None,
                        help="where the lock, endpoints.json, graph.json and logs go "
                             "(default: .edgekit/<stack>)")
    parser.add_argument("--lambda-environments", type=_environments, default=4, metavar="N",
                        help="concurrent execution environments per Lambda@Edge function, "
                             f"1..{MAX_ENVIRONMENTS} (default: 4)")
    parser.add_argument("--origin-url", default=None, metavar="URL",
                        help="the cache wrapper's origin instead of the demo origin, e.g. a "
                             "test server on http://127.0.0.1:PORT (https, or http on "
                             "loopback)")
    parser.add_argument("--verbose", action="store_true", help="log every twin event")


def print_banner(twin: RunningTwin) -> None:
    width = max(len(info.name) for info in twin.listeners)
    url_width = max(len(info.url) for info in twin.listeners)
    print(f"\nedgekit twin for stack {twin.stack!r} is up in {twin.started_in:.1f} s "
          f"(endpoints in {twin.files.endpoints_file})\n")
    print(f"  {'endpoint'.ljust(width)}  {'url'.ljust(url_width)}  serves")
    for info in twin.listeners:
        print(f"  {info.name.ljust(width)}  {info.url.ljust(url_width)}  {info.serves}")
    if twin.examples:
        print("\nTry:")
        for example in twin.examples:
            print(f"  {example}")
    print(f"\nStop with Ctrl-C or `python -m edgekit_iac down --stack {twin.stack}`.", flush=True)


def _environments(value: str) -> int:
    """argparse type of --lambda-environments: a whole number 1..64, never silently 1."""
    if not value.strip().isdigit() or not 1 <= int(value) <= MAX_ENVIRONMENTS:
        raise argparse.ArgumentTypeError(
            f"{value!r}: expected a whole number of environments, 1..{MAX_ENVIRONMENTS}")
    return int(value)


def configure_logging(verbose: bool, logs_dir: Path) -> Path:
    """Warnings and errors on the console (everything with --verbose); what the functions
    print and log (cold-start INFO lines from botocore included) in logs/lambda.log."""
    console = logging.StreamHandler()
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(console)
    function_log = logs_dir / "lambda.log"
    to_file = logging.FileHandler(function_log, delay=True, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("edgekit.twin.lambda").addHandler(to_file)
    return function_log


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    # Everything that can be checked without slow work is checked first, and an unknown
    # stack is refused before its state directory is made: a failed `up` leaves nothing.
    overrides = ports.parse_port_overrides(args.port)
    ports.check_base(args.port_base)
    config = stack_files.read_config(args.stack)
    state_dir = paths.writable_dir(
        Path(args.state_dir).resolve() if args.state_dir else paths.state_dir(args.stack),
        "--state-dir")
    # The stack's config and the --port names, checked by running the program with its
    # bundles described, not built: a mistake is refused before the slow work (on a fresh
    # clone, building the bundles), and before anything starts.
    print(f"edgekit up: checking stack {args.stack!r} ...", flush=True)
    preflight(args.stack, config, overrides, args.origin_url)
    function_log = configure_logging(args.verbose, paths.writable_dir(state_dir / "logs",
                                                                      "--state-dir"))
    options = TwinOptions(
        stack=args.stack,
        state_dir=state_dir,
        port_base=args.port_base,
        port_overrides=overrides,
        cf=CfDefaults(country=args.cf_country.upper(), colo=args.cf_colo.upper(),
                      city=args.cf_city),
        lambda_environments=args.lambda_environments,
        config=config,
        origin_url=args.origin_url,
        checked=True,
    )
    # Ctrl-C (SIGINT to the whole foreground group) or SIGTERM (`edgekit down`): while
    # starting, unwind what started; once up, leave the wait loop and stop in order. The
    # Lambda environments ignore SIGINT: the twin stops them itself.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    print(f"edgekit up: starting the twin for stack {args.stack!r} ...", flush=True)
    try:
        twin = start_twin(options, say=lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        print("\nedgekit up: interrupted while starting; stopped what had started",
              flush=True)
        return 130
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        # Everything loaded so far (the program's graph, boto3, moto, the Workers) lives as
        # long as the twin: keep it out of the cyclic collector, whose full passes over it
        # paused every listener for up to 0.7 s under load (given back when it stops).
        gc.collect()
        gc.freeze()
        print_banner(twin)
        print(f"Function logs: {function_log}", flush=True)
        while not stop.wait(0.5):
            pass
        print(f"\nedgekit up: stopping the twin for stack {args.stack!r} ...", end="",
              flush=True)
    finally:
        twin.stop()
        gc.unfreeze()
    print(" stopped", flush=True)
    return 0
