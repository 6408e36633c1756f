"""The twin serves the graph, not a hard-coded route: a program whose distribution lost its
Lambda@Edge association serves the original objects, and nothing resizes."""

from __future__ import annotations

import runpy

import pulumi
import pytest

from edgekit_iac.program import default_program_path
from edgekit_iac.twin import sample_images
from edgekit_iac.twin.supervisor import TwinOptions, start_twin

from .client import request

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"


def local_stack_without_resizer_association() -> None:
    """The real __main__.py, as if the component forgot to associate the function."""

    def drop_association(args: pulumi.ResourceTransformationArgs):
        if args.type_ != DISTRIBUTION:
            return None
        props = dict(args.props)
        behaviour = dict(props["default_cache_behavior"])
        behaviour.pop("lambda_function_associations", None)
        props["default_cache_behavior"] = behaviour
        return pulumi.ResourceTransformationResult(props, args.opts)

    pulumi.runtime.register_stack_transformation(drop_association)
    runpy.run_path(str(default_program_path()), run_name="__main__")


# Stack transformations make the SDK look up every resource type's aliases, and
# pulumi_aws warns about its own deprecated types while doing so.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_without_the_association_the_image_url_serves_the_original(tmp_path):
    twin = start_twin(TwinOptions(stack="local", state_dir=tmp_path, port_base=0,
                                  program=local_stack_without_resizer_association),
                      say=lambda _line: None)
    try:
        distribution = twin.graph.named("images-cdn")  # the primary, not its staging copy
        assert "lambdaFunctionAssociations" not in distribution.inputs["defaultCacheBehavior"]
        cdn = twin.endpoints[distribution.name]
        landscape = sample_images.samples()[0]

        original = request(f"{cdn}/{landscape.key}")
        assert original.status == 200
        assert original.body == landscape.data  # the object as stored, not a resized copy
        assert original.header("content-type") == "image/jpeg"

        # Nothing rewrites /images/WxH/... any more: S3 has no such key and, without
        # s3:ListBucket for CloudFront, says 403 as it would in AWS.
        resized = request(f"{cdn}/images/400x300/{landscape.key}")
        assert resized.status == 403
        assert b"AccessDenied" in resized.body
    finally:
        twin.stop()
    assert not (tmp_path / "twin.pid").exists()
    assert not (tmp_path / "endpoints.json").exists()
