import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { AnyClientPlugin } from '../../../lambdas/shared/aws/HandlerHooks.ts';
import type { FunctionRole } from './FunctionRole.ts';
import { requestAuthorizations, type Authorization, type TableKeys } from './requestAuthorizations.ts';

/** The code each service answers a denied request with. */
const DENIED_CODE: Readonly<Record<string, string>> = {
  S3Client: 'AccessDenied',
  SQSClient: 'AccessDenied',
  SNSClient: 'AuthorizationError',
  CloudFormationClient: 'AccessDenied',
};

/** IAM refused a function's request, as AWS answers it: HTTP 403, the action and the resource named. */
export class AccessDeniedError extends Error {
  readonly $fault = 'client';
  readonly $metadata: { readonly httpStatusCode: number };
  readonly Code: string;
  constructor(
    readonly code: string,
    readonly action: string,
    readonly resource: string,
    principal: string,
  ) {
    super(`User: ${principal} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`);
    this.name = code;
    this.Code = code;
    this.$metadata = { httpStatusCode: 403 };
  }
}

export interface EnforcementScope {
  readonly account: string;
  /** The function's name, the session name of its role in AWS. */
  readonly functionName: string;
  readonly tables: ReadonlyMap<string, TableKeys>;
  /** Called with every denial, before the function sees it (the runtime reports them). */
  readonly onDenied?: (error: AccessDeniedError) => void;
}

/** The region a request was signed for: `Credential=<key>/<date>/<region>/<service>/aws4_request`. */
function signedRegion(request: unknown): string | undefined {
  const { headers = {}, query = {} } = (request ?? {}) as { headers?: Record<string, string>; query?: Record<string, string | string[]> };
  const credential = headers.authorization ?? headers.Authorization ?? String(query['X-Amz-Credential'] ?? '');
  return /Credential=[^/]*\/\d{8}\/([^/]+)\//.exec(credential)?.[1] ?? /^[^/]*\/\d{8}\/([^/]+)\//.exec(credential)?.[1];
}

/** Decisions already made, by role, action, resource and context: a simulation takes milliseconds. */
const decisions = new Map<string, boolean>();
const MAX_DECISIONS = 50_000;

/**
 * Evaluates one authorization against the role's identity policies with the IAM policy simulator
 * (@cloud-copilot/iam-simulate): explicit denies, wildcards, NotAction/NotResource and condition
 * operators as IAM evaluates them. The policies use no time conditions, so decisions are kept.
 */
export async function isAllowed(role: FunctionRole, account: string, authorization: Authorization, region: string): Promise<boolean> {
  const key = JSON.stringify([role.arn, role.policies, region, authorization.action, authorization.resource, Object.entries(authorization.context).sort()]);
  const known = decisions.get(key);
  if (known !== undefined) return known;
  const allowed = await simulate(role, account, authorization, region);
  if (decisions.size >= MAX_DECISIONS) decisions.clear();
  decisions.set(key, allowed);
  return allowed;
}

async function simulate(role: FunctionRole, account: string, authorization: Authorization, region: string): Promise<boolean> {
  const result = await runSimulation(
    {
      request: {
        principal: role.arn,
        action: authorization.action,
        resource: { resource: authorization.resource, accountId: account },
        contextVariables: {
          'aws:SecureTransport': 'true',
          'aws:PrincipalArn': role.arn,
          'aws:PrincipalAccount': account,
          'aws:RequestedRegion': region,
          'aws:CurrentTime': new Date().toISOString(),
          ...authorization.context,
        },
      },
      identityPolicies: role.policies.map((policy) => ({ name: policy.name, policy: policy.document })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (result.resultType === 'error') {
    throw new Error(`cannot evaluate ${authorization.action} on ${authorization.resource} against ${role.name}: ${result.errors.message} ${JSON.stringify(result.errors)}`);
  }
  return result.overallResult === 'Allowed';
}

/**
 * An SDK plugin that lets a request through only if the function's role allows every
 * authorization it takes, and otherwise fails it as AWS would (AccessDenied naming the action
 * and the resource). It runs after signing, so it evaluates the request exactly as sent,
 * in the region it was signed for.
 */
export function iamEnforcement(role: FunctionRole, scope: EnforcementScope): AnyClientPlugin {
  const principal = `arn:aws:sts::${scope.account}:assumed-role/${role.name}/${scope.functionName}`;
  return {
    applyToStack(stack) {
      stack.add(
        (next, context) => async (args) => {
          const region = signedRegion((args as { request?: unknown }).request);
          if (region === undefined) throw new Error(`${context.clientName} ${context.commandName}: the request is not signed, so IAM cannot evaluate it`);
          const input = (args as { input: Record<string, unknown> }).input;
          for (const authorization of requestAuthorizations(String(context.clientName), String(context.commandName), input, { region, account: scope.account, tables: scope.tables })) {
            if (!(await isAllowed(role, scope.account, authorization, region))) {
              const error = new AccessDeniedError(DENIED_CODE[String(context.clientName)] ?? 'AccessDeniedException', authorization.action, authorization.resource, principal);
              scope.onDenied?.(error);
              throw error;
            }
          }
          return next(args);
        },
        { step: 'finalizeRequest', priority: 'low', name: 'gitGeoIamEnforcement', override: true },
      );
    },
  };
}
