/**
 * One redraw scheduler for every chart on the page. Charts ask for a redraw when their data
 * moves, each with its own redraw budget (`minInterval`): the loss chart may move ~10 times a
 * second, statistics charts and heatmaps twice (a record every few batches is far more often than
 * anyone reads them). A request that comes sooner waits, pending, until the chart is due, and then
 * draws the latest data once: however many updates arrived meanwhile, only intermediate frames
 * are skipped.
 *
 * Two limits keep drawing off the main thread's critical path:
 * - per frame, at most ~6 ms of drawing: each chart's last draw time predicts its next, and a
 *   chart that would overrun the frame's budget waits for the next frame (a frame always draws at
 *   least one). Canvas rasterising and the commit come on top, hence well under 16.7 ms;
 * - per second, at most DUTY of the main thread: on a slow or loaded machine every chart's
 *   interval stretches by the same factor (see `intervalOf`), instead of charts taking the thread.
 */
type Draw = () => void;

const FRAME_BUDGET_MS = 6;
/**
 * The share of the main thread all charts together may spend drawing (their JS; rasterising and
 * compositing what they drew come on top, roughly in proportion). When the charts' wished rates
 * cost more than this, every chart slows down by the same factor.
 */
const DUTY = 0.1;
/** A chart that has not asked for a redraw for this long no longer takes a share. */
const ACTIVE_MS = 2000;
const pending = new Set<Draw>();
interface Entry {
  /** Recent draw time (ms, smoothed): predicts whether it fits what is left of a frame. */
  cost: number | undefined;
  /** The redraw budget: at least this many ms between two draws. */
  gap: number;
  /** When it last drew and last asked (performance.now()). */
  drawnAt: number;
  askedAt: number;
}
const entries = new Map<Draw, Entry>();
let frame = 0;
let timer: ReturnType<typeof setTimeout> | null = null;

/** Counters for the UI bench (bench/ui-stream.ts reads them from the page): draws and their time. */
export const drawStats = { rounds: 0, draws: 0, ms: 0 };
if (typeof globalThis !== 'undefined') (globalThis as { __layerbenchDraws?: typeof drawStats }).__layerbenchDraws = drawStats;

/**
 * A chart's interval: its budget, or longer when the active charts' wished rates (1000/gap each)
 * cost more than DUTY of the main thread. Each chart then gets a share of DUTY in proportion to
 * its wished rate, so the loss chart (~10/s) stays ahead of the statistics charts (~2/s).
 */
function intervalOf(entry: Entry, now: number): number {
  if (entry.cost === undefined) return entry.gap;
  let wished = 0;
  for (const e of entries.values()) if (now - e.askedAt < ACTIVE_MS) wished += 1000 / Math.max(e.gap, 16);
  const rate = 1000 / Math.max(entry.gap, 16);
  return Math.max(entry.gap, (entry.cost * wished) / (DUTY * rate));
}

/** ms until the chart may draw again (≤ 0: due). */
function untilDue(entry: Entry, now: number): number {
  return entry.drawnAt + intervalOf(entry, now) - now;
}

/**
 * Asks for `draw` to run in a coming frame, at most once per `minInterval` ms (more rarely when
 * drawing is costly). Requests while one is pending merge into it: the draw shows the latest data.
 */
export function requestDraw(draw: Draw, minInterval = 0): void {
  const now = performance.now();
  const entry = entries.get(draw);
  if (entry) {
    entry.gap = minInterval;
    entry.askedAt = now;
  } else entries.set(draw, { cost: undefined, gap: minInterval, drawnAt: -Infinity, askedAt: now });
  pending.add(draw);
  kick();
}

export function cancelDraw(draw: Draw): void {
  pending.delete(draw);
  entries.delete(draw);
}

/** Wakes up for the next frame if a pending chart is due, else when the first one will be. */
function kick(): void {
  if (frame || !pending.size) return;
  const now = performance.now();
  let soonest = Infinity;
  for (const draw of pending) soonest = Math.min(soonest, untilDue(entries.get(draw)!, now));
  if (timer) clearTimeout(timer);
  timer = null;
  if (soonest <= 0) frame = requestAnimationFrame(run);
  else
    timer = setTimeout(() => {
      timer = null;
      frame = requestAnimationFrame(run);
    }, soonest);
}

function run(): void {
  frame = 0;
  const start = performance.now();
  let drawn = 0;
  for (const draw of pending) {
    const before = performance.now();
    const entry = entries.get(draw)!;
    if (untilDue(entry, before) > 0) continue;
    if (drawn > 0 && before - start + (entry.cost ?? 0) > FRAME_BUDGET_MS) continue;
    pending.delete(draw);
    try {
      draw();
    } catch (error) {
      console.warn('layerbench: a chart failed to redraw', error);
    }
    const after = performance.now();
    const took = after - before;
    entry.cost = entry.cost === undefined ? took : 0.7 * entry.cost + 0.3 * took;
    entry.drawnAt = after;
    drawStats.draws++;
    drawStats.ms += took;
    drawn++;
    if (after - start > FRAME_BUDGET_MS) break;
  }
  if (drawn) drawStats.rounds++;
  // What did not fit this frame waits for the next one, or for when it is due; the canvases are
  // rasterised after this callback either way.
  if (pending.size) {
    frame = requestAnimationFrame(() => {
      frame = 0;
      kick();
    });
  }
}

/**
 * Calls `onchange(true)` while the element is on screen (in a shown tab, in the scrolled view),
 * so charts nobody can see cost nothing. Returns the disconnect function.
 */
export function watchVisibility(element: Element, onchange: (visible: boolean) => void): () => void {
  const observer = new IntersectionObserver((entries) => {
    const entry = entries[entries.length - 1];
    if (entry) onchange(entry.isIntersecting);
  });
  observer.observe(element);
  return () => observer.disconnect();
}
