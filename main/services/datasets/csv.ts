/**
 * CSV reading shared by scan and import: numbered lines streamed from disk (a 200 MB file is never
 * one string), field splitting with double quotes, and the delimiter, header and label-column rules.
 * One record is one line: quoted fields may hold delimiters but not line breaks.
 */
import { formatBytes, limit, LIMITS_ENV, openRegularFile, quote } from '../files/bounded-read';
import { asDatasetError, DatasetError } from './idx';

export type Delimiter = ',' | ';' | '\t';
const DELIMITERS: readonly Delimiter[] = [',', ';', '\t'];

export interface NumberedLine {
  /** 1-based line number in the file, counting blank lines too, so messages match an editor. */
  line: number;
  text: string;
}

const CHUNK_BYTES = 1 << 20;
const NEWLINE = 0x0a;

/**
 * Non-blank lines of a regular file, with their line numbers. Stops early when the consumer breaks.
 * A line longer than $LAYERBENCH_MAX_CSV_LINE_BYTES fails with its number, before it is held whole:
 * a file without line breaks never becomes one string.
 */
export async function* readLines(path: string, maxLineBytes = limit('csvLineBytes')): AsyncGenerator<NumberedLine> {
  let opened;
  try {
    opened = await openRegularFile(path, { maxBytes: Number.MAX_SAFE_INTEGER, what: 'CSV file' });
  } catch (error) {
    throw asDatasetError(error);
  }
  const { handle } = opened;
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  // Bytes of the line being read, decoded once whole: a UTF-8 character may straddle two chunks.
  let parts: Buffer[] = [];
  let partBytes = 0;
  let line = 0;
  const text = (bytes: Buffer): string => {
    const decoded = bytes.toString('utf8', 0, bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length);
    return line === 1 && decoded.charCodeAt(0) === 0xfeff ? decoded.slice(1) : decoded; // a BOM is not data
  };
  const tooLong = () =>
    new DatasetError(
      path,
      `line ${line + 1} is longer than ${formatBytes(maxLineBytes)} (set ${LIMITS_ENV.csvLineBytes.name} to raise the limit): not a CSV of one sample per line`,
      {
        code: 'limit',
      },
    );
  try {
    for (let position = 0; ;) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(chunk, 0, CHUNK_BYTES, position));
      } catch (error) {
        throw new DatasetError(path, `cannot read: ${(error as Error).message}`, { cause: error, code: 'io' });
      }
      if (bytesRead === 0) break;
      position += bytesRead;
      let start = 0;
      for (let end = chunk.indexOf(NEWLINE, 0); end !== -1 && end < bytesRead; end = chunk.indexOf(NEWLINE, start)) {
        if (partBytes + end - start > maxLineBytes) throw tooLong();
        const bytes = partBytes ? Buffer.concat([...parts, chunk.subarray(start, end)]) : chunk.subarray(start, end);
        parts = [];
        partBytes = 0;
        start = end + 1;
        line++;
        const value = text(bytes);
        if (value.trim() !== '') yield { line, text: value };
      }
      if (partBytes + bytesRead - start > maxLineBytes) throw tooLong();
      if (start < bytesRead) {
        parts.push(Buffer.from(chunk.subarray(start, bytesRead)));
        partBytes += bytesRead - start;
      }
    }
    if (partBytes > 0) {
      line++;
      const value = text(Buffer.concat(parts));
      if (value.trim() !== '') yield { line, text: value };
    }
  } finally {
    await handle.close();
  }
}

/** Splits one line into fields. Quoted fields ("a,b", "say ""hi""") lose their quotes; fields are not trimmed. */
export function splitLine(text: string, delimiter: Delimiter): string[] {
  if (!text.includes('"')) return text.split(delimiter);
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === delimiter) {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}

/**
 * The delimiter that splits the sample lines into the same number (> 1) of fields, preferring
 * more fields; ',' when none does (a one-column file).
 */
export function detectDelimiter(lines: readonly string[]): Delimiter {
  let best: Delimiter = ',';
  let bestFields = 1;
  for (const delimiter of DELIMITERS) {
    const counts = lines.map((text) => splitLine(text, delimiter).length);
    const fields = counts[0] ?? 1;
    if (fields > bestFields && counts.every((n) => n === fields)) {
      best = delimiter;
      bestFields = fields;
    }
  }
  return best;
}

/** A finite number written plainly: no empty cells, no "Infinity", no "0x1f". */
export function parseNumber(cell: string): number {
  const trimmed = cell.trim();
  if (trimmed === '' || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(trimmed)) return Number.NaN;
  return Number(trimmed);
}

export interface CsvLayout {
  delimiter: Delimiter;
  hasHeader: boolean;
  /** Header names, or `column 0…` without a header. */
  columns: string[];
  labelIndex: number;
}

/** Cell texts that name a label column: a first-row cell like these, new in its column, is a name. */
const LABEL_NAMES = /^(label|labels|class|classes|target|y|category)$/i;

/**
 * Whether the first sample line is a header, for header 'auto'. The rule looks at the sample
 * only, never at the label column, so a scan (before the user picks the label) and an import (after)
 * decide the same way. Column by column, a non-numeric first-row cell is
 *  - a name when every other sample value in that column is numeric ("pixel3" above numbers, or
 *    "label" above integer labels) → a header;
 *  - a value when it recurs among that column's other values (a class such as "cat") → data;
 *  - ambiguous otherwise (a text column, e.g. class names, whose first value is new).
 * Any name makes the row a header. With no name and no non-numeric cell at all, there is no header.
 * When every non-numeric cell is ambiguous, the row is a header only if it looks like one: an
 * ambiguous cell reads like a label column's name (label, class, target, y, …), or the numeric cells
 * are 0, 1, 2, … in order, the column names pandas writes for an unnamed frame (`df.to_csv(index=False)`
 * gives `0,1,2,label`; two numbers at least); else it is data (a class seen first on line 1). With no other lines to compare
 * with, any non-numeric cell makes a header.
 */
