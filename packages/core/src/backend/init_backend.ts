import * as tf from '@tensorflow/tfjs';
import { BackendError } from '../errors/errors';
import { setBackendCapabilities } from './capabilities';

/** The backends `initBackend()` knows, fastest first (DESIGN.md, "Tensor backend"). */
export const BACKEND_PREFERENCE = ['tensorflow-gpu', 'tensorflow', 'native', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_PREFERENCE)[number];

export interface InitBackendOptions {
  /** Force one backend; defaults to `process.env.RLHFJS_BACKEND`, then the fastest installed one. */
  backend?: string;
  /** Print which backend was chosen (default false). */
  verbose?: boolean;
}

interface Candidate {
  /** The tfjs backend name that loading the package registers. */
  readonly registeredAs: string;
  /** Loads the package; throws when it is not installed or cannot load. */
  readonly load: () => void;
  readonly fastBatchedMatMul: boolean;
  readonly fastScatter: boolean;
}

// Packages are required by computed names so that bundlers and the module-boundary lint do not treat the
// optional backends as dependencies of core.
function requireOptional(name: string): void {
  require(name);
}

const CANDIDATES: Record<BackendChoice, Candidate> = {
  'tensorflow-gpu': {
    registeredAs: 'tensorflow',
    load: () => requireOptional('@tensorflow/tfjs-node-gpu'),
    fastBatchedMatMul: true,
    fastScatter: true,
  },
  tensorflow: { registeredAs: 'tensorflow', load: () => requireOptional('@tensorflow/tfjs-node'), fastBatchedMatMul: true, fastScatter: true },
  native: {
    registeredAs: 'native',
    load: () => {
      requireOptional('@rlhfjs/native');
      if (tf.findBackendFactory('native') === null) throw new Error('@rlhfjs/native loaded but its addon is not built');
    },
    fastBatchedMatMul: true,
    fastScatter: true,
  },
  wasm: { registeredAs: 'wasm', load: () => requireOptional('@tensorflow/tfjs-backend-wasm'), fastBatchedMatMul: false, fastScatter: false },
  cpu: { registeredAs: 'cpu', load: () => undefined, fastBatchedMatMul: true, fastScatter: false },
};

function isBackendChoice(name: string): name is BackendChoice {
  return (BACKEND_PREFERENCE as readonly string[]).includes(name);
}

async function activate(choice: BackendChoice): Promise<string> {
  const candidate = CANDIDATES[choice];
  candidate.load();
  const ok = await tf.setBackend(candidate.registeredAs);
  if (!ok) throw new Error(`tf.setBackend('${candidate.registeredAs}') returned false`);
  await tf.ready();
  setBackendCapabilities(candidate.registeredAs, { fastBatchedMatMul: candidate.fastBatchedMatMul, fastScatter: candidate.fastScatter });
  return candidate.registeredAs;
}

/**
 * Picks the fastest installed backend in the order tfjs-node-gpu → tfjs-node → @rlhfjs/native → wasm → cpu,
 * activates it and returns its tfjs name. `RLHFJS_BACKEND=<name>` (or `options.backend`) forces one of
 * `tensorflow-gpu`, `tensorflow`, `native`, `wasm`, `cpu`, and fails with a `BackendError` when it cannot load.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<string> {
  const forced = options.backend ?? process.env['RLHFJS_BACKEND'];
  if (forced !== undefined && forced !== '') {
    const name = forced === 'node' ? 'tensorflow' : forced === 'node-gpu' ? 'tensorflow-gpu' : forced;
    if (!isBackendChoice(name)) {
      throw new BackendError(
        `initBackend: unknown backend "${forced}" (RLHFJS_BACKEND); expected one of ${BACKEND_PREFERENCE.join(', ')}`,
      );
    }
    try {
      const active = await activate(name);
      if (options.verbose === true) console.log(`[rlhfjs] backend: ${active} (forced)`);
      return active;
    } catch (error) {
      throw new BackendError(`initBackend: backend "${forced}" was requested but could not be loaded: ${String(error)}`, {
        cause: error,
      });
    }
  }
  const failures: string[] = [];
  for (const choice of BACKEND_PREFERENCE) {
    try {
      const active = await activate(choice);
      if (options.verbose === true) console.log(`[rlhfjs] backend: ${active}`);
      return active;
    } catch (error) {
      failures.push(`${choice}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
  }
  throw new BackendError(`initBackend: no backend could be loaded:\n  ${failures.join('\n  ')}`);
}
