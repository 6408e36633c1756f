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
// Language: cloudfront-js-2.0 is ES 5.1 plus named ES6-12 features (const, let, arrow
// functions, template literals); no for-of, spread, destructuring or optional chaining, no
// require of Node modules, no timers. Keep this file well under the 10 KB function limit.

// edgekit:settings (the component renders this one line at deploy time; keep it one line)
const SETTINGS = {"autoFormat": true, "avif": true};

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

function handler(event) {
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
  query.format = {value: "auto"};
  query.accept = {value: negotiate(accept, SETTINGS.avif === true)};
  return request;
}
