"""The twin's Cloudflare services: the Workers host, rule expressions, zone rate limits.

Python Workers run on Pyodide under Node with Cloudflare's workers SDK: `isolate` (one
Worker, one warm isolate, one Node process), `pyodide/` (the Node side: package.json and
its lock, the host, and the JS shim for what workerd adds), `node_setup` (Node >= 20 and
`npm ci` of the lock file).
"""
