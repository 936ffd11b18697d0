// The visual builder's DOM: AND/OR groups (nested, with a level selector on top-level groups in cohort mode)
// of field/operator/value rows, fields and value suggestions from GET /fields.
import type { CohortLevel, FieldInfo } from './api';
import { h, clear } from './dom';
import { LEVELS, OPS_BY_KIND, fieldKind, newGroup, newRow, opLabel, type FieldKind, type Group, type Node, type Op, type Row } from './filtertree';

export interface BuilderOpts {
  /** fields of a level's collection (loaded lazily; [] until known) */
  fieldsFor: (level: string) => FieldInfo[];
  /** the collection of a node's level: query mode → the collection; cohort mode → its top-level group's level */
  cohort: boolean;
  collection: string;
  ret: CohortLevel;
  /** called after every edit; `structural` when the builder must be drawn again (not while a value is typed) */
  onChange: (structural?: boolean) => void;
  /** row id -> message of an API validation error */
  errors: Map<number, string>;
}

const MAX_DEPTH = 4;

export function renderBuilder(root: Group, o: BuilderOpts): HTMLElement {
  const wrap = h('div', { class: 'qb', 'data-testid': 'builder' });
  wrap.append(groupEl(root, o, 0, null, o.cohort ? o.ret : o.collection));
  return wrap;
}

function kindOf(o: BuilderOpts, level: string, field: string): { kind: FieldKind; info?: FieldInfo } {
  const info = o.fieldsFor(level).find((f) => f.key === field);
  return { kind: info ? fieldKind(field, info.types) : fieldKind(field, []), info };
}

function groupEl(g: Group, o: BuilderOpts, depth: number, parent: Group | null, level: string): HTMLElement {
  const box = h('fieldset', { class: `qb-group depth-${depth}`, 'data-testid': 'qb-group', 'data-group-id': g.id });
  const legendId = `qb-g${g.id}`;
  const opSel = h('select', { 'aria-label': 'Combine conditions with', 'data-testid': 'qb-group-op' }, h('option', { value: 'and', selected: g.op === 'and' }, 'ALL of (AND)'), h('option', { value: 'or', selected: g.op === 'or' }, 'ANY of (OR)')) as HTMLSelectElement;
  opSel.addEventListener('change', () => {
    g.op = opSel.value as Group['op'];
    o.onChange(true);
  });
  const head = h('legend', { id: legendId, class: 'qb-head' }, depth === 0 ? 'Match ' : 'Group: ', opSel);
  if (o.cohort && depth === 1) {
    const lv = h('select', { 'aria-label': 'Level this group filters', 'data-testid': 'qb-level' }, LEVELS.map((l) => h('option', { value: l, selected: (g.level ?? o.ret) === l }, l))) as HTMLSelectElement;
    lv.addEventListener('change', () => {
      g.level = lv.value as CohortLevel;
      o.onChange(true);
    });
    head.append(' on ', lv);
  }
  box.append(head);
  const list = h('div', { class: 'qb-children' });
  for (const c of g.children) {
    const childLevel = o.cohort && depth === 0 && c.kind === 'group' ? c.level ?? o.ret : level;
    list.append(c.kind === 'row' ? rowEl(c, o, g, childLevel) : groupEl(c, o, depth + 1, g, childLevel));
  }
  if (!g.children.length) list.append(h('p', { class: 'small muted' }, depth === 0 ? 'No conditions: everything matches. Add a condition.' : 'Empty group.'));
  box.append(list);
  const add = (n: Node) => {
    g.children.push(n);
    o.onChange(true);
    // keyboard users continue in the new row's field
    const rowId = n.kind === 'row' ? n.id : n.children[0]?.id;
    document.querySelector<HTMLElement>(`[data-row-id="${rowId}"] [data-testid="qb-field"]`)?.focus();
  };
  const actions = h(
    'div',
    { class: 'qb-actions' },
    h('button', { type: 'button', class: 'btn small', 'data-testid': 'qb-add-row', onclick: () => add(newRow()) }, '+ Condition'),
    depth < MAX_DEPTH ? h('button', { type: 'button', class: 'btn small', 'data-testid': 'qb-add-group', onclick: () => add(newGroup(g.op === 'and' ? 'or' : 'and', [newRow()], o.cohort && depth === 0 ? o.ret : undefined)) }, '+ Group') : null,
    parent
      ? h('button', { type: 'button', class: 'btn small ghost', 'aria-label': 'Remove this group', onclick: () => { parent.children.splice(parent.children.indexOf(g), 1); o.onChange(true); } }, 'Remove group')
      : null,
  );
  box.append(actions);
  return box;
}

let listSeq = 0;

