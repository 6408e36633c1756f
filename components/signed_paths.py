"""SignedPaths: a CloudFront trusted key group, for behaviours that require signed URLs/cookies.

A behaviour with `trusted_key_groups=[signed.key_group_id]` answers 403 to any request
that does not carry a valid CloudFront signed URL or signed cookies made with one of the
group's keys (CloudFront Developer Guide, "Specify signers that can create signed URLs and
signed cookies"). Only key groups: root-account CloudFront key pairs (`trusted_signers`)
cannot be managed by IAM or by Pulumi and are not offered.

The keys are public (PEM): their private halves stay with whoever signs, as the stack's
secret `edgekit:urlSigningKey` (`pulumi config set --secret ... < key.pem`). Each key is
named by the caller and the name is its logical resource name, so a key keeps its
resource and its CloudFront id (the `Key-Pair-Id` in every URL signed with it) for as long
as it stays in the group. Rotating without downtime is therefore: add the new key under a
new name (two keys), deploy, sign with the new key, wait until the URLs signed with the old
one have expired, remove the old one, deploy.

Usable by any distribution:

    signed = SignedPaths("media", SignedPathsArgs(public_keys={"2026-12": pem}))
    ... ordered_cache_behaviors=[{..., "path_pattern": "/private/*",
                                  "trusted_key_groups": [signed.key_group_id]}]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
from edgekit_iac.components._args import ArgsError, documented, provider_module
from edgekit_iac.components._component import EdgeComponent

from edgekit_iac.cloudfront_signing import ACCEPTED_KEYS, KEY_NAME, load_public_key, public_pem

if TYPE_CHECKING:
    import pulumi_aws as aws
else:
    aws = provider_module("pulumi_aws")

TYPE_TOKEN = "edgekit:aws:SignedPaths"
# One key normally; two while a rotation is under way (the old and the new key).
MAX_KEYS = 2


class SignedPathsArgsError(ArgsError):
    """A field of `SignedPathsArgs` is wrong; the message names it and what is accepted."""

    owner = "SignedPathsArgs"


@documented
@dataclass(frozen=True)
class SignedPathsArgs:
    """The public keys whose signatures CloudFront accepts."""

    public_keys: Mapping[str, str]
    """Key name -> PEM public key (RSA 2048 or ECDSA P-256), one or two (two during a
    rotation). The name (letters, digits, dashes; up to 40) names the key's resource: keep
    it as long as the key is in the group. Required."""


def check_public_keys(
    value: Any, error: type[ArgsError] = SignedPathsArgsError, arg: str = "public_keys",
    *, low: int = 1,
) -> dict[str, str]:
    """`value` as {name: PEM}, each a key CloudFront takes; `low`..2 of them."""
    accepted = (f"{low}..{MAX_KEYS} entries of name -> {ACCEPTED_KEYS}; names of letters, "
                "digits and dashes (up to 40)")
    if not isinstance(value, Mapping):
        raise error(arg, f"got {type(value).__name__}, not a mapping", accepted)
    if not low <= len(value) <= MAX_KEYS:
        raise error(arg, f"{len(value)} keys", accepted)
    keys: dict[str, str] = {}
    seen: dict[str, str] = {}
    for name, pem in value.items():
        if not isinstance(name, str) or not KEY_NAME.match(name):
            raise error(arg, f"bad key name {name!r}", accepted)
        if not isinstance(pem, str):
            raise error(arg, f"key {name!r} is not a PEM string", accepted)
        try:
            key = load_public_key(pem.strip() + "\n")
        except ValueError as problem:
            raise error(arg, f"key {name!r} is {problem}", accepted) from None
        canonical = public_pem(key)
        if canonical in seen:
            raise error(arg, f"keys {seen[canonical]!r} and {name!r} are the same key",
                        "each key once")
        seen[canonical] = name
        # One trailing newline, as CloudFront stores it: no diff after the first deploy.
        keys[name] = pem.strip() + "\n"
    return keys


def validate_args(args: SignedPathsArgs) -> SignedPathsArgs:
    return SignedPathsArgs(public_keys=check_public_keys(args.public_keys))


class SignedPaths(EdgeComponent):
    """CloudFront public keys and the key group that trusts them."""

    TYPE_TOKEN = TYPE_TOKEN

    key_group_id: pulumi.Output[str]
    public_key_ids: pulumi.Output[dict[str, str]]

    def __init__(
        self,
        name: str,
        args: SignedPathsArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        settings = validate_args(args)
        super().__init__(name, opts)
        child = self.child_opts()
        self.public_keys = {
            key_name: aws.cloudfront.PublicKey(
                self.child_name(f"key-{key_name}"),
                encoded_key=pem,
                comment=f"{name}: signs URLs and cookies ({key_name})",
                opts=child,
            )
            for key_name, pem in settings.public_keys.items()
        }
        self.key_group = aws.cloudfront.KeyGroup(
            self.child_name("key-group"),
            items=[key.id for key in self.public_keys.values()],
            comment=f"{name}: keys trusted for signed URLs and cookies",
            opts=child,
        )
        self.set_outputs(
            key_group_id=self.key_group.id,
            public_key_ids=pulumi.Output.all(
                **{key_name: key.id for key_name, key in self.public_keys.items()}
            ),
        )
