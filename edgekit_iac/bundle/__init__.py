"""The bundler: edge functions built into reproducible, content-addressed zips.

`build` (the zips), `manifest` (function.toml, requirements), `vendor` (platform wheels),
`prune` (what a bundle may leave out), `elf` (shared-library needs of vendored files),
`cli` (`edgekit bundle`).
"""
