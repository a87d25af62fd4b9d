import { isUtf8 } from 'node:buffer';
import { ProtocolError } from '../errors/index.ts';
import { decodePktLines, encodeFlush, encodePktLine } from './pktLine.ts';
import { isValidRefName, OID_PATTERN } from './refName.ts';
import type { RefSnapshot } from './RefSnapshot.ts';

/** A ref the primary advertised that git-geo will not store, and why (the name is shown escaped). */
export interface RefusedRef {
  readonly name: string;
  readonly reason: string;
}

/** Refs read from an advertisement or an `ls-refs` answer, with the names refused at the door. */
export interface AdvertisedRefs {
  readonly snapshot: RefSnapshot;
  readonly refused: readonly RefusedRef[];
}

/** What the primary's first answer (`info/refs?service=git-upload-pack`) says. */
export type InfoRefsAnswer =
  | { readonly version: 2; readonly capabilities: Readonly<Record<string, string | true>> }
  | { readonly version: 0; readonly capabilities: Readonly<Record<string, string | true>>; readonly refs: AdvertisedRefs };

/** A delimiter packet (`0001`): separates a v2 command's capabilities from its arguments. */
const DELIM = Buffer.from('0001', 'ascii');

/** A ref name made printable for an error or the registry: control characters escaped, at most 200 characters. */
export function printableRefName(name: string): string {
  return JSON.stringify(name).slice(1, -1).slice(0, 200);
}

/** Why git would refuse `name` as a ref name, or undefined when it is valid (git check-ref-format). */
export function refNameProblem(raw: Buffer | string, decoded?: string): string | undefined {
  // isUtf8 checks the bytes natively: no decode and encode again per ref.
  if (typeof raw !== 'string' && !isUtf8(raw)) return 'not valid UTF-8';
  const name = typeof raw === 'string' ? raw : (decoded ?? raw.toString('utf8'));
  return isValidRefName(name) ? undefined : 'not a valid ref name (git check-ref-format)';
}

function parseCapabilityList(words: readonly string[]): Record<string, string | true> {
  const capabilities: Record<string, string | true> = {};
  for (const word of words) {
    if (word === '') continue;
    const equals = word.indexOf('=');
    capabilities[equals < 0 ? word : word.slice(0, equals)] = equals < 0 ? true : word.slice(equals + 1);
  }
  return capabilities;
}

/** Strips the final LF of a pkt-line payload only: anything else in it belongs to the line (and is judged). */
function lineOf(payload: Buffer): Buffer {
  return payload.length > 0 && payload[payload.length - 1] === 0x0a ? payload.subarray(0, -1) : payload;
}

class RefCollector {
  readonly refs = new Map<string, string>();
  readonly peeled = new Map<string, string>();
  readonly refused: RefusedRef[] = [];
  head: string | undefined;

  add(rawName: Buffer, oid: string, peeled?: string, decoded?: string): void {
    const name = decoded ?? rawName.toString('utf8');
    const problem = refNameProblem(rawName, name);
    if (problem !== undefined) {
      this.refused.push({ name: printableRefName(name), reason: problem });
      return;
    }
    if (!OID_PATTERN.test(oid)) throw new ProtocolError('primary advertised a ref with a malformed object id', { data: { ref: printableRefName(name) } });
    this.refs.set(name, oid);
    if (peeled !== undefined) {
      if (!OID_PATTERN.test(peeled)) throw new ProtocolError('primary advertised a malformed peeled object id', { data: { ref: printableRefName(name) } });
      this.peeled.set(name, peeled);
    }
  }

  setHead(target: string): void {
    const problem = refNameProblem(target);
    if (problem === undefined) this.head = target;
    else this.refused.push({ name: `HEAD -> ${printableRefName(target)}`, reason: problem });
  }

  result(): AdvertisedRefs {
    return { snapshot: { head: this.head, refs: this.refs, peeled: this.peeled }, refused: this.refused };
  }
}

/**
 * Reads the answer to `GET info/refs?service=git-upload-pack` (sent with `Git-Protocol: version=2`):
 * a v2 capability advertisement, or, from a host without v2, the v0/v1 ref advertisement itself.
 * Ref names are judged byte for byte as git does: a bad one is refused, never stored.
 */
