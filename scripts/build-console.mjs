#!/usr/bin/env node
// Builds the console (console/src) into dist/console: one minified ES2022 bundle and its stylesheet
// under assets/ with content hashes in their names (cached for ever; index.html is never cached
// long), and index.html naming them. No inline script or style: the page runs under a CSP of
// default-src 'self'. Fails when the JavaScript is over its budget, gzipped, so the page stays
// quick on a gateway's closed network and a patrol tablet.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist/console');
const BUDGET_BYTES = 200 * 1024;

rmSync(OUT, { recursive: true, force: true });
mkdirSync(join(OUT, 'assets'), { recursive: true });

const result = await build({
  absWorkingDir: ROOT,
  entryPoints: { app: 'console/src/main.tsx' },
  outdir: join(OUT, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  platform: 'browser',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  sourcemap: false,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
});

const outputs = Object.keys(result.metafile.outputs).map((p) => resolve(ROOT, p));
const js = outputs.filter((p) => p.endsWith('.js'));
const css = outputs.filter((p) => p.endsWith('.css'));
if (js.length !== 1 || css.length !== 1) throw new Error(`expected one script and one stylesheet, got ${outputs.join(', ')}`);

const gzipped = js.reduce((sum, p) => sum + gzipSync(readFileSync(p), { level: 9 }).length, 0);
const cssGzipped = gzipSync(readFileSync(css[0]), { level: 9 }).length;

writeFileSync(
  join(OUT, 'index.html'),
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>tobira</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/${basename(css[0])}">
<script type="module" src="/assets/${basename(js[0])}"></script>
</head>
<body>
<div id="app"></div>
<noscript>tobira's console needs JavaScript.</noscript>
</body>
</html>
`,
);

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(`console: ${basename(js[0])} ${kb(gzipped)} gzipped (budget ${kb(BUDGET_BYTES)}), ${basename(css[0])} ${kb(cssGzipped)} gzipped`);
if (gzipped > BUDGET_BYTES) {
  console.error(`console: the JavaScript is ${kb(gzipped)} gzipped, over the ${kb(BUDGET_BYTES)} budget`);
  process.exit(1);
}
