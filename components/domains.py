"""DNS and certificates for the names a stack serves: EdgeCertificate and EdgeDnsRecords.

Aliases (`img.example.com`) and Worker routes (`api.example.com/*`) get no traffic until DNS
points at them, and a CloudFront alias needs an ACM certificate in us-east-1. Where the
records go is one choice per stack (`DnsTarget.provider`):

- "route53": a CloudFront alias is a Route 53 alias record (A and AAAA) to the
  distribution, in `route53_zone_id`;
- "cloudflare": a CloudFront alias is a DNS-only CNAME to the distribution's
  `*.cloudfront.net` name in the Cloudflare zone (proxying it would put Cloudflare's
  certificate and cache in front of CloudFront's);
- "external": nothing is created; `records` lists what the team must create elsewhere.

A Worker route only runs on a proxied hostname of its Cloudflare zone, so every route host
gets a proxied record there whatever the provider (an AAAA to `100::`, Cloudflare's
documented placeholder for hosts that only a Worker answers), except with "external".
Workers custom domains are left alone: Cloudflare creates their records itself.

EdgeCertificate requests the certificate in us-east-1 (the only region CloudFront reads)
with DNS validation, writes the validation CNAMEs where the provider says (or lists them,
for "external"), and hands out the ARN only once ACM has issued it, so the distribution
never references an unvalidated certificate. The two are separate components because the
distribution needs the certificate and the alias records need the distribution.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
from edgekit_iac.components._args import (
    ArgsError,
    check_cloudflare_id,
    documented,
    provider_module,
)
from edgekit_iac.components._component import EdgeComponent

# Loaded on first use, like every component's provider SDK: importing the package (and these
# Args) must not cost the seconds the providers take to import.
if TYPE_CHECKING:
    import pulumi_aws as aws
    import pulumi_cloudflare as cloudflare
else:
    aws = provider_module("pulumi_aws")
    cloudflare = provider_module("pulumi_cloudflare")

CERTIFICATE_TYPE = "edgekit:aws:EdgeCertificate"
RECORDS_TYPE = "edgekit:dns:EdgeDnsRecords"

PROVIDERS = ("route53", "cloudflare", "external")
CERTIFICATE_REGION = "us-east-1"
# Cloudflare: a proxied AAAA to the discard prefix 100:: for a host only a Worker answers.
WORKER_ONLY_ADDRESS = "100::"
AUTOMATIC_TTL = 1

_HOSTNAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
_ROUTE53_ZONE = re.compile(r"^Z[A-Z0-9]{1,31}$")


class DomainsArgsError(ArgsError):
    """A DNS or certificate argument is wrong; the message names it and what is accepted."""


def _fail(owner: str, arg: str, problem: str, accepted: str) -> DomainsArgsError:
    return DomainsArgsError(arg, problem, accepted, owner=owner)


@dataclass(frozen=True)
class DnsTarget:
    """Where a stack's records live."""

    provider: str
    """route53, cloudflare or external. Required."""

    route53_zone_id: str | None = None
    """The Route 53 hosted zone of the CloudFront aliases (provider route53). Default: None."""

    cloudflare_zone_id: pulumi.Input[str] | None = None
    """The Cloudflare zone of the Worker routes, and of the aliases with provider
    cloudflare. Default: None."""


def check_target(owner: str, target: Any) -> DnsTarget:
    if not isinstance(target, DnsTarget) or target.provider not in PROVIDERS:
        got = getattr(target, "provider", target)
        raise _fail(
            owner, "dns", f"got {got!r}", f"a DnsTarget with provider {', '.join(PROVIDERS)}"
        )
    if target.provider == "route53" and not (
        isinstance(target.route53_zone_id, str) and _ROUTE53_ZONE.match(target.route53_zone_id)
    ):
        raise _fail(
            owner,
            "dns.route53_zone_id",
            f"got {target.route53_zone_id!r} with provider route53",
            'a Route 53 hosted zone id such as "Z0123456789ABCDEFGHIJ"',
        )
    zone = target.cloudflare_zone_id
    if isinstance(zone, str):
        check_cloudflare_id(DomainsArgsError, "dns.cloudflare_zone_id", zone, owner=owner)
    if target.provider == "cloudflare" and zone is None:
        raise _fail(
            owner,
            "dns.cloudflare_zone_id",
            "missing with provider cloudflare",
            "the id of the Cloudflare zone that holds the names",
        )
    return target


def check_names(owner: str, arg: str, names: Any) -> tuple[str, ...]:
    accepted = 'a list of DNS names such as "img.example.com"'
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise _fail(owner, arg, f"got {names!r}, not a list", accepted)
    cleaned = []
    for name in names:
        text = name.strip().lower().rstrip(".") if isinstance(name, str) else name
        if not isinstance(text, str) or not _HOSTNAME.match(text):
            raise _fail(owner, arg, f"bad name {name!r}", accepted)
        if text not in cleaned:
            cleaned.append(text)
    return tuple(cleaned)


