// The rooms' import rules (README's Layout, ARCHITECTURE.md), checked on every test run so the
// shape cannot drift: imports run one way, the policy stays pure, the wire contract stays small.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

/** A room: a folder under src/, or firmware-sim. */
type Room = 'policy' | 'i18n' | 'site' | 'devices' | 'store' | 'controller' | 'services' | 'api' | 'cli' | 'types' | 'firmware-sim';

/**
 * Which rooms each room may import (its own always). `typeOnly` rooms may be imported for types
 * alone (`import type`), which TypeScript erases: no code runs across that edge.
 */
const RULES: Record<Room, { may: Room[]; typeOnly?: Room[] }> = {
  policy: { may: [] },
  i18n: { may: ['policy'] },
  devices: { may: ['policy', 'types'] },
  site: { may: ['policy', 'devices'] },
  store: { may: ['policy'] },
  controller: { may: ['devices', 'policy', 'store', 'site', 'i18n', 'types'] },
  services: { may: ['controller', 'devices', 'policy', 'store', 'site', 'i18n'] },
  api: { may: ['services', 'policy', 'i18n', 'site', 'store'], typeOnly: ['controller'] },
  cli: { may: ['api', 'services', 'controller', 'devices', 'policy', 'store', 'site', 'i18n', 'firmware-sim'] },
  types: { may: [] },
  // The simulator is a device: it may know the wire contract and the site file's shape, nothing else.
  'firmware-sim': { may: [] },
};
/**
 * The console (console/, bundled for the browser) is a room of its own outside src/: of ours it may
 * import only pure data with no Node in it, the words and the vocabulary (type imports of the
 * vocabulary included). Everything else it learns from the API.
 */
const CONSOLE_MAY = ['src/i18n/labels.ts', 'src/policy/vocabulary.ts'];
/** The only files of other rooms the simulator may import. */
// secrets.ts: a simulated device reads its own login from the secrets file, as a provisioned one holds it.
const SIMULATOR_MAY = ['src/devices/protocol.ts', 'src/devices/secrets.ts', 'src/site/schema.ts', 'src/policy/vocabulary.ts'];

function roomOf(file: string): Room | undefined {
  const parts = file.split('/');
  if (parts[0] === 'firmware-sim') return 'firmware-sim';
  if (parts[0] === 'src' && parts.length > 2) return parts[1] as Room;
  return undefined;
}

function sources(dir: string, pattern = /\.ts$/): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...sources(path, pattern));
    else if (pattern.test(name) && !/\.d\.ts$/.test(name)) out.push(path);
  }
  return out;
}

interface Import {
  from: string;
  to: string;
  typeOnly: boolean;
}

/** Every relative import and re-export of a file (static and dynamic), resolved to a source path. */
function importsOf(file: string, text: string): Import[] {
  const found: Import[] = [];
  const add = (spec: string, typeOnly: boolean) => {
    if (!spec.startsWith('.')) return;
    const to = relative(ROOT, resolve(ROOT, dirname(file), spec)).replace(/\.js$/, '.ts');
    found.push({ from: file, to, typeOnly });
  };
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?([^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gms)) {
    const clause = m[3] ?? '';
    // `import { type A, type B } from` is type-only as well.
    const allTypes =
      /^\s*\{[^}]*\}\s*from\s+$/s.test(clause) &&
      clause
        .replace(/from\s+$/, '')
        .replace(/[{}\s]/g, '')
        .split(',')
        .filter(Boolean)
        .every((n) => n.startsWith('type'));
    add(m[4]!, Boolean(m[2]) || allTypes);
  }
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) add(m[1]!, false);
  return found;
}

function violations(): string[] {
  const out: string[] = [];
  for (const file of [...sources('src'), ...sources('firmware-sim')]) {
    const from = roomOf(file);
    if (!from) continue;
    for (const imp of importsOf(file, readFileSync(join(ROOT, file), 'utf8'))) {
      const to = roomOf(imp.to);
      if (!to || to === from) continue;
      const rule = RULES[from];
      if (from === 'firmware-sim') {
        if (!SIMULATOR_MAY.includes(imp.to)) out.push(`${file} imports ${imp.to}: the simulator may import only ${SIMULATOR_MAY.join(', ')}`);
        continue;
      }
      if (rule.may.includes(to)) continue;
      if (imp.typeOnly && rule.typeOnly?.includes(to)) continue;
      out.push(`${file} imports ${imp.to}: ${from} may not import ${to}${rule.typeOnly?.includes(to) ? ' (types only)' : ''}`);
    }
  }
  return out;
}

describe('import rules', () => {
  it("every import follows the rooms' rules", () => {
    expect(violations()).toEqual([]);
  });

  it('the console imports from src only the words and the vocabulary', () => {
    const out: string[] = [];
    for (const file of sources('console', /\.tsx?$/)) {
      for (const imp of importsOf(file, readFileSync(join(ROOT, file), 'utf8'))) {
        if (imp.to.startsWith('console/') || CONSOLE_MAY.includes(imp.to)) continue;
        out.push(`${file} imports ${imp.to}: the console may import only ${CONSOLE_MAY.join(', ')}`);
      }
    }
    expect(out).toEqual([]);
  });

  it('src/site and src/devices form no cycle', () => {
    // Encoded in RULES (site may import devices, devices may not import site); asserted apart so a
    // change to RULES that allowed both ways fails here.
    expect(RULES.devices.may).not.toContain('site');
    expect(RULES.policy.may).toEqual([]);
    expect(RULES.api.may).not.toContain('cli');
  });

  it('the parser sees what the rules need it to see', () => {
    const f = 'src/api/x.ts';
    const text = [
      "import type { A } from '../controller/a.js';",
      "import { type B, type C } from '../controller/b.js';",
      "import { D, type E } from '../controller/d.js';",
      "export { F } from '../cli/f.js';",
      "import {\n  G,\n  H,\n} from '../store/g.js';",
      "const m = await import('../cli/m.js');",
      "import 'pino';",
    ].join('\n');
    expect(importsOf(f, text)).toEqual([
      { from: f, to: 'src/controller/a.ts', typeOnly: true },
      { from: f, to: 'src/controller/b.ts', typeOnly: true },
      { from: f, to: 'src/controller/d.ts', typeOnly: false },
      { from: f, to: 'src/cli/f.ts', typeOnly: false },
      { from: f, to: 'src/store/g.ts', typeOnly: false },
      { from: f, to: 'src/cli/m.ts', typeOnly: false },
    ]);
  });
});
