// Where the bundled files live, wherever the package is installed or built.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the tobira package root');
    dir = up;
  }
  return dir;
}

export const PACKAGE_ROOT = packageRoot();
export const EXAMPLE_SITE = join(PACKAGE_ROOT, 'examples', 'site.yaml');
