// Cameras: the site file's http and covers settings, and the digest answer an HTTP camera gets.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { digestAuthorization, parseDigestChallenge } from '../../src/devices/http-camera.js';
import { cameraCoverage } from '../../src/site/cameras.js';
import { parseSiteText, SiteFileError } from '../../src/site/load.js';
import { FIXTURE_SITE, type RawSite } from '../helpers/daemon.js';

function siteWith(edit: (raw: RawSite) => void) {
  const raw = parse(readFileSync(FIXTURE_SITE, 'utf8'));
  edit(raw);
  return parseSiteText(stringify(raw), 'site.yaml');
}

function problems(edit: (raw: RawSite) => void): string[] {
  try {
    siteWith(edit);
    return [];
  } catch (err) {
    if (!(err instanceof SiteFileError)) throw err;
    // Device positions change as the example site grows: the index is not the point.
    return err.problems.map((p) => `${p.path.replace(/^devices\[\d+\]/, 'devices[*]')}: ${p.message}`);
  }
}

const camera = (raw: RawSite) => raw.devices.find((d: { id: string }) => d.id === 'lab-camera');

describe('cameras in the site file', () => {
  it('an http camera with covers loads, with defaults, and its coverage maps doors and their area', () => {
    const site = siteWith((raw) => {
      raw.devices.push({
        id: 'gate-cam',
        kind: 'camera',
        transport: 'http',
        http: { url: 'https://cam.example/snap.jpg' },
        covers: { doors: ['lab-main', 'vault-door'], safes: ['doc-safe'] },
      });
    });
    expect(site.devices.find((d) => d.id === 'gate-cam')!.http).toEqual({ url: 'https://cam.example/snap.jpg', auth: 'digest', timeoutMs: 3000 });
    const coverage = cameraCoverage(site);
    expect(coverage.doors.get('lab-main')).toEqual(['gate-cam']);
    expect(coverage.areas.get('vault')).toEqual(['gate-cam']);
    expect(coverage.safes.get('doc-safe')).toEqual(['gate-cam']);
  });

  it('refuses a login in the URL, http on a lock, covers on a non-camera and unknown doors or zones', () => {
    expect(problems((raw) => raw.devices.push({ id: 'c2', kind: 'camera', transport: 'http', http: { url: 'http://admin:pw@cam/snap' } }))).toEqual([
      'devices[*].http.url: no login in the URL: put it in the secrets file (cameras.<id>)',
    ]);
    expect(problems((raw) => (raw.devices.find((d: { id: string }) => d.id === 'lab-lock').transport = 'http'))).toEqual(
      expect.arrayContaining([
        'devices[*].transport: a lock cannot be reached over http (cameras only)',
        'devices[*].http: an http camera needs http: { url }',
      ]),
    );
    expect(problems((raw) => (camera(raw).http = { url: 'http://cam/snap' }))).toEqual(['devices[*].http: http settings on a mqtt device']);
    expect(problems((raw) => (camera(raw).covers = { doors: ['nowhere'], zones: ['nozone'], safes: ['nosafe'] }))).toEqual([
      'devices[*].covers.doors[0]: unknown door "nowhere"',
      'devices[*].covers.zones[0]: unknown zone "nozone"',
      'devices[*].covers.safes[0]: unknown safe "nosafe"',
    ]);
    expect(problems((raw) => (raw.devices.find((d: { id: string }) => d.id === 'lab-siren').covers = { doors: ['lab-main'] }))).toEqual([
      'devices[*].covers: a siren covers nothing (cameras only)',
    ]);
  });
});

describe('digest auth (RFC 7616 section 3.9.1)', () => {
  const login = { username: 'Mufasa', password: 'Circle of Life' };
  const url = new URL('http://www.example.org/dir/index.html');
  const cnonce = 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ';
  const challenge = (algorithm: string) =>
    `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${algorithm}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`;

  it('answers the RFC example for MD5 and SHA-256', () => {
    const md5 = parseDigestChallenge(digestAuthorization(challenge('MD5'), login, 'GET', url, cnonce)!)!;
    expect(md5).toMatchObject({
      response: '8ca523f5e9506fed4657c9700eebdbec',
      qop: 'auth',
      nc: '00000001',
      uri: '/dir/index.html',
      opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
    });
    const sha = parseDigestChallenge(digestAuthorization(challenge('SHA-256'), login, 'GET', url, cnonce)!)!;
    expect(sha.response).toBe('753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
  });

  it('declines what it cannot answer safely: another scheme, an unknown algorithm, auth-int only', () => {
    expect(digestAuthorization('Basic realm="x"', login, 'GET', url)).toBeUndefined();
    expect(digestAuthorization('Digest realm="x", nonce="n", algorithm=SHA-512-256', login, 'GET', url)).toBeUndefined();
    expect(digestAuthorization('Digest realm="x", nonce="n", qop="auth-int"', login, 'GET', url)).toBeUndefined();
  });
});
