// Studies and series list pages: server-side filter/sort/paging, URL state, CSV/JSON export.
import { registerPage, type PageCtx } from '../router';
import { api, docId, getPath, supportedParams, type Doc, type ListResult } from '../api';
import { h, clear, fmtDate, fmtNum, spinner, emptyState } from '../dom';
import { dataTable, errorBox, pageHeader, download, type Column } from '../ui';
import {
  STUDY_FILTERS,
  SERIES_FILTERS,
  PAGE_SIZES,
  parseListState,
  listStateToSearch,
  listStateToApiParams,
  toggleSort,
  rangeLabel,
  pageSkip,
  type FilterDef,
  type ListState,
} from '../urlstate';
import { toCsv, fetchAllPages } from '../csv';
import { detailsButton } from '../drawer';
import { columnChooser, columnsFor, parseCols } from '../columns';

interface ListConfig {
  kind: 'studies' | 'series';
  title: string;
  subtitle: string;
  filters: FilterDef[];
  columns: Column[];
  defaultSort: string;
  csvPreferred: string[];
  csvExclude: string[];
}

const EXPORT_CAP = 50_000;

function modalitiesOfStudy(d: Doc): string {
  const s = Array.isArray(d.series) ? (d.series as Doc[]) : [];
  const set = new Set(s.map((x) => String(x.modality ?? '')).filter(Boolean));
  const fromMeta = getPath(d, 'metadata.ModalitiesInStudy') ?? getPath(d, 'metadata.Modality');
  if (set.size === 0 && fromMeta) return Array.isArray(fromMeta) ? fromMeta.join(', ') : String(fromMeta);
  return [...set].join(', ') || '—';
}

const pill = (v: unknown) => (v === undefined || v === null || v === '' ? '—' : h('span', { class: 'pill' }, String(v)));

export const STUDY_COLUMNS: Column[] = [
  { key: 'patient_id', label: 'Patient', sortable: true, className: 'mono' },
  { key: 'study_date', label: 'Date', sortable: true, render: (d) => fmtDate(d.study_date), className: 'nowrap' },
  { key: 'metadata.StudyDescription', label: 'Description', sortable: true, className: 'desc' },
  { key: 'accession_number', label: 'Accession', sortable: true, className: 'mono' },
  { key: 'modalities', label: 'Modalities', render: (d) => modalitiesOfStudy(d) },
  { key: 'series_count', label: 'Series', numeric: true, get: (d) => (Array.isArray(d.series) ? d.series.length : undefined) },
  { key: 'metadata.PatientSex', label: 'Sex', sortable: true },
  { key: 'study_instance_uid', label: 'Study UID', sortable: true, className: 'mono uid' },
];

export const SERIES_COLUMNS: Column[] = [
  { key: 'series_number', label: '#', sortable: true, numeric: true },
  { key: 'modality', label: 'Modality', sortable: true, render: (d) => pill(d.modality ?? getPath(d, 'metadata.Modality')) },
  { key: 'series_description', label: 'Description', sortable: true, className: 'desc', get: (d) => d.series_description ?? getPath(d, 'metadata.SeriesDescription') },
  { key: 'metadata.BodyPartExamined', label: 'Body part', sortable: true },
  { key: 'metadata.Manufacturer', label: 'Manufacturer', sortable: true },
  { key: 'metadata.ManufacturerModelName', label: 'Model', sortable: true },
  { key: 'metadata.ConvolutionKernel', label: 'Kernel', sortable: true },
  { key: 'metadata.SliceThickness', label: 'Slice (mm)', sortable: true, numeric: true },
  { key: 'num_instances', label: 'Images', sortable: true, numeric: true, get: (d) => (typeof d.num_instances === 'number' ? fmtNum(d.num_instances) : d.num_instances) },
  { key: 'series_instance_uid', label: 'Series UID', sortable: true, className: 'mono uid' },
];

const STUDIES: ListConfig = {
  kind: 'studies',
  title: 'Studies',
  subtitle: 'Filter, sort and page through every study in the catalogue.',
  filters: STUDY_FILTERS,
  columns: STUDY_COLUMNS,
  defaultSort: '',
  csvPreferred: ['_id', 'patient_id', 'study_date', 'accession_number', 'study_instance_uid', 'metadata.StudyDescription'],
  csvExclude: [],
};

