/**
 * Writes a format's output files all-or-nothing: every file goes to a temp file beside its target
 * (flushed to disk) before any target is touched, then each temp file takes its target's name.
 * Without `force` an existing target is never replaced (the final step is a hard link, which fails
 * atomically when the name is taken). Any failure removes the temp files, and folders this call
 * created, and names the path that failed.
 */
import { link, lstat, mkdir, open, rename, rm, rmdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { describeFsError, writeTempBeside } from '../files/atomic';
import { ExportError } from './errors';

export interface OutputFile {
  path: string;
  data: string | Uint8Array;
}

const code = (e: unknown) => (e as NodeJS.ErrnoException)?.code;

function ioError(error: unknown, path: string): ExportError {
  if (error instanceof ExportError) return error;
  return new ExportError('io', describeFsError(error, path).message, path);
}

function existsError(path: string): ExportError {
  return new ExportError('exists', `${path} already exists (pass force / --force to replace it)`, path);
}

async function kindOf(path: string): Promise<'file' | 'folder' | null> {
  try {
    return (await lstat(path)).isDirectory() ? 'folder' : 'file';
  } catch (e) {
    if (code(e) === 'ENOENT' || code(e) === 'ENOTDIR') return null; // ENOTDIR: reported when its folder is created
    throw ioError(e, path);
  }
}

/** Refuses targets that exist (unless force) or are folders. */
export async function checkTargets(paths: readonly string[], force: boolean): Promise<void> {
  for (const path of paths) {
    const kind = await kindOf(path);
    if (kind === 'folder') throw new ExportError('io', `Cannot write ${path}: it is a folder`, path);
    if (kind === 'file' && !force) throw existsError(path);
  }
}

async function writeTemp(target: string, data: string | Uint8Array): Promise<string> {
  try {
    return await writeTempBeside(target, data);
  } catch (error) {
    throw ioError(error, target);
  }
}

/** Moves a temp file to its target; without force, fails if the target exists by then. */
async function commit(temp: string, target: string, force: boolean): Promise<void> {
  if (force) {
    await rename(temp, target);
    return;
  }
  try {
    await link(temp, target);
  } catch (e) {
    if (code(e) === 'EEXIST') throw existsError(target);
    // File systems without hard links: check, then rename (a narrow race, but no clobbering in practice).
    if (['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'].includes(code(e) ?? '')) {
      if ((await kindOf(target)) !== null) throw existsError(target);
      await rename(temp, target);
      return;
    }
    throw e;
  }
  await unlink(temp);
}

/**
 * Creates `folder` (and missing parents) and returns the topmost folder it created, or null when it
 * existed. Errors name `target`, the path the user asked for.
 */
export async function ensureFolder(folder: string, target: string): Promise<string | null> {
  try {
    return (await mkdir(folder, { recursive: true })) ?? null;
  } catch (e) {
    if (code(e) === 'EEXIST') throw new ExportError('io', `Cannot write ${target}: ${folder} is a file, not a folder`, target);
    throw new ExportError('io', describeFsError(e, target).message, target);
  }
}

/** Removes folders a failed export created (only if they are still empty). */
async function removeCreated(created: string | null, innermost: string): Promise<void> {
  if (!created) return;
  for (let dir = innermost; dir.length >= created.length; dir = dirname(dir)) {
    try {
      await rmdir(dir);
    } catch {
      return;
    }
    if (dir === created) return;
  }
}

/** Writes `files` all-or-nothing (see the module comment). Creates missing parent folders. */
export async function writeOutputs(files: readonly OutputFile[], options: { force?: boolean } = {}): Promise<void> {
  const force = options.force === true;
  await checkTargets(
    files.map((f) => f.path),
    force,
  );
  const folder = dirname(files[0]!.path);
  if (files.some((f) => dirname(f.path) !== folder)) throw new Error('writeOutputs: all files must be in one folder');
  const created = await ensureFolder(folder, files.length > 1 ? folder : files[0]!.path);
  const temps: string[] = [];
  const committed: string[] = [];
  try {
    for (const f of files) temps.push(await writeTemp(f.path, f.data));
    for (let i = 0; i < files.length; i++) {
      try {
        await commit(temps[i]!, files[i]!.path, force);
      } catch (e) {
        throw ioError(e, files[i]!.path);
      }
      committed.push(files[i]!.path);
    }
  } catch (error) {
    await Promise.all(temps.map((t) => rm(t, { force: true }).catch(() => {})));
    // Without force every committed file is new: removing it restores the folder as it was.
    if (!force) await Promise.all(committed.map((p) => rm(p, { force: true }).catch(() => {})));
    await removeCreated(created, folder);
    throw error;
  }
  try {
    const dir = await open(folder, 'r');
    await dir.sync().finally(() => dir.close());
  } catch {
    // Syncing a folder is best effort (not every platform allows it).
  }
}
