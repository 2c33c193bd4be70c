// Small line charts as hand-written SVG text (no plotting dependency): a log-scale x axis (sizes),
// a linear or log y axis, a few series with markers and a legend. For bench/results/growth.svg.

export interface Series {
  name: string;
  points: [number, number][];
  /** Dashed line (e.g. p99 beside a solid p50). */
  dashed?: boolean;
  /** Colour index: the same for a p50 and its p99. Default: the series' position. */
  color?: number;
}

export interface Chart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logY?: boolean;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const num = (x: number) => Number(x.toFixed(1));

/** 10k, 2M, 100M… */
export function shortNumber(x: number): string {
  const units: [number, string][] = [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [v, u] of units) if (Math.abs(x) >= v) return `${Number((x / v).toPrecision(3))}${u}`;
  return String(Number(x.toPrecision(3)));
}

/** Round upper bound for a linear axis: 1, 2 or 5 × 10^k. */
function niceMax(x: number): number {
  if (x <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

/** One chart in the box (x, y, w, h), as SVG elements. */
export function chart(c: Chart, x: number, y: number, w: number, h: number): string {
  const out: string[] = [];
  const left = x + 62;
  const right = x + w - 28;
  const top = y + 28;
  const bottom = y + h - 62;
  out.push(`<text x="${num(x + w / 2)}" y="${y + 16}" text-anchor="middle" font-weight="bold">${esc(c.title)}</text>`);
  const pts = c.series.flatMap((s) => s.points).filter(([px, py]) => px > 0 && Number.isFinite(py) && (!c.logY || py > 0));
  if (!pts.length) {
    out.push(`<text x="${num(x + w / 2)}" y="${num(y + h / 2)}" text-anchor="middle" fill="#888">not measured</text>`);
    return out.join('\n');
  }
  const xs = pts.map((p) => p[0]);
  let x0 = 10 ** Math.floor(Math.log10(Math.min(...xs)));
  let x1 = 10 ** Math.ceil(Math.log10(Math.max(...xs)));
  if (x0 === x1) {
    x0 /= 10;
    x1 *= 10;
  }
  const sx = (v: number) => left + ((Math.log10(v) - Math.log10(x0)) / (Math.log10(x1) - Math.log10(x0))) * (right - left);
  const ys = pts.map((p) => p[1]);
  let sy: (v: number) => number;
  const yTicks: number[] = [];
  if (c.logY) {
    let y0 = 10 ** Math.floor(Math.log10(Math.min(...ys)));
    let y1 = 10 ** Math.ceil(Math.log10(Math.max(...ys)));
    if (y0 === y1) {
      y0 /= 10;
      y1 *= 10;
    }
    sy = (v) => bottom - ((Math.log10(v) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0))) * (bottom - top);
    for (let t = y0; t <= y1 * 1.0001; t *= 10) yTicks.push(t);
  } else {
    const y1 = niceMax(Math.max(...ys) * 1.05);
    sy = (v) => bottom - (v / y1) * (bottom - top);
    for (let k = 0; k <= 5; k++) yTicks.push((y1 * k) / 5);
  }
  // Axes, grid, ticks.
  out.push(`<rect x="${left}" y="${top}" width="${num(right - left)}" height="${num(bottom - top)}" fill="none" stroke="#999"/>`);
  for (const t of yTicks) {
    const ty = num(sy(t));
    out.push(`<line x1="${left}" x2="${right}" y1="${ty}" y2="${ty}" stroke="#eee"/>`);
    out.push(`<text x="${left - 4}" y="${ty + 4}" text-anchor="end">${esc(shortNumber(t))}</text>`);
  }
  for (let t = x0; t <= x1 * 1.0001; t *= 10) {
    const tx = num(sx(t));
    out.push(`<line x1="${tx}" x2="${tx}" y1="${top}" y2="${bottom}" stroke="#eee"/>`);
    out.push(`<text x="${tx}" y="${bottom + 14}" text-anchor="middle">${esc(shortNumber(t))}</text>`);
  }
  out.push(`<text x="${num((left + right) / 2)}" y="${bottom + 30}" text-anchor="middle">${esc(c.xLabel)} (log scale)</text>`);
  out.push(
    `<text x="${x + 14}" y="${num((top + bottom) / 2)}" text-anchor="middle" transform="rotate(-90 ${x + 14} ${num((top + bottom) / 2)})">${esc(c.yLabel)}${c.logY ? ' (log)' : ''}</text>`,
  );
  // Series.
  c.series.forEach((s, i) => {
    const color = COLORS[(s.color ?? i) % COLORS.length]!;
    const ok = s.points.filter(([px, py]) => px > 0 && Number.isFinite(py) && (!c.logY || py > 0)).sort((a, b) => a[0] - b[0]);
    if (ok.length > 1)
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''} points="${ok.map(([px, py]) => `${num(sx(px))},${num(sy(py))}`).join(' ')}"/>`,
      );
    for (const [px, py] of ok)
      out.push(`<circle cx="${num(sx(px))}" cy="${num(sy(py))}" r="3" fill="${color}"><title>${esc(`${s.name}: ${shortNumber(px)} → ${py}`)}</title></circle>`);
    // Legend under the axis label, two per row.
    const lx = left + (i % 2) * ((right - left) / 2);
    const ly = bottom + 46 + Math.floor(i / 2) * 14;
    out.push(
      `<line x1="${num(lx)}" x2="${num(lx + 18)}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`,
    );
    out.push(`<text x="${num(lx + 22)}" y="${ly}">${esc(s.name)}</text>`);
  });
  return out.join('\n');
}

/** Charts in a grid of `columns`, each w × h, as one SVG document. */
export function svgDocument(title: string, charts: Chart[], columns = 2, w = 420, h = 300): string {
  const rows = Math.ceil(charts.length / columns);
  const width = columns * w;
  const height = rows * h + 30;
  const body = charts.map((c, i) => chart(c, (i % columns) * w, 30 + Math.floor(i / columns) * h, w, h)).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>
${body}
</svg>
`;
}
