// fetch() for subrequests: Node's, minus the browser headers undici adds on its own.
//
// Node's fetch (undici) follows the browser part of the Fetch standard and adds
// `accept-language: *`, `sec-fetch-mode: cors` and `user-agent: node` to every request the
// Worker did not give them. workerd is a server runtime and adds none of these (a Worker's
// subrequest has no User-Agent unless it sets one:
// https://developers.cloudflare.com/workers/runtime-apis/fetch/ documents no defaults), so a
// Worker that strips a client's identity headers must not see an origin receive new ones.
// The shim removes exactly those three when the Worker's request did not carry them, on
// their way to the socket (an undici dispatcher), and leaves everything else to Node:
// redirects, `redirect: "manual"`, decompression, keep-alive pooling, AbortSignal.
//
// Not covered: `cf` request options (cacheTtl, cacheEverything, image resizing, ...; the
// twin has no Cloudflare cache between a Worker and its origin), and workerd's
// subrequest limits.

const ADDED_BY_NODE = ['accept-language', 'sec-fetch-mode', 'user-agent'];
const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

export function makeFetch(RequestClass) {
  let agent = null;

  async function nodeDispatcher() {
    if (agent === null) {
      await globalThis.fetch('data:,'); // Node creates its global dispatcher on first use
      agent = globalThis[GLOBAL_DISPATCHER];
    }
    return agent;
  }

  return async function fetch(input, init = undefined) {
    const request = new RequestClass(input, init);
    const unset = ADDED_BY_NODE.filter((name) => !request.headers.has(name));
    const base = await nodeDispatcher();
    if (!base || unset.length === 0) return globalThis.fetch(request);
    const dispatcher = {
      dispatch(options, handler) {
        if (options.headers && !Array.isArray(options.headers)) {
          const headers = { ...options.headers };
          for (const name of unset) delete headers[name];
          options = { ...options, headers };
        }
        return base.dispatch(options, handler);
      },
    };
    return globalThis.fetch(request, { dispatcher });
  };
}
