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
// no require, process or timers, as in cloudfront-js-2.0.
assert.match(SOURCE, /^\/\/ edgekit:settings.*\nconst SETTINGS = .*$/m, "the settings line render.py replaces");
// Objects made inside the context have its own prototypes: compare their JSON.
const plain = (value) => JSON.parse(JSON.stringify(value));

function load(settings = { autoFormat: true, avif: true }) {
  const code = SOURCE.replace(/^const SETTINGS = .*$/m, `const SETTINGS = ${JSON.stringify(settings)};`);
  const context = vm.createContext({});
  vm.runInContext(code, context, { timeout: 1000 });
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

test("browsers are normalised to at most three values", () => {
  const fn = load();
  const seen = {};
  for (const [name, accept] of Object.entries({ CHROME, SAFARI_17, SAFARI_14, FIREFOX, CURL })) {
    const request = run(fn, {}, accept);
    assert.equal(request.querystring.format.value, "auto", name);
    seen[name] = request.querystring.accept.value;
  }
  assert.deepEqual(seen, { CHROME: "avif", SAFARI_17: "avif", SAFARI_14: "webp", FIREFOX: "avif", CURL: "original" });
  assert.equal(run(fn, {}).querystring.accept.value, "original", "no Accept header at all");
});

test("AVIF off per stack leaves WebP", () => {
  const fn = load({ autoFormat: true, avif: false });
  assert.equal(run(fn, {}, CHROME).querystring.accept.value, "webp");
  assert.equal(run(fn, {}, "image/avif").querystring.accept.value, "original");
});

test("q-values are honoured: q=0 refuses a type, the higher q wins", () => {
  const fn = load();
  assert.equal(run(fn, {}, "image/avif;q=0,image/webp").querystring.accept.value, "webp");
  assert.equal(run(fn, {}, "image/avif;q=0.5, image/webp;q=0.9").querystring.accept.value, "webp");
  assert.equal(run(fn, {}, "IMAGE/AVIF ; q=1").querystring.accept.value, "avif");
  assert.equal(run(fn, {}, "image/webp;q=nonsense").querystring.accept.value, "original");
  assert.equal(run(fn, {}, "image/*,*/*").querystring.accept.value, "original");
});

test("an explicit format always wins and is never negotiated", () => {
  const fn = load();
  for (const format of ["jpeg", "png", "webp", "avif"]) {
    const request = run(fn, { format: { value: format } }, CHROME);
    assert.equal(request.querystring.format.value, format);
    assert.equal(request.querystring.accept, undefined);
  }
  // Unknown values pass through: the resizer answers 400 naming what it accepts.
  assert.equal(run(fn, { format: { value: "gif" } }, CHROME).querystring.format.value, "gif");
});

test("a client-sent accept parameter is dropped or overwritten", () => {
  const fn = load();
  assert.equal(run(fn, { accept: { value: "avif" } }, CURL).querystring.accept.value, "original");
  const explicit = run(fn, { format: { value: "png" }, accept: { value: "avif" } }, CHROME);
  assert.equal(explicit.querystring.accept, undefined);
  const off = load({ autoFormat: false, avif: true });
  assert.equal(run(off, { accept: { value: "webp" } }, CHROME).querystring.accept, undefined);
});

test("autoFormat off: no format means the original's format, format=auto still negotiates", () => {
  const fn = load({ autoFormat: false, avif: true });
  const plain = run(fn, {}, CHROME);
  assert.equal(plain.querystring.format, undefined);
  assert.equal(plain.querystring.accept, undefined);
  const forced = run(fn, { format: { value: "auto" } }, CHROME);
  assert.equal(forced.querystring.format.value, "auto");
  assert.equal(forced.querystring.accept.value, "avif");
});

test("dpr=1 is the default and is dropped; other values are kept for the resizer", () => {
  const fn = load();
  assert.equal(run(fn, { dpr: { value: "1" } }, CURL).querystring.dpr, undefined);
  assert.equal(run(fn, { dpr: { value: "2" } }, CURL).querystring.dpr.value, "2");
  assert.equal(run(fn, { dpr: { value: "7" } }, CURL).querystring.dpr.value, "7");
});

test("repeated parameters and headers: the first value counts, once", () => {
  const fn = load();
  const repeated = {
    format: { value: "png", multiValue: [{ value: "png" }, { value: "webp" }] },
    dpr: { value: "2", multiValue: [{ value: "2" }, { value: "3" }] },
  };
  const request = run(fn, repeated, CHROME);
  assert.deepEqual(plain(request.querystring.format), { value: "png" });
  assert.deepEqual(plain(request.querystring.dpr), { value: "2" });
  const header = { accept: { value: "image/webp", multiValue: [{ value: "image/webp" }, { value: "image/avif" }] } };
  assert.equal(fn.handler(viewerEvent({}, header)).querystring.accept.value, "webp");
});

test("other parameters, the URI and headers pass through untouched", () => {
  const fn = load();
  const event = viewerEvent({ fit: { value: "cover" }, utm: { value: "x" } }, { accept: { value: CHROME } });
  const request = fn.handler(event);
  assert.equal(request.uri, "/images/400x300/photos/cat.jpg");
  assert.equal(request.method, "GET");
  assert.deepEqual(plain(request.querystring.fit), { value: "cover" });
  assert.deepEqual(plain(request.querystring.utm), { value: "x" });
  assert.equal(request.headers.accept.value, CHROME);
});

test("a request without querystring or headers objects does not throw", () => {
  const fn = load();
  const event = viewerEvent();
  delete event.request.querystring;
  delete event.request.headers;
  const request = fn.handler(event);
  assert.equal(request.querystring.accept.value, "original");
});
