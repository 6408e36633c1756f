"""edgekit's CrossGuard policy pack (`pulumi preview --policy-pack policies`) and its rules."""

# This folder ships as `edgekit_iac.policies` (pyproject.toml maps it there). Imported under any
# other name (the checkout on sys.path as a top-level `policies`) its modules would exist twice,
# with two copies of every class, so that name is refused.
if __name__ != "edgekit_iac.policies":
    raise ImportError(
        f"edgekit's policies are imported as `edgekit_iac.policies`, not as `{__name__}`: "
        "install the edgekit-iac distribution (`make .venv/.installed-stamp` in a checkout) "
        "and import `edgekit_iac.policies`"
    )

