import { ConfigError } from '@rlhfjs/core';
import { resolveProcessGroupConfig } from './process_group_config';

const torchrun = { RANK: '1', WORLD_SIZE: '2', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29500', TORCHELASTIC_RUN_ID: 'job' };

describe('resolveProcessGroupConfig: store, protocol and secret source', () => {
  it("uses torchrun's agent store exactly when TORCHELASTIC_USE_AGENT_STORE says so", () => {
    expect(resolveProcessGroupConfig({ env: { ...torchrun, TORCHELASTIC_USE_AGENT_STORE: 'True' } }).store).toBe('torch');
    expect(resolveProcessGroupConfig({ env: { ...torchrun, TORCHELASTIC_USE_AGENT_STORE: 'False' } }).store).toBe('rlhfjs');
    expect(resolveProcessGroupConfig({ env: torchrun }).store).toBe('rlhfjs');
    expect(resolveProcessGroupConfig({ env: { ...torchrun, TORCHELASTIC_USE_AGENT_STORE: 'True' }, store: 'rlhfjs' }).store).toBe('rlhfjs');
  });

  it('reads the TCPStore protocol from options or RLHFJS_TORCH_STORE_PROTOCOL and refuses unknown ones', () => {
    expect(resolveProcessGroupConfig({ env: torchrun }).torchStoreProtocol).toBe('auto');
    expect(resolveProcessGroupConfig({ env: { ...torchrun, RLHFJS_TORCH_STORE_PROTOCOL: 'v1' } }).torchStoreProtocol).toBe('v1');
    expect(() => resolveProcessGroupConfig({ env: { ...torchrun, RLHFJS_TORCH_STORE_PROTOCOL: 'v9' } })).toThrow(ConfigError);
    expect(() => resolveProcessGroupConfig({ env: torchrun, store: 'redis' as never })).toThrow(/store must be 'rlhfjs' or 'torch', got "redis"/);
  });

  it('says where the secret came from (derived from the run id is the unsafe case)', () => {
    const derived = resolveProcessGroupConfig({ env: torchrun });
    expect(derived.secretSource).toBe('derived');
    expect(resolveProcessGroupConfig({ env: { ...torchrun, RLHFJS_DIST_SECRET: 'x' } })).toMatchObject({ secretSource: 'env', secret: 'x' });
    expect(resolveProcessGroupConfig({ env: torchrun, secret: 'y' })).toMatchObject({ secretSource: 'option', secret: 'y' });
    expect(resolveProcessGroupConfig({ env: { ...torchrun, RLHFJS_DIST_SECRET: '' } }).secretSource).toBe('derived');
    expect(() => resolveProcessGroupConfig({ env: torchrun, secret: '' })).toThrow(/secret must be a non-empty string/);
  });

  it('takes the engine from options, else RLHFJS_DIST_ENGINE, else auto, and refuses unknown ones naming the source', () => {
    expect(resolveProcessGroupConfig({ env: torchrun }).engine).toBe('auto');
    expect(resolveProcessGroupConfig({ env: { ...torchrun, RLHFJS_DIST_ENGINE: 'ring' } }).engine).toBe('ring');
    expect(resolveProcessGroupConfig({ env: { ...torchrun, RLHFJS_DIST_ENGINE: 'ring' }, engine: 'gloo' }).engine).toBe('gloo');
    expect(() => resolveProcessGroupConfig({ env: { ...torchrun, RLHFJS_DIST_ENGINE: 'nccl' } })).toThrow(/RLHFJS_DIST_ENGINE must be one of auto, gloo, ring, got "nccl"/);
    expect(() => resolveProcessGroupConfig({ env: torchrun, engine: 'mpi' as never })).toThrow(/engine must be one of auto, gloo, ring, got "mpi"/);
  });
});
