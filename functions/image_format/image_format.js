import cf from 'cloudfront';
// edgekit image_format: CloudFront Function (runtime cloudfront-js-2.0), viewer-request.
//
// Normalises the viewer's Accept header into one of three values written to the query string
// the cache key uses, so the cache holds at most three negotiated variants per URL and raw
// Accept strings (different for every browser) never reach the key:
//   ?format=jpeg|png|webp|avif  explicit: kept, never negotiated
//   ?format=auto, or no format while auto-format is on (the stack's images.autoFormat)
//                               -> format=auto&accept=avif|webp|original
//   anything else in format     left for the resizer to refuse (a 400 naming what it accepts)
// A client-sent `accept` query parameter is always dropped: only this function writes it.
// dpr=1 is the default and is dropped, so /x?dpr=1 and /x share one cache entry.
//
// The `auto_format` feature flag (edgekit flags set auto_format false) switches negotiation
// off at run time: it is read from the KeyValueStore associated with this function (the
// stack's flag store, components/edge_flags.py; JSON text `true`/`false`). Off, every
// negotiated request gets accept=original (the original's format) whatever its Accept, so
// the cache key says what was served and variants negotiated while the flag was on are never
// served while it is off. No store, no `auto_format` key (get() rejects a missing key), a
// value that is not a boolean or a failing read: the flag's declared default, never an error.
//
// Language: cloudfront-js-2.0 is ES 5.1 plus named ES6-12 features (const, let, arrow
// functions, template literals, async/await in named functions); no for-of, spread,
// destructuring or optional chaining, no require of Node modules, no timers; one import, of
// the runtime's own `cloudfront` module. Keep this file well under the 10 KB function limit.

// edgekit:settings (the component renders this one line at deploy time; keep it one line)
const SETTINGS = {"autoFormat": true, "avif": true, "autoFormatFlagDefault": true};
const FLAG = "auto_format";

// cf.kvs() throws when no KeyValueStore is associated with the function (a stack without
// flags): then the flag keeps its declared default.
let flags = null;
try {
  flags = cf.kvs();
} catch (e) {
  flags = null;
}

function first(param) {
  // A repeated parameter arrives as {value, multiValue: [{value}, ...]}: the first one counts.
  if (!param) return undefined;
  if (param.multiValue && param.multiValue.length) return param.multiValue[0].value;
  return param.value;
}

// The q-value the Accept header gives `type` ("image/avif"), 0 when absent or refused.
// Only explicit types count: "*/*" and "image/*" do not promise AVIF or WebP decoding.
function quality(accept, type) {
  const ranges = accept.split(",");
  let best = 0;
  for (let i = 0; i < ranges.length; i++) {
    const parts = ranges[i].split(";");
    if (parts[0].trim().toLowerCase() !== type) continue;
    let q = 1;
    for (let j = 1; j < parts.length; j++) {
      const pair = parts[j].split("=");
      if (pair.length === 2 && pair[0].trim().toLowerCase() === "q") {
        const parsed = parseFloat(pair[1].trim());
        q = isNaN(parsed) ? 0 : Math.max(0, Math.min(1, parsed));
      }
    }
    if (q > best) best = q;
  }
  return best;
}

function negotiate(accept, avif) {
  const avifQ = avif ? quality(accept, "image/avif") : 0;
  const webpQ = quality(accept, "image/webp");
  if (avifQ > 0 && avifQ >= webpQ) return "avif";
  if (webpQ > 0) return "webp";
  return "original";
}

// The auto_format flag: the store's boolean, else the declared default.
async function autoFormatFlag() {
  if (flags === null) return SETTINGS.autoFormatFlagDefault === true;
  try {
    const value = await flags.get(FLAG, {format: "json"});
    return typeof value === "boolean" ? value : SETTINGS.autoFormatFlagDefault === true;
  } catch (e) {
    return SETTINGS.autoFormatFlagDefault === true;
  }
}

async function handler(event) {
  const request = event.request;
  const query = request.querystring || {};
  request.querystring = query;
  delete query.accept;

  const dpr = first(query.dpr);
  if (dpr === "1") delete query.dpr;
  else if (dpr !== undefined) query.dpr = {value: dpr};

  const format = first(query.format);
  const negotiated = format === "auto" || (format === undefined && SETTINGS.autoFormat);
  if (!negotiated) {
    if (format !== undefined) query.format = {value: format};
    return request;
  }
  const header = request.headers && request.headers.accept;
  const accept = header ? String(first(header) || "") : "";
  const on = await autoFormatFlag();
  query.format = {value: "auto"};
  query.accept = {value: on ? negotiate(accept, SETTINGS.avif === true) : "original"};
  return request;
}
