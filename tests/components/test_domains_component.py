"""EdgeCertificate and EdgeDnsRecords under Pulumi's mock runtime, alone and in the real
program: records per served name in Route 53 or Cloudflare, an ACM certificate in us-east-1
validated through DNS, and `dns: external` listing what the team must create."""

from __future__ import annotations

import json

import pytest
from edgekit_iac.components.domains import (
    DnsTarget,
    DomainsArgsError,
    EdgeCertificate,
    EdgeCertificateArgs,
    EdgeDnsRecords,
    EdgeDnsRecordsArgs,
    validation_names,
)

from edgekit_iac.config import ConfigError
from edgekit_iac.program import ProgramGraph, run_program
from tests.components.provider_normalisation import findings

ZONE = "fedcba9876543210fedcba9876543210"
# What a Workers route host needs: a proxied name (the Worker reaches its origin by URL).
ROUTE_HOST_RECORD = {"name": "api.example.com", "type": "AAAA", "content": "100::", "proxied": True}
HOSTED_ZONE = "Z0123456789ABCDEFGHIJ"
CF_RECORD = "cloudflare:index/dnsRecord:DnsRecord"
R53_RECORD = "aws:route53/record:Record"
CERTIFICATE = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"


def record_dns(target: DnsTarget, **changes) -> ProgramGraph:
    args = {
        "dns": target,
        "cloudfront_aliases": ["img.example.com"],
        "distribution_domain_name": "d111111abcdef8.cloudfront.net",
        "distribution_hosted_zone_id": "Z2FDTNDATAQYW2",
        "worker_route_patterns": ["api.example.com/*"],
        **changes,
    }
    return run_program(
        "test", program=lambda: EdgeDnsRecords("dns", EdgeDnsRecordsArgs(**args)), config={}
    )


def test_route53_aliases_point_a_and_aaaa_at_the_distribution():
    graph = record_dns(DnsTarget("route53", HOSTED_ZONE, ZONE))
    aliases = sorted(graph.of_type(R53_RECORD), key=lambda r: r.inputs["type"])
    assert [r.inputs["type"] for r in aliases] == ["A", "AAAA"]
    for record in aliases:
        assert (record.inputs["zoneId"], record.inputs["name"]) == (HOSTED_ZONE, "img.example.com")
        assert record.inputs["aliases"] == [
            {
                "name": "d111111abcdef8.cloudfront.net",
                "zoneId": "Z2FDTNDATAQYW2",
                "evaluateTargetHealth": False,
            }
        ]
    # The Worker route still needs its proxied record in the Cloudflare zone.
    (worker,) = graph.of_type(CF_RECORD)
    assert (worker.inputs["name"], worker.inputs["proxied"]) == ("api.example.com", True)


def test_cloudflare_alias_is_a_dns_only_cname_and_worker_hosts_are_proxied():
    graph = record_dns(DnsTarget("cloudflare", cloudflare_zone_id=ZONE))
    records = {r.inputs["name"]: r.inputs for r in graph.of_type(CF_RECORD)}
    alias = records["img.example.com"]
    assert (alias["type"], alias["content"], alias["proxied"]) == (
        "CNAME",
        "d111111abcdef8.cloudfront.net",
        False,
    )
    worker = records["api.example.com"]
    assert (worker["type"], worker["content"], worker["proxied"]) == ("AAAA", "100::", True)
    assert all(r["zoneId"] == ZONE for r in records.values())
    assert not graph.of_type(R53_RECORD)


def test_external_creates_nothing_and_lists_every_record():
    graph = record_dns(DnsTarget("external"))
    assert not graph.of_type(CF_RECORD) and not graph.of_type(R53_RECORD)
    listed = graph.one("edgekit:dns:EdgeDnsRecords").outputs["records"]
    assert {
        "name": "img.example.com",
        "type": "CNAME",
        "content": "d111111abcdef8.cloudfront.net",
        "proxied": False,
    } in listed
    assert ROUTE_HOST_RECORD in listed


@pytest.mark.parametrize(
    ("target", "changes", "field"),
    [
        (DnsTarget("route53"), {}, "dns.route53_zone_id"),
        (DnsTarget("cloudflare"), {}, "dns.cloudflare_zone_id"),
        (DnsTarget("bind"), {}, "dns"),
        (DnsTarget("external"), {"cloudfront_aliases": ["not a name"]}, "cloudfront_aliases"),
        (DnsTarget("external"), {"distribution_domain_name": None}, "distribution_domain_name"),
    ],
)
def test_refusals_name_the_field(target, changes, field):
    with pytest.raises(DomainsArgsError) as raised:
        record_dns(target, **changes)
    assert str(raised.value).startswith(f"EdgeDnsRecordsArgs.{field}:")


def record_certificate(target: DnsTarget, names: list[str]) -> ProgramGraph:
    args = EdgeCertificateArgs(domain_names=names, dns=target)
    return run_program(
        "test",
        program=lambda: EdgeCertificate("images-certificate", args),
        config={"aws:region": "eu-west-1"},
    )


def test_certificate_is_requested_in_us_east_1_and_validated_through_route53():
    graph = record_certificate(
        DnsTarget("route53", HOSTED_ZONE), ["img.example.com", "*.img.example.com"]
    )
    certificate = graph.one(CERTIFICATE).inputs
    assert (certificate["region"], certificate["validationMethod"]) == ("us-east-1", "DNS")
    assert certificate["domainName"] == "img.example.com"
    assert certificate["subjectAlternativeNames"] == ["*.img.example.com"]
    # The wildcard shares its base name's record: one record, not a conflicting pair.
    (record,) = graph.of_type(R53_RECORD)
    option = graph.one(CERTIFICATE).outputs["domainValidationOptions"][0]
    assert record.inputs["name"] == option["resourceRecordName"]
    assert record.inputs["records"] == [option["resourceRecordValue"]]
    validation = graph.one(VALIDATION).inputs
    assert validation["region"] == "us-east-1"
    assert validation["certificateArn"] == graph.one(CERTIFICATE).outputs["arn"]
    assert validation["validationRecordFqdns"] == [record.outputs["fqdn"]]


