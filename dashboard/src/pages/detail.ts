// Study and series detail pages.
import { registerPage, type PageCtx } from '../router';
import { api, docId, getPath, type Doc } from '../api';
import { h, clear, fmtDate, fmtNum, spinner, emptyState, fmtValue } from '../dom';
import { dataTable, errorBox, kvTable, link, pageHeader, idBadge, type Column } from '../ui';
import { SERIES_COLUMNS } from './lists';
import { rangeLabel } from '../urlstate';
import { detailsButton } from '../drawer';

const SOP_CLASSES: Record<string, string> = {
  '1.2.840.10008.5.1.4.1.1.2': 'CT Image',
  '1.2.840.10008.5.1.4.1.1.2.1': 'Enhanced CT',
  '1.2.840.10008.5.1.4.1.1.4': 'MR Image',
  '1.2.840.10008.5.1.4.1.1.1': 'CR Image',
  '1.2.840.10008.5.1.4.1.1.1.1': 'DX Image',
  '1.2.840.10008.5.1.4.1.1.7': 'Secondary Capture',
  '1.2.840.10008.5.1.4.1.1.88.11': 'Basic Text SR',
  '1.2.840.10008.5.1.4.1.1.66.4': 'Segmentation',
  '1.2.840.10008.5.1.4.1.1.128': 'PET Image',
};

