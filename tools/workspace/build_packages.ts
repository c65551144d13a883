// Builds every library under packages/ into its dist/ (`tsc -p tsconfig.lib.json`), so that plain Node can
// `require` and `import` the @rlhfjs packages right after `npm ci` (the root `prepare` script runs this; `npm run
// build` runs it again after editing sources). Jest and tsx read the TypeScript sources and do not need it.
//
//   npx tsx tools/workspace/build_packages.ts [package…]     (default: every package)
//
// A package is built after the @rlhfjs packages it depends on (its build reads their dist/index.d.ts through the
// workspace symlinks in node_modules/@rlhfjs, since tsconfig.lib.json clears the source `paths`); packages whose
// dependencies are built run in parallel, up to the number of cores (BUILD_CONCURRENCY=n overrides it). Each dist/
// is emptied first, so a source that was deleted leaves no stale output. Exits 1, printing tsc's errors, when a build fails.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const REPOSITORY_ROOT = path.resolve(__dirname, '..', '..');
const PACKAGES_DIR = path.join(REPOSITORY_ROOT, 'packages');
const TSC = require.resolve('typescript/bin/tsc', { paths: [REPOSITORY_ROOT] });

interface Library {
  /** Folder name under packages/. */
  directory: string;
  name: string;
  /** Folder names of the workspace libraries it depends on (dependencies and peers). */
  internalDependencies: string[];
}

function readLibraries(): Library[] {
  const directories = fs
    .readdirSync(PACKAGES_DIR)
    .filter((directory) => fs.existsSync(path.join(PACKAGES_DIR, directory, 'tsconfig.lib.json')))
    .sort();
  const manifests = directories.map((directory) => {
    const json = JSON.parse(fs.readFileSync(path.join(PACKAGES_DIR, directory, 'package.json'), 'utf8')) as {
      name: string;
      dependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
    };
    return { directory, json };
  });
  const directoryOf = new Map(manifests.map(({ directory, json }) => [json.name, directory]));
  return manifests.map(({ directory, json }) => ({
    directory,
    name: json.name,
    internalDependencies: [...Object.keys(json.dependencies ?? {}), ...Object.keys(json.peerDependencies ?? {})]
      .filter((dependency) => dependency !== json.name)
      .map((dependency) => directoryOf.get(dependency))
      .filter((dependency): dependency is string => dependency !== undefined),
  }));
}

function buildOne(library: Library): Promise<{ ok: boolean; output: string; seconds: number }> {
  const packageDir = path.join(PACKAGES_DIR, library.directory);
  fs.rmSync(path.join(packageDir, 'dist'), { recursive: true, force: true });
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TSC, '-p', 'tsconfig.lib.json'], { cwd: packageDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.on('error', (error) => resolve({ ok: false, output: `${output}${error.message}`, seconds: (Date.now() - started) / 1000 }));
    child.on('close', (code) => resolve({ ok: code === 0, output, seconds: (Date.now() - started) / 1000 }));
  });
}

async function main(): Promise<number> {
  const libraries = readLibraries();
  const requested = process.argv.slice(2);
  const unknown = requested.filter((name) => !libraries.some((library) => library.directory === name));
  if (unknown.length > 0) {
    console.error(`build_packages: unknown package(s) ${unknown.join(', ')}; known: ${libraries.map((l) => l.directory).join(', ')}`);
    return 2;
  }
  const byDirectory = new Map(libraries.map((library) => [library.directory, library]));
  // The requested packages and, transitively, what they depend on.
  const selected = new Set<string>();
  const visit = (directory: string): void => {
    if (selected.has(directory)) return;
    selected.add(directory);
    byDirectory.get(directory)?.internalDependencies.forEach(visit);
  };
  (requested.length > 0 ? requested : libraries.map((library) => library.directory)).forEach(visit);

  const started = Date.now();
  const done = new Set<string>();
  const failed = new Set<string>();
  const running = new Map<string, Promise<void>>();
  const concurrency = Math.max(1, Math.min(4, Number(process.env['BUILD_CONCURRENCY'] ?? os.availableParallelism()) || 1));
  const pending = libraries.filter((library) => selected.has(library.directory));
  while (pending.length > 0 || running.size > 0) {
    // Libraries whose dependencies failed are reported and dropped; ready ones start while slots are free.
    for (let index = pending.length - 1; index >= 0; index--) {
      const library = pending[index] as Library;
      const broken = library.internalDependencies.filter((dependency) => failed.has(dependency));
      if (broken.length > 0) {
        pending.splice(index, 1);
        failed.add(library.directory);
        console.error(`build_packages: ${library.name} not built, its dependencies failed (${broken.join(', ')})`);
      }
    }
    const ready = pending.filter((library) => library.internalDependencies.every((dependency) => done.has(dependency) || !selected.has(dependency)));
    for (const library of ready.slice(0, concurrency - running.size)) {
      pending.splice(pending.indexOf(library), 1);
      running.set(
        library.directory,
        buildOne(library).then((result) => {
          running.delete(library.directory);
          if (result.ok) {
            done.add(library.directory);
            console.log(`built ${library.name} (${result.seconds.toFixed(1)} s)`);
          } else {
            failed.add(library.directory);
            console.error(`build_packages: ${library.name} failed to build:\n${result.output.trim()}`);
          }
        }),
      );
    }
    if (running.size === 0) {
      if (pending.length > 0) {
        console.error(`build_packages: dependency cycle among ${pending.map((library) => library.name).join(', ')}`);
        return 1;
      }
      break;
    }
    await Promise.race(running.values());
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (failed.size > 0) {
    console.error(`build_packages: ${failed.size} package(s) failed (${seconds} s)`);
    return 1;
  }
  console.log(`built ${done.size} packages into packages/*/dist in ${seconds} s`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
