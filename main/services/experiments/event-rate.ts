/**
 * A cap on how many events pass each second. The app's training stream forwards remote runs' events
 * as their agents send them, and an agent may send any number: each local run's own updates are
 * coalesced to 20 a second (host.ts), so a generous cap leaves honest agents whole and keeps a
 * flooding one from flooding the renderer (the events still reach `runs.get` and the stored run).
 */
export function eventsPerSecond(limit: number, now: () => number = Date.now): () => boolean {
  let windowStart = -Infinity;
  let passed = 0;
  return () => {
    const t = now();
    if (t - windowStart >= 1000) {
      windowStart = t;
      passed = 0;
    }
    return ++passed <= limit;
  };
}
