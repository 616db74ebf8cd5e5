/**
 * A corpus of hostile inputs, generated (nothing large is committed): paths that are no regular
 * file (a FIFO, a folder, /dev/zero and a link to it), a 3 GiB file of holes, garbage, truncated
 * and wrong-magic IDX, gzip bombs (a huge declared size; a small declared size over a large
 * stream), PNG and JPEG headers declaring billions of pixels, binary and endless CSV lines, model
 * files that declare more weights than exist, and a data folder whose datasets, runs and autosave
 * are such files. Tests feed every reader with it (see bounded-read.hostile.test.ts); it is also a
 * script: `npx tsx main/services/files/corrupt-corpus.ts DIR` writes it into DIR.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, deflateSync, gzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { defaultTrainingSettings } from '../../../contract/training';
import { PROJECT_FORMAT, PROJECT_VERSION } from '../../../contract/projects';
import { seedModel1 } from '../../../model/presets';
import { toKerasTopology } from '../../../model';
import { RunStore } from '../runs/store';

export const DEV_ZERO = '/dev/zero';
/** The size of the file of holes: over every cap (2 GiB of binary data, 400 MiB of logs, 64 MiB of JSON). */
export const SPARSE_BYTES = 3 * 1024 ** 3;
/** $LAYERBENCH_MAX_FILE_BYTES under which the 16 MiB bombs are over the cap (a real 2 GiB bomb is slow to make). */
export const BOMB_TEST_CAP = 8 * 1024 ** 2;

export interface CorruptCorpus {
  dir: string;
  /** Not regular files: every reader must refuse these by kind, without opening them for reading. */
  fifo: string;
  folder: string;
  devZeroLink: string;
  /** 3 GiB of holes: refused by size, never read. */
  sparse: string;
  /** Random bytes, NULs included. */
  garbage: string;
  /**
   * bombHonest: 16 MiB of zeros in 16 KiB, its trailer true (over a cap lowered to 8 MiB, see
   * BOMB_TEST_CAP); bombDeclared: the same with a trailer declaring 4 GiB; bombLiar: declaring 1000 bytes.
   */
  idx: { truncated: string; hugeHeader: string; wrongMagic: string; bombHonest: string; bombDeclared: string; bombLiar: string; labels: string };
  /** `<imageFolder>/<class>/…`: one bad image of each kind, a FIFO and a link to /dev/zero, and good.png in each class. */
  imageFolder: string;
  images: { hugePng: string; hugeJpeg: string; garbagePng: string; truncatedPng: string };
  csv: { binary: string; longLine: string; longField: string };
  /** A folder with a model.json whose manifest declares 10 billion weights. */
  hugeManifest: string;
  /** A model.json naming a weights file that is a FIFO. */
  pipeWeights: string;
  /** The HDF5 signature, then garbage. */
  fakeH5: string;
  /** A project file that is a valid project, for contrast (readers must accept it). */
  goodProject: string;
  /** An app data folder: hostile datasets, runs, autosave and recent list. */
  dataDir: string;
  datasets: { hugeX: string; pipeMeta: string };
  runs: { pipeRunJson: string; zeroMetrics: string };
}

function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}

/** A well-formed PNG header declaring width × height gray pixels, over a little data. */
export function pngDeclaring(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit grayscale, deflate, no filter, no interlace
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(Buffer.alloc(400_000))), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A JPEG with a baseline start-of-frame declaring width × height, and nothing else. */
export function jpegDeclaring(width: number, height: number): Buffer {
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 8, height >> 8, height & 0xff, width >> 8, width & 0xff, 3, 1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), sof, Buffer.from([0xff, 0xd9])]);
}

function idxHeader(dims: number[]): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.set([0, 0, 0x08, dims.length]);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return header;
}

/** Gzip of `plain` with its trailer's declared size (ISIZE) replaced. */
function gzipDeclaring(plain: Buffer, declared: number): Buffer {
  const gz = gzipSync(plain);
  gz.writeUInt32LE(declared >>> 0, gz.length - 4);
  return gz;
}

