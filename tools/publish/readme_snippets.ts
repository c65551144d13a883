// The README snippets that `check:packages` runs in a scratch project installed from the packed tarballs.
//
// A snippet is a ```js block right after a marker line naming what a user installs for it:
//
//   <!-- check:packages install: @rlhfjs/core @rlhfjs/dpo -->
//
// For each one: pack the needed packages (`npm pack`), make an empty project, `npm install` the tarballs of the
// named packages and of the @rlhfjs packages they depend on (third-party dependencies come from the npm cache or
// registry, `--prefer-offline`), check that no other @rlhfjs package got installed (so an optional peer really is
// optional), write the snippet as snippet.mjs and run it with plain `node`.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface ReadmeSnippet {
  /** README path relative to the repository root, and the 1-based line of the marker. */
  readme: string;
  line: number;
  packages: string[];
  code: string;
}

export interface SnippetResult {
  snippet: ReadmeSnippet;
  ok: boolean;
  seconds: number;
  problems: string[];
  /** The snippet's last line of output. */
  lastLine: string;
}

const MARKER = /<!--\s*check:packages install:\s*([^>]*?)\s*-->\s*\n```(?:js|javascript|mjs)\n([\s\S]*?)```/g;

/** Every marked snippet of README.md, packages/*\/README.md and apps/*\/README.md. */
export function readReadmeSnippets(repositoryRoot: string): ReadmeSnippet[] {
  const readmes = ['README.md'];
  for (const parent of ['packages', 'apps']) {
    const directory = path.join(repositoryRoot, parent);
    if (!fs.existsSync(directory)) continue;
    for (const name of fs.readdirSync(directory).sort()) {
      if (fs.existsSync(path.join(directory, name, 'README.md'))) readmes.push(`${parent}/${name}/README.md`);
    }
  }
  return readmes.flatMap((readme) => {
    const text = fs.readFileSync(path.join(repositoryRoot, readme), 'utf8');
    return [...text.matchAll(MARKER)].map((match) => ({
      readme,
      line: text.slice(0, match.index).split('\n').length,
      packages: (match[1] as string).split(/\s+/).filter((name) => name.length > 0),
      code: match[2] as string,
    }));
  });
}

function run(command: string, args: readonly string[], cwd: string, timeoutMs: number) {
  const environment: NodeJS.ProcessEnv = { ...process.env };
  // As a user runs it: the default backend choice, no tsx or workspace tsconfig.
  for (const name of ['RLHFJS_BACKEND', 'NODE_OPTIONS', 'TSX_TSCONFIG_PATH']) delete environment[name];
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: environment });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`
    .split('\n')
    .filter((line) => !line.startsWith('npm warn Unknown user config'))
    .join('\n')
    .trim();
  const timedOut = result.error !== undefined && (result.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
  return { ok: result.status === 0, stdout: result.stdout ?? '', output: timedOut ? `${output}\n(timed out after ${timeoutMs / 1000} s)` : output };
}

/**
 * Packs and installs what each snippet names into its own scratch project and runs it. `packageDirs` maps every
 * workspace package name to its folder (already built); `internalDependencies` gives a package's @rlhfjs
 * `dependencies` (not peers: a peer is the user's choice, which the marker states).
 */
export function runReadmeSnippets(
  snippets: readonly ReadmeSnippet[],
  packageDirs: ReadonlyMap<string, string>,
  internalDependencies: (name: string) => readonly string[],
): SnippetResult[] {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhfjs-check-packages-'));
  const tarballs = new Map<string, string>();
  const pack = (name: string): string => {
    const existing = tarballs.get(name);
    if (existing !== undefined) return existing;
    const packageDir = packageDirs.get(name);
    if (packageDir === undefined) throw new Error(`unknown package ${name}`);
    // The package was just built; --ignore-scripts skips its prepack rebuild.
    const packed = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], packageDir, 120_000);
    if (!packed.ok) throw new Error(`npm pack ${name} failed:\n${packed.output}`);
    const file = path.join(scratch, (JSON.parse(packed.stdout) as { filename: string }[])[0]?.filename ?? '');
    tarballs.set(name, file);
    return file;
  };
  try {
    return snippets.map((snippet, index) => {
      const started = Date.now();
      const problems: string[] = [];
      let lastLine = '';
      const unknown = snippet.packages.filter((name) => !packageDirs.has(name));
      if (unknown.length > 0) problems.push(`the marker names ${unknown.join(', ')}, which are not workspace packages`);
      else {
        const installed = new Set<string>();
        const visit = (name: string): void => {
          if (installed.has(name)) return;
          installed.add(name);
          internalDependencies(name).forEach(visit);
        };
        snippet.packages.forEach(visit);
        const project = path.join(scratch, `snippet-${index + 1}`);
        fs.mkdirSync(project);
        fs.writeFileSync(path.join(project, 'package.json'), `${JSON.stringify({ name: `snippet-${index + 1}`, version: '0.0.0', private: true }, null, 2)}\n`);
        try {
          const files = [...installed].map(pack);
          const install = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...files], project, 600_000);
          if (!install.ok) problems.push(`npm install ${snippet.packages.join(' ')} failed:\n${install.output.split('\n').slice(-20).join('\n')}`);
          else {
            const present = fs.existsSync(path.join(project, 'node_modules', '@rlhfjs')) ? fs.readdirSync(path.join(project, 'node_modules', '@rlhfjs')) : [];
            const extra = present.map((name) => `@rlhfjs/${name}`).filter((name) => !installed.has(name));
            if (extra.length > 0) problems.push(`npm also installed ${extra.join(', ')}, which the snippet's install line does not name`);
            fs.writeFileSync(path.join(project, 'snippet.mjs'), snippet.code);
            const ran = run(process.execPath, ['snippet.mjs'], project, 300_000);
            lastLine = ran.stdout.trim().split('\n').pop() ?? '';
            if (!ran.ok) problems.push(`node snippet.mjs failed:\n${ran.output.split('\n').slice(-20).join('\n')}`);
          }
        } catch (error) {
          problems.push((error as Error).message);
        }
      }
      return { snippet, ok: problems.length === 0, seconds: (Date.now() - started) / 1000, problems, lastLine };
    });
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
