// What a camera's snapshot reply must hold before anyone keeps it as evidence: a whole picture of
// the type it claims, with its size read from its own header. Headers only: a full decode of a
// 2 MiB JPEG would hold the event loop while doors decide.
import { createHash } from 'node:crypto';
import type { SnapshotEvent } from './protocol.js';

export type ImageContentType = SnapshotEvent['contentType'];

/** A picture a device sent in reply to a command, checked. Times are ms since the Unix epoch. */
export interface Image {
  contentType: ImageContentType;
  data: Buffer;
  width: number;
  height: number;
  /** SHA-256 of `data`, hex: what a log record names the picture by. */
  sha256: string;
  /** The device's clock when it took the picture (the event's `at`), if it sent one. */
  takenAt?: number;
  /** The controller's clock when the picture arrived. */
  receivedAt: number;
}

export type ImageCheck = { ok: true; width: number; height: number } | { ok: false; error: string };

/** Reads the picture's size from its header and checks it is whole; never throws. */
export function checkImage(contentType: ImageContentType, data: Buffer): ImageCheck {
  if (data.length === 0) return { ok: false, error: 'empty image' };
  return contentType === 'image/jpeg' ? checkJpeg(data) : checkPng(data);
}

/** Builds the `Image` of a checked picture. */
export function toImage(
  contentType: ImageContentType,
  data: Buffer,
  receivedAt: number,
  takenAt?: number,
): { ok: true; image: Image } | { ok: false; error: string } {
  const check = checkImage(contentType, data);
  if (!check.ok) return check;
  const sha256 = createHash('sha256').update(data).digest('hex');
  return {
    ok: true,
    image: { contentType, data, width: check.width, height: check.height, sha256, ...(takenAt === undefined ? {} : { takenAt }), receivedAt },
  };
}

// Start-of-frame markers carry the size; C4 (Huffman tables), C8 (reserved) and CC (arithmetic
// coding conditioning) share the range but are not frames.
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function checkJpeg(data: Buffer): ImageCheck {
  if (data.length < 4 || data[0] !== 0xff || data[1] !== 0xd8) return { ok: false, error: 'not a JPEG (no start-of-image marker)' };
  // A picture cut short in transit or by a full buffer on the camera lacks its end marker.
  if (data[data.length - 2] !== 0xff || data[data.length - 1] !== 0xd9) return { ok: false, error: 'JPEG is truncated (no end-of-image marker)' };
  let pos = 2;
  while (pos + 4 <= data.length) {
    if (data.readUInt8(pos) !== 0xff) return { ok: false, error: `JPEG is corrupt (no marker at byte ${pos})` };
    let marker = data.readUInt8(pos + 1);
    // Fill bytes: any number of 0xFF may precede a marker.
    while (marker === 0xff && pos + 2 < data.length) marker = data.readUInt8(++pos + 1);
    pos += 2;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // markers without a length
    if (marker === 0xd9 || marker === 0xda) break; // end of image or start of scan before any frame
    if (pos + 2 > data.length) return { ok: false, error: 'JPEG is corrupt (a segment runs past the end)' };
    const length = data.readUInt16BE(pos);
    if (length < 2 || pos + length > data.length) return { ok: false, error: 'JPEG is corrupt (a segment runs past the end)' };
    if (isStartOfFrame(marker)) {
      if (length < 7) return { ok: false, error: 'JPEG is corrupt (short frame header)' };
      const height = data.readUInt16BE(pos + 3);
      const width = data.readUInt16BE(pos + 5);
      if (width === 0 || height === 0) return { ok: false, error: `JPEG has no picture (${width}×${height})` };
      return { ok: true, width, height };
    }
    pos += length;
  }
  return { ok: false, error: 'JPEG is corrupt (no frame header)' };
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function checkPng(data: Buffer): ImageCheck {
  if (data.length < 8 + 25 + 12 || !data.subarray(0, 8).equals(PNG_SIGNATURE)) return { ok: false, error: 'not a PNG (no signature)' };
  if (data.toString('latin1', 12, 16) !== 'IHDR') return { ok: false, error: 'PNG is corrupt (no header chunk)' };
  if (data.toString('latin1', data.length - 8, data.length - 4) !== 'IEND') return { ok: false, error: 'PNG is truncated (no end chunk)' };
  const width = data.readUInt32BE(16);
  const height = data.readUInt32BE(20);
  if (width === 0 || height === 0) return { ok: false, error: `PNG has no picture (${width}×${height})` };
  return { ok: true, width, height };
}
