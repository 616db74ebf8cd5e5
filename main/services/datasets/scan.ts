/** datasets.scan: a first look at a source, for the import form (columns, class folders, IDX shape). */
import type { ImportSource, SourceScan } from '../../../contract/datasets';
import { readLines, resolveLayout, splitLine, type NumberedLine } from './csv';
import { listClassFolders } from './import-images';
import { readIdxPair } from './import-idx';
import { SAMPLE_LINES } from './import-csv';

/** Rows shown by a CSV scan (the contract allows 10). */
const SCAN_ROWS = 10;

export async function scanSource(source: ImportSource): Promise<SourceScan> {
  switch (source.kind) {
    case 'csv': {
      const sample: NumberedLine[] = [];
      for await (const line of readLines(source.path)) {
        sample.push(line);
        if (sample.length >= SAMPLE_LINES) break;
      }
      const layout = resolveLayout(source.path, sample, source);
      const rows = sample.slice(layout.hasHeader ? 1 : 0, (layout.hasHeader ? 1 : 0) + SCAN_ROWS).map((l) => splitLine(l.text, layout.delimiter).map((c) => c.trim()));
      return { kind: 'csv', columns: layout.columns, headerDetected: layout.hasHeader, rows, delimiter: layout.delimiter };
    }
    case 'image-folder': {
      const classes = await listClassFolders(source.path);
      return { kind: 'image-folder', classes: classes.map((c) => ({ name: c.name, files: c.files.length })) };
    }
    case 'idx': {
      const { count, sampleShape } = await readIdxPair(source);
      return { kind: 'idx', sampleShape, count };
    }
  }
}
