// Prints the node_modules directories (relative to the package root, one per line) that the
// package's production dependencies need at run time: `dependencies` and the `optionalDependencies`
// and `peerDependencies` that are installed, followed transitively and resolved as Node resolves
// them (the nearest node_modules up the tree). Used by build-deb.sh; independent of npm's own view
// of the tree, which a linked or hand-changed node_modules confuses.
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const root = realpathSync(process.argv[2] ?? '.');
const found = new Set();
const missing = [];

function resolveFrom(dir, name) {
  for (let d = dir; ; d = dirname(d)) {
    const candidate = join(d, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (d === root || dirname(d) === d) return undefined;
  }
}

function visit(dir, isRoot) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const wanted = [
    ...Object.keys(pkg.dependencies ?? {}).map((n) => [n, true]),
    ...Object.keys(pkg.optionalDependencies ?? {}).map((n) => [n, false]),
    ...(isRoot ? [] : Object.keys(pkg.peerDependencies ?? {}).map((n) => [n, false])),
  ];
  for (const [name, required] of wanted) {
    const at = resolveFrom(dir, name);
    if (!at) {
      if (required) missing.push(`${name} (needed by ${relative(root, dir) || 'the package'})`);
      continue;
    }
    const rel = relative(root, at);
    if (found.has(rel)) continue;
    found.add(rel);
    visit(at, false);
  }
}

visit(root, true);
if (missing.length > 0) {
  console.error(`prod-deps: not installed: ${missing.join(', ')}`);
  process.exit(1);
}
console.log([...found].sort().join('\n'));
