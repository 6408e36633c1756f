"""Cloudflare in the twin: Python Workers on Pyodide under Node (isolate.py, pyodide/)."""
