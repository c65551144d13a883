import { join } from 'node:path';
import { AREAS } from './areas';
import { runArea } from './run_cases';

describe('hostile-input runner', () => {
  it('tells typed errors, hangs, crashes, data lost and false refusals apart, going on after each', async () => {
    const area = (await import('./runner_test_areas')).AREAS[0];
    if (area === undefined) throw new Error('no test area');
    const summary = await runArea(area, { seed: 1, timeoutMs: 3000, maxOldSpaceMb: 96, areasModule: join(__dirname, 'runner_test_areas.ts') });
    expect(summary.results.map((result) => [result.name, result.outcome])).toEqual([
      ['refused with a typed error', 'typed'],
      ['spins for ever', 'hang'],
      ['throws a TypeError', 'crash'],
      ['accepts a hostile input', 'lost'],
      ['allocates without bound', 'crash'],
      ['refuses a valid input', 'refused_valid'],
      ['reads back something else', 'lost'],
      ['accepts a valid input', 'accepted'],
    ]);
    expect(summary.counts).toEqual({ typed: 1, accepted: 1, refused_valid: 1, crash: 2, hang: 1, lost: 2 });
    expect(summary.results[2]?.detail).toMatch(/^TypeError: /);
  });

  // A handful of cases per area (the first ones: valid controls and the plainest hostile files); `npm run hostile`
  // runs them all.
  it.each(AREAS.map((area) => [area.name, area] as const))('area %s: refuses its first hostile cases with typed errors and keeps the valid ones', async (_, area) => {
    const summary = await runArea(area, { seed: 20261206, limit: 6, timeoutMs: 60_000, maxOldSpaceMb: 1024 });
    expect(summary.tried).toBe(6);
    expect(summary.counts.crash + summary.counts.hang + summary.counts.lost + summary.counts.refused_valid).toBe(0);
    expect(summary.counts.typed).toBeGreaterThan(0);
    expect(summary.counts.accepted).toBeGreaterThan(0);
  });

  // The configs area's first cases are GPT-2 config.json files; these add the other paths: another family, the
  // whole file, rope settings and --from-scratch options through createCausalLM.
  it('area configs: a handful of cases beyond GPT-2 end as typed errors or load and run', async () => {
    const area = AREAS.find((candidate) => candidate.name === 'configs');
    if (area === undefined) throw new Error('no configs area');
    const wanted = [
      'qwen3: valid control',
      'mistral: num_hidden_layers 1e6',
      'llama: rope_scaling yarn beta_fast -1',
      'config.json truncated in half',
      'from scratch: llama options, valid',
      'from scratch: qwen2 numLayers 1000000',
    ];
    const names = area.cases(20261206).map((hostileCase) => hostileCase.name);
    const indices = wanted.map((name) => names.indexOf(name)).sort((a, b) => a - b);
    expect(indices).not.toContain(-1);
    const summary = await runArea(area, { seed: 20261206, indices, timeoutMs: 60_000, maxOldSpaceMb: 1024 });
    const outcomes = Object.fromEntries(summary.results.map((result) => [result.name, result.outcome]));
    expect(outcomes).toEqual({
      'qwen3: valid control': 'accepted',
      'mistral: num_hidden_layers 1e6': 'typed',
      'llama: rope_scaling yarn beta_fast -1': 'typed',
      'config.json truncated in half': 'typed',
      'from scratch: llama options, valid': 'accepted',
      'from scratch: qwen2 numLayers 1000000': 'typed',
    });
  });

  // The dist wire area over real loopback sockets: the store server, a rank's data port while the group forms, and
  // collective arguments. 'add to the canary' lost the canary's value before the store refused non-counter adds.
  it('area dist wire: hostile store lines, handshakes, frames and collective arguments end as typed refusals, nothing lost', async () => {
    const area = AREAS.find((candidate) => candidate.name === 'dist wire');
    if (area === undefined) throw new Error('no dist wire area');
    const wanted = [
      'store: valid set/get/add/wait (control)',
      'store: JSON null',
      'store: add to the canary (a non-numeric value)',
      'peer: frame announcing 4 GB after the handshake',
      'collective: allReduce op "avg"',
      'store: bad HMAC, then a set of the canary',
      'store: a silent connection, never ended (handshake timeout)',
      'peer: hello with rank NaN (JSON text)',
    ];
    const names = area.cases(20261206).map((hostileCase) => hostileCase.name);
    // the area lists these first, so that one child runs them all
    expect(names.slice(0, wanted.length)).toEqual(wanted);
    const summary = await runArea(area, { seed: 20261206, limit: wanted.length, timeoutMs: 60_000, maxOldSpaceMb: 1024 });
    const outcomes = Object.fromEntries(summary.results.map((result) => [result.name, result.outcome]));
    expect(outcomes).toEqual(Object.fromEntries(wanted.map((name) => [name, name.includes('(control)') ? 'accepted' : 'typed'])));
    const details = Object.fromEntries(summary.results.map((result) => [result.name, result.detail]));
    expect(details['store: add to the canary (a non-numeric value)']).toMatch(/not an integer counter; left unchanged/);
    expect(details['peer: frame announcing 4 GB after the handshake']).toMatch(/formed and all-reduced correctly/);
    expect(details['collective: allReduce op "avg"']).toMatch(/^ConfigError CONFIG: allReduce \(rank 0\): op must be one of/);
  });
});
