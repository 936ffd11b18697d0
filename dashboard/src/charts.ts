// Inline SVG horizontal bar charts (no chart library).
import type { Bucket } from './api';
import { h, svg, fmtNum } from './dom';

export interface BarChartOpts {
  title: string;
  buckets: Bucket[];
  max?: number; // number of bars
  sortByCount?: boolean;
  hrefFor?: (b: Bucket) => string | null;
  onNavigate?: (href: string) => void;
}

export function barChart(o: BarChartOpts): HTMLElement {
  let buckets = o.buckets.slice();
  if (o.sortByCount) buckets.sort((a, b) => b.count - a.count);
  const limit = o.max ?? 12;
  if (buckets.length > limit) {
    const rest = buckets.slice(limit - 1).reduce((s, b) => s + b.count, 0);
    buckets = [...buckets.slice(0, limit - 1), { value: `other (${buckets.length - limit + 1})`, count: rest }];
  }
  const fig = h('figure', { class: 'chart', 'data-chart': o.title });
  fig.appendChild(h('figcaption', null, o.title));
  if (buckets.length === 0) {
    fig.appendChild(h('p', { class: 'muted small' }, 'No data'));
    return fig;
  }
  const maxCount = Math.max(1, ...buckets.map((b) => b.count));
  const total = buckets.reduce((s, b) => s + b.count, 0);
  const rowH = 22;
  const labelW = 150;
  const valueW = 64;
  const width = 420;
  const barW = width - labelW - valueW;
  const height = buckets.length * rowH + 4;
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', 'aria-label': `${o.title}: ` + buckets.map((b) => `${b.value} ${b.count}`).join(', ') });
  buckets.forEach((b, i) => {
    const y = i * rowH + 2;
    const w = Math.max(1, Math.round((b.count / maxCount) * barW));
    const label = b.value.length > 17 ? b.value.slice(0, 16) + '…' : b.value;
    const g = svg('g', { class: 'bar' });
    g.appendChild(svg('title', {}, `${b.value}: ${fmtNum(b.count)} (${((b.count / (total || 1)) * 100).toFixed(1)}%)`));
    g.appendChild(svg('text', { x: labelW - 8, y: y + 15, 'text-anchor': 'end', class: 'lbl' }, label));
    g.appendChild(svg('rect', { x: labelW, y: y + 3, width: w, height: rowH - 7, rx: 3, class: 'fill' }));
    g.appendChild(svg('text', { x: labelW + w + 6, y: y + 15, class: 'val' }, fmtNum(b.count)));
    const href = o.hrefFor?.(b) ?? null;
    if (href && o.onNavigate) {
      const a = svg('a', { href, class: 'bar-link' });
      a.appendChild(g);
      a.addEventListener('click', (ev) => {
        if ((ev as MouseEvent).ctrlKey || (ev as MouseEvent).metaKey) return;
        ev.preventDefault();
        o.onNavigate!(href);
      });
      root.appendChild(a);
    } else root.appendChild(g);
  });
  fig.appendChild(root);
  return fig;
}
