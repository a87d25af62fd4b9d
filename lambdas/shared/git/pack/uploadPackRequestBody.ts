import { ProtocolError } from '../../errors/index.ts';
import { encodeFlush, encodePktLine } from '../pktLine.ts';
import { OID_PATTERN } from '../refName.ts';

/** Capabilities git-geo asks for, in order of preference, when the primary offers them. */
const WANTED_CAPABILITIES = ['side-band-64k', 'ofs-delta', 'no-progress'];

/**
 * The capabilities to send: side-band-64k (or side-band) so the pack streams in packets,
 * ofs-delta for smaller packs, no-progress to skip the chatter. Never thin-pack: every
 * pack git-geo stores must stand on its own.
 */
export function chooseCapabilities(offered: Readonly<Record<string, string | true>>): string[] {
  const chosen = WANTED_CAPABILITIES.filter((capability) => capability in offered);
  if (!('side-band-64k' in offered) && 'side-band' in offered) chosen.unshift('side-band');
  chosen.push('agent=git-geo');
  return chosen;
}

/**
 * A protocol-v1 upload-pack request in one round trip (stateless, as smart HTTP is): every
 * want, then every have, then `done`, so the primary answers with the pack straight away.
 */
export function uploadPackRequestBody(request: { wants: readonly string[]; haves: readonly string[]; capabilities: readonly string[] }): Buffer {
  const wants = [...new Set(request.wants)];
  if (wants.length === 0) throw new ProtocolError('upload-pack request without wants');
  for (const oid of [...wants, ...request.haves]) {
    if (!OID_PATTERN.test(oid)) throw new ProtocolError('upload-pack request with an invalid object id', { data: { oid: oid.slice(0, 64) } });
  }
  const lines = wants.map((oid, index) => encodePktLine(index === 0 ? `want ${oid} ${request.capabilities.join(' ')}\n` : `want ${oid}\n`));
  lines.push(encodeFlush());
  for (const oid of new Set(request.haves)) lines.push(encodePktLine(`have ${oid}\n`));
  lines.push(encodePktLine('done\n'));
  return Buffer.concat(lines);
}
