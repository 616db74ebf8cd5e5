/**
 * One redraw scheduler for every chart on the page. Charts ask for a redraw when their data
 * moves, each with its own redraw budget (`minInterval`): the loss chart may move ~10 times a
 * second, statistics charts and heatmaps twice (a record every few batches is far more often than
 * anyone reads them). A request that comes sooner waits, pending, until the chart is due, and then
 * draws the latest data once: however many updates arrived meanwhile, only intermediate frames
 * are skipped.
 *
 * Drawing keeps out of the frames' way:
 * - charts draw in idle periods (requestIdleCallback), after the frame's own work, and only when
 *   the chart's predicted cost (its recent draw times) fits the time left before the next frame.
 *   One that has been due for IDLE_TIMEOUT_MS without fitting draws regardless (one such a wake-up),
 *   so every chart keeps moving;
 * - a draw may come in two halves: it returns the second (for a chart.js chart, painting the
 *   canvas from the layout its update just computed), which runs in a later idle period, before
 *   that chart updates again. A chart too costly for one gap between frames then fits in two;
 * - nothing draws while the page is hidden (a minimised window): what is pending draws on return;
 * - per second, at most DUTY of the main thread: on a slow or loaded machine every chart's
 *   interval stretches by the same factor (see `intervalOf`), instead of charts taking the thread;
 *   but no further than MAX_INTERVAL_MS, so every chart still moves every couple of seconds.
 * bench/README.md (section 3) has what each of these bought in frame times.
 */
/** Draws a chart; may return the rest of the work (painting), for a later idle period. */
type Draw = () => void | (() => void);

/** Without requestIdleCallback: the drawing budget of one animation frame. */
const FRAME_BUDGET_MS = 6;
/** A draw waits at most this long for an idle period it fits in; then it draws regardless. */
const IDLE_TIMEOUT_MS = 300;
/**
 * The share of the main thread all charts together may spend drawing (their JS; rasterising and
 * compositing what they drew come on top, roughly in proportion). When the charts' wished rates
 * cost more than this, every chart slows down by the same factor.
 */
const DUTY = 0.1;
/** A chart that has not asked for a redraw for this long no longer takes a share. */
const ACTIVE_MS = 2000;
/**
 * However costly its draws look, a chart redraws at least this often: a chart's first draws
 * (cold JIT, first layout) can predict a cost that would otherwise stretch its interval past a
 * short run's end.
 */
const MAX_INTERVAL_MS = 2000;
const pending = new Set<Draw>();
/** Charts whose second half (painting) waits, oldest first; a chart is here at most once. */
let painting: Entry[] = [];
interface Entry {
  /**
   * Its last few draw times (ms) and those of its second half: their median predicts whether the
   * next fits what is left of a frame. A median, because one outlier (the first draw, a GC pause)
   * must not make a chart look too costly to ever fit, or stretch its interval (see intervalOf).
   */
  costs: number[];
  tailCosts: number[];
  /** The redraw budget: at least this many ms between two draws. */
  gap: number;
  /** When it last drew and last asked (performance.now()). */
  drawnAt: number;
  askedAt: number;
  /** Its second half, waiting for an idle period since `paintQueuedAt`; the chart does not update meanwhile. */
  paint: (() => void) | null;
  paintQueuedAt: number;
  /** For the bench's per-chart counters. */
  name: string;
}
const entries = new Map<Draw, Entry>();
let wake = 0;
let timer: ReturnType<typeof setTimeout> | null = null;

/**
 * Counters for the UI bench (bench/ui-stream.ts) and the e2e dashboard scenario, read from the page:
 * draws and their time, overall and by chart name, and how many draws and second halves wait.
 */
export const drawStats = { rounds: 0, draws: 0, ms: 0, pendingDraws: 0, waitingPaints: 0, byName: {} as Record<string, { draws: number; ms: number; max: number }> };
if (typeof globalThis !== 'undefined') (globalThis as { __layerbenchDraws?: typeof drawStats }).__layerbenchDraws = drawStats;

/**
 * A chart's interval: its budget, or longer when the active charts' wished rates (1000/gap each)
 * cost more than DUTY of the main thread. Each chart then gets a share of DUTY in proportion to
 * its wished rate, so the loss chart (~10/s) stays ahead of the statistics charts (~2/s).
 */
function intervalOf(entry: Entry, now: number): number {
  const cost = predicted(entry.costs);
  if (cost === undefined) return entry.gap;
  let wished = 0;
  for (const e of entries.values()) if (now - e.askedAt < ACTIVE_MS) wished += 1000 / Math.max(e.gap, 16);
  const rate = 1000 / Math.max(entry.gap, 16);
  const stretched = ((cost + (predicted(entry.tailCosts) ?? 0)) * wished) / (DUTY * rate);
  return Math.max(entry.gap, Math.min(stretched, MAX_INTERVAL_MS));
}

/** ms until the chart may draw again (≤ 0: due). */
function untilDue(entry: Entry, now: number): number {
  return entry.drawnAt + intervalOf(entry, now) - now;
}

/**
 * Asks for `draw` to run in a coming frame, at most once per `minInterval` ms (more rarely when
 * drawing is costly). Requests while one is pending merge into it: the draw shows the latest data.
 */
export function requestDraw(draw: Draw, minInterval = 0, name = 'chart'): void {
  const now = performance.now();
  const entry = entries.get(draw);
  if (entry) {
    entry.gap = minInterval;
    entry.askedAt = now;
  } else entries.set(draw, { gap: minInterval, drawnAt: -Infinity, askedAt: now, name, costs: [], tailCosts: [], paint: null, paintQueuedAt: 0 });
  pending.add(draw);
  drawStats.pendingDraws = pending.size;
  kick();
}

