/** SDK client settings for one region; an endpoint override means path-style S3 addressing. */
export interface ClientConfig {
  readonly region: string;
  readonly endpoint?: string;
  readonly forcePathStyle?: boolean;
}

export function clientConfig(region: string, endpoint: string | undefined): ClientConfig {
  return endpoint === undefined ? { region } : { region, endpoint, forcePathStyle: true };
}
