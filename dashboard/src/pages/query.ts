// Query page: visual builder (AND/OR groups, cross-level cohorts) <-> raw JSON, live count, plain-language box,
// results of POST /query or POST /cohort. Everything the page shows is in its URL.
import { registerPage, type PageCtx } from '../router';
import { api, ApiError, docId, type CohortBody, type CohortLevel, type Doc, type FieldInfo, type QueryBody, type TranslateResult } from '../api';
import { h, append, clear, spinner, emptyState, fmtDate, fmtNum } from '../dom';
import { dataTable, errorBox, pageHeader, type Column } from '../ui';
import { flattenDoc, collectColumns } from '../csv';
import { QUERY_COLLECTIONS, checkJsonObject, parseSortInput, rangeLabel } from '../urlstate';
import { parseQueryPage, queryPageToSearch, type QueryPageState } from '../querystate';
import { LEVELS, compileCohort, compileGroup, parseCohort, parseFilter, rowForErrorPath, Unrepresentable, type Group } from '../filtertree';
import { fieldDatalists, renderBuilder } from '../builder';
import { breakdowns } from '../breakdowns';
import { detailsButton } from '../drawer';

const EXAMPLES: { label: string; state: Partial<QueryPageState> }[] = [
  { label: 'Thin-slice CT (≤ 1.5 mm)', state: { mode: 'query', collection: 'series', json: JSON.stringify({ modality: 'CT', 'metadata.SliceThickness': { $lte: 1.5 } }), sort: '-num_instances' } },
  { label: 'Siemens or GE, B kernels', state: { mode: 'query', collection: 'series', json: JSON.stringify({ $or: [{ 'metadata.Manufacturer': 'SIEMENS' }, { 'metadata.Manufacturer': 'GE MEDICAL SYSTEMS' }], 'metadata.ConvolutionKernel': { $regex: '^B' } }) } },
  { label: 'Series with ≥ 100 images', state: { mode: 'query', collection: 'series', json: JSON.stringify({ num_instances: { $gte: 100 } }), sort: '-num_instances' } },
  { label: 'Studies 2000–2005', state: { mode: 'query', collection: 'studies', json: JSON.stringify({ study_date: { $gte: '20000101', $lte: '20051231' } }), sort: 'study_date' } },
  { label: 'Cohort: CT series ≥ 100 images of studies since 2005', state: { mode: 'cohort', ret: 'series', json: JSON.stringify({ studies: { study_date: { $gte: '20050101' } }, series: { modality: 'CT', num_instances: { $gte: 100 } } }) } },
  { label: 'Series missing a kernel', state: { mode: 'query', collection: 'series', json: JSON.stringify({ 'metadata.ConvolutionKernel': { $exists: false } }) } },
];

const PREFERRED: Record<string, string[]> = {
  series: ['series_number', 'modality', 'series_description', 'metadata.Manufacturer', 'metadata.ConvolutionKernel', 'metadata.SliceThickness', 'num_instances'],
  studies: ['patient_id', 'study_date', 'accession_number', 'metadata.StudyDescription'],
  instances: ['instance_number', 'sop_instance_uid', 'path'],
  collections: ['name', 'description'],
  researchers: ['researcher_id', 'name', 'email'],
  jobs: ['name', 'status', 'progress', 'researcher_id'],
};

const LIVE_DELAY_MS = 300;