const SERIES: ListConfig = {
  kind: 'series',
  title: 'Series',
  subtitle: 'Series-level cohort search: modality, scanner, kernel, slice thickness, image count.',
  filters: SERIES_FILTERS,
  columns: SERIES_COLUMNS,
  defaultSort: '',
  csvPreferred: ['_id', 'study_id', 'series_instance_uid', 'series_number', 'modality', 'series_description', 'num_instances'],
  csvExclude: ['instances', '_search_text'],
};

export const renderStudies = (ctx: PageCtx) => renderList(ctx, STUDIES);
export const renderSeries = (ctx: PageCtx) => renderList(ctx, SERIES);

function filterInput(f: FilterDef, value: string): HTMLElement {
  const id = `f-${f.name}`;
  let input: HTMLElement;
  if (f.type === 'select') {
    const opts = f.options ?? [];
    const all = value && !opts.includes(value) ? [value, ...opts] : opts;
    input = h('select', { id, name: f.name }, h('option', { value: '' }, 'Any'), all.map((o) => h('option', { value: o, selected: o === value }, o)));
  } else {
    input = h('input', {
      id,
      name: f.name,
      type: f.type === 'date' ? 'date' : f.type === 'number' ? 'number' : 'search',
      value: f.type === 'date' ? toIsoDate(value) : value,
      placeholder: f.placeholder,
      step: f.step,
      min: f.type === 'number' ? '0' : undefined,
      'data-search': f.name === 'q' ? '' : undefined,
      autocomplete: 'off',
    });
  }
  return h('div', { class: 'field' }, h('label', { for: id }, f.label), input);
}

/** The API takes DICOM DA (YYYYMMDD) or ISO; date inputs need YYYY-MM-DD. */
function toIsoDate(v: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(v);
  return m ? `${m[1]}-${m[2]}-${m[3]}` : v;
}

