import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import { withHooks } from '../../lambdas/shared/aws/HandlerHooks.ts';
import { RequestCounter } from '../../bench/RequestCounter.ts';
import { S3ObjectStore } from '../../lambdas/shared/storage/S3ObjectStore.ts';

describe('S3ObjectStore on the emulator', () => {
  const counter = new RequestCounter();
  const s3 = withHooks(new S3Client(clientConfig('us-east-1', process.env.AWS_ENDPOINT_URL)), { clientPlugins: [counter.plugin('test')] });
  const bucket = `git-geo-store-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterAll(() => s3.destroy());

  it('uploads a big body as a multipart upload, parts taken from the body, and reads it back whole', async () => {
    const store = new S3ObjectStore(s3, bucket, { multipartThresholdBytes: 6 * 2 ** 20, partSizeBytes: 5 * 2 ** 20, partConcurrency: 2 });
    const body = randomBytes(12 * 2 ** 20 + 123);
    counter.reset();
    await store.put('big/pack-1.pack', body);
    const operations = counter.snapshot().test?.S3 ?? {};
    expect(operations.CreateMultipartUpload?.requests).toBe(1);
    expect(operations.UploadPart?.requests).toBe(3);
    expect(operations.CompleteMultipartUpload?.requests).toBe(1);
    expect(operations.PutObject).toBeUndefined();
    expect((await store.get('big/pack-1.pack'))?.equals(body)).toBe(true);
  });

  it('puts a small body with one PutObject, empty bodies included', async () => {
    const store = new S3ObjectStore(s3, bucket);
    counter.reset();
    await store.put('small/HEAD', 'ref: refs/heads/main\n');
    await store.put('small/empty', '');
    expect(counter.snapshot().test?.S3?.PutObject?.requests).toBe(2);
    expect((await store.get('small/empty'))?.length).toBe(0);
    expect((await store.head('small/HEAD'))?.size).toBe(21);
  });

  it('writes a prefix and a big source as one object: the first part uploaded, the rest copied by range (UploadPartCopy)', async () => {
    const store = new S3ObjectStore(s3, bucket, { partSizeBytes: 5 * 2 ** 20, copyPartBytes: 5 * 2 ** 20, partConcurrency: 2 });
    const source = randomBytes(13 * 2 ** 20 + 7);
    await store.put('compose/pack-1.pack', source);
    const prefix = Buffer.from('# v2 git bundle\n0123 refs/heads/main\n\n');
    counter.reset();
    await store.putWithPrefix('compose/one.bundle', prefix, 'compose/pack-1.pack');
    const operations = counter.snapshot().test?.S3 ?? {};
    // 5 MiB through the caller (prefix and the start of the pack), 8 MiB copied inside S3 in two ranges.
    expect(operations.UploadPart?.requests).toBe(1);
    expect(operations.UploadPartCopy?.requests).toBe(2);
    expect(operations.GetObject?.bytesReceived).toBe(5 * 2 ** 20 - prefix.length);
    expect((await store.get('compose/one.bundle'))?.equals(Buffer.concat([prefix, source]))).toBe(true);

    // A source within one part: one PutObject.
    await store.put('compose/small.pack', 'tiny');
    await store.putWithPrefix('compose/small.bundle', prefix, 'compose/small.pack');
    expect((await store.get('compose/small.bundle'))?.toString()).toBe(`${prefix.toString()}tiny`);
    await expect(store.putWithPrefix('compose/none.bundle', prefix, 'compose/absent.pack')).rejects.toThrow(/does not exist/);
    await expect(store.putWithPrefix('compose/none.bundle', prefix, 'compose/absent.pack')).rejects.toMatchObject({ code: 'ERR_CONFLICT', data: { sourceKey: 'compose/absent.pack' } });
  });
});
