// A series' reader annotations: ratings per physical nodule and per reader, and the outlines drawn per slice as SVG.
import '../pages_extra.css';
import { registerPage, type PageCtx } from '../router';
import { api, getPath, type Doc } from '../api';
import { outlineBox, polygonPoints, RATINGS, roisBySlice, seriesAnnotations, type Annotation, type Box, type SeriesAnnotations, type SliceRois } from '../api_jobs';
import { h, svg, clear, fmtNum, fmtValue, spinner, emptyState } from '../dom';
import { dataTable, errorBox, link, pageHeader, type Column } from '../ui';

const READER_COLOURS = ['#1f5fbf', '#c2410c', '#047857', '#7c3aed', '#be123c', '#0e7490'];
const fmtMm = (v: unknown, digits = 1) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '—');
const ratingLabel = (r: string) => r.replace(/_/g, ' ').replace(/^\w/, (c) => c.toUpperCase());

function readerKey(a: Annotation): string {
  return a.reader?.radiologist_id ? String(a.reader.radiologist_id) : `session ${a.reader?.session ?? '?'}`;
}

function ratingColumns(get: (d: Doc) => Record<string, number> | undefined): Column[] {
  return RATINGS.map((r) => ({ key: r, label: ratingLabel(r), numeric: true, get: (d: Doc) => fmtValue(get(d)?.[r]) }));
}

export async function renderNodules(ctx: PageCtx) {
  const id = ctx.params.id!;
  ctx.main.append(spinner());
  let series: Doc | null = null;
  let data: SeriesAnnotations;
  try {
    [series, data] = await Promise.all([api.get<Doc>(`/series/${encodeURIComponent(id)}`, ctx.signal).catch(() => null), seriesAnnotations(id, ctx.signal)]);
  } catch (e) {
    if ((e as Error).name === 'AbortError') return;
    clear(ctx.main);
    ctx.main.append(pageHeader('Nodules'), errorBox(e, 'Could not load the annotations'), h('p', null, link(`/ui/series/${encodeURIComponent(id)}`, '← Back to the series')));
    return;
  }
  clear(ctx.main);
  const anns = data.results ?? [];
  const partial = typeof data.total === 'number' && data.total > anns.length;
  const nodules = data.nodules ?? [];
  const readers = [...new Set(anns.map(readerKey))].sort();
  const colour = (a: Annotation) => READER_COLOURS[Math.max(0, readers.indexOf(readerKey(a))) % READER_COLOURS.length]!;
  const byKind = (k: string) => anns.filter((a) => (a.kind ?? 'nodule') === k).length;
  const seriesNo = series ? fmtValue(series.series_number) : '';
  ctx.main.append(
    h('p', { class: 'crumbs' }, link('/ui/series', 'Series'), ' / ', link(`/ui/series/${encodeURIComponent(id)}`, seriesNo ? `#${seriesNo}` : 'series'), ' / nodules'),
    pageHeader(
      `Nodules${series ? ' · series ' + seriesNo : ''}`,
      h('span', { 'data-testid': 'nodules-summary' }, `${fmtNum(data.total ?? anns.length)} reader annotations (${fmtNum(byKind('nodule'))} nodules ≥ 3 mm, ${fmtNum(byKind('small_nodule'))} small, ${fmtNum(byKind('non_nodule'))} non-nodules) by ${fmtNum(readers.length)} readers · ${fmtNum(nodules.length)} physical nodules`),
      [link(`/ui/series/${encodeURIComponent(id)}`, '← Series')],
    ),
  );
  if (partial) ctx.main.append(h('p', { class: 'small bad-text', role: 'note' }, `Showing the first ${fmtNum(anns.length)} of ${fmtNum(data.total)} annotations.`));
  if (!anns.length) {
    ctx.main.append(emptyState('No reader annotations for this series.', 'LIDC read messages (XML) beside the images are read at ingest.'));
    return;
  }

  const annById = new Map(anns.map((a) => [String(a._id), a]));
  const nodCols: Column[] = [
    { key: 'cluster', label: 'Nodule', get: (d) => `#${Number(d.cluster) + 1}` },
    { key: 'readers', label: 'Readers', numeric: true },
    { key: 'diameter_mm', label: 'Diameter (mm)', numeric: true, get: (d) => fmtMm(d.diameter_mm) },
    { key: 'annotation_ids', label: 'Annotated by', get: (d) => (Array.isArray(d.annotation_ids) ? d.annotation_ids.map((x) => (annById.get(String(x)) ? readerKey(annById.get(String(x))!) : String(x))).join(', ') : '—') },
    ...ratingColumns((d) => d.median_ratings as Record<string, number> | undefined),
  ];
  const annCols: Column[] = [
    { key: 'reader', label: 'Reader', render: (d) => h('span', { class: 'reader-chip' }, h('span', { class: 'swatch', style: `background:${colour(d as Annotation)}`, 'aria-hidden': 'true' }), readerKey(d as Annotation)) },
    { key: 'kind', label: 'Kind', get: (d) => String(d.kind ?? '').replace(/_/g, ' ') },
    { key: 'nodule_id', label: 'Nodule id', className: 'mono' },
    { key: 'cluster', label: 'Physical nodule', get: (d) => (typeof d.cluster === 'number' ? `#${d.cluster + 1}` : '—') },
    { key: 'diameter_mm', label: 'Diameter (mm)', numeric: true, get: (d) => fmtMm(d.diameter_mm) },
    { key: 'volume_mm3', label: 'Volume (mm³)', numeric: true, get: (d) => fmtMm(d.volume_mm3, 0) },
    { key: 'rois', label: 'Slices', numeric: true, get: (d) => (Array.isArray(d.rois) ? d.rois.length : 0) },
    ...ratingColumns((d) => d.ratings as Record<string, number> | undefined),
  ];
  const ordered = anns.slice().sort((a, b) => (a.cluster ?? 1e9) - (b.cluster ?? 1e9) || readerKey(a).localeCompare(readerKey(b)));
  ctx.main.append(
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'h-nodules' },
      h('h2', { id: 'h-nodules' }, 'Physical nodules (median ratings over readers)'),
      nodules.length ? dataTable({ columns: nodCols, rows: nodules as unknown as Doc[], testId: 'nodules-table', caption: 'Physical nodules with reader count, diameter and median ratings' }) : emptyState('No nodule ≥ 3 mm was clustered.'),
    ),
    h('section', { class: 'card', 'aria-labelledby': 'h-readers' }, h('h2', { id: 'h-readers' }, 'Ratings per reader'), dataTable({ columns: annCols, rows: ordered, testId: 'ratings-table', caption: 'Every reader annotation with its ratings' })),
    outlines(anns, colour, readers, series),
  );
}

