/** An in-memory stand-in for the device's storage (./db), for tests: jsdom has no IndexedDB. */
import type { SavedSheet } from "./db";
import type { Collection, QueueStore } from "./queue";

export class MemoryQueue implements QueueStore {
  readonly collections = new Map<string, Collection>();
  private readonly listeners = new Set<() => void>();

  async list(userId: string): Promise<Collection[]> {
    return [...this.collections.values()]
      .filter((c) => c.userId === userId)
      .sort((a, b) => a.queuedAt.localeCompare(b.queuedAt));
  }

  async put(collection: Collection): Promise<void> {
    this.collections.set(collection.key, collection);
    this.listeners.forEach((l) => l());
  }

  async remove(key: string): Promise<void> {
    this.collections.delete(key);
    this.listeners.forEach((l) => l());
  }

  watch(userId: string, listener: (collections: Collection[]) => void): () => void {
    const changed = () => void this.list(userId).then(listener);
    this.listeners.add(changed);
    changed();
    return () => this.listeners.delete(changed);
  }
}

/** What ./db exports, in memory. */
export function memoryDevice() {
  const sheets = new Map<string, SavedSheet>();
  return {
    queueStore: new MemoryQueue(),
    saveSheet: async (saved: SavedSheet) => void sheets.set(`${saved.userId}|${saved.date}`, saved),
    loadSheet: async (userId: string, date: string) => sheets.get(`${userId}|${date}`),
  };
}
