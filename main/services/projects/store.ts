/**
 * Project files on disk, the recent-files list and the autosave used for crash recovery.
 * Opening never modifies the file; saving is atomic; a file from a newer Layerbench or a malformed
 * one gives an error that says which, and where.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { PROJECT_FORMAT, PROJECT_VERSION, ProjectSchema, RecentProjectSchema, RecoverySchema, type Project, type Recovery } from '../../../contract/projects';
import { formatIssues, type DomainErrorCode } from '../../../contract/wire';
import { writeFileAtomic } from '../files/atomic';
import { FileReadError, printable, readTextBounded } from '../files/bounded-read';

const MAX_RECENT = 10;
const MAX_PROJECT_BYTES = 32 * 1024 * 1024;

export class ProjectFileError extends Error {
  constructor(
    readonly path: string,
    message: string,
    readonly code: DomainErrorCode = 'invalid-input',
  ) {
    super(`${path}: ${message}`);
    this.name = 'ProjectFileError';
  }
}

/** Parses a project file's text, with errors that name the problem's place. */
export function parseProject(text: string, path: string): Project {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ProjectFileError(path, `not valid JSON (${printable((error as Error).message)})`);
  }
  const header = z.object({ format: z.string(), version: z.number() }).safeParse(json);
  if (!header.success || header.data.format !== PROJECT_FORMAT) {
    throw new ProjectFileError(path, `not a Layerbench project (expected "format": "${PROJECT_FORMAT}")`);
  }
  if (header.data.version > PROJECT_VERSION) {
    throw new ProjectFileError(
      path,
      `written by a newer Layerbench (project format version ${header.data.version}; this version reads up to ${PROJECT_VERSION}). Update Layerbench to open it; the file was not changed.`,
    );
  }
  const parsed = ProjectSchema.safeParse(json);
  if (!parsed.success) throw new ProjectFileError(path, `invalid project: ${formatIssues(parsed.error).join('; ')}`);
  return parsed.data;
}

export function serializeProject(project: Project): string {
  return `${JSON.stringify(ProjectSchema.parse(project), null, 2)}\n`;
}

export class ProjectStore {
  constructor(
    private readonly dataDir: string,
    /** The suggested projects folder: created when a project is first saved into it. */
    readonly projectsDir: string = join(dataDir, 'projects'),
  ) {}

  private get recentFile() {
    return join(this.dataDir, 'recent-projects.json');
  }
  private get autosaveFile() {
    return join(this.dataDir, 'autosave.json');
  }

  private checkPath(path: string): string {
    if (!isAbsolute(path)) throw new ProjectFileError(path, 'give the full path of the project file');
    return resolve(path);
  }

  async open(rawPath: string): Promise<{ path: string; project: Project }> {
    const path = this.checkPath(rawPath);
    let text: string;
    try {
      // A regular file only (a device or a pipe would be read without end), its size checked first.
      text = await readTextBounded(path, { maxBytes: MAX_PROJECT_BYTES, what: 'project file' });
    } catch (error) {
      if (error instanceof FileReadError) throw new ProjectFileError(path, error.problem, error.code);
      throw error;
    }
    const project = parseProject(text, path);
    await this.remember(path);
    return { path, project };
  }

  async save(rawPath: string, project: Project, overwrite: boolean): Promise<{ saved: true; path: string } | { saved: false; reason: 'exists'; path: string }> {
    const path = this.checkPath(rawPath);
    if (!overwrite && existsSync(path)) return { saved: false, reason: 'exists', path };
    if (dirname(path) === resolve(this.projectsDir)) await mkdir(this.projectsDir, { recursive: true });
    await writeFileAtomic(path, serializeProject(project));
    await this.remember(path);
    await this.discardRecovery();
    return { saved: true, path };
  }

  async recent(): Promise<{ path: string; openedAt: string }[]> {
    try {
      const parsed = z.array(RecentProjectSchema).safeParse(JSON.parse(await readTextBounded(this.recentFile)));
      // A damaged list is not worth an error: it is rebuilt as projects are opened.
      return parsed.success ? parsed.data : [];
    } catch {
      return [];
    }
  }

  private async remember(path: string): Promise<void> {
    const list = (await this.recent()).filter((p) => p.path !== path);
    list.unshift({ path, openedAt: new Date().toISOString() });
    await mkdir(this.dataDir, { recursive: true });
    await writeFileAtomic(this.recentFile, JSON.stringify(list.slice(0, MAX_RECENT), null, 2));
  }

  async autosave(project: Project, path: string | null): Promise<{ savedAt: string }> {
    const savedAt = new Date().toISOString();
    await mkdir(dirname(this.autosaveFile), { recursive: true });
    await writeFileAtomic(this.autosaveFile, JSON.stringify({ project, path, savedAt } satisfies Recovery));
    return { savedAt };
  }

  async recovery(): Promise<Recovery | null> {
    let text: string;
    try {
      text = await readTextBounded(this.autosaveFile, { what: 'autosave' });
    } catch {
      // Missing, or not a file one can read (a pipe, a device, too large): nothing to recover.
      return null;
    }
    try {
      const parsed = RecoverySchema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data;
    } catch {
      // fall through: keep the damaged autosave aside rather than lose it
    }
    await writeFileAtomic(`${this.autosaveFile}.damaged`, text);
    await rm(this.autosaveFile, { force: true });
    return null;
  }

  async discardRecovery(): Promise<{ discarded: boolean }> {
    const existed = existsSync(this.autosaveFile);
    await rm(this.autosaveFile, { force: true });
    return { discarded: existed };
  }
}
