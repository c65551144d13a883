// Shared by the CLI integration tests: the tiny model they train, where the repository and tokenizer are, and the
// CLI run in a child process or in this process.
import { spawnSync } from 'child_process';
import * as path from 'path';
import type { ModelConfigOptions } from '@rlhfjs/core';
import { runCli } from '../../src/cli/main';
import { TASK_VOCAB_SIZE } from '../../src/task/task_tokenizer';

/** A tiny GPT-2 over the committed task tokenizer (vocab TASK_VOCAB_SIZE): 1 block of width `hiddenSize`. */
export function tinyConfig(hiddenSize = 32): ModelConfigOptions {
  return { modelType: 'gpt2', vocabSize: TASK_VOCAB_SIZE, hiddenSize, numLayers: 1, numHeads: 2, maxPositions: 128, tieWordEmbeddings: true, bosTokenId: 0, eosTokenId: 0, padTokenId: 1 };
}

export const repoRoot = path.join(__dirname, '..', '..', '..', '..');
export const tokenizerAssets = path.join(__dirname, '..', '..', 'assets', 'tokenizer');

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The CLI in a child process on the cpu backend (60 s limit). */
export function cli(args: string[]): CliResult {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'apps/examples/src/cli/main.ts', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, RLHFJS_BACKEND: 'cpu' },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The same CLI in this process (for usage and config errors, which never reach a backend): no child start-up cost. */
export async function cliInProcess(args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const status = await runCli(args, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
  return { status, stdout, stderr };
}
