"""Run in a fresh interpreter by ``decode_memory``: one resize, then the peak RSS, as JSON.

``python -B decode_memory_child.py handler RESIZER_DIR EVENT_JSON`` serves one
origin-request event with the resizer's handler (imported from RESIZER_DIR), its S3 client
pointed at the parent's moto server by the environment: the original is read from S3 as in
production, then resized. Pillow and the handler's modules are imported before the first
reading, so "before" is the interpreter with its code loaded and "after" adds the request.

``python -B decode_memory_child.py libvips-buffer|libvips-file ORIGINAL W H`` is the
reference: libvips' ``thumbnail_buffer`` on the original's bytes read into memory (as the
handler held them before issue 18), or ``thumbnail`` on the file itself (as a libvips
resizer would read a spooled original); JPEG at quality 80, one worker thread, no
operation cache, as in the resize item.
"""

import json
import sys

from peak_rss import peak_rss_kib  # this script's folder is sys.path[0]


def handler_case(resizer_dir: str, event_path: str) -> dict:
    sys.path.insert(0, resizer_dir)
    import handler
    import resize
    import s3  # noqa: F401

    resize._pillow()
    with open(event_path, encoding="utf-8") as handle:
        event = json.load(handle)
    before = peak_rss_kib()
    answer = handler.handler(event, None)
    size = answer.get("headers", {}).get("x-edgekit-size", [{}])[0].get("value")
    return {"before_kib": before, "after_kib": peak_rss_kib(),
            "status": answer.get("status") or "rewritten to the stored variant",
            "size": size, "answer": answer.get("body", "")[:300] if size is None else ""}


def libvips_case(how: str, original: str, width: int, height: int) -> dict:
    import pyvips

    pyvips.cache_set_max(0)
    pyvips.concurrency_set(1)
    before = peak_rss_kib()
    if how == "libvips-buffer":
        with open(original, "rb") as handle:
            data = handle.read()
        thumb = pyvips.Image.thumbnail_buffer(data, width, height=height, size="down")
    else:
        thumb = pyvips.Image.thumbnail(original, width, height=height, size="down")
    thumb.jpegsave_buffer(Q=80)
    return {"before_kib": before, "after_kib": peak_rss_kib(), "status": "200",
            "size": f"{thumb.width}x{thumb.height}"}


def main() -> None:
    if sys.argv[1] == "handler":
        figures = handler_case(sys.argv[2], sys.argv[3])
    else:
        figures = libvips_case(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
