"""edgekit's benchmark suite: the edge functions measured against the best alternatives.

``python -m bench`` (full) or ``python -m bench --quick`` (seconds, for CI) runs every
measurement and writes ``bench/RESULTS.md`` (tables) and ``bench/results.json`` (machine
details, versions, and every figure as min/median/max over repeated runs). Comparisons run
both sides in the same process, interleaved round by round, and report their ratio,
because a shared machine's speed drifts between runs.

One module per measurement: ``resize_bench`` (warm resize against naive Pillow and
libvips), ``cold_start`` (bundled handler in a fresh process against moto S3),
``hit_path`` (the cache wrapper's per-request decisions), ``twin_load`` (the local twin's
cache-hit throughput), ``offload`` (origin offload during a spike, against a seed-style
wrapper) and ``program_scale`` (the Pulumi program under the mock runtime).
"""
