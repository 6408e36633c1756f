"""EdgeFlags: one feature-flag store per stack on each provider, seeded with the defaults.

`EdgeFlags("flags", EdgeFlagsArgs(flags=settings.flag_specs, account_id=..., ...))` declares

- a Workers KV namespace (`cloudflare.WorkersKvNamespace`) and one `cloudflare.WorkersKv` per
  flag; Workers that read flags bind it by its id (`kv_namespaces={"FLAGS":
  flags.namespace_id}` on EdgeWorker/CachedWorker);
- a CloudFront KeyValueStore (`aws.cloudfront.KeyValueStore`) and one
  `aws.cloudfront.KeyvaluestoreKey` per flag, for the image distribution's CloudFront
  Function (its `key_value_store_associations` take `key_value_store_arn`).

Each key holds the flag's JSON value (edgekit_iac.flag_types.encode).

The program writes the defaults; it never reverts a flag the CLI changed. How: every key
resource has `ignore_changes=["value"]`. Pulumi creates a key with its default and, from then
on, ignores the value in both directions: the stack file's default no longer updates it, and
a value `edgekit flags set` wrote through the providers' APIs is not diffed back. (Seeding
only absent keys instead would need the program to read the live stores during preview: an
API call the offline preview cannot make, and a plan that depends on data rather than on
code.) Consequences, by design: changing a default in the stack file changes new stacks and
`edgekit flags unset`, which writes the declared default back; removing a flag from the stack
file deletes its keys; `pulumi refresh` records a CLI value in state without reverting it.
Pulumi's ignoreChanges documentation warns that a later *update* sends the state's (stale)
value; a key resource has no other input that can change in place (account, namespace, store
and key name all replace it), so no update is ever sent for it. Run `pulumi up --refresh`
anyway to keep the state in step with what the CLI wrote.

KeyValueStore writes need the store's current ETag (optimistic locking, `UpdateKeys`/`PutKey`
with `IfMatch`), so two keys written at once conflict: the key resources are chained with
`depends_on`, one write after the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
from edgekit_iac.components._args import ArgsError, documented, provider_module
from edgekit_iac.components._component import EdgeComponent

from edgekit_iac.flag_types import FlagSpec, stored

if TYPE_CHECKING:
    import pulumi_aws as aws
    import pulumi_cloudflare as cloudflare
else:
    aws = provider_module("pulumi_aws")
    cloudflare = provider_module("pulumi_cloudflare")

TYPE_TOKEN = "edgekit:flags:EdgeFlags"
# The binding name Workers read flags from (functions/_shared/edge_flags.py).
BINDING_NAME = "FLAGS"
# The ignore_changes that keeps CLI-set values (see the module docstring).
KEEP_VALUE = ["value"]


class FlagsArgsError(ArgsError):
    owner = "EdgeFlagsArgs"


@documented
@dataclass(kw_only=True, frozen=True)
class EdgeFlagsArgs:
    """The flags of one stack and where their stores live."""

    flags: Mapping[str, FlagSpec]
    """Declared flags, name -> FlagSpec (type, default). Required (may be empty: empty
    stores)."""

    store_name: str
    """Name of both stores: the KV namespace's title and the KeyValueStore's name, e.g.
    "edgekit-flags-prod"; letters, digits, '-' and '_', at most 64. Required."""

    account_id: pulumi.Input[str] | None = None
    """Cloudflare account id: with it, the Workers KV namespace is declared. Default: None
    (no Cloudflare store)."""

    cloudfront: bool = True
    """Declare the CloudFront KeyValueStore. Default: True."""


def validate_args(args: EdgeFlagsArgs) -> EdgeFlagsArgs:
    import re

    if not isinstance(args.store_name, str) or not re.match(r"^[A-Za-z0-9_-]{1,64}$",
                                                             args.store_name):
        raise FlagsArgsError("store_name", f"got {args.store_name!r}",
                             "letters, digits, '-' and '_', 1..64 characters")
    for name, spec in args.flags.items():
        if not isinstance(spec, FlagSpec) or spec.name != name:
            raise FlagsArgsError("flags", f"{name!r} is not a FlagSpec named {name!r}",
                                 "a mapping of flag name -> edgekit_iac.flag_types.FlagSpec")
    if args.account_id is None and not args.cloudfront:
        raise FlagsArgsError("account_id", "no store at all (no account_id, cloudfront=False)",
                             "an account id, cloudfront=True, or both")
    return args


class EdgeFlags(EdgeComponent):
    """The stack's flag stores on Cloudflare (KV) and CloudFront (KeyValueStore)."""

    TYPE_TOKEN = TYPE_TOKEN

    namespace_id: pulumi.Output[str | None]
    key_value_store_arn: pulumi.Output[str | None]
    key_value_store_name: pulumi.Output[str | None]
    flag_names: pulumi.Output[list[str]]

    def __init__(self, name: str, args: EdgeFlagsArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        self._args = validate_args(args)
        super().__init__(name, opts)
        self.namespace: cloudflare.WorkersKvNamespace | None = None
        self.store: aws.cloudfront.KeyValueStore | None = None
        if args.account_id is not None:
            self._create_namespace()
        if args.cloudfront:
            self._create_key_value_store()
        self.set_outputs(
            namespace_id=self.namespace.id if self.namespace else pulumi.Output.from_input(None),
            key_value_store_arn=self.store.arn if self.store else pulumi.Output.from_input(None),
            key_value_store_name=(self.store.name if self.store
                                  else pulumi.Output.from_input(None)),
            flag_names=pulumi.Output.from_input(sorted(args.flags)),
        )

    def _create_namespace(self) -> None:
        args = self._args
        self.namespace = cloudflare.WorkersKvNamespace(
            self.child_name("kv"), account_id=args.account_id, title=args.store_name,
            opts=self.child_opts(),
        )
        for name, spec in sorted(args.flags.items()):
            cloudflare.WorkersKv(
                self.child_name(f"kv-{name}"),
                account_id=args.account_id,
                namespace_id=self.namespace.id,
                key_name=name,
                value=stored(spec, spec.default),
                opts=self.child_opts(ignore_changes=KEEP_VALUE),
            )

    def _create_key_value_store(self) -> None:
        args = self._args
        self.store = aws.cloudfront.KeyValueStore(
            self.child_name("kvs"), name=args.store_name,
            comment="edgekit feature flags (edgekit flags list --stack ...)",
            opts=self.child_opts(),
        )
        previous: list[pulumi.Resource] = []
        for name, spec in sorted(args.flags.items()):
            key = aws.cloudfront.KeyvaluestoreKey(
                self.child_name(f"kvs-{name}"),
                key_value_store_arn=self.store.arn,
                key=name,
                value=stored(spec, spec.default),
                opts=self.child_opts(ignore_changes=KEEP_VALUE, depends_on=previous),
            )
            previous = [key]
