import { promises as fs } from 'fs';

/**
 * A named point where crash tests stop a process. When the environment variable `name` holds a file path, the
 * process writes its pid to that file and then waits forever, so a test can SIGKILL it at exactly this point (between
 * a write and its rename, after a checkpoint is moved to the trash…). Unset — always, outside tests — it returns at
 * once. Names in use: RLHFJS_TEST_PAUSE_BEFORE_SWAP (replaceDirectoryAtomic, the new folder written and fsynced,
 * not yet renamed in), RLHFJS_TEST_PAUSE_AFTER_RENAME (writeFilesInto, after the first file is renamed in),
 * RLHFJS_TEST_PAUSE_AFTER_TRASH (removeDirectoryAtomic, between the rename to trash and the removal).
 */
export async function crashPoint(name: string): Promise<void> {
  const marker = process.env[name];
  if (marker === undefined || marker === '') return;
  await fs.writeFile(marker, String(process.pid));
  await new Promise<void>(() => setInterval(() => undefined, 60_000)); // the timer keeps the process alive until killed
}
