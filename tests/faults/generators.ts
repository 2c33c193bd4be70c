// fast-check generators of malformed and hostile device messages and bad API requests.
//
// Device messages are malformed by construction, never by asking the daemon's own parser: each one
// starts from a well-formed event that would be decided (a holder's card at a reader, a door contact
// opening, under a boot the controller has never seen) and carries at least one definite violation of
// device protocol v1 (docs/device-protocol.md), or is a replay (a (boot, seq) at or below what the
// controller has already seen). So a parser that let one through would show as a missing rejection
// in the counters, and usually as a grant or a forced-door record as well.
import fc from 'fast-check';

export type Intent = 'rejected' | 'duplicate';

export interface DeviceMessage {
  device: string;
  channel: 'events' | 'status';
  payload: Buffer;
  category: string;
  intent: Intent;
}

export interface DeviceWorld {
  /** Readers (credential events), contacts (input events), others (acks, snapshots). */
  readers: string[];
  contacts: string[];
  others: string[];
  /** Cards of enrolled access holders: a message carrying one would open a door if it got through. */
  holderCards: string[];
  /** The simulator's boot; `marks` are the highest (boot, seq) the controller has seen per device. */
  boot: number;
  marks: Map<string, number>;
}

const EVENT_TYPES = ['credential', 'input', 'ack', 'snapshot'];
const CREDENTIAL_KINDS = ['card', 'pin', 'otp', 'bio'];
const INPUT_NAMES = ['contact', 'rex', 'tamper', 'motion', 'beam', 'key', 'dial', 'emergency', 'checkpoint'];

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

// Values of the wrong JSON type for a field.
const anyArray = fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 });
const anyObject = fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 });
const notString = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), anyArray, anyObject);
const notBoolean = fc.oneof(fc.constant(null), fc.integer(), fc.string({ maxLength: 8 }), fc.constantFrom('true', 'false', 'yes', '1'), anyArray, anyObject);
const notObject = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.string({ maxLength: 20 }), anyArray);
const nonInteger = fc.double({ min: -1e9, max: 1e9, noNaN: true }).filter((x) => !Number.isInteger(x));
/** Never a valid boot (an integer 0..2^32) nor seq (an integer 0..2^53-1). */
const badCounter = (max: number) =>
  fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.string({ maxLength: 12 }),
    fc.constantFrom('1', '42', '0x10'),
    anyArray,
    anyObject,
    fc.integer({ min: -(2 ** 31), max: -1 }),
    nonInteger,
    fc.constantFrom(max + 1, max + 2, 2 ** 53 + 2, 1e21),
  );
const extraKey = (taken: string[]) => fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !taken.includes(k));
const longString = (min: number) => fc.string({ minLength: min, maxLength: min + 200 });

/** A well-formed event that would act: a holder's card at a reader, or a door contact opening. */
function baseEvent(w: DeviceWorld, kind: string, rand: { card: string; seq: number; device: string }): { device: string; event: Record<string, unknown> } {
  const boot = w.boot + 1000; // a boot never seen: were it accepted, the event would be decided
  switch (kind) {
    case 'credential':
      return { device: rand.device, event: { type: 'credential', credential: { kind: 'card', value: rand.card }, boot, seq: rand.seq } };
    case 'input':
      return { device: rand.device, event: { type: 'input', input: 'contact', active: true, boot, seq: rand.seq } };
    case 'ack':
      return { device: rand.device, event: { type: 'ack', command: 'c-1', ok: true, boot, seq: rand.seq } };
    default:
      return { device: rand.device, event: { type: 'snapshot', command: 'c-1', contentType: 'image/jpeg', data: 'AAAA', boot, seq: rand.seq } };
  }
}

type Violation = (e: Record<string, unknown>) => fc.Arbitrary<Record<string, unknown>>;
const set =
  (path: string[], arb: fc.Arbitrary<unknown>): Violation =>
  (e) =>
    arb.map((v) => {
      const copy = structuredClone(e);
      let o = copy as Record<string, unknown>;
      for (const p of path.slice(0, -1)) o = o[p] as Record<string, unknown>;
      o[path.at(-1)!] = v;
      return copy;
    });
