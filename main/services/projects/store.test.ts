import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultTrainingSettings, PROJECT_FORMAT, PROJECT_VERSION, type Project } from '../../../contract';
import { seedModel1 } from '../../../model/presets';
import { ProjectStore } from './store';

const dir = mkdtempSync(join(tmpdir(), 'layerbench-projects-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const project: Project = { format: PROJECT_FORMAT, version: PROJECT_VERSION, model: seedModel1, training: defaultTrainingSettings };

describe('ProjectStore', () => {
  const store = new ProjectStore(join(dir, 'data'));

  it('saves, reopens identically, and remembers recent files', async () => {
    const path = join(dir, 'mlp.layerbench.json');
    expect(await store.save(path, project, false)).toEqual({ saved: true, path });
    const opened = await store.open(path);
    expect(opened.project).toEqual(project);
    // The model inside is plain Keras topology JSON.
    expect(JSON.parse(readFileSync(path, 'utf8')).model.config.layers[2]).toMatchObject({ class_name: 'Dense', config: { units: 300 } });
    expect((await store.recent())[0]!.path).toBe(path);
  });

  it('opens a project saved before the test share and automatic BN features with their defaults; explicit choices are kept', async () => {
    const path = join(dir, 'older.layerbench.json');
    const { testSplit: _t, bnFeatures: _b, ...older } = defaultTrainingSettings;
    writeFileSync(path, JSON.stringify({ ...project, training: { ...older, normalization: 'none' } }));
    const { training } = (await store.open(path)).project;
    expect([training.testSplit, training.bnFeatures, training.normalization]).toEqual([0.1, null, 'none']);
    writeFileSync(path, JSON.stringify({ ...project, training: { ...older, testSplit: 0, bnFeatures: [0, 1, 2, 3] } }));
    expect((await store.open(path)).project.training).toMatchObject({ testSplit: 0, bnFeatures: [0, 1, 2, 3] });
  });

  it('does not overwrite an existing file without confirmation', async () => {
    const path = join(dir, 'keep.layerbench.json');
    writeFileSync(path, 'precious');
    expect(await store.save(path, project, false)).toEqual({ saved: false, reason: 'exists', path });
    expect(readFileSync(path, 'utf8')).toBe('precious');
    expect(await store.save(path, project, true)).toMatchObject({ saved: true });
  });

  it('refuses files from a newer Layerbench and malformed files, leaving them untouched', async () => {
    const newer = join(dir, 'newer.json');
    const text = JSON.stringify({ ...project, version: PROJECT_VERSION + 1 });
    writeFileSync(newer, text);
    await expect(store.open(newer)).rejects.toThrow(/newer Layerbench \(project format version 2; this version reads up to 1\)/);
    expect(readFileSync(newer, 'utf8')).toBe(text);

    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"format": "layerbench.project", ');
    await expect(store.open(broken)).rejects.toThrow(/broken\.json: not valid JSON/);

    const wrongField = join(dir, 'wrong.json');
    writeFileSync(wrongField, JSON.stringify({ ...project, training: { ...project.training, epochs: 0 } }));
    await expect(store.open(wrongField)).rejects.toThrow(/training\.epochs/);

    await expect(store.open(join(dir, 'missing.json'))).rejects.toThrow(/no such file/);
    await expect(store.open('relative.json')).rejects.toThrow(/full path/);
  });

  it('writes atomically: an unwritable folder gives a clear error and leaves no partial file', async () => {
    if (process.getuid?.() === 0) {
      // root ignores permission bits; a path through a file is unwritable for everyone.
      const file = join(dir, 'a-file');
      writeFileSync(file, '');
      await expect(store.save(join(file, 'x.json'), project, false)).rejects.toThrow(/Cannot write .*x\.json: a part of the path is not a folder/);
    } else {
      const locked = join(dir, 'locked');
      rmSync(locked, { recursive: true, force: true });
      mkdirSync(locked);
      chmodSync(locked, 0o500);
      await expect(store.save(join(locked, 'x.json'), project, false)).rejects.toThrow(/permission denied/);
      expect(readdirSync(locked)).toEqual([]);
    }
  });

  it('keeps an autosave for recovery until the project is saved', async () => {
    expect(await store.recovery()).toBeNull();
    await store.autosave(project, null);
    const recovered = await store.recovery();
    expect(recovered?.project).toEqual(project);
    expect(recovered?.path).toBeNull();
    await store.save(join(dir, 'saved.json'), project, true);
    expect(await store.recovery()).toBeNull();
  });

  it('sets a damaged autosave aside instead of losing it', async () => {
    const dataDir = join(dir, 'data2');
    const s = new ProjectStore(dataDir);
    await s.autosave(project, null);
    writeFileSync(join(dataDir, 'autosave.json'), '{"project": trunc');
    expect(await s.recovery()).toBeNull();
    expect(readFileSync(join(dataDir, 'autosave.json.damaged'), 'utf8')).toBe('{"project": trunc');
    expect(existsSync(join(dataDir, 'autosave.json'))).toBe(false);
  });
});

describe('the suggested projects folder', () => {
  it('is created on the first save into it, and only then', async () => {
    const projectsDir = join(dir, 'Layerbench');
    const store = new ProjectStore(join(dir, 'data3'), projectsDir);
    expect(existsSync(projectsDir)).toBe(false);
    const path = join(projectsDir, 'first.layerbench.json');
    expect(await store.save(path, project, false)).toEqual({ saved: true, path });
    await expect(store.save(join(dir, 'nowhere', 'x.json'), project, false)).rejects.toThrow(/folder does not exist/);
  });
});
