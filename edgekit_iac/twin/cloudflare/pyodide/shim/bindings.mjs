// `env` and `ctx` as workerd hands them to a Python Worker, built from the bindings the
// Pulumi program records on its `cloudflare.WorkersScript` (pulumi-cloudflare v6 schema).
//
// Sources:
//   https://developers.cloudflare.com/workers/configuration/environment-variables/
//     plain_text -> string; json -> the parsed value
//   https://developers.cloudflare.com/workers/configuration/secrets/
//     secret_text -> string (the twin cannot read Pulumi secrets: the host passes the
//     placeholder the Python side chose and says so)
//   https://developers.cloudflare.com/kv/api/  (kv_namespace)
//     get(key, type | {type}) -> string | parsed JSON | ArrayBuffer | null,
//     getWithMetadata, put(key, value, {expiration, expirationTtl, metadata}), delete,
//     list({prefix, limit, cursor}) -> {keys: [{name, expiration?, metadata?}], list_complete,
//     cursor}. Expiry runs on the isolate clock.
//   https://developers.cloudflare.com/workers/runtime-apis/context/
//     ctx.waitUntil(promise): the work outlives the response; ctx.passThroughOnException()
//   The SDK (workers-runtime-sdk, workers/rpc.py `_EnvWrapper`, entrypoints.py) recognises
//   bindings by JS constructor name (KvNamespace, DurableObjectNamespace), and
//   `_pyodide_entrypoint_helper.patchWaitUntil` is called on every ctx, so the class names
//   below are part of the contract.
//
// Not covered: KV `cacheTtl`, "stream" reads, bulk get; R2, D1, Queues, service bindings,
// Workers AI, Analytics Engine and the other binding types (the host reports them as not
// emulated); KV values live in memory, or in the state directory when the host has one.

import { PersistentMap } from './store.mjs';

export class ExecutionContext {
  #pending = [];

  get [Symbol.toStringTag]() {
    return 'ExecutionContext';
  }

  waitUntil(promise) {
    // A Python awaitable arrives as a PyProxy: keep our own copy past the call.
    const owned = promise && typeof promise.copy === 'function' ? promise.copy() : promise;
    this.#pending.push(Promise.resolve(owned).finally(() => {
      if (owned && typeof owned.destroy === 'function') owned.destroy();
    }));
  }

  passThroughOnException() {
    // No origin behind the twin's Workers to fall back to: accepted, as an intent.
  }

  // Everything given to waitUntil (and what that scheduled), settled; the failures.
  async settle() {
    const errors = [];
    while (this.#pending.length) {
      const batch = this.#pending.splice(0);
      for (const result of await Promise.allSettled(batch)) {
        if (result.status === 'rejected') errors.push(String(result.reason?.message ?? result.reason));
      }
    }
    return errors;
  }
}

export class KvNamespace {
  #map;
  #clock;

  constructor(map, clock) {
    this.#map = map;
    this.#clock = clock;
  }

  #live(key) {
    const entry = this.#map.get(key);
    if (entry && entry.expiration && entry.expiration * 1000 <= this.#clock.now()) {
      this.#map.delete(key);
      return undefined;
    }
    return entry;
  }

  async get(key, options) {
    return (await this.getWithMetadata(key, options)).value;
  }

  async getWithMetadata(key, options) {
    const type = (typeof options === 'string' ? options : options?.type) || 'text';
    const entry = this.#live(String(key));
    if (!entry) return { value: null, metadata: null };
    const bytes = Buffer.from(entry.value, 'base64');
    let value;
    if (type === 'text') value = bytes.toString('utf8');
    else if (type === 'json') value = JSON.parse(bytes.toString('utf8'));
    else if (type === 'arrayBuffer') value = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
    else throw new TypeError(`KV get type must be text, json or arrayBuffer here, got ${type}`);
    return { value, metadata: entry.metadata ?? null };
  }

  async put(key, value, options = {}) {
    key = String(key);
    if (!key || key.length > 512) throw new TypeError('KV keys are 1..512 bytes');
    let bytes;
    if (typeof value === 'string') bytes = Buffer.from(value, 'utf8');
    else if (value instanceof ArrayBuffer) bytes = Buffer.from(value);
    else if (ArrayBuffer.isView(value)) bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    else throw new TypeError('KV put value must be a string, ArrayBuffer or ArrayBufferView');
    let expiration = options.expiration ? Number(options.expiration) : undefined;
    if (options.expirationTtl) {
      const ttl = Number(options.expirationTtl);
      if (!(ttl >= 60)) throw new TypeError('KV expirationTtl must be at least 60 seconds');
      expiration = Math.floor(this.#clock.now() / 1000) + ttl;
    }
    this.#map.set(key, { value: bytes.toString('base64'), expiration, metadata: options.metadata });
  }

  async delete(key) {
    this.#map.delete(String(key));
  }

  async list(options = {}) {
    const prefix = options.prefix ?? '';
    const limit = Math.min(Number(options.limit ?? 1000), 1000);
    const names = [...this.#map.keys()].filter((k) => k.startsWith(prefix) && this.#live(k)).sort();
    const start = options.cursor ? names.findIndex((k) => k > options.cursor) : 0;
    const page = start < 0 ? [] : names.slice(start, start + limit);
    const done = start < 0 || start + limit >= names.length;
    return {
      keys: page.map((name) => {
        const { expiration, metadata } = this.#map.get(name);
        return { name, ...(expiration ? { expiration } : {}), ...(metadata !== undefined ? { metadata } : {}) };
      }),
      list_complete: done,
      ...(done ? {} : { cursor: page[page.length - 1] }),
    };
  }
}

// env from the recorded bindings; `durable` builds Durable Object namespaces (durable.mjs).
// Returns {env, notes}: notes name what could not be bound.
export function buildEnv(bindings, { clock, stateDir, durable }) {
  const env = {};
  const notes = [];
  for (const binding of bindings || []) {
    const { name, type } = binding;
    if (type === 'plain_text' || type === 'secret_text') {
      env[name] = String(binding.text ?? '');
    } else if (type === 'json') {
      env[name] = typeof binding.json === 'string' ? JSON.parse(binding.json) : binding.json;
    } else if (type === 'kv_namespace') {
      const id = binding.namespaceId || binding.namespace_id || name;
      // twinFile (set by the Workers host): the namespace's one file, shared by every Worker
      // bound to it and by `edgekit flags`, re-read when it changes.
      const file = binding.twinFile || (stateDir && `${stateDir}/kv/${safeName(id)}.json`);
      env[name] = new KvNamespace(new PersistentMap(file, { watch: Boolean(binding.twinFile) }), clock);
    } else if (type === 'durable_object_namespace') {
      const made = durable(binding);
      if (made.note) notes.push(made.note);
      else env[name] = made.namespace;
    } else {
      notes.push(`binding ${name} of type ${JSON.stringify(type)} is not emulated`);
    }
  }
  return { env, notes };
}

export function safeName(text) {
  return String(text).replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 120) || '_';
}
