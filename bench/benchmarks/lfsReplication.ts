import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { git } from '../../bin/local/git.ts';
import type { BenchBed } from '../BenchBed.ts';

const execFileAsync = promisify(execFile);
const CHILD = new URL('../lfsReplicationChild.ts', import.meta.url).pathname;
const MiB = 2 ** 20;

export interface LfsRun {
  readonly wallMs: number;
  readonly peakRssBytes: number;
}

export interface LfsReplicationResult {
  readonly sizes: readonly {
    readonly bytes: number;
    /** git-geo: the primary's LFS API -> verified stream -> the region's bucket. */
    readonly lfs: LfsRun;
    /** The baseline: the same bytes uploaded from local disk to the bucket, same part size. */
    readonly s3: LfsRun;
    readonly ratio: number;
    readonly lfsMiBPerSecond: number;
    readonly s3MiBPerSecond: number;
  }[];
}

/** Writes `bytes` random bytes where the primary keeps LFS objects, hashing as it goes; answers the oid. */
async function writeObject(gitDir: string, bytes: number): Promise<{ oid: string; file: string }> {
  const temporary = join(gitDir, 'lfs', 'bench-incoming');
  await mkdir(dirname(temporary), { recursive: true });
  const hash = createHash('sha256');
  const out = createWriteStream(temporary);
  for (let written = 0; written < bytes; ) {
    const chunk = randomBytes(Math.min(8 * MiB, bytes - written));
    hash.update(chunk);
    written += chunk.length;
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  const oid = hash.digest('hex');
  const file = join(gitDir, 'lfs', 'objects', oid.slice(0, 2), oid.slice(2, 4), oid);
  await mkdir(dirname(file), { recursive: true });
  await rename(temporary, file);
  return { oid, file };
}

async function child(request: Record<string, unknown>): Promise<LfsRun> {
  const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(request)], { maxBuffer: MiB, env: process.env });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as LfsRun;
}

/**
 * LFS replication throughput beside a plain S3 upload of the same bytes, and the peak RSS of
 * the process that replicates (a 1 GiB object must not need 1 GiB of memory).
 */
export async function lfsReplication(bed: BenchBed, options: { sizesMiB: readonly number[]; log: (line: string) => void }): Promise<LfsReplicationResult> {
  const bucket = `git-geo-bench-lfs-${Date.now()}`;
  const s3 = new S3Client({ region: 'eu-west-1', endpoint: bed.awsEndpoint, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
  const repository = 'bench/lfs';
  const gitDir = join(bed.scratch, 'primary', `${repository}.git`);
  await git(['init', '--bare', '-q', '-b', 'main', gitDir]);
  const sizes: LfsReplicationResult['sizes'][number][] = [];
  for (const sizeMiB of options.sizesMiB) {
    const bytes = sizeMiB * MiB;
    const { oid, file } = await writeObject(gitDir, bytes);
    const common = { awsEndpoint: bed.awsEndpoint, bucket, primaryUrl: bed.primary.url, repository, oid, size: bytes, file };
    const s3Run = await child({ ...common, mode: 's3' });
    const lfsRun = await child({ ...common, mode: 'lfs' });
    const rate = (run: LfsRun): number => Math.round((bytes / MiB / (run.wallMs / 1000)) * 10) / 10;
    const entry = { bytes, lfs: lfsRun, s3: s3Run, ratio: Math.round((lfsRun.wallMs / s3Run.wallMs) * 100) / 100, lfsMiBPerSecond: rate(lfsRun), s3MiBPerSecond: rate(s3Run) };
    options.log(`  ${sizeMiB} MiB: LFS ${lfsRun.wallMs} ms (${entry.lfsMiBPerSecond} MiB/s, peak RSS ${Math.round(lfsRun.peakRssBytes / MiB)} MiB), S3 upload ${s3Run.wallMs} ms (${entry.s3MiBPerSecond} MiB/s, ${Math.round(s3Run.peakRssBytes / MiB)} MiB)`);
    sizes.push(entry);
    await rm(file, { force: true });
  }
  return { sizes };
}