function renderList(ctx: PageCtx, cfg: ListConfig) {
  const allowed = cfg.filters.map((f) => f.name);
  let state: ListState = parseListState(ctx.search, allowed, cfg.defaultSort);
  // Page-only state beside the API's parameters: the chosen columns and the open details drawer.
  const page = new URLSearchParams(ctx.search);
  let cols: string[] | null = parseCols(page.get('cols'));
  let details: string | null = page.get('details');
  let loadCtl: AbortController | null = null;
  let lastTotal = 0;

  const range = h('span', { class: 'range', 'data-testid': 'range', 'aria-live': 'polite' }, '');
  const exportStatus = h('div', { class: 'export-status', 'aria-live': 'polite' });
  const btnCsv = h('button', { type: 'button', class: 'btn', onclick: () => void doExport('csv') }, 'Export CSV');
  const btnJson = h('button', { type: 'button', class: 'btn', onclick: () => void doExport('json') }, 'Export JSON');
  const header = pageHeader(cfg.title, cfg.subtitle, [btnCsv, btnJson]);

  const form = h('form', { class: 'filters', role: 'search', 'aria-label': `Filter ${cfg.kind}` });
  const extra = Object.keys(state.filters).filter((k) => !allowed.includes(k));
  form.append(
    h('div', { class: 'filter-grid' }, cfg.filters.map((f) => filterInput(f, state.filters[f.name] ?? ''))),
    extra.length
      ? h('p', { class: 'small' }, 'Also filtered by: ', extra.map((k) => h('code', { class: 'chip' }, `${k} = ${state.filters[k]}`)))
      : '',
    h(
      'div',
      { class: 'form-actions' },
      h('button', { type: 'submit', class: 'btn primary' }, 'Apply filters'),
      h('button', { type: 'button', class: 'btn ghost', onclick: () => reset() }, 'Reset'),
    ),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    applyForm();
  });
  form.addEventListener('change', (ev) => {
    if ((ev.target as HTMLElement).tagName === 'SELECT') applyForm();
  });

  const results = h('section', { class: 'results', 'aria-label': 'Results' });
  const pageSize = h(
    'select',
    { id: 'page-size', 'aria-label': 'Rows per page' },
    PAGE_SIZES.map((n) => h('option', { value: n, selected: n === state.limit }, `${n} / page`)),
  );
  pageSize.addEventListener('change', () => update({ ...state, limit: Number(pageSize.value), skip: 0 }));
  const pageBtn = (where: 'first' | 'prev' | 'next' | 'last', label: string, title: string) =>
    h('button', { type: 'button', class: 'btn small', 'data-page': where, title, onclick: () => update({ ...state, skip: pageSkip(state, lastTotal, where) }) }, label);
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pagination' }, pageBtn('first', '«', 'First page'), pageBtn('prev', '‹ Prev', 'Previous page (p)'), pageBtn('next', 'Next ›', 'Next page (n)'), pageBtn('last', '»', 'Last page'), pageSize);

  const chooser = h('div', { class: 'col-chooser-slot' });
  const drawChooser = () => {
    const wasOpen = chooser.querySelector('details')?.open ?? false;
    clear(chooser);
    chooser.append(columnChooser(cfg.kind, cfg.columns, cols, (next) => {
      cols = next;
      writeUrl(false);
      drawChooser();
      if (lastRes) show(lastRes);
    }));
    if (wasOpen) chooser.querySelector('details')!.open = true;
  };
  drawChooser();
  ctx.main.append(header, form, h('div', { class: 'toolbar' }, range, chooser, pager), exportStatus, results);

  function urlOf(): string {
    const sp = new URLSearchParams(listStateToSearch(state, cfg.defaultSort));
    if (cols) sp.set('cols', cols.join(','));
    if (details) sp.set('details', details);
    const q = sp.toString();
    return `/ui/${cfg.kind}${q ? '?' + q : ''}`;
  }
  function writeUrl(push: boolean) {
    const url = urlOf();
    if (url === location.pathname + location.search) return;
    if (push) history.pushState(null, '', url);
    else history.replaceState(null, '', url);
  }
  const openDetails = (id: string) => {
    details = id;
    writeUrl(false);
  };
  const closeDetails = () => {
    details = null;
    if (location.pathname === `/ui/${cfg.kind}`) writeUrl(false);
  };
  if (details) detailsButton(cfg.kind, details, undefined, closeDetails).click();
  let lastRes: ListResult | null = null;

  function applyForm() {
    const fd = new FormData(form);
    const filters: Record<string, string> = {};
    for (const k of Object.keys(state.filters)) if (!allowed.includes(k)) filters[k] = state.filters[k]!;
    for (const f of cfg.filters) {
      let v = String(fd.get(f.name) ?? '').trim();
      if (f.type === 'date' && v) v = v.replace(/-/g, '');
      if (v) filters[f.name] = v;
    }
    update({ ...state, filters, skip: 0 });
  }
  function reset() {
    form.reset();
    for (const el of form.querySelectorAll<HTMLInputElement | HTMLSelectElement>('input,select')) el.value = '';
    update({ filters: {}, sort: cfg.defaultSort, skip: 0, limit: state.limit });
  }
  function update(next: ListState) {
    state = next;
    writeUrl(true);
    void load();
  }

  async function load() {
    loadCtl?.abort();
    const ctl = new AbortController();
    loadCtl = ctl;
    ctx.signal.addEventListener('abort', () => ctl.abort());
    results.setAttribute('aria-busy', 'true');
    const slow = setTimeout(() => {
      if (!ctl.signal.aborted) {
        clear(results);
        results.append(spinner());
      }
    }, 150);
    try {
      const res = await api.list(`/${cfg.kind}`, listStateToApiParams(state), ctl.signal);
      if (ctl.signal.aborted) return;
      lastTotal = res.total;
      show(res);
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      clear(results);
      results.append(errorBox(e, `Could not load ${cfg.kind}`));
      range.textContent = '';
    } finally {
      clearTimeout(slow);
      results.removeAttribute('aria-busy');
    }
  }

  function show(res: ListResult) {
    lastRes = res;
    clear(results);
    range.textContent = rangeLabel(state.skip, res.results.length, res.total);
    (pager.querySelector('[data-page="prev"]') as HTMLButtonElement).disabled = state.skip === 0;
    (pager.querySelector('[data-page="first"]') as HTMLButtonElement).disabled = state.skip === 0;
    const atEnd = state.skip + res.results.length >= res.total;
    (pager.querySelector('[data-page="next"]') as HTMLButtonElement).disabled = atEnd;
    (pager.querySelector('[data-page="last"]') as HTMLButtonElement).disabled = atEnd;
    if (res.results.length === 0) {
      results.append(
        emptyState(
          res.total > 0 ? 'This page is past the end of the results.' : `No ${cfg.kind} match these filters.`,
          Object.keys(state.filters).length ? 'Loosen or reset the filters.' : 'Ingest an archive with `meta_db ingest` to fill the catalogue.',
        ),
      );
      return;
    }
    results.append(
      dataTable({
        columns: [
          { key: '_details', label: '', render: (d) => detailsButton(cfg.kind, docId(d), () => openDetails(docId(d)), closeDetails) },
          ...columnsFor(cfg.columns, cols),
        ],
        rows: res.results,
        sort: state.sort,
        onSort: (field) => update({ ...state, sort: toggleSort(state.sort, field), skip: 0 }),
        rowHref: (d) => (docId(d) ? `/ui/${cfg.kind}/${encodeURIComponent(docId(d))}` : null),
        caption: `${cfg.title}: ${range.textContent}`,
        testId: `${cfg.kind}-table`,
      }),
    );
  }

  let exportCtl: AbortController | null = null;
  async function doExport(kind: 'csv' | 'json') {
    if (exportCtl) return;
    exportCtl = new AbortController();
    const ctl = exportCtl;
    btnCsv.disabled = btnJson.disabled = true;
    clear(exportStatus);
    const bar = h('progress', { max: 1, value: 0, 'aria-label': 'Export progress' });
    const label = h('span', null, 'Starting export…');
    exportStatus.append(bar, label, h('button', { type: 'button', class: 'btn small ghost', onclick: () => ctl.abort() }, 'Cancel'));
    try {
      const base = { ...state.filters, ...(state.sort ? { sort: state.sort } : {}) };
      const { rows, total, truncated } = await fetchAllPages((skip, limit) => api.list(`/${cfg.kind}`, { ...base, skip, limit }, ctl.signal), {
        cap: EXPORT_CAP,
        pageSize: 1000,
        signal: ctl.signal,
        onProgress: (p) => {
          bar.max = Math.max(1, p.target);
          bar.value = p.fetched;
          label.textContent = `Fetched ${fmtNum(p.fetched)} of ${fmtNum(p.target)}${p.total > EXPORT_CAP ? ` (capped from ${fmtNum(p.total)})` : ''}…`;
        },
      });
      const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
      if (kind === 'csv') download(`meta_db-${cfg.kind}-${stamp}.csv`, toCsv(rows, { preferred: cfg.csvPreferred, exclude: cfg.csvExclude }), 'text/csv;charset=utf-8');
      else download(`meta_db-${cfg.kind}-${stamp}.json`, JSON.stringify(rows, null, 1), 'application/json');
      clear(exportStatus);
      exportStatus.append(h('span', { class: 'ok-text' }, `Exported ${fmtNum(rows.length)} ${cfg.kind}${truncated ? ` of ${fmtNum(total)} (cap ${fmtNum(EXPORT_CAP)}; narrow the filters or use the API for more)` : ''} as ${kind.toUpperCase()}.`));
    } catch (e) {
      clear(exportStatus);
      if ((e as Error).name === 'AbortError') exportStatus.append(h('span', null, 'Export cancelled.'));
      else exportStatus.append(errorBox(e, 'Export failed'));
    } finally {
      exportCtl = null;
      btnCsv.disabled = btnJson.disabled = false;
    }
  }

  void load();
  void enrichModalities();
  void hideUnsupported();

  /** Hide filters the running server does not declare in its OpenAPI document (unless in use). */
  async function hideUnsupported() {
    const names = await supportedParams(`/${cfg.kind}`);
    if (!names || ctx.signal.aborted) return;
    for (const f of cfg.filters) {
      if (names.has(f.name) || state.filters[f.name]) continue;
      form.querySelector(`#f-${f.name}`)?.closest('.field')?.setAttribute('hidden', '');
    }
  }

  /** Offer the modalities actually present in the catalogue (from /stats) in the Modality select. */
  async function enrichModalities() {
    const sel = form.querySelector<HTMLSelectElement>('#f-modality');
    if (!sel) return;
    try {
      const stats = await api.stats(ctx.signal);
      const present = (stats.distributions.modality ?? []).map((b) => b.value).filter((v) => v && !v.startsWith('('));
      const have = new Set([...sel.options].map((o) => o.value));
      const anyOpt = sel.options[0]!;
      for (const m of present.slice().reverse()) {
        if (have.has(m)) {
          const opt = [...sel.options].find((o) => o.value === m)!;
          anyOpt.after(opt);
        } else anyOpt.after(h('option', { value: m }, m));
      }
    } catch {
      /* the static list stays */
    }
  }
}

registerPage({ path: '/ui/studies', render: renderStudies, nav: 'studies', title: 'Studies' });
registerPage({ path: '/ui/series', render: renderSeries, nav: 'series', title: 'Series' });
