/** The `layerbench` command line: headless access to the same services the app uses. */
import { UsageError, parseArgs } from './args';
import { serveCommand } from './serve';
import { summaryCommand } from './summary';
import { EXPORT_OPTIONS, EXPORT_USAGE, exportCommand } from './export';
import { TRAIN_OPTIONS, TRAIN_USAGE, trainCommand } from './train';
import { DATASETS_OPTIONS, DATASETS_USAGE, datasetsCommand } from './datasets';
import { RUNS_OPTIONS, RUNS_USAGE, runsCommand } from './runs';
import { SWEEP_OPTIONS, SWEEP_USAGE, sweepCommand } from './sweep';
import { AGENT_OPTIONS, AGENT_USAGE, agentCommand } from './agent';

const USAGE = () => `Usage: layerbench <command> [options]

Commands:
  serve [--port N] [--data-dir DIR]    open the app in a browser (prints a URL with an access token)
        [--root DIR]                   confine every path a client sends to DIR (default: anywhere)
        [--allow-host NAME[,NAME…]]    more Host names to accept (besides 127.0.0.1, localhost, [::1])
  summary <file> [--json]              Keras-style summary of a project file, a Keras .h5 model, a Keras
                                       model.to_json() file or a TF.js model.json (exit 1 when invalid)
  ${TRAIN_USAGE}
  ${SWEEP_USAGE}
  ${EXPORT_USAGE}
  ${DATASETS_USAGE}
  ${RUNS_USAGE}
  ${AGENT_USAGE}

Options:
  --help                               show this help
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === 'help') {
    process.stdout.write(USAGE());
    return command ? 0 : 2;
  }
  switch (command) {
    case 'serve':
      await serveCommand(parseArgs(rest, { port: 'string', 'data-dir': 'string', 'renderer-dir': 'string', 'dataset-url': 'string', root: 'string', 'allow-host': 'string' }));
      return -1; // keeps running
    case 'train':
      return trainCommand(parseArgs(rest, TRAIN_OPTIONS));
    case 'sweep':
      return sweepCommand(parseArgs(rest, SWEEP_OPTIONS));
    case 'export':
      return exportCommand(parseArgs(rest, EXPORT_OPTIONS));
    case 'datasets':
      return datasetsCommand(parseArgs(rest, DATASETS_OPTIONS));
    case 'runs':
      return runsCommand(parseArgs(rest, RUNS_OPTIONS));
    case 'agent':
      return agentCommand(parseArgs(rest, AGENT_OPTIONS));
    case 'summary':
      return summaryCommand(parseArgs(rest, { json: 'boolean' }));
    default:
      throw new UsageError(`Unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`layerbench: ${error.message}\n\n${USAGE()}`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`layerbench: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  },
);
