// Publishing check for the @rlhfjs packages (`npx tsx tools/publish/check_packages.ts [--keep-dist] [--no-install] [package…]`).
//
// For each package, in dependency order (a package's build reads its dependencies' dist/index.d.ts through the
// workspace symlinks in node_modules/@rlhfjs, since tsconfig.lib.json clears the source `paths`):
//   build    `npm run build` in the package (tsc -p tsconfig.lib.json into dist/, cleaned first)
//   tarball  `npm pack --dry-run --json` lists the files: README.md, CHANGELOG.md, dist/index.js and
//            dist/index.d.ts present; no sources, tests, source maps or build leftovers
//   entries  main, types, every exports target and every bin exist and are in the tarball
//   imports  every require() in dist/**/*.js and import in dist/**/*.d.ts stays inside the package's shipped
//            files or names a node builtin or a declared dependency / peer dependency; no absolute paths
//   load     `require('<package>/dist/index.js')` in a fresh node process
//   publint  publint 0.3 on the package, errors and warnings fail, suggestions are printed
// Then, unless --no-install, the README snippets marked `<!-- check:packages install: … -->` run in scratch projects
// that install the packed tarballs (readme_snippets.ts): at least core + dpo without lora, and with it.
// Prints a table, then every problem, and exits 1 when there is one. The dist/ folders this run created are
// removed at the end (they are git-ignored, and a built dist/ changes what workspace code like the rlhfjs-run bin
// loads) unless --keep-dist is given; a dist/ that was there before is left rebuilt.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { readReadmeSnippets, runReadmeSnippets, type SnippetResult } from './readme_snippets';

/** Dependency order: each package after every package it imports. */
const PACKAGE_ORDER = ['core', 'native', 'lora', 'reward', 'dist', 'dpo', 'ppo'] as const;
type PackageDirName = (typeof PACKAGE_ORDER)[number];

const REPOSITORY_ROOT = path.resolve(__dirname, '..', '..');
const COLUMNS = ['build', 'tarball', 'entries', 'imports', 'load', 'publint'] as const;
type Column = (typeof COLUMNS)[number];
type Cell = 'ok' | 'FAIL' | 'skip';

interface PackageReport {
  name: string;
  directory: PackageDirName;
  cells: Record<Column, Cell>;
  problems: string[];
  notes: string[];
  fileCount: number;
  packedBytes: number;
}

