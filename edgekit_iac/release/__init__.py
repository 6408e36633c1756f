"""Releases: artifact pins in the stack files, the artifacts they name, promotion and rollback.

`pins` (the pin text), `artifacts` / `pin_artifacts` (zips for pins), `pin_change` and
`history` (writing pins and remembering earlier ones), `promote` / `rollback` (the commands),
`stack_files` / `stack_outputs` (Pulumi stack files and `pulumi stack output`).
"""
