import type { CfnTemplate } from '../LocalResources.ts';
import { resolveValue, type ResolveContext } from '../TemplateResolver.ts';
import type { TableKeys } from './requestAuthorizations.ts';

/** One policy attached to a role, its resources resolved to what the runtime provisioned. */
export interface RolePolicy {
  readonly name: string;
  readonly document: unknown;
}

/** A function's execution role, as the template declares it: what IAM evaluates its calls against. */
export interface FunctionRole {
  readonly arn: string;
  readonly name: string;
  readonly policies: readonly RolePolicy[];
}

const refersTo = (value: unknown, logicalId: string): boolean => typeof value === 'object' && value !== null && (value as { Ref?: unknown }).Ref === logicalId;

function roleLogicalId(role: unknown): string | undefined {
  const getAtt = (role as { 'Fn::GetAtt'?: unknown } | undefined)?.['Fn::GetAtt'];
  return Array.isArray(getAtt) && getAtt[1] === 'Arn' ? String(getAtt[0]) : undefined;
}

/**
 * The execution role of a function of `template`: its inline policies and every AWS::IAM::Policy
 * and customer-managed policy of the template attached to it, intrinsics resolved against the
 * provisioned resources (call it once the whole stack is provisioned). AWS-managed policies
 * (AWSLambdaBasicExecutionRole: CloudWatch Logs only) are left out: functions make no such calls.
 */
export function functionRole(template: CfnTemplate, functionLogicalId: string, ctx: ResolveContext): FunctionRole {
  const fn = template.Resources[functionLogicalId];
  const roleId = roleLogicalId(fn?.Properties?.Role);
  if (roleId === undefined || template.Resources[roleId]?.Type !== 'AWS::IAM::Role') {
    throw new Error(`${ctx.stackName}/${functionLogicalId}: its role is not a role of the same template, so its policies cannot be enforced`);
  }
  const role = template.Resources[roleId];
  const policies: RolePolicy[] = [];
  for (const inline of (role.Properties?.Policies ?? []) as { PolicyName: unknown; PolicyDocument: unknown }[]) {
    policies.push({ name: String(resolveValue(inline.PolicyName, ctx)), document: resolveValue(inline.PolicyDocument, ctx) });
  }
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Condition !== undefined) continue;
    if (resource.Type !== 'AWS::IAM::Policy' && resource.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const roles = (resource.Properties?.Roles ?? []) as unknown[];
    if (!roles.some((attached) => refersTo(attached, roleId))) continue;
    policies.push({ name: logicalId, document: resolveValue(resource.Properties?.PolicyDocument, ctx) });
  }
  const name = ctx.resources.get(roleId)?.ref ?? roleId;
  return { arn: `arn:aws:iam::${ctx.account}:role/${name}`, name, policies };
}

/** The key attributes of every table of `template`, by physical name (the leading keys of a request). */
export function tableKeys(template: CfnTemplate, ctx: ResolveContext): Map<string, TableKeys> {
  const tables = new Map<string, TableKeys>();
  type KeyElement = { AttributeName: string; KeyType: string };
  const hashKey = (schema: unknown): string | undefined => ((schema ?? []) as KeyElement[]).find((key) => key.KeyType === 'HASH')?.AttributeName;
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::DynamoDB::Table' || resource.Condition !== undefined) continue;
    const name = ctx.resources.get(logicalId)?.ref;
    const partitionKey = hashKey(resource.Properties?.KeySchema);
    if (name === undefined || partitionKey === undefined) continue;
    const indexes: Record<string, string> = {};
    for (const index of [...((resource.Properties?.GlobalSecondaryIndexes ?? []) as { IndexName: string; KeySchema: unknown }[]), ...((resource.Properties?.LocalSecondaryIndexes ?? []) as { IndexName: string; KeySchema: unknown }[])]) {
      const key = hashKey(index.KeySchema);
      if (key !== undefined) indexes[index.IndexName] = key;
    }
    tables.set(name, { partitionKey, indexes });
  }
  return tables;
}