export function renderQuery(ctx: PageCtx) {
  const st: QueryPageState = parseQueryPage(ctx.search);
  // The JSON text is the truth; the tree mirrors it whenever the builder can show it.
  let tree: Group | null = null;
  let treeWhy = '';
  const rowErrors = new Map<number, string>();
  const fields = new Map<string, FieldInfo[]>();

  const modeQuery = h('input', { type: 'radio', name: 'q-mode', id: 'q-mode-query', value: 'query', checked: st.mode === 'query' }) as HTMLInputElement;
  const modeCohort = h('input', { type: 'radio', name: 'q-mode', id: 'q-mode-cohort', value: 'cohort', checked: st.mode === 'cohort', 'data-testid': 'mode-cohort' }) as HTMLInputElement;
  const coll = h('select', { id: 'q-collection', name: 'collection' }, QUERY_COLLECTIONS.map((c) => h('option', { value: c, selected: c === st.collection }, c))) as HTMLSelectElement;
  const ret = h('select', { id: 'q-return', name: 'return', 'data-testid': 'q-return' }, LEVELS.map((l) => h('option', { value: l, selected: l === st.ret }, l))) as HTMLSelectElement;
  const collField = h('div', { class: 'field' }, h('label', { for: 'q-collection' }, 'Collection'), coll);
  const retField = h('div', { class: 'field' }, h('label', { for: 'q-return' }, 'Return'), ret);
  const json = h('textarea', { id: 'q-filter', name: 'filter', rows: 8, spellcheck: 'false', 'aria-describedby': 'q-filter-msg', 'data-search': '', class: 'code', 'data-testid': 'q-json' }) as HTMLTextAreaElement;
  json.value = st.json;
  const jsonMsg = h('div', { id: 'q-filter-msg', class: 'field-msg', 'aria-live': 'polite' });
  const jsonLabel = h('label', { for: 'q-filter' }, 'Filter (JSON)');
  const sort = h('input', { id: 'q-sort', name: 'sort', type: 'text', value: st.sort, placeholder: '-num_instances,series_number  or  {"study_date": -1}', autocomplete: 'off', class: 'code' }) as HTMLInputElement;
  const sortMsg = h('div', { class: 'field-msg', 'aria-live': 'polite' });
  const skip = h('input', { id: 'q-skip', name: 'skip', type: 'number', min: 0, value: st.skip }) as HTMLInputElement;
  const limit = h('input', { id: 'q-limit', name: 'limit', type: 'number', min: 1, max: 1000, value: st.limit }) as HTMLInputElement;
  const runBtn = h('button', { type: 'submit', class: 'btn primary', id: 'q-run' }, 'Run query');
  const examples = h('select', { id: 'q-examples', 'aria-label': 'Insert an example' }, h('option', { value: '' }, 'Examples…'), EXAMPLES.map((e, i) => h('option', { value: i }, e.label))) as HTMLSelectElement;
  const fmtBtn = h('button', { type: 'button', class: 'btn ghost small', onclick: () => prettify() }, 'Format JSON');
  const liveCount = h('div', { class: 'live-count', 'aria-live': 'polite', 'data-testid': 'live-count' }, '');
  const builderBox = h('div', { class: 'qb-box' });
  const datalists = h('div');

  // Plain-language questions (POST /nl/translate): shown, then loaded into the builder and run only when confirmed.
  const question = h('input', { id: 'nl-question', type: 'text', class: 'grow', maxlength: 1000, placeholder: 'e.g. CT series from Siemens thinner than 1.5 mm with at least 100 images after 2005', autocomplete: 'off', 'data-testid': 'nl-question' }) as HTMLInputElement;
  const nlOut = h('div', { class: 'nl-out', 'aria-live': 'polite', 'data-testid': 'nl-out' });
  const nlForm = h(
    'form',
    { class: 'card nl-form', 'aria-label': 'Plain-language question' },
    h('div', { class: 'field' }, h('label', { for: 'nl-question' }, 'Ask in plain language'), h('div', { class: 'row-inline' }, question, h('button', { type: 'submit', class: 'btn', 'data-testid': 'nl-translate' }, 'Translate'))),
    nlOut,
  );
  nlForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void translate();
  });

  const form = h(
    'form',
    { class: 'card query-form', 'aria-label': 'Query' },
    h('fieldset', { class: 'mode' }, h('legend', null, 'Search'), h('label', { for: 'q-mode-query' }, modeQuery, ' one collection (POST /query)'), h('label', { for: 'q-mode-cohort' }, modeCohort, ' cross-level cohort across studies, series and instances (POST /cohort)')),
    h(
      'div',
      { class: 'query-top' },
      collField,
      retField,
      h('div', { class: 'field grow' }, h('label', { for: 'q-sort' }, 'Sort'), sort, sortMsg),
      h('div', { class: 'field narrow' }, h('label', { for: 'q-skip' }, 'Skip'), skip),
      h('div', { class: 'field narrow' }, h('label', { for: 'q-limit' }, 'Limit'), limit),
    ),
    h('h2', { class: 'section-title' }, 'Builder'),
    builderBox,
    datalists,
    liveCount,
    h('details', { class: 'json-editor', open: true }, h('summary', null, 'JSON (edits here update the builder)'), h('div', { class: 'field' }, h('div', { class: 'label-row' }, jsonLabel, h('span', { class: 'small muted' }, 'Operators: $eq $ne $gt $gte $lt $lte $in $nin $exists $regex $and $or $nor $not $elemMatch $size $all')), json, jsonMsg)),
    h('div', { class: 'form-actions' }, runBtn, h('span', { class: 'small muted' }, h('kbd', null, 'Ctrl'), '+', h('kbd', null, 'Enter'), ' runs'), examples, fmtBtn),
  );
  const out = h('section', { class: 'results', 'aria-label': 'Query results' });
  ctx.main.append(pageHeader('Query builder', 'Build a filter with the builder, in JSON, or from a plain-language question; the count updates as you edit.'), nlForm, form, out);

  const mode = () => (modeCohort.checked ? 'cohort' : 'query');
  const levelsShown = () => (mode() === 'cohort' ? LEVELS : [coll.value]);

  function fieldsFor(level: string): FieldInfo[] {
    if (!fields.has(level)) {
      fields.set(level, []);
      api
        .fields(level, ctx.signal)
        .then((r) => {
          fields.set(level, r.fields);
          drawBuilder();
        })
        .catch((e) => {
          if ((e as Error).name !== 'AbortError') console.warn('GET /fields failed', e);
        });
    }
    return fields.get(level)!;
  }

  /** JSON text -> tree (or the reason it cannot be shown). */
  function syncTreeFromJson(): boolean {
    const c = checkJsonObject(json.value);
    if (!c.ok) return false;
    try {
      if (mode() === 'cohort') {
        const body = c.value as Doc;
        const bad = Object.keys(body).filter((k) => !(LEVELS as string[]).includes(k));
        if (bad.length) throw new Unrepresentable(`the cohort JSON names ${bad.join(', ')}; it holds only "studies", "series" and "instances" filters`);
        tree = parseCohort(body as Pick<CohortBody, CohortLevel>);
      } else tree = parseFilter(c.value);
      treeWhy = '';
    } catch (e) {
      if (!(e instanceof Unrepresentable)) throw e;
      tree = null;
      treeWhy = e.message;
    }
    return true;
  }

  function drawBuilder() {
    // A redraw (fields arriving, a structural edit) keeps the keyboard focus where it was.
    const active = document.activeElement as HTMLElement | null;
    const rowId = active?.closest<HTMLElement>('[data-row-id]')?.dataset.rowId;
    const role = active?.dataset.testid;
    const caret = active instanceof HTMLInputElement && active.type === 'text' ? active.selectionStart : null;
    redraw();
    if (rowId && role && builderBox.contains(document.activeElement) === false) {
      const again = builderBox.querySelector<HTMLElement>(`[data-row-id="${rowId}"] [data-testid="${role}"]`);
      again?.focus();
      if (again instanceof HTMLInputElement && caret !== null && again.type === 'text') again.setSelectionRange(caret, caret);
    }
  }

  function redraw() {
    clear(builderBox);
    clear(datalists);
    if (!tree) {
      builderBox.append(h('div', { class: 'note', role: 'note', 'data-testid': 'qb-note' }, treeWhy ? `The builder cannot show this filter: ${treeWhy}. It stays in JSON and runs as written.` : 'Fix the JSON below to see it in the builder.'));
      return;
    }
    datalists.append(fieldDatalists(levelsShown(), fieldsFor));
    builderBox.append(renderBuilder(tree, { fieldsFor, cohort: mode() === 'cohort', collection: coll.value, ret: ret.value as CohortLevel, errors: rowErrors, onChange: builderChanged }));
  }

  function treeToJson(): string {
    if (!tree) return json.value;
    const value = mode() === 'cohort' ? compileCohort(tree, ret.value as CohortLevel) : compileGroup(tree);
    return JSON.stringify(value, null, 2);
  }

  function builderChanged(structural = true) {
    rowErrors.clear();
    json.value = treeToJson();
    validate();
    if (structural) drawBuilder();
    else builderBox.querySelectorAll('.qb-error').forEach((e) => e.remove());
    stateChanged();
  }

  function currentState(run: boolean): QueryPageState {
    return {
      mode: mode(),
      collection: coll.value,
      ret: ret.value as CohortLevel,
      json: json.value,
      sort: sort.value,
      skip: Math.max(0, Number(skip.value) || 0),
      limit: Math.min(1000, Math.max(1, Number(limit.value) || 50)),
      run,
    };
  }

  // The URL follows every edit. The first edit after a run gets its own history entry (so Back returns to the run
  // as it was), later edits replace it, and the next run takes that entry over.
  let urlTimer = 0;
  let editEntry = false;
  function stateChanged() {
    clearTimeout(urlTimer);
    urlTimer = window.setTimeout(() => {
      const url = '/ui/query' + queryPageToSearch(currentState(false));
      if (url === location.pathname + location.search) return;
      if (!editEntry && new URLSearchParams(location.search).get('run') === '1') history.pushState(null, '', url);
      else history.replaceState(null, '', url);
      editEntry = true;
    }, 150);
    scheduleCount();
  }

  function validate(): boolean {
    const f = checkJsonObject(json.value, mode() === 'cohort' ? 'Cohort' : 'Filter');
    jsonMsg.textContent = f.ok ? '✓ valid JSON' : f.message;
    jsonMsg.className = 'field-msg ' + (f.ok ? 'ok-text' : 'bad-text');
    json.setAttribute('aria-invalid', f.ok ? 'false' : 'true');
    const s = parseSortInput(sort.value);
    sortMsg.textContent = s.ok ? '' : s.message;
    sortMsg.className = 'field-msg ' + (s.ok ? '' : 'bad-text');
    sort.setAttribute('aria-invalid', s.ok ? 'false' : 'true');
    runBtn.disabled = !(f.ok && s.ok);
    return f.ok && s.ok;
  }

  function prettify() {
    const f = checkJsonObject(json.value);
    if (f.ok) json.value = JSON.stringify(f.value, null, 2);
    validate();
  }

  function modeChanged() {
    collField.hidden = mode() === 'cohort';
    retField.hidden = mode() !== 'cohort';
    jsonLabel.textContent = mode() === 'cohort' ? 'Cohort filters (JSON: {"studies": …, "series": …, "instances": …})' : 'Filter (JSON)';
  }

  /** The request the page would send (without paging for counts). */
  function request(paging: boolean): { path: '/query' | '/cohort'; body: Doc } | null {
    const f = checkJsonObject(json.value);
    const s = parseSortInput(sort.value);
    if (!f.ok || !s.ok) return null;
    const st2 = currentState(false);
    if (mode() === 'cohort') {
      const body: CohortBody = { ...(f.value as Doc), return: st2.ret, skip: paging ? st2.skip : 0, limit: paging ? st2.limit : 1 };
      if (paging && s.value !== undefined) body.sort = s.value;
      return { path: '/cohort', body: body as Doc };
    }
    const body: QueryBody = { collection: st2.collection as QueryBody['collection'], filter: f.value as Doc, skip: paging ? st2.skip : 0, limit: paging ? st2.limit : 0 };
    if (paging && s.value !== undefined) body.sort = s.value as QueryBody['sort'];
    return { path: '/query', body: body as Doc };
  }

  function showApiErrorOnRows(e: unknown): boolean {
    if (!(e instanceof ApiError) || !tree) return false;
    const path = (e.details as Doc | undefined)?.path;
    if (typeof path !== 'string') return false;
    const row = rowForErrorPath(tree, path);
    if (!row) return false;
    rowErrors.set(row.id, e.message);
    drawBuilder();
    return true;
  }

  // Live count: debounced; a newer edit aborts the request in flight.
  let countTimer = 0;
  let countCtl: AbortController | null = null;
  function scheduleCount() {
    clearTimeout(countTimer);
    liveCount.dataset.state = 'pending';
    countTimer = window.setTimeout(() => void liveCountNow(), LIVE_DELAY_MS);
  }
  async function liveCountNow() {
    countCtl?.abort();
    const req = request(false);
    if (!req) {
      liveCount.textContent = '';
      return;
    }
    const ctl = new AbortController();
    countCtl = ctl;
    ctx.signal.addEventListener('abort', () => ctl.abort());
    liveCount.textContent = 'Counting…';
    liveCount.dataset.state = 'loading';
    try {
      const res = await api.post<{ total: number; counts?: Record<string, number> }>(req.path, req.body, ctl.signal);
      if (ctl.signal.aborted) return;
      liveCount.dataset.state = 'done';
      clear(liveCount);
      const noun = req.path === '/cohort' ? ret.value : coll.value;
      liveCount.append(h('strong', { 'data-testid': 'live-total', 'data-total': res.total }, fmtNum(res.total)), ` ${noun} match`);
      if (res.counts) liveCount.append(' · ', h('span', { 'data-testid': 'live-counts' }, (['patients', 'studies', 'series', 'instances'] as const).map((k) => `${fmtNum(res.counts![k])} ${k}`).join(' · ')));
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      liveCount.dataset.state = 'error';
      liveCount.textContent = e instanceof ApiError ? `Not counted: ${e.message}` : 'Not counted';
      showApiErrorOnRows(e);
    }
  }

  json.addEventListener('input', () => {
    if (validate() && syncTreeFromJson()) drawBuilder();
    else if (!checkJsonObject(json.value).ok) {
      tree = null;
      treeWhy = '';
      drawBuilder();
    }
    stateChanged();
  });
  sort.addEventListener('input', () => (validate(), stateChanged()));
  for (const el of [modeQuery, modeCohort]) {
    el.addEventListener('change', () => {
      // Switching keeps the conditions: a query's filter becomes the filter of its level, and back.
      const c = checkJsonObject(json.value);
      if (c.ok) {
        if (mode() === 'cohort') {
          const level = (LEVELS as string[]).includes(coll.value) ? (coll.value as CohortLevel) : 'series';
          ret.value = level;
          json.value = JSON.stringify(Object.keys(c.value as Doc).length ? { [level]: c.value } : {}, null, 2);
        } else {
          const body = c.value as Doc;
          const level = ret.value;
          coll.value = level;
          json.value = JSON.stringify(body[level] ?? {}, null, 2);
        }
      }
      modeChanged();
      syncTreeFromJson();
      drawBuilder();
      validate();
      stateChanged();
    });
  }
  coll.addEventListener('change', () => (drawBuilder(), stateChanged()));
  ret.addEventListener('change', () => builderChanged(true));
  for (const el of [skip, limit]) el.addEventListener('change', stateChanged);
  examples.addEventListener('change', () => {
    const ex = EXAMPLES[Number(examples.value)];
    examples.value = '';
    if (!ex) return;
    load({ ...currentState(false), sort: '', ...ex.state, json: JSON.stringify(JSON.parse(ex.state.json!), null, 2) }, false);
  });
  form.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void run(true);
  });

  /** Puts a whole state into the form (examples, plain-language answers) and optionally runs it. */
  function load(s: QueryPageState, runIt: boolean) {
    modeQuery.checked = s.mode === 'query';
    modeCohort.checked = s.mode === 'cohort';
    coll.value = s.collection;
    ret.value = s.ret;
    json.value = s.json;
    sort.value = s.sort;
    skip.value = String(s.skip);
    limit.value = String(s.limit);
    modeChanged();
    syncTreeFromJson();
    drawBuilder();
    validate();
    stateChanged();
    if (runIt) void run(true);
  }

  let runCtl: AbortController | null = null;
  async function run(pushHistory: boolean) {
    if (!validate()) return;
    const req = request(true);
    if (!req) return;
    const s = currentState(true);
    const url = '/ui/query' + queryPageToSearch(s);
    clearTimeout(urlTimer);
    if (pushHistory && !editEntry && location.pathname + location.search !== url) history.pushState(null, '', url);
    else history.replaceState(null, '', url);
    editEntry = false;
    runCtl?.abort();
    const ctl = new AbortController();
    runCtl = ctl;
    ctx.signal.addEventListener('abort', () => ctl.abort());
    clear(out);
    out.append(spinner('Running query…'));
    const t0 = performance.now();
    const level = req.path === '/cohort' ? s.ret : s.collection;
    try {
      const res = await api.post<{ results: Doc[]; total: number; counts?: Record<string, number> }>(req.path, req.body, ctl.signal);
      const ms = performance.now() - t0;
      clear(out);
      const flat = res.results.map((d) => flattenDoc(d, '', {}, new Set(['instances', '_search_text', 'series'])));
      const keys = collectColumns(flat, ['_id', ...(PREFERRED[level] ?? [])]).filter((k) => k !== '_id').slice(0, 10);
      const columns: Column[] = keys.map((k) => ({
        key: k,
        label: k.replace(/^metadata\./, ''),
        className: /uid$/i.test(k) ? 'mono uid' : /(_date|_at|Date)$/.test(k) ? 'nowrap' : undefined,
        get: (d: Doc) => {
          const v = flattenDoc(d, '', {}, new Set())[k];
          return /(_date|_at|Date)$/.test(k) ? fmtDate(v) : v;
        },
      }));
      const linkable = level === 'series' || level === 'studies';
      if (level === 'series' || level === 'studies' || level === 'instances') columns.unshift({ key: '_details', label: '', render: (d) => detailsButton(level, docId(d)) });
      const counts = res.counts ? h('p', { class: 'small', 'data-testid': 'cohort-counts' }, (['patients', 'studies', 'series', 'instances'] as const).map((k) => h('span', { class: 'count-chip', 'data-count': k }, `${fmtNum(res.counts![k])} ${k}`))) : null;
      const side = level === 'series' ? breakdowns(req.path === '/cohort' ? { cohort: req.body as CohortBody } : { filter: (req.body as QueryBody).filter as Doc }, ctl.signal) : null;
      append(out, [
        h('div', { class: 'toolbar' }, h('span', { class: 'range', 'data-testid': 'query-total', 'data-total': res.total }, rangeLabel(s.skip, res.results.length, res.total)), h('span', { class: 'small muted' }, `${ms.toFixed(0)} ms`)),
        counts,
        h(
          'div',
          { class: side ? 'with-side' : '' },
          h('div', { class: 'main-col' }, res.results.length ? dataTable({ columns, rows: res.results, rowHref: linkable ? (d) => `/ui/${level}/${encodeURIComponent(docId(d))}` : undefined, testId: 'query-table' }) : emptyState('No documents match this filter.')),
          side,
        ),
        h('details', { class: 'raw', open: res.results.length === 0 }, h('summary', null, 'Raw JSON response'), h('pre', { class: 'json', 'data-testid': 'query-json' }, JSON.stringify(res, null, 2))),
        curlHint(req.path, req.body),
      ]);
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      clear(out);
      showApiErrorOnRows(e);
      out.append(errorBox(e, 'Query rejected'));
    }
  }

  function curlHint(path: string, body: unknown): HTMLElement {
    const cmd = `curl -s -X POST ${location.origin}${path} -H 'Content-Type: application/json' -d '${JSON.stringify(body).replace(/'/g, "'\\''")}'`;
    return h('details', { class: 'raw' }, h('summary', null, 'Same query with curl'), h('pre', { class: 'json' }, cmd));
  }

  let nlCtl: AbortController | null = null;
  async function translate() {
    const q = question.value.trim();
    if (!q) return;
    nlCtl?.abort();
    const ctl = new AbortController();
    nlCtl = ctl;
    ctx.signal.addEventListener('abort', () => ctl.abort());
    clear(nlOut);
    nlOut.append(spinner('Translating…'));
    let t: TranslateResult;
    try {
      t = await api.translate(q, ctl.signal);
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      clear(nlOut);
      nlOut.append(errorBox(e, 'Could not translate'));
      return;
    }
    clear(nlOut);
    const confirm = h('button', { type: 'button', class: 'btn primary', 'data-testid': 'nl-confirm' }, 'Load into the builder and run');
    confirm.addEventListener('click', () => {
      const r = t.request;
      if (t.endpoint === '/cohort') {
        const levels: Doc = {};
        for (const l of LEVELS) if (r[l] !== undefined) levels[l] = r[l];
        load({ ...currentState(false), mode: 'cohort', ret: (r.return as CohortLevel) ?? 'series', json: JSON.stringify(levels, null, 2), sort: '', skip: 0 }, true);
      } else {
        load({ ...currentState(false), mode: 'query', collection: String(r.collection ?? 'series'), json: JSON.stringify(r.filter ?? {}, null, 2), sort: '', skip: 0 }, true);
      }
    });
    nlOut.append(
      h('p', null, h('strong', { 'data-testid': 'nl-count', 'data-total': t.count }, fmtNum(t.count)), ` ${t.count_of} match · runs ${t.endpoint}`),
      h('div', { class: 'small' }, 'Fields: ', t.fields.length ? t.fields.map((f) => h('code', { class: 'chip' }, f)) : '—'),
      h('div', { class: 'small', 'data-testid': 'nl-not-understood' }, 'Not understood: ', t.not_understood.length ? t.not_understood.map((w) => h('span', { class: 'chip warn' }, w)) : 'nothing (every word was used)'),
      h('pre', { class: 'json', 'data-testid': 'nl-request' }, JSON.stringify(t.request, null, 2)),
      confirm,
    );
  }

  modeChanged();
  validate();
  syncTreeFromJson();
  drawBuilder();
  scheduleCount();
  if (st.run) void run(false);
}

registerPage({ path: '/ui/query', render: renderQuery, nav: 'query', title: 'Query builder' });
