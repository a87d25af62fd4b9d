/**
 * One LFS replication measured in a process of its own (so its peak RSS is its own): `lfs`
 * copies an object from the primary's LFS API into a bucket through git-geo's verified stream;
 * `s3` uploads the same bytes from local disk with the same multipart settings (the baseline:
 * a plain S3 copy). Prints one JSON line: wall time and peak RSS.
 *
 *   node --import tsx bench/lfsReplicationChild.ts '<json request>'
 */
import { S3Client } from '@aws-sdk/client-s3';
import { createReadStream } from 'node:fs';
import { LfsApi } from '../lambdas/shared/lfs/LfsApi.ts';
import { replicateLfsObjects } from '../lambdas/shared/lfs/replicateLfsObjects.ts';
import { parseRepositoryPath } from '../lambdas/shared/repositoryPath.ts';
import { S3ObjectStore } from '../lambdas/shared/storage/S3ObjectStore.ts';

interface Request {
  readonly mode: 'lfs' | 's3';
  readonly awsEndpoint: string;
  readonly bucket: string;
  readonly primaryUrl: string;
  readonly repository: string;
  readonly oid: string;
  readonly size: number;
  readonly file: string;
}

const request = JSON.parse(process.argv[2] ?? '{}') as Request;
const store = new S3ObjectStore(new S3Client({ region: 'eu-west-1', endpoint: request.awsEndpoint, forcePathStyle: true }), request.bucket);
const started = performance.now();
if (request.mode === 's3') {
  await store.putStream(`baseline/${request.oid}`, createReadStream(request.file));
} else {
  const api = new LfsApi({ baseUrl: request.primaryUrl, timeoutMs: 60_000, userAgent: 'git-geo-bench' });
  const result = await replicateLfsObjects({ store, api }, parseRepositoryPath(request.repository), [{ oid: request.oid, size: request.size }]);
  if (result.fetched !== 1) throw new Error(`expected one object fetched: ${JSON.stringify(result)}`);
}
process.stdout.write(`${JSON.stringify({ wallMs: Math.round(performance.now() - started), peakRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
