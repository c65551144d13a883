/**
 * Crash-safe writes. A file is written to a temporary sibling, fsynced and renamed over the final name, so a
 * reader (or a process restarted after a crash) sees the old complete file or the new complete one, never a
 * torn one. A directory is built in a temporary sibling and swapped in by two renames; an interrupted swap is
 * repaired the next time the same directory is replaced (or by `recoverInterruptedDirectorySwap`).
 */
import { randomBytes } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';
import { CheckpointError, RlhfError } from '../errors/errors';
import { crashPoint } from './crash_point';

/** Writes `data` to `filePath` atomically (temp file in the same directory, fsync, rename, fsync directory). */
export async function writeFileAtomic(filePath: string, data: string | Uint8Array): Promise<void> {
  await writeFileAtomicWith(filePath, async (handle) => {
    await handle.writeFile(data);
  });
}

/**
 * Like `writeFileAtomic`, for content written piece by piece: `write` receives an open handle to the temporary
 * file. When `write` throws, the temporary file is removed and the final file is left untouched.
 */
export async function writeFileAtomicWith(
  filePath: string,
  write: (handle: fs.FileHandle) => Promise<void>,
): Promise<void> {
  const directory = path.dirname(filePath);
  const temporary = path.join(directory, `.${path.basename(filePath)}.tmp-${process.pid}-${randomSuffix()}`);
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(temporary, 'wx');
    await write(handle);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(temporary, filePath);
  } catch (cause) {
    await handle?.close().catch(() => undefined);
    await fs.rm(temporary, { force: true }).catch(() => undefined);
    if (cause instanceof CheckpointError) throw cause;
    throw new CheckpointError(`writeFileAtomic: cannot write ${filePath} (${(cause as Error).message})`, { cause });
  }
  await syncDirectory(directory);
  await removeDeadTemporaryFiles(directory, path.basename(filePath));
}

/** Temporary files of `name` left by processes killed mid-write. */
async function removeDeadTemporaryFiles(directory: string, name: string): Promise<void> {
  const pattern = new RegExp(`^\\.${escapeRegExp(name)}\\.tmp-(\\d+)-[0-9a-f]+$`);
  for (const sibling of await fs.readdir(directory).catch(() => [] as string[])) {
    const match = pattern.exec(sibling);
    if (match && Number(match[1]) !== process.pid && !isInUse(sibling, Number(match[1]))) {
      await fs.rm(path.join(directory, sibling), { force: true });
    }
  }
}

/**
 * Replaces the directory `finalDirectory` with one that `fill` builds in a temporary sibling.
 *
 * Sequence: repair leftovers of an earlier interrupted swap → create `<name>.tmp-<pid>-<random>` → `fill` →
 * fsync every file and directory in it → rename the old directory to `<name>.old-<pid>-<random>` → rename the new one to
 * `<name>` → fsync the parent → remove the old one. A crash during `fill` leaves the old directory untouched;
 * a crash between the two renames leaves `<name>` missing and `<name>.old-<pid>`, which the next call (or
 * `recoverInterruptedDirectorySwap`) renames back. POSIX has no portable atomic directory exchange, so a
 * concurrent reader can find `<name>` missing for the instant between the two renames.
 */
export async function replaceDirectoryAtomic(
  finalDirectory: string,
  fill: (temporaryDirectory: string) => Promise<void>,
): Promise<void> {
  const finalPath = path.resolve(finalDirectory);
  const parent = path.dirname(finalPath);
  const name = path.basename(finalPath);
  await fs.mkdir(parent, { recursive: true });
  await recoverInterruptedDirectorySwap(finalPath);

  const temporary = path.join(parent, `${name}.tmp-${process.pid}-${randomSuffix()}`);
  const old = path.join(parent, `${name}.old-${process.pid}-${randomSuffix()}`);
  swapsInProgress.add(temporary);
  swapsInProgress.add(old);
  try {
    await swapIn(finalPath, temporary, old, fill);
  } finally {
    swapsInProgress.delete(temporary);
    swapsInProgress.delete(old);
  }
}

