import { useEffect, useState } from "react";

/** `value` once it has stopped changing for `delay` ms, so that typing sends one request rather
 * than one per key. Pass a primitive or a memoised object: a new object on every render would
 * restart the wait forever. */
export function useDebounced<T>(value: T, delay = 300): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), delay);
    return () => clearTimeout(timer);
  }, [value, delay]);
  return settled;
}
