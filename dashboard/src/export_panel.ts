// Export links for a collection (format, level, ML split options) and authenticated file downloads.
import { errorFromBody } from './api';
import { authHeaders, getToken } from './auth';
import { exportFilename, exportUrl, parseSplit, type ExportFormat, type ExportLevel, type ExportOptions } from './api_jobs';
import { h } from './dom';
import { errorBox } from './ui';

/**
 * A link to a file the server streams. Without a token the browser follows it itself (streamed to disk, any size);
 * with a token (kept in sessionStorage, never in URLs) the file is fetched with the Authorization header instead.
 */
export function fileLink(href: string, filename: string, label: string, attrs: Record<string, string> = {}, onError?: (e: unknown) => void): HTMLAnchorElement {
  const a = h('a', { href, download: filename, class: 'btn small', ...attrs }, label);
  a.addEventListener('click', async (ev) => {
    const token = getToken();
    if (!token) return;
    ev.preventDefault();
    try {
      const res = await fetch(a.href, { headers: authHeaders(token) });
      if (!res.ok) {
        const text = await res.text();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* not JSON: shown as text */
        }
        throw errorFromBody(res.status, res.statusText, body);
      }
      const url = URL.createObjectURL(await res.blob());
      const tmp = h('a', { href: url, download: filename, style: 'display:none' });
      document.body.append(tmp);
      tmp.click();
      setTimeout(() => (URL.revokeObjectURL(url), tmp.remove()), 1000);
    } catch (e) {
      onError?.(e);
    }
  });
  return a;
}

const FORMATS: [ExportFormat, string][] = [
  ['csv', 'CSV'],
  ['jsonl', 'JSON lines'],
  ['tcia', 'TCIA manifest (.tcia)'],
];
const LEVELS: ExportLevel[] = ['series', 'studies', 'instances'];
const STRATIFY = ['', 'metadata.Manufacturer', 'modality', 'metadata.ConvolutionKernel', 'metadata.PatientSex', 'annotations.max_malignancy'];

/** The export card: choose format/level/split, then the link (always a real URL of GET /collections/{id}/export). */
export function exportPanel(collectionId: string, collectionName: string, idPrefix = 'x'): HTMLElement {
  const id = (s: string) => `${idPrefix}-${s}`;
  const format = h('select', { id: id('format'), name: 'format' }, FORMATS.map(([v, l]) => h('option', { value: v }, l)));
  const level = h('select', { id: id('level'), name: 'level' }, LEVELS.map((v) => h('option', { value: v, selected: v === 'series' }, v)));
  const useSplit = h('input', { id: id('use-split'), type: 'checkbox', name: 'use_split' });
  const split = h('input', { id: id('split'), name: 'split', value: 'train:70,val:15,test:15', autocomplete: 'off', 'aria-describedby': id('split-msg') });
  const stratify = h('input', { id: id('stratify'), name: 'stratify', list: id('stratify-list'), placeholder: 'metadata.Manufacturer', autocomplete: 'off' });
  const seed = h('input', { id: id('seed'), name: 'seed', type: 'number', step: '1', value: '42' });
  const msg = h('div', { id: id('split-msg'), class: 'field-msg muted' }, 'Whole patients go to one split; same seed → same split.');
  const linkBox = h('div', { class: 'export-links', 'aria-live': 'polite' });
  const errBox = h('div');
  const splitFields = h(
    'div',
    { class: 'filter-grid' },
    h('div', { class: 'field' }, h('label', { for: id('split') }, 'Splits (name:percent)'), split, msg),
    h('div', { class: 'field' }, h('label', { for: id('stratify') }, 'Stratify by field'), stratify, h('datalist', { id: id('stratify-list') }, STRATIFY.filter(Boolean).map((s) => h('option', { value: s })))),
    h('div', { class: 'field' }, h('label', { for: id('seed') }, 'Seed'), seed),
  );

  function options(): ExportOptions | null {
    const parts = useSplit.checked ? parseSplit(split.value) : [];
    if (parts === null) return null;
    return { format: format.value as ExportFormat, level: level.value as ExportLevel, split: parts, stratify: stratify.value, seed: seed.value };
  }
  function refresh() {
    const tcia = format.value === 'tcia';
    level.disabled = tcia;
    useSplit.disabled = tcia;
    splitFields.hidden = !useSplit.checked || tcia;
    linkBox.replaceChildren();
    errBox.replaceChildren();
    const o = options();
    split.setAttribute('aria-invalid', o ? 'false' : 'true');
    if (!o) {
      msg.textContent = 'Write splits as name:percent, comma-separated (train:70,val:15,test:15).';
      msg.className = 'field-msg bad-text';
      return;
    }
    msg.textContent = 'Whole patients go to one split; same seed → same split.';
    msg.className = 'field-msg muted';
    const href = exportUrl(collectionId, o);
    linkBox.append(
      fileLink(href, exportFilename(collectionName, o), `Download ${FORMATS.find((f) => f[0] === o.format)![1]}`, { 'data-testid': `${idPrefix}-export-link` }, (e) => errBox.replaceChildren(errorBox(e, 'Export failed'))),
      h('code', { class: 'small export-url' }, href),
    );
  }
  for (const el of [format, level, useSplit, split, stratify, seed]) {
    el.addEventListener('input', refresh);
    el.addEventListener('change', refresh);
  }
  const card = h(
    'section',
    { class: 'card export-card', 'aria-labelledby': id('h') },
    h('h2', { id: id('h') }, 'Export'),
    h(
      'div',
      { class: 'filter-grid' },
      h('div', { class: 'field' }, h('label', { for: id('format') }, 'Format'), format),
      h('div', { class: 'field' }, h('label', { for: id('level') }, 'Level'), level),
      h('div', { class: 'field check' }, h('label', { for: id('use-split') }, useSplit, ' ML split column')),
    ),
    splitFields,
    linkBox,
    errBox,
  );
  refresh();
  return card;
}