def route_host(pattern: str) -> str:
    """The hostname of a Workers route pattern ("api.example.com/*" -> "api.example.com")."""
    return pattern.split("/", 1)[0].lower()


def logical(name: str) -> str:
    """A record's name as a Pulumi logical-name suffix ("*.a.com" -> "wildcard-a-com")."""
    return name.replace("*", "wildcard").replace(".", "-")


def validation_names(domains: Sequence[str]) -> tuple[str, ...]:
    """The names ACM needs one validation record for: `*.a.com` and `a.com` share one."""
    return tuple(
        name
        for name in domains
        if not (name.startswith("*.") and name.removeprefix("*.") in domains)
    )


def _field(option: Any, name: str) -> Any:
    """A field of a certificate's domain validation option (an SDK output type or a dict)."""
    value = getattr(option, name, None)
    if value is None and isinstance(option, dict):
        camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)
        value = option.get(name, option.get(camel))
    return value


# --- EdgeCertificate -------------------------------------------------------------------------


@documented
@dataclass
class EdgeCertificateArgs:
    """A certificate in us-east-1 for a distribution's aliases, validated through DNS."""

    domain_names: Sequence[str]
    """The names the certificate covers (the distribution's aliases), the first one its
    subject. Required, non-empty."""

    dns: DnsTarget
    """Where the validation records go (`external`: listed in `validation_records`).
    Required."""


