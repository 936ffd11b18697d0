// The overview's annotation (#13 LIDC reads) and QC chart panels and the exact list each bar opens. Apart from
// series_facets.ts (the filters), which urlstate.ts imports: querystate.ts imports urlstate.ts.
import { queryHref } from './querystate';
import type { Bucket } from './api';
import { KERNEL_CLASSES, QC_FLAGS } from './series_facets';

export interface FacetChart {
  key: string; // the /stats distribution key as the server sent it (canonicalised)
  title: string;
  ordered?: boolean;
  href?: (b: Bucket) => string | null;
}

const lower = (b: Bucket): string | null => {
  const m = /(\d+(?:\.\d+)?)/.exec(b.value);
  return m ? m[1]! : null;
};
const series = (param: string, value: string | null) => (value === null ? null : `/ui/series?${new URLSearchParams({ [param]: value })}`);
const exact = (param: string, allowed: string[]) => (b: Bucket) => (allowed.includes(String(b.raw ?? b.value)) ? series(param, String(b.raw ?? b.value)) : null);

// The exact condition of a /stats bucket of a number field: "N", ">=N" or "A-B" (half-open, as /stats counts it;
// `first` is the lowest bucket, which /stats also gives the values below its lower bound).
function bucketCondition(value: string, first?: string): unknown {
  let m = /^>=\s*(\d+(?:\.\d+)?)$/.exec(value);
  if (m) return { $gte: Number(m[1]) };
  m = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(value);
  if (m) return value === first ? { $lt: Number(m[2]) } : { $gte: Number(m[1]), $lt: Number(m[2]) };
  m = /^(\d+)$/.exec(value);
  return m ? Number(m[1]) : null;
}
const exactQuery = (field: string, first?: string) => (b: Bucket) => {
  const condition = bucketCondition(String(b.value), first);
  return condition === null ? null : queryHref('series', { [field]: condition });
};

// Each facet under the names a /stats answer may give it (canonical dist keys: lower case, '_' for '.' and camel).
const FACETS: { names: string[]; title: string; ordered?: boolean; href?: (b: Bucket) => string | null }[] = [
  { names: ['nodules_per_series', 'nodules', 'annotations_nodules'], title: 'Nodules per series', ordered: true, href: exactQuery('annotations.nodules') },
  { names: ['max_nodule_diameter_mm', 'max_diameter_mm', 'annotations_max_diameter_mm', 'nodule_diameter_mm', 'diameter_mm'], title: 'Largest nodule (mm)', ordered: true, href: exactQuery('annotations.max_diameter_mm', '3-6') },
  { names: ['max_malignancy', 'annotations_max_malignancy', 'malignancy'], title: 'Highest malignancy rating', ordered: true, href: exactQuery('annotations.max_malignancy') },
  { names: ['max_nodule_readers', 'annotations_max_nodule_readers', 'nodule_readers'], title: 'Readers of the most-read nodule', ordered: true, href: (b) => series('min_nodule_readers', lower(b)) },
  { names: ['readers_per_series', 'readers', 'annotations_readers'], title: 'Reading sessions per series', ordered: true, href: exactQuery('annotations.readers') },
  { names: ['qc_flags', 'qc_flag', 'flags'], title: 'QC problems (series)', href: exact('qc_flag', QC_FLAGS) },
  { names: ['kernel_class', 'qc_kernel_class'], title: 'Kernel class', href: exact('kernel_class', KERNEL_CLASSES) },
  { names: ['z_spacing', 'qc_z_spacing', 'z_spacing_median', 'qc_z_spacing_median'], title: 'Slice spacing (mm)', ordered: true },
  { names: ['regular_spacing', 'qc_regular_spacing'], title: 'Regular slice spacing' },
];

/** The facet panels present in a /stats answer (nothing when absent), in a fixed order. */
export function facetCharts(distributionKeys: string[]): FacetChart[] {
  const have = new Set(distributionKeys);
  const out: FacetChart[] = [];
  for (const f of FACETS) {
    const key = f.names.find((n) => have.has(n));
    if (key) out.push({ key, title: f.title, ordered: f.ordered, href: f.href });
  }
  return out;
}
