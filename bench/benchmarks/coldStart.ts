import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { BUNDLE_INDEX, bundleFiles, bundleFunction, startupFiles } from '../../cdk/functionBundle.ts';
import type { BenchBed } from '../BenchBed.ts';
import { distribution } from '../stats.ts';

const run = promisify(execFile);

/**
 * One cold start in a fresh process, as Lambda's runtime does it: import the function's bundle,
 * then build its handler with its environment. Timings are Node's own (performance.now() counts
 * from the process's start), and its CPU time (user + system, every thread: what a loaded,
 * shared machine inflates least). Plain JavaScript, run with `node -e`: no loader adds to what is measured.
 */
const CHILD = `
const { pathToFileURL } = await import('node:url');
const started = performance.now();
const startCpu = process.cpuUsage();
const cpuMs = (from, to) => (to.user + to.system - from.user - from.system) / 1000;
const [bundle, exportName] = process.argv.slice(1);
globalThis.awslambda ??= { streamifyResponse: (handler) => handler, HttpResponseStream: { from: (stream) => stream } };
const module = await import(pathToFileURL(bundle).href);
const loaded = performance.now();
const loadedCpu = process.cpuUsage();
await module[exportName](process.env);
const ready = performance.now();
const readyCpu = process.cpuUsage();
process.stdout.write(JSON.stringify({ processStartMs: started, loadMs: loaded - started, initMs: ready - loaded, loadCpuMs: cpuMs(startCpu, loadedCpu), initCpuMs: cpuMs(loadedCpu, readyCpu) }) + '\\n');
`;

export interface ColdStartOptions {
  readonly runs: number;
  /** Handler factories to measure (`createEndpointHandler`, say); undefined: every function. */
  readonly functions?: readonly string[];
  readonly log: (line: string) => void;
}

export interface ColdStartTiming {
  /** Node's start until the measuring script runs (what `node -e 0` also pays). */
  readonly processStartMs: number;
  /** Importing the bundle: reading, compiling and evaluating it. */
  readonly loadMs: number;
  /** The handler factory: configuration, clients, what it reads at cold start. */
  readonly initMs: number;
  /** CPU time (user + system) of the process during load, and during init. */
  readonly loadCpuMs: number;
  readonly initCpuMs: number;
}

export interface FunctionColdStart {
  readonly function: string;
  /** What a cold start loads: the bundle's index and the chunks it imports statically. */
  readonly bundleBytes: number;
  readonly sourceMapBytes: number;
  /** The whole bundle, with the chunks loaded only on demand. */
  readonly allBundleBytes: number;
  /** With the NODE_OPTIONS the template gives the function (source maps on, if it says so). */
  readonly asDeployed: ColdStartTiming;
  readonly asDeployedNodeOptions: string;
  /** The same without NODE_OPTIONS. */
  readonly withoutNodeOptions: ColdStartTiming;
}

export interface ColdStartResult {
  readonly runs: number;
  /** `node -e 0` wall time in the same run: the floor of any process. */
  readonly nodeBaselineMs: number;
  readonly functions: readonly FunctionColdStart[];
  /**
   * For endpoint and notify: a bundle of only the AWS SDK clients the function constructs,
   * built and measured the same way. What the function's cold start cannot go below while it
   * uses those clients.
   */
  readonly sdkClientsAlone: readonly { readonly function: string; readonly bundleBytes: number; readonly timing: ColdStartTiming }[];
}

/** Entries (bench/coldStartFloor/) of the SDK clients alone, by function. */
const SDK_CLIENTS_ALONE: Readonly<Record<string, string>> = { endpoint: 'bench/coldStartFloor/endpoint.ts', notify: 'bench/coldStartFloor/notify.ts' };

const bytesOf = (files: readonly string[]): number => files.reduce((sum, file) => sum + (statSync(file, { throwIfNoEntry: false })?.size ?? 0), 0);

