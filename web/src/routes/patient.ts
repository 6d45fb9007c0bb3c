// The patient's record: `#/patient?id=CASE_ID`, opened from the case list, the work lists and the
// village profile (not in the navigation).
import { can } from '../api';
import type { DeskRoute } from './types';

const route: DeskRoute = {
  id: 'patient',
  label: { zh: '病历', en: 'Patient record' },
  order: 15,
  nav: false,
  show: () => can('case_rows'),
  component: () => import('../pages/PatientRecord.vue'),
};
export default route;
