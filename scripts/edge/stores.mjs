// KV and the Cache API for the local host: workerd's own, started by miniflare and persisted
// under `persist`. The host reaches them through bindings_worker.js on its own loopback socket,
// over keep-alive node:http: miniflare's binding proxy and dispatchFetch both go through undici,
// ~2.5 ms of the host's CPU a call against ~0.5 this way, and past miniflare's entry Worker a
// call costs workerd ~25% less.
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { MAX_HEADER_BYTES } from "./loopback_fetch.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const META = "x-binding-response"; // bindings_worker.js

export async function startStores({ root, persist, kvNamespace, rateLimits }) {
  const { Miniflare } = await import(path.join(root, "node_modules/miniflare/dist/src/index.js"));
  const mf = new Miniflare({
    ratelimits: rateLimits,
    modules: true,
    scriptPath: path.join(HERE, "bindings_worker.js"),
    modulesRoot: HERE, // else relative to the cwd, which may be anywhere
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    kvNamespaces: [kvNamespace],
    kvPersist: path.join(persist, "kv"),
    cachePersist: path.join(persist, "cache"),
  });
  await mf.ready;
  const call = caller(await mf.unsafeGetDirectURL());
  const kv = {
    async get(key) {
      const reply = await call("GET", `/kv?key=${encodeURIComponent(key)}`);
      return reply.status === 404 ? null : reply.body.toString();
    },
    async put(key, value, ttl) {
      await call("PUT", `/kv?key=${encodeURIComponent(key)}` + (ttl ? `&ttl=${ttl}` : ""), { body: value });
    },
    async delete(key) {
      await call("DELETE", `/kv?key=${encodeURIComponent(key)}`);
    },
  };
  const cache = {
    async match(url) {
      const reply = await call("GET", `/cache?url=${encodeURIComponent(url)}`);
      if (reply.status === 404) return undefined;
      const { status, headers } = JSON.parse(reply.headers[META]);
      return new Response(reply.body, { status, headers });
    },
    async put(url, response) {
      const meta = JSON.stringify({ status: response.status, headers: [...response.headers] });
      const body = Buffer.from(await response.arrayBuffer());
      await call("PUT", `/cache?url=${encodeURIComponent(url)}`, { headers: { [META]: meta }, body });
    },
    async delete(url) {
      const reply = await call("DELETE", `/cache?url=${encodeURIComponent(url)}`);
      return JSON.parse(reply.body.toString()).deleted;
    },
  };
  return { mf, kv, cache };
}

// One call to bindings_worker.js; any answer but a success or a 404 (absent) is an error.
function caller(base) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  return (method, pathAndQuery, { headers = {}, body } = {}) => new Promise((resolve, reject) => {
    const options = { method, headers, agent, maxHeaderSize: MAX_HEADER_BYTES };
    const req = http.request(new URL(pathAndQuery, base), options, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => {
        const reply = { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) };
        if (reply.status >= 300 && reply.status !== 404) {
          reject(new Error(`${method} ${pathAndQuery} failed with ${reply.status}: ${reply.body}`));
        } else {
          resolve(reply);
        }
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}