const drop =
  (path: string[]): Violation =>
  (e) =>
    fc.constant(null).map(() => {
      const copy = structuredClone(e);
      let o = copy as Record<string, unknown>;
      for (const p of path.slice(0, -1)) o = o[p] as Record<string, unknown>;
      delete o[path.at(-1)!];
      return copy;
    });
const addKey =
  (path: string[], taken: string[]): Violation =>
  (e) =>
    fc.tuple(extraKey(taken), fc.jsonValue({ maxDepth: 2 })).map(([k, v]) => {
      const copy = structuredClone(e);
      let o = copy as Record<string, unknown>;
      for (const p of path) o = o[p] as Record<string, unknown>;
      // An own property even for "__proto__" (plain assignment would set the prototype instead).
      Object.defineProperty(o, k, { value: v, enumerable: true, configurable: true, writable: true });
      return copy;
    });

const commonViolations = (keys: string[]): Violation[] => [
  set(
    ['type'],
    fc.oneof(
      notString,
      fc.string({ maxLength: 12 }).filter((s) => !EVENT_TYPES.includes(s)),
      fc.constantFrom('Credential', 'CREDENTIAL', 'credential ', ''),
    ),
  ),
  drop(['type']),
  addKey([], keys),
  set(['boot'], badCounter(2 ** 32)),
  set(['seq'], badCounter(Number.MAX_SAFE_INTEGER)),
];

const violations: Record<string, Violation[]> = {
  credential: [
    ...commonViolations(['type', 'credential', 'boot', 'seq']),
    set(['credential'], notObject),
    drop(['credential']),
    set(
      ['credential', 'kind'],
      fc.oneof(
        notString,
        fc.string({ maxLength: 8 }).filter((s) => !CREDENTIAL_KINDS.includes(s)),
        fc.constantFrom('CARD', 'iris', 'card ', ''),
      ),
    ),
    drop(['credential', 'kind']),
    set(['credential', 'value'], fc.oneof(notString, fc.constant(''), longString(257))),
    drop(['credential', 'value']),
    addKey(['credential'], ['kind', 'value']),
  ],
  input: [
    ...commonViolations(['type', 'input', 'active', 'boot', 'seq']),
    set(
      ['input'],
      fc.oneof(
        notString,
        fc.string({ maxLength: 10 }).filter((s) => !INPUT_NAMES.includes(s)),
        fc.constantFrom('door', 'CONTACT', 'rex '),
      ),
    ),
    drop(['input']),
    set(['active'], notBoolean),
    drop(['active']),
  ],
  ack: [
    ...commonViolations(['type', 'command', 'ok', 'error', 'boot', 'seq']),
    set(['command'], fc.oneof(notString, fc.constant(''), longString(65))),
    drop(['command']),
    set(['ok'], notBoolean),
    drop(['ok']),
    set(['error'], fc.oneof(notString, longString(257))),
  ],
  snapshot: [
    ...commonViolations(['type', 'command', 'contentType', 'data', 'boot', 'seq']),
    set(['contentType'], fc.oneof(notString, fc.constantFrom('image/gif', 'IMAGE/JPEG', 'text/html', ''))),
    drop(['contentType']),
    set(['data'], fc.oneof(notString, fc.constantFrom('***', 'abc', 'A===', '====', 'AAAA AAAA', '%%%%'))),
    drop(['data']),
    drop(['command']),
  ],
};

/** Bytes that are never valid UTF-8, however placed. */
const INVALID_UTF8: number[][] = [
  [0xff],
  [0xfe],
  [0x80],
  [0xbf],
  [0xc0, 0x80],
  [0xc1, 0xbf],
  [0xe0, 0x80, 0x80],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf5, 0x80, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xe3, 0x81],
  [0xc3],
];

function insertBytes(payload: Buffer, at: number, bytes: number[]): Buffer {
  const i = Math.min(at, payload.length);
  return Buffer.concat([payload.subarray(0, i), Buffer.from(bytes), payload.subarray(i)]);
}

const isJson = (s: string) => {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
};

