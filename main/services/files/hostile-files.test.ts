/**
 * The generated corrupt-file corpus (corrupt-corpus.ts) through every reader: the service
 * functions, the CLI as a process, and the API of the real serve host over a WebSocket. Each case
 * must fail (or be skipped) with a short, printable error that names the file and says why, in
 * bounded time; the corpus is unchanged afterwards and no `.import-*` folder is left; the server
 * still answers after each.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { ImportSource } from '../../../contract/datasets';
import { createServices, type Services } from '..';
import { startServer, type RunningServer } from '../../serve/server';
import { readModelFile } from '../../cli/model-file';
import { openDatasetDir } from '../datasets/open';
import { readIdxFile } from '../datasets/idx';
import { scanSource } from '../datasets/scan';
import { DatasetStore } from '../datasets/store';
import { importModel } from '../export';
import { ProjectStore } from '../projects/store';
import { importModelAsRun } from '../runs/import';
import { RunStore } from '../runs/store';
import { fileLoadHandler } from '../training/worker/weights-io';
import { BOMB_TEST_CAP, DEV_ZERO, fingerprint, writeCorruptCorpus, type CorruptCorpus } from './corrupt-corpus';
import { LIMITS_ENV, quote } from './bounded-read';

/** Runs `fn` with $LAYERBENCH_MAX_FILE_BYTES lowered, so the 16 MiB bomb is over the cap. */
async function withBombCap<T>(fn: () => Promise<T>): Promise<T> {
  const name = LIMITS_ENV.fileBytes.name;
  const saved = process.env[name];
  process.env[name] = String(BOMB_TEST_CAP);
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
  }
}

const root = mkdtempSync(join(tmpdir(), 'layerbench-hostile-'));
let corpus: CorruptCorpus;
let before: Map<string, string>;
/** Where imports write (outside the corpus, whose own data folder must stay as it is). */
const scratchData = join(root, 'scratch-data');

beforeAll(async () => {
  corpus = await writeCorruptCorpus(join(root, 'corpus'));
  before = await fingerprint(corpus.dir);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Printable, short, and naming what it is about. */
function expectClear(message: string, mentions: string | RegExp): void {
  expect(message.length).toBeLessThan(700);
  // eslint-disable-next-line no-control-regex -- the point: a message must carry no control characters
  expect(message).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\ufffd]/);
  if (typeof mentions === 'string') expect(message).toContain(mentions);
  else expect(message).toMatch(mentions);
}

/** Fails within `ms` with an error of one of `codes` whose message names `path` and matches `why`. */
async function refused(promise: Promise<unknown>, path: string, why: RegExp, codes: readonly string[], ms = 5000): Promise<void> {
  const started = performance.now();
  const error = (await promise.then(
    () => null,
    (e: unknown) => e,
  )) as (Error & { code?: string }) | null;
  expect(error, `${path} was accepted`).toBeInstanceOf(Error);
  expect(performance.now() - started).toBeLessThan(ms);
  expectClear(error!.message, path);
  expect(error!.message).toMatch(why);
  expect(codes).toContain(error!.code);
}

function noTempFolders(dataDir: string): void {
  let names: string[];
  try {
    names = readdirSync(join(dataDir, 'datasets'));
  } catch {
    return;
  }
  expect(names.filter((n) => n.startsWith('.import-'))).toEqual([]);
}

const NOT_A_FILE = /named pipe \(FIFO\), not a regular file|a folder, not a regular file|character device, not a regular file/;
const OVER_LIMIT = /more than the limit of/;

