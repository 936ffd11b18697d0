// Annotation (#13 LIDC reads) and QC facets: series-list filters and overview chart panels with their links.
import type { Bucket } from './api';
import type { FilterDef } from './urlstate';

export const QC_FLAGS = ['missing_slices', 'duplicate_positions', 'instance_number_holes', 'mixed_orientation', 'mixed_pixel_spacing', 'irregular_spacing', 'no_geometry'];
export const KERNEL_CLASSES = ['soft', 'standard', 'sharp', 'unknown'];

/** GET /series parameters of CONTRACTS.md; hidden by the list page while the server does not declare them. */
export const SERIES_FACET_FILTERS: FilterDef[] = [
  { name: 'min_nodules', label: 'Min. nodules', type: 'number', step: '1' },
  { name: 'min_max_diameter_mm', label: 'Largest nodule ≥ (mm)', type: 'number', step: 'any' },
  { name: 'min_malignancy', label: 'Malignancy ≥ (1–5)', type: 'number', step: '1' },
  { name: 'min_nodule_readers', label: 'Readers of one nodule ≥', type: 'number', step: '1' },
  { name: 'qc_flag', label: 'QC problem', type: 'select', options: QC_FLAGS },
  { name: 'kernel_class', label: 'Kernel class', type: 'select', options: KERNEL_CLASSES },
];

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

// Each facet under the names a /stats answer may give it (canonical dist keys: lower case, '_' for '.' and camel).
const FACETS: { names: string[]; title: string; ordered?: boolean; href?: (b: Bucket) => string | null }[] = [
  { names: ['nodules', 'annotations_nodules', 'nodules_per_series'], title: 'Nodules per series', ordered: true, href: (b) => series('min_nodules', lower(b)) },
  { names: ['max_diameter_mm', 'annotations_max_diameter_mm', 'nodule_diameter_mm', 'diameter_mm'], title: 'Largest nodule (mm)', ordered: true, href: (b) => series('min_max_diameter_mm', lower(b)) },
  { names: ['max_malignancy', 'annotations_max_malignancy', 'malignancy'], title: 'Highest malignancy rating', ordered: true, href: (b) => series('min_malignancy', lower(b)) },
  { names: ['max_nodule_readers', 'annotations_max_nodule_readers', 'nodule_readers'], title: 'Readers of the most-read nodule', ordered: true, href: (b) => series('min_nodule_readers', lower(b)) },
  { names: ['readers', 'annotations_readers'], title: 'Reading sessions per series', ordered: true },
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
