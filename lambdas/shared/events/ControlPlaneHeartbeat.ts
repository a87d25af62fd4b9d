import { createHash } from 'node:crypto';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';

/**
 * The control plane's "I am here": published to the change topic every minute (with the
 * republisher's run), so each region can tell an idle pipeline from a lost one without
 * asking another region. It rides the `repository` attribute `.git-geo/heartbeat` (no
 * repository path starts with a dot) so selective-sync filter policies can let it through.
 */
export const HEARTBEAT_KIND = 'control-plane.heartbeat';
export const HEARTBEAT_REPOSITORY = '.git-geo/heartbeat';
/** A prefix no repository path has: filter policies admit it beside a region's namespaces. */
export const CONTROL_MESSAGE_PREFIX = '.git-geo/';

export interface ControlPlaneHeartbeat {
  readonly kind: typeof HEARTBEAT_KIND;
  /** The region whose notify, event log and topic sent it. */
  readonly controlPlaneRegion: string;
  readonly at: string;
}

export async function publishHeartbeat(sns: SNSClient, topicArn: string, controlPlaneRegion: string, at: Date): Promise<void> {
  const heartbeat: ControlPlaneHeartbeat = { kind: HEARTBEAT_KIND, controlPlaneRegion, at: at.toISOString() };
  await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Message: JSON.stringify(heartbeat),
      MessageGroupId: HEARTBEAT_REPOSITORY,
      MessageDeduplicationId: createHash('sha256').update(`${controlPlaneRegion}@${heartbeat.at}`).digest('hex'),
      MessageAttributes: {
        repository: { DataType: 'String', StringValue: HEARTBEAT_REPOSITORY },
        namespace: { DataType: 'String', StringValue: '.git-geo' },
        kind: { DataType: 'String', StringValue: HEARTBEAT_KIND },
      },
    }),
  );
}

/** The heartbeat in a queue message body, or undefined when the body is something else (a change event). */
export function parseHeartbeat(body: string): ControlPlaneHeartbeat | undefined {
  try {
    const value = JSON.parse(body) as Partial<ControlPlaneHeartbeat>;
    if (value.kind !== HEARTBEAT_KIND || typeof value.controlPlaneRegion !== 'string' || typeof value.at !== 'string' || !Number.isFinite(Date.parse(value.at))) return undefined;
    return { kind: HEARTBEAT_KIND, controlPlaneRegion: value.controlPlaneRegion, at: value.at };
  } catch {
    return undefined;
  }
}