describe('the corrupt corpus through the service functions', () => {
  it('project files and the autosave: refused by kind, by size, or as invalid JSON quoted printably', async () => {
    const projects = new ProjectStore(join(root, 'projects-data'));
    for (const path of [corpus.fifo, corpus.folder, corpus.devZeroLink, DEV_ZERO]) await refused(projects.open(path), path, NOT_A_FILE, ['unsupported']);
    await refused(projects.open(corpus.sparse), corpus.sparse, OVER_LIMIT, ['limit']);
    await refused(projects.open(corpus.garbage), corpus.garbage, /not valid JSON/, ['invalid-input']);
    await expect(projects.open(corpus.goodProject)).resolves.toMatchObject({ path: corpus.goodProject });
    // The corpus' data folder: autosave.json is a FIFO, recent-projects.json a link to /dev/zero.
    const hostileData = new ProjectStore(corpus.dataDir);
    expect(await hostileData.recovery()).toBeNull();
    expect(await hostileData.recent()).toEqual([]);
  });

  it('IDX files: kinds, sizes, truncation, wrong magic and both gzip bombs, each before allocating', async () => {
    const rss = process.memoryUsage().rss;
    for (const path of [corpus.fifo, corpus.folder, corpus.devZeroLink]) await refused(readIdxFile(path), path, NOT_A_FILE, ['unsupported']);
    await refused(readIdxFile(corpus.sparse), corpus.sparse, OVER_LIMIT, ['limit']);
    await refused(readIdxFile(corpus.idx.truncated), corpus.idx.truncated, /truncated: header says 1000×28×28 = 784000 bytes of data, file has 100/, ['invalid-input']);
    await refused(readIdxFile(corpus.idx.hugeHeader), corpus.idx.hugeHeader, /truncated: header says 65535×65535×65535/, ['invalid-input']);
    await refused(readIdxFile(corpus.idx.wrongMagic), corpus.idx.wrongMagic, /not an IDX file: magic number starts/, ['invalid-input']);
    // Its trailer declares 4 GiB; inflated without keeping the output, its 16 MiB do not match that.
    await refused(readIdxFile(corpus.idx.bombDeclared), corpus.idx.bombDeclared, /corrupt gzip data: incorrect length check/, ['invalid-input']);
    await withBombCap(() =>
      refused(readIdxFile(corpus.idx.bombHonest), corpus.idx.bombHonest, /decompresses to more than the limit of 8\.0 MiB \(set LAYERBENCH_MAX_FILE_BYTES/, ['limit']),
    );
    await refused(readIdxFile(corpus.idx.bombLiar), corpus.idx.bombLiar, /decompresses to more than the 1000 B its trailer declares/, ['invalid-input']);
    expect(process.memoryUsage().rss - rss).toBeLessThan(256 * 1024 ** 2);
  });

  it('imports (CSV, IDX, image folder) fail with the file and line, leave no temp folder, and skip bad images by name', async () => {
    const store = new DatasetStore(scratchData, { fashionMnistSystemDirs: [] });
    const importOf = (source: ImportSource, skipBad = false) => store.import({ importId: 'hostile', name: 'hostile', source, skipBad }, new AbortController().signal);
    const csv = (path: string): ImportSource => ({ kind: 'csv', path, labelColumn: 0, header: 'auto', delimiter: 'auto', reshape: null });
    for (const path of [corpus.fifo, corpus.devZeroLink]) {
      await refused(importOf(csv(path)), path, NOT_A_FILE, ['unsupported']);
      await refused(scanSource(csv(path)), path, NOT_A_FILE, ['unsupported']);
    }
    // 3 GiB of holes: no line break within the first MiB.
    await refused(importOf(csv(corpus.sparse)), corpus.sparse, /line 1 is longer than 1\.0 MiB \(set LAYERBENCH_MAX_CSV_LINE_BYTES/, ['limit']);
    await refused(importOf(csv(corpus.csv.longLine)), corpus.csv.longLine, /line 1 is longer than 1\.0 MiB/, ['limit']);
    await refused(scanSource(csv(corpus.csv.longLine)), corpus.csv.longLine, /line 1 is longer than/, ['limit']);
    await refused(importOf(csv(corpus.csv.binary)), corpus.csv.binary, /line 4: /, ['invalid-input']);
    await refused(importOf(csv(corpus.csv.longField)), corpus.csv.longField, /line 3: column "x" \(index 1\) holds "(\\x01x){40}"… \(500000 characters in all\), not a number/, [
      'invalid-input',
    ]);
    const idx = (imagesPath: string): ImportSource => ({ kind: 'idx', imagesPath, labelsPath: corpus.idx.labels });
    await withBombCap(() => refused(importOf(idx(corpus.idx.bombHonest)), corpus.idx.bombHonest, OVER_LIMIT, ['limit']));
    await refused(importOf(idx(corpus.idx.bombDeclared)), corpus.idx.bombDeclared, /incorrect length check/, ['invalid-input']);
    await refused(importOf(idx(corpus.idx.bombLiar)), corpus.idx.bombLiar, /more than the 1000 B its trailer declares/, ['invalid-input']);
    await refused(importOf(idx(corpus.fifo)), corpus.fifo, NOT_A_FILE, ['unsupported']);
    const folder: ImportSource = { kind: 'image-folder', path: corpus.imageFolder, width: 8, height: 8, color: 'grayscale' };
    await refused(importOf(folder), corpus.images.hugeJpeg, /60000×60000 pixels \(its header says\), more than the limit of 50,000,000 pixels/, ['limit']);
    const rss = process.memoryUsage().rss;
    const { dataset, skippedItems } = await importOf(folder, true);
    expect(process.memoryUsage().rss - rss).toBeLessThan(256 * 1024 ** 2);
    expect(dataset.count).toBe(2);
    const reasons = new Map(skippedItems.map((item) => [item.file, item.reason]));
    expect(reasons.get(corpus.images.hugePng)).toMatch(/20000×20000 pixels \(its header says\), more than the limit/);
    expect(reasons.get(corpus.images.hugeJpeg)).toMatch(/60000×60000 pixels/);
    expect(reasons.get(corpus.images.garbagePng)).toMatch(/^corrupt PNG image: /);
    expect(reasons.get(corpus.images.truncatedPng)).toMatch(/^corrupt PNG image: /);
    expect(reasons.get(join(corpus.imageFolder, 'b', 'pipe.png'))).toMatch(/^unreadable: a named pipe \(FIFO\), not a regular file/);
    expect(reasons.get(join(corpus.imageFolder, 'a', 'zero.png'))).toMatch(/^unreadable: a character device, not a regular file/);
    for (const reason of reasons.values()) expectClear(reason, /./);
    noTempFolders(scratchData);
  });

  it('dataset folders and run folders made of pipes, devices and holes: refused, listed as unreadable or damaged', async () => {
    await refused(
      openDatasetDir(corpus.datasets.hugeX),
      join(corpus.datasets.hugeX, 'x.bin'),
      /size mismatch: 2 samples of 4 float32 values need 32 bytes, the file has 3221225472/,
      ['invalid-input'],
    );
    await refused(openDatasetDir(corpus.datasets.pipeMeta), join(corpus.datasets.pipeMeta, 'meta.json'), NOT_A_FILE, ['unsupported']);
    const datasets = new DatasetStore(corpus.dataDir, { fashionMnistSystemDirs: [] });
    const listing = await datasets.list();
    expect(listing.unreadable.map((u) => u.id)).toEqual(['user-pipe-000002']);
    await refused(datasets.preview('user-holes-000001'), 'x.bin', /size mismatch/, ['invalid-input']);

    const runs = new RunStore(corpus.dataDir);
    const list = await runs.list();
    expect(list.find((r) => r.runId === corpus.runs.pipeRunJson)?.failure?.error).toMatch(/run\.json cannot be read \(a named pipe \(FIFO\), not a regular file/);
    await refused(runs.get(corpus.runs.zeroMetrics), 'metrics.jsonl', NOT_A_FILE, ['unsupported']);
    await expect(runs.get(corpus.runs.pipeRunJson)).rejects.toThrow(/named pipe/);
    await expect(runs.recoverInterrupted()).resolves.toEqual([]);
  });

  it('model files (TF.js, Keras .h5, CLI model files, training weights): refused by kind, size or declared weights', async () => {
    for (const path of [corpus.fifo, corpus.devZeroLink]) {
      await refused(importModel(path), path, NOT_A_FILE, ['unsupported']);
      await refused(readModelFile(path), path, NOT_A_FILE, ['unsupported']);
    }
    await refused(importModel(corpus.sparse), corpus.sparse, OVER_LIMIT, ['limit']);
    await refused(readModelFile(corpus.sparse), corpus.sparse, OVER_LIMIT, ['limit']);
    await refused(importModel(corpus.garbage), corpus.garbage, /binary file of an unknown type, not a model file/, ['unsupported']);
    await refused(readModelFile(corpus.garbage), corpus.garbage, /binary file of an unknown type, not a model file/, ['unsupported']);
    await refused(importModel(corpus.hugeManifest), 'model.json', /the manifest declares 37 GiB of weights, more than the limit/, ['limit']);
    await refused(importModel(corpus.pipeWeights), 'weights.bin', NOT_A_FILE, ['unsupported']);
    await refused(importModel(corpus.fakeH5), corpus.fakeH5, /corrupted or truncated HDF5 file/, ['invalid-input']);
    await refused(fileLoadHandler(corpus.pipeWeights).load!() as Promise<unknown>, 'weights.bin', NOT_A_FILE, ['unsupported']);
    const runs = new RunStore(join(root, 'import-runs'));
    await refused(importModelAsRun(runs, corpus.fifo), corpus.fifo, NOT_A_FILE, ['unsupported']);
    expect(await runs.list()).toEqual([]);
  });

  it('leaves every corpus file as it was', async () => {
    expect(await fingerprint(corpus.dir)).toEqual(before);
  });
});

describe('the corrupt corpus through the CLI', () => {
  const cliData = join(root, 'cli-data');
  const built = join(import.meta.dirname, '../../../out/cli/index.js');
  beforeAll(() => {
    // The CLI is tested as built (as cli.test.ts does); built on demand so `vitest run` alone works too.
    if (!existsSync(built)) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: join(import.meta.dirname, '../../..'), stdio: 'inherit' });
  });
  const cli = (...args: string[]) =>
    new Promise<{ code: number | null; stderr: string; ms: number }>((resolve) => {
      const started = performance.now();
      const env = { ...process.env, [LIMITS_ENV.fileBytes.name]: String(BOMB_TEST_CAP) };
      const child = spawn(process.execPath, [built, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (code) => resolve({ code, stderr, ms: performance.now() - started }));
    });

  it('each command fails with exit 1 and one clear line, and leaves nothing behind', async () => {
    mkdirSync(cliData, { recursive: true });
    const cases: [string[], string, RegExp][] = [
      [['summary', corpus.fifo], corpus.fifo, NOT_A_FILE],
      [['summary', corpus.devZeroLink], corpus.devZeroLink, NOT_A_FILE],
      [['summary', corpus.sparse], corpus.sparse, OVER_LIMIT],
      [['summary', corpus.garbage], corpus.garbage, /binary file of an unknown type/],
      [['train', corpus.fifo], corpus.fifo, NOT_A_FILE],
      [['export', corpus.fakeH5, '--format', 'py', '--out', join(cliData, 'out.py')], corpus.fakeH5, /HDF5/],
      [['datasets', 'import', 'csv', corpus.csv.longLine, '--label-column', '0', '--data-dir', cliData, '--quiet'], corpus.csv.longLine, /line 1 is longer than/],
      [['datasets', 'import', 'idx', corpus.idx.bombHonest, corpus.idx.labels, '--data-dir', cliData, '--quiet'], corpus.idx.bombHonest, OVER_LIMIT],
      [['datasets', 'import', 'image-folder', corpus.imageFolder, '--width', '8', '--height', '8', '--data-dir', cliData, '--quiet'], corpus.images.hugeJpeg, /pixels/],
    ];
    // Three at a time: each is a Node process of its own.
    for (let i = 0; i < cases.length; i += 3) {
      const results = await Promise.all(cases.slice(i, i + 3).map(([args]) => cli(...args)));
      results.forEach((result, k) => {
        const [args, path, why] = cases[i + k]!;
        expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(1);
        expect(result.ms).toBeLessThan(30_000);
        expect(result.stderr).toMatch(/^layerbench: /);
        expectClear(result.stderr, path);
        expect(result.stderr).toMatch(why);
      });
    }
    noTempFolders(cliData);
    expect(readdirSync(cliData).filter((n) => n !== 'datasets')).toEqual([]);
    expect(await fingerprint(corpus.dir)).toEqual(before);
  }, 120_000);
});

describe('the corrupt corpus through the serve host API', () => {
  let services: Services;
  let server: RunningServer;
  let ws: WebSocket;
  let nextId = 1;

  beforeAll(async () => {
    const rendererDir = join(root, 'renderer');
    mkdirSync(rendererDir, { recursive: true });
    writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Layerbench</title>');
    // The corpus' own data folder: hostile datasets, runs, autosave and recent list.
    services = createServices({ host: 'browser', dataDir: corpus.dataDir });
    server = await startServer({ services, rendererDir });
    ws = await new Promise<WebSocket>((resolve, reject) => {
      const socket = new WebSocket(`${server.origin.replace('http', 'ws')}/api?token=${server.token}`, { headers: { origin: server.origin } });
      socket.once('open', () => resolve(socket));
      socket.once('error', reject);
    });
  });
  afterAll(async () => {
    ws?.close();
    await server?.close();
    await services?.dispose();
  });

  function call(name: string, payload: unknown): Promise<{ ok: boolean; value?: unknown; error?: { code: string; message: string } }> {
    const id = nextId++;
    return new Promise((resolve) => {
      const onMessage = (data: Buffer) => {
        const frame = JSON.parse(data.toString());
        if (frame.kind === 'response' && frame.id === id) {
          ws.off('message', onMessage);
          resolve(frame.result);
        }
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ kind: 'request', id, name, payload }));
    });
  }

  it('answers each hostile request with a clear error, and still answers after each', async () => {
    const csv = (path: string) => ({ kind: 'csv', path, labelColumn: 0 });
    const importing = (source: unknown, n: number) => ['datasets.import', { importId: `hostile-${n}`, name: 'hostile', source, skipBad: false }] as const;
    const cases: [string, unknown, string, RegExp, string[]][] = [
      ['projects.open', { path: corpus.fifo }, corpus.fifo, NOT_A_FILE, ['unsupported']],
      ['projects.open', { path: corpus.devZeroLink }, corpus.devZeroLink, NOT_A_FILE, ['unsupported']],
      ['projects.open', { path: corpus.folder }, corpus.folder, NOT_A_FILE, ['unsupported']],
      ['projects.open', { path: corpus.sparse }, corpus.sparse, OVER_LIMIT, ['limit']],
      ['projects.open', { path: corpus.garbage }, corpus.garbage, /not valid JSON/, ['invalid-input']],
      ['datasets.scan', { source: csv(corpus.csv.longLine) }, corpus.csv.longLine, /line 1 is longer than/, ['limit']],
      ['datasets.scan', { source: csv(corpus.fifo) }, corpus.fifo, NOT_A_FILE, ['unsupported']],
      [...importing(csv(corpus.csv.longLine), 1), corpus.csv.longLine, /line 1 is longer than/, ['limit']],
      [...importing(csv(corpus.csv.longField), 2), corpus.csv.longField, /characters in all\), not a number/, ['invalid-input']],
      [...importing(csv(corpus.csv.binary), 3), corpus.csv.binary, /line 4/, ['invalid-input']],
      [...importing(csv(corpus.sparse), 4), corpus.sparse, /line 1 is longer than/, ['limit']],
      [...importing({ kind: 'idx', imagesPath: corpus.idx.bombHonest, labelsPath: corpus.idx.labels }, 5), corpus.idx.bombHonest, OVER_LIMIT, ['limit']],
      [...importing({ kind: 'idx', imagesPath: corpus.idx.bombLiar, labelsPath: corpus.idx.labels }, 6), corpus.idx.bombLiar, /its trailer declares/, ['invalid-input']],
      [...importing({ kind: 'image-folder', path: corpus.imageFolder, width: 8, height: 8 }, 7), corpus.images.hugeJpeg, /pixels/, ['limit']],
      ['datasets.preview', { id: 'user-holes-000001' }, 'x.bin', /size mismatch/, ['invalid-input']],
      ['datasets.preview', { id: 'user-pipe-000002' }, 'meta.json', NOT_A_FILE, ['unsupported']],
      ['runs.get', { runId: corpus.runs.zeroMetrics }, 'metrics.jsonl', NOT_A_FILE, ['unsupported']],
      // Plain errors today ('failed'); domain codes once the run store and ExportError carry them.
      ['runs.get', { runId: corpus.runs.pipeRunJson }, 'run.json', /named pipe/, ['failed', 'unsupported', 'invalid-input']],
      ['runs.import', { path: corpus.fifo }, corpus.fifo, NOT_A_FILE, ['unsupported']],
      ['runs.import', { path: corpus.sparse }, corpus.sparse, OVER_LIMIT, ['limit']],
      ['runs.import', { path: corpus.hugeManifest }, 'model.json', OVER_LIMIT, ['limit']],
      ['runs.import', { path: corpus.pipeWeights }, 'weights.bin', NOT_A_FILE, ['unsupported']],
      ['runs.import', { path: corpus.fakeH5 }, corpus.fakeH5, /HDF5/, ['failed', 'invalid-input']],
    ];
    for (const [name, payload, path, why, codes] of cases) {
      const started = performance.now();
      const result = await withBombCap(() => call(name, payload));
      expect(result.ok, `${name} ${quote(JSON.stringify(payload), 200)} was accepted`).toBe(false);
      expect(performance.now() - started).toBeLessThan(10_000);
      expectClear(result.error!.message, path);
      expect(result.error!.message).toMatch(why);
      expect(codes).toContain(result.error!.code);
      expect(await call('app.info', {})).toMatchObject({ ok: true });
    }
    // Reads that degrade instead of failing: the list shows what is unreadable, recovery finds nothing.
    expect(await call('projects.recovery', {})).toEqual({ ok: true, value: { recovery: null } });
    expect(await call('projects.recent', {})).toEqual({ ok: true, value: { projects: [] } });
    const datasets = (await call('datasets.list', {})) as { ok: true; value: { unreadable: { id: string }[] } };
    expect(datasets.value.unreadable.map((u) => u.id)).toEqual(['user-pipe-000002']);
    expect((await call('runs.list', {})).ok).toBe(true);
    noTempFolders(corpus.dataDir);
  }, 120_000);

  it('leaves every corpus file as it was', async () => {
    // runs.list and projects.recent may rewrite bookkeeping; the hostile inputs themselves are untouched.
    const after = await fingerprint(corpus.dir);
    for (const [path, print] of before) if (!path.startsWith(join(corpus.dataDir, 'runs', corpus.runs.zeroMetrics))) expect(after.get(path), path).toBe(print);
  });
});