interface PackageJson {
  name: string;
  main?: string;
  types?: string;
  exports?: unknown;
  bin?: string | Record<string, string>;
  files?: string[];
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

interface PackResult {
  files: { path: string; size: number }[];
  size: number;
}

interface PublintMessage {
  code: string;
  type: 'suggestion' | 'warning' | 'error';
  path: string[];
  args: Record<string, unknown>;
}
interface PublintModule {
  publint(options: {
    pkgDir: string;
    level?: 'suggestion' | 'warning' | 'error';
    pack?: 'auto' | 'npm' | false;
    strict?: boolean;
  }): Promise<{ messages: PublintMessage[]; pkg: Record<string, unknown> }>;
}
interface PublintUtilsModule {
  formatMessage(message: PublintMessage, pkg: Record<string, unknown>, options?: { color?: boolean }): string | undefined;
}

/** Files that must never be in a tarball (paths relative to the package root). */
const FORBIDDEN_IN_TARBALL: readonly { pattern: RegExp; why: string }[] = [
  { pattern: /^src\//, why: 'TypeScript sources' },
  { pattern: /^(test|bench)\//, why: 'tests or benchmarks' },
  { pattern: /\.test\.(js|ts|d\.ts)$/, why: 'a compiled test' },
  { pattern: /\.map$/, why: 'a source map (its sources are not shipped)' },
  { pattern: /\.tsbuildinfo$/, why: 'tsc build info' },
  { pattern: /(^|\/)node_modules\//, why: 'node_modules' },
  { pattern: /^build\//, why: 'a local node-gyp build' },
  { pattern: /^(jest\.config\.js|project\.json|tsconfig[^/]*\.json)$/, why: 'workspace config' },
];

function run(command: string, args: readonly string[], cwd: string, timeoutMs = 300_000) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: process.env });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`
    .split('\n')
    .filter((line) => !line.startsWith('npm warn Unknown user config'))
    .join('\n')
    .trim();
  return { ok: result.status === 0, status: result.status, stdout: result.stdout ?? '', output };
}

function readPackageJson(packageDir: string): PackageJson {
  return JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as PackageJson;
}

/** Every string leaf of an exports map (targets only; conditions and subpaths are keys). */
function exportTargets(exportsField: unknown): string[] {
  if (typeof exportsField === 'string') return [exportsField];
  if (Array.isArray(exportsField)) return exportsField.flatMap(exportTargets);
  if (exportsField !== null && typeof exportsField === 'object') return Object.values(exportsField).flatMap(exportTargets);
  return [];
}

function normalizeTarget(target: string): string {
  return path.posix.normalize(target).replace(/^\.\//, '');
}

function listFiles(directory: string): string[] {
  if (!fs.existsSync(directory)) return [];
  return fs.readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name);
    return entry.isDirectory() ? listFiles(full) : [full];
  });
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
function packageNameOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

const BUILTINS = new Set(builtinModules);
const REQUIRE_PATTERN = /\brequire\(\s*["']([^"']+)["']\s*\)/g;
const DECLARATION_IMPORT_PATTERN = /(?:\bfrom\s+|\bimport\(\s*|\bimport\s+)["']([^"']+)["']/g;

/** Checks the specifiers the built files import; returns problems and notes. */
function checkImports(packageDir: string, packageJson: PackageJson, tarballFiles: ReadonlySet<string>) {
  const problems: string[] = [];
  const notes = new Set<string>();
  const undeclaredRequires = new Map<string, string[]>();
  const undeclaredTypeImports = new Map<string, string[]>();
  const declared = new Set([
    packageJson.name,
    ...Object.keys(packageJson.dependencies ?? {}),
    ...Object.keys(packageJson.peerDependencies ?? {}),
    ...Object.keys(packageJson.optionalDependencies ?? {}),
  ]);
  for (const file of listFiles(path.join(packageDir, 'dist'))) {
    const isJs = file.endsWith('.js');
    const isDeclaration = file.endsWith('.d.ts');
    if (!isJs && !isDeclaration) continue;
    const text = fs.readFileSync(file, 'utf8');
    const relativeFile = path.relative(packageDir, file).split(path.sep).join('/');
    if (text.includes(REPOSITORY_ROOT)) problems.push(`${relativeFile} contains the absolute path ${REPOSITORY_ROOT}`);
    const pattern = isJs ? REQUIRE_PATTERN : DECLARATION_IMPORT_PATTERN;
    for (const match of text.matchAll(pattern)) {
      const specifier = match[1] as string;
      if (specifier.startsWith('.')) {
        const resolved = path.resolve(path.dirname(file), specifier);
        const relative = path.relative(packageDir, resolved).split(path.sep).join('/');
        const candidates = isJs
          ? [relative, `${relative}.js`, `${relative}.json`, `${relative}/index.js`]
          : [`${relative}.d.ts`, `${relative}/index.d.ts`, relative.replace(/\.js$/, '.d.ts'), relative];
        if (relative.startsWith('..')) problems.push(`${relativeFile} imports ${specifier}, outside the package`);
        else if (!candidates.some((candidate) => tarballFiles.has(candidate))) {
          problems.push(`${relativeFile} imports ${specifier}, which is not in the tarball`);
        }
      } else if (path.isAbsolute(specifier)) {
        problems.push(`${relativeFile} imports the absolute path ${specifier}`);
      } else if (!specifier.startsWith('node:') && !BUILTINS.has(specifier) && !BUILTINS.has(packageNameOf(specifier))) {
        const name = packageNameOf(specifier);
        if (declared.has(name)) continue;
        const importers = isJs ? undeclaredRequires : undeclaredTypeImports;
        importers.set(name, [...(importers.get(name) ?? []), relativeFile]);
      }
    }
  }
  for (const [name, files] of undeclaredRequires) {
    const shown = files.slice(0, 3).join(', ') + (files.length > 3 ? `, … (${files.length} files)` : '');
    problems.push(`requires ${name}, which package.json does not declare (${shown})`);
  }
  for (const [name, files] of undeclaredTypeImports) {
    // Only hoisting makes these resolve for a consumer; a failure when the runtime also requires it.
    notes.add(`declarations import ${name} (${files.length} files), which package.json does not declare`);
  }
  return { problems, notes: [...notes] };
}

function gitTrackedFiles(packageDir: string, under: string): string[] {
  const result = run('git', ['ls-files', under], packageDir);
  return result.ok ? result.stdout.split('\n').filter((line) => line.length > 0) : [];
}

/** Files this package must ship beyond the common ones. */
function requiredExtras(directory: PackageDirName, packageDir: string): string[] {
  switch (directory) {
    case 'native':
      // Built from source at install time by scripts/install_addon.js with node-gyp.
      return ['binding.gyp', ...gitTrackedFiles(packageDir, 'scripts'), ...gitTrackedFiles(packageDir, 'native')];
    case 'core':
    case 'lora':
    case 'reward':
    case 'dist':
    case 'dpo':
    case 'ppo':
      return [];
    default: {
      const unreachable: never = directory;
      throw new Error(`unknown package directory ${String(unreachable)}`);
    }
  }
}

async function loadPublint(): Promise<{ publint: PublintModule; utils: PublintUtilsModule }> {
  // publint is ESM only; a non-literal specifier keeps this a real import() under CommonJS.
  const publintSpecifier: string = 'publint';
  const utilsSpecifier: string = 'publint/utils';
  const publint = (await import(publintSpecifier)) as PublintModule;
  const utils = (await import(utilsSpecifier)) as PublintUtilsModule;
  return { publint, utils };
}

async function checkPackage(
  directory: PackageDirName,
  failedBuilds: ReadonlySet<string>,
  publintApi: { publint: PublintModule; utils: PublintUtilsModule },
): Promise<PackageReport> {
  const packageDir = path.join(REPOSITORY_ROOT, 'packages', directory);
  const packageJson = readPackageJson(packageDir);
  const report: PackageReport = {
    name: packageJson.name,
    directory,
    cells: { build: 'skip', tarball: 'skip', entries: 'skip', imports: 'skip', load: 'skip', publint: 'skip' },
    problems: [],
    notes: [],
    fileCount: 0,
    packedBytes: 0,
  };
  const fail = (column: Column, problem: string): void => {
    report.cells[column] = 'FAIL';
    report.problems.push(`${column}: ${problem}`);
  };

  const internalDependencies = [
    ...Object.keys(packageJson.dependencies ?? {}),
    ...Object.keys(packageJson.peerDependencies ?? {}),
  ].filter((name) => name.startsWith('@rlhfjs/') && name !== packageJson.name);
  const brokenDependencies = internalDependencies.filter((name) => failedBuilds.has(name));
  // core's optional peer @rlhfjs/native is never imported by core, so it does not block the build.
  if (brokenDependencies.length > 0 && directory !== 'core') {
    fail('build', `not built: dependencies failed to build (${brokenDependencies.join(', ')})`);
    return report;
  }

  // build
  fs.rmSync(path.join(packageDir, 'dist'), { recursive: true, force: true });
  const build = run('npm', ['run', 'build', '--silent'], packageDir);
  if (!build.ok) {
    fail('build', `npm run build failed:\n${build.output.split('\n').slice(0, 20).join('\n')}`);
    return report;
  }
  report.cells.build = 'ok';
  for (const entry of ['dist/index.js', 'dist/index.d.ts']) {
    if (!fs.existsSync(path.join(packageDir, entry))) fail('build', `${entry} missing after the build (rootDir wrong?)`);
  }

  // tarball
  const pack = run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], packageDir);
  if (!pack.ok) {
    fail('tarball', `npm pack failed:\n${pack.output}`);
    return report;
  }
  const packResult = (JSON.parse(pack.stdout) as PackResult[])[0];
  if (packResult === undefined) {
    fail('tarball', 'npm pack --json printed no result');
    return report;
  }
  const tarballFiles = new Set(packResult.files.map((file) => file.path));
  report.fileCount = tarballFiles.size;
  report.packedBytes = packResult.size;
  report.cells.tarball = 'ok';
  const required = ['package.json', 'README.md', 'CHANGELOG.md', 'dist/index.js', 'dist/index.d.ts', ...requiredExtras(directory, packageDir)];
  for (const file of required) {
    if (!tarballFiles.has(file)) fail('tarball', `${file} is not in the tarball`);
  }
  for (const file of tarballFiles) {
    const forbidden = FORBIDDEN_IN_TARBALL.find(({ pattern }) => pattern.test(file));
    if (forbidden !== undefined) fail('tarball', `${file} is in the tarball (${forbidden.why})`);
  }

  // entries
  report.cells.entries = 'ok';
  const bins = typeof packageJson.bin === 'string' ? [packageJson.bin] : Object.values(packageJson.bin ?? {});
  const entryTargets = [
    ...(packageJson.main === undefined ? [] : [packageJson.main]),
    ...(packageJson.types === undefined ? [] : [packageJson.types]),
    ...exportTargets(packageJson.exports),
    ...bins,
  ];
  if (packageJson.exports === undefined) fail('entries', 'no exports map');
  for (const target of entryTargets) {
    const file = normalizeTarget(target);
    if (!fs.existsSync(path.join(packageDir, file))) fail('entries', `${target} does not exist`);
    else if (!tarballFiles.has(file)) fail('entries', `${target} is not in the tarball`);
  }

  // imports
  const imports = checkImports(packageDir, packageJson, tarballFiles);
  report.cells.imports = imports.problems.length === 0 ? 'ok' : 'FAIL';
  report.problems.push(...imports.problems.map((problem) => `imports: ${problem}`));
  report.notes.push(...imports.notes);

  // load
  const entry = path.join(packageDir, 'dist', 'index.js');
  const load = run(
    process.execPath,
    ['-e', `const m = require(${JSON.stringify(entry)}); console.log(Object.keys(m).length);`],
    REPOSITORY_ROOT,
    120_000,
  );
  const exportCount = Number(load.stdout.trim().split('\n').pop());
  if (!load.ok) fail('load', `require(dist/index.js) failed:\n${load.output.split('\n').slice(0, 15).join('\n')}`);
  else if (!(exportCount > 0)) fail('load', 'dist/index.js exports nothing');
  else {
    report.cells.load = 'ok';
    report.notes.push(`${exportCount} runtime exports`);
  }

  // publint
  const { messages, pkg } = await publintApi.publint.publint({ pkgDir: packageDir, level: 'suggestion', pack: 'npm' });
  report.cells.publint = 'ok';
  for (const message of messages) {
    const text = publintApi.utils.formatMessage(message, pkg, { color: false }) ?? message.code;
    if (message.type === 'suggestion') report.notes.push(`publint suggestion: ${text}`);
    else fail('publint', `${message.type}: ${text}`);
  }
  return report;
}

function printTable(reports: readonly PackageReport[]): void {
  const header = ['package', ...COLUMNS, 'files', 'packed'];
  const rows = reports.map((report) => [
    report.name,
    ...COLUMNS.map((column) => report.cells[column]),
    report.fileCount > 0 ? String(report.fileCount) : '-',
    report.packedBytes > 0 ? `${(report.packedBytes / 1024).toFixed(1)} kB` : '-',
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

/** The packages and, transitively, the @rlhfjs packages they depend on (dependencies and peers). */
function withInternalDependencies(names: readonly PackageDirName[]): Set<PackageDirName> {
  const closure = new Set<PackageDirName>();
  const visit = (name: PackageDirName): void => {
    if (closure.has(name)) return;
    closure.add(name);
    const packageJson = readPackageJson(path.join(REPOSITORY_ROOT, 'packages', name));
    for (const dependency of [...Object.keys(packageJson.dependencies ?? {}), ...Object.keys(packageJson.peerDependencies ?? {})]) {
      const directory = PACKAGE_ORDER.find((candidate) => `@rlhfjs/${candidate}` === dependency);
      if (directory !== undefined) visit(directory);
    }
  };
  names.forEach(visit);
  return closure;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const keepDist = args.includes('--keep-dist');
  const install = !args.includes('--no-install');
  const requested = args.filter((arg) => !arg.startsWith('--'));
  const unknown = requested.filter((name) => !(PACKAGE_ORDER as readonly string[]).includes(name));
  if (unknown.length > 0) {
    console.error(`check_packages: unknown package(s) ${unknown.join(', ')}; known: ${PACKAGE_ORDER.join(', ')}`);
    return 2;
  }
  // Dependencies of a requested package are built too (their dist/index.d.ts is what its build reads).
  const selected = requested.length === 0 ? [...PACKAGE_ORDER] : PACKAGE_ORDER.filter((name) => requested.includes(name));
  const toBuild = PACKAGE_ORDER.filter((name) => withInternalDependencies(selected).has(name));
  const created = PACKAGE_ORDER.filter((name) => !fs.existsSync(path.join(REPOSITORY_ROOT, 'packages', name, 'dist')));
  const cleanUp = (): void => {
    if (keepDist) return;
    for (const name of created) fs.rmSync(path.join(REPOSITORY_ROOT, 'packages', name, 'dist'), { recursive: true, force: true });
  };
  process.on('SIGINT', () => {
    cleanUp();
    process.exit(130);
  });

  const publintApi = await loadPublint();
  const reports: PackageReport[] = [];
  const failedBuilds = new Set<string>();
  let snippetResults: SnippetResult[] = [];
  try {
    for (const directory of toBuild) {
      const report = await checkPackage(directory, failedBuilds, publintApi);
      if (report.cells.build !== 'ok') failedBuilds.add(report.name);
      if (selected.includes(directory)) reports.push(report);
      process.stderr.write(`checked ${report.name}\n`);
    }
    // Snippets whose packages (and their dependencies) were all built in this run.
    const built = new Set(toBuild.map((name) => `@rlhfjs/${name}`).filter((name) => !failedBuilds.has(name)));
    const dependenciesOf = (name: string): string[] =>
      Object.keys(readPackageJson(path.join(REPOSITORY_ROOT, 'packages', name.replace('@rlhfjs/', ''))).dependencies ?? {}).filter((dependency) => dependency.startsWith('@rlhfjs/'));
    const snippets = install ? readReadmeSnippets(REPOSITORY_ROOT).filter((snippet) => snippet.packages.every((name) => built.has(name))) : [];
    if (snippets.length > 0) {
      process.stderr.write(`installing the packed packages for ${snippets.length} README snippet(s)\n`);
      const packageDirs = new Map(PACKAGE_ORDER.map((name) => [`@rlhfjs/${name}`, path.join(REPOSITORY_ROOT, 'packages', name)]));
      snippetResults = runReadmeSnippets(snippets, packageDirs, dependenciesOf);
    }
  } finally {
    cleanUp();
  }

  console.log('');
  printTable(reports);
  let problemCount = 0;
  for (const report of reports) {
    if (report.problems.length === 0 && report.notes.length === 0) continue;
    console.log(`\n${report.name}`);
    for (const problem of report.problems) console.log(`  ✗ ${problem.replace(/\n/g, '\n      ')}`);
    for (const note of report.notes) console.log(`  · ${note}`);
    problemCount += report.problems.length;
  }
  if (snippetResults.length > 0) {
    console.log('\nREADME snippets, installed from the packed tarballs into empty projects:');
    for (const result of snippetResults) {
      const where = `${result.snippet.readme}:${result.snippet.line}`;
      console.log(`  ${result.ok ? 'ok  ' : 'FAIL'} ${where} (npm install ${result.snippet.packages.join(' ')}; ${result.seconds.toFixed(0)} s) ${result.lastLine}`);
      for (const problem of result.problems) console.log(`    ✗ ${problem.replace(/\n/g, '\n        ')}`);
      problemCount += result.problems.length;
    }
  } else if (install) {
    console.log('\nno README snippet ran (none marked, or their packages were not built in this run)');
  }
  console.log(problemCount === 0 ? '\nall packages publishable' : `\n${problemCount} problem(s)`);
  return problemCount === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
