// Annotation (#13 LIDC reads) and QC facets: the series-list filters and their vocabularies (charts: series_facet_charts.ts).
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
