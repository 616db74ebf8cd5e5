/**
 * The training code's layering by thread: worker/ (the worker thread) and common/ (both threads)
 * import nothing from host/ (the main thread), so the worker bundle never pulls in the host.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : /\.(ts|mjs)$/.test(e.name) ? [join(dir, e.name)] : []));
}

it('worker/ and common/ import nothing from host/', () => {
  const host = join(here, 'host');
  const crossings: string[] = [];
  const files = ['worker', 'common'].flatMap((d) => sources(join(here, d)));
  expect(files.length).toBeGreaterThan(20);
  for (const file of files) {
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(/(?:from|import\()\s*['"](\.[^'"]+)['"]/g)) {
      const target = resolve(dirname(file), spec!);
      if (!relative(host, target).startsWith('..')) crossings.push(`${relative(here, file)} → ${spec}`);
    }
  }
  expect(crossings).toEqual([]);
});
