import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { git } from '../../bin/local/git.ts';
import { gitlabPushHook, sendWebhook } from '../../bin/local/gitlabPushHook.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import type { AnyClientPlugin } from '../../lambdas/shared/aws/HandlerHooks.ts';
import { PRIMARY_OVERRIDE_PK } from '../../lambdas/shared/primary/PrimaryOverride.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { recordedEvents } from '../helpers/changeEvents.ts';
import { eventually } from '../helpers/eventually.ts';
import { commit, startTestBed, WEBHOOK_SECRET, type TestBed } from '../helpers/testRuntime.ts';

/** A held request goes on by itself after this, in case the handler never answers (the bug this test is for). */
const HOLD_AT_MOST_MS = 45_000;

/**
 * Holds notify's read of the primary override (a request made before the webhook is even
 * authenticated) until released: a stalled emulator, a cold connection, a starved CPU.
 */
function overrideReadHold(): { plugin: AnyClientPlugin; held: () => boolean; release: () => void } {
  let released = false;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    release = () => {
      released = true;
      resolve();
    };
  });
  let holding = 0;
  const plugin: AnyClientPlugin = {
    applyToStack(stack: { add(middleware: unknown, options: unknown): void }) {
      stack.add(
        (next: (args: { input: unknown }) => Promise<unknown>, context: { commandName?: string }) => async (args: { input: unknown }) => {
          const input = args.input as { Key?: { pk?: unknown } };
          const pk = input.Key?.pk as { S?: string } | string | undefined;
          if ((context.commandName === 'GetItemCommand' || context.commandName === 'GetCommand') && (pk === PRIMARY_OVERRIDE_PK || (typeof pk === 'object' && pk.S === PRIMARY_OVERRIDE_PK)) && !released) {
            holding++;
            setTimeout(release, HOLD_AT_MOST_MS).unref();
            await gate;
            holding--;
          }
          return next(args);
        },
        { step: 'initialize', name: 'holdOverrideRead' },
      );
    },
  };
  return { plugin, held: () => holding > 0, release };
}

/**
 * The answer is bounded from the moment the request reaches the function, not from the moment
 * the webhook is authenticated: whatever stalls before the recording, the host gets a quick 503
 * with Retry-After, never the function URL's 502 at the function's timeout, and nothing is lost.
 */
describe("notify's answer deadline", () => {
  let bed: TestBed;
  const hold = overrideReadHold();
  const repository = parseRepositoryPath('deadline/held');

  beforeAll(async () => {
    bed = await startTestBed({ clientPlugins: (fn) => (fn.factory.includes('createNotifyHandler') ? [hold.plugin] : []) });
    await bed.createRepository(repository);
  });
  afterAll(async () => {
    hold.release();
    await bed?.stop();
  });

  it('answers 503 with Retry-After while a request before authentication is stalled, then records the delivery once', async () => {
    const work = await bed.workingCopy(repository);
    await commit(work, 1, 'held');
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    const request = gitlabPushHook({ primaryUrl: bed.primary.url, repository, update: bed.pushes.at(-1)!.updates[0]!, token: WEBHOOK_SECRET });

    const response = await fetch(bed.runtime.webhookUrl, { method: 'POST', headers: request.headers, body: request.body });
    const stalledWhenAnswered = hold.held();
    const body = (await response.json()) as Record<string, unknown>;
    expect({ status: response.status, retryAfter: response.headers.get('retry-after'), error: body.error }).toEqual({ status: 503, retryAfter: '5', error: 'ERR_BUSY' });
    expect(stalledWhenAnswered).toBe(true);

    hold.release();
    // The host retries the same delivery: it is recorded once, whichever invocation recorded it.
    const retried = await eventually(async () => {
      const answer = await sendWebhook(bed.runtime.webhookUrl, request);
      return answer.status === 202 ? answer : undefined;
    });
    expect((retried.body.events as { sequence: number }[]).map((event) => event.sequence)).toEqual([1]);
    expect((await recordedEvents(bed.runtime, repository)).map((event) => event.sequence)).toEqual([1]);
    await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, minSequence: 1, timeoutMs: 120_000 });
  }, 300_000);
});
