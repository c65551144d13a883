import { ConfigError } from '@rlhfjs/core';
import { launch, type LaunchOptions } from './launch';

const USAGE =
  'usage: rlhfjs-run --nproc-per-node N [--nnodes M --node-rank R --master-addr HOST --master-port PORT] ' +
  '[--run-id ID] [--grace-period-ms MS] -- program args…';

/** Parse `rlhfjs-run` arguments (`--flag value` or `--flag=value`, also torchrun's underscore spellings). */
export function parseLauncherArguments(argv: readonly string[]): LaunchOptions {
  const separator = argv.indexOf('--');
  const flags = separator < 0 ? argv : argv.slice(0, separator);
  const command = separator < 0 ? [] : argv.slice(separator + 1);
  const values = new Map<string, string>();
  const problems: string[] = [];
  for (let index = 0; index < flags.length; index += 1) {
    const flag = flags[index] as string;
    if (!flag.startsWith('--')) {
      problems.push(`unexpected argument "${flag}" (put the program after "--")`);
      continue;
    }
    const equals = flag.indexOf('=');
    const name = (equals < 0 ? flag.slice(2) : flag.slice(2, equals)).replace(/_/g, '-');
    const value = equals < 0 ? flags[++index] : flag.slice(equals + 1);
    if (value === undefined) problems.push(`--${name} needs a value`);
    else values.set(name, value);
  }
  const known = ['nproc-per-node', 'nnodes', 'node-rank', 'master-addr', 'master-port', 'run-id', 'grace-period-ms'];
  for (const name of values.keys()) if (!known.includes(name)) problems.push(`unknown flag --${name}`);
  const integer = (name: string): number | undefined => {
    const value = values.get(name);
    if (value === undefined) return undefined;
    if (!/^\d+$/.test(value)) problems.push(`--${name} must be a non-negative integer, got "${value}"`);
    return Number(value);
  };
  const options: LaunchOptions = {
    command,
    nprocPerNode: integer('nproc-per-node'),
    nnodes: integer('nnodes'),
    nodeRank: integer('node-rank'),
    masterAddr: values.get('master-addr'),
    masterPort: integer('master-port'),
    runId: values.get('run-id'),
    gracePeriodMs: integer('grace-period-ms'),
  };
  if (command.length === 0) problems.push('no program given after "--"');
  if (problems.length > 0) throw new ConfigError(`rlhfjs-run (${USAGE})`, problems);
  return options;
}

/** The `rlhfjs-run` command: launch, then exit with the code of the first failed rank (0 when all succeed). */
export async function runLauncherCli(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  let options: LaunchOptions;
  try {
    options = parseLauncherArguments(argv);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  const result = await launch(options);
  if (result.failedRank !== undefined) {
    process.stderr.write(`rlhfjs-run: rank ${result.failedRank} failed with exit code ${result.exitCode}; stopped the others\n`);
  }
  process.exit(result.exitCode);
}