async function measure(bundle: string, exportName: string, env: NodeJS.ProcessEnv, runs: number): Promise<ColdStartTiming> {
  const timings: ColdStartTiming[] = [];
  for (let i = 0; i < runs; i++) {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', CHILD, bundle, exportName], { env });
    timings.push(JSON.parse(stdout.trim().split('\n').pop()!) as ColdStartTiming);
  }
  return medianTiming(timings);
}

function medianTiming(timings: readonly ColdStartTiming[]): ColdStartTiming {
  const of = (key: keyof ColdStartTiming): number => Math.round(distribution(timings.map((timing) => timing[key])).p50 * 10) / 10;
  return { processStartMs: of('processStartMs'), loadMs: of('loadMs'), initMs: of('initMs'), loadCpuMs: of('loadCpuMs'), initCpuMs: of('initCpuMs') };
}

/**
 * Each function's cold start from its bundle, in a fresh process each time: load (import) and
 * init (the handler factory with the template's environment, against the bench's AWS endpoint),
 * as deployed and without NODE_OPTIONS, beside `node -e 0` measured in the same run.
 */
export async function coldStart(bed: BenchBed, options: ColdStartOptions): Promise<ColdStartResult> {
  const baseline: number[] = [];
  for (let i = 0; i < options.runs; i++) {
    const started = performance.now();
    await run(process.execPath, ['-e', '0']);
    baseline.push(performance.now() - started);
  }
  const seen = new Set<string>();
  const functions: FunctionColdStart[] = [];
  const sdkClientsAlone: ColdStartResult['sdkClientsAlone'][number][] = [];
  for (const lambda of bed.runtime.lambdas) {
    const [, exportName = ''] = lambda.fn.factory.split('#');
    const name = exportName.replace(/^create|Handler$/g, '').toLowerCase();
    if (seen.has(exportName) || lambda.fn.bundle === undefined) continue;
    if (options.functions !== undefined && !options.functions.includes(name)) continue;
    seen.add(exportName);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      ...lambda.fn.environment,
      AWS_REGION: lambda.fn.region,
      AWS_ENDPOINT_URL: bed.runtime.awsEndpoint,
      AWS_LAMBDA_FUNCTION_NAME: lambda.fn.name,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    };
    const deployedOptions = lambda.fn.environment.NODE_OPTIONS ?? '';
    const asDeployed = await measure(lambda.fn.bundle, exportName, { ...env, NODE_OPTIONS: deployedOptions }, options.runs);
    const withoutNodeOptions = await measure(lambda.fn.bundle, exportName, { ...env, NODE_OPTIONS: '' }, options.runs);
    const startup = startupFiles(dirname(lambda.fn.bundle));
    functions.push({
      function: name,
      bundleBytes: bytesOf(startup),
      sourceMapBytes: bytesOf(startup.map((file) => `${file}.map`)),
      allBundleBytes: bytesOf(bundleFiles(dirname(lambda.fn.bundle))),
      asDeployed,
      asDeployedNodeOptions: deployedOptions,
      withoutNodeOptions,
    });
    const floorEntry = SDK_CLIENTS_ALONE[name];
    if (floorEntry !== undefined) {
      const outputDir = mkdtempSync(join(tmpdir(), 'git-geo-cold-floor-'));
      try {
        bundleFunction(floorEntry, outputDir);
        const bundle = join(outputDir, BUNDLE_INDEX);
        sdkClientsAlone.push({ function: name, bundleBytes: bytesOf(startupFiles(outputDir)), timing: await measure(bundle, 'createSdkClients', { ...env, NODE_OPTIONS: '' }, options.runs) });
      } finally {
        rmSync(outputDir, { recursive: true, force: true });
      }
    }
    options.log(`  ${name}: load ${asDeployed.loadMs} + init ${asDeployed.initMs} ms as deployed (${deployedOptions || 'no NODE_OPTIONS'}; CPU ${asDeployed.loadCpuMs} + ${asDeployed.initCpuMs} ms), ${withoutNodeOptions.loadMs} + ${withoutNodeOptions.initMs} ms without`);
  }
  return { runs: options.runs, nodeBaselineMs: Math.round(distribution(baseline).p50 * 10) / 10, functions, sdkClientsAlone };
}
