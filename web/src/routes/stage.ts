// The control stage of the county and its townships, with the rule set and the evidence.
import { can, has } from '../api';
import type { DeskRoute } from './types';

const route: DeskRoute = {
  id: 'stage',
  label: { zh: '防控阶段', en: 'Control stage' },
  order: 40,
  show: () => has('GET', '/api/stage') && can('aggregates'),
  component: () => import('../pages/Stage.vue'),
};
export default route;
