import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PROJECT_ROOT } from '../../cdk/constructs/GeoFunction.ts';
import { FunctionUrlServer } from '../../bin/local/FunctionUrlServer.ts';
import { LocalLambda } from '../../bin/local/LocalLambda.ts';
import type { LocalFunction } from '../../bin/local/LocalResources.ts';
import type { StreamClock } from '../../bin/local/StreamBandwidth.ts';
import { LARGE_BYTES } from '../fixtures/functions/createFixtureHandler.ts';

function fixture(mode: string): LocalLambda {
  const fn: LocalFunction = {
    logicalId: mode,
    stackName: 'Fixture',
    region: 'eu-west-1',
    name: `fixture-${mode}`,
    arn: `arn:aws:lambda:eu-west-1:123456789012:function:fixture-${mode}`,
    environment: { MODE: mode },
    timeoutSeconds: 30,
    memoryMiB: 128,
    factory: 'test/fixtures/functions/createFixtureHandler.ts#createFixtureHandler',
    urlPath: `/${mode}`,
  };
  return new LocalLambda(fn, {}, PROJECT_ROOT);
}

describe('FunctionUrlServer: BUFFERED and RESPONSE_STREAM Function URLs on loopback', () => {
  const server = new FunctionUrlServer((error) => errors.push(error));
  const errors: unknown[] = [];
  let base: string;

  beforeAll(async () => {
    base = await server.listen(0);
    for (const mode of ['middy-stream', 'raw-stream', 'stream-fails']) server.mount(`/${mode}`, fixture(mode), 'RESPONSE_STREAM');
    for (const mode of ['buffered-small', 'buffered-large']) server.mount(`/${mode}`, fixture(mode), 'BUFFERED');
  });
  afterAll(async () => {
    await server.close();
  });

  it('streams a response larger than a buffered one may be, with the status and headers of its prelude', async () => {
    const response = await fetch(`${base}/middy-stream/anything`);
    expect(response.status).toBe(201);
    expect(response.headers.get('x-kind')).toBe('middy');
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.length).toBe(LARGE_BYTES);
    expect(body[64 * 1024]).toBe((64 * 1024) % 251);
  });

  it('takes a handler that uses the runtime’s awslambda global directly: prelude, cookies, body', async () => {
    const response = await fetch(`${base}/raw-stream/`);
    expect(response.status).toBe(202);
    expect(response.headers.get('content-type')).toBe('text/plain');
    expect(response.headers.get('set-cookie')).toBe('a=1');
    expect(await response.text()).toBe('hello, streamed world');
  });

  it('a streaming handler that fails before its headers is a 502, reported to the runtime', async () => {
    const before = errors.length;
    const response = await fetch(`${base}/stream-fails/`);
    expect(response.status).toBe(502);
    expect(await response.json()).toEqual({ message: 'Internal Server Error' });
    expect(String(errors[before])).toContain('boom before the headers');
  });

  it('a buffered response over 6 MB is a 502, as Lambda refuses it; a small one passes', async () => {
    expect((await fetch(`${base}/buffered-large/`)).status).toBe(502);
    const small = await fetch(`${base}/buffered-small/`);
    expect(small.status).toBe(200);
    expect(await small.text()).toBe('buffered');
  });
});

describe('FunctionUrlServer: a streamed response goes at Lambda’s pace and stops at its cap', () => {
  const MiB = 2 ** 20;
  const errors: unknown[] = [];
  // Virtual time: the throttle's waits are recorded, not slept, so the schedule is asserted exactly.
  let virtualMs = 0;
  const clock: StreamClock = { now: () => virtualMs, sleep: (ms) => {
    virtualMs += ms;
    return Promise.resolve();
  } };
  const server = new FunctionUrlServer((error) => errors.push(error), { limits: { burstBytes: MiB, bytesPerSecond: MiB, maxBytes: 4 * MiB }, clock });
  let base: string;

  beforeAll(async () => {
    base = await server.listen(0);
    server.mount('/middy-stream', fixture('middy-stream'), 'RESPONSE_STREAM');
  });
  afterAll(async () => {
    await server.close();
  });

  it('delivers the cap and no more, after waiting out the throttled bytes, and reports the cut', async () => {
    expect(LARGE_BYTES).toBeGreaterThan(4 * MiB);
    const response = await fetch(`${base}/middy-stream/`);
    expect(response.status).toBe(201);
    let received = 0;
    const reader = response.body!.getReader();
    await expect(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          received += value.length;
        }
      })(),
    ).rejects.toThrow();
    expect(received).toBe(4 * MiB);
    // 3 MB past the 1 MB burst at 1 MB/s.
    expect(virtualMs).toBe(3000);
    expect(String(errors.at(-1))).toContain(`limit after ${4 * MiB} bytes`);
  });
});