export function cancelDraw(draw: Draw): void {
  const entry = entries.get(draw);
  pending.delete(draw);
  entries.delete(draw);
  if (entry?.paint) painting = painting.filter((e) => e !== entry);
  drawStats.pendingDraws = pending.size;
  drawStats.waitingPaints = painting.length;
}

const hidden = () => typeof document !== 'undefined' && document.hidden;
if (typeof document !== 'undefined') document.addEventListener('visibilitychange', () => kick());

/** Wakes up when a pending chart is due (or a second half waits), else when the first one will be. */
function kick(): void {
  if (wake || hidden() || (!pending.size && !painting.length)) return;
  const now = performance.now();
  let soonest = painting.length ? 0 : Infinity;
  for (const draw of pending) soonest = Math.min(soonest, untilDue(entries.get(draw)!, now));
  if (timer) clearTimeout(timer);
  timer = null;
  if (soonest <= 0) wake = whenIdle(run);
  else
    timer = setTimeout(() => {
      timer = null;
      wake = whenIdle(run);
    }, soonest);
}

/**
 * The next idle period: what is left of the current frame once its own work is done (Chromium
 * says how much in `timeRemaining()`), so a draw that fits never makes the next frame late.
 * Without requestIdleCallback (old WebKit), the next animation frame with a nominal budget.
 */
function whenIdle(callback: (deadline: Budget) => void): number {
  if (typeof requestIdleCallback === 'function') return requestIdleCallback(callback, { timeout: IDLE_TIMEOUT_MS });
  return requestAnimationFrame(() => {
    const start = performance.now();
    // At least one draw per frame (didTimeout), then as many as fit the budget.
    callback({ didTimeout: true, timeRemaining: () => FRAME_BUDGET_MS - (performance.now() - start) });
  });
}

interface Budget {
  didTimeout: boolean;
  timeRemaining(): number;
}

function run(budget: Budget): void {
  wake = 0;
  if (hidden()) return; // visibilitychange kicks again
  let drawn = 0;
  let forced = false;
  // Fits what is left of the idle period; or has waited IDLE_TIMEOUT_MS and draws anyway, one
  // such a wake-up (without requestIdleCallback, the first of each frame).
  const fits = (cost: number | undefined, waited: number): boolean => {
    if ((cost ?? 0) <= budget.timeRemaining()) return true;
    if (forced || !(waited >= IDLE_TIMEOUT_MS || (budget.didTimeout && drawn === 0))) return false;
    forced = true;
    return true;
  };
  for (const entry of painting) {
    const before = performance.now();
    if (!fits(predicted(entry.tailCosts), before - entry.paintQueuedAt)) continue;
    const paint = entry.paint!;
    entry.paint = null;
    attempt(paint);
    const took = performance.now() - before;
    remember(entry.tailCosts, took);
    count(entry, took, false);
    drawn++;
  }
  painting = painting.filter((entry) => entry.paint);
  drawStats.waitingPaints = painting.length;
  // Due charts, the latest for their interval first: when only one may draw, the loss chart (~10 a
  // second wished) goes before a statistics chart (~2) that has waited as long.
  const now = performance.now();
  const due: Array<{ draw: Draw; entry: Entry; late: number; lateness: number }> = [];
  for (const draw of pending) {
    const entry = entries.get(draw)!;
    const late = -untilDue(entry, now);
    // Its last update is not painted yet: it waits for that first.
    if (late >= 0 && !entry.paint) due.push({ draw, entry, late, lateness: late / Math.max(intervalOf(entry, now), 1) });
  }
  due.sort((a, b) => b.lateness - a.lateness);
  for (const { draw, entry, late } of due) {
    const before = performance.now();
    if (!fits(predicted(entry.costs), late + (before - now))) continue;
    pending.delete(draw);
    const paint = attempt(draw);
    const after = performance.now();
    if (paint && entries.has(draw)) {
      entry.paint = paint;
      entry.paintQueuedAt = after;
      painting.push(entry);
      drawStats.waitingPaints = painting.length;
    }
    const took = after - before;
    remember(entry.costs, took);
    entry.drawnAt = after;
    count(entry, took, true);
    drawn++;
  }
  if (drawn) drawStats.rounds++;
  drawStats.pendingDraws = pending.size;
  kick();
}

const REMEMBERED = 5;
function remember(costs: number[], took: number): void {
  costs.push(took);
  if (costs.length > REMEMBERED) costs.shift();
}
function predicted(costs: number[]): number | undefined {
  if (!costs.length) return undefined;
  const sorted = [...costs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** The bench's counters: `took` ms of a draw (`whole`: its first or only half) of `entry`. */
function count(entry: Entry, took: number, whole: boolean): void {
  const byName = (drawStats.byName[entry.name] ??= { draws: 0, ms: 0, max: 0 });
  if (whole) {
    drawStats.draws++;
    byName.draws++;
  }
  drawStats.ms += took;
  byName.ms += took;
  byName.max = Math.max(byName.max, took);
}

/** Runs one draw (or second half); a chart that fails is logged and skipped, never the frame. */
function attempt(draw: Draw): (() => void) | undefined {
  try {
    return draw() ?? undefined;
  } catch (error) {
    console.warn('layerbench: a chart failed to redraw', error);
    return undefined;
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
