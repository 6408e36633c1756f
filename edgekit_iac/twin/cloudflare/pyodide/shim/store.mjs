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

export class PersistentMap {
  #file;
  #map;

  constructor(file = null) {
    this.#file = file;
    this.#map = new Map();
    if (file && fs.existsSync(file)) {
      const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
      for (const [key, value] of saved) this.#map.set(key, value);
    }
  }

  get(key) {
    return this.#map.get(key);
  }

  has(key) {
    return this.#map.has(key);
  }

  keys() {
    return this.#map.keys();
  }

  get size() {
    return this.#map.size;
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
  }
}

export function jsonValue(value, what) {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`${what}: cannot store ${typeof value}`);
  return JSON.parse(text);
}
