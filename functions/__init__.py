"""Edge function sources, one folder per deployable artifact.

Each folder has a `function.toml` manifest that tells the bundler what it is
(a Lambda@Edge handler or a Python Worker). This package exists only so the
sources ship as package data; the functions never import it.
"""
