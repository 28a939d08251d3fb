// The shopper page: a form over GET /search on this same host (the edge or the origin), facets
// that narrow, "load more" by next_cursor, and a line saying what was understood (query.filters)
// and where the answer came from (X-Cache / X-Cache-Layer). Data only ever reaches the page
// through textContent: nothing the API returns is parsed as HTML.
"use strict";

(() => {
  const FORM_FIELDS = ["q", "body", "fuel", "price_max", "year_min", "make", "zip", "radius_mi", "sort"];
  const NAMES = {
    body: { suv: "SUV" },
    fuel: { plugin_hybrid: "plug-in hybrid" },
    drivetrain: { fwd: "FWD", rwd: "RWD", awd: "AWD", "4wd": "4WD" },
    transmission: { cvt: "CVT" },
  };
  const LAYERS = {
    kv: "edge KV",
    cache: "edge cache",
    origin: "origin",
    l1: "origin memory (L1)",
    redis: "origin Redis",
    database: "origin database",
  };
  const FACETS = [["body", "Body"], ["fuel", "Fuel"], ["make", "Make"], ["price", "Price"], ["year", "Year"]];
  const number = new Intl.NumberFormat("en-US");
  const $ = (id) => document.getElementById(id);
  const form = $("search");
  const list = $("results");
  const more = $("more");
  const status = $("status");
  const understoodLine = $("understood");
  const sourceLine = $("source");
  const facetsNav = $("facets");
  const active = $("active");

  const state = { params: new URLSearchParams(), cursor: null, seen: new Set(), controller: null };
  // For tests and the curious: what the page holds now.
  const view = (window.vsearchShopper = { results: [], response: null, source: null, searches: 0 });

  const money = (n) => "$" + number.format(n);
  const label = (name, value) => (NAMES[name] && NAMES[name][value]) || value;
  const titleCase = (slug) => slug.split("-").map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join("-");

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // ---- what was understood -------------------------------------------------------------------
  function range(min, max, low, high, both) {
    if (min !== undefined && max !== undefined) return both(min, max);
    if (max !== undefined) return high(max);
    if (min !== undefined) return low(min);
    return null;
  }

  function understood(query) {
    const f = query.filters || {};
    const parts = [];
    const names = (name, values, show) => values.map((v) => (show ? show(v) : label(name, v))).join(" or ");
    for (const name of ["body", "fuel", "drivetrain", "transmission", "color"]) {
      if (f[name]) parts.push(names(name, f[name]));
    }
    if (f.make) parts.push(names("make", f.make, titleCase));
    if (f.model) parts.push(names("model", f.model, titleCase));
    parts.push(
      range(f.price_min, f.price_max, (a) => `over ${money(a)}`, (b) => `under ${money(b)}`,
        (a, b) => `${money(a)} to ${money(b)}`),
      range(f.year_min, f.year_max, (a) => `${a} or newer`, (b) => `${b} or older`,
        (a, b) => (a === b ? String(a) : `${a} to ${b}`)),
      f.mileage_max !== undefined ? `under ${number.format(f.mileage_max)} miles` : null,
      f.zip ? `within ${f.radius_mi} mi of ${f.zip}` : null,
      f.dealer ? `at ${names("dealer", f.dealer)}` : null,
      query.embedded_text ? `matching “${query.embedded_text}”` : null,
    );
    const shown = parts.filter(Boolean);
    return "Understood: " + (shown.length ? shown.join(", ") : "any vehicle");
  }

  function source(response, ms) {
    const layer = response.headers.get("x-cache-layer") || "";
    const cache = response.headers.get("x-cache") || "";
    const where = LAYERS[layer] || layer || "unknown";
    const stale = cache === "STALE" ? ", stale while refreshing" : "";
    return { layer, cache, ms, text: `Answered by ${where} (${cache || "no cache header"}${stale}) in ${ms} ms` };
  }

  // ---- rendering ----------------------------------------------------------------------------
  function resultItem(v) {
    const item = el("li", "result");
    item.tabIndex = -1;
    Object.assign(item.dataset, { id: v.id, body: v.body, fuel: v.fuel, make: v.make, year: v.year, price: v.price });
    item.append(el("h3", "title", v.title));
    item.append(el("p", "price", money(v.price)));
    const facts = el("dl", "facts");
    for (const [term, value] of [
      ["Year", String(v.year)],
      ["Mileage", `${number.format(v.mileage)} mi`],
      ["Location", `${v.city}, ${v.state}`],
    ]) {
      facts.append(el("dt", null, term), el("dd", null, value));
    }
    item.append(facts);
    item.append(el("p", "kind", [label("body", v.body), label("fuel", v.fuel), label("drivetrain", v.drivetrain)].join(" · ")));
    return item;
  }

  function bandParams(facet, band) {
    // Price bands are [low, high) and year bands [low, high] (origin/db/vehicles.py).
    const [low, high] = band.split("-");
    const top = high === "" ? "" : facet === "price" ? String(Number(high) - 1) : high;
    return [[`${facet}_min`, low === "0" ? "" : low], [`${facet}_max`, top]];
  }

  function facetParams(facet, value) {
    return facet === "price" || facet === "year" ? bandParams(facet, value) : [[facet, value]];
  }

  function isActive(facet, value) {
    return facetParams(facet, value).every(([name, v]) => (state.params.get(name) || "") === v);
  }

  function facetLabel(facet, value) {
    if (facet === "make") return titleCase(value);
    if (facet === "price") {
      const [low, high] = value.split("-");
      return high === "" ? `${money(Number(low))}+` : `${money(Number(low))}–${money(Number(high))}`;
    }
    if (facet === "year") {
      const [low, high] = value.split("-");
      return low === "" ? `${high} or older` : high === "" ? `${low} or newer` : `${low}–${high}`;
    }
    return label(facet, value);
  }

  function renderFacets(facets) {
    const focused = document.activeElement && document.activeElement.closest ? document.activeElement.closest("#facets button") : null;
    const again = focused ? [focused.dataset.facet, focused.dataset.value] : null;
    facetsNav.replaceChildren(el("h2", null, `Narrow ${number.format(facets.total)} matches`));
    for (const [facet, heading] of FACETS) {
      const counts = facets[facet] || {};
      const values = Object.keys(counts);
      if (!values.length) continue;
      const group = el("div", "facet");
      const id = `facet-${facet}`;
      const title = el("h3", null, heading);
      title.id = id;
      const options = el("ul");
      options.setAttribute("aria-labelledby", id);
      for (const value of values) {
        const button = el("button", "facet-value");
        button.type = "button";
        Object.assign(button.dataset, { facet, value, count: counts[value] });
        button.setAttribute("aria-pressed", String(isActive(facet, value)));
        button.append(el("span", "name", facetLabel(facet, value)), el("span", "count", number.format(counts[value])));
        button.setAttribute("aria-label", `${heading}: ${facetLabel(facet, value)}, ${counts[value]} vehicles`);
        const row = el("li");
        row.append(button);
        options.append(row);
      }
      group.append(title, options);
      facetsNav.append(group);
    }
    if (again) {
      const same = facetsNav.querySelector(`button[data-facet="${again[0]}"][data-value="${CSS.escape(again[1])}"]`);
      (same || facetsNav.querySelector("button") || list).focus();
    }
  }

  function renderActive() {
    active.replaceChildren();
    for (const [name, value] of state.params) {
      if (name === "q" || name === "sort") continue;
      const chip = el("button", "chip", `${name.replace("_", " ")}: ${value} ×`);
      chip.type = "button";
      chip.dataset.param = name;
      chip.setAttribute("aria-label", `Remove filter ${name.replace("_", " ")} ${value}`);
      const row = el("li");
      row.append(chip);
      active.append(row);
    }
  }

  function render(body, answer, append) {
    if (!append) {
      list.replaceChildren();
      state.seen.clear();
      view.results = [];
      renderFacets(body.facets);
    }
    let first = null;
    for (const v of body.results) {
      if (state.seen.has(v.id)) continue;
      state.seen.add(v.id);
      view.results.push(v);
      const item = resultItem(v);
      first = first || item;
      list.append(item);
    }
    state.cursor = body.next_cursor;
    more.hidden = !body.next_cursor;
    const total = body.facets.total;
    status.textContent = total
      ? `${number.format(total)} vehicles match; showing ${number.format(view.results.length)}.`
      : "No vehicles match. Try fewer filters.";
    understoodLine.textContent = understood(body.query);
    sourceLine.textContent = answer.text;
    understoodLine.hidden = sourceLine.hidden = false;
    Object.assign(view, { response: body, source: answer });
    if (append && first) first.focus();
  }

  // ---- searching ----------------------------------------------------------------------------
  async function run(append) {
    if (state.controller) state.controller.abort();
    const controller = (state.controller = new AbortController());
    const params = new URLSearchParams(state.params);
    if (append && state.cursor) params.set("cursor", state.cursor);
    status.textContent = append ? "Loading more…" : "Searching…";
    form.setAttribute("aria-busy", "true");
    const started = performance.now();
    try {
      // no-cache: always ask the edge (or origin), so the line below says truly where it came from.
      const response = await fetch(`/search?${params}`, {
        headers: { accept: "application/json" },
        cache: "no-cache",
        signal: controller.signal,
      });
      const body = await response.json();
      const ms = Math.round(performance.now() - started);
      if (!response.ok) {
        const error = body.error || {};
        status.textContent = `Search failed: ${error.message || response.status}`;
        if (error.field && $(error.field)) $(error.field).setAttribute("aria-invalid", "true");
        return;
      }
      view.searches += 1;
      render(body, source(response, ms), append);
    } catch (error) {
      if (error.name !== "AbortError") status.textContent = "Search failed: the service did not answer. Try again.";
    } finally {
      if (state.controller === controller) {
        state.controller = null;
        form.removeAttribute("aria-busy");
      }
    }
  }

  function search() {
    renderActive();
    history.replaceState(null, "", state.params.size ? `?${state.params}` : location.pathname);
    run(false);
  }

  function fillForm() {
    for (const name of FORM_FIELDS) {
      form.elements[name].value = state.params.get(name) || "";
      form.elements[name].removeAttribute("aria-invalid");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    for (const name of FORM_FIELDS) {
      const value = form.elements[name].value.trim();
      if (value) state.params.set(name, value);
      else state.params.delete(name);
      form.elements[name].removeAttribute("aria-invalid");
    }
    if (!state.params.get("zip")) state.params.delete("radius_mi");
    search();
  });
  // Choosing from a list searches at once; typed fields wait for Enter or the button.
  for (const name of ["body", "fuel", "radius_mi", "sort"]) {
    form.elements[name].addEventListener("change", () => form.requestSubmit());
  }

  facetsNav.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-facet]");
    if (!button) return;
    const { facet, value } = button.dataset;
    const on = isActive(facet, value);
    for (const [name, v] of facetParams(facet, value)) {
      if (on || !v) state.params.delete(name);
      else state.params.set(name, v);
    }
    fillForm();
    search();
  });

  active.addEventListener("click", (event) => {
    const chip = event.target.closest("button[data-param]");
    if (!chip) return;
    state.params.delete(chip.dataset.param);
    if (chip.dataset.param === "zip") state.params.delete("radius_mi");
    fillForm();
    search();
    $("q").focus();
  });

  more.addEventListener("click", () => run(true));

  // A shared or reloaded address (/?q=...) searches at once.
  for (const [name, value] of new URLSearchParams(location.search)) state.params.set(name, value);
  if (state.params.size) {
    fillForm();
    search();
  }
})();
