/**
 * What kind of file a user handed over, from its first bytes (magic numbers) and, for JSON, its
 * top-level keys — so a wrong file gets a message naming its type ("this is an ONNX file") instead
 * of a JSON parser's complaint about raw bytes.
 */
import { limit, LIMITS_ENV, openRegularFile } from './bounded-read';
import { extname } from 'node:path';

export type FileType = 'empty' | 'hdf5' | 'onnx' | 'keras-archive' | 'zip' | 'gzip' | 'png' | 'jpeg' | 'gif' | 'pdf' | 'idx' | 'json' | 'text' | 'binary';

const HEAD_BYTES = 4096;
const HDF5 = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

const startsWith = (head: Uint8Array, magic: readonly number[], at = 0) => head.length >= at + magic.length && magic.every((b, i) => head[at + i] === b);
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

/** Keys an ONNX ModelProto may write after ir_version (field 1): fields 2–8, 14, 20, 25 (onnx.proto). */
const ONNX_NEXT_KEYS = new Set([0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72, 0xa2, 0xca]);

/**
 * An ONNX model starts with ir_version (field 1, a varint: 0x08 and a version 1–15), then another
 * ModelProto field. Nothing else Layerbench meets starts that way.
 */
function looksLikeOnnx(head: Uint8Array): boolean {
  return head.length >= 3 && head[0] === 0x08 && head[1]! >= 1 && head[1]! <= 15 && ONNX_NEXT_KEYS.has(head[2]!);
}

/** Valid UTF-8 without NUL or other control bytes (tabs and line breaks aside); a cut last character is allowed. */
function looksLikeText(head: Uint8Array): boolean {
  for (const b of head) if (b === 0 || (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, Math.max(0, head.length - 3)));
    return true;
  } catch {
    return false;
  }
}

/** The type of the bytes at the start of a file (`name` helps tell a .keras archive from another zip). */
export function fileTypeOf(head: Uint8Array, name = ''): FileType {
  if (head.length === 0) return 'empty';
  if (startsWith(head, HDF5)) return 'hdf5';
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04])) {
    // A Keras 3 .keras archive holds metadata.json, config.json and model.weights.h5.
    const names = new TextDecoder('latin1').decode(head);
    return extname(name).toLowerCase() === '.keras' || /model\.weights\.h5|metadata\.json/.test(names) ? 'keras-archive' : 'zip';
  }
  if (startsWith(head, [0x1f, 0x8b])) return 'gzip';
  if (startsWith(head, [0x89, ...ascii('PNG')])) return 'png';
  if (startsWith(head, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(head, ascii('GIF8'))) return 'gif';
  if (startsWith(head, ascii('%PDF'))) return 'pdf';
  if (looksLikeOnnx(head)) return 'onnx';
  // IDX: two zero bytes, a type code (0x08 ubyte … 0x0e double) and the number of dimensions.
  if (head.length >= 4 && head[0] === 0 && head[1] === 0 && head[2]! >= 0x08 && head[2]! <= 0x0e && head[3]! >= 1 && head[3]! <= 4) return 'idx';
  if (looksLikeText(head)) {
    const first = new TextDecoder()
      .decode(head)
      .replace(/^\uFEFF/, '')
      .trimStart()[0];
    return first === '{' || first === '[' ? 'json' : 'text';
  }
  return 'binary';
}

/**
 * The type of the file at `path` (HDF5 also after a user block of 512, 1024, … bytes). Anything but
 * a regular file, or a file over $LAYERBENCH_MAX_FILE_BYTES, is refused (FileReadError) before a byte is read.
 */
export async function sniffFile(path: string, what = 'file'): Promise<FileType> {
  const { handle } = await openRegularFile(path, { maxBytes: limit('fileBytes'), limitEnv: LIMITS_ENV.fileBytes.name, what });
  try {
    const head = new Uint8Array(HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, HEAD_BYTES, 0);
    const type = fileTypeOf(head.subarray(0, bytesRead), path);
    // HDF5 allows a user block of any content before its signature (at 512, 1024, … bytes).
    if (type === 'hdf5') return type;
    const { size } = await handle.stat();
    for (let offset = 512; offset + 8 <= size; offset *= 2) {
      const probe = new Uint8Array(8);
      await handle.read(probe, 0, 8, offset);
      if (startsWith(probe, HDF5)) return 'hdf5';
    }
    return type;
  } finally {
    await handle.close();
  }
}

/**
 * Why a file of this type is not a model Layerbench reads, naming the type; null for the types that
 * may be one (HDF5, JSON).
 */
export function notAModelReason(type: FileType): string | null {
  switch (type) {
    case 'hdf5':
    case 'json':
      return null;
    case 'empty':
      return 'the file is empty';
    case 'onnx':
      return 'this is an ONNX file; Layerbench exports ONNX but does not import it (use the Keras .h5 or TF.js export of the same model)';
    case 'keras-archive':
      return "this is a Keras 3 .keras archive, which Layerbench does not read: save the model with model.save('model.h5') and use that";
    case 'zip':
      return 'this is a zip archive, not a model file';
    case 'gzip':
      return 'this is a gzip-compressed file, not a model file (gzipped IDX data is imported with `layerbench datasets import idx`)';
    case 'png':
    case 'jpeg':
    case 'gif':
      return `this is a ${type.toUpperCase()} image, not a model file (a folder of images is imported with \`layerbench datasets import image-folder\`)`;
    case 'pdf':
      return 'this is a PDF document, not a model file';
    case 'idx':
      return 'this is an IDX data file, not a model file (it is imported with `layerbench datasets import idx`)';
    case 'text':
      return 'this is a text file (CSV or other), not a model file (a CSV is imported with `layerbench datasets import csv`)';
    case 'binary':
      return 'this is a binary file of an unknown type, not a model file';
  }
}

/** What model files are accepted, for messages. */
export const MODEL_FILES = 'a Layerbench project, a Keras .h5 model, a Keras model.to_json() file or a TF.js model.json';
