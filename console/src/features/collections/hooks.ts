/** The device's side of the screen: the live queue. */
import { useEffect, useState } from "react";

import { queueStore } from "./db";
import type { Collection } from "./queue";

/** The user's queued collections, updated on every change; undefined until first read. */
export function useQueue(userId: string): Collection[] | undefined {
  const [collections, setCollections] = useState<Collection[]>();
  useEffect(() => queueStore.watch(userId, setCollections), [userId]);
  return collections;
}

/** Every user's queued collections on this device. */
export function useAllQueued(): Collection[] | undefined {
  const [collections, setCollections] = useState<Collection[]>();
  useEffect(() => queueStore.watchAll(setCollections), []);
  return collections;
}
