import { Stack, type IAspect } from 'aws-cdk-lib';
import { CfnPolicy, CfnRole } from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';

type Statement = { Action?: string | string[]; [key: string]: unknown };

/**
 * Removes one action from the policies of the roles whose construct path matches `rolePath`
 * (`/Region-ap-southeast-2\/.*\bSync\/ServiceRole\//`, say), as if that grant had been left out of the
 * stack: the way to show that a missing grant fails a test under the local runtime's IAM.
 */
export class WithoutGrant implements IAspect {
  /** How many statements lost the action; zero means the aspect matched nothing. */
  removed = 0;

  constructor(
    private readonly rolePath: RegExp,
    private readonly action: string,
  ) {}

  visit(node: IConstruct): void {
    if (!(node instanceof CfnPolicy)) return;
    const stack = Stack.of(node);
    const roles = stack.resolve(node.roles) as unknown[];
    const ours = roles.some((role) => {
      const logicalId = (role as { Ref?: string }).Ref;
      const target = logicalId === undefined ? undefined : stack.node.findAll().find((c) => c instanceof CfnRole && stack.getLogicalId(c) === logicalId);
      return target !== undefined && this.rolePath.test(target.node.path);
    });
    if (!ours) return;
    const document = stack.resolve(node.policyDocument) as { Statement: Statement[] };
    const statements = document.Statement.flatMap((statement) => {
      const actions = [statement.Action ?? []].flat();
      if (!actions.includes(this.action)) return [statement];
      this.removed++;
      const kept = actions.filter((action) => action !== this.action);
      return kept.length === 0 ? [] : [{ ...statement, Action: kept }];
    });
    node.policyDocument = { ...document, Statement: statements };
  }
}
