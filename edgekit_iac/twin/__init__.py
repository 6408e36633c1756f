"""The local twin: `edgekit up --stack local` serves a stack's recorded resource graph on 127.0.0.1.

The twin runs the real Pulumi program under the mock runtime (`edgekit_iac.program`), and
serves what it declared with the real bundled function code: CloudFront distributions
(behaviours, cache policies, Lambda@Edge from the deployed zip, WAF rate rules, real-time
logs), S3 (moto), Cloudflare Workers (the CPython stand-in, with their zone's rate-limit
rules), a demo origin API, and a status page. Each module's docstring says what of its
service is emulated and what is not. Entry points: `cli_up`, `cli_down`,
`supervisor.start_twin`.
"""