/** Bytes that are no text: NULs, control characters, invalid UTF-8, deterministic. */
function garbageBytes(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** A TF.js model folder: seed model 1's model.json, whose manifest declares one kernel of `shape` in weights.bin (not written). */
async function seedModelFolder(folder: string, shape: number[]): Promise<string> {
  await mkdir(folder);
  await writeFile(
    join(folder, 'model.json'),
    JSON.stringify({
      format: 'layers-model',
      modelTopology: toKerasTopology(seedModel1),
      weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'dense/kernel', shape, dtype: 'float32' }] }],
    }),
  );
  return folder;
}

export async function writeCorruptCorpus(dir: string): Promise<CorruptCorpus> {
  await mkdir(dir, { recursive: true });
  const at = (...parts: string[]) => join(dir, ...parts);

  const fifo = at('pipe');
  execFileSync('mkfifo', [fifo]);
  const folder = at('a-folder.json');
  await mkdir(folder);
  const devZeroLink = at('zero.layerbench.json');
  await symlink(DEV_ZERO, devZeroLink);
  const sparse = at('holes.bin');
  await writeFile(sparse, '');
  await truncate(sparse, SPARSE_BYTES);
  const garbage = at('garbage.bin');
  await writeFile(garbage, garbageBytes(4096));

  const idx = {
    truncated: at('truncated-idx3-ubyte'),
    hugeHeader: at('huge-header-idx3-ubyte'),
    wrongMagic: at('wrong-magic-idx3-ubyte'),
    bombHonest: at('bomb-honest-idx3-ubyte.gz'),
    bombDeclared: at('bomb-declared-idx3-ubyte.gz'),
    bombLiar: at('bomb-liar-idx3-ubyte.gz'),
    labels: at('labels-idx1-ubyte'),
  };
  await writeFile(idx.truncated, Buffer.concat([idxHeader([1000, 28, 28]), Buffer.alloc(100)]));
  await writeFile(idx.hugeHeader, idxHeader([65535, 65535, 65535]));
  await writeFile(idx.wrongMagic, garbageBytes(64, 7));
  const zeros = Buffer.concat([idxHeader([16, 1024, 1024]), Buffer.alloc(16 * 1024 * 1024)]);
  await writeFile(idx.bombHonest, gzipSync(zeros));
  await writeFile(idx.bombDeclared, gzipDeclaring(zeros, 0xffff_fff0));
  await writeFile(idx.bombLiar, gzipDeclaring(zeros, 1000));
  await writeFile(idx.labels, Buffer.concat([idxHeader([16]), Buffer.from(Array.from({ length: 16 }, (_, i) => i % 2))]));

  const imageFolder = at('images');
  await mkdir(join(imageFolder, 'a'), { recursive: true });
  await mkdir(join(imageFolder, 'b'));
  const images = {
    hugePng: join(imageFolder, 'a', 'huge.png'),
    hugeJpeg: join(imageFolder, 'a', 'huge.jpg'),
    garbagePng: join(imageFolder, 'b', 'garbage.png'),
    truncatedPng: join(imageFolder, 'b', 'truncated.png'),
  };
  await writeFile(images.hugePng, pngDeclaring(20_000, 20_000));
  await writeFile(images.hugeJpeg, jpegDeclaring(60_000, 60_000));
  await writeFile(images.garbagePng, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), garbageBytes(2000, 3)]));
  await writeFile(images.truncatedPng, pngDeclaring(64, 64).subarray(0, 60));
  execFileSync('mkfifo', [join(imageFolder, 'b', 'pipe.png')]);
  // One good image per class, so an import that skips bad items succeeds and lists each reason.
  for (const name of ['a', 'b']) await writeFile(join(imageFolder, name, 'good.png'), PNG.sync.write(new PNG({ width: 4, height: 4 })));
  await symlink(DEV_ZERO, join(imageFolder, 'a', 'zero.png'));

  const csv = { binary: at('binary.csv'), longLine: at('long-line.csv'), longField: at('long-field.csv') };
  await writeFile(csv.binary, Buffer.concat([Buffer.from('label,x\n1,2\n0,3\n'), garbageBytes(3000, 5)]));
  // 2 MiB without a line break: over the 1 MiB line cap.
  await writeFile(csv.longLine, Buffer.alloc(2 * 1024 * 1024, '7'));
  // A 500,000-character field within the line cap: the error must quote ~80 characters of it.
  await writeFile(csv.longField, `label,x\n1,2\n0,${'\u0001x'.repeat(250_000)}\n`);

  const hugeManifest = await seedModelFolder(at('huge-model'), [100_000, 100_000]);
  await writeFile(join(hugeManifest, 'weights.bin'), Buffer.alloc(16));
  const pipeWeights = await seedModelFolder(at('pipe-model'), [784, 300]);
  execFileSync('mkfifo', [join(pipeWeights, 'weights.bin')]);
  const fakeH5 = at('fake.h5');
  await writeFile(fakeH5, Buffer.concat([Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]), garbageBytes(4000, 9)]));
  const goodProject = at('good.layerbench.json');
  await writeFile(goodProject, JSON.stringify({ format: PROJECT_FORMAT, version: PROJECT_VERSION, model: seedModel1, training: defaultTrainingSettings }));

  const dataDir = at('data');
  const datasets = { hugeX: join(dataDir, 'datasets', 'user-holes-000001'), pipeMeta: join(dataDir, 'datasets', 'user-pipe-000002') };
  await mkdir(datasets.hugeX, { recursive: true });
  await mkdir(datasets.pipeMeta);
  const summary = {
    id: 'user-holes-000001',
    name: 'holes',
    kind: 'csv',
    sampleShape: [4],
    count: 2,
    testCount: 0,
    classNames: ['0', '1'],
    dtype: 'float32',
    sizeBytes: 32,
    streamed: false,
    source: 'corpus',
    createdAt: new Date(0).toISOString(),
    skipped: 0,
  };
  await writeFile(join(datasets.hugeX, 'meta.json'), JSON.stringify({ formatVersion: 1, summary, classCounts: [1, 1], valueRange: { min: 0, max: 1 } }));
  await writeFile(join(datasets.hugeX, 'y.bin'), Buffer.from(new Int32Array([0, 1]).buffer));
  await writeFile(join(datasets.hugeX, 'x.bin'), '');
  await truncate(join(datasets.hugeX, 'x.bin'), SPARSE_BYTES);
  execFileSync('mkfifo', [join(datasets.pipeMeta, 'meta.json')]);

  const store = new RunStore(dataDir);
  const runs = { pipeRunJson: 'run-pipe', zeroMetrics: 'run-zero' };
  await mkdir(join(dataDir, 'runs', runs.pipeRunJson), { recursive: true });
  execFileSync('mkfifo', [join(dataDir, 'runs', runs.pipeRunJson, 'run.json')]);
  const writer = await store.create({ runId: runs.zeroMetrics, spec: seedModel1, settings: defaultTrainingSettings, backend: 'cpu' });
  await writer.setStatus('finished');
  const metrics = join(dataDir, 'runs', runs.zeroMetrics, 'metrics.jsonl');
  await rm(metrics, { force: true });
  await symlink(DEV_ZERO, metrics);
  execFileSync('mkfifo', [join(dataDir, 'autosave.json')]);
  await symlink(DEV_ZERO, join(dataDir, 'recent-projects.json'));

  return { dir, fifo, folder, devZeroLink, sparse, garbage, idx, imageFolder, images, csv, hugeManifest, pipeWeights, fakeH5, goodProject, dataDir, datasets, runs };
}

/**
 * What every entry under `dir` is, to compare before and after: content hashes of regular files
 * (up to 64 MiB; larger ones by size and time), kind and target of the rest. Nothing is opened
 * that is not a regular file.
 */
export async function fingerprint(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (folder: string): Promise<void> => {
    for (const name of (await readdir(folder)).sort()) {
      const path = join(folder, name);
      const info = await lstat(path);
      if (info.isDirectory()) {
        out.set(path, 'folder');
        await walk(path);
      } else if (info.isFile() && info.size <= 64 * 1024 ** 2)
        out.set(
          path,
          createHash('sha256')
            .update(await readFile(path))
            .digest('hex'),
        );
      else out.set(path, `${info.isFile() ? 'file' : info.isSymbolicLink() ? 'link' : info.isFIFO() ? 'fifo' : 'other'} ${info.size} ${info.mtimeMs}`);
    }
  };
  await walk(dir);
  return out;
}

// As a script: write the corpus into the folder given.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const target = process.argv[2];
  if (!target) {
    process.stderr.write('usage: npx tsx main/services/files/corrupt-corpus.ts DIR\n');
    process.exitCode = 2;
  } else {
    await writeCorruptCorpus(target);
    process.stdout.write(`corpus written to ${target}\n`);
  }
}
