// Shared view components: sortable data table, pager, error box, key/value table, downloads.
import { ApiError, docId, getPath, type Doc } from './api';
import { h, fmtValue } from './dom';
import { sortDirection } from './urlstate';

export interface Column {
  key: string; // dotted path, also the sort field
  label: string;
  sortable?: boolean;
  numeric?: boolean;
  render?: (doc: Doc) => Node | string;
  get?: (doc: Doc) => unknown;
  className?: string;
}

export function cellValue(col: Column, doc: Doc): Node | string {
  if (col.render) return col.render(doc);
  return fmtValue(col.get ? col.get(doc) : getPath(doc, col.key));
}

export interface TableOpts {
  columns: Column[];
  rows: Doc[];
  sort?: string;
  onSort?: (field: string) => void;
  rowHref?: (doc: Doc) => string | null;
  caption?: string;
  testId?: string;
}

/** Accessible table; rows with an href are focusable, open on click/Enter, and ↑/↓ moves focus. */
export function dataTable(o: TableOpts): HTMLElement {
  const thead = h(
    'thead',
    null,
    h(
      'tr',
      null,
      o.columns.map((c) => {
        const dir = o.sort !== undefined ? sortDirection(o.sort, c.key) : 'none';
        const th = h('th', { scope: 'col', class: (c.numeric ? 'num ' : '') + (c.className ?? ''), 'aria-sort': c.sortable && o.onSort ? dir : undefined });
        if (c.sortable && o.onSort) {
          th.appendChild(
            h(
              'button',
              { type: 'button', class: 'sort', title: `Sort by ${c.label}`, 'data-sort': c.key, onclick: () => o.onSort!(c.key) },
              c.label,
              h('span', { class: 'sort-ind', 'aria-hidden': 'true' }, dir === 'ascending' ? '▲' : dir === 'descending' ? '▼' : '↕'),
            ),
          );
        } else th.textContent = c.label;
        return th;
      }),
    ),
  );
  const tbody = h('tbody');
  for (const doc of o.rows) {
    const href = o.rowHref?.(doc) ?? null;
    const tr = h('tr', href ? { tabindex: 0, class: 'clickable', 'data-href': href, 'data-id': docId(doc) } : null);
    for (const c of o.columns) {
      const v = cellValue(c, doc);
      const long = /\b(uid|path)\b/.test(c.className ?? '') && typeof v === 'string';
      tr.appendChild(h('td', { class: (c.numeric ? 'num ' : '') + (c.className ?? ''), title: long ? v : undefined }, v));
    }
    if (href) {
      tr.addEventListener('click', (ev) => {
        if ((ev.target as HTMLElement).closest('a,button')) return;
        if (ev.ctrlKey || ev.metaKey) window.open(href, '_blank');
        else navigate(href);
      });
      tr.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter') navigate(href);
        else if (ev.key === 'ArrowDown' || ev.key === 'j') {
          (tr.nextElementSibling as HTMLElement | null)?.focus();
          ev.preventDefault();
        } else if (ev.key === 'ArrowUp' || ev.key === 'k') {
          (tr.previousElementSibling as HTMLElement | null)?.focus();
          ev.preventDefault();
        }
      });
    }
    tbody.appendChild(tr);
  }
  const table = h('table', { class: 'data', 'data-testid': o.testId }, o.caption ? h('caption', { class: 'sr-only' }, o.caption) : null, thead, tbody);
  return h('div', { class: 'table-wrap' }, table);
}

export function errorBox(e: unknown, title = 'Request failed'): HTMLElement {
  const box = h('div', { class: 'error-box', role: 'alert', 'data-testid': 'error' });
  if (e instanceof ApiError) {
    box.append(
      h('div', { class: 'error-title' }, `${title} — ${e.status ? 'HTTP ' + e.status : ''} ${e.code}`.trim()),
      h('div', { class: 'error-message' }, e.message),
    );
    if (e.details !== undefined && e.details !== null) box.append(h('pre', { class: 'error-details' }, JSON.stringify(e.details, null, 2)));
  } else {
    box.append(h('div', { class: 'error-title' }, title), h('div', { class: 'error-message' }, String((e as Error)?.message ?? e)));
  }
  return box;
}

/** Definition list of a document: top-level scalars first, then metadata keys. */
export function kvTable(rows: [string, unknown][], testId?: string): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'kv', 'data-testid': testId },
      h(
        'tbody',
        null,
        rows.map(([k, v]) => h('tr', null, h('th', { scope: 'row' }, k), h('td', null, v instanceof Node ? v : fmtValue(v)))),
      ),
    ),
  );
}

export function download(filename: string, content: string, type: string): void {
  const blob = new Blob([content], { type });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, style: 'display:none' });
  document.body.appendChild(a);
  a.click();
  setTimeout(() => {
    URL.revokeObjectURL(url);
    a.remove();
  }, 1000);
}

export function link(href: string, ...children: (Node | string)[]): HTMLAnchorElement {
  return h('a', { href, 'data-link': '' }, ...children);
}

// Router hook, set by main.ts (avoids a circular import).
let navigateImpl: (href: string, replace?: boolean) => void = (href) => (location.href = href);
export function setNavigate(fn: (href: string, replace?: boolean) => void): void {
  navigateImpl = fn;
}
export function navigate(href: string, replace = false): void {
  navigateImpl(href, replace);
}

export function pageHeader(title: string, sub?: string | Node, actions?: Node[]): HTMLElement {
  return h('header', { class: 'page-header' }, h('div', null, h('h1', null, title), sub ? h('p', { class: 'sub' }, sub) : null), actions ? h('div', { class: 'actions' }, actions) : null);
}

export function idBadge(id: string): HTMLElement {
  const b = h('button', { type: 'button', class: 'id-badge', title: 'Copy id' }, id);
  b.addEventListener('click', (ev) => {
    ev.stopPropagation();
    void navigator.clipboard?.writeText(id).then(() => {
      b.classList.add('copied');
      setTimeout(() => b.classList.remove('copied'), 800);
    });
  });
  return b;
}
