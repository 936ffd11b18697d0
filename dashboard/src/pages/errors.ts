// Ingest error register (GET /errors): files that could not be read, and why.
import { registerPage, type PageCtx } from '../router';
import { api, getPath, type Doc } from '../api';
import { h, clear, fmtDate, spinner, emptyState } from '../dom';
import { dataTable, errorBox, pageHeader, type Column } from '../ui';
import { rangeLabel, pageSkip, DEFAULT_LIMIT } from '../urlstate';

const pick = (d: Doc, ...keys: string[]) => {
  for (const k of keys) {
    const v = getPath(d, k);
    if (v !== undefined && v !== null && v !== '') return v;
  }
  return undefined;
};

const COLUMNS: Column[] = [
  { key: 'path', label: 'Path', className: 'mono path-wrap', get: (d) => pick(d, 'path', 'file', 'filename') },
  { key: 'reason', label: 'Reason', className: 'reason', get: (d) => pick(d, 'reason', 'message', 'error', 'error.message') },
  { key: 'first_seen', label: 'First seen', className: 'nowrap', render: (d) => fmtDate(pick(d, 'first_seen', 'created_at')) },
  { key: 'last_seen', label: 'Last seen', className: 'nowrap', render: (d) => fmtDate(pick(d, 'last_seen', 'updated_at')) },
];

export function renderErrors(ctx: PageCtx) {
  const sp = new URLSearchParams(ctx.search);
  let skip = Math.max(0, Number(sp.get('skip')) || 0);
  const limit = DEFAULT_LIMIT;
  let total = 0;
  const range = h('span', { class: 'range', 'data-testid': 'range' });
  const body = h('section', { class: 'results' });
  const btn = (where: 'prev' | 'next', label: string) =>
    h('button', { type: 'button', class: 'btn small', 'data-page': where, onclick: () => go(pageSkip({ filters: {}, sort: '', skip, limit }, total, where)) }, label);
  const prev = btn('prev', '‹ Prev');
  const next = btn('next', 'Next ›');
  ctx.main.append(
    pageHeader('Ingest errors', 'Files the extractor could not read. Ingest never stops on a bad file; each one is recorded here with its reason.'),
    h('div', { class: 'toolbar' }, range, h('div', { class: 'pager' }, prev, next)),
    body,
  );
  function go(s: number) {
    skip = s;
    history.replaceState(null, '', '/ui/errors' + (skip ? `?skip=${skip}` : ''));
    void load();
  }
  async function load() {
    clear(body);
    body.append(spinner());
    try {
      const res = await api.list('/errors', { skip, limit }, ctx.signal);
      total = res.total;
      clear(body);
      range.textContent = rangeLabel(skip, res.results.length, res.total);
      prev.disabled = skip === 0;
      next.disabled = skip + res.results.length >= res.total;
      body.append(res.results.length ? dataTable({ columns: COLUMNS, rows: res.results, testId: 'errors-table' }) : emptyState('No ingest errors.', 'Every file seen so far was read successfully.'));
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      clear(body);
      body.append(errorBox(e, 'Could not load the error register'));
    }
  }
  void load();
}

registerPage({ path: '/ui/errors', render: renderErrors, nav: 'errors', title: 'Ingest errors' });