export function deviceMessages(w: DeviceWorld): fc.Arbitrary<DeviceMessage> {
  const card = fc.constantFrom(...w.holderCards);
  const seq = fc.integer({ min: 1, max: 1_000_000 });
  const anyDevice = fc.constantFrom(...w.readers, ...w.contacts, ...w.others);
  const deviceFor = (kind: string) => fc.constantFrom(...(kind === 'credential' ? w.readers : kind === 'input' ? w.contacts : [...w.others, ...w.readers]));
  const base = (kind: string) => fc.record({ card, seq, device: deviceFor(kind) }).map((r) => baseEvent(w, kind, r));
  const msg = (category: string, device: string, payload: Buffer, intent: Intent = 'rejected', channel: 'events' | 'status' = 'events'): DeviceMessage => ({
    device,
    channel,
    payload,
    category,
    intent,
  });

  // One definite protocol violation in an otherwise acting event.
  const violated = fc
    .constantFrom(...EVENT_TYPES)
    .chain((kind) =>
      fc.tuple(base(kind), fc.constantFrom(...violations[kind]!)).chain(([b, v]) => v(b.event).map((e) => msg(`violation:${kind}`, b.device, json(e)))),
    );

  // Any JSON that is not an event object: arrays, scalars, objects without a valid type.
  const garbageJson = fc.tuple(anyDevice, fc.jsonValue({ maxDepth: 4 })).map(([device, v]) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) (v as Record<string, unknown>).type = 'noise';
    return msg('json-not-an-event', device, json(v));
  });

  // Text that is not JSON: random text, and valid events cut short.
  const notJson = fc.oneof(
    fc
      .tuple(
        anyDevice,
        fc.string({ unit: 'grapheme', maxLength: 200 }).filter((s) => !isJson(s)),
      )
      .map(([d, s]) => msg('not-json', d, Buffer.from(s))),
    fc.tuple(base('credential'), fc.nat()).map(([b, n]) => {
      const text = JSON.stringify(b.event);
      return msg('truncated-json', b.device, Buffer.from(text.slice(0, n % (text.length - 1))));
    }),
  );

  // A holder's card in an event with bytes that are never UTF-8 spliced in.
  const invalidUtf8 = fc.tuple(base('credential'), fc.nat(), fc.constantFrom(...INVALID_UTF8)).map(([b, at, bytes]) => {
    const p = json(b.event);
    return msg('invalid-utf8', b.device, insertBytes(p, at % (p.length + 1), bytes));
  });
  const binary = fc
    .tuple(anyDevice, fc.uint8Array({ maxLength: 300 }), fc.constantFrom(...INVALID_UTF8))
    .map(([d, bytes, bad]) => msg('binary', d, insertBytes(Buffer.from(bytes), bytes.length >> 1, bad)));

  // Deep nesting: at the root, and as a credential's value.
  const deep = fc
    .tuple(
      anyDevice,
      fc.oneof({ weight: 40, arbitrary: fc.integer({ min: 50, max: 5000 }) }, { weight: 1, arbitrary: fc.integer({ min: 5000, max: 100_000 }) }),
      fc.constantFrom('array', 'object', 'unclosed', 'in-value'),
      card,
    )
    .map(([d, depth, shape, c]) => {
      let text: string;
      if (shape === 'array') text = '['.repeat(depth) + ']'.repeat(depth);
      else if (shape === 'object') text = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      else if (shape === 'unclosed') text = '['.repeat(depth);
      else text = `{"type":"credential","credential":{"kind":"card","value":${'['.repeat(depth)}"${c}"${']'.repeat(depth)}}}`;
      return msg(`deep-${shape}`, shape === 'in-value' ? w.readers[0]! : d, Buffer.from(text));
    });

  // Huge: a holder's card padded past the 16 KB event limit, long values, snapshots past 2 MB.
  const size = fc.oneof(
    { weight: 60, arbitrary: fc.integer({ min: 16 * 1024 + 1, max: 100_000 }) },
    { weight: 1, arbitrary: fc.integer({ min: 2_100_000, max: 4_000_000 }) },
  );
  const huge = fc.tuple(base('credential'), size, fc.constantFrom('padded', 'long-value', 'snapshot')).map(([b, n, s]) => {
    // A snapshot is only hostile past 2 MiB: sent only with the rare multi-megabyte sizes.
    const shape = s === 'snapshot' && n < 2_000_000 ? 'padded' : s;
    if (shape === 'padded') {
      const text = JSON.stringify(b.event);
      return msg('huge-padded', b.device, Buffer.from(`${text.slice(0, -1) + ' '.repeat(Math.max(0, n - text.length))}}`));
    }
    if (shape === 'long-value') return msg('huge-value', b.device, json({ ...b.event, credential: { kind: 'card', value: 'A'.repeat(n) } }));
    // Valid base64 past MAX_SNAPSHOT_BYTES (2 MiB): too big however it is encoded.
    const data = 'QUJD'.repeat(Math.ceil(n / 4));
    return msg(
      'huge-snapshot',
      w.others[0] ?? b.device,
      json({ type: 'snapshot', command: 'c-1', contentType: 'image/jpeg', data, boot: w.boot + 1000, seq: 1 }),
    );
  });

  // Prototype pollution and other key tricks around a holder's card.
  const pollution = fc
    .tuple(
      base('credential'),
      fc.constantFrom(
        (c: string) => `{"__proto__":{"type":"credential","credential":{"kind":"card","value":"${c}"}}}`,
        (c: string) => `{"type":"credential","credential":{"kind":"card","value":"${c}","__proto__":{"granted":true}}}`,
        (c: string) => `{"type":"credential","credential":{"kind":"card","value":"${c}"},"constructor":{"prototype":{"granted":true}}}`,
        (c: string) => `{"type":"credential","credential":{"kind":"card","value":"${c}"},"__proto__":null}`,
        (c: string) =>
          `{"type":"credential","credential":{"kind":"card","value":"${c}"},"type":"credential","type":"credential ","boot":${w.boot + 1000},"seq":1}`,
        (c: string) => `{"type":"credential","credential":{"kind":"card","value":"${c}"},"boot":${w.boot + 1000},"seq":1,"seq":-1}`,
      ),
    )
    .map(([b, f]) => msg('pollution', b.device, Buffer.from(f((b.event.credential as { value: string }).value))));

  // Replays: well-formed events at or below what the controller has seen from that device.
  const replayable = [...w.marks.keys()];
  const replay = fc
    .tuple(fc.constantFrom(...replayable), card, fc.boolean(), fc.nat(), fc.integer({ min: 0, max: 2 ** 31 }))
    .map(([device, c, sameBoot, n, any]) => {
      const mark = w.marks.get(device)!;
      const [boot, s] = sameBoot ? [w.boot, 1 + (n % mark)] : [n % w.boot, any];
      const event = w.readers.includes(device)
        ? { type: 'credential', credential: { kind: 'card', value: c }, boot, seq: s }
        : w.contacts.includes(device)
          ? { type: 'input', input: 'contact', active: true, boot, seq: s }
          : { type: 'ack', command: 'c-1', ok: true, boot, seq: s };
      return msg('replay', device, json(event), 'duplicate');
    });

  // Status: never empty (an empty status clears a retained one), never valid.
  const status = fc
    .tuple(
      anyDevice,
      fc.oneof(
        notBoolean.map((v) => json({ online: v })),
        fc.oneof(notString, longString(65)).map((v) => json({ online: true, firmware: v })),
        fc.tuple(extraKey(['online', 'firmware']), fc.jsonValue({ maxDepth: 1 })).map(([k, v]) => json({ online: true, [k]: v })),
        fc.constant(json({})),
        fc.constant(Buffer.from(`{"online":false${' '.repeat(17 * 1024)}}`)),
        fc
          .string({ maxLength: 50 })
          .filter((s) => s.length > 0 && !isJson(s))
          .map((s) => Buffer.from(s)),
        fc.constantFrom(...INVALID_UTF8).map((b) => Buffer.concat([Buffer.from('{"online":true,"firmware":"'), Buffer.from(b), Buffer.from('"}')])),
        anyArray.map(json),
      ),
    )
    .map(([d, p]) => msg('status', d, p, 'rejected', 'status'));

  return fc.oneof(
    { weight: 30, arbitrary: violated },
    { weight: 10, arbitrary: garbageJson },
    { weight: 8, arbitrary: notJson },
    { weight: 8, arbitrary: invalidUtf8 },
    { weight: 4, arbitrary: binary },
    { weight: 4, arbitrary: deep },
    { weight: 3, arbitrary: huge },
    { weight: 3, arbitrary: pollution },
    { weight: 20, arbitrary: replay },
    { weight: 10, arbitrary: status },
  );
}

