/**
 * One redraw scheduler for every chart on the page. Charts ask for a redraw when their data
 * moves. A round of redraws starts at most 20 times a second and spends at most ~6 ms of drawing
 * per frame, carrying the rest to the next frame, so a page full of charts never stalls one frame:
 * each chart's last draw time predicts its next, and a chart that would overrun the frame's budget
 * waits for the next frame (a frame always draws at least one). Canvas rasterising and the commit
 * of what was drawn come on top, which is why the budget is well under a 16.7 ms frame. The next
 * round waits twice as long as the last one took (painting included), so on a slow machine charts
 * update less often instead of taking the main thread, however fast events arrive.
 */
type Draw = () => void;

const FRAME_BUDGET_MS = 6;
const pending = new Set<Draw>();
/** Each chart's recent draw time (ms, smoothed): predicts whether it fits what is left of a frame. */
const cost = new WeakMap<Draw, number>();
let frame = 0;
let timer: ReturnType<typeof setTimeout> | null = null;
let roundStart: number | null = null;
let lastRound = -Infinity;
let interval = 50;

export function requestDraw(draw: Draw): void {
  pending.add(draw);
  if (frame || timer || roundStart !== null) return;
  const wait = lastRound + interval - performance.now();
  if (wait <= 0) frame = requestAnimationFrame(run);
  else
    timer = setTimeout(() => {
      timer = null;
      frame = requestAnimationFrame(run);
    }, wait);
}

export function cancelDraw(draw: Draw): void {
  pending.delete(draw);
}

function run(): void {
  frame = 0;
  const start = performance.now();
  roundStart ??= start;
  let drawn = 0;
  for (const draw of pending) {
    const before = performance.now();
    if (drawn > 0 && before - start + (cost.get(draw) ?? 0) > FRAME_BUDGET_MS) continue;
    pending.delete(draw);
    try {
      draw();
    } catch (error) {
      console.warn('layerbench: a chart failed to redraw', error);
    }
    const took = performance.now() - before;
    const was = cost.get(draw);
    cost.set(draw, was === undefined ? took : 0.7 * was + 0.3 * took);
    drawn++;
    if (performance.now() - start > FRAME_BUDGET_MS) break;
  }
  // The canvases are rasterised after this callback (on the CPU without a GPU): the round ends at
  // the next frame, so that cost counts too.
  frame = requestAnimationFrame(() => {
    frame = 0;
    if (pending.size) return run();
    const now = performance.now();
    interval = Math.min(1000, Math.max(50, (now - roundStart!) * 2));
    roundStart = null;
    lastRound = now;
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
