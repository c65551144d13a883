import { ConfigError } from '@rlhfjs/core';
import { glooUnavailableReason, isGlooAvailable } from './gloo_addon';
import { GlooEngine } from './gloo_engine';
import type { GlooRendezvousStore } from './gloo_store_bridge';

/** Which collective engine a process group uses: `auto` takes Gloo when its addon is built, else the TCP ring. */
export type EngineChoice = 'auto' | 'gloo' | 'ring';

export const ENGINE_CHOICES: readonly EngineChoice[] = ['auto', 'gloo', 'ring'];

/** The engine choice of `option`, else `RLHFJS_DIST_ENGINE`, else `auto`; a value outside `ENGINE_CHOICES` is a ConfigError. */
export function resolveEngineChoice(option?: EngineChoice, env: Readonly<Record<string, string | undefined>> = process.env): EngineChoice {
  const value: string = option ?? env.RLHFJS_DIST_ENGINE ?? 'auto';
  if (!ENGINE_CHOICES.includes(value as EngineChoice)) {
    const source = option === undefined ? 'RLHFJS_DIST_ENGINE' : 'engine';
    throw new ConfigError('resolveEngineChoice', [`${source} must be one of ${ENGINE_CHOICES.join(', ')}, got "${value}"`]);
  }
  return value as EngineChoice;
}

export interface DefaultEngineSettings {
  readonly rank: number;
  readonly worldSize: number;
  /** Scope of Gloo's store keys: the run id and the restart count. */
  readonly runId: string;
  readonly restartCount: number;
  /** Address peers reach this rank at (the local address of the store connection). */
  readonly hostname: string;
  readonly timeoutMs: number;
  readonly collectiveTimeoutMs: number;
  readonly engine?: EngineChoice;
}

/**
 * The Gloo engine when it should carry this group's collectives (the default wherever the addon is built), or
 * undefined for the TCP ring: a one-rank group, `engine: 'ring'`, or `auto` without the addon. `engine: 'gloo'`
 * without the addon is a ConfigError saying why it is missing. Every rank must call this with the same choice,
 * over the store the ranks met through, before that store closes.
 */
export async function connectDefaultEngine(store: GlooRendezvousStore, settings: DefaultEngineSettings): Promise<GlooEngine | undefined> {
  const choice = resolveEngineChoice(settings.engine);
  if (choice === 'ring' || settings.worldSize === 1) return undefined;
  if (!isGlooAvailable()) {
    if (choice === 'gloo') {
      throw new ConfigError('connectDefaultEngine', [`engine 'gloo' was asked for but its addon is not available: ${glooUnavailableReason()}`]);
    }
    return undefined;
  }
  return GlooEngine.connect(store, {
    rank: settings.rank,
    worldSize: settings.worldSize,
    hostname: settings.hostname,
    keyPrefix: `gloo/${settings.runId}/${settings.restartCount}`,
    timeoutMs: settings.timeoutMs,
    collectiveTimeoutMs: settings.collectiveTimeoutMs,
  });
}
