/** `layerbench summary <file> [--json]`: Keras' model.summary() for a project, a Keras .h5 or a topology file. */
import { formatSummaryTable, summarize } from '../../model';
import { UsageError, type ParsedArgs } from './args';
import { readModelFile } from './model-file';

export async function summaryCommand(args: ParsedArgs): Promise<number> {
  const [file, ...extra] = args.positionals;
  if (!file || extra.length) throw new UsageError('summary takes exactly one file');
  const { spec } = await readModelFile(file);
  const summary = summarize(spec);
  if (args.flags.has('json')) {
    const json = {
      name: summary.name,
      layers: summary.layers.map((l) => ({
        name: l.name,
        class_name: l.class_name,
        output_shape: l.output_shape,
        params: l.params,
        trainable_params: l.trainable_params,
        non_trainable_params: l.non_trainable_params,
        ...(l.error ? { error: l.error } : {}),
      })),
      total: summary.total,
      trainable: summary.trainable,
      non_trainable: summary.non_trainable,
      valid: summary.valid,
      errors: summary.errors,
    };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    process.stdout.write(`${formatSummaryTable(summary)}\n`);
    for (const error of summary.errors) {
      process.stderr.write(`error: ${error.layerName || 'model'}${error.field ? `.${error.field}` : ''}: ${error.message}\n`);
    }
  }
  return summary.valid ? 0 : 1;
}
