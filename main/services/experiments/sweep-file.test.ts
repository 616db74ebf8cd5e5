/** Sweep files as users write them, and as hostile ones come: real files in a temporary folder. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DomainError } from '../../../contract/wire';
import { seedModel1 } from '../../../model/presets';
import { expandSweepFile, readSweepFile } from './sweep-file';
import { tinySettings, writeProject } from './test-support';

const dir = mkdtempSync(join(tmpdir(), 'layerbench-sweep-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'projects'));
writeProject(join(dir, 'projects'), 'base.layerbench.json', seedModel1, tinySettings);

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The error reading (and expanding) a sweep file gives. */
async function failure(path: string): Promise<DomainError> {
  try {
    expandSweepFile(await readSweepFile(path), 'sweep-test');
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    return error as DomainError;
  }
  throw new Error(`${path} was accepted`);
}

describe('sweep files', () => {
  it('reads the issue’s JSON form, the project relative to the sweep file', async () => {
    const path = write(
      'issue.json',
      JSON.stringify({
        project: 'projects/base.layerbench.json',
        seeds: 2,
        metric: 'val_accuracy',
        grid: { 'training.learningRate': [0.01, 0.05], 'layers[Dense].kernel_initializer': ['he_normal', 'glorot_uniform'] },
      }),
    );
    const loaded = await readSweepFile(path);
    expect(loaded.projectPath).toBe(join(dir, 'projects', 'base.layerbench.json'));
    expect(loaded.name).toBe('issue');
    const { arms, jobs } = expandSweepFile(loaded, 'sweep-test');
    expect(arms.map((a) => a.name)).toEqual([
      'lr=0.01 · kernel_initializer=he_normal',
      'lr=0.01 · kernel_initializer=glorot_uniform',
      'lr=0.05 · kernel_initializer=he_normal',
      'lr=0.05 · kernel_initializer=glorot_uniform',
    ]);
    expect(jobs).toHaveLength(8);
    expect(jobs.map((j) => j.seed)).toEqual([42, 43, 42, 43, 42, 43, 42, 43]);
  });

  it('reads the same sweep from YAML, with defaults for seeds and metric', async () => {
    const path = write(
      'sweep.yaml',
      [
        'name: he vs glorot',
        'project: projects/base.layerbench.json',
        'grid:',
        '  layers[Dense].kernel_initializer: [he_normal, glorot_uniform]',
        '  bn_position:',
        '    - before',
        '    - after',
      ].join('\n'),
    );
    const loaded = await readSweepFile(path);
    expect(loaded.file).toMatchObject({ seeds: 3, metric: 'val_accuracy', name: 'he vs glorot' });
    expect(expandSweepFile(loaded, 'sweep-test').jobs).toHaveLength(12);
  });

  it('refuses malformed files at the place of the problem', async () => {
    expect((await failure(write('bad.yaml', 'project: p.json\ngrid: [1, 2\nseeds: 2'))).message).toMatch(/bad\.yaml: not valid YAML \(.*line 3/);
    expect((await failure(write('dup.yaml', 'project: a\nproject: b\ngrid: {}'))).message).toMatch(/dup\.yaml: not valid YAML \(Map keys must be unique/);
    expect((await failure(write('bad.json', '{"project": '))).message).toMatch(/bad\.json: not valid JSON/);
    const typed = await failure(write('typed.json', JSON.stringify({ project: 'projects/base.layerbench.json', seeds: 'three', grid: {} })));
    expect(typed.message).toMatch(/typed\.json: invalid sweep file: seeds: .*expected number.*\(got 'three'\)/);
    const unknown = await failure(write('unknown.json', JSON.stringify({ project: 'projects/base.layerbench.json', grid: {}, epochs: 3 })));
    expect(unknown.message).toMatch(/unknown\.json: invalid sweep file: .*epochs/);
    const notList = await failure(write('notlist.json', JSON.stringify({ project: 'projects/base.layerbench.json', grid: { 'training.learningRate': 0.1 } })));
    expect(notList.message).toMatch(/grid\.training\.learningRate: .*expected array.*\(got 0\.1\)/);
  });

  it('names a grid path that names nothing, and lists what exists', async () => {
    const layer = await failure(write('layer.json', JSON.stringify({ project: 'projects/base.layerbench.json', grid: { 'layers[Conv2D].filters': [8] } })));
    expect(layer.message).toMatch(
      /layer\.json: grid key "layers\[Conv2D\]\.filters": the model has no Conv2D layer; its layers are 0: flatten \(Flatten\), 1: batch_normalization/,
    );
    const field = await failure(write('field.json', JSON.stringify({ project: 'projects/base.layerbench.json', grid: { 'layers[Dense].kernel_init': ['he_normal'] } })));
    expect(field.message).toMatch(/dense \(Dense\) has no field "kernel_init" a grid can vary; its fields are .*kernel_initializer/);
    const setting = await failure(write('setting.json', JSON.stringify({ project: 'projects/base.layerbench.json', grid: { 'training.lr': [0.1] } })));
    expect(setting.message).toMatch(/training has no setting "lr"; it has dataset, epochs, batchSize, learningRate/);
    const value = await failure(write('value.json', JSON.stringify({ project: 'projects/base.layerbench.json', grid: { 'training.learningRate': ['fast'] } })));
    expect(value.message).toMatch(/grid key "training\.learningRate": value 'fast' is refused: learningRate: .*expected number/);
    const init = await failure(write('init.json', JSON.stringify({ project: 'projects/base.layerbench.json', grid: { 'layers[Dense].kernel_initializer': ['he_normall'] } })));
    expect(init.message).toMatch(/unknown initializer 'he_normall' \(supported: GlorotUniform/);
    const key = await failure(write('key.json', JSON.stringify({ project: 'projects/base.layerbench.json', grid: { 'model.units': [1] } })));
    expect(key.message).toMatch(/grid key "model\.units": not a grid key; use training\.<setting>/);
  });

  it('refuses a grid over the run cap with a limit error, before expanding it', async () => {
    const values = Array.from({ length: 50 }, (_, i) => (i + 1) / 1000);
    const grid = {
      'training.learningRate': values,
      'training.batchSize': Array.from({ length: 50 }, (_, i) => i + 1),
      'layers[dense].units': Array.from({ length: 50 }, (_, i) => i + 1),
    };
    const error = await failure(write('huge.json', JSON.stringify({ project: 'projects/base.layerbench.json', seeds: 20, grid })));
    expect(error.code).toBe('limit');
    expect(error.message).toMatch(
      /the sweep has 2,500,000 runs \(50 \(training\.learningRate\) × 50 \(training\.batchSize\) × 50 \(layers\[dense\]\.units\) × 20 seeds\); a sweep holds at most 500/,
    );
  });

  it('refuses a missing or non-project project, a folder and an oversized file, naming the sweep file', async () => {
    const missing = await failure(write('missing.json', JSON.stringify({ project: 'nope.layerbench.json', grid: {} })));
    expect(missing.code).toBe('not-found');
    expect(missing.message).toMatch(/missing\.json: project: .*nope\.layerbench\.json/);
    const notProject = await failure(write('notproject.json', JSON.stringify({ project: 'notproject.json', grid: {} })));
    expect(notProject.message).toMatch(/notproject\.json: project: .*not a Layerbench project/);
    expect((await failure(join(dir, 'projects'))).code).toBe('unsupported');
    const big = await failure(write('big.yaml', `project: x\n#${'x'.repeat(1024 * 1024)}\n`));
    expect(big.code).toBe('limit');
  });

  it('does not expand YAML alias bombs', async () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      ...Array.from(
        { length: 8 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
            .fill(`*${String.fromCharCode(97 + i)}`)
            .join(', ')}]`,
      ),
    ].join('\n');
    const error = await failure(write('bomb.yaml', `${bomb}\nproject: x\ngrid: {}\n`));
    expect(error.message).toMatch(/bomb\.yaml: not valid YAML/);
  });
});
