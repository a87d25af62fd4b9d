import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Template } from 'aws-cdk-lib/assertions';
import { parseGeoConfig } from '../../cdk/GeoConfig.ts';
import { buildTestApp, TEST_CONFIG, type TestGeoApp } from './testApp.ts';

describe('standby control plane (standbyControlPlaneRegion)', () => {
  let geo: TestGeoApp;

  beforeAll(() => {
    geo = buildTestApp({ standbyControlPlaneRegion: 'eu-west-1' }, { nag: true });
  });
  afterAll(() => geo.remove());

  it('a second control-plane stack in the standby region: its own webhook URL path, event log, topic, and cdk-nag finds nothing', () => {
    const standby = geo.standby!;
    expect(standby.stackName).toBe('GitGeo-ControlPlane-eu-west-1');
    expect(standby.region).toBe('eu-west-1');
    const template = Template.fromStack(standby);
    template.hasOutput('ControlPlaneRole', { Value: 'standby' });
    template.hasResource('AWS::Lambda::Function', { Metadata: { 'git-geo:local-url-path': '/webhook-eu-west-1' } });
    template.hasResourceProperties('AWS::SNS::Topic', { TopicName: 'GitGeo-ControlPlane-eu-west-1-ChangeEvents.fifo', FifoTopic: true });
    Template.fromStack(geo.primary).hasOutput('ControlPlaneRole', { Value: 'primary' });
  });

  it("every region's sync and announcements queues subscribe to both topics, and the region stacks deploy after both", () => {
    for (const region of geo.regions.values()) {
      const subscriptions = Object.values(Template.fromStack(region).findResources('AWS::SNS::Subscription')) as { Properties: { TopicArn: unknown; Region: string } }[];
      expect(subscriptions.map((subscription) => subscription.Properties.Region).sort()).toEqual(['eu-west-1', 'eu-west-1', 'us-east-1', 'us-east-1']);
      expect(subscriptions.filter((subscription) => JSON.stringify(subscription.Properties.TopicArn).includes('GitGeo-ControlPlane-eu-west-1-ChangeEvents.fifo'))).toHaveLength(2);
      expect(region.dependencies).toEqual(expect.arrayContaining([geo.primary, geo.standby]));
    }
  });

  it('the standby must be a secondary region; none by default', () => {
    expect(() => parseGeoConfig({ ...TEST_CONFIG, standbyControlPlaneRegion: 'us-west-2' })).toThrow(/standbyControlPlaneRegion: standbyControlPlaneRegion must be a secondary region/);
    expect(parseGeoConfig(TEST_CONFIG).standbyControlPlaneRegion).toBeUndefined();
    expect(buildTestApp().standby).toBeUndefined();
  });
});