def test_certificate_validation_records_go_to_cloudflare_dns_only():
    graph = record_certificate(
        DnsTarget("cloudflare", cloudflare_zone_id=ZONE), ["img.example.com"]
    )
    (record,) = graph.of_type(CF_RECORD)
    assert (record.inputs["type"], record.inputs["proxied"]) == ("CNAME", False)
    assert record.inputs["content"].endswith(".acm-validations.aws")


def test_validation_names_drop_a_wildcard_covered_by_its_base():
    assert validation_names(["a.com", "*.a.com", "*.b.com"]) == ("a.com", "*.b.com")


# --- in the real program --------------------------------------------------------------------


def _prod_images_without_certificate() -> dict:
    from edgekit_iac.release import stack_files

    images = dict(stack_files.read_config("prod")["edgekit:images"])
    images.pop("certificateArn")
    return images


def test_external_dns_prints_the_records_and_issues_the_certificate():
    graph = run_program(
        "prod",
        config_overrides={
            "edgekit:images": _prod_images_without_certificate(),
            "edgekit:dns": "external",
        },
    )
    listed = graph.exports["dnsRecordsToCreate"]
    distribution = graph.one(DISTRIBUTION)
    assert {
        "name": "img.example.com",
        "type": "CNAME",
        "content": distribution.outputs["domainName"],
        "proxied": False,
    } in listed
    assert ROUTE_HOST_RECORD in listed
    # geo.example.com is a Workers custom domain: Cloudflare makes its record itself.
    assert not [r for r in listed if r["name"] == "geo.example.com"]
    # The distribution uses the certificate edgekit requested, once validated.
    validation = graph.one(VALIDATION)
    certificate = distribution.inputs["viewerCertificate"]["acmCertificateArn"]
    assert certificate == validation.outputs["certificateArn"]
    (validation_record,) = graph.exports["certificateValidationRecords"]
    assert validation_record["type"] == "CNAME"
    assert not graph.of_type(CF_RECORD) and not graph.of_type(R53_RECORD)
    assert not findings(graph)


def test_route53_dns_in_the_real_program_creates_the_alias_records():
    graph = run_program(
        "prod",
        config_overrides={"edgekit:dns": {"provider": "route53", "route53ZoneId": HOSTED_ZONE}},
    )
    names = {(r.inputs["name"], r.inputs["type"]) for r in graph.of_type(R53_RECORD)}
    assert names == {("img.example.com", "A"), ("img.example.com", "AAAA")}
    # certificateArn is given in prod: no certificate is requested.
    assert not graph.of_type(CERTIFICATE)
    assert "dnsRecordsToCreate" not in graph.exports
    assert not findings(graph)


def test_without_dns_config_nothing_changes_and_aliases_still_need_a_certificate():
    graph = run_program("prod")
    assert not graph.of_type("edgekit:dns:EdgeDnsRecords") and not graph.of_type(CERTIFICATE)
    with pytest.raises(ConfigError, match="edgekit:dns"):
        run_program("prod", config_overrides={"edgekit:images": _prod_images_without_certificate()})


def test_route53_without_its_zone_is_refused_by_config():
    with pytest.raises(ConfigError, match="route53ZoneId"):
        run_program("prod", config_overrides={"edgekit:dns": {"provider": "route53"}})


def test_edgekit_preview_prints_the_records_an_external_dns_team_must_create(monkeypatch, capsys):
    from edgekit_iac.cli import main
    from edgekit_iac.release import stack_files

    real = stack_files.read_config
    images = _prod_images_without_certificate()

    def read_config(stack: str) -> dict:
        return {**real(stack), "edgekit:images": images, "edgekit:dns": "external"}

    monkeypatch.setattr(stack_files, "read_config", read_config)
    # The text folds long outputs to the terminal's width; --json holds them whole.
    assert main(["preview", "--stack", "prod", "--json"]) == 0
    outputs = json.loads(capsys.readouterr().out)["outputs"]
    line = json.dumps(outputs["dnsRecordsToCreate"])
    assert '"name": "img.example.com"' in line and '"type": "CNAME"' in line
    assert '"name": "api.example.com"' in line and '"content": "100::"' in line
    assert "certificateValidationRecords" in outputs


ROUTE = "cloudflare:index/workersRoute:WorkersRoute"


@pytest.mark.parametrize("dns", ["external", {"provider": "cloudflare"}])
def test_every_worker_route_the_program_declares_gets_a_record_for_its_host(dns):
    """Driven by the graph, not by a list of Workers: whatever Worker the program routes
    (the local stack routes all four, the edge counter included), its host has a record."""
    graph = run_program("local", config_overrides={"edgekit:dns": dns})
    hosts = {r.inputs["pattern"].split("/", 1)[0] for r in graph.of_type(ROUTE)}
    assert "counter.edgekit.localhost" in hosts and len(hosts) == 4
    if dns == "external":
        listed = {r["name"] for r in graph.exports["dnsRecordsToCreate"] if r["proxied"]}
    else:
        listed = {r.inputs["name"] for r in graph.of_type(CF_RECORD) if r.inputs["proxied"]}
    assert listed == hosts
