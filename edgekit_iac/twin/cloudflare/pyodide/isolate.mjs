// One Python Worker in one warm Pyodide isolate: load its bundle, serve its requests.
//
// The bundle is what the Pulumi program uploads (main module, its siblings, and the
// vendored packages under python_modules/, including Cloudflare's `workers` SDK, which
// Python Workers vendor since enable_python_external_sdk, 2026-04-21). It is written to
// /session/metadata in Pyodide's file system, as on Cloudflare, with python_modules/ on
// sys.path. The SDK's two runtime modules come from here: `_pyodide_entrypoint_helper`
// (the JS import hook, the `cloudflare:workers` module and patchWaitUntil) and
// `_cloudflare_compat_flags` (the flags the compatibility date turns on, computed by the
// caller). Everything else a Worker reaches is in shim/.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CacheStorage } from './shim/cache.mjs';
import { ExecutionContext, buildEnv } from './shim/bindings.mjs';
import { DurableObjectNamespace } from './shim/durable.mjs';
import { IsolateClock, makeJsGlobals } from './shim/globals.mjs';
import { makeResponseClass } from './shim/response.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUNDLE_ROOT = '/session/metadata';
const ENTRY_DIR = '/session/edgekit';
const ENTRY_MODULE = '_edgekit_isolate_entry';

export class WorkerIsolate {
  static async start({ modulesDir = HERE, bundle, mainModule, bindings, compatFlags, stateDir, scriptName, log }) {
    const isolate = new WorkerIsolate();
    await isolate.#start({ modulesDir, bundle, mainModule, bindings, compatFlags, stateDir, scriptName, log });
    return isolate;
  }

  clock = new IsolateClock();
  caches = null;
  notes = [];
  #py;
  #entry;
  #env;
  #log;
  #options;

  async #start({ modulesDir, bundle, mainModule, bindings, compatFlags, stateDir, scriptName, log }) {
    this.#log = log;
    this.#options = { stateDir, scriptName };
    this.Response = makeResponseClass();
    this.caches = new CacheStorage(() => this.clock.now(), this.Response);
    const jsGlobals = makeJsGlobals({ clock: this.clock, caches: this.caches, log, Response: this.Response });
    this.Request = jsGlobals.Request;

