"""EdgeComponent: the recipe every edgekit component follows, written once.

- its type token is `edgekit:<area>:<ClassName>` (checked when the class is defined);
- every child is named `f"{name}-<part>"` and has `parent=self` (`child_name`, `child_opts`);
- its public outputs are set as attributes and registered in one call (`set_outputs`), so
  an output cannot be exposed without being registered, or registered under another name.

Constructors read as: check the arguments (declares nothing), `super().__init__(name, opts)`,
`_create_*` steps, `set_outputs(...)`.

Beyond the arguments, Pulumi's `transforms` resource option is the supported escape hatch:
`opts=pulumi.ResourceOptions(transforms=[...])` on a component reaches every child it
declares, so a platform team can add tags or change an input edgekit does not expose. The
policy pack (edgekit_iac.policies) keeps the edge rules in force whatever a transform does.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import pulumi

_TOKEN = re.compile(r"^edgekit:(aws|cloudflare|dns|flags|release):(\w+)$")


class EdgeComponent(pulumi.ComponentResource):
    """Base of edgekit's components: type token, child naming, outputs set and registered."""

    TYPE_TOKEN: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        match = _TOKEN.match(getattr(cls, "TYPE_TOKEN", ""))
        if not match or match[2] != cls.__name__:
            raise TypeError(
                f"{cls.__name__}.TYPE_TOKEN must be 'edgekit:<aws|cloudflare|dns|flags|release>:"
                f"{cls.__name__}', "
                f"got {getattr(cls, 'TYPE_TOKEN', None)!r}"
            )

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE_TOKEN, name, None, opts)
        self._name = name

    def child_name(self, part: str) -> str:
        """The logical name of a child: the component's name, a dash, the part."""
        return f"{self._name}-{part}"

    def child_opts(self, **options: Any) -> pulumi.ResourceOptions:
        """Options for a child: parented to this component, plus `options`."""
        return pulumi.ResourceOptions(parent=self, **options)

    def set_outputs(self, **outputs: Any) -> None:
        """Expose each output as an attribute and register them all, in one step."""
        for key, value in outputs.items():
            setattr(self, key, value)
        self.register_outputs(outputs)