class EdgeCertificate(EdgeComponent):
    """ACM certificate (us-east-1, DNS validation) whose ARN resolves once it is issued."""

    TYPE_TOKEN = CERTIFICATE_TYPE

    certificate_arn: pulumi.Output[str]
    validation_records: pulumi.Output[list[dict[str, str]]]

    def __init__(
        self, name: str, args: EdgeCertificateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        owner = "EdgeCertificateArgs"
        domains = check_names(owner, "domain_names", args.domain_names)
        if not domains:
            raise _fail(owner, "domain_names", "the list is empty", "at least one DNS name")
        target = check_target(owner, args.dns)
        super().__init__(name, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.certificate = aws.acm.Certificate(
            f"{name}-cert",
            region=CERTIFICATE_REGION,
            domain_name=domains[0],
            subject_alternative_names=list(domains[1:]) or None,
            validation_method="DNS",
            opts=child,
        )
        records = [self._validation_record(domain) for domain in validation_names(domains)]
        self.validation_records = pulumi.Output.all(*records)
        fqdns = [
            self._declare(name, domain, record, target)
            for domain, record in zip(validation_names(domains), records, strict=True)
        ]
        self.validation = aws.acm.CertificateValidation(
            f"{name}-validation",
            region=CERTIFICATE_REGION,
            certificate_arn=self.certificate.arn,
            validation_record_fqdns=[f for f in fqdns if f is not None] or None,
            opts=child,
        )
        self.certificate_arn = self.validation.certificate_arn
        self.register_outputs(
            {"certificate_arn": self.certificate_arn, "validation_records": self.validation_records}
        )

    def _validation_record(self, domain: str) -> pulumi.Output[dict[str, str]]:
        def pick(options: list[Any]) -> dict[str, str]:
            for option in options or []:
                if _field(option, "domain_name") == domain:
                    return {
                        "name": _field(option, "resource_record_name"),
                        "type": _field(option, "resource_record_type"),
                        "content": _field(option, "resource_record_value"),
                        "purpose": f"ACM validation of {domain}",
                    }
            raise DomainsArgsError(f"ACM returned no validation record for {domain!r}")

        return self.certificate.domain_validation_options.apply(pick)

    def _declare(
        self,
        name: str,
        domain: str,
        record: pulumi.Output[dict[str, str]],
        target: DnsTarget,
    ) -> pulumi.Output[str] | None:
        child = pulumi.ResourceOptions(parent=self)
        suffix = f"{name}-validation-{logical(domain)}"
        if target.provider == "route53":
            created = aws.route53.Record(
                suffix,
                zone_id=target.route53_zone_id,
                name=record["name"],
                type=record["type"],
                records=[record["content"]],
                ttl=300,
                # *.a.com and a.com share one record; a rerun must not fail on it.
                allow_overwrite=True,
                opts=child,
            )
            return created.fqdn
        if target.provider == "cloudflare":
            cloudflare.DnsRecord(
                suffix,
                zone_id=target.cloudflare_zone_id,
                name=record["name"].apply(lambda text: text.rstrip(".")),
                type=record["type"],
                content=record["content"].apply(lambda text: text.rstrip(".")),
                proxied=False,
                ttl=AUTOMATIC_TTL,
                comment=f"edgekit: ACM validation of {domain}",
                opts=child,
            )
        return None


# --- EdgeDnsRecords --------------------------------------------------------------------------


@documented
@dataclass
class EdgeDnsRecordsArgs:
    """The names a stack serves and what answers them."""

    dns: DnsTarget
    """Where the records go. Required."""

    cloudfront_aliases: Sequence[str] = ()
    """Aliases of the distribution. Default: none."""

    distribution_domain_name: pulumi.Input[str] | None = None
    """The distribution's `*.cloudfront.net` name; needed with aliases. Default: None."""

    distribution_hosted_zone_id: pulumi.Input[str] | None = None
    """The distribution's Route 53 hosted zone id (Distribution.hosted_zone_id); needed for
    route53 alias records. Default: None."""

    worker_route_patterns: Sequence[str] = ()
    """Workers route patterns ("api.example.com/*"); each host gets a proxied record in the
    Cloudflare zone. Default: none."""


class EdgeDnsRecords(EdgeComponent):
    """Records for the aliases and Worker routes, or (external) the list to create."""

    TYPE_TOKEN = RECORDS_TYPE

    records: pulumi.Output[list[dict[str, Any]]]

    def __init__(
        self, name: str, args: EdgeDnsRecordsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        owner = "EdgeDnsRecordsArgs"
        target = check_target(owner, args.dns)
        aliases = check_names(owner, "cloudfront_aliases", args.cloudfront_aliases)
        hosts = check_names(
            owner,
            "worker_route_patterns",
            [route_host(p) if isinstance(p, str) else p for p in args.worker_route_patterns],
        )
        if aliases and args.distribution_domain_name is None:
            raise _fail(
                owner,
                "distribution_domain_name",
                "missing with aliases",
                "the distribution's domain",
            )
        if aliases and target.provider == "route53" and args.distribution_hosted_zone_id is None:
            raise _fail(
                owner,
                "distribution_hosted_zone_id",
                "missing with route53 aliases",
                "Distribution.hosted_zone_id",
            )
        if hosts and target.provider != "external" and target.cloudflare_zone_id is None:
            raise _fail(
                owner,
                "dns.cloudflare_zone_id",
                "missing with Worker routes",
                "the Cloudflare zone of the routes",
            )
        super().__init__(name, opts)
        self._target = target
        self._child = pulumi.ResourceOptions(parent=self)

        planned: list[pulumi.Input[dict[str, Any]]] = []
        for alias in aliases:
            planned.extend(self._alias(alias, args))
        for host in hosts:
            planned.append(self._worker_host(host))
        self.records = pulumi.Output.all(*planned)
        self.register_outputs({"records": self.records})

    def _alias(self, alias: str, args: EdgeDnsRecordsArgs) -> list[pulumi.Input[dict[str, Any]]]:
        target, child = self._target, self._child
        domain = pulumi.Output.from_input(args.distribution_domain_name)
        if target.provider == "route53":
            for record_type in ("A", "AAAA"):
                aws.route53.Record(
                    f"{self._name}-{logical(alias)}-{record_type.lower()}",
                    zone_id=target.route53_zone_id,
                    name=alias,
                    type=record_type,
                    aliases=[
                        {
                            "name": domain,
                            "zone_id": args.distribution_hosted_zone_id,
                            "evaluate_target_health": False,
                        }
                    ],
                    opts=child,
                )
            return [
                domain.apply(lambda d, t=t: {"name": alias, "type": t, "content": d, "alias": True})
                for t in ("A", "AAAA")
            ]
        if target.provider == "cloudflare":
            # DNS only: CloudFront terminates TLS for the alias with its ACM certificate.
            self._cloudflare_record(
                alias, "CNAME", domain, proxied=False, purpose="CloudFront alias"
            )
        return [
            domain.apply(lambda d: {"name": alias, "type": "CNAME", "content": d, "proxied": False})
        ]

    def _cloudflare_record(
        self, name: str, type_: str, content: pulumi.Input[str], *, proxied: bool, purpose: str
    ) -> cloudflare.DnsRecord:
        return cloudflare.DnsRecord(
            f"{self._name}-{logical(name)}",
            zone_id=self._target.cloudflare_zone_id,
            name=name,
            type=type_,
            content=content,
            proxied=proxied,
            ttl=AUTOMATIC_TTL,
            comment=f"edgekit: {purpose}",
            opts=self._child,
        )

    def _worker_host(self, host: str) -> dict[str, Any]:
        target = self._target
        if target.provider != "external":
            # Workers routes run only on proxied hostnames.
            self._cloudflare_record(
                host, "AAAA", WORKER_ONLY_ADDRESS, proxied=True, purpose="Workers route"
            )
        return {"name": host, "type": "AAAA", "content": WORKER_ONLY_ADDRESS, "proxied": True}
