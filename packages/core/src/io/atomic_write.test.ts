import { spawn } from 'child_process';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CheckpointError } from '../errors/errors';
import {
  recoverInterruptedDirectorySwap,
  removeDirectoryAtomic,
  replaceDirectoryAtomic,
  writeFileAtomic,
  writeFileAtomicWith,
  writeFilesInto,
} from './atomic_write';

let root: string;
let counter = 0;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-atomic-'));
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function freshParent(): Promise<string> {
  const parent = path.join(root, `case-${counter++}`);
  await fs.mkdir(parent);
  return parent;
}

async function makeOldDirectory(finalDirectory: string): Promise<void> {
  await fs.mkdir(path.join(finalDirectory, 'sub'), { recursive: true });
  await fs.writeFile(path.join(finalDirectory, 'a.txt'), 'old a');
  await fs.writeFile(path.join(finalDirectory, 'sub', 'b.txt'), 'old b');
}

async function expectOldDirectory(finalDirectory: string): Promise<void> {
  expect((await fs.readdir(finalDirectory)).sort()).toEqual(['a.txt', 'sub']);
  expect(await fs.readFile(path.join(finalDirectory, 'a.txt'), 'utf8')).toBe('old a');
  expect(await fs.readFile(path.join(finalDirectory, 'sub', 'b.txt'), 'utf8')).toBe('old b');
}

/**
 * Runs `body` (TypeScript, with `atomic` bound to this module) in a child node process, waits until it prints
 * READY, then kills it with SIGKILL. Resolves with the child's pid once it is gone.
 */
