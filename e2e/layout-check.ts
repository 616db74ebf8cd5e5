/**
 * In the page: every visible element that shows text (its own text nodes, or a field's value)
 * whose text is cut off: wider than its own clipping box (an ellipsis, a field too narrow for its
 * value), or reaching past an ancestor that clips it sideways (overflow other than visible), or
 * spilling out of its own box over its neighbours. Elements below the fold count too: views scroll
 * vertically by design, so only ancestors that hide overflow (not scroll it) clip vertically.
 * Text a user chose and that may be any length (a run's name, a path) is marked
 * `data-truncates` where it is shortened on purpose (the full text in its title).
 *
 * A string, as the other in-page helpers: the e2e sources are type-checked without the DOM's types.
 */
import { expect, type Page, type TestInfo } from '@playwright/test';

export interface Clipped {
  tag: string;
  testid: string | null;
  text: string;
  why: string;
}

export const clippedText = `(() => {
  const TOLERANCE = 1;
  // Chromium's number spinner, shown on hover and focus, takes this much of the text's room.
  const SPINNER = 15;
  const measure = document.createElement('canvas').getContext('2d');
  const out = [];
  const fieldSelector = 'input:not([type=checkbox]):not([type=radio]):not([type=range]):not([type=color]), select';
  const ownText = (el) => [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join('').replace(/\\s+/g, ' ').trim();
  const textRect = (el) => {
    const rects = [];
    for (const n of el.childNodes) {
      if (n.nodeType !== 3 || !n.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(n);
      for (const r of range.getClientRects()) if (r.width > 0) rects.push(r);
    }
    if (!rects.length) return null;
    return {
      left: Math.min(...rects.map((r) => r.left)),
      right: Math.max(...rects.map((r) => r.right)),
      top: Math.min(...rects.map((r) => r.top)),
      bottom: Math.max(...rects.map((r) => r.bottom)),
    };
  };
  const clipsX = (s) => s.overflowX !== 'visible';
  const hidesY = (s) => s.overflowY === 'hidden' || s.overflowY === 'clip';
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('[data-truncates], svg, canvas, script, style')) continue;
    const isField = el.matches(fieldSelector);
    const text = isField ? (el.tagName === 'SELECT' ? el.selectedOptions[0]?.textContent ?? '' : el.value || el.placeholder || '') : ownText(el);
    if (!text.trim()) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || Number(style.opacity) === 0) continue;
    const reasons = [];
    const block = style.display !== 'inline' && style.display !== 'contents';
    if (block && (clipsX(style) || isField) && el.scrollWidth > el.clientWidth + TOLERANCE) {
      reasons.push('text ' + el.scrollWidth + 'px wide in a ' + el.clientWidth + 'px box');
    }
    // A placeholder does not count in scrollWidth: measure it in the field's font.
    if (isField && el.tagName === 'INPUT' && !el.value && el.placeholder) {
      measure.font = style.font;
      const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - (el.type === 'number' ? SPINNER : 0);
      const wide = Math.ceil(measure.measureText(el.placeholder).width);
      if (wide > room + TOLERANCE) reasons.push('placeholder ' + wide + 'px wide in ' + room + 'px');
    }
    const clamped = style.whiteSpace === 'nowrap' || style.webkitLineClamp !== 'none';
    if (block && !isField && hidesY(style) && clamped && el.scrollHeight > el.clientHeight + TOLERANCE) {
      reasons.push('text ' + el.scrollHeight + 'px tall in a ' + el.clientHeight + 'px box');
    }
    const t = isField ? null : textRect(el);
    if (t) {
      if (block && !clipsX(style) && (t.right > box.right + TOLERANCE || t.left < box.left - TOLERANCE)) reasons.push('text spills out of its box');
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        const s = getComputedStyle(a);
        if (!clipsX(s) && !hidesY(s)) continue;
        const r = a.getBoundingClientRect();
        const left = r.left + a.clientLeft;
        const right = left + a.clientWidth;
        if (clipsX(s) && (t.right > right + TOLERANCE || t.left < left - TOLERANCE)) {
          reasons.push('cut off sideways by <' + [a.tagName.toLowerCase(), ...[...a.classList].filter((c) => !c.startsWith('svelte-'))].join('.') + '>');
          break;
        }
        const top = r.top + a.clientTop;
        const bottom = top + a.clientHeight;
        if (hidesY(s) && t.bottom > bottom + TOLERANCE && t.top < bottom) {
          reasons.push('cut off at the bottom by <' + a.tagName.toLowerCase() + '>');
          break;
        }
      }
    }
    if (reasons.length) {
      out.push({
        tag: [el.tagName.toLowerCase(), ...[...el.classList].filter((c) => !c.startsWith('svelte-'))].join('.'),
        testid: el.closest('[data-testid]')?.getAttribute('data-testid') ?? null,
        text: text.slice(0, 60),
        why: reasons.join('; '),
      });
    }
  }
  return out;
})()`;

function describeClipped(list: Clipped[]): string {
  return list.map((c) => `  <${c.tag}${c.testid ? ` data-testid=${c.testid}` : ''}> "${c.text}" (${c.why})`).join('\n');
}

/** A screenshot of what `page` shows as `<view>.png`, and (softly) no text clipped in it. */
export async function expectNothingClipped(page: Page, view: string, testInfo: TestInfo, fullPage = false): Promise<void> {
  await page.screenshot({ path: testInfo.outputPath(`${view}.png`), fullPage });
  const clipped = await page.evaluate<Clipped[]>(clippedText);
  expect.soft(clipped, `clipped text in ${view}:\n${describeClipped(clipped)}`).toEqual([]);
}

/** The two screen sizes the views are looked at in. */
export const SCREEN_SIZES = [
  { width: 1280, height: 800 },
  { width: 1920, height: 1080 },
];

/** `expectNothingClipped` (full page) at each screen size, as `<view>-<w>x<h>.png`; back at the first size after. */
export async function expectNothingClippedAtBothSizes(page: Page, view: string, testInfo: TestInfo): Promise<void> {
  for (const size of SCREEN_SIZES) {
    await page.setViewportSize(size);
    // Let the charts follow the new width before the picture.
    await page.waitForTimeout(400);
    await expectNothingClipped(page, `${view}-${size.width}x${size.height}`, testInfo, true);
  }
  await page.setViewportSize(SCREEN_SIZES[0]!);
}
