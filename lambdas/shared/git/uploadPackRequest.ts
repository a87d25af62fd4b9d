import { ProtocolError } from '../errors/index.ts';
import { decodePktLines, encodeFlush, encodePktLine } from './pktLine.ts';
import { OID_PATTERN } from './refName.ts';

export interface UploadPackNegotiation {
  /** Objects to ask for on top of the ones the client asked for. */
  readonly extraWants: readonly string[];
  /** Objects we already hold, so the primary sends only what is new. */
  readonly haves: readonly string[];
}

/**
 * Rewrites a protocol-v1 upload-pack request built by isomorphic-git: adds wants
 * (so refs outside heads and tags come along in the same pack) and haves (so only
 * new objects travel), keeping the client's capabilities and shallow lines.
 */
export function rewriteUploadPackRequest(body: Buffer, negotiation: UploadPackNegotiation): Buffer {
  const lines = decodePktLines(body);
  const wants: string[] = [];
  const haves: string[] = [];
  const others: string[] = [];
  let capabilities = '';
  for (const line of lines) {
    if (line === null) continue;
    const text = line.toString('utf8').replace(/\n$/, '');
    if (text.startsWith('want ')) {
      const [, oid, ...caps] = text.split(' ');
      if (oid === undefined || !OID_PATTERN.test(oid)) throw new ProtocolError('want line without a valid object id');
      if (wants.length === 0) capabilities = caps.join(' ');
      wants.push(oid);
    } else if (text.startsWith('have ')) {
      const oid = text.slice(5);
      if (!OID_PATTERN.test(oid)) throw new ProtocolError('have line without a valid object id');
      haves.push(oid);
    } else if (text !== 'done') {
      others.push(text);
    }
  }
  const allWants = [...new Set([...wants, ...negotiation.extraWants])];
  const allHaves = [...new Set([...haves, ...negotiation.haves])];
  if (allWants.length === 0) throw new ProtocolError('upload-pack request without wants');
  const out: Buffer[] = allWants.map((oid, index) =>
    encodePktLine(index === 0 && capabilities ? `want ${oid} ${capabilities}\n` : `want ${oid}\n`),
  );
  for (const other of others) out.push(encodePktLine(`${other}\n`));
  out.push(encodeFlush());
  for (const oid of allHaves) out.push(encodePktLine(`have ${oid}\n`));
  out.push(encodePktLine('done\n'));
  return Buffer.concat(out);
}
