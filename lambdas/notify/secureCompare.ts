import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Compares two secrets in constant time, whatever their lengths. */
export function secureCompare(a: string, b: string): boolean {
  const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

export function hmacHex(algorithm: 'sha256' | 'sha1', secret: string, body: Buffer): string {
  return createHmac(algorithm, secret).update(body).digest('hex');
}

/** True when `givenHex` is the HMAC-SHA256 of `body` under `secret`; compared in constant time, hex case ignored. */
export function hmacSha256Matches(secret: string, body: Buffer, givenHex: string): boolean {
  return secureCompare(hmacHex('sha256', secret, body), givenHex.trim().toLowerCase());
}
