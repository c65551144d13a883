import type { ProcessGroupConfig } from './process_group_config';

let warned = false;

/** The warning a multi-rank job without `RLHFJS_DIST_SECRET` prints, or undefined when a secret was given. */
export function noSecretWarning(config: Pick<ProcessGroupConfig, 'secretSource' | 'worldSize' | 'runId'>): string | undefined {
  if (config.secretSource !== 'derived' || config.worldSize <= 1) return undefined;
  return [
    '',
    '*** @rlhfjs/dist WARNING: RLHFJS_DIST_SECRET is not set. ***',
    `*** The shared secret is derived from the run id "${config.runId}", which anyone can guess: whoever can reach`,
    '*** MASTER_PORT or a rank\'s data port can join the rendezvous, read the gradients and inject values.',
    '*** Set RLHFJS_DIST_SECRET to the same random value on every rank (rlhfjs-run does this on one node).',
    '',
  ].join('\n');
}

/** Print `noSecretWarning` to stderr, once per process. */
export function warnOnceWithoutSecret(config: Pick<ProcessGroupConfig, 'secretSource' | 'worldSize' | 'runId'>): void {
  const message = noSecretWarning(config);
  if (message === undefined || warned) return;
  warned = true;
  process.stderr.write(`${message}\n`);
}
