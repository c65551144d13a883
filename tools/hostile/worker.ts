// Child process of the hostile-input suite: runs cases [start, end) of one area, one after the other, and reports
// each on stdout as a line `@@hostile {json}` — `start` before it runs (so the parent can time it out and blame it
// for a crash), `done` with the outcome after.
// Usage: worker.ts <areas module> <area> <seed> <start> <end> <scratch directory>; the module exports `AREAS`.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RlhfError } from '@rlhfjs/core';
import type { HostileArea } from './hostile_area';
import { REPORT_PREFIX, type CaseOutcome } from './hostile_area';

async function main(): Promise<void> {
  const [areasModule, areaName, seedText, startText, endText, scratch] = process.argv.slice(2);
  const { AREAS } = (await import(areasModule as string)) as { AREAS: readonly HostileArea[] };
  const area = AREAS.find((candidate) => candidate.name === areaName);
  if (area === undefined || scratch === undefined) throw new Error(`worker: unknown area ${String(areaName)} or missing arguments`);
  const cases = area.cases(Number(seedText));
  const end = Math.min(cases.length, Number(endText));
  for (let index = Number(startText); index < end; index += 1) {
    const hostileCase = cases[index];
    if (hostileCase === undefined) break;
    const directory = join(scratch, String(index));
    rmSync(directory, { recursive: true, force: true });
    mkdirSync(directory, { recursive: true });
    for (const [name, content] of Object.entries(hostileCase.files)) writeFileSync(join(directory, name), content);
    process.stdout.write(`${REPORT_PREFIX}${JSON.stringify({ event: 'start', index })}\n`);
    let outcome: CaseOutcome;
    let detail: string;
    try {
      const problems = await area.attempt(directory, hostileCase);
      outcome = problems.length > 0 ? 'lost' : 'accepted';
      detail = problems.join('; ');
    } catch (error) {
      const typed = error instanceof RlhfError;
      outcome = typed ? 'typed' : 'crash';
      detail = error instanceof Error ? `${error.name}${typed ? ` ${error.code}` : ''}: ${error.message}` : String(error);
    }
    rmSync(directory, { recursive: true, force: true });
    process.stdout.write(`${REPORT_PREFIX}${JSON.stringify({ event: 'done', index, outcome, detail: detail.slice(0, 400) })}\n`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`worker: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
