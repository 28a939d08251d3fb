// The Worker's origin calls under the local host. workerd's fetch is native; Node's is undici,
// which cost the host ~2.5 ms of CPU a call. Plain http: GETs (the origin calls) go through
// node:http with keep-alive instead, resolving with a standard Response once the body is in and
// honouring the AbortSignal; anything else is left to `fallback` (undici's fetch).
import http from "node:http";

const EMPTY_STATUSES = new Set([101, 204, 205, 304]);
// Node's default of 16 KB for all of a response's headers is less than one Cache-Tag header may
// be (16 KB, edge_worker/edge_cache.py); workerd takes far more.
export const MAX_HEADER_BYTES = 64 * 1024;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export function loopbackFetch(fallback) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  return function fetch(resource, init = {}) {
    const plainGet = typeof resource === "string" && resource.startsWith("http://")
      && (init.method ?? "GET") === "GET" && init.body == null;
    if (!plainGet) return fallback(resource, init);
    const { signal } = init;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const headers = init.headers instanceof Headers ? Object.fromEntries(init.headers) : init.headers;
      const req = http.request(resource, { headers, agent, maxHeaderSize: MAX_HEADER_BYTES }, (res) => {
        if (REDIRECTS.has(res.statusCode) && (init.redirect ?? "follow") === "follow") {
          // fetch follows redirects; rare on this path, so undici does it.
          res.resume();
          signal?.removeEventListener("abort", abort);
          resolve(fallback(resource, init));
          return;
        }
        const chunks = [];
        res.on("data", (chunk) => chunks.push(chunk));
        res.on("end", () => {
          signal?.removeEventListener("abort", abort);
          const pairs = [];
          for (let i = 0; i < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i], res.rawHeaders[i + 1]]);
          const body = EMPTY_STATUSES.has(res.statusCode) ? null : Buffer.concat(chunks);
          resolve(new Response(body, { status: res.statusCode, statusText: res.statusMessage, headers: pairs }));
        });
        res.on("error", fail);
      });
      function fail(error) {
        signal?.removeEventListener("abort", abort);
        reject(new TypeError("fetch failed", { cause: error }));
      }
      function abort() {
        req.destroy();
        reject(signal.reason);
      }
      signal?.addEventListener("abort", abort, { once: true });
      req.on("error", (error) => (signal?.aborted ? undefined : fail(error)));
      req.end();
    });
  };
}
