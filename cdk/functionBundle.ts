import { buildSync } from 'esbuild';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PROJECT_ROOT } from './projectRoot.ts';

/** The file Lambda loads (handler `index.handler`); code behind a dynamic import() goes under `chunks/`. */
export const BUNDLE_INDEX = 'index.mjs';
const CHUNKS_DIR = 'chunks';

/**
 * Builds a function's code into `outputDir` with the project's esbuild: an ES module bundle (the
 * AWS SDK included, so its version is the lockfile's), split at dynamic imports. A cold start
 * then compiles only what the handler imports statically: isomorphic-git, and the SDK's
 * credential providers that Lambda's environment credentials leave unused, stay in their chunks.
 */
export function bundleFunction(entry: string, outputDir: string): void {
  buildSync({
    entryPoints: { index: join(PROJECT_ROOT, entry) },
    outdir: outputDir,
    outExtension: { '.js': '.mjs' },
    chunkNames: `${CHUNKS_DIR}/[name]-[hash]`,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    minify: true,
    sourcemap: true,
    mainFields: ['module', 'main'],
    // Some dependencies still call require(); give each ES module file one.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: 'warning',
  });
}

/** esbuild's static imports between output files (`import"./x.mjs"`, `from"./x.mjs"`); `import("./x.mjs")` is not one. */
const STATIC_IMPORT = /\b(?:from|import)\s*"(\.{1,2}\/[^"]+\.mjs)"/g;

/** The files a cold start loads: the bundle's index and every file it imports statically, transitively. */
export function startupFiles(bundleDir: string): string[] {
  const seen = new Set<string>();
  const pending = [resolve(bundleDir, BUNDLE_INDEX)];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(STATIC_IMPORT)) pending.push(resolve(dirname(file), specifier!));
  }
  return [...seen];
}

/** Every code file of a bundle: its index, then its chunks, whether loaded at start or on demand. */
export function bundleFiles(bundleDir: string): string[] {
  const chunks = resolve(bundleDir, CHUNKS_DIR);
  const chunkFiles = existsSync(chunks) ? readdirSync(chunks).filter((name) => name.endsWith('.mjs')).map((name) => join(chunks, name)) : [];
  return [resolve(bundleDir, BUNDLE_INDEX), ...chunkFiles.sort()];
}
