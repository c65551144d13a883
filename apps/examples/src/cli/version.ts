import * as fs from 'fs';
import * as path from 'path';

/** The @rlhfjs packages whose versions `rlhfjs --version` prints, in dependency order. */
const PACKAGES = ['core', 'lora', 'reward', 'dpo', 'ppo', 'dist'] as const;

function versionOf(packageJsonPath: string): string {
  try {
    const version = (JSON.parse(fs.readFileSync(packageJsonPath, 'utf8')) as { version?: unknown }).version;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'not installed';
  }
}

function resolvedPackageJson(name: string): string | null {
  try {
    return require.resolve(`${name}/package.json`);
  } catch {
    return null;
  }
}

/** `rlhfjs <cli version> (@rlhfjs/core <version>, …)`: the CLI's own version and the packages it runs on. */
export function cliVersionText(): string {
  const own = versionOf(path.join(__dirname, '..', '..', 'package.json'));
  const packages = PACKAGES.map((directory) => {
    const name = `@rlhfjs/${directory}`;
    const file = resolvedPackageJson(name);
    return `${name} ${file === null ? 'not installed' : versionOf(file)}`;
  });
  return `rlhfjs ${own} (${packages.join(', ')})`;
}
