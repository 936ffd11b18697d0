// Collections, researchers and jobs: lists with create forms.
import { registerPage, type PageCtx } from '../router';
import { api, docId, type Doc } from '../api';
import { h, clear, fmtDate, fmtNum, spinner, emptyState } from '../dom';
import { dataTable, errorBox, pageHeader, idBadge, type Column } from '../ui';
import { rangeLabel } from '../urlstate';

interface FormField {
  name: string;
  label: string;
  required?: boolean;
  type?: 'text' | 'email' | 'textarea' | 'list';
  placeholder?: string;
  hint?: string;
}

interface ResourceCfg {
  path: string;
  title: string;
  subtitle: string;
  columns: Column[];
  form: FormField[];
  createLabel: string;
  rowHref?: (d: Doc) => string | null;
}

/** "a, b\nc" → ["a","b","c"] */
export function splitList(s: string): string[] {
  return s
    .split(/[\s,;]+/)
    .map((x) => x.trim())
    .filter(Boolean);
}

function renderResource(ctx: PageCtx, cfg: ResourceCfg) {
  const listSec = h('section', { class: 'results', 'aria-label': cfg.title });
  const range = h('span', { class: 'range' });
  const msg = h('div', { 'aria-live': 'polite' });
  let skip = 0;
  const limit = 100;
  const prev = h('button', { type: 'button', class: 'btn small', 'data-page': 'prev', onclick: () => ((skip = Math.max(0, skip - limit)), void load()) }, '‹ Prev');
  const next = h('button', { type: 'button', class: 'btn small', 'data-page': 'next', onclick: () => ((skip += limit), void load()) }, 'Next ›');

  const form = h('form', { class: 'card create-form', 'aria-label': cfg.createLabel });
  form.append(h('h2', null, cfg.createLabel));
  const grid = h('div', { class: 'filter-grid' });
  for (const f of cfg.form) {
    const id = `c-${f.name}`;
    const input =
      f.type === 'textarea' || f.type === 'list'
        ? h('textarea', { id, name: f.name, rows: 2, placeholder: f.placeholder, required: f.required })
        : h('input', { id, name: f.name, type: f.type ?? 'text', placeholder: f.placeholder, required: f.required, autocomplete: 'off' });
    grid.append(h('div', { class: 'field' }, h('label', { for: id }, f.label, f.required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null), input, f.hint ? h('div', { class: 'field-msg muted' }, f.hint) : null));
  }
  form.append(grid, h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn primary' }, 'Create')), msg);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const fd = new FormData(form);
    const body: Doc = {};
    for (const f of cfg.form) {
      const v = String(fd.get(f.name) ?? '').trim();
      if (f.type === 'list') {
        if (v) body[f.name] = splitList(v);
      } else if (v) body[f.name] = v;
    }
    clear(msg);
    try {
      const created = await api.post<Doc>(cfg.path, body);
      msg.append(h('p', { class: 'ok-text' }, 'Created ', idBadge(docId(created) || '(no id returned)')));
      form.reset();
      skip = 0;
      void load();
    } catch (e) {
      msg.append(errorBox(e, 'Create failed'));
    }
  });

  ctx.main.append(pageHeader(cfg.title, cfg.subtitle), h('div', { class: 'toolbar' }, range, h('div', { class: 'pager' }, prev, next)), listSec, form);

  async function load() {
    clear(listSec);
    listSec.append(spinner());
    try {
      const res = await api.list(cfg.path, { skip, limit }, ctx.signal);
      clear(listSec);
      range.textContent = rangeLabel(skip, res.results.length, res.total);
      prev.disabled = skip === 0;
      next.disabled = skip + res.results.length >= res.total;
      listSec.append(res.results.length ? dataTable({ columns: cfg.columns, rows: res.results, rowHref: cfg.rowHref, testId: `${cfg.path.slice(1)}-table` }) : emptyState(`No ${cfg.title.toLowerCase()} yet.`, 'Create one with the form below.'));
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      clear(listSec);
      listSec.append(errorBox(e, `Could not load ${cfg.title.toLowerCase()}`));
    }
  }
  void load();
}

const idCol: Column = { key: '_id', label: 'ID', render: (d) => idBadge(docId(d)) };
const created: Column = { key: 'created_at', label: 'Created', render: (d) => fmtDate(d.created_at), className: 'nowrap' };

export const renderCollections = (ctx: PageCtx) =>
  renderResource(ctx, {
    path: '/collections',
    title: 'Collections',
    subtitle: 'Named cohorts (e.g. LIDC-IDRI) with their cases. Click a row for its summary, studies and exports.',
    columns: [
      { key: 'name', label: 'Name' },
      { key: 'description', label: 'Description' },
      { key: 'cases', label: 'Cases', numeric: true, get: (d) => (Array.isArray(d.cases) ? fmtNum(d.cases.length) : '—') },
      created,
      idCol,
    ],
    form: [
      { name: 'name', label: 'Name', required: true, placeholder: 'LIDC-IDRI' },
      { name: 'description', label: 'Description', type: 'textarea', placeholder: 'Lung Imaging Data Consortium' },
    ],
    createLabel: 'New collection',
    rowHref: (d) => (docId(d) ? `/ui/collections/${encodeURIComponent(docId(d))}` : null), // #11.7 collection page
  });

export const renderResearchers = (ctx: PageCtx) =>
  renderResource(ctx, {
    path: '/researchers',
    title: 'Researchers',
    subtitle: 'People who own extraction jobs.',
    columns: [
      { key: 'researcher_id', label: 'Researcher ID', className: 'mono' },
      { key: 'name', label: 'Name' },
      { key: 'email', label: 'Email' },
      { key: 'jobs', label: 'Jobs', numeric: true, get: (d) => (Array.isArray(d.jobs) ? d.jobs.length : 0) },
      created,
      idCol,
    ],
    form: [
      { name: 'researcher_id', label: 'Researcher ID', required: true, placeholder: 'r12345' },
      { name: 'name', label: 'Name', required: true, placeholder: 'Dr. Alice Lee' },
      { name: 'email', label: 'Email', type: 'email', placeholder: 'alice@example.org' },
    ],
    createLabel: 'New researcher',
  });

registerPage({ path: '/ui/collections', render: renderCollections, nav: 'collections', title: 'Collections' });
registerPage({ path: '/ui/researchers', render: renderResearchers, nav: 'researchers', title: 'Researchers' });