function sliceSvg(slice: SliceRois, box: Box, colour: (a: Annotation) => string, size: number, label: string): SVGElement {
  const root = svg('svg', { viewBox: `${box.x} ${box.y} ${box.w} ${box.h}`, width: size, height: size, role: 'img', 'aria-label': label, 'data-z': slice.z, class: 'slice-svg' });
  root.appendChild(svg('title', {}, label));
  root.appendChild(svg('rect', { x: box.x, y: box.y, width: box.w, height: box.h, class: 'slice-bg' }));
  for (const { annotation: a, roi } of slice.rois) {
    const pts = (roi.points ?? []).filter((p) => Array.isArray(p) && p.length >= 2);
    const what = `${readerKey(a)}, ${String(a.kind ?? 'nodule').replace(/_/g, ' ')} ${a.nodule_id ?? ''}${roi.inclusion === false ? ' (exclusion)' : ''}`;
    const common = { 'data-roi': '', 'data-annotation': String(a._id), stroke: colour(a), class: 'roi' + (roi.inclusion === false ? ' exclusion' : '') };
    const el =
      pts.length >= 3
        ? svg('polygon', { ...common, points: polygonPoints(pts) })
        : svg('circle', { ...common, cx: pts[0]?.[0] ?? box.x + box.w / 2, cy: pts[0]?.[1] ?? box.y + box.h / 2, r: Math.max(1, box.w / 40), class: common.class + ' marker', style: `fill:${colour(a)}` });
    el.appendChild(svg('title', {}, what));
    root.appendChild(el);
  }
  return root;
}

