"""The twin's Cloudflare services: the Workers host, rule expressions, zone rate limits.

`workers_runtime` is the CPython stand-in for the Python Workers runtime.
"""
