// A brushable bar histogram (uPlot): drag across bars — or pick From/To with the keyboard — to open the
// list of exactly the selected range. The canvas is described for screen readers by a table of its bars.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Bucket } from './api';
import { h, fmtNum } from './dom';
import { navigate } from './ui';

export interface BrushOpts {
  title: string;
  buckets: Bucket[]; // in axis order
  /** the link of the bars i..j (inclusive) */
  hrefFor: (i: number, j: number) => string;
  testId?: string;
}

export function brushHistogram(o: BrushOpts): HTMLElement {
  const fig = h('figure', { class: 'chart brush', 'data-testid': o.testId, 'data-buckets': JSON.stringify(o.buckets.map((b) => [b.value, b.count])) });
  fig.append(h('figcaption', null, o.title));
  const plotEl = h('div', { class: 'brush-plot', role: 'img', 'aria-label': `${o.title}: ` + o.buckets.map((b) => `${b.value} ${b.count}`).join(', ') });
  fig.append(plotEl);
  const n = o.buckets.length;
  const xs = o.buckets.map((_, i) => i);
  const ys = o.buckets.map((b) => b.count);
  const labelStep = Math.max(1, Math.ceil(n / 8));
  const go = (i: number, j: number) => navigate(o.hrefFor(Math.min(i, j), Math.max(i, j)));
  const opts: uPlot.Options = {
    width: 400,
    height: 180,
    legend: { show: false },
    cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
    select: { show: true, left: 0, top: 0, width: 0, height: 0 },
    scales: { x: { time: false, range: [-0.5, n - 0.5] }, y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] } },
    axes: [
      // at most ~8 labels, so years do not overlap
      { values: (_u, splits) => splits.map((v) => (Number.isInteger(v) && v >= 0 && v < n && v % labelStep === 0 ? o.buckets[v]!.value : '')), splits: () => xs, grid: { show: false } },
      { size: 50, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, 1e6] },
    ],
    series: [{}, { label: 'count', fill: 'rgba(31, 95, 191, 0.55)', stroke: '#1f5fbf', paths: uPlot.paths.bars!({ size: [0.8, 60] }), points: { show: false } }],
    hooks: {
      setSelect: [
        (u) => {
          if (u.select.width < 2) return;
          const i = Math.max(0, Math.round(u.posToVal(u.select.left, 'x')));
          const j = Math.min(n - 1, Math.round(u.posToVal(u.select.left + u.select.width, 'x')));
          if (i <= j) go(i, j);
        },
      ],
    },
  };
  // uPlot measures its container: build it once the figure is in the document.
  requestAnimationFrame(() => {
    if (!plotEl.isConnected) return;
    const width = Math.max(260, Math.min(520, plotEl.clientWidth || 400));
    new uPlot({ ...opts, width }, [xs, ys], plotEl);
  });

  // The keyboard (and screen reader) way to the same links.
  const opt = (sel: number) => o.buckets.map((b, i) => h('option', { value: i, selected: i === sel }, b.value));
  const from = h('select', { 'aria-label': `${o.title}: from`, 'data-testid': 'brush-from' }, opt(0)) as HTMLSelectElement;
  const to = h('select', { 'aria-label': `${o.title}: to`, 'data-testid': 'brush-to' }, opt(n - 1)) as HTMLSelectElement;
  fig.append(
    h('div', { class: 'brush-keys small' }, 'From ', from, ' to ', to, ' ', h('button', { type: 'button', class: 'btn small', 'data-testid': 'brush-apply', onclick: () => go(Number(from.value), Number(to.value)) }, 'Show')),
    h('table', { class: 'sr-only' }, h('caption', null, o.title), h('tbody', null, o.buckets.map((b) => h('tr', null, h('th', { scope: 'row' }, b.value), h('td', null, fmtNum(b.count)))))),
  );
  return fig;
}
