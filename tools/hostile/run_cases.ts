import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPORT_PREFIX, type CaseOutcome, type CaseResult, type HostileArea, type HostileCase } from './hostile_area';

export interface RunAreaOptions {
  readonly seed: number;
  /** Run only the first `limit` cases of the area's list. */
  readonly limit?: number;
  /** Case indices to run (instead of the first `limit`). */
  readonly indices?: readonly number[];
  /** A case that reports nothing for this long is a hang; its child is killed. */
  readonly timeoutMs: number;
  /** Heap limit of each child, so a case that allocates without bound is a crash, not a machine out of memory. */
  readonly maxOldSpaceMb: number;
  /** The module (absolute path) whose `AREAS` the child looks the area up in; default `areas/index.ts`. */
  readonly areasModule?: string;
}

export interface AreaSummary {
  readonly area: string;
  readonly tried: number;
  readonly counts: Readonly<Record<CaseOutcome, number>>;
  readonly results: readonly CaseResult[];
}

const WORKER = join(__dirname, 'worker.ts');
const STARTUP_TIMEOUT_MS = 120_000;
const DEFAULT_AREAS_MODULE = join(__dirname, 'areas', 'index.ts');

/**
 * Runs the cases of one area in child processes, one case at a time: a child runs cases until one hangs (it is
 * killed after `timeoutMs`) or kills the child (a crash: a signal, an abort, the heap limit); a new child then goes
 * on with the next case. A case that should be refused but is accepted counts as data lost, and a valid case that
 * is refused as `refused_valid`.
 */
export async function runArea(area: HostileArea, options: RunAreaOptions): Promise<AreaSummary> {
  const cases = area.cases(options.seed);
  const chosen = options.indices ?? cases.slice(0, options.limit ?? cases.length).map((_, index) => index);
  const scratch = mkdtempSync(join(tmpdir(), 'rlhfjs-hostile-'));
  const results: CaseResult[] = [];
  try {
    // Contiguous runs of chosen indices go to one child each.
    let position = 0;
    while (position < chosen.length) {
      let end = position + 1;
      while (end < chosen.length && chosen[end] === (chosen[end - 1] as number) + 1) end += 1;
      const first = chosen[position] as number;
      const reported = await runChild(area, cases, first, (chosen[end - 1] as number) + 1, scratch, options);
      results.push(...reported);
      const last = reported.length === 0 ? first : (reported[reported.length - 1] as CaseResult).index;
      position = chosen.indexOf(last) + 1;
      if (reported.length === 0) throw new Error(`hostile: the child for area "${area.name}" reported nothing from case ${first}`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const counts: Record<CaseOutcome, number> = { typed: 0, accepted: 0, refused_valid: 0, crash: 0, hang: 0, lost: 0 };
  for (const result of results) counts[result.outcome] += 1;
  return { area: area.name, tried: results.length, counts, results };
}

/** Runs cases [start, end) in one child until it finishes, a case hangs or the child dies; returns what it reported. */
function runChild(area: HostileArea, cases: readonly HostileCase[], start: number, end: number, scratch: string, options: RunAreaOptions): Promise<CaseResult[]> {
  return new Promise((resolve) => {
    const results: CaseResult[] = [];
    const timeoutMs = Math.min(options.timeoutMs, area.timeoutMs ?? Number.POSITIVE_INFINITY);
    const child = spawn(
      process.execPath,
      [`--max-old-space-size=${options.maxOldSpaceMb}`, '--stack-size=984', '--import', 'tsx', WORKER, options.areasModule ?? DEFAULT_AREAS_MODULE, area.name, String(options.seed), String(start), String(end), scratch],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } },
    );
    let current: number | null = null;
    let timer: NodeJS.Timeout | null = null;
    let hung = false;
    let stderr = '';
    let pending = '';
    const arm = (milliseconds: number): void => {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(() => {
        hung = true;
        child.kill('SIGKILL');
      }, milliseconds);
    };
    const record = (index: number, outcome: CaseOutcome, detail: string): void => {
      const hostileCase = cases[index] as HostileCase;
      let final = outcome;
      if (outcome === 'accepted' && hostileCase.expect === 'refuse') final = 'lost';
      if (outcome === 'typed' && hostileCase.expect === 'accept') final = 'refused_valid';
      const note = final === 'lost' && detail.length === 0 ? 'a hostile input was accepted silently' : detail;
      results.push({ index, name: hostileCase.name, outcome: final, detail: note });
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline !== -1) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
        if (!line.startsWith(REPORT_PREFIX)) continue;
        const message = JSON.parse(line.slice(REPORT_PREFIX.length)) as { event: 'start' | 'done'; index: number; outcome?: CaseOutcome; detail?: string };
        if (message.event === 'start') {
          current = message.index;
          arm(timeoutMs);
        } else {
          record(message.index, message.outcome as CaseOutcome, message.detail ?? '');
          current = null;
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-2000);
    });
    // Start-up (compiling the TypeScript, loading tfjs) may be slow on a loaded machine; it gets its own bound.
    arm(Math.max(STARTUP_TIMEOUT_MS, options.timeoutMs));
    child.on('close', (code, signal) => {
      if (timer !== null) clearTimeout(timer);
      if (current !== null) {
        const tail = stderr.trim().split('\n').slice(-3).join(' | ');
        if (hung) record(current, 'hang', `no result after ${timeoutMs} ms`);
        else record(current, 'crash', `the child died (${signal ?? `exit ${String(code)}`}): ${tail}`);
      } else if (results.length === 0 && start < end) {
        // The child died before its first case: blame that case so the run goes on.
        record(start, hung ? 'hang' : 'crash', `the child did not start (${signal ?? `exit ${String(code)}`}): ${stderr.trim().slice(-300)}`);
      }
      resolve(results);
    });
  });
}
