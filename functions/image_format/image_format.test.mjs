// Tests for image_format.js against CloudFront's documented viewer-request event shape
// (AWS, "CloudFront Functions event structure": lower-case header names; query string,
// header and cookie values as {value} with a multiValue list when repeated).
// Run: node --test functions/image_format/  (pytest drives it: tests/functions/test_image_format.py)
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import test from "node:test";
import vm from "node:vm";

const SOURCE = readFileSync(new URL("./image_format.js", import.meta.url), "utf8");

// The code as the component renders it (one settings line replaced), run in a bare context:
// no require, process or timers, as in cloudfront-js-2.0. Its one import, the runtime's
// `cloudfront` module, is replaced by `cf`: a fake whose kvs() behaves as AWS documents
// ("Helper methods for key value stores"): kvs() throws when no store is associated with the
// function; get(key, {format}) resolves to the value as a string (default) or parsed JSON
// and rejects when the key does not exist.
assert.match(SOURCE, /^\/\/ edgekit:settings.*\nconst SETTINGS = .*$/m, "the settings line render.py replaces");
const IMPORT = /^import cf from 'cloudfront';$/m;
assert.match(SOURCE, IMPORT, "the documented import of the cloudfront module");
// Objects made inside the context have its own prototypes: compare their JSON.
const plain = (value) => JSON.parse(JSON.stringify(value));

// A store: {key: stored text}; null: no store associated; "broken": every read fails.
function fakeCloudfront(store, reads) {
  return {
    kvs() {
      if (store === null) throw new Error("No KeyValueStore is associated with this function");
      return {
        async get(key, options) {
          reads.push(key);
          if (store === "broken") throw new Error("KeyValueStore read failed");
          if (!Object.prototype.hasOwnProperty.call(store, key)) throw new Error(`Key ${key} not found`);
          const format = (options && options.format) || "string";
          return format === "json" ? JSON.parse(store[key]) : store[key];
        },
      };
    },
  };
}

const DEFAULTS = { autoFormat: true, avif: true, autoFormatFlagDefault: true };

function load(settings = DEFAULTS, store = { auto_format: "true" }) {
  const code = SOURCE.replace(/^const SETTINGS = .*$/m, `const SETTINGS = ${JSON.stringify({ ...DEFAULTS, ...settings })};`)
    .replace(IMPORT, "");
  const reads = [];
  const context = vm.createContext({ cf: fakeCloudfront(store, reads) });
  vm.runInContext(code, context, { timeout: 1000 });
  context.reads = reads;
  return context;
}

const CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
const SAFARI_17 = "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5";
const SAFARI_14 = "image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5";
const FIREFOX = "image/avif,image/webp,*/*";
const CURL = "*/*";

function viewerEvent(querystring = {}, headers = {}) {
  return {
    version: "1.0",
    context: {
      distributionDomainName: "d111111abcdef8.cloudfront.net",
      distributionId: "EDFDVBD6EXAMPLE",
      eventType: "viewer-request",
      requestId: "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ==",
    },
    viewer: { ip: "198.51.100.11" },
    request: {
      method: "GET",
      uri: "/images/400x300/photos/cat.jpg",
      querystring,
      headers: { host: { value: "d111111abcdef8.cloudfront.net" }, ...headers },
      cookies: {},
    },
  };
}

const run = (fn, query, accept) =>
  fn.handler(viewerEvent(query, accept === undefined ? {} : { accept: { value: accept } }));
const acceptOf = async (fn, query, accept) => {
  const value = (await run(fn, query, accept)).querystring.accept;
  return value === undefined ? undefined : value.value;
};

test("browsers are normalised to at most three values", async () => {
  const fn = load();
  const seen = {};
  for (const [name, accept] of Object.entries({ CHROME, SAFARI_17, SAFARI_14, FIREFOX, CURL })) {
    const request = await run(fn, {}, accept);
    assert.equal(request.querystring.format.value, "auto", name);
    seen[name] = request.querystring.accept.value;
  }
  assert.deepEqual(seen, { CHROME: "avif", SAFARI_17: "avif", SAFARI_14: "webp", FIREFOX: "avif", CURL: "original" });
  assert.equal((await run(fn, {})).querystring.accept.value, "original", "no Accept header at all");
});

test("AVIF off per stack leaves WebP", async () => {
  const fn = load({ autoFormat: true, avif: false });
  assert.equal((await run(fn, {}, CHROME)).querystring.accept.value, "webp");
  assert.equal((await run(fn, {}, "image/avif")).querystring.accept.value, "original");
});

test("q-values are honoured: q=0 refuses a type, the higher q wins", async () => {
  const fn = load();
  assert.equal((await run(fn, {}, "image/avif;q=0,image/webp")).querystring.accept.value, "webp");
  assert.equal((await run(fn, {}, "image/avif;q=0.5, image/webp;q=0.9")).querystring.accept.value, "webp");
  assert.equal((await run(fn, {}, "IMAGE/AVIF ; q=1")).querystring.accept.value, "avif");
  assert.equal((await run(fn, {}, "image/webp;q=nonsense")).querystring.accept.value, "original");
  assert.equal((await run(fn, {}, "image/*,*/*")).querystring.accept.value, "original");
});

test("an explicit format always wins and is never negotiated", async () => {
  const fn = load();
  for (const format of ["jpeg", "png", "webp", "avif"]) {
    const request = await run(fn, { format: { value: format } }, CHROME);
    assert.equal(request.querystring.format.value, format);
    assert.equal(request.querystring.accept, undefined);
  }
  // Unknown values pass through: the resizer answers 400 naming what it accepts.
  assert.equal((await run(fn, { format: { value: "gif" } }, CHROME)).querystring.format.value, "gif");
});

