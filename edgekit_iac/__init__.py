"""edgekit's machinery: CLI, stack config, bundler, offline preview, local twin, promotion."""

__version__ = "0.1.0"
