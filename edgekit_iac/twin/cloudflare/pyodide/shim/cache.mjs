// The Workers Cache API (`caches.default`, `await caches.open(name)`) for one isolate.
//
// Sources (Cloudflare's documented behaviour, not workerd's code):
//   https://developers.cloudflare.com/workers/runtime-apis/cache/
//     - one global `caches.default`, more via `caches.open(name)`; keyed by the request URL
//     - put() throws for a non-GET request, a 206 response, and `Vary: *`
//     - put() honours Cache-Control (s-maxage over max-age) and Expires; a response with
//       Set-Cookie is never stored unless `Cache-Control: private=Set-Cookie`, which stores
//       it without that header
//     - match() resolves to undefined for a non-GET request (unless ignoreMethod) or a miss;
//       delete() resolves to whether something was removed
//     - ETag / Last-Modified let match() answer conditional requests with 304
//   https://developers.cloudflare.com/cache/how-to/configure-cache-status-code/#edge-ttl
//     - without Cache-Control or Expires: 200, 206, 301 -> 120 min; 302, 303 -> 20 min;
//       404, 410 -> 3 min; other statuses are not stored
//
// Covered: the above, on the isolate's clock (the twin's clock, or a test's manual clock).
// Purge by prefix (https://developers.cloudflare.com/cache/how-to/purge-cache/purge_by_prefix/):
// a prefix is host/path without the scheme; every stored URL starting with it goes, query
// strings included (purgePrefixes, driven by the twin's status listener).
// Not covered: Range requests (206 from a stored 200), Cache-Tag purge, size limits,
// tiered caching, and the per-data-centre scope (one store per isolate here).

const DEFAULT_EDGE_TTL = new Map([
  [200, 7200], [206, 7200], [301, 7200], [302, 1200], [303, 1200], [404, 180], [410, 180],
]);
const NULL_BODY = new Set([101, 204, 205, 304]);

function directives(value) {
  const result = new Map();
  for (const part of (value || '').split(',')) {
    const [name, ...rest] = part.trim().split('=');
    if (name) result.set(name.trim().toLowerCase(), rest.join('=').trim().replace(/^"|"$/g, '') || null);
  }
  return result;
}

// Seconds Cloudflare keeps a response, or null when it does not store it.
export function edgeTtl(status, headers, nowMs) {
  const cc = directives(headers.get('cache-control'));
  if (cc.has('no-store') || cc.has('no-cache')) return null;
  if (cc.has('private') && cc.get('private') === null) return null;
  for (const name of ['s-maxage', 'max-age']) {
    const value = cc.get(name);
    if (value != null && /^\d+$/.test(value)) return Number(value);
  }
  const expires = headers.get('expires');
  if (expires !== null) {
    const at = Date.parse(expires);
    return Number.isNaN(at) ? null : (at - nowMs) / 1000; // an invalid Expires has expired
  }
  return DEFAULT_EDGE_TTL.has(status) ? DEFAULT_EDGE_TTL.get(status) : null;
}

function keyOf(request) {
  let method = 'GET';
  let url;
  if (typeof request === 'string' || request instanceof URL) {
    url = new URL(String(request));
  } else if (request && typeof request.url === 'string' && typeof request.method === 'string') {
    method = request.method.toUpperCase();
    url = new URL(request.url);
  } else {
    throw new TypeError('Cache key must be a URL string or a Request');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`Cache key must be an http(s) URL, got ${url.href}`);
  }
  url.hash = '';
  return { method, url: url.href, headers: typeof request === 'object' && request.headers };
}

export class Cache {
  #entries = new Map(); // url -> {status, statusText, headers: [[k, v]], body, expiresAt}
  #clock;
  #Response;

  constructor(clock, ResponseClass = globalThis.Response) {
    this.#clock = clock;
    this.#Response = ResponseClass;
  }

