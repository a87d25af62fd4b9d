/** What a provisioned resource answers to `Ref` and `Fn::GetAtt`. */
export interface PhysicalResource {
  readonly ref: string;
  readonly attributes: Readonly<Record<string, string>>;
}

export interface ResolveContext {
  readonly stackName: string;
  readonly region: string;
  readonly account: string;
  readonly resources: ReadonlyMap<string, PhysicalResource>;
  /** Outputs exported by stacks already provisioned, for Fn::ImportValue. */
  readonly exports: ReadonlyMap<string, string>;
}

export class UnresolvableError extends Error {}

function pseudo(name: string, ctx: ResolveContext): string | undefined {
  switch (name) {
    case 'AWS::Region':
      return ctx.region;
    case 'AWS::AccountId':
      return ctx.account;
    case 'AWS::Partition':
      return 'aws';
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    case 'AWS::StackName':
      return ctx.stackName;
    case 'AWS::StackId':
      return `arn:aws:cloudformation:${ctx.region}:${ctx.account}:stack/${ctx.stackName}/local`;
    case 'AWS::NoValue':
      return undefined;
    default:
      return undefined;
  }
}

function resource(logicalId: string, ctx: ResolveContext): PhysicalResource {
  const found = ctx.resources.get(logicalId);
  if (found === undefined) throw new UnresolvableError(`${logicalId} is not provisioned yet`);
  return found;
}

/**
 * Resolves CloudFormation intrinsic functions in a template value, the way CloudFormation
 * would at deploy time, against the resources the local runtime has created.
 */
export function resolveValue(value: unknown, ctx: ResolveContext): unknown {
  if (Array.isArray(value)) return value.map((item) => resolveValue(item, ctx));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1) {
    const [fn, arg] = entries[0]!;
    switch (fn) {
      case 'Ref': {
        const name = String(arg);
        if (name.startsWith('AWS::')) return pseudo(name, ctx);
        return resource(name, ctx).ref;
      }
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = Array.isArray(arg) ? (arg as string[]) : String(arg).split('.');
        const found = resource(String(logicalId), ctx).attributes[String(attribute)];
        if (found === undefined) throw new UnresolvableError(`${logicalId}.${attribute} has no local value`);
        return found;
      }
      case 'Fn::Join': {
        const [separator, parts] = arg as [string, unknown[]];
        return (resolveValue(parts, ctx) as unknown[]).join(separator);
      }
      case 'Fn::Select': {
        const [index, list] = arg as [number | string, unknown];
        return (resolveValue(list, ctx) as unknown[])[Number(resolveValue(index, ctx))];
      }
      case 'Fn::Split': {
        const [separator, source] = arg as [string, unknown];
        return String(resolveValue(source, ctx)).split(separator);
      }
      case 'Fn::Sub': {
        const [template, vars] = Array.isArray(arg) ? (arg as [string, Record<string, unknown>]) : [String(arg), {}];
        return template.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
          if (name in vars) return String(resolveValue(vars[name], ctx));
          if (name.startsWith('AWS::')) return String(pseudo(name, ctx));
          const [logicalId, attribute] = name.split('.');
          return attribute === undefined ? resource(logicalId!, ctx).ref : String(resolveValue({ 'Fn::GetAtt': [logicalId, attribute] }, ctx));
        });
      }
      case 'Fn::ImportValue': {
        const name = String(resolveValue(arg, ctx));
        const exported = ctx.exports.get(name);
        if (exported === undefined) throw new UnresolvableError(`no stack exports ${name}`);
        return exported;
      }
      default:
        if (fn.startsWith('Fn::')) throw new UnresolvableError(`${fn} is not supported by the local runtime`);
    }
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, resolveValue(item, ctx)]));
}

/** Logical ids a template value refers to, so resources are created after what they use. */
export function referencedIds(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) referencedIds(item, into);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      if (key === 'Ref' && typeof item === 'string' && !item.startsWith('AWS::')) into.add(item);
      else if (key === 'Fn::GetAtt') into.add(String(Array.isArray(item) ? item[0] : String(item).split('.')[0]));
      else if (key === 'Fn::Sub') {
        const template = Array.isArray(item) ? String(item[0]) : String(item);
        for (const match of template.matchAll(/\$\{([^}.]+)(?:\.[^}]+)?\}/g)) if (!match[1]!.startsWith('AWS::')) into.add(match[1]!);
        if (Array.isArray(item)) referencedIds(item[1], into);
      } else referencedIds(item, into);
    }
  }
  return into;
}
