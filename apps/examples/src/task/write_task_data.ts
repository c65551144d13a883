import { writeFileAtomic } from '@rlhfjs/core';
import { promises as fs } from 'fs';
import * as path from 'path';
import { TASK_DATA_FILES, toJsonl, type TaskData } from './task_data';

/** Writes every split as JSONL plus `summary.json` into a directory; returns the paths written. */
export async function writeTaskData(directory: string, data: TaskData): Promise<string[]> {
  await fs.mkdir(directory, { recursive: true });
  const files: [string, string][] = [
    [TASK_DATA_FILES.sftTrain, toJsonl(data.sftTrain)],
    [TASK_DATA_FILES.sftHeldout, toJsonl(data.sftHeldout)],
    [TASK_DATA_FILES.preferenceTrain, toJsonl(data.preferenceTrain)],
    [TASK_DATA_FILES.preferenceHeldout, toJsonl(data.preferenceHeldout)],
    [TASK_DATA_FILES.promptTrain, toJsonl(data.promptTrain)],
    [TASK_DATA_FILES.promptHeldout, toJsonl(data.promptHeldout)],
    [TASK_DATA_FILES.summary, `${JSON.stringify(data.summary, null, 2)}\n`],
  ];
  const written: string[] = [];
  for (const [name, text] of files) {
    const file = path.join(directory, name);
    await writeFileAtomic(file, text);
    written.push(file);
  }
  return written;
}
