// A Map that, given a file, keeps itself on disk: loaded once, rewritten atomically (temp
// file + rename in the same directory) on every change, so a crash leaves the old or the
// new contents, never half of one. Used by KV namespaces and Durable Object storage in the
// twin's state directory; without a file it is a plain in-memory Map.
//
// Values must survive JSON: strings, numbers, booleans, null, arrays and plain objects
// (Durable Object storage accepts any structured-clonable value on Cloudflare; the host
// refuses the rest with a TypeError that says so).

import fs from 'node:fs';
import path from 'node:path';

//
// With `{ watch: true }` the file is shared with other writers (the twin's KV namespaces,
// which `edgekit flags` and other Workers write): every read first checks the file's mtime
// and size and loads it again when they changed, so a change is seen without a restart.
export class PersistentMap {
  #file;
  #map;
  #watch;
  #seen = null;

  constructor(file = null, { watch = false } = {}) {
    this.#file = file;
    this.#watch = Boolean(file && watch);
    this.#map = new Map();
    this.#load();
  }

  #stamp() {
    const stat = fs.statSync(this.#file, { throwIfNoEntry: false });
    return stat ? `${stat.mtimeMs}:${stat.size}:${stat.ino}` : 'absent';
  }

  #load() {
    if (!this.#file) return;
    this.#map.clear();
    if (fs.existsSync(this.#file)) {
      const saved = JSON.parse(fs.readFileSync(this.#file, 'utf8'));
      for (const [key, value] of saved) this.#map.set(key, value);
    }
    if (this.#watch) this.#seen = this.#stamp();
  }

  #fresh() {
    if (this.#watch && this.#stamp() !== this.#seen) this.#load();
    return this.#map;
  }

  get(key) {
    return this.#fresh().get(key);
  }

  has(key) {
    return this.#fresh().has(key);
  }

  keys() {
    return this.#fresh().keys();
  }

  get size() {
    return this.#fresh().size;
  }

  set(key, value) {
    this.#map.set(key, value);
    this.#save();
  }

  // Several changes, one write: [[key, value | undefined (delete)], ...].
  apply(changes) {
    for (const [key, value] of changes) {
      if (value === undefined) this.#map.delete(key);
      else this.#map.set(key, value);
    }
    if (changes.length) this.#save();
  }

  delete(key) {
    const had = this.#map.delete(key);
    if (had) this.#save();
    return had;
  }

  clear() {
    this.#map.clear();
    this.#save();
  }

  #save() {
    if (!this.#file) return;
    fs.mkdirSync(path.dirname(this.#file), { recursive: true, mode: 0o700 });
    const temp = `${this.#file}.${process.pid}.tmp`;
    fs.writeFileSync(temp, JSON.stringify([...this.#map]), { mode: 0o600 });
    fs.renameSync(temp, this.#file);
    if (this.#watch) this.#seen = this.#stamp();
  }
}

export function jsonValue(value, what) {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`${what}: cannot store ${typeof value}`);
  return JSON.parse(text);
}
