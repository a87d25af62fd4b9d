/**
 * The stacks' names, from the stack prefix. Kept free of aws-cdk-lib: the operator commands
 * find a deployment's resources by these names and should not load the CDK to do it.
 */
export function primaryStackName(stackPrefix: string): string {
  return `${stackPrefix}-Primary`;
}

export function regionStackName(stackPrefix: string, region: string): string {
  return `${stackPrefix}-Region-${region}`;
}

/** The standby control plane's stack: the primary stack's resources, in `region`, not yet receiving webhooks. */
export function standbyControlPlaneStackName(config: { readonly stackPrefix: string }, region: string): string {
  return `${config.stackPrefix}-ControlPlane-${region}`;
}
