// When to refresh the page as the projection lands new events (the `projection` events of
// /v1/live). The first event after a quiet spell refreshes at once: a fixed wait before every
// refresh only made the page later. A burst of batches must not keep the page (and the
// server) busy: one refresh at a time, one more if events came meanwhile, and each starting
// at least LIVE_GAP_MS after the last one started and LIVE_REST_MS after it ended.

export const LIVE_GAP_MS = 250;
export const LIVE_REST_MS = 100;

// `refresh` is async; the answer is the function to call on every event. `clock` and `later`
// stand in for performance.now and setTimeout in a test.
export function liveRefresher(refresh, options = {}) {
  const {
    gap = LIVE_GAP_MS,
    rest = LIVE_REST_MS,
    clock = () => performance.now(),
    later = setTimeout,
  } = options;
  let pending = false;
  let running = false;
  let again = false;
  let lastStart = -Infinity;
  let lastEnd = -Infinity;

  function soon() {
    if (running) {
      again = true;
      return;
    }
    if (pending) return;
    pending = true;
    const now = clock();
    const wait = Math.max(0, lastStart + gap - now, lastEnd + rest - now);
    later(async () => {
      pending = false;
      running = true;
      lastStart = clock();
      try {
        await refresh();
      } finally {
        running = false;
        lastEnd = clock();
        if (again) {
          again = false;
          soon();
        }
      }
    }, wait);
  }
  return soon;
}
