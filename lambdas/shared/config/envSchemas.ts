import { z } from 'zod';

/** A comma-separated list of http(s) base URLs, without trailing slashes. */
export const UrlListSchema = z
  .string()
  .min(1)
  .transform((value) => value.split(',').map((url) => url.trim().replace(/\/+$/, '')))
  .pipe(z.array(z.url({ protocol: /^https?$/ })).min(1));

/** A JSON array of ref-name prefixes such as ["refs/heads/","refs/tags/"]. */
export const RefNamespacesSchema = z
  .string()
  .transform((value, ctx) => {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON array of ref prefixes' });
      return z.NEVER;
    }
  })
  .pipe(z.array(z.string().regex(/^refs\/[^\s]*\/$/, 'each namespace must look like refs/<name>/')).min(1));

/** Where AWS is: the region, and an endpoint override for LocalStack or moto. */
export const AwsEnvSchema = z.object({
  AWS_REGION: z.string().min(1),
  AWS_ENDPOINT_URL: z.url().optional(),
});
