import { randomUUID } from 'node:crypto';
import type { LocalSchedule } from './LocalResources.ts';
import type { LocalLambda } from './LocalLambda.ts';
import { nextFire } from './scheduleExpression.ts';

/**
 * EventBridge scheduled rules, run locally: each enabled rule invokes its target functions
 * when its expression fires, with the target's constant input or a Scheduled Event.
 */
export class Scheduler {
  private readonly timers = new Set<NodeJS.Timeout>();
  private running = false;

  constructor(
    private readonly schedules: readonly LocalSchedule[],
    private readonly lambdaByArn: ReadonlyMap<string, LocalLambda>,
    private readonly account: string,
    private readonly onError: (error: unknown) => void,
  ) {}

  start(): void {
    this.running = true;
    for (const schedule of this.schedules) if (schedule.enabled) this.arm(schedule, new Date());
  }

  stop(): void {
    this.running = false;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** Fires a rule now, as if its schedule had come round; answers the targets' results. */
  async fire(ruleName: string): Promise<unknown[]> {
    const schedule = this.schedules.find((candidate) => candidate.ruleName === ruleName || candidate.ruleName.includes(ruleName));
    if (schedule === undefined) throw new Error(`no scheduled rule ${ruleName}`);
    return await this.invoke(schedule);
  }

  /** The rule that invokes `functionArn` (with this constant input, when given): names are truncated as CloudFormation's are, targets are not. */
  ruleTargeting(functionArn: string, input?: unknown): string | undefined {
    return this.schedules.find((schedule) =>
      schedule.targets.some((target) => target.functionArn === functionArn && (input === undefined || JSON.stringify(target.input) === JSON.stringify(input))),
    )?.ruleName;
  }

  get ruleNames(): string[] {
    return this.schedules.map((schedule) => schedule.ruleName);
  }

  private arm(schedule: LocalSchedule, from: Date): void {
    const at = nextFire(schedule.expression, from);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.running) return;
      this.invoke(schedule).catch(this.onError);
      this.arm(schedule, at);
    }, Math.max(0, at.getTime() - Date.now()));
    timer.unref();
    this.timers.add(timer);
  }

  private async invoke(schedule: LocalSchedule): Promise<unknown[]> {
    const time = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    return await Promise.all(
      schedule.targets.map(async (target) => {
        const lambda = this.lambdaByArn.get(target.functionArn);
        if (lambda === undefined) throw new Error(`rule ${schedule.ruleName} targets an unknown function ${target.functionArn}`);
        const event =
          target.input ?? {
            version: '0',
            id: randomUUID(),
            'detail-type': 'Scheduled Event',
            source: 'aws.events',
            account: this.account,
            time,
            region: schedule.region,
            resources: [`arn:aws:events:${schedule.region}:${this.account}:rule/${schedule.ruleName}`],
            detail: {},
          };
        return await lambda.invoke(event);
      }),
    );
  }
}