function isScalarish(v: unknown): boolean {
  return v === null || typeof v !== 'object' || (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object'));
}

/** Top-level fields (skipping bulky arrays) followed by metadata.<Keyword> rows, sorted. */
function docRows(doc: Doc, skip: string[]): [string, unknown][] {
  const rows: [string, unknown][] = [];
  for (const [k, v] of Object.entries(doc)) {
    if (skip.includes(k) || k === 'metadata') continue;
    if (k === 'study_id' && typeof v === 'string' && v) rows.push([k, link(`/ui/studies/${encodeURIComponent(v)}`, v)]);
    else if (k === 'series_id' && typeof v === 'string' && v) rows.push([k, link(`/ui/series/${encodeURIComponent(v)}`, v)]);
    else if (k === 'collection_ids' && Array.isArray(v) && v.length)
      rows.push([k, h('span', null, v.map((c, i) => [i ? ', ' : '', link(`/ui/studies?collection_id=${encodeURIComponent(String(c))}`, String(c))]))]);
    else if (isScalarish(v)) rows.push([k, k.endsWith('_date') ? fmtDate(v) : k.endsWith('_at') ? fmtDate(v) : v]);
  }
  const md = (doc.metadata ?? {}) as Doc;
  for (const k of Object.keys(md).sort()) rows.push([`metadata.${k}`, md[k]]);
  return rows;
}

/** Metadata as two side-by-side key/value tables (one on narrow screens). */
function metaTables(rows: [string, unknown][], testId: string): HTMLElement {
  const half = Math.ceil(rows.length / 2);
  return h('div', { class: 'kv-cols', 'data-testid': testId }, kvTable(rows.slice(0, half)), rows.length > 1 ? kvTable(rows.slice(half)) : '');
}

function rawJson(doc: unknown): HTMLElement {
  return h('details', { class: 'raw' }, h('summary', null, 'Raw JSON'), h('pre', { class: 'json' }, JSON.stringify(doc, null, 2)));
}

function notFoundOr(e: unknown, what: string): HTMLElement {
  return errorBox(e, `Could not load ${what}`);
}

export async function renderStudyDetail(ctx: PageCtx) {
  const id = ctx.params.id!;
  ctx.main.append(spinner());
  let study: Doc;
  try {
    study = await api.get<Doc>(`/studies/${encodeURIComponent(id)}`, ctx.signal);
  } catch (e) {
    clear(ctx.main);
    ctx.main.append(pageHeader('Study'), notFoundOr(e, 'study'), h('p', null, link('/ui/studies', '← Back to studies')));
    return;
  }
  clear(ctx.main);
  const desc = getPath(study, 'metadata.StudyDescription');
  ctx.main.append(
    h('p', { class: 'crumbs' }, link('/ui/studies', 'Studies'), ' / ', String(study.patient_id ?? id)),
    pageHeader(
      `Study ${study.patient_id ?? ''} · ${fmtDate(study.study_date)}`,
      h('span', null, desc ? String(desc) + ' · ' : '', idBadge(docId(study) || id)),
      [link(`/ui/series?study_id=${encodeURIComponent(docId(study) || id)}`, 'Open in series search →')],
    ),
  );
  const seriesSec = h('section', { class: 'card', 'aria-labelledby': 'h-series' }, h('h2', { id: 'h-series' }, 'Series'), spinner());
  ctx.main.append(
    h('section', { class: 'card', 'aria-labelledby': 'h-meta' }, h('h2', { id: 'h-meta' }, 'Metadata'), metaTables(docRows(study, ['series', '_id']), 'study-meta')),
    seriesSec,
    rawJson(study),
  );
  try {
    const res = await api.list(`/studies/${encodeURIComponent(id)}/series`, { limit: 1000, sort: 'series_number' }, ctx.signal);
    seriesSec.lastChild?.remove();
    seriesSec.append(
      h('p', { class: 'small muted' }, `${fmtNum(res.total)} series`),
      res.results.length
        ? dataTable({ columns: [{ key: '_details', label: '', render: (d: Doc) => detailsButton('series', docId(d)) }, ...SERIES_COLUMNS.filter((c) => c.key !== 'series_instance_uid')], rows: res.results, rowHref: (d) => `/ui/series/${encodeURIComponent(docId(d))}`, testId: 'study-series' })
        : emptyState('No series stored for this study.'),
    );
  } catch (e) {
    if ((e as Error).name === 'AbortError') return;
    seriesSec.lastChild?.remove();
    // Fall back to the shallow summary kept on the study itself.
    const summary = Array.isArray(study.series) ? (study.series as Doc[]) : [];
    seriesSec.append(errorBox(e, 'Could not load the series list'));
    if (summary.length)
      seriesSec.append(
        h('p', { class: 'small muted' }, 'Summary stored on the study:'),
        dataTable({
          columns: [
            { key: 'series_number', label: '#', numeric: true },
            { key: 'modality', label: 'Modality' },
            { key: 'series_description', label: 'Description' },
            { key: 'series_instance_uid', label: 'Series UID', className: 'mono uid' },
          ],
          rows: summary,
          rowHref: (d) => (d.series_id ? `/ui/series/${encodeURIComponent(String(d.series_id))}` : null),
        }),
      );
  }
}

const INSTANCE_COLUMNS: Column[] = [
  { key: '_details', label: '', render: (d) => detailsButton('instances', docId(d)) },
  { key: 'instance_number', label: '#', numeric: true },
  { key: 'sop_instance_uid', label: 'SOP Instance UID', className: 'mono uid' },
  { key: 'sop_class_uid', label: 'SOP class', get: (d) => SOP_CLASSES[String(d.sop_class_uid)] ?? d.sop_class_uid },
  { key: 'metadata.SliceLocation', label: 'Slice loc.', numeric: true },
  { key: 'metadata.ImagePositionPatient', label: 'Position (mm)', className: 'nowrap' },
  {
    key: 'path',
    label: 'Path',
    className: 'mono path',
    render: (d) => {
      const p = String(d.path ?? '');
      return h('span', { title: p }, p.length > 52 ? '…' + p.slice(-51) : p || '—');
    },
  },
];

export async function renderSeriesDetail(ctx: PageCtx) {
  const id = ctx.params.id!;
  ctx.main.append(spinner());
  let series: Doc;
  try {
    series = await api.get<Doc>(`/series/${encodeURIComponent(id)}`, ctx.signal);
  } catch (e) {
    clear(ctx.main);
    ctx.main.append(pageHeader('Series'), notFoundOr(e, 'series'), h('p', null, link('/ui/series', '← Back to series')));
    return;
  }
  clear(ctx.main);
  const studyId = series.study_id ? String(series.study_id) : '';
  const descr = series.series_description ?? getPath(series, 'metadata.SeriesDescription');
  const modality = series.modality ?? getPath(series, 'metadata.Modality');
  ctx.main.append(
    h('p', { class: 'crumbs' }, link('/ui/series', 'Series'), ' / ', studyId ? link(`/ui/studies/${encodeURIComponent(studyId)}`, 'parent study') : null, studyId ? ' / ' : null, `#${fmtValue(series.series_number)}`),
    pageHeader(
      `Series ${fmtValue(series.series_number)} · ${fmtValue(modality)}${descr ? ' · ' + String(descr) : ''}`,
      h('span', null, `${fmtNum(Number(series.num_instances ?? 0))} images · `, idBadge(docId(series) || id)),
      [...(studyId ? [link(`/ui/studies/${encodeURIComponent(studyId)}`, '← Parent study')] : []), ...(series.annotations ? [link(`/ui/series/${encodeURIComponent(id)}/nodules`, 'Nodules →')] : [])], // #13.4 nodules page
    ),
  );
  const instSec = h('section', { class: 'card', 'aria-labelledby': 'h-inst' });
  const instHead = h('div', { class: 'toolbar' }, h('h2', { id: 'h-inst' }, 'Instances'));
  const range = h('span', { class: 'range', 'data-testid': 'instances-range' });
  const body = h('div');
  let skip = Math.max(0, Number(new URLSearchParams(ctx.search).get('skip') ?? 0) || 0);
  const limit = 100;
  let total = 0;
  const prev = h('button', { type: 'button', class: 'btn small', 'data-page': 'prev', onclick: () => go(Math.max(0, skip - limit)) }, '‹ Prev');
  const next = h('button', { type: 'button', class: 'btn small', 'data-page': 'next', onclick: () => go(skip + limit) }, 'Next ›');
  instHead.append(h('div', { class: 'pager' }, range, prev, next));
  instSec.append(instHead, body);
  ctx.main.append(
    h('section', { class: 'card', 'aria-labelledby': 'h-meta' }, h('h2', { id: 'h-meta' }, 'Metadata'), metaTables(docRows(series, ['instances', '_id', '_search_text']), 'series-meta')),
    instSec,
    rawJson({ ...series, instances: Array.isArray(series.instances) ? `[${(series.instances as unknown[]).length} ids]` : series.instances }),
  );

  function go(s: number) {
    skip = s;
    history.replaceState(null, '', `/ui/series/${encodeURIComponent(id)}${skip ? '?skip=' + skip : ''}`);
    void load();
  }
  async function load() {
    clear(body);
    body.append(spinner());
    try {
      const res = await api.list(`/series/${encodeURIComponent(id)}/instances`, { skip, limit, sort: 'instance_number' }, ctx.signal);
      total = res.total;
      clear(body);
      range.textContent = rangeLabel(skip, res.results.length, total);
      prev.disabled = skip === 0;
      next.disabled = skip + res.results.length >= total;
      body.append(res.results.length ? dataTable({ columns: INSTANCE_COLUMNS, rows: res.results, testId: 'instances-table' }) : emptyState('No instances on this page.'));
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      clear(body);
      body.append(errorBox(e, 'Could not load instances'));
    }
  }
  void load();
}

registerPage({ path: '/ui/studies/:id', render: renderStudyDetail, nav: 'studies', title: 'Study' });
registerPage({ path: '/ui/series/:id', render: renderSeriesDetail, nav: 'series', title: 'Series' });
