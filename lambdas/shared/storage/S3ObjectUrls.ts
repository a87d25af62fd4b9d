import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ObjectUrls } from './ObjectUrls.ts';

/**
 * Pre-signed S3 GET URLs, signed with the caller's own credentials (the function's role): a
 * URL works for as long as both it and those credentials are valid, and only for what the
 * role may read.
 */
export class S3ObjectUrls implements ObjectUrls {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    private readonly expiresInSeconds: number,
  ) {}

  async signedGetUrl(key: string): Promise<string> {
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: this.expiresInSeconds });
  }
}
