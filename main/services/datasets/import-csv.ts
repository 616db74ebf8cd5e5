/**
 * CSV import: one sample per line, float32 features, one label column. Streams the file line by
 * line; a bad line (ragged, non-numeric) fails the import naming the line, or is skipped with skipBad.
 */
import type { ImportSource } from '../../../contract/datasets';
import type { ImportContext } from './context';
import { BadItemError, DatasetError } from './errors';
import { quote } from '../files/bounded-read';
import { parseNumber, readLines, resolveLayout, splitLine, type NumberedLine } from './csv';
import type { SampleWriter } from './writer';

type CsvSource = Extract<ImportSource, { kind: 'csv' }>;

/** Lines looked at to detect the delimiter (and shown by scan). */
export const SAMPLE_LINES = 11;

export async function importCsv(source: CsvSource, ctx: ImportContext, writer: SampleWriter): Promise<{ sampleShape: number[]; featureNames?: string[] }> {
  const file = source.path;
  const lines = readLines(file);
  try {
    const sample: NumberedLine[] = [];
    while (sample.length < SAMPLE_LINES) {
      const next = await lines.next();
      if (next.done) break;
      sample.push(next.value);
    }
    const layout = resolveLayout(file, sample, source);
    const { delimiter, labelIndex, columns } = layout;
    const columnCount = columns.length;
    const featureCount = columnCount - 1;
    const sampleShape = source.reshape ?? [featureCount];
    const product = sampleShape.reduce((a, b) => a * b, 1);
    if (product !== featureCount) {
      throw new DatasetError(
        file,
        `reshape [${sampleShape.join(', ')}] holds ${product} values, but each row has ${featureCount} features (${columnCount} columns minus the label column)`,
      );
    }
    const name = (i: number) => (layout.hasHeader ? `column ${quote(columns[i], 40)} (index ${i})` : `column ${i}`);
    const features = new Float32Array(featureCount);

    const handle = async ({ line, text }: NumberedLine): Promise<void> => {
      const cells = splitLine(text, delimiter);
      if (cells.length !== columnCount) {
        ctx.bad(new BadItemError(file, line, `ragged row: ${cells.length} columns, expected ${columnCount} as on line ${sample[0].line}`));
        return;
      }
      let f = 0;
      for (let i = 0; i < columnCount; i++) {
        if (i === labelIndex) continue;
        const value = parseNumber(cells[i]);
        if (Number.isNaN(value)) {
          ctx.bad(new BadItemError(file, line, `${name(i)} holds ${quote(cells[i].trim())}, not a number`));
          return;
        }
        // Stored as float32: 1e39 would become Infinity (and -1e39 -Infinity), which no model can train on.
        if (!Number.isFinite(Math.fround(value))) {
          ctx.bad(new BadItemError(file, line, `${name(i)} holds ${clip(cells[i].trim())}, beyond the float32 range (±3.4e38)`));
          return;
        }
        features[f++] = value;
      }
      const label = cells[labelIndex].trim();
      if (label === '') {
        ctx.bad(new BadItemError(file, line, `${name(labelIndex)} (the label) is empty`));
        return;
      }
      const flushing = writer.append(features, label);
      if (flushing) await flushing;
    };

    let done = 0;
    const rows = layout.hasHeader ? sample.slice(1) : sample;
    const process = async (line: NumberedLine) => {
      ctx.check();
      await handle(line);
      done++;
      ctx.progress('reading', done, null);
    };
    for (const line of rows) await process(line);
    for await (const line of lines) await process(line);
    return { sampleShape, ...(layout.hasHeader ? { featureNames: columns.filter((_, i) => i !== labelIndex) } : {}) };
  } finally {
    await lines.return(undefined);
  }
}

/** A number as written (digits, signs, a dot, an exponent: printable), cut short for a message. */
function clip(cell: string): string {
  return cell.length > 40 ? `${cell.slice(0, 40)}… (${cell.length} characters)` : cell;
}