async function swapIn(
  finalPath: string,
  temporary: string,
  old: string,
  fill: (temporaryDirectory: string) => Promise<void>,
): Promise<void> {
  await fs.mkdir(temporary);
  try {
    await fill(temporary);
    await syncTree(temporary);
    await crashPoint('RLHFJS_TEST_PAUSE_BEFORE_SWAP');
  } catch (cause) {
    await fs.rm(temporary, { recursive: true, force: true }).catch(() => undefined);
    throw cause;
  }

  const hadOld = await exists(finalPath);
  if (hadOld) await fs.rename(finalPath, old);
  try {
    await fs.rename(temporary, finalPath);
  } catch (cause) {
    if (hadOld) await fs.rename(old, finalPath).catch(() => undefined);
    await fs.rm(temporary, { recursive: true, force: true }).catch(() => undefined);
    throw new CheckpointError(`replaceDirectoryAtomic: cannot move the new ${finalPath} into place (${(cause as Error).message})`, {
      cause,
    });
  }
  await syncDirectory(path.dirname(finalPath));
  if (hadOld) await fs.rm(old, { recursive: true, force: true });
}

/**
 * Repairs what an interrupted `replaceDirectoryAtomic` of `finalDirectory` left behind, for processes that are no
 * longer running: when the directory is missing, the newest `<name>.old-<pid>` is renamed back; other
 * `<name>.old-<pid>` and `<name>.tmp-<pid>-*` siblings are removed. Leftovers of live processes are not touched.
 */
export async function recoverInterruptedDirectorySwap(finalDirectory: string): Promise<void> {
  const finalPath = path.resolve(finalDirectory);
  const parent = path.dirname(finalPath);
  const name = path.basename(finalPath);
  let siblings: string[];
  try {
    siblings = await fs.readdir(parent);
  } catch {
    return;
  }
  const leftovers = siblings
    .map((sibling) => ({ sibling, match: leftoverPattern(name).exec(sibling) }))
    .filter(({ sibling, match }) => match !== null && !isInUse(path.join(parent, sibling), Number(match[2])));
  const olds = leftovers.filter(({ match }) => match?.[1] === 'old');
  if (olds.length > 0 && !(await exists(finalPath))) {
    const dated = await Promise.all(
      olds.map(async ({ sibling }) => ({ sibling, modified: (await fs.stat(path.join(parent, sibling))).mtimeMs })),
    );
    dated.sort((left, right) => right.modified - left.modified);
    const newest = dated[0] as { sibling: string };
    await fs.rename(path.join(parent, newest.sibling), finalPath);
    await syncDirectory(parent);
    leftovers.splice(leftovers.findIndex(({ sibling }) => sibling === newest.sibling), 1);
  }
  for (const { sibling } of leftovers) {
    await fs.rm(path.join(parent, sibling), { recursive: true, force: true });
  }
}

function leftoverPattern(name: string): RegExp {
  return new RegExp(`^${escapeRegExp(name)}\\.(old|tmp|trash)-(\\d+)(?:-[0-9a-f]+)?$`);
}

/**
 * Deletes a directory so that a crash at any point never leaves it half-deleted under its own name: it is first
 * renamed to `<name>.trash-<pid>-<random>` (one atomic step, made durable), then removed. A trash folder left by a
 * killed process is removed by `recoverInterruptedDirectorySwap` or `removeDirectoryLeftovers`. Missing: no-op.
 */
export async function removeDirectoryAtomic(directory: string): Promise<void> {
  const finalPath = path.resolve(directory);
  const trash = path.join(path.dirname(finalPath), `${path.basename(finalPath)}.trash-${process.pid}-${randomSuffix()}`);
  swapsInProgress.add(trash);
  try {
    try {
      await fs.rename(finalPath, trash);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new CheckpointError(`removeDirectoryAtomic: cannot move ${finalPath} aside to delete it (${(cause as Error).message})`, { cause });
    }
    await syncDirectory(path.dirname(finalPath));
    await crashPoint('RLHFJS_TEST_PAUSE_AFTER_TRASH');
    await fs.rm(trash, { recursive: true, force: true });
  } finally {
    swapsInProgress.delete(trash);
  }
}

