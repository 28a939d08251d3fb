// Runs inside miniflare's workerd and does each KV or Cache API call the local edge host is asked
// for, on workerd's own KV and Cache API. The host (host.mjs) reaches it over plain keep-alive
// HTTP: miniflare's binding proxy and dispatchFetch both go through undici, which cost the host's
// Node ~2.5 ms of CPU a call against ~0.5 this way. Internal to the host, never the Worker's API.
//
//   GET|PUT|DELETE /kv?key=K[&ttl=S]        value as the body; 404 when absent
//   GET|PUT|DELETE /cache?url=U             the stored response's status and headers travel as
//                                           JSON in `x-binding-response`, apart from the HTTP
//                                           hop's own headers; a miss is a 404 without it
const META = "x-binding-response";

async function kv(request, store, params) {
  const key = params.get("key");
  if (request.method === "GET") {
    const value = await store.get(key);
    return value === null ? new Response(null, { status: 404 }) : new Response(value);
  }
  if (request.method === "PUT") {
    const ttl = params.get("ttl");
    await store.put(key, await request.text(), ttl ? { expirationTtl: Number(ttl) } : {});
    return new Response(null, { status: 204 });
  }
  if (request.method === "DELETE") {
    await store.delete(key);
    return new Response(null, { status: 204 });
  }
  return new Response(null, { status: 405 });
}

async function cache(request, store, params) {
  const url = params.get("url");
  if (request.method === "GET") {
    const found = await store.match(url);
    if (!found) return new Response(null, { status: 404 });
    const meta = JSON.stringify({ status: found.status, headers: [...found.headers] });
    return new Response(found.body, { headers: { [META]: meta } });
  }
  if (request.method === "PUT") {
    const { status, headers } = JSON.parse(request.headers.get(META));
    await store.put(url, new Response(await request.arrayBuffer(), { status, headers }));
    return new Response(null, { status: 204 });
  }
  if (request.method === "DELETE") {
    return Response.json({ deleted: await store.delete(url) });
  }
  return new Response(null, { status: 405 });
}

export default {
  async fetch(request, env) {
    const { pathname, searchParams } = new URL(request.url);
    if (pathname === "/kv") return kv(request, env.SEARCH_KV, searchParams);
    if (pathname === "/cache") return cache(request, caches.default, searchParams);
    return new Response(null, { status: 404 });
  },
};
