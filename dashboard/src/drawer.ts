// Details drawer for a study, series or instance row: every stored attribute with its DICOM keyword, tag and VR
// (GET /dictionary), searchable, and the study → series → instance tree with links.
import { api, docId, getPath, type Doc } from './api';
import { h, clear, fmtValue, spinner } from './dom';
import { errorBox, link } from './ui';

export type DrawerLevel = 'studies' | 'series' | 'instances';

/** Flat [path, value] pairs of a document: promoted fields, then metadata.<Keyword> (sequences as JSON). */
export function attributes(doc: Doc): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [k, v] of Object.entries(doc)) {
    if (k === 'metadata' || k === '_search_text' || k === 'instances') continue;
    out.push([k, v]);
  }
  const meta = doc.metadata;
  if (meta && typeof meta === 'object' && !Array.isArray(meta)) for (const [k, v] of Object.entries(meta as Doc)) out.push([`metadata.${k}`, v]);
  return out;
}

/** The DICOM keyword a promoted field copies (the seed's schema), for its tag and VR. */
const PROMOTED_KEYWORD: Record<string, string> = {
  patient_id: 'PatientID',
  study_instance_uid: 'StudyInstanceUID',
  study_date: 'StudyDate',
  accession_number: 'AccessionNumber',
  series_instance_uid: 'SeriesInstanceUID',
  series_number: 'SeriesNumber',
  series_description: 'SeriesDescription',
  modality: 'Modality',
  sop_instance_uid: 'SOPInstanceUID',
  sop_class_uid: 'SOPClassUID',
  instance_number: 'InstanceNumber',
  slice_location: 'SliceLocation',
  image_position_patient: 'ImagePositionPatient',
  acquisition_datetime: 'AcquisitionDateTime',
};

export function keywordOf(path: string): string | null {
  if (path.startsWith('metadata.')) return path.slice(9);
  return PROMOTED_KEYWORD[path] ?? null;
}

let dialog: HTMLDialogElement | null = null;

/** Opens the drawer on one document; `onClose` runs when it closes (the page drops ?details= from its URL). */
export function openDrawer(level: DrawerLevel, id: string, onClose?: () => void): void {
  dialog?.close();
  const body = h('div', { class: 'drawer-body' }, spinner());
  const closeBtn = h('button', { type: 'button', class: 'btn small', 'aria-label': 'Close details', 'data-testid': 'drawer-close' }, 'Close');
  const d = h('dialog', { class: 'drawer', 'aria-labelledby': 'drawer-title', 'data-testid': 'drawer' }, h('header', { class: 'drawer-head' }, h('h2', { id: 'drawer-title' }, `${level === 'studies' ? 'Study' : level === 'series' ? 'Series' : 'Instance'} ${id}`), closeBtn), body) as HTMLDialogElement;
  closeBtn.addEventListener('click', () => d.close());
  d.addEventListener('close', () => {
    d.remove();
    if (dialog === d) dialog = null;
    onClose?.();
  });
  document.body.append(d);
  dialog = d;
  d.showModal();
  void fill(body, level, id);
}

async function fill(body: HTMLElement, level: DrawerLevel, id: string) {
  try {
    const doc = await api.get<Doc>(`/${level}/${encodeURIComponent(id)}`);
    const attrs = attributes(doc);
    const keys = [...new Set(attrs.map(([p]) => keywordOf(p)).filter((k): k is string => !!k))];
    const dict = keys.length ? await api.dictionary(keys).catch(() => ({}) as Record<string, { tag: string; vr: string; name: string }>) : {};
    clear(body);
    body.append(tree(level, doc));
    const search = h('input', { type: 'search', placeholder: 'Search keyword, tag, VR or value', 'aria-label': 'Search attributes', 'data-testid': 'drawer-search', autocomplete: 'off' }) as HTMLInputElement;
    const rows = attrs.map(([path, v]) => {
      const kw = keywordOf(path);
      const e = kw ? (dict as Record<string, { tag: string; vr: string; name: string }>)[kw] : undefined;
      const value = typeof v === 'object' && v !== null ? JSON.stringify(v) : fmtValue(v);
      const tr = h('tr', { 'data-path': path }, h('th', { scope: 'row', class: 'mono' }, path), h('td', { class: 'mono', 'data-testid': 'attr-tag' }, e?.tag ?? '—'), h('td', { class: 'mono', 'data-testid': 'attr-vr' }, e?.vr ?? '—'), h('td', { class: 'small' }, e?.name ?? ''), h('td', { class: 'attr-value' }, value));
      tr.dataset.text = `${path} ${e?.tag ?? ''} ${e?.vr ?? ''} ${e?.name ?? ''} ${value}`.toLowerCase();
      return tr;
    });
    const count = h('span', { class: 'small muted', 'aria-live': 'polite' }, `${rows.length} attributes`);
    search.addEventListener('input', () => {
      const q = search.value.trim().toLowerCase();
      let shown = 0;
      for (const r of rows) {
        r.hidden = !!q && !r.dataset.text!.includes(q);
        if (!r.hidden) shown++;
      }
      count.textContent = `${shown} of ${rows.length} attributes`;
    });
    body.append(
      h('div', { class: 'toolbar' }, search, count),
      h('div', { class: 'table-wrap' }, h('table', { class: 'data attrs', 'data-testid': 'drawer-attrs' }, h('thead', null, h('tr', null, ['Keyword / field', 'Tag', 'VR', 'Name', 'Value'].map((t) => h('th', { scope: 'col' }, t)))), h('tbody', null, rows))),
    );
  } catch (e) {
    clear(body);
    body.append(errorBox(e, `Could not load ${level} ${id}`));
  }
}