/** Device ids the site does not have (a valid MQTT topic level: no wildcards, slashes or control characters). */
export function unknownDeviceIds(known: string[]): fc.Arbitrary<string> {
  const safe = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~:!$&()*;=@ '.split(''), 'リ', 'ー', 'ダ', '扉', 'é', '🚪');
  return fc
    .oneof(
      fc.string({ unit: safe, maxLength: 40 }),
      fc.constantFrom('ghost', 'lab-reader', 'R1', 'r1 ', ' r1', 'r1\u200b', '..', '', 'controller', 'tobira-controller', 'x'.repeat(300)),
    )
    .filter((id) => !known.includes(id));
}

// --- bad API requests ---------------------------------------------------------------------------

export interface ApiRoute {
  path: string;
  method: string;
  /** Top-level fields of its JSON body, from the OpenAPI document. */
  fields: string[];
}

export type Bearer = 'none' | 'guard' | 'manager' | 'admin' | 'auditor' | 'junk' | 'basic' | 'empty-bearer';

export interface ApiRequest {
  route: ApiRoute;
  method: string;
  params: [string, boolean][];
  query: [string, string][] | null;
  suffix: string;
  auth: Bearer;
  junkToken: string;
  body: { type: string; data: Buffer } | undefined;
  hugeHeader: boolean;
}

