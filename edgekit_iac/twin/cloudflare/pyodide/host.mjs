// The Node process that holds one Worker's isolate, driven by edgekit over stdin/stdout.
//
// Frames both ways: u32 (big-endian) length of the rest, u32 length of a JSON header, the
// header, then raw body bytes. Requests run concurrently (as in an isolate: they
// interleave at awaits); answers carry the request's id. Logs go to stderr as JSON lines.
//
//   -> {op: "load", id, mainModule, bindings, compatFlags, stateDir, scriptName}
//        body: JSON {path: base64} of the bundle's files
//   <- {id, ok, pyodide, python, startupMs, durableClasses, notes} | {id, ok: false, error}
//   -> {op: "fetch", id, method, url, headers: [[name, value]], cf, now (epoch ms)}  body
//   <- {id, ok, status, statusText, headers, error, backgroundErrors, workerMs}  body
//   -> {op: "reset", id, bindings}   (tests: empty caches, new bindings)
//   -> {op: "run", id, code}         only when started with --allow-run (tests): run Python
//        code in the Worker's interpreter (or a bare Pyodide when no Worker is loaded) and
//        answer {result} (the value of the last expression, as a string)

import { WorkerIsolate } from './isolate.mjs';

import path from 'node:path';
import { pathToFileURL } from 'node:url';

// --packages=DIR: the folder whose node_modules/ holds pyodide (npm ci ran there).
const allowRun = process.argv.includes('--allow-run');
const packagesArg = process.argv.find((a) => a.startsWith('--packages='));
const modulesDir = packagesArg ? packagesArg.slice('--packages='.length) : path.dirname(new URL(import.meta.url).pathname);
let isolate = null;

function log(level, message) {
  process.stderr.write(`${JSON.stringify({ level, message })}\n`);
}
console.log = (...parts) => log('info', parts.join(' ')); // stdout is the protocol's alone
console.info = console.log;

function send(header, body = null) {
  const head = Buffer.from(JSON.stringify(header), 'utf8');
  const bodyBytes = body ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : Buffer.alloc(0);
  const prefix = Buffer.alloc(8);
  prefix.writeUInt32BE(4 + head.length + bodyBytes.length, 0);
  prefix.writeUInt32BE(head.length, 4);
  process.stdout.write(Buffer.concat([prefix, head, bodyBytes]));
}

async function handle(header, body) {
  const { op, id } = header;
  try {
    if (op === 'load') {
      const started = performance.now();
      const files = JSON.parse(body.toString('utf8'));
      const bundle = Object.fromEntries(Object.entries(files).map(([p, b64]) => [p, Buffer.from(b64, 'base64')]));
      isolate = await WorkerIsolate.start({ ...header, modulesDir, bundle, log });
      send({
        id, ok: true, pyodide: isolate.pyodideVersion, startupMs: performance.now() - started,
        durableClasses: isolate.durableClasses, notes: isolate.notes,
      });
    } else if (op === 'fetch') {
      if (!isolate) throw new Error('no Worker loaded');
      const result = await isolate.fetch({ ...header, body });
      const { body: payload, ...rest } = result;
      send({ id, ok: true, ...rest }, payload);
    } else if (op === 'reset') {
      if (!isolate) throw new Error('no Worker loaded');
      isolate.reset(header.bindings);
      send({ id, ok: true, notes: isolate.notes });
    } else if (op === 'purge') {
      send({ id, ok: true, removed: isolate ? isolate.caches.purgePrefixes(header.prefixes) : 0 });
    } else if (op === 'run' && allowRun) {
      const result = isolate ? await isolate.runPython(header.code) : await runPython(header.code);
      send({ id, ok: true, result });
    } else {
      throw new Error(`unknown op ${JSON.stringify(op)}`);
    }
  } catch (exc) {
    log('error', `${op} failed: ${exc?.stack ?? exc}`);
    send({ id, ok: false, error: String(exc?.message ?? exc) });
  }
}

let bare = null;
async function runPython(code) {
  if (!bare) {
    const { loadPyodide } = await import(pathToFileURL(path.join(modulesDir, 'node_modules', 'pyodide', 'pyodide.mjs')).href);
    bare = await loadPyodide({ stdout: (l) => log('info', l), stderr: (l) => log('warn', l) });
  }
  const value = await bare.runPythonAsync(code);
  const text = value === undefined ? null : String(value);
  if (value && typeof value.destroy === 'function') value.destroy();
  return text;
}

let pending = Buffer.alloc(0);
process.stdin.on('data', (chunk) => {
  pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
  while (pending.length >= 8) {
    const length = pending.readUInt32BE(0);
    if (pending.length < 4 + length) break;
    const headLength = pending.readUInt32BE(4);
    const header = JSON.parse(pending.toString('utf8', 8, 8 + headLength));
    const body = pending.subarray(8 + headLength, 4 + length);
    pending = pending.subarray(4 + length);
    handle(header, Buffer.from(body));
  }
});
process.stdin.on('end', () => process.exit(0));