/** study → series → instance, with links to the detail pages (and the children of this node, first page). */
function tree(level: DrawerLevel, doc: Doc): HTMLElement {
  const nav = h('nav', { class: 'drawer-tree', 'aria-label': 'Study, series and instances', 'data-testid': 'drawer-tree' });
  const studyId = level === 'studies' ? docId(doc) : String(doc.study_id ?? '');
  const seriesId = level === 'series' ? docId(doc) : level === 'instances' ? String(doc.series_id ?? '') : '';
  const ul = h('ul');
  if (studyId) ul.append(h('li', null, 'Study ', link(`/ui/studies/${encodeURIComponent(studyId)}`, String(getPath(doc, 'patient_id') ?? studyId)), ` · ${fmtValue(doc.study_date ?? '')}`));
  if (seriesId) ul.append(h('li', { class: 'indent' }, 'Series ', link(`/ui/series/${encodeURIComponent(seriesId)}`, level === 'series' ? `${fmtValue(doc.series_number)} ${fmtValue(doc.modality)}` : seriesId)));
  if (level === 'instances') ul.append(h('li', { class: 'indent2' }, 'Instance ', h('span', { class: 'mono' }, fmtValue(doc.instance_number)), ' · ', h('span', { class: 'mono' }, fmtValue(doc.sop_instance_uid))));
  nav.append(ul);
  const children = h('details', { class: 'small' });
  nav.append(children);
  const childPath = level === 'studies' ? `/studies/${encodeURIComponent(docId(doc))}/series` : level === 'series' ? `/series/${encodeURIComponent(docId(doc))}/instances` : null;
  if (childPath) {
    api
      .list(childPath, { limit: 20 })
      .then((r) => {
        children.open = level === 'studies';
        children.append(
          h('summary', null, `${r.total} ${level === 'studies' ? 'series' : 'instances'}${r.total > r.results.length ? ` (first ${r.results.length})` : ''}`),
          h('ul', { class: 'indent' }, r.results.map((c) => h('li', null, level === 'studies' ? link(`/ui/series/${encodeURIComponent(docId(c))}`, `${fmtValue(c.series_number)} ${fmtValue(c.modality)} ${fmtValue(c.series_description ?? '')}`) : h('span', { class: 'mono' }, `#${fmtValue(c.instance_number)} ${fmtValue(c.sop_instance_uid)}`)))),
        );
      })
      .catch((e) => children.append(errorBox(e, 'Could not list children')));
  }
  // links inside a modal: close it first so the page underneath navigates
  nav.addEventListener('click', (ev) => {
    if ((ev.target as Element).closest('a[data-link]')) dialog?.close();
  });
  return nav;
}

/** The "Details" cell/button every row table gets. */
export function detailsButton(level: DrawerLevel, id: string, onOpen?: () => void, onClose?: () => void): HTMLButtonElement {
  const b = h('button', { type: 'button', class: 'btn small ghost details-btn', 'aria-label': `Details of ${id}`, title: 'All attributes with tag and VR', 'data-testid': 'details-btn' }, 'Details');
  // Enter on the button must not also open the row it sits in
  b.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' || ev.key === ' ') ev.stopPropagation();
  });
  b.addEventListener('click', (ev) => {
    ev.stopPropagation();
    onOpen?.();
    openDrawer(level, id, onClose);
  });
  return b;
}
