"""Edge function sources, one folder per deployable artifact.

Each folder has a `function.toml` manifest that tells the bundler what it is
(a Lambda@Edge handler or a Python Worker). This package exists only so the
sources ship as package data; the functions never import it.
"""

# This folder ships as `edgekit_iac.functions` (pyproject.toml maps it there). Imported under any
# other name (the checkout on sys.path as a top-level `functions`) its modules would exist twice,
# with two copies of every class, so that name is refused.
if __name__ != "edgekit_iac.functions":
    raise ImportError(
        f"edgekit's functions are imported as `edgekit_iac.functions`, not as `{__name__}`: "
        "install the edgekit-iac distribution (`make .venv/.installed-stamp` in a checkout) "
        "and import `edgekit_iac.functions`"
    )

