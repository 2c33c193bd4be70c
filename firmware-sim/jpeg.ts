// Small generated JPEGs for the simulated camera: a gradient with a moving bar, different for every shot.
import jpeg from 'jpeg-js';

/** Encodes a `width`×`height` test picture; `shot` shifts the bar and the tint so every snapshot differs. */
export function snapshotJpeg(shot: number, width = 64, height = 48, quality = 80): Buffer {
  const data = Buffer.alloc(width * height * 4);
  const bar = (shot * 7) % width;
  const tint = (shot * 53) % 256;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const inBar = Math.abs(x - bar) < 4;
      data[i] = inBar ? 255 : Math.round((x / (width - 1)) * 255);
      data[i + 1] = inBar ? 255 : Math.round((y / (height - 1)) * 255);
      data[i + 2] = inBar ? 0 : tint;
      data[i + 3] = 255;
    }
  }
  return jpeg.encode({ width, height, data }, quality).data;
}
