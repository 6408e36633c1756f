"""The edgekit policy pack: `pulumi preview --policy-pack policies` (and `pulumi up`).

The Pulumi CLI runs this folder with its own virtualenv (PulumiPolicy.yaml,
requirements.txt); the folder is then the import root, hence the two import forms.
Constructing the PolicyPack starts the analyzer server the CLI talks to and blocks, so it
happens only when this file runs as a program.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

if __package__:
    from .edge_policies import POLICIES
else:
    from edge_policies import POLICIES

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