async function killWhenReady(body: string): Promise<number> {
  const script = path.join(root, `child-${counter++}.ts`);
  await fs.writeFile(script, `const atomic = require(${JSON.stringify(path.join(__dirname, 'atomic_write'))});\n${body}\n`);
  const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child never became ready; output: ${output}`));
    }, 30_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('READY')) child.kill('SIGKILL');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (_, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL' && output.includes('READY')) resolve(child.pid as number);
      else reject(new Error(`child exited with ${signal}; output: ${output}`));
    });
  });
}

describe('writeFileAtomic', () => {
  it('replaces the content and leaves no temporary file', async () => {
    const parent = await freshParent();
    const file = path.join(parent, 'config.json');
    await writeFileAtomic(file, 'first');
    await writeFileAtomic(file, new Uint8Array([104, 105]));
    expect(await fs.readFile(file, 'utf8')).toBe('hi');
    expect(await fs.readdir(parent)).toEqual(['config.json']);
  });

  it('keeps the old file when the writer throws', async () => {
    const parent = await freshParent();
    const file = path.join(parent, 'weights.bin');
    await writeFileAtomic(file, 'old');
    const failing = writeFileAtomicWith(file, async (handle) => {
      await handle.write('partial new content');
      throw new CheckpointError('disk full (simulated)');
    });
    await expect(failing).rejects.toThrow('disk full (simulated)');
    expect(await fs.readFile(file, 'utf8')).toBe('old');
    expect(await fs.readdir(parent)).toEqual(['weights.bin']);
  });

  it('keeps the old file when the process is killed mid-write, and removes its temporary next time', async () => {
    const parent = await freshParent();
    const file = path.join(parent, 'weights.bin');
    await writeFileAtomic(file, 'old');
    const pid = await killWhenReady(`
      atomic.writeFileAtomicWith(${JSON.stringify(file)}, async (handle) => {
        await handle.write('half of the new');
        console.log('READY');
        await new Promise(() => undefined);
      });`);
    expect(await fs.readFile(file, 'utf8')).toBe('old');
    expect((await fs.readdir(parent)).sort()).toEqual([expect.stringMatching(`^\\.weights\\.bin\\.tmp-${pid}-`), 'weights.bin']);
    await writeFileAtomic(file, 'new');
    expect(await fs.readdir(parent)).toEqual(['weights.bin']);
  });
});

describe('replaceDirectoryAtomic', () => {
  it('swaps in the new directory and removes the old one', async () => {
    const parent = await freshParent();
    const finalDirectory = path.join(parent, 'checkpoint');
    await makeOldDirectory(finalDirectory);
    await replaceDirectoryAtomic(finalDirectory, async (temporary) => {
      expect(path.dirname(temporary)).toBe(parent);
      await fs.writeFile(path.join(temporary, 'new.txt'), 'new');
    });
    expect(await fs.readdir(finalDirectory)).toEqual(['new.txt']);
    expect(await fs.readdir(parent)).toEqual(['checkpoint']);
  });

  it('creates the directory when it does not exist yet', async () => {
    const finalDirectory = path.join(await freshParent(), 'nested', 'checkpoint');
    await replaceDirectoryAtomic(finalDirectory, (temporary) => fs.writeFile(path.join(temporary, 'x'), 'x'));
    expect(await fs.readdir(finalDirectory)).toEqual(['x']);
  });

  it('leaves the old directory and no temporary when fill throws', async () => {
    const parent = await freshParent();
    const finalDirectory = path.join(parent, 'checkpoint');
    await makeOldDirectory(finalDirectory);
    const failing = replaceDirectoryAtomic(finalDirectory, async (temporary) => {
      await fs.writeFile(path.join(temporary, 'a.txt'), 'half new');
      throw new Error('fill failed');
    });
    await expect(failing).rejects.toThrow('fill failed');
    await expectOldDirectory(finalDirectory);
    expect(await fs.readdir(parent)).toEqual(['checkpoint']);
  });

  it('leaves the previous directory intact when the process is SIGKILLed during fill, and cleans up next time', async () => {
    const parent = await freshParent();
    const finalDirectory = path.join(parent, 'checkpoint');
    await makeOldDirectory(finalDirectory);
    const pid = await killWhenReady(`
      atomic.replaceDirectoryAtomic(${JSON.stringify(finalDirectory)}, async (temporary) => {
        const fs = require('fs');
        fs.writeFileSync(temporary + '/a.txt', 'new a');
        fs.writeFileSync(temporary + '/partial.bin', Buffer.alloc(1 << 20));
        console.log('READY');
        await new Promise(() => undefined);
      });`);
    await expectOldDirectory(finalDirectory);
    const leftovers = (await fs.readdir(parent)).filter((name) => name !== 'checkpoint');
    expect(leftovers).toEqual([expect.stringMatching(new RegExp(`^checkpoint\\.tmp-${pid}-[0-9a-f]+$`))]);

    await replaceDirectoryAtomic(finalDirectory, (temporary) => fs.writeFile(path.join(temporary, 'a.txt'), 'new a'));
    expect(await fs.readdir(parent)).toEqual(['checkpoint']);
    expect(await fs.readFile(path.join(finalDirectory, 'a.txt'), 'utf8')).toBe('new a');
  });

  it('restores the old directory after a crash between the two renames', async () => {
    const parent = await freshParent();
    const finalDirectory = path.join(parent, 'checkpoint');
    // A process that is certainly gone: one we started and killed.
    const pid = await killWhenReady(`console.log('READY'); setInterval(() => undefined, 1000);`);
    // The state the crash leaves: the old directory renamed away, the new one complete but not yet moved.
    await makeOldDirectory(path.join(parent, `checkpoint.old-${pid}-abc123`));
    await fs.mkdir(path.join(parent, `checkpoint.tmp-${pid}-def456`));
    await recoverInterruptedDirectorySwap(finalDirectory);
    await expectOldDirectory(finalDirectory);
    expect(await fs.readdir(parent)).toEqual(['checkpoint']);
  });

  it('does not touch leftovers of a process that is still running', async () => {
    const parent = await freshParent();
    const finalDirectory = path.join(parent, 'checkpoint');
    await makeOldDirectory(finalDirectory);
    const live = `checkpoint.tmp-${process.ppid}-abc123`; // our parent process is alive
    await fs.mkdir(path.join(parent, live));
    await replaceDirectoryAtomic(finalDirectory, (temporary) => fs.writeFile(path.join(temporary, 'x'), 'x'));
    expect((await fs.readdir(parent)).sort()).toEqual(['checkpoint', live]);
  });

  it('lets two overlapping replacements in one process both finish', async () => {
    const parent = await freshParent();
    const finalDirectory = path.join(parent, 'checkpoint');
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = replaceDirectoryAtomic(finalDirectory, async (temporary) => {
      await gate;
      await fs.writeFile(path.join(temporary, 'slow'), 'slow');
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await replaceDirectoryAtomic(finalDirectory, (temporary) => fs.writeFile(path.join(temporary, 'fast'), 'fast'));
    release();
    await slow;
    expect(await fs.readdir(finalDirectory)).toEqual(['slow']);
    expect(await fs.readdir(parent)).toEqual(['checkpoint']);
  });
});

describe('writeFilesInto', () => {
  it('replaces the files it writes, keeps every other entry, and leaves no staging folder', async () => {
    const directory = path.join(await freshParent(), 'out');
    await makeOldDirectory(directory);
    await fs.mkdir(path.join(directory, 'checkpoint-2'));
    const inode = (await fs.stat(path.join(directory, 'a.txt'))).ino;
    const written = await writeFilesInto(directory, async (staging) => {
      await fs.mkdir(staging);
      await fs.writeFile(path.join(staging, 'a.txt'), 'new a');
      await fs.writeFile(path.join(staging, 'model.safetensors'), 'weights');
    });
    expect(written).toEqual(['a.txt', 'model.safetensors']);
    expect((await fs.readdir(directory)).sort()).toEqual(['a.txt', 'checkpoint-2', 'model.safetensors', 'sub']);
    expect(await fs.readFile(path.join(directory, 'a.txt'), 'utf8')).toBe('new a');
    expect((await fs.stat(path.join(directory, 'a.txt'))).ino).not.toBe(inode); // renamed over, not rewritten in place
    expect(await fs.readFile(path.join(directory, 'sub', 'b.txt'), 'utf8')).toBe('old b');
  });

  it('accepts a saver that replaces its whole folder, and swaps in subfolders whole', async () => {
    const directory = path.join(await freshParent(), 'out');
    await makeOldDirectory(directory);
    await writeFilesInto(directory, async (staging) => {
      await replaceDirectoryAtomic(staging, async (temporary) => {
        await fs.mkdir(path.join(temporary, 'sub'));
        await fs.writeFile(path.join(temporary, 'sub', 'c.txt'), 'new c');
      });
    });
    expect(await fs.readdir(path.join(directory, 'sub'))).toEqual(['c.txt']);
    expect(await fs.readFile(path.join(directory, 'a.txt'), 'utf8')).toBe('old a');
  });

  it('keeps every old file when the saver fails, rethrowing its typed error', async () => {
    const directory = path.join(await freshParent(), 'out');
    await makeOldDirectory(directory);
    const failing = writeFilesInto(directory, async (staging) => {
      await fs.mkdir(staging);
      await fs.writeFile(path.join(staging, 'a.txt'), 'half');
      throw new CheckpointError('disk full (simulated)');
    });
    await expect(failing).rejects.toThrow('disk full (simulated)');
    await expectOldDirectory(directory);
  });

  it("removes a dead process's staging folder and keeps a live one's", async () => {
    const directory = path.join(await freshParent(), 'out');
    const pid = await killWhenReady(`console.log('READY'); setInterval(() => undefined, 1000);`);
    await fs.mkdir(path.join(directory, `.staging-${pid}-abc123`), { recursive: true });
    const live = `.staging-${process.ppid}-abc123`;
    await fs.mkdir(path.join(directory, live));
    await writeFilesInto(directory, async (staging) => {
      await fs.mkdir(staging);
      await fs.writeFile(path.join(staging, 'x'), 'x');
    });
    expect((await fs.readdir(directory)).sort()).toEqual([live, 'x']);
  });
});

describe('removeDirectoryAtomic', () => {
  it('removes a directory (a missing one is a no-op) and leaves no trash', async () => {
    const parent = await freshParent();
    const finalDirectory = path.join(parent, 'checkpoint-1');
    await makeOldDirectory(finalDirectory);
    await removeDirectoryAtomic(finalDirectory);
    await removeDirectoryAtomic(finalDirectory);
    expect(await fs.readdir(parent)).toEqual([]);
  });

  it("a dead process's trash folder is removed by the next recovery, without touching the name", async () => {
    const parent = await freshParent();
    const pid = await killWhenReady(`console.log('READY'); setInterval(() => undefined, 1000);`);
    await makeOldDirectory(path.join(parent, `checkpoint-1.trash-${pid}-abc123`));
    await recoverInterruptedDirectorySwap(path.join(parent, 'checkpoint-1'));
    expect(await fs.readdir(parent)).toEqual([]);
  });
});
