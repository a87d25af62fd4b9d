import { beforeAll, describe, expect, it } from '@jest/globals';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { GeoDashboard } from '../../../cdk/constructs/GeoDashboard.ts';
import { METRIC } from '../../../lambdas/shared/metricNames.ts';
import { testApp } from '../testApp.ts';

interface Widget {
  readonly type: string;
  readonly y: number;
  readonly properties: { readonly title?: string; readonly markdown?: string; readonly region?: string; readonly metrics?: unknown[]; readonly annotations?: unknown };
}

describe('GeoDashboard', () => {
  let widgets: Widget[];

  beforeAll(() => {
    const stack = new Stack(testApp(), 'Dashboard', { env: { account: '111111111111', region: 'us-east-1' } });
    new GeoDashboard(stack, 'Geo', { regions: ['eu-west-1', 'ap-southeast-2'], regionStackName: (region) => `Geo-Region-${region}`, lagSloSeconds: 90 });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as { Properties: { DashboardBody: unknown } }[];
    // The body is a Fn::Join of literal strings (no tokens: every name is known at synthesis).
    const body = stack.resolve(dashboard!.Properties.DashboardBody) as { 'Fn::Join': [string, unknown[]] } | string;
    const text = typeof body === 'string' ? body : body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : JSON.stringify(part))).join('');
    widgets = (JSON.parse(text) as { widgets: Widget[] }).widgets;
  });

  const rowOf = (region: string): Widget[] => {
    const header = widgets.find((widget) => widget.properties.markdown === `## ${region}`);
    expect(header).toBeDefined();
    return widgets.filter((widget) => widget.type === 'metric' && widget.y === header!.y + 1);
  };

  it('has one row per region, in order, each graph reading that region', () => {
    const headers = widgets.filter((widget) => widget.type === 'text').map((widget) => widget.properties.markdown);
    expect(headers).toEqual(['## eu-west-1', '## ap-southeast-2']);
    for (const region of ['eu-west-1', 'ap-southeast-2']) {
      const row = rowOf(region);
      expect(row).toHaveLength(6);
      for (const widget of row) expect(widget.properties.region).toBe(region);
    }
  });

  it('shows every figure: events, outcome by cause, lag against the objective, endpoint requests, verification, backups, queues', () => {
    const row = JSON.stringify(rowOf('ap-southeast-2'));
    for (const name of Object.values(METRIC)) expect(row).toContain(name);
    expect(row).toContain('Region=\\"ap-southeast-2\\"');
    expect(row).toContain('ApproximateNumberOfMessagesVisible');
    expect(row).toContain('Geo-Region-ap-southeast-2 ChangeEventsDeadLetters');
    expect(row).toContain('ApproximateAgeOfOldestMessage');
    const lag = rowOf('eu-west-1').find((widget) => widget.properties.title?.includes('replication lag'));
    expect(JSON.stringify(lag?.properties.annotations)).toContain('90000');
  });
});