const junkText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.integer().map(String),
  fc.constantFrom(
    '0',
    '-1',
    '1e309',
    'NaN',
    'Infinity',
    '99999999999999999999999',
    '../../etc/passwd',
    '%00',
    '__proto__',
    'constructor',
    'null',
    'undefined',
    '🚪',
    'true',
    '[]',
    '{}',
    ' ',
    '2026-13-45T99:99:99Z',
    "' OR 1=1 --",
  ),
  fc.string({ minLength: 500, maxLength: 3000 }),
);
const fieldValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  junkText,
  fc.constantFrom<unknown>('manager', 'admin', 'store', 'lab', '2026-01-01', '2026-01-01T00:00:00Z', true, false, 0, -1, 1.5, null),
);
const jsonBody = (v: unknown) => ({ type: 'application/json', data: Buffer.from(JSON.stringify(v) ?? 'null') });

function bodies(fields: string[]): fc.Arbitrary<ApiRequest['body']> {
  return fc.oneof(
    // The route's own fields with values of any type: what a confused or hostile client sends most.
    {
      weight: 5,
      arbitrary: (fields.length
        ? fc.dictionary(fc.oneof(fc.constantFrom(...fields), fc.string({ maxLength: 8 })), fieldValue, { maxKeys: fields.length + 2 })
        : fc.jsonValue({ maxDepth: 3 })
      ).map(jsonBody),
    },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(jsonBody) },
    { weight: 2, arbitrary: fc.string({ maxLength: 200 }).map((s) => ({ type: 'application/json', data: Buffer.from(s) })) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          '{"__proto__":{"role":"admin"}}',
          '{"constructor":{"prototype":{"role":"admin"}}}',
          '{"username":"a","password":"b","__proto__":{"totp":"1"}}',
        )
        .map((s) => ({ type: 'application/json', data: Buffer.from(s) })),
    },
    { weight: 1, arbitrary: fc.integer({ min: 10, max: 50_000 }).map((d) => ({ type: 'application/json', data: Buffer.from('['.repeat(d) + ']'.repeat(d)) })) },
    // Past the 1 MiB body limit.
    { weight: 1, arbitrary: fc.constant(null).map(() => ({ type: 'application/json', data: Buffer.from(`{"x":"${'A'.repeat(1_100_000)}"}`) })) },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => ({
        type: 'application/json',
        data: Buffer.concat([Buffer.from('{"username":"'), Buffer.from(b), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
      })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom(
            'text/plain',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x',
            'application/xml',
            'application/json; charset=latin1',
            'image/png',
            '',
          ),
          fc.string({ maxLength: 100 }),
        )
        .map(([type, s]) => ({ type, data: Buffer.from(s) })),
    },
    { weight: 2, arbitrary: fc.constant(undefined) },
  );
}

/**
 * Requests at the routes the API has (from its OpenAPI document), everything about them wrong in turn.
 * `avoid`: ids of real doors, areas and people, never used as path parameters (a real token unlocking
 * a real door is no bad request).
 */
