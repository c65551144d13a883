// The `rlhfjs` command line: `rlhfjs <command> [options]`. Usage and config errors print one line and exit 2;
// runtime errors print one line and exit 1; never a stack trace (set RLHFJS_DEBUG=1 to see one).
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, initBackend } from '@rlhfjs/core';
import { readConfigFile } from './config_file';
import { EVAL_OPTIONS, runEval } from './commands/eval_command';
import { GENERATE_OPTIONS, runGenerate } from './commands/generate_command';
import { DPO_OPTIONS, runDpo } from './commands/dpo_command';
import { MERGE_ADAPTER_OPTIONS, runMergeAdapter } from './commands/merge_adapter_command';
import { PPO_OPTIONS, runPpo } from './commands/ppo_command';
import { GRPO_OPTIONS, runGrpo } from './commands/grpo_command';
import { QUANTIZE_OPTIONS, runQuantize } from './commands/quantize_command';
import { REWARD_OPTIONS, runReward } from './commands/reward_command';
import { runSft, SFT_OPTIONS } from './commands/sft_command';
import { optionHelp, resolveCommandOptions, type OptionSpec, type OptionValues } from './option_spec';
import { cliVersionText } from './version';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const defaultIo: CliIo = { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) };

/** A failure with an exit code: 2 for usage/config errors, 1 for everything else. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
  if (error instanceof ConfigError) return 2;
  return 1;
}

/** One line for any error: ConfigError problem lists are joined with "; ". */
export function oneLineMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const lines = message.split('\n').map((line) => line.trim().replace(/^- /, '')).filter((line) => line !== '');
  const [head = 'unknown error', ...rest] = lines;
  return rest.length === 0 ? head : `${head} ${rest.join('; ')}`;
}

/** Hands the current command line to @rlhfjs/dist's launcher when `--nproc-per-node` > 1 and we are not a rank yet. */
async function launchRanks(argv: readonly string[], nprocPerNode: number): Promise<number> {
  const dist = await import('@rlhfjs/dist');
  const script = process.argv[1];
  if (typeof dist.launch !== 'function' || script === undefined) throw new ConfigError('--nproc-per-node', ['this build of @rlhfjs/dist has no launcher']);
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--nproc-per-node') i++;
    else if (!arg.startsWith('--nproc-per-node=')) rest.push(arg);
  }
  const result = await dist.launch({ command: [process.execPath, ...process.execArgv, script, ...rest], nprocPerNode });
  return result.exitCode;
}

type Runner = (options: OptionValues, io: CliIo) => Promise<void>;

function addCommand(program: Command, name: string, summary: string, specs: readonly OptionSpec[], run: Runner, state: { task: Promise<number> | null }, argv: readonly string[]): void {
  const command = program.command(name).description(summary).helpOption('-h, --help', 'show every option and its default');
  for (const spec of specs) command.addOption(new Option(spec.flag, optionHelp(spec)));
  command.action(async (cliValues: Record<string, unknown>) => {
    state.task = (async () => {
      const configFile = typeof cliValues['config'] === 'string' ? cliValues['config'] : undefined;
      const fileValues = configFile === undefined ? {} : await readConfigFile(configFile);
      const options = resolveCommandOptions(name, specs, cliValues, fileValues, configFile);
      const nproc = options['nprocPerNode'];
      if (typeof nproc === 'number' && nproc > 1 && process.env['WORLD_SIZE'] === undefined) return launchRanks(argv, nproc);
      await initBackend();
      await run(options, defaultIoRef.io);
      return 0;
    })();
    await state.task;
  });
}

const defaultIoRef: { io: CliIo } = { io: defaultIo };

/** Builds the program (exported for tests and for the help text). */
export function buildProgram(argv: readonly string[], state: { task: Promise<number> | null }, io: CliIo): Command {
  const program = new Command('rlhfjs')
    .description('Train language models with human feedback: SFT, reward models, PPO and DPO on TensorFlow.js.')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined });
  program.helpCommand(false);
  program.version(cliVersionText(), '-V, --version', 'print the versions of the CLI and of the @rlhfjs packages');
  addCommand(program, 'sft', 'supervised fine-tuning on {prompt, completion}, {messages} or {text} JSONL', SFT_OPTIONS, (options, cliIo) => runSft(options, cliIo.stdout), state, argv);
  addCommand(program, 'reward', 'train a reward model on {prompt, chosen, rejected} JSONL', REWARD_OPTIONS, (options, cliIo) => runReward(options, cliIo.stdout), state, argv);
  addCommand(program, 'dpo', 'direct preference optimisation on {prompt, chosen, rejected} JSONL', DPO_OPTIONS, (options, cliIo) => runDpo(options, cliIo.stdout), state, argv);
  addCommand(program, 'ppo', 'PPO against a reward model on {prompt} JSONL', PPO_OPTIONS, (options, cliIo) => runPpo(options, cliIo.stdout, cliIo.stderr), state, argv);
  addCommand(program, 'grpo', 'GRPO / RLOO / REINFORCE++ against a reward model or the gold scorer on {prompt} JSONL', GRPO_OPTIONS, (options, cliIo) => runGrpo(options, cliIo.stdout, cliIo.stderr), state, argv);
  addCommand(program, 'merge-adapter', 'merge a PEFT LoRA adapter into its base model and save the full model', MERGE_ADAPTER_OPTIONS, (options, cliIo) => runMergeAdapter(options, cliIo.stdout), state, argv);
  addCommand(program, 'quantize', "quantize a model's linear layers to 4 bits in memory and report memory and output drift (NF4/FP4)", QUANTIZE_OPTIONS, (options, cliIo) => runQuantize(options, cliIo.stdout), state, argv);
  addCommand(program, 'generate', 'generate completions for prompts with an HF model directory', GENERATE_OPTIONS, (options, cliIo) => runGenerate(options, cliIo.stdout), state, argv);
  addCommand(program, 'eval', "gold score of a model on the built-in task's held-out prompts", EVAL_OPTIONS, (options, cliIo) => runEval(options, cliIo.stdout), state, argv);
  return program;
}

/** Runs the CLI on `argv` (without node and the script); resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  defaultIoRef.io = io;
  const state: { task: Promise<number> | null } = { task: null };
  try {
    const program = buildProgram(argv, state, io);
    if (argv.length === 0) {
      io.stderr(program.helpInformation());
      return 2;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return state.task === null ? 0 : await state.task;
  } catch (error) {
    const code = exitCodeOf(error);
    if (code === 0) return 0;
    const message = oneLineMessage(error).replace(/^error: /, '');
    io.stderr(`error: ${message}\n`);
    if (process.env['RLHFJS_DEBUG'] === '1' && error instanceof Error && error.stack !== undefined) io.stderr(`${error.stack}\n`);
    return code;
  }
}

if (require.main === module) {
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`error: ${oneLineMessage(error)}\n`);
      process.exitCode = 1;
    },
  );
}
