// Column chooser of the studies/series tables: the default columns, or any promoted field or metadata key from
// GET /fields, in the order chosen; kept in the URL as ?cols=a,b,metadata.Keyword.
import { api, getPath, type FieldInfo } from './api';
import { h, fmtValue } from './dom';
import type { Column } from './ui';

const KEY = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/;

export function parseCols(v: string | null): string[] | null {
  if (v === null) return null;
  const out = v.split(',').map((k) => k.trim()).filter((k) => KEY.test(k));
  return out.length ? [...new Set(out)] : null;
}

/** The table's columns for a choice (null: the defaults); a key without a default column shows its value. */
export function columnsFor(defaults: Column[], cols: string[] | null): Column[] {
  if (!cols) return defaults;
  return cols.map((k) => defaults.find((c) => c.key === k) ?? { key: k, label: k.replace(/^metadata\./, ''), sortable: true, get: (d) => fmtValue(getPath(d, k)) });
}

export function columnChooser(collection: string, defaults: Column[], cols: string[] | null, onChange: (cols: string[] | null) => void): HTMLElement {
  const current = cols ?? defaults.map((c) => c.key);
  const listId = `cols-${collection}`;
  const datalist = h('datalist', { id: listId });
  api
    .fields(collection)
    .then((r) => datalist.append(...r.fields.filter((f: FieldInfo) => f.key !== '_id' && !current.includes(f.key)).map((f) => h('option', { value: f.key }, `${f.types.join('/')} · ${f.count}`))))
    .catch(() => undefined);
  const set = (next: string[]) => onChange(next.join(',') === defaults.map((c) => c.key).join(',') ? null : next);
  const add = h('input', { type: 'text', list: listId, placeholder: 'metadata.Keyword or field', 'aria-label': 'Add a column', 'data-testid': 'col-add', class: 'code', autocomplete: 'off' }) as HTMLInputElement;
  const addBtn = h('button', { type: 'button', class: 'btn small', 'data-testid': 'col-add-btn' }, 'Add column');
  const doAdd = () => {
    const k = add.value.trim();
    if (!KEY.test(k) || current.includes(k)) return;
    set([...current, k]);
  };
  addBtn.addEventListener('click', doAdd);
  add.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      ev.preventDefault();
      doAdd();
    }
  });
  const items = current.map((k, i) => {
    const label = defaults.find((c) => c.key === k)?.label ?? k;
    return h(
      'li',
      null,
      h('span', { class: 'mono small' }, label),
      ' ',
      h('button', { type: 'button', class: 'btn small ghost', 'aria-label': `Move ${label} left`, disabled: i === 0, onclick: () => set(current.map((x, j) => (j === i - 1 ? k : j === i ? current[i - 1]! : x))) }, '↑'),
      h('button', { type: 'button', class: 'btn small ghost', 'aria-label': `Remove column ${label}`, onclick: () => set(current.filter((x) => x !== k)) }, '✕'),
    );
  });
  return h(
    'details',
    { class: 'col-chooser', 'data-testid': 'col-chooser' },
    h('summary', { class: 'btn small' }, 'Columns'),
    h('div', { class: 'col-panel card' }, h('ul', { class: 'col-list' }, items), h('div', { class: 'row-inline' }, add, addBtn, datalist), h('button', { type: 'button', class: 'btn small ghost', onclick: () => onChange(null) }, 'Default columns')),
  );
}