export function apiRequests(routes: ApiRoute[], avoid: string[] = []): fc.Arbitrary<ApiRequest> {
  const param = junkText.filter((v) => !avoid.includes(v.trim()) && !avoid.includes(v.toLowerCase()));
  return fc.constantFrom(...routes).chain((route) =>
    fc.record({
      route: fc.constant(route),
      method: fc.oneof(
        { weight: 6, arbitrary: fc.constant(route.method) },
        { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD') },
      ),
      params: fc.array(fc.tuple(param, fc.boolean()), { minLength: 3, maxLength: 3 }),
      query: fc.option(
        fc.array(
          fc.tuple(
            fc.oneof(
              fc.constantFrom(
                'limit',
                'offset',
                'before',
                'from',
                'to',
                'personId',
                'areaId',
                'doorId',
                'status',
                'role',
                'actor',
                'action',
                'reviewDue',
                'format',
                'type',
                '__proto__',
                'limit[]',
              ),
              fc.string({ maxLength: 8 }),
            ),
            junkText,
          ),
          { maxLength: 5 },
        ),
      ),
      suffix: fc.oneof(
        { weight: 8, arbitrary: fc.constant('') },
        { weight: 1, arbitrary: fc.constantFrom('/', '/..', '/%2e%2e/%2e%2e', '%00', '%', '%zz', '%ff', '/x'.repeat(200), '?', '//') },
      ),
      auth: fc.constantFrom<Bearer>('none', 'guard', 'manager', 'admin', 'auditor', 'junk', 'basic', 'empty-bearer'),
      junkToken: fc.string({ maxLength: 100 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
      body: bodies(route.fields),
      hugeHeader: fc.oneof({ weight: 40, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    }),
  );
}

const encode = (s: string, raw: boolean) => (raw ? s.replace(/[^\x21-\x7e]/gu, encodeURIComponent) : encodeURIComponent(s));

/** The wire form of a generated request; `tokens` are real sessions per role. */
export function httpRequestOf(
  r: ApiRequest,
  tokens: Record<string, string>,
): { method: string; path: string; headers: Record<string, string>; body: Buffer | undefined } {
  let i = 0;
  let path = r.route.path.replace(/\{[^}]+\}/g, () => {
    const [v, raw] = r.params[i++ % 3]!;
    return encode(v, raw) || '%20';
  });
  if (r.query) path += `?${r.query.map(([k, v]) => `${encodeURIComponent(k)}=${encode(v, false)}`).join('&')}`;
  path += r.suffix;
  // Never sign the test's own sessions out: logout only ever sees junk tokens.
  const auth = r.route.path.endsWith('/auth/logout') && tokens[r.auth] ? 'junk' : r.auth;
  const headers: Record<string, string> = {};
  if (auth === 'junk') headers.authorization = `Bearer ${r.junkToken}`;
  else if (auth === 'basic') headers.authorization = `Basic ${Buffer.from('admin:admin').toString('base64')}`;
  else if (auth === 'empty-bearer') headers.authorization = 'Bearer ';
  else if (auth !== 'none') headers.authorization = `Bearer ${tokens[auth]}`;
  const withBody = r.body && r.method !== 'GET' && r.method !== 'HEAD';
  if (withBody && r.body!.type) headers['content-type'] = r.body!.type;
  if (r.hugeHeader) headers['x-junk'] = 'J'.repeat(20_000);
  return { method: r.method, path, headers, body: withBody ? r.body!.data : undefined };
}

/** Bytes that are not HTTP, or HTTP that lies about itself. */
export function rawHttp(): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.string({ maxLength: 100 }).map((s) => Buffer.from(`GET /${s} HTTP/1.1\r\nHost: x\r\n\r\n`)),
    fc
      .string({ maxLength: 60 })
      .map((s) => Buffer.from(`POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n${s}: ${s}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`)),
    fc
      .constantFrom(
        'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
        'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
        'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}',
        'GET /healthz HTTP/9.9\r\n\r\n',
        'GET /healthz\r\n\r\n',
        'GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n',
        `GET /healthz HTTP/1.1\r\n${'X-Many: y\r\n'.repeat(3000)}\r\n`,
        `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
        'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"username":',
        '\r\n\r\n\r\n',
        'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
      )
      .map((s) => Buffer.from(s)),
  );
}
