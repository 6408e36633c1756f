"""Removing one nested key from a stack file as text (after a CloudFront canary promote)."""

from __future__ import annotations

import pytest
import yaml

from edgekit_iac.errors import UserError
from edgekit_iac.release.stack_edit import without_key

KEY = ("edgekit:images", "canary", "stableVersion")
STACK = """\
# prod: what the stack deploys
config:
  aws:region: us-east-1
  edgekit:images:
    priceClass: PriceClass_All  # every edge location
    canary:
      weightPercent: 10
      stableVersion: "7"
      minRequests: 500
  edgekit:cloudflare:
    accountId: "0123"
"""


def test_only_the_key_goes_and_comments_stay():
    edited = without_key(STACK, KEY, "Pulumi.prod.yaml")
    assert edited == STACK.replace('      stableVersion: "7"\n', "")
    assert yaml.safe_load(edited)["config"]["edgekit:images"]["canary"] == {
        "weightPercent": 10, "minRequests": 500}


def test_a_mapping_left_empty_stays_a_mapping():
    text = STACK.replace("      weightPercent: 10\n", "").replace("      minRequests: 500\n", "")
    edited = without_key(text, KEY, "Pulumi.prod.yaml")
    assert "    canary: {}\n" in edited
    assert yaml.safe_load(edited)["config"]["edgekit:images"]["canary"] == {}


def test_an_absent_key_changes_nothing():
    assert without_key(STACK.replace('      stableVersion: "7"\n', ""), KEY, "x") is None


def test_flow_style_is_left_to_the_user():
    text = STACK.replace('    canary:\n      weightPercent: 10\n      stableVersion: "7"\n'
                         '      minRequests: 500\n',
                         '    canary: {weightPercent: 10, stableVersion: "7"}\n')
    with pytest.raises(UserError, match="remove it by hand"):
        without_key(text, KEY, "Pulumi.prod.yaml")
