import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { READ_OPERATIONS, type ReadOperation } from '../../bench/benchmarks/regionReads.ts';
import { BENCHMARKS, formatReport, runBench, type BenchmarkName } from '../../bench/runBench.ts';
import { splitList } from './projectConfig.ts';
import { quietLambdaLogs } from './quietLambdaLogs.ts';

const integer = (value: string): number => {
  const parsed = Number.parseInt(value, 10);
  if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`expected a positive integer, got ${value}`);
  return parsed;
};

export function benchCommand(): Command {
  return new Command('bench')
    .description('measure replication against native git: lag, initial sync, cost per sync, fan-out (the suite lives in bench/)')
    .option('--quick', 'small inputs, under a minute (what CI runs)', false)
    .option('--repo <path|url>', 'repository for the initial sync (default: a generated one of about 50,000 objects)')
    .addOption(new Option('--aws-endpoint <url>', 'AWS endpoint to run against instead of an embedded moto').env('AWS_ENDPOINT_URL'))
    .option('--only <list>', `benchmarks to run, comma-separated: ${BENCHMARKS.join(', ')} (cost per sync comes with lag)`)
    .option('--engines <list>', 'git-geo fetch engines for the initial sync, comma-separated', 'isomorphic-git,native')
    .option('--cpu-prof <dir>', "write a CPU profile (node --cpu-prof) of each initial sync process, and of the region's side of each read operation, into this directory")
    .option('--big-repo-mib <n>', 'initial sync of a generated repository of this many MiB of incompressible blobs (e.g. 1024)', integer)
    .option('--pack-syncs <n>', 'syncs of one repository the pack-count benchmark runs (full: 1000)', integer)
    .option('--lag-pushes <n>', 'pushes the lag benchmark measures', integer)
    .option('--fanout-pushes <n>', 'pushes of the fan-out benchmark', integer)
    .option('--fanout-repos <n>', 'repositories of the fan-out benchmark', integer)
    .option('--many-refs <n>', 'refs of the many-refs sync benchmark (full: 100,000)', integer)
    .option('--onboard-repos <n>', 'repositories a new region onboards in the onboarding benchmark (full: 10,000)', integer)
    .option('--onboard-minutes <n>', 'longest the onboarding benchmark waits for every repository; past it, it reports what was synced (default: 240)', integer)
    .option('--reads-repos <list>', 'repositories the reads benchmark measures, comma-separated: generated, express, git (default: all found)')
    .option('--reads-ops <list>', `operations the reads benchmark times, comma-separated: ${READ_OPERATIONS.join(', ')} (default: all)`)
    .option('--reads-runs <n>', 'runs of each read operation, the median counts (full: 3)', integer)
    .option('--verbose', 'show Lambda logs', false)
    .action(async (options: { quick: boolean; repo?: string; awsEndpoint?: string; only?: string; engines: string; bigRepoMib?: number; packSyncs?: number; lagPushes?: number; fanoutPushes?: number; fanoutRepos?: number; onboardRepos?: number; onboardMinutes?: number; manyRefs?: number; readsRepos?: string; readsOps?: string; readsRuns?: number; cpuProf?: string; verbose: boolean }) => {
      quietLambdaLogs(options.verbose);
      const only = splitList(options.only);
      const unknown = only?.filter((name) => !(BENCHMARKS as readonly string[]).includes(name)) ?? [];
      if (unknown.length > 0) throw new Error(`unknown benchmark(s): ${unknown.join(', ')}; choose from ${BENCHMARKS.join(', ')}`);
      const readsOps = splitList(options.readsOps);
      const unknownOps = readsOps?.filter((name) => !(READ_OPERATIONS as readonly string[]).includes(name)) ?? [];
      if (unknownOps.length > 0) throw new Error(`unknown read operation(s): ${unknownOps.join(', ')}; choose from ${READ_OPERATIONS.join(', ')}`);
      const { report, file } = await runBench({
        quick: options.quick,
        repo: options.repo,
        awsEndpoint: options.awsEndpoint,
        only: only as BenchmarkName[] | undefined,
        engines: splitList(options.engines),
        bigRepoMiB: options.bigRepoMib,
        packSyncs: options.packSyncs,
        lagPushes: options.lagPushes,
        fanOutPushes: options.fanoutPushes,
        fanOutRepositories: options.fanoutRepos,
        onboardRepositories: options.onboardRepos,
        onboardMinutes: options.onboardMinutes,
        manyRefs: options.manyRefs,
        readsRepos: splitList(options.readsRepos),
        readsOperations: readsOps as ReadOperation[] | undefined,
        readsRuns: options.readsRuns,
        cpuProfileDir: options.cpuProf === undefined ? undefined : resolve(options.cpuProf),
      });
      process.stdout.write(`${formatReport(report)}\nresults: ${file}\n`);
    });
}
