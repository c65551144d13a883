import { ConfigError } from '@rlhfjs/core';

/** Split on commas that are not inside brackets: `a[1-2,4],b` → [`a[1-2,4]`, `b`]. */
function splitTopLevel(list: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let index = 0; index < list.length; index += 1) {
    const character = list[index];
    if (character === '[') depth += 1;
    else if (character === ']') depth -= 1;
    else if (character === ',' && depth === 0) {
      parts.push(list.slice(start, index));
      start = index + 1;
    }
  }
  parts.push(list.slice(start));
  return parts.map((part) => part.trim()).filter((part) => part.length > 0);
}

/** Expand one bracket body `01-04,07` into its members, keeping zero padding (`01`, `02`, …). */
function expandRanges(body: string, nodelist: string): string[] {
  const members: string[] = [];
  for (const range of body.split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(range.trim());
    if (match === null) throw new ConfigError('expandSlurmNodelist', [`bad range "${range}" in "${nodelist}"`]);
    const first = match[1] as string;
    const last = match[2] ?? first;
    const width = first.length;
    const low = Number(first);
    const high = Number(last);
    if (high < low) throw new ConfigError('expandSlurmNodelist', [`descending range "${range}" in "${nodelist}"`]);
    for (let value = low; value <= high; value += 1) members.push(String(value).padStart(width, '0'));
  }
  return members;
}

function expandHost(pattern: string, nodelist: string): string[] {
  const open = pattern.indexOf('[');
  if (open < 0) return [pattern];
  const close = pattern.indexOf(']', open);
  if (close < 0) throw new ConfigError('expandSlurmNodelist', [`unclosed "[" in "${nodelist}"`]);
  const prefix = pattern.slice(0, open);
  const rest = expandHost(pattern.slice(close + 1), nodelist);
  const hosts: string[] = [];
  for (const member of expandRanges(pattern.slice(open + 1, close), nodelist)) {
    for (const suffix of rest) hosts.push(`${prefix}${member}${suffix}`);
  }
  return hosts;
}

/**
 * Expand a Slurm hostlist (`node[01-04,07],gpu-a[1-2]`) into host names in order, as `scontrol show hostnames`
 * prints them. Several bracket groups in one name (`rack[1-2]-n[1-2]`) expand as a cartesian product.
 */
export function expandSlurmNodelist(nodelist: string): string[] {
  return splitTopLevel(nodelist).flatMap((pattern) => expandHost(pattern, nodelist));
}
