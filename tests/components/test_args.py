"""What every component shares (components/_args.py, _component.py), and the argument
bounds that keep absurd values (a 178 MP budget in 128 MB, a 200 KB Worker setting) out."""

from __future__ import annotations

import pytest
from edgekit_iac.components._args import AWS_REGIONS, ArgsError, check_region, int_in
from edgekit_iac.components.image_resizer import (
    EdgeImageResizerArgs,
    ImageResizerArgsError,
    max_pixels_for,
    required_memory_mb,
    validate_args,
)
from edgekit_iac.components.rate_limit import EdgeRateLimitArgs, RateLimitArgsError
from edgekit_iac.components.rate_limit import validate_args as validate_waf
from edgekit_iac.components.worker import EdgeWorkerArgs, WorkerArgsError
from edgekit_iac.components.worker import validate_args as validate_worker


def test_the_region_list_is_botocores_aws_partition():
    botocore_loaders = pytest.importorskip("botocore.loaders")
    endpoints = botocore_loaders.create_loader().load_data("endpoints")
    (aws,) = [p for p in endpoints["partitions"] if p["partition"] == "aws"]
    assert set(aws["regions"]) == AWS_REGIONS


def test_an_args_error_carries_its_field_for_the_config_to_name():
    with pytest.raises(ArgsError) as raised:
        check_region(ImageResizerArgsError, "bucket_region", "mars-1")
    error = raised.value
    assert (error.owner, error.arg, error.problem) == (
        "EdgeImageResizerArgs",
        "bucket_region",
        "got 'mars-1'",
    )
    assert str(error).startswith("EdgeImageResizerArgs.bucket_region: got 'mars-1'; accepted:")
    with pytest.raises(ImageResizerArgsError, match="an integer from 1 to 100"):
        int_in(ImageResizerArgsError, "quality", True, 1, 100)


def test_the_pixel_budget_must_fit_the_function_memory():
    assert required_memory_mb(50_000_000) == 987  # the defaults fit 1024 MB
    assert max_pixels_for(128) == 0
    validate_args(EdgeImageResizerArgs())
    with pytest.raises(ImageResizerArgsError) as raised:
        validate_args(EdgeImageResizerArgs(max_pixels=178_000_000, memory_mb=128))
    message = str(raised.value)
    assert "EdgeImageResizerArgs.max_pixels: 178000000 pixels need 3184 MB" in message
    assert "memory_mb of at least 3184" in message
    validate_args(EdgeImageResizerArgs(max_pixels=178_000_000, memory_mb=3184))


def test_pillows_own_limit_caps_the_pixel_budget():
    with pytest.raises(ImageResizerArgsError, match="from 1000000 to 178956970"):
        validate_args(EdgeImageResizerArgs(max_pixels=200_000_000, memory_mb=10_240))


def _worker(**changes) -> EdgeWorkerArgs:
    return EdgeWorkerArgs(account_id="0" * 32, script_name="geo", function="hello_geo", **changes)


def test_a_worker_setting_over_cloudflares_5_kb_is_refused_without_echoing_it():
    validate_worker(_worker(plain_text_bindings={"MESSAGE": "x" * 5120}))
    with pytest.raises(WorkerArgsError) as raised:
        validate_worker(_worker(plain_text_bindings={"MESSAGE": "x" * 200_000}))
    message = str(raised.value)
    assert "MESSAGE is 200000 bytes" in message and "at most 5120 bytes" in message
    assert "xxxx" not in message
    with pytest.raises(WorkerArgsError, match="at most 64"):
        validate_worker(_worker(plain_text_bindings={f"V{n}": "v" for n in range(65)}))


def test_the_waf_rule_over_every_path_is_looser_than_the_path_rule():
    settings = validate_waf(EdgeRateLimitArgs(limit=100, path_prefix="/images/", default_limit=300))
    assert settings.default_limit == 300
    # Without a path prefix the one rule already counts every path.
    assert validate_waf(EdgeRateLimitArgs(path_prefix=None)).default_limit is None
    with pytest.raises(RateLimitArgsError, match="path rule stays the tighter one"):
        validate_waf(EdgeRateLimitArgs(limit=100, path_prefix="/images/", default_limit=50))


def test_every_component_follows_the_one_recipe():
    import pulumi
    from edgekit_iac.components._component import EdgeComponent

    from edgekit_iac import components

    for name in components.__all__:
        cls = getattr(components, name)
        if isinstance(cls, type) and issubclass(cls, pulumi.ComponentResource):
            assert issubclass(cls, EdgeComponent), name
            assert cls.TYPE_TOKEN.endswith(f":{name}")
    with pytest.raises(TypeError, match="edgekit:<aws|cloudflare|dns>:Mistyped"):

        class Mistyped(EdgeComponent):
            TYPE_TOKEN = "edgekit:aws:SomethingElse"


def test_outputs_are_set_and_registered_in_one_step():
    from edgekit_iac.components._component import EdgeComponent

    from edgekit_iac.program import run_program

    class Probe(EdgeComponent):
        TYPE_TOKEN = "edgekit:aws:Probe"

        def __init__(self, name: str) -> None:
            super().__init__(name)
            self.set_outputs(answer=42, child=self.child_name("part"))

    made = []
    graph = run_program("test", program=lambda: made.append(Probe("p")), config={})
    assert (made[0].answer, made[0].child) == (42, "p-part")
    assert graph.one("edgekit:aws:Probe").outputs == {"answer": 42, "child": "p-part"}


def test_field_docs_show_in_help():
    import pydoc

    from edgekit_iac.components._args import field_docs

    from edgekit_iac import components

    for name in components.__all__:
        if not name.endswith("Args"):
            continue
        cls = getattr(components, name)
        text = pydoc.render_doc(cls, renderer=pydoc.plaintext)
        docs = field_docs(cls)
        assert docs, name
        for field, doc in docs.items():
            assert field in text and doc.splitlines()[0] in text, (name, field)
    # Inherited fields too: CachedWorkerArgs documents where it is deployed.
    assert "Cloudflare account id" in components.CachedWorkerArgs.__doc__


def test_args_and_checks_import_without_loading_the_providers():
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from edgekit_iac.components import image_resizer, rate_limit, cached_worker, logpush\n"
        "image_resizer.validate_args(image_resizer.EdgeImageResizerArgs())\n"
        "loaded = [m for m in ('pulumi_aws', 'pulumi_cloudflare')\n"
        "          if m in sys.modules and type(sys.modules[m]).__name__ != '_LazyModule']\n"
        "print(loaded)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
