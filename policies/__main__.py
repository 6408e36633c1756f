"""The edgekit policy pack: `pulumi preview --policy-pack policies` (and `pulumi up`).

The Pulumi CLI runs this folder as a program (PulumiPolicy.yaml), from the checkout or from
where edgekit-iac is installed (`edgekit_iac/policies/`). Either way the rules are imported
through the package, `edgekit_iac.policies`, never as top-level modules of this folder, so
the Python that runs the pack must have edgekit-iac installed. Constructing the PolicyPack
starts the analyzer server the CLI talks to and blocks, so it happens only when this file
runs as a program.
"""

from edgekit_iac.policies.edge_policies import POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PACK_NAME = "edgekit-edge-policies"
DESCRIPTION = (
    "Edge rules for edgekit stacks: Lambda@Edge limits, HTTPS and modern TLS on CloudFront, "
    "WAF and real-time logs in prod, private S3 buckets, no wildcard IAM actions, pinned "
    "Workers compatibility dates and the python_workers flag."
)


def main() -> None:
    PolicyPack(
        name=PACK_NAME,
        policies=POLICIES,
        enforcement_level=EnforcementLevel.MANDATORY,
        description=DESCRIPTION,
    )


if __name__ == "__main__":
    main()