export function parseInfoRefsAnswer(body: Buffer): InfoRefsAnswer {
  const lines = decodePktLines(body);
  let at = 0;
  if (lines[0] !== undefined && lines[0] !== null && lines[0].toString('latin1').startsWith('# service=')) {
    at = 1;
    if (lines[at] === null) at++;
  }
  const first = lines[at];
  if (first !== undefined && first !== null && lineOf(first).toString('latin1') === 'version 2') {
    const capabilities: Record<string, string | true> = {};
    for (const line of lines.slice(at + 1)) {
      if (line === null) break;
      Object.assign(capabilities, parseCapabilityList([lineOf(line).toString('utf8')]));
    }
    return { version: 2, capabilities };
  }
  if (first !== undefined && first !== null && lineOf(first).toString('latin1') === 'version 1') at++;
  const collector = new RefCollector();
  let capabilities: Record<string, string | true> = {};
  let firstRef = true;
  for (const line of lines.slice(at)) {
    if (line === null) break;
    let payload = lineOf(line);
    if (firstRef) {
      firstRef = false;
      const nul = payload.indexOf(0);
      if (nul >= 0) {
        capabilities = parseCapabilityList(payload.subarray(nul + 1).toString('utf8').split(' '));
        payload = payload.subarray(0, nul);
      }
    }
    const space = payload.indexOf(0x20);
    if (space < 0) throw new ProtocolError('malformed line in the primary ref advertisement', { data: { line: printableRefName(payload.toString('utf8')) } });
    const oid = payload.toString('latin1', 0, space);
    const name = payload.subarray(space + 1);
    const text = name.toString('utf8');
    if (text === 'capabilities^{}') continue;
    if (text === 'HEAD') continue;
    if (text.endsWith('^{}')) {
      const tag = text.slice(0, -3);
      if (collector.refs.has(tag)) collector.peeled.set(tag, oid);
      continue;
    }
    collector.add(name, oid, undefined, text);
  }
  const symref = capabilities.symref;
  if (typeof symref === 'string' && symref.startsWith('HEAD:')) collector.setHead(symref.slice(5));
  return { version: 0, capabilities, refs: collector.result() };
}

/** The capability lines every v2 command sends: git-geo's agent, and the object format when the primary names one. */
function commandCapabilities(command: string, offered: Readonly<Record<string, string | true>>): Buffer[] {
  const lines = [encodePktLine(`command=${command}\n`)];
  if ('agent' in offered) lines.push(encodePktLine('agent=git-geo\n'));
  const format = offered['object-format'];
  if (typeof format === 'string') lines.push(encodePktLine(`object-format=${format}\n`));
  return lines;
}

/**
 * A v2 `ls-refs` request for the given prefixes only (and HEAD), with symref targets and peeled
 * tags: the primary sends the mirrored namespaces, not every ref it has.
 */
export function lsRefsRequest(prefixes: readonly string[], offered: Readonly<Record<string, string | true>>): Buffer {
  const lsRefs = offered['ls-refs'];
  const unborn = typeof lsRefs === 'string' && lsRefs.split(' ').includes('unborn');
  const args = ['peel', 'symrefs', ...(unborn ? ['unborn'] : []), 'ref-prefix HEAD', ...prefixes.map((prefix) => `ref-prefix ${prefix}`)];
  return Buffer.concat([...commandCapabilities('ls-refs', offered), DELIM, ...args.map((arg) => encodePktLine(`${arg}\n`)), encodeFlush()]);
}

/** Parses an `ls-refs` answer: `<oid> <name>[ symref-target:<t>][ peeled:<oid>]`, or `unborn HEAD symref-target:<t>`. */
export function parseLsRefs(body: Buffer): AdvertisedRefs {
  const collector = new RefCollector();
  for (const line of decodePktLines(body)) {
    if (line === null) break;
    const payload = lineOf(line);
    const space = payload.indexOf(0x20);
    if (space < 0) throw new ProtocolError('malformed ls-refs line from the primary', { data: { line: printableRefName(payload.toString('utf8')) } });
    const oid = payload.toString('latin1', 0, space);
    const rest = payload.subarray(space + 1);
    // Attributes follow the name after a space; a space in a name is itself invalid, so the whole rest is judged then.
    const attributesAt = rest.indexOf(0x20);
    const name = attributesAt < 0 ? rest : rest.subarray(0, attributesAt);
    const attributes = attributesAt < 0 ? [] : rest.subarray(attributesAt + 1).toString('utf8').split(' ');
    let symrefTarget: string | undefined;
    let peeled: string | undefined;
    let malformed = false;
    for (const attribute of attributes) {
      if (attribute.startsWith('symref-target:')) symrefTarget = attribute.slice('symref-target:'.length);
      else if (attribute.startsWith('peeled:')) peeled = attribute.slice('peeled:'.length);
      else malformed = true;
    }
    const nameText = name.toString('utf8');
    if (nameText === 'HEAD') {
      if (symrefTarget !== undefined) collector.setHead(symrefTarget);
      continue;
    }
    if (oid === 'unborn') continue;
    if (malformed) collector.add(rest, oid);
    else collector.add(name, oid, peeled, nameText);
  }
  return collector.result();
}

/**
 * A v2 `fetch` request in one round trip: every want, every have, `done`, so the primary answers
 * with the pack straight away. ofs-delta, never thin-pack: every stored pack stands on its own.
 */
export function fetchRequest(request: { wants: readonly string[]; haves: readonly string[] }, offered: Readonly<Record<string, string | true>>): Buffer {
  const wants = [...new Set(request.wants)];
  if (wants.length === 0) throw new ProtocolError('fetch request without wants');
  for (const oid of [...wants, ...request.haves]) {
    if (!OID_PATTERN.test(oid)) throw new ProtocolError('fetch request with an invalid object id', { data: { oid: oid.slice(0, 64) } });
  }
  const args = ['ofs-delta', 'no-progress', ...wants.map((oid) => `want ${oid}`), ...[...new Set(request.haves)].map((oid) => `have ${oid}`), 'done'];
  return Buffer.concat([...commandCapabilities('fetch', offered), DELIM, ...args.map((arg) => encodePktLine(`${arg}\n`)), encodeFlush()]);
}
