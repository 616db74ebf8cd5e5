/**
 * One redraw scheduler for every chart on the page. Charts ask for a redraw when their data
 * moves. A round of redraws starts at most 20 times a second and spends at most ~6 ms of drawing
 * per frame, carrying the rest to the next frame, so a page full of charts never stalls one frame:
 * each chart's last draw time predicts its next, and a chart that would overrun the frame's budget
 * waits for the next frame (a frame always draws at least one). Canvas rasterising and the commit
 * of what was drawn come on top, which is why the budget is well under a 16.7 ms frame. The next
 * round waits twice as long as the last one took (painting included), so on a slow machine charts
 * update less often instead of taking the main thread, however fast events arrive.
 *
 * Each chart also has its own redraw budget (`minInterval`): the loss chart may move ~10 times a
 * second, statistics charts and heatmaps 2–3 times (a record every few batches is far more often
 * than anyone reads them). A request that comes sooner waits, pending, until the chart is due, and
 * then draws the latest data once: however many updates arrived meanwhile, nothing is lost but
 * the intermediate frames.
 */
type Draw = () => void;

const FRAME_BUDGET_MS = 6;
const pending = new Set<Draw>();
/** Each chart's recent draw time (ms, smoothed): predicts whether it fits what is left of a frame. */
const cost = new WeakMap<Draw, number>();
/** Each chart's redraw budget: at least this many ms between two of its draws. */
const gap = new WeakMap<Draw, number>();
/** When each chart last drew (performance.now()). */
const drawnAt = new WeakMap<Draw, number>();
let frame = 0;
let timer: ReturnType<typeof setTimeout> | null = null;
let roundStart: number | null = null;
let lastRound = -Infinity;
let interval = 50;

/** Counters for the UI bench (bench/ui-stream.ts reads them from the page): draws and their time. */
export const drawStats = { rounds: 0, draws: 0, ms: 0 };
if (typeof globalThis !== 'undefined') (globalThis as { __layerbenchDraws?: typeof drawStats }).__layerbenchDraws = drawStats;

/** ms until `draw` may draw again (≤ 0: due). */
function untilDue(draw: Draw, now: number): number {
  return (drawnAt.get(draw) ?? -Infinity) + (gap.get(draw) ?? 0) - now;
}

/**
 * Asks for `draw` to run in a coming frame, at most once per `minInterval` ms. Requests while
 * one is pending merge into it.
 */
export function requestDraw(draw: Draw, minInterval = 0): void {
  pending.add(draw);
  gap.set(draw, minInterval);
  kick();
}

export function cancelDraw(draw: Draw): void {
  pending.delete(draw);
}

/** Starts the next round when the round interval has passed and a pending chart is due. */
function kick(): void {
  if (frame || timer || roundStart !== null || !pending.size) return;
  const now = performance.now();
  let soonest = Infinity;
  for (const draw of pending) soonest = Math.min(soonest, untilDue(draw, now));
  const wait = Math.max(lastRound + interval - now, soonest);
  if (wait <= 0) frame = requestAnimationFrame(run);
  else
    timer = setTimeout(() => {
      timer = null;
      frame = requestAnimationFrame(run);
    }, wait);
}

function run(): void {
  frame = 0;
  const start = performance.now();
  roundStart ??= start;
  let drawn = 0;
  for (const draw of pending) {
    const before = performance.now();
    if (untilDue(draw, before) > 0) continue;
    if (drawn > 0 && before - start + (cost.get(draw) ?? 0) > FRAME_BUDGET_MS) continue;
    pending.delete(draw);
    try {
      draw();
    } catch (error) {
      console.warn('layerbench: a chart failed to redraw', error);
    }
    const after = performance.now();
    const took = after - before;
    const was = cost.get(draw);
    cost.set(draw, was === undefined ? took : 0.7 * was + 0.3 * took);
    drawnAt.set(draw, after);
    drawStats.draws++;
    drawStats.ms += took;
    drawn++;
    if (after - start > FRAME_BUDGET_MS) break;
  }
  // The canvases are rasterised after this callback (on the CPU without a GPU): the round ends at
  // the next frame, so that cost counts too.
  frame = requestAnimationFrame(() => {
    frame = 0;
    const now = performance.now();
    for (const draw of pending) if (untilDue(draw, now) <= 0) return run();
    drawStats.rounds++;
    interval = Math.min(1000, Math.max(50, (now - roundStart!) * 2));
    roundStart = null;
    lastRound = now;
    // Charts that asked but are not due yet: wake up when the first of them is.
    kick();
  });
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
