import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { EventLog } from '../../lambdas/shared/eventlog/EventLog.ts';
import { ChangePublisher } from '../../lambdas/shared/events/ChangePublisher.ts';
import { PrimaryOverrideStore } from '../../lambdas/shared/primary/PrimaryOverride.ts';
import { regionalOverrideCopies } from '../../bin/local/regionalOverrideCopies.ts';
import type { LocalRuntime } from '../../bin/local/startLocalRuntime.ts';

/** The primary region's event log, topic and primary override of a local runtime, as the operator's CLI sees them. */
export function primaryControls(runtime: LocalRuntime): { eventLog: EventLog; publisher: ChangePublisher; overrides: PrimaryOverrideStore } {
  const clients = runtime.clients.region(runtime.primary.region);
  const db = DynamoDBDocumentClient.from(clients.dynamodb, { marshallOptions: { removeUndefinedValues: true } });
  return {
    eventLog: new EventLog(db, runtime.primary.eventLogTable),
    publisher: new ChangePublisher(clients.sns, runtime.primary.topicArn),
    overrides: new PrimaryOverrideStore(db, runtime.primary.eventLogTable, 0, regionalOverrideCopies(runtime)),
  };
}

/** Creates a fresh Secrets Manager secret with credentials in the primary region and, as its replicas, in every secondary region; answers its name. */
export async function createCredentialsSecret(runtime: LocalRuntime, credentials: { username: string; password: string }, name = `git-geo/promotion-${randomBytes(4).toString('hex')}`): Promise<string> {
  for (const region of [runtime.primary.region, ...Object.keys(runtime.regions)]) {
    await runtime.clients.region(region).secrets.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(credentials) }));
  }
  return name;
}