test("a client-sent accept parameter is dropped or overwritten", async () => {
  const fn = load();
  assert.equal((await run(fn, { accept: { value: "avif" } }, CURL)).querystring.accept.value, "original");
  const explicit = await run(fn, { format: { value: "png" }, accept: { value: "avif" } }, CHROME);
  assert.equal(explicit.querystring.accept, undefined);
  const off = load({ autoFormat: false, avif: true });
  assert.equal((await run(off, { accept: { value: "webp" } }, CHROME)).querystring.accept, undefined);
});

test("autoFormat off: no format means the original's format, format=auto still negotiates", async () => {
  const fn = load({ autoFormat: false, avif: true });
  const plain = await run(fn, {}, CHROME);
  assert.equal(plain.querystring.format, undefined);
  assert.equal(plain.querystring.accept, undefined);
  const forced = await run(fn, { format: { value: "auto" } }, CHROME);
  assert.equal(forced.querystring.format.value, "auto");
  assert.equal(forced.querystring.accept.value, "avif");
});

test("dpr=1 is the default and is dropped; other values are kept for the resizer", async () => {
  const fn = load();
  assert.equal((await run(fn, { dpr: { value: "1" } }, CURL)).querystring.dpr, undefined);
  assert.equal((await run(fn, { dpr: { value: "2" } }, CURL)).querystring.dpr.value, "2");
  assert.equal((await run(fn, { dpr: { value: "7" } }, CURL)).querystring.dpr.value, "7");
});

test("repeated parameters and headers: the first value counts, once", async () => {
  const fn = load();
  const repeated = {
    format: { value: "png", multiValue: [{ value: "png" }, { value: "webp" }] },
    dpr: { value: "2", multiValue: [{ value: "2" }, { value: "3" }] },
  };
  const request = await run(fn, repeated, CHROME);
  assert.deepEqual(plain(request.querystring.format), { value: "png" });
  assert.deepEqual(plain(request.querystring.dpr), { value: "2" });
  const header = { accept: { value: "image/webp", multiValue: [{ value: "image/webp" }, { value: "image/avif" }] } };
  assert.equal((await fn.handler(viewerEvent({}, header))).querystring.accept.value, "webp");
});

test("other parameters, the URI and headers pass through untouched", async () => {
  const fn = load();
  const event = viewerEvent({ fit: { value: "cover" }, utm: { value: "x" } }, { accept: { value: CHROME } });
  const request = await fn.handler(event);
  assert.equal(request.uri, "/images/400x300/photos/cat.jpg");
  assert.equal(request.method, "GET");
  assert.deepEqual(plain(request.querystring.fit), { value: "cover" });
  assert.deepEqual(plain(request.querystring.utm), { value: "x" });
  assert.equal(request.headers.accept.value, CHROME);
});

test("a request without querystring or headers objects does not throw", async () => {
  const fn = load();
  const event = viewerEvent();
  delete event.request.querystring;
  delete event.request.headers;
  const request = await fn.handler(event);
  assert.equal(request.querystring.accept.value, "original");
});

// The auto_format flag, read from the associated KeyValueStore as JSON (edgekit_iac.flag_types
// stores a bool flag as the text `true` or `false`).
const FLAG_STATES = {
  "true": { auto_format: "true" },
  "false": { auto_format: "false" },
  "missing": {},
  "not a boolean": { auto_format: "\"no\"" },
  "not JSON": { auto_format: "off" },
  "read error": "broken",
  "no store": null,
};

test("auto_format false: format=auto and unformatted URLs get the original's format", async () => {
  const off = load(DEFAULTS, { auto_format: "false" });
  for (const accept of [CHROME, SAFARI_14, FIREFOX, CURL]) {
    assert.equal(await acceptOf(off, { format: { value: "auto" } }, accept), "original", accept);
    assert.equal(await acceptOf(off, {}, accept), "original", accept);
  }
  // The key it writes is the one a curl request writes with the flag on: the same bytes.
  const on = load(DEFAULTS, { auto_format: "true" });
  assert.equal(await acceptOf(on, { format: { value: "auto" } }, CURL), "original");
  assert.equal(await acceptOf(on, { format: { value: "auto" } }, CHROME), "avif");
  // An explicit format is the viewer's choice: the flag does not touch it.
  const explicit = await run(off, { format: { value: "webp" } }, CHROME);
  assert.equal(explicit.querystring.format.value, "webp");
  assert.equal(explicit.querystring.accept, undefined);
});

test("the flag's value, or its declared default when the store cannot say", async () => {
  const seen = {};
  for (const [state, store] of Object.entries(FLAG_STATES)) {
    for (const flagDefault of [true, false]) {
      const fn = load({ ...DEFAULTS, autoFormatFlagDefault: flagDefault }, store);
      seen[`${state}/${flagDefault}`] = await acceptOf(fn, { format: { value: "auto" } }, CHROME);
    }
  }
  assert.deepEqual(seen, {
    "true/true": "avif", "true/false": "avif",
    "false/true": "original", "false/false": "original",
    "missing/true": "avif", "missing/false": "original",
    "not a boolean/true": "avif", "not a boolean/false": "original",
    "not JSON/true": "avif", "not JSON/false": "original",
    "read error/true": "avif", "read error/false": "original",
    "no store/true": "avif", "no store/false": "original",
  });
});

test("the store is read only for negotiated requests, once each", async () => {
  const fn = load();
  await run(fn, { format: { value: "png" } }, CHROME);
  assert.deepEqual(plain(fn.reads), []);
  await run(fn, {}, CHROME);
  await run(fn, { format: { value: "auto" } }, CURL);
  assert.deepEqual(plain(fn.reads), ["auto_format", "auto_format"]);
});
