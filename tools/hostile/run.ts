// `npm run hostile`: the project's hostile-input suite. Generated cases per area (safetensors, tokenizers, chat
// templates, datasets, ...) each run in a child process under a timeout and a heap limit; prints per area the cases
// tried / typed errors / crashes / hangs / data lost (and how many were accepted, and valid ones refused).
// Options: --area <name> (repeatable), --limit <n> cases per area, --seed <n>, --timeout-ms <n>, --verbose.
// Exits 1 when any case crashed, hung, lost data or a valid case was refused.
import { AREAS } from './areas';
import { runArea, type AreaSummary } from './run_cases';

function option(name: string): string[] {
  const values: string[] = [];
  process.argv.forEach((argument, index) => {
    if (argument === name && process.argv[index + 1] !== undefined) values.push(process.argv[index + 1] as string);
  });
  return values;
}

async function main(): Promise<void> {
  const wanted = option('--area');
  const unknown = wanted.filter((name) => !AREAS.some((area) => area.name === name));
  if (unknown.length > 0) throw new Error(`unknown area ${unknown.join(', ')}; the areas are: ${AREAS.map((area) => area.name).join(', ')}`);
  const limitText = option('--limit')[0];
  const seed = Number(option('--seed')[0] ?? 20261206);
  const timeoutMs = Number(option('--timeout-ms')[0] ?? 60_000);
  const verbose = process.argv.includes('--verbose');
  const summaries: AreaSummary[] = [];
  const pad = (text: string | number, width: number): string => String(text).padStart(width);
  console.log(`${'area'.padEnd(16)}${pad('tried', 7)}${pad('typed', 7)}${pad('crashes', 9)}${pad('hangs', 7)}${pad('lost', 6)}${pad('accepted', 10)}${pad('valid refused', 15)}`);
  for (const area of AREAS.filter((candidate) => wanted.length === 0 || wanted.includes(candidate.name))) {
    const summary = await runArea(area, { seed, limit: limitText === undefined ? undefined : Number(limitText), timeoutMs, maxOldSpaceMb: 2048 });
    summaries.push(summary);
    const { counts } = summary;
    console.log(`${area.name.padEnd(16)}${pad(summary.tried, 7)}${pad(counts.typed, 7)}${pad(counts.crash, 9)}${pad(counts.hang, 7)}${pad(counts.lost, 6)}${pad(counts.accepted, 10)}${pad(counts.refused_valid, 15)}`);
    for (const result of summary.results) {
      if (verbose || !['typed', 'accepted'].includes(result.outcome)) console.log(`  ${result.outcome.padEnd(13)} #${result.index} ${result.name}: ${result.detail}`);
    }
  }
  const failed = summaries.some(({ counts }) => counts.crash + counts.hang + counts.lost + counts.refused_valid > 0);
  process.exit(failed ? 1 : 0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(2);
});
