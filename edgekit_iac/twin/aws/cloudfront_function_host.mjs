// The twin's CloudFront Functions runtime: one long-lived Node process, JSON lines on
// stdin/stdout, no sockets. Each function's code runs in its own vm context holding nothing
// but the language itself (no require, process, timers or network), as cloudfront-js-2.0
// offers none of them; each invocation is bounded by a vm timeout (its synchronous part: an
// async handler that never settles is caught by the Python side's reply timeout).
//
// The one module cloudfront-js-2.0 lets code import is its own `cloudfront`: a line
// `import cf from 'cloudfront';` becomes a binding to the module below (any other import is
// refused at load). Its `kvs()` is the KeyValueStore associated with the function, read from
// the twin's store file (edgekit_iac/twin/flag_stores.py) on every call, so a change
// `edgekit flags set --stack local` writes is seen by the next request. As AWS documents
// ("Helper methods for key value stores"): kvs() throws when no store is associated (or, given
// an id, when it is not the associated store's); get(key, {format: "string"|"json"|"bytes"})
// resolves to the value and rejects when the key does not exist; exists(key) resolves to a
// boolean; meta() to {creationDateTime, lastUpdatedDateTime, keyCount}.
//
// In:  {"key": "<sha256 of code and store>", "code": "<only the first time>",
//       "kvs": {"id": "<store id>", "file": "<store file or null>"} | null, "event": {...}}
// Out: {"result": <request or response object>} | {"error": "...", "type": "execution|unknown-code"}
import { readFileSync, statSync } from "node:fs";
import { createInterface } from "node:readline";
import vm from "node:vm";

const RUN_TIMEOUT_MS = Number(process.env.EDGEKIT_CF_FUNCTION_TIMEOUT_MS || 1000);
const MAX_FUNCTIONS = 64;
const contexts = new Map();

// The `cloudfront` module, built inside the function's context so that what it returns
// (promises, errors, objects) is of the function's realm. `read` is the only way out: it
// answers JSON text, never throws, and is reachable only through this closure.
const CLOUDFRONT_MODULE = `(function (associated, read) {
  function call(op, key) {
    var reply = JSON.parse(read(op, key));
    if (reply.error !== undefined) throw new Error("KeyValueStore read failed: " + reply.error);
    return reply;
  }
  function bytes(text) {
    var raw = unescape(encodeURIComponent(text)), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  var handle = {
    get: async function get(key, options) {
      var format = options && options.format !== undefined ? options.format : "string";
      if (format !== "string" && format !== "json" && format !== "bytes") {
        throw new TypeError("format must be string, json or bytes, got " + format);
      }
      var reply = call("get", String(key));
      if (reply.missing) throw new Error("Key " + key + " does not exist in the KeyValueStore");
      if (format === "json") return JSON.parse(reply.value);
      return format === "bytes" ? bytes(reply.value) : reply.value;
    },
    exists: async function exists(key) { return !call("get", String(key)).missing; },
    meta: async function meta() { return call("meta", ""); },
  };
  return {
    kvs: function kvs(id) {
      if (associated === null) throw new Error("No KeyValueStore is associated with this function");
      if (id !== undefined && id !== associated) {
        throw new Error("KeyValueStore " + id + " is not associated with this function");
      }
      return handle;
    },
  };
})`;

// A store file as flag_stores.py writes it: {"etag": ..., "items": {key: value}}; none yet
// is an empty store. Answers JSON text for the module above.
function storeReader(file) {
  return (op, key) => {
    try {
      const items = file ? storeItems(file) : {};
      if (op === "meta") {
        const stat = file ? statSync(file, { throwIfNoEntry: false }) : undefined;
        const when = (date) => (date || new Date(0)).toISOString();
        return JSON.stringify({ creationDateTime: when(stat && stat.birthtime),
                                lastUpdatedDateTime: when(stat && stat.mtime),
                                keyCount: Object.keys(items).length });
      }
      return JSON.stringify(Object.hasOwn(items, key) ? { value: String(items[key]) } : { missing: true });
    } catch (error) {
      return JSON.stringify({ error: String(error && error.message) });
    }
  };
}

function storeItems(file) {
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if (error.code === "ENOENT") return {};
    throw error;
  }
  return JSON.parse(text).items || {};
}

const IMPORT = /^[ \t]*import[ \t]+([A-Za-z_$][\w$]*)[ \t]+from[ \t]+(['"])([^'"]*)\2[ \t]*;?[ \t]*$/gm;

// `import cf from 'cloudfront';` -> a binding to the context's module, on the same line.
function linkImports(code) {
  return code.replace(IMPORT, (_line, name, _quote, module) => {
    if (module !== "cloudfront") {
      throw new Error(`import from '${module}': the twin's CloudFront Functions runtime provides the 'cloudfront' module only`);
    }
    return `const ${name} = __edgekitCloudfront;`;
  });
}

function load(key, code, kvs) {
  const logs = [];
  const context = vm.createContext({ console: { log: (...parts) => logs.push(parts.join(" ")) } });
  const factory = vm.runInContext(CLOUDFRONT_MODULE, context);
  context.__edgekitCloudfront = factory(kvs ? String(kvs.id) : null, storeReader(kvs && kvs.file));
  new vm.Script(linkImports(code), { filename: `cloudfront-function-${key.slice(0, 12)}.js` })
    .runInContext(context, { timeout: RUN_TIMEOUT_MS });
  if (typeof context.handler !== "function") throw new Error("the code defines no function handler(event)");
  if (contexts.size >= MAX_FUNCTIONS) contexts.delete(contexts.keys().next().value);
  contexts.set(key, { context, logs });
}

async function invoke(message) {
  if (message.code !== undefined) load(message.key, message.code, message.kvs || null);
  const entry = contexts.get(message.key);
  if (!entry) return { error: "code not loaded", type: "unknown-code" };
  entry.context.__edgekitEvent = JSON.stringify(message.event);
  // The event is built inside the context, so the function sees its own realm's objects.
  const result = await vm.runInContext("handler(JSON.parse(__edgekitEvent))", entry.context,
                                       { timeout: RUN_TIMEOUT_MS });
  const logs = entry.logs.splice(0);
  if (result === undefined || result === null || typeof result !== "object") {
    return { error: `handler returned ${result === null ? "null" : typeof result}, not a request or response object`, type: "validation", logs };
  }
  return { result: JSON.parse(JSON.stringify(result)), logs };
}

// One line at a time, in order: the Python side waits for each answer before the next.
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
let queue = Promise.resolve();
lines.on("line", (line) => {
  queue = queue.then(async () => {
    let reply;
    try {
      reply = await invoke(JSON.parse(line));
    } catch (error) {
      // Errors from the function's context are of its realm: read their fields, not instanceof.
      const described = error && error.message !== undefined
        ? `${error.name || "Error"}: ${error.message}` : String(error);
      reply = { error: described, stack: error && error.stack, type: "execution" };
    }
    process.stdout.write(JSON.stringify(reply) + "\n");
  });
});
lines.on("close", () => process.exit(0));
