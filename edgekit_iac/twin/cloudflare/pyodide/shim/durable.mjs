// Durable Objects for the Python classes a Worker exports, inside the Worker's own isolate.
//
// Sources:
//   https://developers.cloudflare.com/durable-objects/api/namespace/
//     idFromName(name) (the same name always gives the same id), newUniqueId(),
//     idFromString(hex), get(id) and getByName(name) -> a stub
//   https://developers.cloudflare.com/durable-objects/api/id/  toString() (64 hex), equals(), name
//   https://developers.cloudflare.com/durable-objects/api/stub/  stub.fetch(request)
//   https://developers.cloudflare.com/durable-objects/api/state/
//     ctx.id, ctx.storage, ctx.waitUntil, ctx.blockConcurrencyWhile(fn)
//   https://developers.cloudflare.com/durable-objects/api/storage-api/  (key-value API)
//     get(key) -> value | undefined, get([keys]) -> Map, put(key, value) / put({k: v}),
//     delete(key) -> boolean / delete([keys]) -> count, deleteAll(), list({prefix, start,
//     end, limit, reverse}) -> Map (keys sorted)
//   https://developers.cloudflare.com/durable-objects/concepts/durable-object-lifecycle/ and
//   https://blog.cloudflare.com/durable-objects-easy-fast-correct-choose-three/
//     one instance per id; input gates: no other event is delivered to the object while it
//     waits on its storage; output gates: a response leaves only after its writes are durable
//   The SDK wraps `ctx.storage` only if its constructor is named DurableObjectStorage
//   (workers/entrypoints.py `DurableObjectContext`), and a namespace only if it is named
//   DurableObjectNamespace (workers/rpc.py `_EnvWrapper`).
//
// Here: one instance per id, created on first use with (state, env); each object handles
// one request at a time, start to finish (stricter than input gates, which also let a
// request in while another awaits a subrequest); every storage write reaches the state
// directory (atomic file replace) before the call that made it resolves, so a response
// never reports a write that a restart could lose. Storage survives the process: it lives
// in <stateDir>/durable_objects/<script>/<class>/<id>.json (in memory without a stateDir).
//
// Not covered: RPC methods on stubs (only fetch), alarms, WebSocket hibernation, the SQL
// API (`ctx.storage.sql`) and point-in-time recovery, jurisdictions and location hints
// (accepted and ignored), eviction of idle objects, and objects of another script.

import crypto from 'node:crypto';
import { PersistentMap, jsonValue } from './store.mjs';
import { safeName } from './bindings.mjs';

export class DurableObjectId {
  #hex;
  #name;

  constructor(hex, name = undefined) {
    this.#hex = hex;
    this.#name = name;
  }

  get name() {
    return this.#name;
  }

  toString() {
    return this.#hex;
  }

  equals(other) {
    return other instanceof DurableObjectId && other.toString() === this.#hex;
  }
}

export class DurableObjectStorage {
  #map;

  constructor(map) {
    this.#map = map;
  }

