/** datasets.scan: a first look at a source, for the import form (columns, class folders, IDX shape). */
import type { ImportSource, SourceScan } from '../../../contract/datasets';
import { guessLabelColumn, readLines, resolveLayout, splitLine, suggestImageShape, type NumberedLine } from './csv';
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
      const dataRows = sample.slice(layout.hasHeader ? 1 : 0).map((l) => splitLine(l.text, layout.delimiter).map((c) => c.trim()));
      const rows = dataRows.slice(0, SCAN_ROWS);
      const suggestedLabelColumn = guessLabelColumn(layout.columns, dataRows, layout.hasHeader);
      const suggestedReshape = suggestImageShape(
        layout.columns.filter((_, i) => i !== suggestedLabelColumn),
        layout.hasHeader,
      );
      return {
        kind: 'csv',
        columns: layout.columns,
        headerDetected: layout.hasHeader,
        rows,
        delimiter: layout.delimiter,
        suggestedLabelColumn,
        ...(suggestedReshape ? { suggestedReshape } : {}),
      };
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
