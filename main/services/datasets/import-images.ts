/**
 * Image-folder import: `<folder>/<class>/<image>`; each PNG or JPEG is decoded, resized and stored
 * as uint8. Files whose format is not PNG/JPEG, or that fail to decode, are bad items.
 * Hidden entries (".DS_Store") are ignored, and so are files directly in the top folder and folders
 * inside a class folder.
 */
import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { ImportSource } from '../../../contract/datasets';
import type { ImportContext } from './context';
import { BadItemError, DatasetError } from './errors';
import { FileReadError, limit, LIMITS_ENV, readFileBounded } from '../files/bounded-read';
import { decodeImage, imageDimensions, sniffImage, toSample } from './images';
import type { SampleWriter } from './writer';

type FolderSource = Extract<ImportSource, { kind: 'image-folder' }>;

export interface ClassFolder {
  name: string;
  /** Full paths, sorted, hidden files left out. */
  files: string[];
}

/** The class sub-folders and their files; a missing or unreadable folder fails the whole source. */
export async function listClassFolders(folder: string): Promise<ClassFolder[]> {
  let entries;
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'not a folder' : (error as Error).message;
    throw new DatasetError(folder, `cannot read the image folder: ${why}`, { cause: error, code: code === 'ENOENT' ? 'not-found' : code === 'ENOTDIR' ? 'invalid-input' : 'io' });
  }
  const classes: ClassFolder[] = [];
  for (const entry of entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const dir = join(folder, entry.name);
    const files = (await readdir(dir, { withFileTypes: true }))
      // Links, pipes and devices too: each is read (a link to an image) or refused by name, never skipped unseen.
      .filter((f) => !f.isDirectory() && !f.name.startsWith('.'))
      .map((f) => f.name)
      .sort()
      .map((name) => join(dir, name));
    classes.push({ name: entry.name, files });
  }
  if (classes.length === 0) throw new DatasetError(folder, 'no class sub-folders: put the images of each class in a sub-folder named after the class');
  return classes;
}

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

export async function importImageFolder(source: FolderSource, ctx: ImportContext, writer: SampleWriter): Promise<{ sampleShape: number[] }> {
  const classes = await listClassFolders(source.path);
  const total = classes.reduce((n, c) => n + c.files.length, 0);
  const channels = source.color === 'rgb' ? 3 : 1;
  let done = 0;
  ctx.progress('reading', 0, total);
  for (const { name, files } of classes) {
    for (const file of files) {
      ctx.check();
      const sample = await readSample(file, source.width, source.height, channels, ctx);
      if (sample) {
        const flushing = writer.append(sample, name);
        if (flushing) await flushing;
      }
      ctx.progress('reading', ++done, total);
    }
  }
  return { sampleShape: [source.height, source.width, channels] };
}

async function readSample(file: string, width: number, height: number, channels: 1 | 3, ctx: ImportContext): Promise<Uint8Array | null> {
  let bytes: Uint8Array;
  try {
    bytes = await readFileBounded(file, { maxBytes: limit('fileBytes'), limitEnv: LIMITS_ENV.fileBytes.name, what: 'image file' });
  } catch (error) {
    const why = error instanceof FileReadError ? error.problem : (error as Error).message;
    ctx.bad(new BadItemError(file, undefined, `unreadable: ${why}`, { cause: error, code: (error as FileReadError).code ?? 'io' }));
    return null;
  }
  const kind = sniffImage(bytes);
  if (!kind) {
    const ext = extname(file).toLowerCase();
    const reason = IMAGE_EXTENSIONS.has(ext)
      ? `corrupt image: the content is not ${ext === '.png' ? 'PNG' : 'JPEG'} data`
      : `unsupported file${ext ? ` type ${ext}` : ''}: only PNG and JPEG images can be imported`;
    ctx.bad(new BadItemError(file, undefined, reason, { code: 'unsupported' }));
    return null;
  }
  // The size a decoder would allocate, from the header: a 0.4 MB file may declare 20000×20000.
  const maxPixels = limit('imagePixels');
  const size = imageDimensions(bytes, kind);
  if (size && size.width * size.height > maxPixels) {
    const reason = `the image is ${size.width}×${size.height} pixels (its header says), more than the limit of ${maxPixels.toLocaleString('en-US')} pixels (set ${LIMITS_ENV.imagePixels.name} to raise it)`;
    ctx.bad(new BadItemError(file, undefined, reason, { code: 'limit' }));
    return null;
  }
  try {
    const image = decodeImage(bytes, kind, maxPixels);
    if (image.width < 1 || image.height < 1) throw new Error('the image has no pixels');
    return toSample(image, width, height, channels);
  } catch (error) {
    ctx.bad(new BadItemError(file, undefined, `corrupt ${kind === 'png' ? 'PNG' : 'JPEG'} image: ${(error as Error).message}`, { cause: error, code: 'invalid-input' }));
    return null;
  }
}