export function detectHeader(rows: readonly (readonly string[])[]): boolean {
  const [first, ...rest] = rows;
  if (!first) return false;
  const text = first.map((cell) => Number.isNaN(parseNumber(cell)));
  if (!text.some(Boolean)) return false;
  if (rest.length === 0) return true;
  let ambiguous = false;
  let value = false;
  for (let j = 0; j < first.length; j++) {
    if (!text[j]) continue;
    const others = rest
      .map((row) => row[j])
      .filter((cell): cell is string => cell !== undefined)
      .map((cell) => cell.trim());
    if (others.length > 0 && others.every((cell) => !Number.isNaN(parseNumber(cell)))) return true;
    if (others.includes(first[j].trim())) value = true;
    else ambiguous = true;
  }
  if (value || !ambiguous) return false;
  if (first.some((cell, j) => text[j] && LABEL_NAMES.test(cell.trim()))) return true;
  const numbers = first.filter((_, j) => !text[j]).map((cell) => cell.trim());
  return numbers.length >= 2 && numbers.every((cell, i) => cell === String(i));
}

/**
 * Decides delimiter, header and label column from the first lines. A label column given by name
 * needs a header holding that name; 'auto' decides by detectHeader (which ignores the label column).
 * Errors name the file and say what was found instead.
 */
export function resolveLayout(
  file: string,
  sample: readonly NumberedLine[],
  options: { delimiter: Delimiter | 'auto'; header: 'auto' | 'yes' | 'no'; labelColumn: string | number },
): CsvLayout {
  if (sample.length === 0) throw new DatasetError(file, 'no samples: the file is empty');
  const delimiter = options.delimiter === 'auto' ? detectDelimiter(sample.map((l) => l.text)) : options.delimiter;
  const first = splitLine(sample[0].text, delimiter).map((cell) => cell.trim());
  const { labelColumn } = options;
  let labelIndex: number;
  let hasHeader: boolean;
  if (typeof labelColumn === 'string') {
    if (options.header === 'no')
      throw new DatasetError(file, `the label column ${quote(labelColumn)} is given by name, but the file is read without a header: give its 0-based index instead`);
    labelIndex = first.indexOf(labelColumn.trim());
    if (labelIndex === -1) {
      throw new DatasetError(
        file,
        `line ${sample[0].line}: no column named ${quote(labelColumn)} in the header (columns: ${first
          .slice(0, 20)
          .map((c) => quote(c, 40))
          .join(', ')}${first.length > 20 ? `, … ${first.length} in all` : ''})`,
        { code: 'invalid-input' },
      );
    }
    hasHeader = true;
  } else {
    labelIndex = labelColumn;
    hasHeader = options.header === 'yes' || (options.header === 'auto' && detectHeader(sample.map((l) => splitLine(l.text, delimiter).map((cell) => cell.trim()))));
  }
  if (labelIndex >= first.length) {
    throw new DatasetError(
      file,
      `line ${sample[0].line}: label column ${labelIndex} does not exist: the row has ${first.length} columns (0..${first.length - 1}, delimiter ${describeDelimiter(delimiter)})`,
    );
  }
  if (first.length < 2)
    throw new DatasetError(file, `line ${sample[0].line}: only one column (delimiter ${describeDelimiter(delimiter)}): a label and at least one feature are needed`);
  const columns = hasHeader ? first : first.map((_, i) => `column ${i}`);
  return { delimiter, hasHeader, columns, labelIndex };
}

export function describeDelimiter(delimiter: Delimiter): string {
  return delimiter === '\t' ? 'tab' : `"${delimiter}"`;
}

/**
 * The label column a CSV import starts with: the one column whose values include text (iris'
 * species), else the first column named like a label (label, class, target, y, …), else the last
 * column (scikit-learn's and most tabular files' convention). `rows` are data rows, header excluded.
 */
export function guessLabelColumn(columns: readonly string[], rows: readonly (readonly string[])[], hasHeader: boolean): number {
  const text = columns.map((_, j) => rows.some((row) => row[j] !== undefined && Number.isNaN(parseNumber(row[j]))));
  if (text.filter(Boolean).length === 1) return text.indexOf(true);
  const named = hasHeader ? columns.findIndex((name) => LABEL_NAMES.test(name.trim())) : -1;
  return named >= 0 ? named : columns.length - 1;
}

/** The smallest side worth offering as an image: 8×8 (scikit-learn's digits); 4 iris features are not a 2×2 picture. */
const MIN_IMAGE_SIDE = 8;

/**
 * A square image shape for the features, when they look like pixels: a square count of at least
 * 8×8, and no header or a header of numbered names with one prefix (p0…p783, pixel1…, 0…). Named
 * measurements (sepal_length, …) are tabular data: nothing is suggested.
 */
export function suggestImageShape(featureNames: readonly string[], hasHeader: boolean): number[] | undefined {
  const side = Math.sqrt(featureNames.length);
  if (!Number.isInteger(side) || side < MIN_IMAGE_SIDE) return undefined;
  if (hasHeader) {
    const prefixes = new Set(featureNames.map((name) => /^(\D*?)_?\d+$/.exec(name.trim())?.[1]?.toLowerCase() ?? null));
    if (prefixes.size !== 1 || prefixes.has(null)) return undefined;
  }
  return [side, side];
}
