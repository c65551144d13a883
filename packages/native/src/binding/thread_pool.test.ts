import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { describeNative } from '../../test/compare_backends';

// The addon's thread pool (native/thread_pool.cc) is compiled with the C++ compiler that builds the addon and
// stress-checked in a separate process: every part once, workers created once, exceptions reaching the caller,
// nested calls and several caller threads without a deadlock. Each property prints "ok <name>" when it holds.
// Gated like the addon's own tests: where the addon could not be built, neither can this check.
describeNative('native thread pool')('native thread pool', () => {
  it('runs every part once on persistent workers, propagates exceptions, and survives nested and concurrent calls', () => {
    const packageRoot = path.resolve(__dirname, '..', '..');
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhfjs-thread-pool-'));
    const binary = path.join(directory, 'thread_pool_check');
    try {
      execFileSync('c++', ['-O1', '-std=c++17', '-pthread', '-o', binary,
        path.join(packageRoot, 'test', 'native', 'thread_pool_check.cc'), path.join(packageRoot, 'native', 'thread_pool.cc')]);
      const output = execFileSync(binary, { encoding: 'utf8', timeout: 60_000 });
      expect(output.trim().split('\n')).toEqual([
        'ok each-part-once',
        'ok persistent-workers',
        'ok exceptions-propagate',
        'ok nested-calls',
        'ok concurrent-callers',
      ]);
    } finally {
      fs.rmSync(directory, { recursive: true, force: true });
    }
  }, 120_000);
});
