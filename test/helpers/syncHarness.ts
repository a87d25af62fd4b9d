import type { Readable } from 'node:stream';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { git } from '../../bin/local/git.ts';
import { startGitServer, type GitServer } from '../../bin/local/startGitServer.ts';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import type { ChangeEvent } from '../../lambdas/shared/events/ChangeEvent.ts';
import { PrimaryRemote } from '../../lambdas/shared/git/PrimaryRemote.ts';
import { Registry } from '../../lambdas/shared/registry/Registry.ts';
import type { RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { ObjectStore, PutOptions, StoredObjectInfo } from '../../lambdas/shared/storage/ObjectStore.ts';
import { S3ObjectStore } from '../../lambdas/shared/storage/S3ObjectStore.ts';
import type { SyncDependencies } from '../../lambdas/sync/syncRepository.ts';
import { createRegistryTable } from './createRegistryTable.ts';

/** The error a fault-injecting store throws: the sync "dies" at that write. */
export class InjectedCrash extends Error {
  override readonly name = 'InjectedCrash';
}

/**
 * An ObjectStore that passes everything to the real one, except that it throws InjectedCrash
 * instead of performing the first write (put, copy or delete) whose key `crashAt` matches.
 * Writes before it really happened; the crashing one and later ones did not.
 */
export class FaultyObjectStore implements ObjectStore {
  crashAt: ((operation: 'put' | 'copy' | 'delete', key: string) => boolean) | undefined;
  crashed = false;
  readonly writes: string[] = [];

  constructor(private readonly inner: ObjectStore) {}

  private check(operation: 'put' | 'copy' | 'delete', key: string): void {
    if (!this.crashed && this.crashAt?.(operation, key)) {
      this.crashed = true;
      throw new InjectedCrash(`injected crash at ${operation} ${key}`);
    }
    this.writes.push(`${operation} ${key}`);
  }

  get(key: string): Promise<Buffer | undefined> {
    return this.inner.get(key);
  }
  head(key: string): Promise<StoredObjectInfo | undefined> {
    return this.inner.head(key);
  }
  stream(key: string): ReturnType<ObjectStore['stream']> {
    return this.inner.stream(key);
  }
  async put(key: string, body: Uint8Array | string, options?: PutOptions): Promise<void> {
    this.check('put', key);
    await this.inner.put(key, body, options);
  }
  async putStream(key: string, body: Readable, options?: PutOptions): Promise<void> {
    this.check('put', key);
    await this.inner.putStream(key, body, options);
  }
  async putWithPrefix(key: string, prefix: Uint8Array, sourceKey: string, options?: PutOptions): Promise<void> {
    this.check('put', key);
    await this.inner.putWithPrefix(key, prefix, sourceKey, options);
  }
  async copy(fromKey: string, toKey: string): Promise<void> {
    this.check('copy', toKey);
    await this.inner.copy(fromKey, toKey);
  }
  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.check('delete', key);
    await this.inner.delete(keys);
  }
  list(prefix: string): AsyncIterable<StoredObjectInfo> {
    return this.inner.list(prefix);
  }
}

export interface SyncHarness {
  readonly root: string;
  /** Where the harness's native engine spools packs. */
  readonly spoolDir: string;
  /** The mirror bucket and the registry table, on the shared emulator. */
  readonly bucket: string;
  readonly table: string;
  readonly primary: GitServer;
  readonly s3: S3ObjectStore;
  readonly store: FaultyObjectStore;
  readonly registry: Registry;
  deps(overrides?: Partial<SyncDependencies>): SyncDependencies;
  /** A change event as notify would record it, received now. */
  event(repository: RepositoryPath, sequence: number, overrides?: Partial<ChangeEvent>): ChangeEvent;
  stop(): Promise<void>;
}

/**
 * syncRepository with its real dependencies, and nothing else: a bucket and a registry table on
 * the shared emulator (AWS_ENDPOINT_URL), and a real git server as the primary.
 */
export async function startSyncHarness(): Promise<SyncHarness> {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  const aws = clientConfig('eu-west-1', endpoint);
  const suffix = randomBytes(4).toString('hex');
  const bucket = `git-geo-harness-${suffix}`;
  const table = `git-geo-harness-${suffix}`;
  const s3Client = new S3Client(aws);
  const dynamo = new DynamoDBClient(aws);
  await s3Client.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
  await createRegistryTable(dynamo, table);
  const root = await mkdtemp(join(tmpdir(), 'git-geo-harness-'));
  const primary = await startGitServer({ root: join(root, 'primary') });
  const s3 = new S3ObjectStore(s3Client, bucket);
  const store = new FaultyObjectStore(s3);
  const registry = new Registry(DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } }), table);
  // The harness's own spool directory: a test can see what its syncs left, apart from the other worker's.
  const spoolDir = join(root, 'spool');
  await mkdir(spoolDir);
  const remote = new PrimaryRemote({ baseUrl: primary.url, userAgent: 'git-geo', timeoutMs: 10_000, spoolDir });
  return {
    root,
    spoolDir,
    bucket,
    table,
    primary,
    s3,
    store,
    registry,
    deps: (overrides = {}) => ({ registry, store, primary: remote, refNamespaces: ['refs/heads/', 'refs/tags/'], now: () => new Date(), leaseSeconds: 60, ...overrides }),
    event: (repository, sequence, overrides = {}) => ({
      version: 1,
      kind: 'push',
      repository,
      changes: [],
      eventId: `test:${repository}:${sequence}`,
      deliveryId: `delivery-${sequence}`,
      source: 'git-geo',
      sequence,
      receivedAt: new Date().toISOString(),
      ...overrides,
    }),
    async stop() {
      await primary.stop();
      s3Client.destroy();
      dynamo.destroy();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Creates a bare repository on the harness primary and a working copy pushing to it. */
export async function primaryRepository(harness: SyncHarness, path: string): Promise<string> {
  await git(['init', '--bare', '-q', '-b', 'main', join(harness.root, 'primary', `${path}.git`)]);
  const work = join(harness.root, `work-${path.replaceAll('/', '-')}`);
  await git(['clone', '-q', `${harness.primary.url}/${path}.git`, work]);
  return work;
}
