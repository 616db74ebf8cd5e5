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

/** Each command with its options; returns the exit code, or -1 for one that keeps running. */
const COMMANDS: Partial<Record<string, (rest: string[]) => Promise<number>>> = {
  serve: async (rest) => {
    await serveCommand(parseArgs(rest, { port: 'string', 'data-dir': 'string', 'renderer-dir': 'string', 'dataset-url': 'string', root: 'string', 'allow-host': 'string' }));
    return -1; // keeps running
  },
  train: (rest) => trainCommand(parseArgs(rest, TRAIN_OPTIONS)),
  sweep: (rest) => sweepCommand(parseArgs(rest, SWEEP_OPTIONS)),
  export: (rest) => exportCommand(parseArgs(rest, EXPORT_OPTIONS)),
  datasets: (rest) => datasetsCommand(parseArgs(rest, DATASETS_OPTIONS)),
  runs: (rest) => runsCommand(parseArgs(rest, RUNS_OPTIONS)),
  agent: (rest) => agentCommand(parseArgs(rest, AGENT_OPTIONS)),
  summary: (rest) => summaryCommand(parseArgs(rest, { json: 'boolean' })),
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === 'help') {
    process.stdout.write(USAGE());
    return command ? 0 : 2;
  }
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined; // not 'toString' and the like
  if (!run) throw new UsageError(`Unknown command "${command}"`);
  return run(rest);
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