  async match(request, options = {}) {
    const key = keyOf(request);
    if (key.method !== 'GET' && !options.ignoreMethod) return undefined;
    const entry = this.#live(key.url);
    if (!entry) return undefined;
    const headers = new Headers(entry.headers);
    if (key.headers && notModified(key.headers, headers)) {
      return new this.#Response(null, { status: 304, headers });
    }
    return new this.#Response(NULL_BODY.has(entry.status) ? null : entry.body, {
      status: entry.status, statusText: entry.statusText, headers,
    });
  }

  async put(request, response) {
    const key = keyOf(request);
    if (key.method !== 'GET') throw new TypeError('Cannot cache response to non-GET request.');
    if (!(response instanceof Response)) throw new TypeError('put() needs a Response');
    if (response.status === 206) {
      throw new TypeError('Cannot cache response to a range request (206 Partial Content).');
    }
    const vary = (response.headers.get('vary') || '').split(',').map((v) => v.trim());
    if (vary.includes('*')) throw new TypeError("Cannot cache response with 'Vary: *' header.");
    if (response.bodyUsed) throw new TypeError('Response body is already used');
    const body = new Uint8Array(await response.arrayBuffer()); // put consumes the body
    const headers = new Headers(response.headers);
    if (headers.has('set-cookie')) {
      const privateFields = directives(headers.get('cache-control')).get('private') || '';
      if (!privateFields.split(',').map((f) => f.trim().toLowerCase()).includes('set-cookie')) {
        return; // documented: never stored
      }
      headers.delete('set-cookie');
    }
    const now = this.#clock();
    const ttl = edgeTtl(response.status, headers, now);
    if (ttl === null || ttl <= 0) return; // documented as "not cached", silently
    this.#entries.set(key.url, {
      status: response.status, statusText: response.statusText,
      headers: [...headers], body, expiresAt: now + ttl * 1000,
    });
  }

  async delete(request, options = {}) {
    const key = keyOf(request);
    if (key.method !== 'GET' && !options.ignoreMethod) return false;
    return this.#live(key.url) !== undefined && this.#entries.delete(key.url);
  }

  #live(url) {
    const entry = this.#entries.get(url);
    if (entry && entry.expiresAt <= this.#clock()) {
      this.#entries.delete(url);
      return undefined;
    }
    return entry;
  }

  clear() {
    this.#entries.clear();
  }

  purgePrefixes(prefixes) {
    let removed = 0;
    for (const url of [...this.#entries.keys()]) {
      const bare = url.replace(/^https?:\/\//, '');
      if (prefixes.some((prefix) => bare.startsWith(prefix))) {
        this.#entries.delete(url);
        removed += 1;
      }
    }
    return removed;
  }

  get size() {
    for (const url of [...this.#entries.keys()]) this.#live(url);
    return this.#entries.size;
  }
}

function notModified(requestHeaders, stored) {
  const get = (name) => (typeof requestHeaders.get === 'function' ? requestHeaders.get(name) : null);
  const tags = get('if-none-match');
  const etag = stored.get('etag');
  if (tags !== null) {
    if (etag === null) return false;
    const weak = (t) => t.trim().replace(/^W\//, '');
    return tags.trim() === '*' || tags.split(',').some((t) => weak(t) === weak(etag));
  }
  const since = Date.parse(get('if-modified-since') || '');
  const modified = Date.parse(stored.get('last-modified') || '');
  return !Number.isNaN(since) && !Number.isNaN(modified) && modified <= since;
}

export class CacheStorage {
  #clock;
  #Response;
  #named = new Map();

  constructor(clock, ResponseClass = globalThis.Response) {
    this.#clock = clock;
    this.#Response = ResponseClass;
    this.default = new Cache(clock, ResponseClass);
  }

  async open(name) {
    const key = String(name);
    if (!this.#named.has(key)) this.#named.set(key, new Cache(this.#clock, this.#Response));
    return this.#named.get(key);
  }

  // Tests: every cache emptied (a Worker keeps the `caches` object it imported).
  clear() {
    this.default.clear();
    this.#named.clear();
  }

  purgePrefixes(prefixes) {
    let removed = this.default.purgePrefixes(prefixes);
    for (const cache of this.#named.values()) removed += cache.purgePrefixes(prefixes);
    return removed;
  }

  async has(name) {
    return this.#named.has(String(name));
  }

  async delete(name) {
    return this.#named.delete(String(name));
  }
}
