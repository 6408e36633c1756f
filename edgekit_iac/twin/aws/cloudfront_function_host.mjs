// The twin's CloudFront Functions runtime: one long-lived Node process, JSON lines on
// stdin/stdout, no sockets. Each function's code runs in its own vm context holding nothing
// but the language itself (no require, process, timers or network), as cloudfront-js-2.0
// offers none of them; each invocation is bounded by a vm timeout.
//
// In:  {"key": "<sha256 of code>", "code": "<only the first time>", "event": {...}}
// Out: {"result": <request or response object>} | {"error": "...", "type": "execution|unknown-code"}
import { createInterface } from "node:readline";
import vm from "node:vm";

const RUN_TIMEOUT_MS = Number(process.env.EDGEKIT_CF_FUNCTION_TIMEOUT_MS || 1000);
const MAX_FUNCTIONS = 64;
const contexts = new Map();

function load(key, code) {
  const logs = [];
  const context = vm.createContext({ console: { log: (...parts) => logs.push(parts.join(" ")) } });
  new vm.Script(code, { filename: `cloudfront-function-${key.slice(0, 12)}.js` })
    .runInContext(context, { timeout: RUN_TIMEOUT_MS });
  if (typeof context.handler !== "function") throw new Error("the code defines no function handler(event)");
  if (contexts.size >= MAX_FUNCTIONS) contexts.delete(contexts.keys().next().value);
  contexts.set(key, { context, logs });
}

async function invoke(message) {
  if (message.code !== undefined) load(message.key, message.code);
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
