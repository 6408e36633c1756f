// The JavaScript globals a Python Worker sees as its `js` module, where workerd differs from Node.
//
// Node 20 already has the WHATWG `fetch`, `Request`, `Response`, `Headers`, `URL`,
// `crypto`, `TextEncoder`, streams and timers that workerd implements; the Worker gets
// those unchanged. Added or changed here:
//
//   Request  `request.cf`: Cloudflare's IncomingRequestCfProperties on the request the
//            runtime hands to `fetch` (country, colo, city, ...), `undefined` on requests
//            the Worker builds itself. The class keeps the name `Request`: the SDK tells JS
//            types apart by constructor name (workers/utils.py `_is_js_instance`).
//            https://developers.cloudflare.com/workers/runtime-apis/request/#incomingrequestcfproperties
//            `cf` in a subrequest's init (cacheTtl, ...) is accepted and ignored.
//   Date     `Date.now()` and `new Date()` read the isolate's clock: the twin's clock (which
//            its status page can move forward) or a test's manual clock, set per request.
//            As in workerd, the clock does not move while the Worker computes: it is the
//            time the request arrived. https://developers.cloudflare.com/workers/reference/security-model/#step-1-disallow-timers-and-multi-threading
//   caches   the Cache API, see cache.mjs.
//   crypto   Node's WebCrypto unchanged (RSASSA-PKCS1-v1_5, ECDSA, Ed25519 as in workerd),
//            bound here only because Node's getter checks its receiver.
//   fetch    Node's, without the browser headers undici adds (see fetch.mjs).
//   Headers  Node's, taking a Python list of pairs in one conversion (speed only).
//   Response Node's, with a byte or text body kept as bytes instead of a stream (speed
//            only; see response.mjs).
//   console  goes to the host's log (stderr), never to the protocol on stdout.
//   navigator.userAgent  "Cloudflare-Workers", as documented:
//            https://developers.cloudflare.com/workers/runtime-apis/web-standards/#navigatoruseragent
//
// Not covered: HTMLRewriter, WebSocketPair, `scheduler.wait`, `connect()` (TCP sockets),
// and `cf` options on subrequests (fetch goes straight to the origin, no Cloudflare cache).

import { makeFetch } from './fetch.mjs';
import { makeResponseClass } from './response.mjs';

export class IsolateClock {
  #fixed = null;

  // Epoch milliseconds: the time set for the current request, else the wall clock.
  now() {
    return this.#fixed ?? Date.now();
  }

  set(ms) {
    this.#fixed = typeof ms === 'number' && Number.isFinite(ms) ? ms : null;
  }
}

const cfOf = new WeakMap();

export function makeRequestClass() {
  class Request extends globalThis.Request {
    constructor(input, init = undefined) {
      const cf = init && typeof init === 'object' ? init.cf : undefined;
      let rest = init;
      if (cf !== undefined) {
        rest = { ...init };
        delete rest.cf;
      }
      super(input, rest);
      if (cf !== undefined && cf !== null) cfOf.set(this, cf);
      else if (input instanceof Request && cfOf.has(input)) cfOf.set(this, cfOf.get(input));
    }

    get cf() {
      return cfOf.get(this);
    }

    clone() {
      const copy = new Request(super.clone());
      if (cfOf.has(this)) cfOf.set(copy, cfOf.get(this));
      return copy;
    }
  }
  return Request;
}

// Node's Headers, taking a Python list of (name, value) pairs (as the SDK passes it) in one
// conversion instead of iterating the proxy pair by pair. Same class name, same behaviour.
export function makeHeadersClass() {
  class Headers extends globalThis.Headers {
    constructor(init = undefined) {
      if (init && typeof init === 'object' && typeof init.toJs === 'function') {
        init = init.toJs({ depth: 2 });
      }
      super(init);
    }
  }
  return Headers;
}

export function makeDateClass(clock) {
  const NativeDate = globalThis.Date;
  class IsolateDate extends NativeDate {
    constructor(...args) {
      if (args.length === 0) super(clock.now());
      else super(...args);
    }

    static now() {
      return clock.now();
    }
  }
  Object.defineProperty(IsolateDate, 'name', { value: 'Date' }); // python_from_rpc checks it
  return IsolateDate;
}

export function makeConsole(log) {
  const line = (level) => (...parts) => log(level, parts.map((p) => (typeof p === 'string' ? p : String(p))).join(' '));
  return {
    log: line('info'), info: line('info'), debug: line('debug'),
    warn: line('warn'), error: line('error'), trace: line('debug'),
  };
}

// The object Pyodide serves as the `js` module: Node's globals, with the above on top.
export function makeJsGlobals({ clock, caches, log, Response = makeResponseClass() }) {
  const Request = makeRequestClass();
  const overrides = {
    Request,
    Response,
    fetch: makeFetch(Request),
    Headers: makeHeadersClass(),
    Date: makeDateClass(clock),
    caches,
    // Node's own WebCrypto (crypto.subtle), read here: its global getter refuses a `this`
    // that is not globalThis, which is what reading it through this object would pass.
    crypto: globalThis.crypto,
    console: makeConsole(log),
    navigator: { userAgent: 'Cloudflare-Workers', hardwareConcurrency: 1 },
  };
  const jsGlobals = Object.create(globalThis);
  for (const [name, value] of Object.entries(overrides)) {
    if (value === null) continue; // the caller defines it
    Object.defineProperty(jsGlobals, name, { value, enumerable: true, writable: false });
  }
  return jsGlobals;
}
