import * as z from 'zod';

/** Where AWS is: the region, and an endpoint override for LocalStack or moto. */
export const AwsEnvSchema = z.object({
  AWS_REGION: z.string().min(1),
  AWS_ENDPOINT_URL: z.url().optional(),
});