/** The outlines: a z slider with one large slice, and one small SVG per annotated slice (buttons choosing it). */
function outlines(anns: Annotation[], colour: (a: Annotation) => string, readers: string[], series: Doc | null): HTMLElement {
  const slices = roisBySlice(anns);
  // Each slice framed around its own outlines (nodules of one series lie far apart); 40 px at least, so a small
  // outline is not blown up past its real size relative to the others.
  const box = outlineBox(anns);
  const boxOf = (s: SliceRois): Box => outlineBox([{ _id: '', rois: s.rois.map((r) => r.roi) }], 0.25, 40) ?? box!;
  const sec = h('section', { class: 'card', 'aria-labelledby': 'h-outlines' }, h('h2', { id: 'h-outlines' }, 'Outlines by slice position'));
  if (!slices.length || !box) {
    sec.append(emptyState('No outline points in these annotations.'));
    return sec;
  }
  const spacing = getPath(series, 'qc.pixel_spacing') ?? getPath(series, 'metadata.PixelSpacing');
  sec.append(
    h(
      'p',
      { class: 'small muted' },
      `${fmtNum(slices.length)} annotated slices from z = ${slices[0]!.z} to ${slices[slices.length - 1]!.z} mm; outlines in image pixel coordinates, each slice framed around its outlines`,
      Array.isArray(spacing) ? ` (pixel spacing ${spacing.join(' × ')} mm)` : '',
      '. Dashed: exclusion outlines. ',
      h('span', { class: 'legend' }, readers.map((r, i) => h('span', { class: 'reader-chip' }, h('span', { class: 'swatch', style: `background:${READER_COLOURS[i % READER_COLOURS.length]}`, 'aria-hidden': 'true' }), r))),
    ),
  );
  const label = (s: SliceRois, i: number) => `Slice z = ${s.z} mm (${i + 1} of ${slices.length}): ${s.rois.length} outline${s.rois.length === 1 ? '' : 's'} by ${[...new Set(s.rois.map((r) => readerKey(r.annotation)))].join(', ')}`;
  const slider = h('input', { type: 'range', id: 'z-slider', min: 0, max: slices.length - 1, step: 1, value: 0, 'aria-describedby': 'z-value' });
  const zValue = h('output', { id: 'z-value', for: 'z-slider', 'data-testid': 'z-value' });
  const big = h('div', { class: 'slice-big', 'data-testid': 'slice-big' });
  const thumbs = h('div', { class: 'slice-thumbs', role: 'group', 'aria-label': 'Annotated slices', 'data-testid': 'slice-thumbs' });
  const buttons: HTMLButtonElement[] = [];
  slices.forEach((s, i) => {
    const b = h('button', { type: 'button', class: 'slice-thumb', 'aria-pressed': 'false', 'aria-label': label(s, i), 'data-index': i }, h('span', { class: 'small' }, `z ${s.z}`));
    b.prepend(sliceSvg(s, boxOf(s), colour, 96, label(s, i)));
    b.addEventListener('click', () => select(i));
    b.addEventListener('keydown', (ev) => {
      if (ev.key === 'ArrowRight' || ev.key === 'ArrowDown') (buttons[Math.min(slices.length - 1, i + 1)]?.focus(), ev.preventDefault());
      else if (ev.key === 'ArrowLeft' || ev.key === 'ArrowUp') (buttons[Math.max(0, i - 1)]?.focus(), ev.preventDefault());
    });
    buttons.push(b);
    thumbs.append(b);
  });
  function select(i: number) {
    const s = slices[i]!;
    slider.value = String(i);
    slider.setAttribute('aria-valuetext', `z = ${s.z} mm, slice ${i + 1} of ${slices.length}`);
    zValue.textContent = `z = ${s.z} mm · ${i + 1} / ${slices.length} · ${s.rois.length} outline${s.rois.length === 1 ? '' : 's'}`;
    clear(big);
    big.append(sliceSvg(s, boxOf(s), colour, 360, label(s, i)));
    buttons.forEach((b, j) => b.setAttribute('aria-pressed', j === i ? 'true' : 'false'));
  }
  slider.addEventListener('input', () => select(Number(slider.value)));
  sec.append(
    h('div', { class: 'z-control' }, h('label', { for: 'z-slider' }, 'Slice position'), slider, zValue),
    h('div', { class: 'outline-view' }, big, thumbs),
  );
  select(0);
  return sec;
}

registerPage({ path: '/ui/series/:id/nodules', render: renderNodules, nav: 'series', title: 'Nodules' });
