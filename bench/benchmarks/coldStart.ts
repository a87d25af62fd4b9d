import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { promisify } from 'node:util';
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
  readonly bundleBytes: number;
  readonly sourceMapBytes: number;
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
  for (const lambda of bed.runtime.lambdas) {
    const [, exportName = ''] = lambda.fn.factory.split('#');
    const name = exportName.replace(/^create|Handler$/g, '').toLowerCase();
    if (seen.has(exportName) || lambda.fn.bundle === undefined) continue;
    if (options.functions !== undefined && !options.functions.includes(name)) continue;
    seen.add(exportName);
    const env = {
      PATH: process.env.PATH ?? '',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      ...lambda.fn.environment,
      AWS_REGION: lambda.fn.region,
      AWS_ENDPOINT_URL: bed.runtime.awsEndpoint,
      AWS_LAMBDA_FUNCTION_NAME: lambda.fn.name,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    };
    const measure = async (nodeOptions: string): Promise<ColdStartTiming> => {
      const timings: ColdStartTiming[] = [];
      for (let i = 0; i < options.runs; i++) {
        const { stdout } = await run(process.execPath, ['--input-type=module', '-e', CHILD, lambda.fn.bundle!, exportName], { env: { ...env, NODE_OPTIONS: nodeOptions } });
        timings.push(JSON.parse(stdout.trim().split('\n').pop()!) as ColdStartTiming);
      }
      return medianTiming(timings);
    };
    const deployedOptions = lambda.fn.environment.NODE_OPTIONS ?? '';
    const asDeployed = await measure(deployedOptions);
    const withoutNodeOptions = await measure('');
    const mapFile = `${lambda.fn.bundle}.map`;
    functions.push({
      function: name,
      bundleBytes: statSync(lambda.fn.bundle).size,
      sourceMapBytes: statSync(mapFile, { throwIfNoEntry: false })?.size ?? 0,
      asDeployed,
      asDeployedNodeOptions: deployedOptions,
      withoutNodeOptions,
    });
    options.log(`  ${name}: load ${asDeployed.loadMs} + init ${asDeployed.initMs} ms as deployed (${deployedOptions || 'no NODE_OPTIONS'}; CPU ${asDeployed.loadCpuMs} + ${asDeployed.initCpuMs} ms), ${withoutNodeOptions.loadMs} + ${withoutNodeOptions.initMs} ms without`);
  }
  return { runs: options.runs, nodeBaselineMs: Math.round(distribution(baseline).p50 * 10) / 10, functions };
}
