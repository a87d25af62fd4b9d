import type { SQSClient } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LocalEventSource } from './LocalResources.ts';
import type { LocalLambda } from './LocalLambda.ts';
import { SqsEventSourcePoller } from './SqsEventSourcePoller.ts';

/** Where the Lambda API keeps event source mappings. */
export const EVENT_SOURCE_MAPPINGS_PATH = '/2015-03-31/event-source-mappings';

interface Mapping {
  readonly uuid: string;
  readonly source: LocalEventSource;
  readonly lambda: LocalLambda;
  readonly sqs: SQSClient;
  enabled: boolean;
  poller: SqsEventSourcePoller | undefined;
  lastModified: Date;
}

/**
 * The runtime's SQS event source mappings, each run by a poller, and the three Lambda API calls
 * that manage them (ListEventSourceMappings, GetEventSourceMapping, UpdateEventSourceMapping
 * with `Enabled`), answered on the runtime's HTTP server. So `git-geo pause` drives the same
 * calls against the local runtime as against AWS: a disabled mapping stops receiving, and its
 * messages wait on the queue (nothing is received, so nothing counts toward the DLQ).
 */
export class LocalEventSourceMappings {
  private readonly mappings: Mapping[] = [];

  constructor(private readonly onError: (error: unknown) => void) {}

  add(source: LocalEventSource, sqs: SQSClient, lambda: LocalLambda): void {
    const mapping: Mapping = { uuid: randomUUID(), source, lambda, sqs, enabled: source.enabled, poller: undefined, lastModified: new Date() };
    this.mappings.push(mapping);
    if (mapping.enabled) this.startPolling(mapping);
  }

  async setEnabled(uuid: string, enabled: boolean): Promise<void> {
    const mapping = this.mappings.find((candidate) => candidate.uuid === uuid);
    if (mapping === undefined) throw new Error(`no event source mapping ${uuid}`);
    if (mapping.enabled === enabled) return;
    mapping.enabled = enabled;
    mapping.lastModified = new Date();
    if (enabled) this.startPolling(mapping);
    else {
      const poller = mapping.poller;
      mapping.poller = undefined;
      // In-flight batches finish, as Lambda lets running invocations finish.
      await poller?.stop();
    }
  }

  /** Enables or disables every mapping whose event source matches, as `git-geo pause`/`resume` do for a region. */
  async setEnabledWhere(matches: (source: LocalEventSource) => boolean, enabled: boolean): Promise<number> {
    const chosen = this.mappings.filter((mapping) => matches(mapping.source));
    await Promise.all(chosen.map((mapping) => this.setEnabled(mapping.uuid, enabled)));
    return chosen.length;
  }

  async stop(): Promise<void> {
    await Promise.all(this.mappings.map(async (mapping) => await mapping.poller?.stop({ abandonReceive: true })));
  }

  /** The Lambda API's handler for `/2015-03-31/event-source-mappings[/<uuid>]`. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): Promise<void> {
    const uuid = url.pathname.slice(EVENT_SOURCE_MAPPINGS_PATH.length).replace(/^\/+|\/+$/g, '');
    const json = (status: number, value: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    if (uuid === '') {
      if (req.method !== 'GET') return json(405, { message: 'only ListEventSourceMappings is served here' });
      const fn = url.searchParams.get('FunctionName');
      const arn = url.searchParams.get('EventSourceArn');
      const listed = this.mappings.filter(
        (mapping) => (fn === null || mapping.source.functionName === fn || mapping.lambda.fn.arn === fn) && (arn === null || mapping.source.queueArn === arn),
      );
      return json(200, { EventSourceMappings: listed.map((mapping) => this.describe(mapping)) });
    }
    const mapping = this.mappings.find((candidate) => candidate.uuid === uuid);
    if (mapping === undefined) {
      res.setHeader('x-amzn-errortype', 'ResourceNotFoundException');
      return json(404, { Type: 'User', message: `The resource you requested does not exist. (Service: Lambda, UUID: ${uuid})` });
    }
    if (req.method === 'PUT') {
      const update = JSON.parse(body.toString('utf8') || '{}') as { Enabled?: boolean };
      if (typeof update.Enabled === 'boolean') await this.setEnabled(uuid, update.Enabled);
      return json(202, this.describe(mapping));
    }
    return json(200, this.describe(mapping));
  }

  private startPolling(mapping: Mapping): void {
    mapping.poller = new SqsEventSourcePoller(mapping.source, mapping.sqs, mapping.lambda, this.onError);
    mapping.poller.start();
  }

  private describe(mapping: Mapping): Record<string, unknown> {
    return {
      UUID: mapping.uuid,
      EventSourceArn: mapping.source.queueArn,
      FunctionArn: mapping.lambda.fn.arn,
      BatchSize: mapping.source.batchSize,
      State: mapping.enabled ? 'Enabled' : 'Disabled',
      LastModified: mapping.lastModified.getTime() / 1000,
      ScalingConfig: { MaximumConcurrency: mapping.source.maxConcurrency },
      FunctionResponseTypes: mapping.source.reportBatchItemFailures ? ['ReportBatchItemFailures'] : [],
    };
  }
}
