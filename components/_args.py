"""What every component's argument checks share: one error shape, one integer-range check,
one component-name check, one list of AWS regions.

A component's checks are pure and run before its first registration. They raise an
`ArgsError` that carries the field it is about (`arg`), so the stack config, which builds
the same arguments from `stacks/Pulumi.<stack>.yaml`, can report the config key instead of
the Python field (`edgekit:cloudflare.cacheWrapper.originUrl`, not
`CachedWorkerArgs.origin_url`).
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
import sys
import textwrap
import typing
from types import ModuleType
from typing import Any, TypeVar

import pulumi

from edgekit_iac.errors import UserError

# The commercial `aws` partition's regions, as botocore's endpoint data lists them
# (`botocore.loaders.create_loader().load_data("endpoints")`, partition "aws"; pinned
# boto3 1.44.8). The components write `arn:aws:` ARNs and use CloudFront and Lambda@Edge,
# which exist only in this partition; tests/components/test_args.py fails when botocore
# knows a region this list does not.
AWS_REGIONS = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ca-central-1",
        "ca-west-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "mx-central-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
    }
)


_Class = TypeVar("_Class", bound=type)


def provider_module(name: str) -> ModuleType:
    """`name` (a provider SDK such as pulumi_aws), loaded on first attribute access.

    The providers take seconds to import; with this the Args classes and their checks can be
    imported (by the stack config, by `edgekit promote`) without them, and a program that
    uses only the Cloudflare components never loads pulumi_aws.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each annotated field of `cls` and its bases, in declaration order."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or "__annotations__" not in vars(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue  # no source (frozen install): editors still read the attribute docstrings
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in zip(body, body[1:], strict=False):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs


def field_types(cls: Any) -> dict[str, Any]:
    """The resolved type of each annotated field of `cls` (and its bases), or of a function's
    parameters: `typing.get_type_hints`, since the modules use PEP 563 string annotations.

    `pulumi.Input[X]` is `Union[X, Awaitable[X], "Output[T]"]`: its last member stays a
    forward reference written in `pulumi.output` (not even substituted by X), so the two
    names it uses are taken from there.
    """
    return typing.get_type_hints(cls, localns=PULUMI_FORWARD_NAMES)


PULUMI_FORWARD_NAMES = {"Output": pulumi.output.Output, "T": pulumi.output.T}


def documented(cls: _Class) -> _Class:
    """Show each field's docstring in help() and pydoc, which ignore attribute docstrings.

    The docs stay written once, under each field (where editors show them); this appends
    them to the class docstring as a "Fields" section when the class is defined.
    """
    docs = field_docs(cls)
    if docs:
        lines = [inspect.cleandoc(cls.__doc__ or cls.__name__), "", "Fields:"]
        for name, doc in docs.items():
            lines.append(f"    {name}")
            lines.extend(f"        {line}" if line else "" for line in doc.splitlines())
        cls.__doc__ = "\n".join(lines)
    return cls


class ArgsError(UserError, ValueError):
    """A field of a component's Args is wrong: which field, what was wrong, what is accepted.

    Subclasses set `owner` to their Args class name; `arg` is the field (dotted for a
    nested one, e.g. "origin_dns.name"), or "name" for the component's own name.
    """

    owner = "Args"

    def __init__(self, arg: str, problem: str, accepted: str, *, owner: str | None = None):
        self.owner = owner or type(self).owner
        self.arg = arg
        self.problem = problem
        self.accepted = accepted
        super().__init__(f"{self.owner}.{arg}: {problem}; accepted: {accepted}")


def is_int(value: Any) -> bool:
    """A true integer: `True` is an int to Python, never to a config."""
    return isinstance(value, int) and not isinstance(value, bool)


def int_in(
    error: type[ArgsError], arg: str, value: Any, low: int, high: int, *, owner: str | None = None
) -> int:
    """`value` if it is a true integer (not a bool) within low..high, else `error`."""
    if not is_int(value) or not low <= value <= high:
        raise error(arg, f"got {value!r}", f"an integer from {low} to {high}", owner=owner)
    return value


def check_region(error: type[ArgsError], arg: str, value: Any) -> str:
    """A region of the `aws` partition (see AWS_REGIONS)."""
    if not isinstance(value, str) or value not in AWS_REGIONS:
        raise error(arg, f"got {value!r}", f"an AWS region: {', '.join(sorted(AWS_REGIONS))}")
    return value


# Cloudflare account, zone and ruleset ids.
CLOUDFLARE_ID = re.compile(r"^[0-9a-f]{32}$")
CLOUDFLARE_ID_ACCEPTED = "a Cloudflare id: 32 lower-case hex characters"


def check_pattern(
    error: type[ArgsError],
    arg: str,
    value: Any,
    pattern: re.Pattern[str],
    accepted: str,
    *,
    owner: str | None = None,
    problem: str | None = None,
) -> str:
    """`value` if it is a string that `pattern` matches, else `error` (`problem` or "got ...")."""
    if not isinstance(value, str) or not pattern.match(value):
        raise error(arg, problem or f"got {value!r}", accepted, owner=owner)
    return value


def check_cloudflare_id(
    error: type[ArgsError],
    arg: str,
    value: Any,
    *,
    owner: str | None = None,
    accepted: str = CLOUDFLARE_ID_ACCEPTED,
) -> str:
    """`value` if it is a Cloudflare id (32 lower-case hex characters), else `error`."""
    return check_pattern(error, arg, value, CLOUDFLARE_ID, accepted, owner=owner)


# Names that prefix AWS physical and metric names (SNS topics, WAF metrics).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
NAME_ACCEPTED = "1-100 letters, digits, '-' or '_'"


def check_component_name(
    error: type[ArgsError],
    component: str,
    name: str,
    prefixes: str,
    pattern: re.Pattern[str] = NAME_PATTERN,
    accepted: str = NAME_ACCEPTED,
) -> str:
    """The component's name prefixes `prefixes` (e.g. "SNS topic names"), so it must fit them."""
    problem = f"{component} name {name!r} prefixes {prefixes}"
    return check_pattern(error, "name", name, pattern, accepted, owner=component, problem=problem)