    const { loadPyodide } = await import(pathToFileURL(path.join(modulesDir, 'node_modules', 'pyodide', 'pyodide.mjs')).href);
    this.#py = await loadPyodide({
      jsglobals: jsGlobals,
      stdout: (line) => log('info', line),
      stderr: (line) => log('warn', line),
    });
    const py = this.#py;
    for (const [file, data] of Object.entries(bundle)) {
      const target = path.posix.join(BUNDLE_ROOT, file);
      if (!target.startsWith(`${BUNDLE_ROOT}/`)) throw new Error(`bundle path escapes the bundle: ${file}`);
      py.FS.mkdirTree(path.posix.dirname(target));
      py.FS.writeFile(target, data);
    }
    py.FS.mkdirTree(ENTRY_DIR);
    py.FS.writeFile(`${ENTRY_DIR}/${ENTRY_MODULE}.py`, fs.readFileSync(path.join(HERE, 'entry.py')));

    const workersModule = { env: null, waitUntil: (p) => this.#loose.waitUntil(p) };
    py.registerJsModule('_pyodide_entrypoint_helper', {
      cloudflareWorkersModule: workersModule,
      cloudflareSocketsModule: {
        connect() {
          throw new Error('TCP sockets (cloudflare:sockets connect) are not emulated by the twin');
        },
      },
      doAnImport: async (name) => {
        if (name === 'cloudflare:workers') return workersModule;
        throw new Error(`the twin's isolate cannot import the JavaScript module ${JSON.stringify(name)}`);
      },
      patchWaitUntil: () => {}, // ExecutionContext.waitUntil takes Python awaitables itself
      workerEntrypoint: class WorkerEntrypoint {},
    });
    py.registerJsModule('_cloudflare_compat_flags', { ...compatFlags });
    py.runPython(`
import sys
sys.path[:0] = [${JSON.stringify(BUNDLE_ROOT)}, ${JSON.stringify(ENTRY_DIR)}]
sys.path.append(${JSON.stringify(`${BUNDLE_ROOT}/python_modules`)})
`);
    this.#entry = py.pyimport(ENTRY_MODULE);
    this.#buildEnv(bindings);
    workersModule.env = this.#env;
    if (!mainModule.endsWith('.py')) throw new Error(`main module ${mainModule} must be a .py file`);
    const classes = this.#entry.load(mainModule.slice(0, -3).replaceAll('/', '.'), this.#env);
    this.durableClasses = classes.toJs();
    classes.destroy();
  }

  #loose = new ExecutionContext(); // module-level `workers.wait_until`

  #buildEnv(bindings) {
    const { stateDir, scriptName } = this.#options;
    const hooks = {
      Request: this.Request,
      newObject: (className, state) => this.#entry.new_object(className, state),
      objectFetch: (instance, request) => this.#entry.object_fetch(instance, request),
    };
    const { env, notes } = buildEnv(bindings, {
      clock: this.clock,
      stateDir,
      durable: (binding) => {
        const className = binding.className || binding.class_name;
        const other = binding.scriptName || binding.script_name;
        if (other && other !== scriptName) {
          return { note: `binding ${binding.name}: Durable Objects of another script (${other}) are not emulated` };
        }
        return { namespace: new DurableObjectNamespace({ className, scriptName, stateDir, hooks }) };
      },
    });
    this.#env = env;
    this.notes = notes;
  }

  // For tests: empty caches and new bindings, same warm interpreter and modules.
  reset(bindings) {
    this.caches.clear();
    this.#buildEnv(bindings);
    this.#entry.set_env(this.#env);
  }

  // Diagnostics and tests (the host allows it only with --allow-run): Python code run in
  // the Worker's own interpreter; the last expression's value as a string.
  async runPython(code) {
    const value = await this.#py.runPythonAsync(code);
    const text = value === undefined ? null : String(value);
    if (value && typeof value.destroy === 'function') value.destroy();
    return text;
  }

  get pyodideVersion() {
    return this.#py.version;
  }

  // One request through Default.fetch and everything it passed to ctx.waitUntil.
  async fetch({ method, url, headers, body, cf, now, timeoutMs }) {
    this.clock.set(now);
    const init = { method, headers, cf: cf ?? undefined };
    if (body && body.length && method !== 'GET' && method !== 'HEAD') init.body = body;
    const started = performance.now();
    const ctx = new ExecutionContext();
    let response;
    let error = null;
    try {
      const timeout = typeof timeoutMs === 'number' ? timeoutMs / 1000 : undefined;
      response = await this.#entry.fetch(ctx, new this.Request(url, init), timeout);
      if (!(response instanceof Response)) throw new TypeError('fetch() did not return a Response');
    } catch (exc) {
      error = String(exc?.message ?? exc);
      const timedOut = exc?.type === 'WorkerTimeout';
      this.#log('error', `Worker ${timedOut ? 'timed out' : 'threw'} on ${method} ${url}: ${error}`);
      response = timedOut
        ? new this.Response('the Worker did not answer in time', { status: 504, headers: { 'content-type': 'text/plain' } })
        : new this.Response('Worker threw exception', {
          status: 500, statusText: 'Internal Server Error', headers: { 'content-type': 'text/plain;charset=UTF-8' },
        });
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    const headersOut = [...response.headers];
    // A HEAD answer carries the length GET would send (RFC 9110 section 9.3.2), not the body.
    if (method === 'HEAD' && bytes.length && !response.headers.has('content-length')) {
      headersOut.push(['content-length', String(bytes.length)]);
    }
    const payload = method === 'HEAD' ? null : bytes;
    const workerMs = performance.now() - started;
    const backgroundErrors = await ctx.settle();
    for (const message of backgroundErrors) this.#log('error', `waitUntil task failed: ${message}`);
    return {
      status: response.status,
      statusText: response.statusText,
      headers: headersOut,
      body: payload,
      error,
      backgroundErrors,
      workerMs,
    };
  }
}
