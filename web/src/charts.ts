// ECharts, tree-shaken to what the profile draws: line and bar charts on canvas.
import * as echarts from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, MarkLineComponent, TooltipComponent, TitleComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, MarkLineComponent, TooltipComponent, TitleComponent, CanvasRenderer]);

export { echarts };
export type Chart = ReturnType<typeof echarts.init>;
