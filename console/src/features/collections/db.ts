/**
 * What the collections screen keeps on the device (IndexedDB, through Dexie), so that it
 * works without a connection: the sheets last fetched, per user and date, and the queue of
 * collections waiting to be sent (see ./queue). No token is ever stored here.
 */
import Dexie, { liveQuery, type Table } from "dexie";

import type { components } from "@/api/schema";

import type { Collection, QueueStore } from "./queue";

export type Sheet = components["schemas"]["CollectionSheet"];
export type SavedSheet = { userId: string; date: string; sheet: Sheet; savedAt: string };

/** Sheets saved longer ago than this are dropped when another is saved: they hold borrowers'
 * names and phones, and an old day's sheet is of no use in the field. */
const KEEP_SHEETS_MS = 7 * 24 * 3600 * 1000;

class CollectionsDatabase extends Dexie {
  sheets!: Table<SavedSheet, [string, string]>;
  queue!: Table<Collection, string>;

  constructor() {
    super("kopa-collections");
    this.version(1).stores({ sheets: "[userId+date], savedAt", queue: "key, [userId+queuedAt]" });
  }
}

const db = new CollectionsDatabase();

function ofUser(userId: string) {
  return db.queue.where("[userId+queuedAt]").between([userId, Dexie.minKey], [userId, Dexie.maxKey]);
}

export const queueStore: QueueStore & {
  /** Calls `listener` with the user's queue now and after every change (in any tab). */
  watch(userId: string, listener: (collections: Collection[]) => void): () => void;
  /** The same for every user's collections on this device (shown before anyone signs in). */
  watchAll(listener: (collections: Collection[]) => void): () => void;
} = {
  list: (userId) => ofUser(userId).toArray(),
  put: async (collection) => {
    await db.queue.put(collection);
  },
  remove: (key) => db.queue.delete(key),
  watch(userId, listener) {
    const subscription = liveQuery(() => ofUser(userId).toArray()).subscribe({ next: listener });
    return () => subscription.unsubscribe();
  },
  watchAll(listener) {
    const subscription = liveQuery(() => db.queue.toArray()).subscribe({ next: listener });
    return () => subscription.unsubscribe();
  },
};

export async function saveSheet(saved: SavedSheet): Promise<void> {
  const cutoff = new Date(Date.now() - KEEP_SHEETS_MS).toISOString();
  await db.transaction("rw", db.sheets, async () => {
    await db.sheets.where("savedAt").below(cutoff).delete();
    await db.sheets.put(saved);
  });
}

export function loadSheet(userId: string, date: string): Promise<SavedSheet | undefined> {
  return db.sheets.get([userId, date]);
}