function rowEl(r: Row, o: BuilderOpts, parent: Group, level: string): HTMLElement {
  const { kind, info } = kindOf(o, level, r.field);
  const ops = OPS_BY_KIND[kind].includes(r.op) ? OPS_BY_KIND[kind] : [...OPS_BY_KIND[kind], r.op];
  const el = h('div', { class: 'qb-row', role: 'group', 'aria-label': `Condition on ${r.field || 'a field'}`, 'data-testid': 'qb-row', 'data-row-id': r.id });

  const fieldsId = `qb-fields-${level}`;
  const field = h('input', { type: 'text', class: 'code qb-field', value: r.field, list: fieldsId, placeholder: 'field, e.g. metadata.Manufacturer', 'aria-label': 'Field', 'data-testid': 'qb-field', autocomplete: 'off', spellcheck: 'false' }) as HTMLInputElement;
  field.addEventListener('change', () => {
    r.field = field.value.trim();
    const k = kindOf(o, level, r.field);
    // a fresh row takes the field's natural operator (a range for numbers and dates)
    if (!OPS_BY_KIND[k.kind].includes(r.op) || (r.value === '' && r.value2 === '')) r.op = OPS_BY_KIND[k.kind][0]!;
    r.vtype = k.kind === 'number' || r.op === 'size' ? 'number' : k.kind === 'boolean' || r.op === 'exists' ? 'boolean' : 'string';
    o.onChange(true);
  });
  const op = h('select', { 'aria-label': 'Operator', 'data-testid': 'qb-op' }, ops.map((x: Op) => h('option', { value: x, selected: x === r.op }, opLabel(x, kind)))) as HTMLSelectElement;
  op.addEventListener('change', () => {
    r.op = op.value as Op;
    if (r.op === 'exists') {
      r.vtype = 'boolean';
      r.value = 'true';
    } else if (r.op === 'size') r.vtype = 'number';
    else r.vtype = kind === 'number' ? 'number' : kind === 'boolean' ? 'boolean' : 'string';
    o.onChange(true);
  });

  const sugId = `qb-sug-${++listSeq}`;
  const sug = h('datalist', { id: sugId }, (info?.top ?? []).map((b) => h('option', { value: b.value }, `${b.count}`)));
  const valueInput = (which: 'value' | 'value2', label: string) => {
    const date = kind === 'date' && r.op !== 'regex' && r.op !== 'wildcard';
    const cur = r[which];
    const inp = h('input', {
      type: date ? 'date' : r.vtype === 'number' ? 'number' : 'text',
      step: r.vtype === 'number' ? 'any' : undefined,
      value: date ? daToIso(cur) : cur,
      'aria-label': label,
      'data-testid': which === 'value' ? 'qb-value' : 'qb-value2',
      list: date ? undefined : sugId,
      class: 'qb-value',
      autocomplete: 'off',
    }) as HTMLInputElement;
    inp.addEventListener('input', () => {
      r[which] = date ? isoToDa(inp.value) : inp.value;
      // values do not change the structure: no re-render, so typing keeps focus
      o.onChange(false);
    });
    return inp;
  };
  const values = h('span', { class: 'qb-values' });
  if (r.op === 'exists') {
    const ex = h('select', { 'aria-label': 'Present or absent', 'data-testid': 'qb-value' }, h('option', { value: 'true', selected: r.value !== 'false' }, 'present'), h('option', { value: 'false', selected: r.value === 'false' }, 'absent')) as HTMLSelectElement;
    ex.addEventListener('change', () => {
      r.value = ex.value;
      o.onChange(true);
    });
    values.append(ex);
  } else if (r.op === 'range') {
    const lo = h('select', { 'aria-label': 'Lower bound kind' }, h('option', { value: '$gte', selected: r.lo === '$gte' }, '≥'), h('option', { value: '$gt', selected: r.lo === '$gt' }, '>')) as HTMLSelectElement;
    const hi = h('select', { 'aria-label': 'Upper bound kind' }, h('option', { value: '$lte', selected: r.hi === '$lte' }, '≤'), h('option', { value: '$lt', selected: r.hi === '$lt' }, '<')) as HTMLSelectElement;
    lo.addEventListener('change', () => ((r.lo = lo.value as Row['lo']), o.onChange(true)));
    hi.addEventListener('change', () => ((r.hi = hi.value as Row['hi']), o.onChange(true)));
    values.append(lo, valueInput('value', 'From'), hi, valueInput('value2', 'To'));
  } else {
    values.append(valueInput('value', r.op === 'in' || r.op === 'nin' || r.op === 'all' ? 'Values, comma-separated' : 'Value'));
  }
  const presence = info ? h('span', { class: 'small muted qb-presence', title: 'documents with this field (sample)' }, `${info.types.join('/')} · ${info.count}`) : null;
  const remove = h('button', { type: 'button', class: 'btn small ghost', 'aria-label': 'Remove this condition', 'data-testid': 'qb-remove', onclick: () => { parent.children.splice(parent.children.indexOf(r), 1); o.onChange(true); } }, '✕');
  const err = o.errors.get(r.id);
  el.append(field, op, values, sug, ...(presence ? [presence] : []), remove);
  if (err) {
    el.classList.add('has-error');
    el.append(h('div', { class: 'field-msg bad-text qb-error', role: 'alert', 'data-testid': 'qb-row-error' }, err));
  }
  return el;
}

/** The shared <datalist> of field names for each level (one per level, kept in the page). */
export function fieldDatalists(levels: string[], fieldsFor: (level: string) => FieldInfo[]): HTMLElement {
  const box = h('div', { hidden: true });
  for (const l of levels) {
    box.append(h('datalist', { id: `qb-fields-${l}` }, fieldsFor(l).map((f) => h('option', { value: f.key }, `${f.types.join('/')} · ${f.count}`))));
  }
  return box;
}

export function refill(el: HTMLElement, content: HTMLElement): void {
  clear(el);
  el.append(content);
}

const daToIso = (v: string) => (/^\d{8}$/.test(v) ? `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 8)}` : '');
const isoToDa = (v: string) => v.replace(/-/g, '');
