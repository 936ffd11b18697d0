// Fields page: every key present in a collection, with presence, types and top values.
import { registerPage, type PageCtx } from '../router';
import { api, type Bucket, type FieldInfo } from '../api';
import { h, clear, fmtNum, spinner, emptyState } from '../dom';
import { errorBox, pageHeader } from '../ui';
import { queryStateToSearch, DEFAULT_LIMIT } from '../urlstate';

const COLLS = ['series', 'studies', 'instances'];

/** Field key → list-endpoint parameter, per collection (only params the list endpoints support). */
export const LIST_PARAM: Record<string, Record<string, string>> = {
  series: {
    modality: 'modality',
    'metadata.Modality': 'modality',
    'metadata.BodyPartExamined': 'body_part_examined',
    'metadata.Manufacturer': 'manufacturer',
    'metadata.ManufacturerModelName': 'manufacturer_model_name',
    'metadata.ConvolutionKernel': 'convolution_kernel',
    study_id: 'study_id',
    patient_id: 'patient_id',
    accession_number: 'accession_number',
  },
  studies: {
    patient_id: 'patient_id',
    accession_number: 'accession_number',
    'metadata.Modality': 'modality',
    modality: 'modality',
  },
};

/** Where clicking a top value goes: the list page filtered by it, or the query builder prefilled. */
export function hrefForValue(collection: string, key: string, b: Bucket): string {
  const param = LIST_PARAM[collection]?.[key];
  const raw = b.raw !== undefined ? b.raw : b.value;
  if (param && (typeof raw === 'string' || typeof raw === 'number') && b.value !== '(none)' && b.value !== '(missing)') {
    return `/ui/${collection}?${new URLSearchParams({ [param]: String(raw) }).toString()}`;
  }
  const value = b.value === '(none)' ? null : raw;
  const filter = JSON.stringify({ [key]: value }, null, 2);
  return '/ui/query' + queryStateToSearch({ collection, filter, sort: '', skip: 0, limit: DEFAULT_LIMIT }) + '&run=1';
}

export async function renderFields(ctx: PageCtx) {
  const sp = new URLSearchParams(ctx.search);
  const coll = COLLS.includes(sp.get('collection') ?? '') ? sp.get('collection')! : 'series';
  const tabs = h(
    'div',
    { class: 'tabs', role: 'tablist', 'aria-label': 'Collection' },
    COLLS.map((c) =>
      h('a', { href: `/ui/fields?collection=${c}`, 'data-link': '', role: 'tab', 'aria-selected': c === coll ? 'true' : 'false', class: c === coll ? 'tab active' : 'tab' }, c),
    ),
  );
  const search = h('input', { type: 'search', id: 'field-filter', placeholder: 'Filter keys… (e.g. Slice, Kernel)', 'data-search': '', 'aria-label': 'Filter field names', value: sp.get('key') ?? '' }) as HTMLInputElement;
  const body = h('section', { class: 'results' }, spinner());
  ctx.main.append(pageHeader('Fields', 'Every promoted field and metadata keyword present, with how often it occurs and its most frequent values. Click a value to search by it.'), h('div', { class: 'toolbar' }, tabs, search), body);

  let fields: FieldInfo[];
  let total = 0;
  let base = 0; // documents the presence counts refer to
  try {
    const res = await api.fields(coll, ctx.signal);
    fields = res.fields;
    total = res.total ?? (await api.stats(ctx.signal).catch(() => null))?.counts[coll] ?? Math.max(0, ...fields.map((x) => x.count));
    base = res.sampled !== undefined && res.sampled > 0 && res.sampled < total ? res.sampled : total;
  } catch (e) {
    if ((e as Error).name === 'AbortError') return;
    clear(body);
    body.append(errorBox(e, 'Could not load fields'));
    return;
  }

  const chip = (f: FieldInfo, b: Bucket) => {
    const href = hrefForValue(coll, f.key, b);
    return h('a', { href, class: 'chip', 'data-link': '', title: `${b.value}: ${fmtNum(b.count)} — ${href.startsWith('/ui/query') ? 'open in query builder' : 'filter the list'}` }, h('span', null, b.value.length > 40 ? b.value.slice(0, 39) + '…' : b.value), h('span', { class: 'chip-n' }, fmtNum(b.count)));
  };
  const topValues = (f: FieldInfo): HTMLElement => {
    const box = h('div', { class: 'top-values' });
    if (!f.top.length) box.append(h('span', { class: 'muted small' }, '—'));
    else if (f.count > 10 && f.top.every((b) => b.count === 1)) {
      const v = f.top[0]!.value;
      box.append(h('span', { class: 'muted small' }, 'all distinct (e.g. ', h('code', null, v.length > 40 ? v.slice(0, 39) + '…' : v), ')'));
    } else {
      const top = f.top.slice(0, 10);
      const first = top.slice(0, 6);
      box.append(...first.map((b) => chip(f, b)));
      if (top.length > first.length) {
        const more = h('button', { type: 'button', class: 'btn small ghost', 'aria-label': `Show ${top.length - first.length} more values of ${f.key}` }, `+${top.length - first.length} more`);
        more.addEventListener('click', () => {
          more.replaceWith(...top.slice(first.length).map((b) => chip(f, b)));
        });
        box.append(more);
      }
    }
    return box;
  };

  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const rows = fields.filter((f) => f.key !== 'metadata' && (!q || f.key.toLowerCase().includes(q)));
    clear(body);
    body.append(h('p', { class: 'small muted' }, `${fmtNum(rows.length)} of ${fmtNum(fields.length)} keys · ${fmtNum(total)} ${coll}${base < total ? ` · statistics from a sample of ${fmtNum(base)}` : ''}`));
    if (!rows.length) {
      body.append(emptyState('No keys match.'));
      return;
    }
    const tbody = h('tbody');
    for (const f of rows) {
      const pct = base ? Math.min(100, (f.count / base) * 100) : 0;
      tbody.append(
        h(
          'tr',
          null,
          h('th', { scope: 'row', class: 'mono' }, f.key.startsWith('metadata.') ? [h('span', { class: 'muted' }, 'metadata.'), f.key.slice(9)] : f.key),
          h('td', { class: 'num' }, h('div', { class: 'presence' }, h('span', null, fmtNum(f.count)), h('span', { class: 'meter', 'aria-hidden': 'true' }, h('span', { style: `width:${pct.toFixed(1)}%` })), h('span', { class: 'small muted' }, `${pct.toFixed(0)}%`))),
          h('td', null, f.types.map((t) => h('span', { class: 'pill subtle' }, t))),
          h(
            'td',
            null,
            topValues(f),
          ),
        ),
      );
    }
    body.append(
      h(
        'div',
        { class: 'table-wrap' },
        h('table', { class: 'data fields', 'data-testid': 'fields-table' }, h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Key'), h('th', { scope: 'col', class: 'num' }, 'Present in'), h('th', { scope: 'col' }, 'Types'), h('th', { scope: 'col' }, 'Top values'))), tbody),
      ),
    );
  };
  search.addEventListener('input', () => {
    const u = new URL(location.href);
    if (search.value) u.searchParams.set('key', search.value);
    else u.searchParams.delete('key');
    history.replaceState(null, '', u.pathname + u.search);
    draw();
  });
  draw();
}



registerPage({ path: '/ui/fields', render: renderFields, nav: 'fields', title: 'Fields' });
