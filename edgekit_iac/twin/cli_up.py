"""`python -m edgekit_iac up --stack local`: serve a stack on 127.0.0.1 until Ctrl-C or `down`.

Prints the endpoints (also written to .edgekit/<stack>/endpoints.json) and example
requests once everything listens, then runs until SIGINT/SIGTERM and stops cleanly.
"""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
import threading
from pathlib import Path

from edgekit_iac.twin import ports
from edgekit_iac.twin.cloudflare.workers_host import CfDefaults
from edgekit_iac.twin.supervisor import RunningTwin, TwinOptions, start_twin


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
    parser.add_argument("--lambda-environments", type=int, default=4,
                        help="concurrent execution environments per Lambda@Edge function "
                             "(default: 4)")
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


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not args.verbose:
        logging.getLogger("edgekit.twin.lambda").setLevel(logging.INFO)
    options = TwinOptions(
        stack=args.stack,
        state_dir=Path(args.state_dir).resolve() if args.state_dir else None,
        port_base=args.port_base,
        port_overrides=ports.parse_port_overrides(args.port),
        cf=CfDefaults(country=args.cf_country.upper(), colo=args.cf_colo.upper(),
                      city=args.cf_city),
        lambda_environments=max(1, args.lambda_environments),
        origin_url=args.origin_url,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(f"edgekit up: starting the twin for stack {args.stack!r} ...", flush=True)
    twin = start_twin(options, say=lambda line: print(line, flush=True))
    # Everything loaded so far (the program's graph, boto3, moto, the Workers) lives as long
    # as the twin: keep it out of the cyclic collector, whose full passes over it paused
    # every listener for up to 0.7 s under load.
    gc.collect()
    gc.freeze()
    try:
        print_banner(twin)
        while not stop.wait(0.5):
            pass
        print("\nedgekit up: stopping ...", flush=True)
    finally:
        twin.stop()
    print("edgekit up: stopped", flush=True)
    sys.stdout.flush()
    return 0
