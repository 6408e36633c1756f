"""Questions the twin asks of the recorded resource graph, answered from it alone.

The twin serves what the program declared: a distribution finds its Lambda@Edge function
through the qualified ARN in its association, its bucket through the origin's domain name,
its web ACL and real-time log config through their ARNs, exactly as CloudFront resolves
them. Nothing here knows edgekit's components; it knows provider resource types and their
Pulumi wire (camelCase) inputs and computed outputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from edgekit_iac.program import ProgramGraph, RecordedResource

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
CACHE_POLICY = "aws:cloudfront/cachePolicy:CachePolicy"
ORIGIN_REQUEST_POLICY = "aws:cloudfront/originRequestPolicy:OriginRequestPolicy"
ORIGIN_ACCESS_CONTROL = "aws:cloudfront/originAccessControl:OriginAccessControl"
KEY_GROUP = "aws:cloudfront/keyGroup:KeyGroup"
PUBLIC_KEY = "aws:cloudfront/publicKey:PublicKey"
RESPONSE_HEADERS_POLICY = "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy"
REALTIME_LOG_CONFIG = "aws:cloudfront/realtimeLogConfig:RealtimeLogConfig"
CLOUDFRONT_FUNCTION = "aws:cloudfront/function:Function"
LAMBDA_FUNCTION = "aws:lambda/function:Function"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WORKERS_SCRIPT = "cloudflare:index/workersScript:WorkersScript"
WORKERS_ROUTE = "cloudflare:index/workersRoute:WorkersRoute"
WORKERS_CUSTOM_DOMAIN = "cloudflare:index/workersCustomDomain:WorkersCustomDomain"
RULESET = "cloudflare:index/ruleset:Ruleset"


@dataclass(frozen=True)
class WorkerHost:
    """Where a Workers script receives traffic: a zone and the hostname requests carry."""

    zone_id: str | None
    hostname: str


class GraphView:
    """Read-only queries over one recorded graph."""

    def __init__(self, graph: ProgramGraph) -> None:
        self.graph = graph

    # --- CloudFront -----------------------------------------------------------------------

    def distributions(self) -> list[RecordedResource]:
        return self.graph.of_type(DISTRIBUTION)

    def cache_policy(self, policy_id: str | None) -> RecordedResource | None:
        return self._by_id(CACHE_POLICY, policy_id)

    def origin_request_policy(self, policy_id: str | None) -> RecordedResource | None:
        return self._by_id(ORIGIN_REQUEST_POLICY, policy_id)

    def origin_access_control(self, control_id: str | None) -> RecordedResource | None:
        return self._by_id(ORIGIN_ACCESS_CONTROL, control_id)

    def key_group(self, group_id: str | None) -> RecordedResource | None:
        return self._by_id(KEY_GROUP, group_id)

    def public_key(self, key_id: str | None) -> RecordedResource | None:
        return self._by_id(PUBLIC_KEY, key_id)

    def response_headers_policy(self, policy_id: str | None) -> RecordedResource | None:
        return self._by_id(RESPONSE_HEADERS_POLICY, policy_id)

    def realtime_log_config(self, arn: str | None) -> RecordedResource | None:
        return self._by_output(REALTIME_LOG_CONFIG, "arn", arn)

    def web_acl(self, arn: str | None) -> RecordedResource | None:
        """The WAFv2 web ACL a distribution's `webAclId` names (for WAFv2, its ARN)."""
        return self._by_output(WEB_ACL, "arn", arn)

    def lambda_function(self, qualified_arn: str) -> RecordedResource | None:
        """The function an association's versioned ARN points at, if that version exists."""
        for function in self.graph.of_type(LAMBDA_FUNCTION):
            if function.outputs.get("qualifiedArn") == qualified_arn:
                return function
        return None

    def cloudfront_function(self, arn: str | None) -> RecordedResource | None:
        """The CloudFront Function a behaviour's `functionAssociations` entry names."""
        return self._by_output(CLOUDFRONT_FUNCTION, "arn", arn)

    # --- S3 --------------------------------------------------------------------------------

    def buckets(self) -> list[RecordedResource]:
        return self.graph.of_type(BUCKET) + self.graph.of_type(BUCKET_V2)

    def bucket_for_domain(self, domain_name: str) -> RecordedResource | None:
        """The bucket an S3 origin's domain name belongs to (regional or global form)."""
        for bucket in self.buckets():
            outputs = bucket.outputs
            if domain_name in (outputs.get("bucketRegionalDomainName"),
                               outputs.get("bucketDomainName")):
                return bucket
        return None

    def bucket_policy(self, bucket_name: str) -> dict[str, Any] | None:
        """The policy document declared for a bucket (by name), parsed; None when none is."""
        for policy in self.graph.of_type(BUCKET_POLICY):
            if policy.outputs.get("bucket") == bucket_name and policy.outputs.get("policy"):
                document = policy.outputs["policy"]
                return json.loads(document) if isinstance(document, str) else document
        return None

    # --- Cloudflare ------------------------------------------------------------------------

    def workers_scripts(self) -> list[RecordedResource]:
        return self.graph.of_type(WORKERS_SCRIPT)

    def worker_hosts(self, script: RecordedResource) -> list[WorkerHost]:
        """Routes and custom domains that send traffic to `script`, by its script name."""
        script_name = script.inputs.get("scriptName")
        hosts: list[WorkerHost] = []
        for route in self.graph.of_type(WORKERS_ROUTE):
            if route.inputs.get("script") == script_name and route.inputs.get("pattern"):
                host = route.inputs["pattern"].split("/", 1)[0].removeprefix("*.").lstrip("*")
                hosts.append(WorkerHost(route.inputs.get("zoneId"), host))
        for domain in self.graph.of_type(WORKERS_CUSTOM_DOMAIN):
            if domain.inputs.get("service") == script_name and domain.inputs.get("hostname"):
                hosts.append(WorkerHost(domain.inputs.get("zoneId"), domain.inputs["hostname"]))
        return hosts

    def zone_rulesets(self, zone_id: str, phase: str) -> list[RecordedResource]:
        return [
            ruleset
            for ruleset in self.graph.of_type(RULESET)
            if ruleset.inputs.get("zoneId") == zone_id and ruleset.inputs.get("phase") == phase
        ]

    # --- helpers ---------------------------------------------------------------------------

    def _by_id(self, type_token: str, resource_id: str | None) -> RecordedResource | None:
        if not resource_id:
            return None
        return next((r for r in self.graph.of_type(type_token) if r.id == resource_id), None)

    def _by_output(self, type_token: str, key: str, value: str | None) -> RecordedResource | None:
        if not value:
            return None
        return next(
            (r for r in self.graph.of_type(type_token) if r.outputs.get(key) == value), None
        )