  async get(keys) {
    if (Array.isArray(keys)) {
      const found = new Map();
      for (const key of keys) if (this.#map.has(String(key))) found.set(String(key), this.#map.get(String(key)));
      return found;
    }
    return this.#map.get(String(keys));
  }

  async put(keyOrEntries, value) {
    const entries = typeof keyOrEntries === 'string'
      ? [[keyOrEntries, value]]
      : Object.entries(keyOrEntries instanceof Map ? Object.fromEntries(keyOrEntries) : keyOrEntries);
    this.#map.apply(entries.map(([key, v]) => {
      if (v === undefined) throw new TypeError(`storage.put(${JSON.stringify(key)}): undefined cannot be stored`);
      return [String(key), jsonValue(v, `storage.put(${JSON.stringify(key)})`)];
    }));
  }

  async delete(keys) {
    if (Array.isArray(keys)) {
      const present = keys.map(String).filter((key) => this.#map.has(key));
      this.#map.apply(present.map((key) => [key, undefined]));
      return present.length;
    }
    return this.#map.delete(String(keys));
  }

  async deleteAll() {
    this.#map.clear();
  }

  async list(options = {}) {
    let keys = [...this.#map.keys()].sort();
    if (options.prefix) keys = keys.filter((k) => k.startsWith(options.prefix));
    if (options.start !== undefined) keys = keys.filter((k) => k >= options.start);
    if (options.startAfter !== undefined) keys = keys.filter((k) => k > options.startAfter);
    if (options.end !== undefined) keys = keys.filter((k) => k < options.end);
    if (options.reverse) keys.reverse();
    if (options.limit !== undefined) keys = keys.slice(0, Number(options.limit));
    return new Map(keys.map((k) => [k, this.#map.get(k)]));
  }

  sync() {
    return Promise.resolve(); // every write is already on disk
  }
}

class DurableObjectState {
  #pending = [];

  constructor(id, storage) {
    this.id = id;
    this.storage = storage;
  }

  waitUntil(promise) {
    this.#pending.push(Promise.resolve(promise).catch(() => undefined));
  }

  async blockConcurrencyWhile(callback) {
    return await callback(); // requests to this object already run one at a time
  }
}

// Runs one object's requests one after another.
class ObjectSlot {
  #tail = Promise.resolve();
  instance = null;

  run(task) {
    const result = this.#tail.then(task);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

export class DurableObjectNamespace {
  #className;
  #dir;
  #secret;
  #slots = new Map();
  #hooks;

  // hooks: {newObject(className, state) -> instance, objectFetch(instance, request) -> Response,
  //         Request: the isolate's Request class}
  constructor({ className, scriptName, stateDir, hooks }) {
    this.#className = className;
    this.#dir = stateDir ? `${stateDir}/durable_objects/${safeName(scriptName)}/${safeName(className)}` : null;
    this.#secret = `${scriptName}/${className}`;
    this.#hooks = hooks;
  }

  idFromName(name) {
    const hex = crypto.createHash('sha256').update(`${this.#secret}\0${String(name)}`).digest('hex');
    return new DurableObjectId(hex, String(name));
  }

  newUniqueId() {
    return new DurableObjectId(crypto.randomBytes(32).toString('hex'));
  }

  idFromString(hex) {
    if (!/^[0-9a-f]{64}$/.test(String(hex))) throw new TypeError('Invalid Durable Object ID: 64 hex digits expected');
    return new DurableObjectId(String(hex));
  }

  get(id) {
    if (!(id instanceof DurableObjectId)) throw new TypeError('get() needs a DurableObjectId');
    return new DurableObjectStub(this, id);
  }

  getByName(name) {
    return this.get(this.idFromName(name));
  }

  jurisdiction() {
    return this;
  }

  // The stub's way in: one request, queued behind the object's others.
  call(id, request) {
    const key = id.toString();
    let slot = this.#slots.get(key);
    if (!slot) {
      slot = new ObjectSlot();
      this.#slots.set(key, slot);
    }
    return slot.run(async () => {
      if (slot.instance === null) {
        const map = new PersistentMap(this.#dir && `${this.#dir}/${key}.json`);
        const state = new DurableObjectState(id, new DurableObjectStorage(map));
        slot.instance = await this.#hooks.newObject(this.#className, state);
      }
      return await this.#hooks.objectFetch(slot.instance, request);
    });
  }

  get requestClass() {
    return this.#hooks.Request;
  }
}

export class DurableObjectStub {
  #namespace;

  constructor(namespace, id) {
    this.#namespace = namespace;
    this.id = id;
    this.name = id.name;
  }

  async fetch(input, init = undefined) {
    const RequestClass = this.#namespace.requestClass;
    const request = new RequestClass(input, init);
    return await this.#namespace.call(this.id, request);
  }
}
