import { App } from 'aws-cdk-lib';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { buildApp } from '../../cdk/buildApp.ts';
import { PROJECT_ROOT } from '../../cdk/constructs/GeoFunction.ts';
import { HANDLER_FACTORY_METADATA } from '../../cdk/constructs/localMetadata.ts';
import type { GeoConfig } from '../../cdk/GeoConfig.ts';
import type { CfnTemplate } from './LocalResources.ts';

/** Where bundles are kept between runs, by the fingerprint of everything that goes into them. */
const CACHE_ROOT = join(PROJECT_ROOT, 'node_modules', '.cache', 'git-geo-bundles');
/** What a bundle is made of: the functions' sources, the CDK code that sets esbuild's options, the locked dependencies. */
const BUNDLE_INPUTS = ['lambdas', 'cdk', 'package-lock.json', 'package.json', 'tsconfig.json'];
/** A lock older than this was left by a process that died while bundling. */
const STALE_LOCK_MS = 10 * 60_000;
/** Bundles of other fingerprints (older sources) untouched this long are removed when bundling. */
const KEEP_OLD_BUNDLES_MS = 24 * 60 * 60_000;

function pruneOldBundles(current: string): void {
  for (const entry of readdirSync(CACHE_ROOT, { withFileTypes: true })) {
    const path = join(CACHE_ROOT, entry.name);
    if (path === current || !entry.isDirectory() || entry.name.endsWith('.lock')) continue;
    if (Date.now() - statSync(path).mtimeMs > KEEP_OLD_BUNDLES_MS) rmSync(path, { recursive: true, force: true });
  }
}

function filesUnder(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => filesUnder(join(path, entry.name)));
}

/** A digest of every file a bundle depends on: a change to any of them means bundling again. */
export function bundleFingerprint(root = PROJECT_ROOT): string {
  const hash = createHash('sha256');
  for (const file of BUNDLE_INPUTS.flatMap((input) => filesUnder(join(root, input)))) {
    hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 24);
}

/** The directory name a function's bundle is cached under: one per handler factory, which names its entry. */
function cacheName(factory: string): string {
  return factory.replace(/[^A-Za-z0-9]+/g, '_');
}

function factoriesOf(templates: readonly CfnTemplate[]): Set<string> {
  const factories = new Set<string>();
  for (const template of templates) {
    for (const resource of Object.values(template.Resources)) {
      const factory = resource.Metadata?.[HANDLER_FACTORY_METADATA];
      if (resource.Type === 'AWS::Lambda::Function' && typeof factory === 'string') factories.add(factory);
    }
  }
  return factories;
}

/**
 * Synthesizes the app with bundling on, exactly as `cdk synth` does (the same esbuild, options
 * and entries), and moves each function's asset, the directory `cdk deploy` uploads as its code,
 * into the cache.
 */
function bundleInto(cacheDir: string, config: GeoConfig, context: Record<string, unknown>, wanted: ReadonlySet<string>): void {
  const outdir = mkdtempSync(join(tmpdir(), 'git-geo-bundle-'));
  try {
    const app = new App({ outdir, context: { ...context, 'aws:cdk:enable-asset-metadata': true } });
    buildApp(config, { app });
    const assembly = app.synth();
    mkdirSync(cacheDir, { recursive: true });
    for (const stack of assembly.stacks) {
      for (const resource of Object.values((stack.template as CfnTemplate).Resources)) {
        const factory = resource.Metadata?.[HANDLER_FACTORY_METADATA];
        const assetPath = resource.Metadata?.['aws:asset:path'];
        if (resource.Type !== 'AWS::Lambda::Function' || typeof factory !== 'string' || !wanted.has(factory)) continue;
        if (typeof assetPath !== 'string') throw new Error(`${stack.stackName}: the function of ${factory} has no asset path metadata`);
        const target = join(cacheDir, cacheName(factory));
        if (existsSync(target)) continue;
        // Copied beside the target, then renamed: a reader never sees half a bundle.
        const partial = `${target}.partial-${process.pid}`;
        cpSync(join(outdir, assetPath), partial, { recursive: true });
        renameSync(partial, target);
      }
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

async function withLock<T>(lockDir: string, work: () => T): Promise<T> {
  mkdirSync(join(lockDir, '..'), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (Date.now() - statSync(lockDir, { throwIfNoEntry: false })!.mtimeMs > STALE_LOCK_MS) rmSync(lockDir, { recursive: true, force: true });
      else await sleep(250);
    }
  }
  try {
    return work();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

/**
 * The esbuild bundle of every function in `templates`, as `cdk deploy` would upload it: by handler
 * factory, the absolute path of the bundle's `index.mjs`. Bundling takes tens of seconds, so
 * bundles are cached by the fingerprint of their inputs (sources, CDK code, lockfile): a change
 * to any input bundles again; processes that start together bundle once.
 */
export async function functionBundles(config: GeoConfig, context: Record<string, unknown>, templates: readonly CfnTemplate[]): Promise<ReadonlyMap<string, string>> {
  const cacheDir = join(CACHE_ROOT, bundleFingerprint());
  const wanted = factoriesOf(templates);
  const missing = (): Set<string> => new Set([...wanted].filter((factory) => !existsSync(join(cacheDir, cacheName(factory), 'index.mjs'))));
  if (missing().size > 0) {
    await withLock(`${cacheDir}.lock`, () => {
      const stillMissing = missing();
      if (stillMissing.size === 0) return;
      bundleInto(cacheDir, config, context, stillMissing);
      pruneOldBundles(cacheDir);
    });
  }
  const bundles = new Map<string, string>();
  for (const factory of wanted) {
    const bundle = join(cacheDir, cacheName(factory), 'index.mjs');
    if (!existsSync(bundle)) throw new Error(`no bundle for ${factory} after bundling`);
    bundles.set(factory, bundle);
  }
  return bundles;
}