/**
 * Runs `recoverInterruptedDirectorySwap` for every directory under `parent` whose name matches `namePattern` and
 * that has leftovers (`<name>.tmp-<pid>-*`, `.old-<pid>-*`, `.trash-<pid>-*`) of processes no longer running.
 */
export async function removeDirectoryLeftovers(parent: string, namePattern: RegExp): Promise<void> {
  let siblings: string[];
  try {
    siblings = await fs.readdir(parent);
  } catch {
    return;
  }
  const names = new Set<string>();
  for (const sibling of siblings) {
    const match = /^(.+)\.(?:old|tmp|trash)-\d+(?:-[0-9a-f]+)?$/.exec(sibling);
    if (match !== null && namePattern.test(match[1] as string)) names.add(match[1] as string);
  }
  for (const name of names) await recoverInterruptedDirectorySwap(path.join(parent, name));
}

/**
 * Writes files into an existing (or new) `directory` without disturbing its other entries, each file replaced
 * atomically: `fill` writes them into a staging folder `<directory>/.staging-<pid>-<random>/` (so it may use savers
 * that replace a whole directory), every file is fsynced, then each is renamed over its final name — the old file
 * is never deleted first, so a crash leaves the old or the new file under every name, never none. Subfolders are
 * swapped in with `replaceDirectoryAtomic`'s two renames. Staging folders of dead processes are removed first.
 */
export async function writeFilesInto(directory: string, fill: (stagingDirectory: string) => Promise<void>): Promise<string[]> {
  const finalPath = path.resolve(directory);
  await fs.mkdir(finalPath, { recursive: true });
  for (const entry of await fs.readdir(finalPath)) {
    const match = /^\.staging-(\d+)-[0-9a-f]+$/.exec(entry);
    if (match !== null && !isInUse(path.join(finalPath, entry), Number(match[1]))) await fs.rm(path.join(finalPath, entry), { recursive: true, force: true });
  }
  const stagingRoot = path.join(finalPath, `.staging-${process.pid}-${randomSuffix()}`);
  const staging = path.join(stagingRoot, 'files');
  swapsInProgress.add(stagingRoot);
  try {
    await fs.mkdir(stagingRoot);
    await fill(staging);
    await syncTree(staging);
    const names = (await fs.readdir(staging)).sort();
    for (const name of names) {
      const source = path.join(staging, name);
      const target = path.join(finalPath, name);
      if ((await fs.lstat(source)).isDirectory()) {
        await replaceDirectoryAtomic(target, async (temporary) => {
          await fs.rmdir(temporary);
          await fs.rename(source, temporary);
        });
      } else {
        await fs.rename(source, target);
        await crashPoint('RLHFJS_TEST_PAUSE_AFTER_RENAME');
      }
    }
    await syncDirectory(finalPath);
    return names;
  } catch (cause) {
    if (cause instanceof RlhfError) throw cause;
    throw new CheckpointError(`writeFilesInto: cannot write into ${finalPath} (${(cause as Error).message})`, { cause });
  } finally {
    await fs.rm(stagingRoot, { recursive: true, force: true }).catch(() => undefined);
    swapsInProgress.delete(stagingRoot);
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Temporary and old directories of swaps in progress in this process. */
const swapsInProgress = new Set<string>();

function isInUse(leftover: string, pid: number): boolean {
  if (pid === process.pid) return swapsInProgress.has(leftover);
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function exists(target: string): Promise<boolean> {
  try {
    await fs.lstat(target);
    return true;
  } catch {
    return false;
  }
}

function randomSuffix(): string {
  return randomBytes(6).toString('hex');
}

/** fsync on a directory makes renames and new entries in it durable; not every platform allows it. */
async function syncDirectory(directory: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(directory, 'r');
    await handle.sync();
  } catch {
    // Windows cannot open directories; EISDIR/EPERM elsewhere. Durability is then up to the file system.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

async function syncTree(directory: string): Promise<void> {
  for (const entry of await fs.readdir(directory, { withFileTypes: true })) {
    const child = path.join(directory, entry.name);
    if (entry.isDirectory()) {
      await syncTree(child);
    } else if (entry.isFile()) {
      const handle = await fs.open(child, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
  }
  await syncDirectory(directory);
}
