// Every @rlhfjs package loads in plain Node right after `npm ci` (whose root `prepare` builds packages/*/dist):
// no tsx, no tsconfig paths, no jest module mapping. A scratch project whose node_modules is the workspace's
// requires each package (CommonJS) and imports it (ESM, with static named imports of every export).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const repoRoot = path.join(__dirname, '..', '..', '..', '..');
const packagesDir = path.join(repoRoot, 'packages');
const packageDirectories = fs.readdirSync(packagesDir).filter((directory) => fs.existsSync(path.join(packagesDir, directory, 'package.json')));
const packageNames = packageDirectories.map((directory) => (JSON.parse(fs.readFileSync(path.join(packagesDir, directory, 'package.json'), 'utf8')) as { name: string }).name);

/** Plain `node <file>` in the scratch project, with nothing preloaded. */
function plainNode(file: string, cwd: string): { status: number | null; stdout: string; stderr: string } {
  const environment: NodeJS.ProcessEnv = { ...process.env, RLHFJS_BACKEND: 'cpu' };
  delete environment['NODE_OPTIONS'];
  delete environment['TSX_TSCONFIG_PATH'];
  const result = spawnSync(process.execPath, [file], { cwd, encoding: 'utf8', timeout: 90_000, env: environment });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function lastJsonLine(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as Record<string, unknown>;
}

describe('the packages in plain Node', () => {
  let scratch: string;
  beforeAll(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhfjs-plain-node-'));
    fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(scratch, 'node_modules'), 'dir');
    fs.writeFileSync(path.join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true }));
  });
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it('finds the seven packages and their built entry points', () => {
    expect(packageNames.sort()).toEqual(['@rlhfjs/core', '@rlhfjs/dist', '@rlhfjs/dpo', '@rlhfjs/lora', '@rlhfjs/native', '@rlhfjs/ppo', '@rlhfjs/reward']);
    const missing = packageDirectories.filter((directory) => !fs.existsSync(path.join(packagesDir, directory, 'dist', 'index.js')));
    if (missing.length > 0) throw new Error(`packages/{${missing.join(',')}}/dist/index.js missing: npm ci builds them (root prepare), or run npm run build`);
  });

  it('require() and import of every package give the same named exports, from dist/', () => {
    fs.writeFileSync(
      path.join(scratch, 'load.cjs'),
      [
        `const names = ${JSON.stringify(packageNames)};`,
        'const found = {};',
        'for (const name of names) {',
        '  const resolved = require.resolve(name);',
        "  if (!/[\\\\/]dist[\\\\/]index\\.js$/.test(resolved)) throw new Error(`${name} resolved to ${resolved}`);",
        '  found[name] = Object.keys(require(name)).sort();',
        '}',
        "const core = require('@rlhfjs/core');",
        "const error = new core.ConfigError('plainNode', ['a problem']);",
        "if (!(error instanceof core.RlhfError) || !/a problem/.test(error.message)) throw new Error('ConfigError is not an RlhfError');",
        'console.log(JSON.stringify(found));',
      ].join('\n'),
    );
    const required = plainNode('load.cjs', scratch);
    if (required.status !== 0) throw new Error(`require failed (exit ${required.status}):\n${required.stderr}`);
    const cjsExports = lastJsonLine(required.stdout) as Record<string, string[]>;
    for (const name of packageNames) expect(cjsExports[name]?.length ?? 0).toBeGreaterThan(0);

    // Static named imports fail at link time when Node cannot see a CommonJS export from ESM.
    // (Aliased per package: several packages export the same name.)
    const aliases = (name: string, index: number): string[] => (cjsExports[name] ?? []).map((key) => `${key} as p${index}_${key}`);
    const locals = (name: string, index: number): string[] => (cjsExports[name] ?? []).map((key) => `p${index}_${key}`);
    const importLines = packageNames.map((name, index) => `import { ${aliases(name, index).join(', ')} } from '${name}';\nimport * as namespace${index} from '${name}';`);
    const checks = packageNames.map(
      (name, index) =>
        `  '${name}': { named: [${locals(name, index).join(', ')}].filter((value) => value !== undefined).length, keys: Object.keys(namespace${index}).filter((key) => key !== 'default' && key !== '__esModule').sort() },`,
    );
    fs.writeFileSync(
      path.join(scratch, 'load.mjs'),
      [
        ...importLines,
        'const result = {',
        ...checks,
        '};',
        "const core = await import('@rlhfjs/core');",
        "if (typeof core.initBackend !== 'function') throw new Error('initBackend is not a function');",
        'console.log(JSON.stringify(result));',
      ].join('\n'),
    );
    const imported = plainNode('load.mjs', scratch);
    if (imported.status !== 0) throw new Error(`import failed (exit ${imported.status}):\n${imported.stderr}`);
    const esmExports = lastJsonLine(imported.stdout) as Record<string, { named: number; keys: string[] }>;
    for (const name of packageNames) {
      expect(esmExports[name]?.named).toBe(cjsExports[name]?.length);
      expect(esmExports[name]?.keys).toEqual(cjsExports[name]);
    }
  }, 120_000);
});
