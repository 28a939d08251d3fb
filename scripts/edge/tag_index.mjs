// Which cached keys carry which tags: miniflare cannot purge by tag, so the local host remembers
// what it stored. Kept as a journal, one line per store ({key, tags}) or purge ({purged}),
// appended as it happens (a crash loses no line; rewriting the whole index every 200 ms cost ~7%
// of the host's CPU through a spike), replayed and compacted at start.
import fs from "node:fs";
import path from "node:path";

export class TagIndex {
  #journal;
  #tagsOfKey = new Map(); // key -> Set of tags
  #keysOfTag = new Map(); // tag -> Set of keys
  #storedAt = new Map(); // key -> the store counter of its last store
  #stores = 0;

  constructor(persist) {
    this.#journal = path.join(persist, "tag-index.jsonl");
    if (fs.existsSync(this.#journal)) {
      for (const line of fs.readFileSync(this.#journal, "utf8").split("\n")) {
        let entry;
        try { entry = JSON.parse(line); } catch { continue; } // empty, or torn by a crash mid-write
        if (entry.purged) this.#forget(entry.purged);
        else this.#remember(entry.key, entry.tags);
      }
    }
    const legacy = path.join(persist, "tag-index.json"); // before the journal: {tag: [keys]}
    if (fs.existsSync(legacy)) {
      for (const [tag, keys] of Object.entries(JSON.parse(fs.readFileSync(legacy, "utf8")))) {
        for (const key of keys) this.#remember(key, [tag]);
      }
    }
    const compacted = [...this.#tagsOfKey].map(([key, tags]) => JSON.stringify({ key, tags: [...tags] }) + "\n");
    fs.writeFileSync(this.#journal + ".tmp", compacted.join(""));
    fs.renameSync(this.#journal + ".tmp", this.#journal);
    fs.rmSync(legacy, { force: true });
  }

  /** Record a store of `key` under `tags`. */
  add(key, tags) {
    this.#remember(key, tags);
    fs.appendFileSync(this.#journal, JSON.stringify({ key, tags }) + "\n");
  }

  /** Delete every key under `tags` (and `keys`) with `deleteKey`; the keys it found. */
  async purge({ tags = [], keys = [] }, deleteKey) {
    const since = this.#stores;
    const doomed = new Set(keys);
    for (const tag of tags) for (const key of this.#keysOfTag.get(tag) ?? []) doomed.add(key);
    // Concurrently, like the one purge-by-tag call and the bulk KV delete production makes: one
    // key after another, 300 keys took ~2 s, and a coarse tag can hold a thousand.
    await Promise.all([...doomed].map(deleteKey));
    // Only after the deletes (a failed one is retried by tag, so its keys must stay findable), and
    // not a key stored again meanwhile: that copy is live and needs its tags.
    const forgotten = [...doomed].filter((key) => (this.#storedAt.get(key) ?? -1) < since);
    this.#forget(forgotten);
    fs.appendFileSync(this.#journal, JSON.stringify({ purged: forgotten }) + "\n");
    return [...doomed];
  }

  #remember(key, tags) {
    if (!this.#tagsOfKey.has(key)) this.#tagsOfKey.set(key, new Set());
    for (const tag of tags) {
      this.#tagsOfKey.get(key).add(tag);
      if (!this.#keysOfTag.has(tag)) this.#keysOfTag.set(tag, new Set());
      this.#keysOfTag.get(tag).add(key);
    }
    this.#storedAt.set(key, this.#stores++);
  }

  #forget(keys) {
    for (const key of keys) {
      for (const tag of this.#tagsOfKey.get(key) ?? []) {
        const keysOfThisTag = this.#keysOfTag.get(tag);
        keysOfThisTag.delete(key);
        if (keysOfThisTag.size === 0) this.#keysOfTag.delete(tag);
      }
      this.#tagsOfKey.delete(key);
      this.#storedAt.delete(key);
    }
  }
}
